using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Routing;
using TensorZero.Proxy.Valkey;

namespace TensorZero.Proxy.Auth;

/// <summary>
/// <c>[gateway.auth] enabled</c>: every request to the gateway but <c>{base_path}/status</c> and <c>{base_path}/health</c>
/// must carry <c>Authorization: Bearer sk-t0-…</c> (on the Anthropic Messages ingress, <c>x-api-key</c> too) with a key that exists in the shared store, is not disabled and has not
/// expired; otherwise 401 with TensorZero's message, in the shape of the endpoint called. An authenticated request gets
/// <see cref="AuthenticatedApiKey"/> on its features. The store being unreachable for a key this replica does not
/// remember is a 503: the gateway fails closed. Which paths: with <see cref="TensorZeroOptions.JsonErrorsForAllPaths"/>
/// (the runnable gateway, the whole app) every path, unknown ones included, as in TensorZero; in a host's app the gateway's
/// own (<see cref="GatewayPaths"/>), the host's routes being the host's business. It runs before routing (a startup
/// filter), so it is read per request from the live configuration: a reload turns it on or off.
/// </summary>
internal sealed class AuthMiddleware
{
    private const string MessagePrefix = "TensorZero authentication error: ";

    private readonly RequestDelegate _next;
    private readonly GatewayRuntimeAccessor _runtime;
    private readonly ApiKeyAuthenticator _authenticator;
    private readonly GatewayPaths _paths;
    private readonly bool _allPaths;
    private readonly ILogger _logger;
    private readonly LogInterval _unavailableLog;

    public AuthMiddleware(
        RequestDelegate next, GatewayRuntimeAccessor runtime, ApiKeyAuthenticator authenticator, GatewayPaths paths,
        IOptions<TensorZeroOptions> options, ILogger<AuthMiddleware> logger, TimeProvider time)
    {
        // While the store is down every request fails the same way: one error per interval says it.
        _unavailableLog = new LogInterval(time, TimeSpan.FromSeconds(10));
        _next = next;
        _runtime = runtime;
        _authenticator = authenticator;
        _paths = paths;
        _allPaths = options.Value.JsonErrorsForAllPaths;
        _logger = logger;
    }

    public Task Invoke(HttpContext context)
    {
        var gateway = _runtime.Current.Config.Gateway;
        // Auth off (the default): one field read per request.
        if (!gateway.Auth.Enabled || IsOpen(context.Request.Path, gateway.BasePath))
        {
            return _next(context);
        }
        return AuthenticateAsync(context, gateway.Auth);
    }

