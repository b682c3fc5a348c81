using TensorZero.Proxy.Auth;

namespace TensorZero.Proxy.Tests.Auth;

public sealed class TensorZeroApiKeyTests
{
    private const string Secret = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    /// <summary>TensorZero's own cases (crates/tensorzero-auth/src/key.rs, test_parse_invalid_key), plus the edges of each check.</summary>
    public static TheoryData<string, string> Malformed => new()
    {
        { "invalid-key", "API key must be of the form `sk-t0-<public_id>-<long_key>`" },
        { "too-many-dashes-in-my-api-key", "API key must be of the form `sk-t0-<public_id>-<long_key>`" },
        { "", "API key must be of the form `sk-t0-<public_id>-<long_key>`" },
        { "sk-t0-123456789012-" + Secret + "-", "API key must be of the form `sk-t0-<public_id>-<long_key>`" },
        { "bad-with-four-components", "API key must start with `sk-t0-`" },
        { "sk-other-123456789012-12345678901234567890123456789012", "API key must start with `sk-t0-`" },
        { "SK-t0-123456789012-" + Secret, "API key must start with `sk-t0-`" },
        { "sk-t0-12-" + Secret, "Public ID must be 12 characters" },
        { "sk-t0-1234567890123-" + Secret, "Public ID must be 12 characters" },
        { "sk-t0-aaaaaaaaaaaa-bb", "Long key must be 48 characters" },
        { "sk-t0-aaaaaaaaaaaa-" + Secret + "a", "Long key must be 48 characters" },
        { "sk-t0-!!!!!!!!!!!!-" + Secret, "Public ID must be alphanumeric" },
        { "sk-t0-aaaaaaaaaaa_-" + Secret, "Public ID must be alphanumeric" },
        { "sk-t0-aaaaaaaaaaaa-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", "Long key must be alphanumeric" },
        { "sk-t0-aaaaaaaaaaaa-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ", "Long key must be alphanumeric" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void TryParse_Malformed_FailsWithTensorZerosMessage(string key, string reason)
    {
        TensorZeroApiKey.TryParse(key, out var parsed, out var error).Should().BeFalse();

        parsed.Should().BeNull();
        error.Should().Be("Invalid format for TensorZero API key: " + reason);
    }

    [Fact]
    public void TryParse_WellFormed_KeepsThePublicIdAndTheSecretsSha256Only()
    {
        TensorZeroApiKey.TryParse("sk-t0-123456789012-" + Secret, out var parsed, out var error).Should().BeTrue();

        error.Should().BeNull();
        parsed!.PublicId.Should().Be("123456789012");
        // sha256("a" * 48), computed independently (printf 'a%.0s' {1..48} | sha256sum).
        parsed.SecretHash.Should().Be("97daac0ee9998dfcad6c9c0970da5ca411c86233a944c25b47566f6a7bc1ddd5");
        parsed.CacheKey.Should().Be("123456789012:" + parsed.SecretHash);
        parsed.ToString().Should().NotContain(Secret);
    }

    [Fact]
    public void HashSecret_KnownVector_IsLowercaseHexSha256()
    {
        // sha256("abc") from FIPS 180-2.
        TensorZeroApiKey.HashSecret("abc").Should().Be("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    [Fact]
    public void Generate_ManyKeys_AreWellFormedAndDistinct()
    {
        var keys = Enumerable.Range(0, 200).Select(_ => TensorZeroApiKey.Generate()).ToList();

        keys.Should().OnlyHaveUniqueItems();
        keys.Should().AllSatisfy(k => k.Should().MatchRegex("^sk-t0-[A-Za-z0-9]{12}-[A-Za-z0-9]{48}$"));
        keys.Should().AllSatisfy(k => TensorZeroApiKey.TryParse(k, out _, out _).Should().BeTrue());
        // All 62 characters turn up across 200 keys (a generator stuck on a subset would not).
        string.Concat(keys).Replace("sk-t0-", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal).Distinct().Should().HaveCount(62);
    }

    [Fact]
    public void Matches_OnlyTheSameSecret()
    {
        TensorZeroApiKey.TryParse("sk-t0-123456789012-" + Secret, out var parsed, out _);

        parsed!.Matches(TensorZeroApiKey.HashSecret(Secret)).Should().BeTrue();
        parsed.Matches(TensorZeroApiKey.HashSecret(Secret.Replace('a', 'b'))).Should().BeFalse();
        parsed.Matches("").Should().BeFalse();
    }
}
