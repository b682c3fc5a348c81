using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Transforms;

// An existing YARP gateway: its own endpoint, its own proxied route with a transform, its own API-key authentication
// and authorization policy. TensorZero is added with three calls (AddTensorZero, MapTensorZeroEndpoints, UseTensorZero)
// and its LLM routes are put behind the app's policy.
var builder = WebApplication.CreateBuilder(args);

builder.Services.AddAuthentication(ApiKeyHandler.SchemeName)
    .AddScheme<AuthenticationSchemeOptions, ApiKeyHandler>(ApiKeyHandler.SchemeName, null);
builder.Services.AddAuthorizationBuilder()
    .AddPolicy("llm-users", policy => policy.RequireAuthenticatedUser().RequireClaim("scope", "llm"));

builder.Services.AddReverseProxy()
    .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
    .AddTransforms(context =>
    {
        if (context.Route.RouteId == "legacy")
        {
            context.AddRequestHeader("x-forwarded-by", "existing-yarp-app");
        }
    })
    .AddTensorZero(options => options.ConfigureRoute = route => route with { AuthorizationPolicy = "llm-users" });

var app = builder.Build();
app.UseAuthentication();
app.UseAuthorization();

app.MapGet("/hello", () => "Hello from the existing app");
app.MapTensorZeroEndpoints().RequireAuthorization("llm-users");
app.MapReverseProxy(proxy =>
{
    proxy.UseTensorZero();
    proxy.UseSessionAffinity();
    proxy.UseLoadBalancing();
    proxy.UsePassiveHealthChecks();
});
app.Run();

/// <summary>The app's own authentication: <c>Authorization: Bearer &lt;key&gt;</c> with a key from <c>Sample:ApiKeys</c>.</summary>
internal sealed class ApiKeyHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, IConfiguration configuration)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }
        var key = header["Bearer ".Length..];
        var known = configuration.GetSection("Sample:ApiKeys").Get<string[]>() ?? [];
        if (!known.Contains(key, StringComparer.Ordinal))
        {
            return Task.FromResult(AuthenticateResult.Fail("unknown API key"));
        }
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "api-client"), new Claim("scope", "llm")], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }
}
