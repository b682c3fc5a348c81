using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using TensorZero.Proxy.Configuration;

namespace TensorZero.Proxy.Routing;

/// <summary>
/// Chooses the order in which a function's variants are tried (DESIGN.md §6). Deterministic per
/// (function, episode): the pair hashes to one number u in [0, 1), and u picks a candidate by weight.
/// When a variant fails it leaves the set and the same u picks again among the rest, so an episode keeps
/// its variant unless that variant fails. Weight-0 candidates are never sampled; fallback variants follow
/// in their configured order.
/// </summary>
internal static class VariantSampler
{
    /// <summary>The episode's position in [0, 1) for this function.</summary>
    public static double Uniform(string functionName, Guid episodeId)
    {
        var name = Encoding.UTF8.GetBytes(functionName);
        Span<byte> input = stackalloc byte[name.Length + 1 + 16];
        name.CopyTo(input);
        input[name.Length] = 0; // separator: ("ab", x) and ("a", "b"+x) must differ
        episodeId.TryWriteBytes(input[(name.Length + 1)..], bigEndian: true, out _);
        var hash = XxHash64.HashToUInt64(input);
        return (hash >> 11) * (1.0 / (1UL << 53));
    }

    /// <summary>Every variant in the order it would be tried: sampled candidates, then fallbacks.</summary>
    public static IReadOnlyList<string> Order(ExperimentationConfig experimentation, string functionName, Guid episodeId)
    {
        var u = Uniform(functionName, episodeId);
        var remaining = experimentation.Candidates.Where(c => c.Value > 0).ToList();
        var order = new List<string>(remaining.Count + experimentation.Fallbacks.Length);
        while (remaining.Count > 0)
        {
            var index = Pick(remaining, u);
            order.Add(remaining[index].Key);
            remaining.RemoveAt(index);
        }
        foreach (var fallback in experimentation.Fallbacks)
        {
            if (!order.Contains(fallback))
            {
                order.Add(fallback);
            }
        }
        return order;
    }

    private static int Pick(List<KeyValuePair<string, double>> candidates, double u)
    {
        var total = 0.0;
        foreach (var c in candidates)
        {
            total += c.Value;
        }
        var target = u * total;
        var cumulative = 0.0;
        for (var i = 0; i < candidates.Count; i++)
        {
            cumulative += candidates[i].Value;
            if (target < cumulative)
            {
                return i;
            }
        }
        return candidates.Count - 1; // rounding at the top end
    }

    /// <summary>The millisecond timestamp a UUIDv7 carries in its first 48 bits.</summary>
    public static long UuidV7Milliseconds(Guid id)
    {
        Span<byte> bytes = stackalloc byte[16];
        id.TryWriteBytes(bytes, bigEndian: true, out _);
        return (long)(BinaryPrimitives.ReadUInt64BigEndian(bytes) >> 16);
    }
}
