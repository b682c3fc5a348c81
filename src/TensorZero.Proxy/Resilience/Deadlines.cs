using TensorZero.Proxy.Configuration;

namespace TensorZero.Proxy.Resilience;

/// <summary>The level a timeout is configured at (DESIGN.md §4).</summary>
internal enum TimeoutLevel
{
    /// <summary>One attempt at one provider; expiry moves to the next provider.</summary>
    Provider,

    /// <summary>The whole routing loop of a model; expiry ends the model.</summary>
    Model,

    /// <summary>A variant including its retries; expiry moves to the next variant.</summary>
    Variant,
}

/// <summary>
/// The two deadlines one level's <c>timeouts</c> put on the request, as <see cref="TimeProvider"/>
/// timestamps (<see cref="long.MaxValue"/> = none). Before commit: <c>non_streaming.total_ms</c>, or for a
/// stream the first token within <c>min(streaming.ttft_ms, streaming.total_ms)</c>. After commit (streams
/// only): the rest of <c>streaming.total_ms</c>.
/// </summary>
internal readonly record struct Deadline(TimeoutLevel Level, long PreCommit, long PostCommit)
{
    public static Deadline For(TimeoutLevel level, TimeoutsConfig timeouts, bool stream, long start, TimeProvider time)
    {
        if (stream)
        {
            var ttft = Min(timeouts.StreamingTtft, timeouts.StreamingTotal);
            return new Deadline(level, At(start, ttft, time), At(start, timeouts.StreamingTotal, time));
        }
        var total = At(start, timeouts.NonStreamingTotal, time);
        return new Deadline(level, total, long.MaxValue);
    }

    public bool IsNone => PreCommit == long.MaxValue && PostCommit == long.MaxValue;

    /// <summary>The configured limit that produced <see cref="PreCommit"/>, for messages.</summary>
    public static string Describe(TimeoutLevel level, bool stream) => stream
        ? $"{level.ToString().ToLowerInvariant()} streaming.ttft_ms/total_ms"
        : $"{level.ToString().ToLowerInvariant()} non_streaming.total_ms";

    private static TimeSpan? Min(TimeSpan? a, TimeSpan? b) => a is null ? b : b is null ? a : (a < b ? a : b);

    private static long At(long start, TimeSpan? after, TimeProvider time) =>
        after is { } t ? start + (long)(t.TotalSeconds * time.TimestampFrequency) : long.MaxValue;
}

/// <summary>The deadlines in force for one attempt: those of its variant, model and provider.</summary>
internal sealed class DeadlineSet
{
    private readonly Deadline[] _deadlines;

    public DeadlineSet(ReadOnlySpan<Deadline> deadlines)
    {
        _deadlines = deadlines.ToArray();
    }

    /// <summary>The earliest pre-commit deadline and the level it belongs to.</summary>
    public (long At, TimeoutLevel Level) EarliestPreCommit()
    {
        var at = long.MaxValue;
        var level = TimeoutLevel.Provider;
        for (var i = 0; i < _deadlines.Length; i++)
        {
            if (_deadlines[i].PreCommit < at)
            {
                at = _deadlines[i].PreCommit;
                level = _deadlines[i].Level;
            }
        }
        return (at, level);
    }

    /// <summary>The earliest post-commit deadline, or <see cref="long.MaxValue"/>.</summary>
    public long EarliestPostCommit()
    {
        var at = long.MaxValue;
        for (var i = 0; i < _deadlines.Length; i++)
        {
            at = Math.Min(at, _deadlines[i].PostCommit);
        }
        return at;
    }

    /// <summary>Time left until <paramref name="at"/>, never negative; null for no deadline.</summary>
    public static TimeSpan? Remaining(long at, TimeProvider time)
    {
        if (at == long.MaxValue)
        {
            return null;
        }
        var left = at - time.GetTimestamp();
        return left <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds((double)left / time.TimestampFrequency);
    }
}
