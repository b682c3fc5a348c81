namespace TensorZero.Proxy.Auth;

/// <summary>
/// The TensorZero API key a request was authenticated with (<c>[gateway.auth] enabled</c>), set on
/// <c>HttpContext.Features</c> by the auth middleware before any gateway endpoint runs. Rate-limit rules scoped by
/// <c>api_key_public_id</c> read it; a request without it is unauthenticated (auth off), and such rules do not apply.
/// </summary>
/// <param name="PublicId">The key's 12-character public id (<c>sk-t0-&lt;public id&gt;-&lt;secret&gt;</c>).</param>
internal sealed record AuthenticatedApiKey(string PublicId);
