using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Observability;

namespace TensorZero.Proxy.Feedback;

/// <summary>What the gateway knows of an inference that feedback is about.</summary>
/// <param name="FunctionName">The function called (<c>tensorzero::default</c> for a model target).</param>
/// <param name="HadTools">Whether the inference's request offered tools of its own.</param>
/// <param name="ToolParams">Its recorded <c>tool_params</c> text when known (null: not known, or none).</param>
/// <param name="OutputSchema">For a JSON function's inference, the output schema it used (JSON text); else null.</param>
internal sealed record KnownInference(string FunctionName, bool HadTools, string? ToolParams, string? OutputSchema);

/// <summary>Where inferences older than the recent-inference index are looked up: ClickHouse.</summary>
internal interface IFeedbackTargetStore
{
    /// <summary>The stored inference with this id, or null.</summary>
    /// <exception cref="FeedbackLookupException">The store could not answer.</exception>
    Task<KnownInference?> FindInferenceAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Whether a stored inference belongs to this episode.</summary>
    /// <exception cref="FeedbackLookupException">The store could not answer.</exception>
    Task<bool> EpisodeExistsAsync(Guid episodeId, CancellationToken cancellationToken);
}

/// <summary>The target store could not answer (ClickHouse unreachable or failing); the message says why, without credentials.</summary>
internal sealed class FeedbackLookupException(string message) : Exception(message);

/// <summary>
/// Feedback targets in ClickHouse: an inference in <c>ChatInference</c> or <c>JsonInference</c>, an episode in
/// <c>InferenceByEpisodeId</c> (migration 0002). Tables not created yet (no migration has run) mean "not there".
/// </summary>
internal sealed class ClickHouseFeedbackTargets(ClickHouseClient client) : IFeedbackTargetStore
{
    // UNKNOWN_TABLE and UNKNOWN_DATABASE: the shipper's migrations have not run yet, so nothing is stored.
    private static readonly HashSet<int> NotCreatedCodes = [60, 81];

    /// <inheritdoc />
    public async Task<KnownInference?> FindInferenceAsync(Guid id, CancellationToken cancellationToken)
    {
        var db = client.Database;
        // A Guid's "D" text is all the statement takes from the request: nothing to escape.
        var sql = $"""
            SELECT function_name, tool_params, '' AS output_schema FROM {db}.ChatInference WHERE id = toUUID('{id:D}')
            UNION ALL
            SELECT function_name, '' AS tool_params, output_schema FROM {db}.JsonInference WHERE id = toUUID('{id:D}')
            FORMAT JSONEachRow
            """;
        var body = await QueryAsync(sql, cancellationToken);
        var line = body.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
        if (line is null)
        {
            return null;
        }
        using var row = JsonDocument.Parse(line);
        var root = row.RootElement;
        var toolParams = root.GetProperty("tool_params").GetString() ?? "";
        var outputSchema = root.GetProperty("output_schema").GetString() ?? "";
        return new KnownInference(
            root.GetProperty("function_name").GetString() ?? "",
            HadTools: toolParams.Length > 0,
            ToolParams: toolParams.Length > 0 ? toolParams : null,
            OutputSchema: outputSchema.Length > 0 ? outputSchema : null);
    }

    /// <inheritdoc />
    public async Task<bool> EpisodeExistsAsync(Guid episodeId, CancellationToken cancellationToken)
    {
        var sql = $"SELECT 1 FROM {client.Database}.InferenceByEpisodeId WHERE episode_id = toUUID('{episodeId:D}') LIMIT 1 FORMAT TabSeparated";
        return (await QueryAsync(sql, cancellationToken)).Trim() == "1";
    }

    private async Task<string> QueryAsync(string sql, CancellationToken cancellationToken)
    {
        var result = await client.ExecuteAsync(sql, cancellationToken);
        if (result.IsOk)
        {
            return result.Body ?? "";
        }
        if (result.ErrorCode is { } code && NotCreatedCodes.Contains(code))
        {
            return "";
        }
        throw new FeedbackLookupException($"ClickHouse at {client.Endpoint.Display} could not be asked ({result.Message})");
    }
}

/// <summary>
/// Finds the inference or episode a feedback is about (TensorZero's <c>throttled_get_function_info</c>): first in
/// the recent-inference index, then in the store when there is one. A target that is not found yet is polled for
/// until <c>FeedbackTargetWait</c> after its id's own time (at least a second, as TensorZero waits), since its
/// inference may still be streaming or its record on its way; then it "does not exist".
/// </summary>
internal sealed class FeedbackTargets
{
    private static readonly TimeSpan MinimumWait = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    private readonly RecentInferences _recent;
    private readonly IFeedbackTargetStore? _store;
    private readonly TimeSpan _window;
    private readonly TimeProvider _time;

    /// <param name="recent">The inferences this gateway wrote lately.</param>
    /// <param name="store">ClickHouse, when configured.</param>
    /// <param name="window">How long after its id's time a target is waited for (0: not at all).</param>
    /// <param name="time">The clock of the waits.</param>
    public FeedbackTargets(RecentInferences recent, IFeedbackTargetStore? store, TimeSpan window, TimeProvider time)
    {
        _recent = recent;
        _store = store;
        _window = window;
        _time = time;
    }

