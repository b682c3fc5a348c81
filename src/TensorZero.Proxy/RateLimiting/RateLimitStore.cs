using StackExchange.Redis;

namespace TensorZero.Proxy.RateLimiting;

/// <summary>One bucket of a consume or adjust call: its key and the limit's parameters.</summary>
/// <param name="Key">The bucket key without the store prefix (<see cref="ActiveRateLimit.Key"/>).</param>
/// <param name="Amount">Tickets to take (consume), or to give back (positive) / take (negative) (adjust).</param>
/// <param name="Capacity">The most the bucket holds.</param>
/// <param name="RefillAmount">What each whole interval gives back.</param>
/// <param name="IntervalMicroseconds">The refill interval.</param>
internal readonly record struct BucketRequest(string Key, long Amount, long Capacity, long RefillAmount, long IntervalMicroseconds);

/// <summary>The answer of a consume call.</summary>
/// <param name="Success">Every bucket had enough and all were charged; when false none was.</param>
/// <param name="Available">Each bucket's balance after refill (and after the charge when <paramref name="Success"/>), in request order.</param>
/// <param name="RetryAfter">
/// When refused: how long until every refused bucket has refilled enough (whole intervals, server time); null when a
/// refused bucket never refills (<c>refill_rate = 0</c>).
/// </param>
internal sealed record ConsumeResult(bool Success, long[] Available, TimeSpan? RetryAfter);

/// <summary>
/// The token buckets in Valkey/Redis, changed only by two Lua scripts so every change is atomic across the replicas
/// (DESIGN-NOTES "Rate limits"). A bucket is a hash <c>tensorzero_ratelimit:&lt;key&gt;</c> with <c>balance</c> and
/// <c>last_refilled</c> (microseconds of the server's clock): it starts full, gets <c>refill_rate</c> back for each whole
/// interval since <c>last_refilled</c> (which moves by whole intervals only, so refills stay aligned to the first use),
/// never holds more than its capacity, and expires after twice its time to refill from empty (at least 48 hours).
/// Time is the store's <c>TIME</c>, never a replica's clock, so replicas with skewed clocks still agree.
/// </summary>
internal static class RateLimitStore
{
    /// <summary>The prefix of every bucket key (TensorZero's).</summary>
    public const string KeyPrefix = "tensorzero_ratelimit:";

