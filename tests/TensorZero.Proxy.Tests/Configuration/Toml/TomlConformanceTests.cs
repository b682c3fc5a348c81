using System.Globalization;
using System.Text.Json;
using TensorZero.Proxy.Configuration.Toml;

namespace TensorZero.Proxy.Tests.Configuration.Toml;

/// <summary>
/// Runs every TOML 1.0.0 case of the shared toml-test suite (kept in the repository at <c>tests/toml-test</c>): valid
/// documents must parse to the value in their tagged-JSON twin, invalid ones must raise
/// <see cref="TomlParseException"/>.
/// </summary>
public sealed class TomlConformanceTests
{
    // A generous bound: the whole suite parses in milliseconds, so only a hang can reach it.
    private static readonly TimeSpan HangTimeout = TimeSpan.FromSeconds(10);

    /// <summary>One row per case, named by its path relative to the suite folder.</summary>
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var path in TomlTestSuite.ListCases())
        {
            data.Add(path);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Parse_SuiteCase_MatchesSuiteExpectation(string relativePath)
    {
        var bytes = await File.ReadAllBytesAsync(TomlTestSuite.FullPath(relativePath));

        if (relativePath.StartsWith("invalid/", StringComparison.Ordinal))
        {
            var parse = () => ParseWithTimeout(bytes);
            await parse.Should().ThrowAsync<TomlParseException>();
            return;
        }

        var jsonPath = Path.ChangeExtension(TomlTestSuite.FullPath(relativePath), ".json");
        File.Exists(jsonPath).Should().BeTrue($"valid case {relativePath} needs its expected JSON");
        using var expected = JsonDocument.Parse(await File.ReadAllBytesAsync(jsonPath));
        var actual = await ParseWithTimeout(bytes);
        TaggedJson.AssertEquivalent(actual, expected.RootElement, "$");
    }

    [Fact]
    public void ListCases_SharedSuite_HasBothValidAndInvalidCasesThatExist()
    {
        var cases = TomlTestSuite.ListCases();

        // Guards against a vacuous pass: an empty or half-read list would make the theory above prove nothing.
        cases.Count(c => c.StartsWith("valid/", StringComparison.Ordinal)).Should().BeGreaterThan(0);
        cases.Count(c => c.StartsWith("invalid/", StringComparison.Ordinal)).Should().BeGreaterThan(0);
        cases.Should().OnlyContain(c => File.Exists(TomlTestSuite.FullPath(c)));
    }

    private static Task<TomlTable> ParseWithTimeout(byte[] bytes) =>
        Task.Run(() => TomlParser.Parse(bytes)).WaitAsync(HangTimeout);

    /// <summary>Compares a parsed table with toml-test's tagged JSON by typed value, not by text.</summary>
    private static class TaggedJson
    {
        public static void AssertEquivalent(object actual, JsonElement expected, string path)
        {
            switch (expected.ValueKind)
            {
                case JsonValueKind.Array:
                    var array = actual.Should().BeOfType<TomlArray>($"{path} should be an array").Subject;
                    array.Count.Should().Be(expected.GetArrayLength(), $"{path} should have that many elements");
                    var index = 0;
                    foreach (var item in expected.EnumerateArray())
                    {
                        AssertEquivalent(array[index], item, $"{path}[{index}]");
                        index++;
                    }

                    break;
                case JsonValueKind.Object when IsTaggedScalar(expected):
                    AssertScalar(actual, expected.GetProperty("type").GetString()!,
                        expected.GetProperty("value").GetString()!, path);
                    break;
                case JsonValueKind.Object:
                    var table = actual.Should().BeOfType<TomlTable>($"{path} should be a table").Subject;
                    var expectedKeys = expected.EnumerateObject().Select(p => p.Name).ToList();
                    table.Keys.Should().BeEquivalentTo(expectedKeys, $"{path} should have exactly these keys");
                    foreach (var property in expected.EnumerateObject())
                    {
                        AssertEquivalent(table[property.Name], property.Value, $"{path}.{property.Name}");
                    }

                    break;
                default:
                    throw new InvalidOperationException($"Unexpected JSON {expected.ValueKind} at {path}.");
            }
        }

        /// <summary>A scalar is {"type": T, "value": V} with string V; a table with such keys has object values.</summary>
        private static bool IsTaggedScalar(JsonElement element) =>
            element.EnumerateObject().Count() == 2
            && element.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
            && element.TryGetProperty("value", out var value) && value.ValueKind == JsonValueKind.String;

        private static void AssertScalar(object actual, string type, string value, string path)
        {
            var because = $"{path} should be the {type} {value}";
            switch (type)
            {
                case "string":
                    actual.Should().BeOfType<string>(because).Which.Should().Be(value, because);
                    break;
                case "integer":
                    actual.Should().BeOfType<long>(because).Which.Should().Be(long.Parse(value, CultureInfo.InvariantCulture), because);
                    break;
                case "bool":
                    actual.Should().BeOfType<bool>(because).Which.Should().Be(value == "true", because);
                    break;
                case "float":
                    AssertFloat(actual.Should().BeOfType<double>(because).Subject, value, because);
                    break;
                case "datetime":
                    var offsetDateTime = actual.Should().BeOfType<DateTimeOffset>(because).Subject;
                    var expectedOffset = DateTimeOffset.Parse(TruncateFraction(value), CultureInfo.InvariantCulture);
                    // DateTimeOffset equality ignores the offset; TOML keeps it, so compare both parts.
                    offsetDateTime.DateTime.Should().Be(expectedOffset.DateTime, because);
                    offsetDateTime.Offset.Should().Be(expectedOffset.Offset, because);
                    break;
                case "datetime-local":
                    var localDateTime = actual.Should().BeOfType<TomlLocalDateTime>(because).Subject.Value;
                    localDateTime.Kind.Should().Be(DateTimeKind.Unspecified, because);
                    localDateTime.Should().Be(
                        DateTime.Parse(TruncateFraction(value), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind), because);
                    break;
                case "date-local":
                    actual.Should().BeOfType<TomlLocalDate>(because).Subject.Value.Should().Be(
                        DateOnly.ParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture), because);
                    break;
                case "time-local":
                    actual.Should().BeOfType<TomlLocalTime>(because).Subject.Value.Should().Be(
                        TimeOnly.Parse(TruncateFraction(value), CultureInfo.InvariantCulture), because);
                    break;
                default:
                    throw new InvalidOperationException($"Unknown tagged-JSON type '{type}' at {path}.");
            }
        }

        private static void AssertFloat(double actual, string value, string because)
        {
            var expected = value switch
            {
                "nan" or "+nan" or "-nan" => double.NaN,
                "inf" or "+inf" => double.PositiveInfinity,
                "-inf" => double.NegativeInfinity,
                _ => double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture),
            };

            if (double.IsNaN(expected))
            {
                double.IsNaN(actual).Should().BeTrue(because);
                return;
            }

            actual.Should().Be(expected, because);
            // -0.0 == 0.0, so the sign of zero needs its own check.
            double.IsNegative(actual).Should().Be(double.IsNegative(expected), because);
        }

        /// <summary>The parser keeps 100 ns ticks (7 fractional digits) and truncates the rest; so does the oracle.</summary>
        private static string TruncateFraction(string value)
        {
            var dot = value.IndexOf('.', StringComparison.Ordinal);
            if (dot < 0)
            {
                return value;
            }

            var end = dot + 1;
            while (end < value.Length && char.IsAsciiDigit(value[end]))
            {
                end++;
            }

            return end - dot - 1 <= 7 ? value : value[..(dot + 8)] + value[end..];
        }
    }
}