    /// <summary>Whether targets older than the index can be found (ClickHouse is configured).</summary>
    public bool HasStore => _store is not null;

    /// <summary>
    /// The inference with this id, or TensorZero's error: <c>Inference ID: X does not exist</c> (400), a non-v7 id
    /// (400), the store failing (503). With <paramref name="needToolParams"/> an inference the index knows to have
    /// had tools is completed with its recorded <c>tool_params</c> from the store when it has them.
    /// </summary>
    public async Task<(KnownInference? Inference, FeedbackError? Error)> FindInferenceAsync(Guid id, bool needToolParams, CancellationToken cancellationToken)
    {
        try
        {
            var found = await PollAsync(id, MetricLevel.Inference, async (targetId, token) =>
            {
                if (_recent.TryGetInference(targetId, out var recorded))
                {
                    var known = new KnownInference(recorded.FunctionName, recorded.HadTools, null, recorded.OutputSchema);
                    if (needToolParams && recorded.HadTools && _store is not null
                        && await _store.FindInferenceAsync(targetId, token) is { ToolParams: { } toolParams })
                    {
                        known = known with { ToolParams = toolParams };
                    }
                    return known;
                }
                return _store is null ? null : await _store.FindInferenceAsync(targetId, token);
            }, cancellationToken);
            return found.Error is null ? (found.Value, null) : (null, found.Error);
        }
        catch (FeedbackLookupException ex)
        {
            return (null, Unavailable("inference", id, ex));
        }
    }

    /// <summary>Null when the episode has an inference; else TensorZero's error (<c>Episode ID: X does not exist</c>).</summary>
    public async Task<FeedbackError?> CheckEpisodeAsync(Guid id, CancellationToken cancellationToken)
    {
        try
        {
            var found = await PollAsync(id, MetricLevel.Episode, async (episodeId, token) =>
                _recent.ContainsEpisode(episodeId) || (_store is not null && await _store.EpisodeExistsAsync(episodeId, token)) ? (object)true : null,
                cancellationToken);
            return found.Error;
        }
        catch (FeedbackLookupException ex)
        {
            return Unavailable("episode", id, ex);
        }
    }

    /// <summary>Checks the target of the level; the inference's details are not needed.</summary>
    public async Task<FeedbackError?> CheckAsync(MetricLevel level, Guid id, CancellationToken cancellationToken) =>
        level == MetricLevel.Episode
            ? await CheckEpisodeAsync(id, cancellationToken)
            : (await FindInferenceAsync(id, needToolParams: false, cancellationToken)).Error;

    private async Task<(T? Value, FeedbackError? Error)> PollAsync<T>(
        Guid id, MetricLevel level, Func<Guid, CancellationToken, Task<T?>> find, CancellationToken cancellationToken)
        where T : class
    {
        if (id.Version != 7)
        {
            return (null, FeedbackError.Invalid($"Failed to parse UUID as v7: {id}"));
        }
        // An id "from the future" (a clock ahead of ours) counts as just made: the whole window is waited.
        var elapsed = _time.GetUtcNow() - TimeOf(id);
        if (elapsed < TimeSpan.Zero)
        {
            elapsed = TimeSpan.Zero;
        }
        var wait = _window - elapsed;
        var minimum = _window < MinimumWait ? _window : MinimumWait;
        if (wait < minimum)
        {
            wait = minimum;
        }
        var start = _time.GetTimestamp();
        while (true)
        {
            if (await find(id, cancellationToken) is { } value)
            {
                return (value, null);
            }
            var remaining = wait - _time.GetElapsedTime(start);
            if (remaining <= TimeSpan.Zero)
            {
                var kind = level == MetricLevel.Inference ? "Inference" : "Episode";
                return (null, FeedbackError.Invalid($"{kind} ID: {id} does not exist"));
            }
            await Task.Delay(remaining < PollInterval ? remaining : PollInterval, _time, cancellationToken);
        }
    }

    /// <summary>The Unix-millisecond time in a UUIDv7's first 48 bits.</summary>
    internal static DateTimeOffset TimeOf(Guid id)
    {
        Span<byte> bytes = stackalloc byte[16];
        id.TryWriteBytes(bytes, bigEndian: true, out _);
        long milliseconds = 0;
        for (var i = 0; i < 6; i++)
        {
            milliseconds = (milliseconds << 8) | bytes[i];
        }
        // 48 bits of milliseconds reach past the year 9999, which DateTimeOffset cannot hold.
        return milliseconds > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds() ? DateTimeOffset.MaxValue : DateTimeOffset.FromUnixTimeMilliseconds(milliseconds);
    }

    private static FeedbackError Unavailable(string kind, Guid id, FeedbackLookupException ex) =>
        new(StatusCodes.Status503ServiceUnavailable, string.Create(CultureInfo.InvariantCulture, $"Cannot check that {kind} {id} exists: {ex.Message}"));
}