    // Shared by both scripts: reads a bucket and applies its refill. Numbers are written with %.0f: Lua's default
    // formatting would write large microsecond timestamps in exponent form and lose precision.
    private const string Prelude = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local MIN_TTL = 172800
        local function read(i)
          local b = (i - 1) * 4
          local amount = tonumber(ARGV[b + 1])
          local capacity = tonumber(ARGV[b + 2])
          local refill = tonumber(ARGV[b + 3])
          local interval = tonumber(ARGV[b + 4])
          local data = redis.call('HMGET', KEYS[i], 'balance', 'last_refilled')
          local balance = math.min(tonumber(data[1]) or capacity, capacity)
          local last = tonumber(data[2]) or now
          if refill > 0 and interval > 0 then
            local elapsed = now - last
            if elapsed < 0 then elapsed = 0 end
            local intervals = math.floor(elapsed / interval)
            balance = math.min(balance + intervals * refill, capacity)
            last = last + intervals * interval
          end
          return { amount = amount, capacity = capacity, refill = refill, interval = interval, balance = balance, last = last }
        end
        local function write(i, s, balance)
          redis.call('HSET', KEYS[i], 'balance', string.format('%.0f', balance), 'last_refilled', string.format('%.0f', s.last))
          local ttl = MIN_TTL
          if s.refill > 0 and s.interval > 0 then
            ttl = math.max(MIN_TTL, 2 * math.ceil(math.ceil(s.capacity / s.refill) * s.interval / 1000000))
          end
          redis.call('EXPIRE', KEYS[i], ttl)
        end
        """;

    /// <summary>
    /// Consume: all or nothing over every bucket. Returns <c>{1, balance...}</c> when charged, or
    /// <c>{0, wait_us, balance...}</c> when refused, where <c>wait_us</c> is how long until the refused buckets can pay
    /// (-1 when one never refills).
    /// </summary>
    internal const string ConsumeScript = Prelude + "\n" + """
        local n = #KEYS
        local state = {}
        local ok = true
        local wait = 0
        for i = 1, n do
          local s = read(i)
          state[i] = s
          if s.amount > s.balance then
            ok = false
            if wait >= 0 then
              if s.refill > 0 and s.interval > 0 then
                local needed = math.ceil((math.min(s.amount, s.capacity) - s.balance) / s.refill)
                local w = s.last + needed * s.interval - now
                if w > wait then wait = w end
              else
                wait = -1
              end
            end
          end
        end
        local result = {}
        if ok then
          result[1] = 1
          for i = 1, n do
            local s = state[i]
            write(i, s, s.balance - s.amount)
            result[i + 1] = s.balance - s.amount
          end
        else
          result[1] = 0
          result[2] = wait
          for i = 1, n do result[i + 2] = state[i].balance end
        end
        return result
        """;

    /// <summary>Adjust: gives back (positive) or takes (negative, down to zero) per bucket, after refill. Returns the balances.</summary>
    internal const string AdjustScript = Prelude + "\n" + """
        local result = {}
        for i = 1, #KEYS do
          local s = read(i)
          local balance = math.max(0, math.min(s.balance + s.amount, s.capacity))
          write(i, s, balance)
          result[i] = balance
        end
        return result
        """;

    /// <summary>Charges every bucket or none.</summary>
    /// <exception cref="RedisException">The store is unreachable or the script failed.</exception>
    public static async Task<ConsumeResult> ConsumeAsync(IDatabase database, IReadOnlyList<BucketRequest> buckets)
    {
        var result = (RedisResult[])(await EvaluateAsync(database, ConsumeScript, buckets))!;
        var success = (long)result[0] == 1;
        var offset = success ? 1 : 2;
        var available = new long[buckets.Count];
        for (var i = 0; i < available.Length; i++)
        {
            available[i] = (long)result[i + offset];
        }
        TimeSpan? retryAfter = success ? null
            : (long)result[1] is var wait and >= 0 ? TimeSpan.FromMicroseconds(wait) : null;
        return new ConsumeResult(success, available, retryAfter);
    }

    /// <summary>Gives back or takes tickets after the fact (actual usage known); never refuses.</summary>
    /// <exception cref="RedisException">The store is unreachable or the script failed.</exception>
    public static async Task<long[]> AdjustAsync(IDatabase database, IReadOnlyList<BucketRequest> buckets)
    {
        var result = (RedisResult[])(await EvaluateAsync(database, AdjustScript, buckets))!;
        return [.. result.Select(r => (long)r)];
    }

    /// <summary>
    /// Runs a script by its SHA (EVALSHA) once the client knows it is loaded, else with EVAL; StackExchange.Redis sends
    /// the text again when the store answers NOSCRIPT (a restarted or flushed store), which the tests check.
    /// </summary>
    private static Task<RedisResult> EvaluateAsync(IDatabase database, string script, IReadOnlyList<BucketRequest> buckets)
    {
        var keys = new RedisKey[buckets.Count];
        var values = new RedisValue[buckets.Count * 4];
        for (var i = 0; i < buckets.Count; i++)
        {
            var bucket = buckets[i];
            keys[i] = KeyPrefix + bucket.Key;
            values[i * 4] = bucket.Amount;
            values[i * 4 + 1] = bucket.Capacity;
            values[i * 4 + 2] = bucket.RefillAmount;
            values[i * 4 + 3] = bucket.IntervalMicroseconds;
        }
        return database.ScriptEvaluateAsync(script, keys, values);
    }
}