    private bool IsOpen(PathString path, string basePath)
    {
        var value = path.Value.AsSpan().TrimEnd('/');
        if (value.StartsWith(basePath, StringComparison.OrdinalIgnoreCase))
        {
            var rest = value[basePath.Length..];
            if (rest.Equals("/status", StringComparison.OrdinalIgnoreCase) || rest.Equals("/health", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return !_allPaths && !_paths.Contains(path);
    }

    private async Task AuthenticateAsync(HttpContext context, Configuration.AuthSettings settings)
    {
        var header = context.Request.Headers.Authorization;
        string presented;
        if (header.Count == 0 && IsAnthropicMessages(context.Request.Path) && context.Request.Headers["x-api-key"] is { Count: > 0 } anthropicKey)
        {
            // Anthropic's SDKs send their key as x-api-key, not as a bearer token: on the Anthropic ingress either works.
            presented = anthropicKey[0] ?? "";
        }
        else if (header.Count == 0)
        {
            await RefuseAsync(context, "Error performing authentication: Authorization header is required");
            return;
        }
        else if (header[0] is { } value && value.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            presented = value["Bearer ".Length..];
        }
        else
        {
            await RefuseAsync(context, "Error performing authentication: Authorization header must start with 'Bearer '");
            return;
        }
        if (!TensorZeroApiKey.TryParse(presented, out var key, out var formatError))
        {
            await RefuseAsync(context, formatError!);
            return;
        }
        ApiKeyVerdict verdict;
        try
        {
            verdict = await _authenticator.VerifyAsync(key!, settings);
        }
        catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
        {
            if (_unavailableLog.TryEnter())
            {
                Log.AuthStoreUnavailable(_logger, key!.PublicId, context.Request.Method, context.Request.Path, ex);
            }
            await WriteErrorAsync(context, StatusCodes.Status503ServiceUnavailable,
                MessagePrefix + "the API key store is unavailable, so the key cannot be checked; try again shortly", "server_error", "auth_store_unavailable",
                static c => c.Response.Headers.RetryAfter = "1");
            return;
        }
        if (verdict.PublicId is null)
        {
            await RefuseAsync(context, verdict.Error!);
            return;
        }
        context.Features.Set(new AuthenticatedApiKey(verdict.PublicId));
        await _next(context);
    }

    private Task RefuseAsync(HttpContext context, string reason)
    {
        Log.AuthRefused(_logger, context.Request.Method, context.Request.Path, reason);
        return WriteErrorAsync(context, StatusCodes.Status401Unauthorized, MessagePrefix + reason, "invalid_request_error", "invalid_api_key",
            static c => c.Response.Headers.WWWAuthenticate = "Bearer");
    }

    /// <summary>
    /// The error in the shape of the endpoint called: TensorZero's native <c>{"error": "..."}</c> on <c>/inference</c> and
    /// <c>/feedback</c> (TensorZero answers auth errors so there), Anthropic's on <c>/v1/messages</c>, OpenAI's elsewhere.
    /// </summary>
    private Task WriteErrorAsync(HttpContext context, int status, string message, string type, string code, Action<HttpContext> setHeaders)
    {
        // Auth runs before routing: the endpoint is told by the path.
        var path = context.Request.Path;
        var basePath = _runtime.Current.Config.Gateway.BasePath;
        var endpoint = path.StartsWithSegments(basePath + "/inference", StringComparison.OrdinalIgnoreCase)
            || path.StartsWithSegments(basePath + "/feedback", StringComparison.OrdinalIgnoreCase)
                ? InferenceEndpoint.Native
                : IsAnthropicMessages(path) ? InferenceEndpoint.AnthropicMessages : InferenceEndpoint.OpenAICompatible;
        return EndpointError.WriteAsync(context, endpoint, status, message, type, code, setHeaders);
    }

    private bool IsAnthropicMessages(PathString path) =>
        path.StartsWithSegments(_runtime.Current.Config.Gateway.BasePath + "/v1/messages", StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// Puts <see cref="AuthMiddleware"/> in front of the host's whole pipeline (registered by <c>AddTensorZero()</c>, after
/// the JSON route errors, so a refused request is never turned into a 404 body).
/// </summary>
internal sealed class AuthStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        // Resolving the gateway checks the store (SharedStoreRequirements) if nothing resolved it before (UseTensorZero does).
        app.ApplicationServices.GetRequiredService<TensorZeroGateway>();
        app.UseMiddleware<AuthMiddleware>();
        next(app);
    };

    /// <summary>
    /// Fails start-up when <paramref name="auth"/> is on and <c>TENSORZERO_VALKEY_URL</c> is not set, as TensorZero does
    /// without Postgres; otherwise says that auth is on and where the keys are.
    /// </summary>
    /// <exception cref="TensorZeroStartupException">Auth is on and no store is set.</exception>
    public static void RequireStore(IServiceProvider services, Configuration.AuthSettings auth)
    {
        if (!auth.Enabled)
        {
            return;
        }
        var store = services.GetRequiredService<ValkeyStore>();
        store.Require("gateway.auth.enabled");
        Log.AuthEnabled(services.GetRequiredService<ILoggerFactory>().CreateLogger("TensorZero.Proxy"), ValkeyUrl.Redact(store.Url!),
            (long)auth.CacheTtl.TotalMilliseconds, auth.CacheEnabled ? "on" : "off");
    }
}
