using TensorZero.Proxy.Configuration.Toml;

namespace TensorZero.Proxy.Tests.Configuration.Toml;

/// <summary>
/// Malformed input beyond the conformance suite: whatever the bytes, the parser either returns a table or throws
/// <see cref="TomlParseException"/>; any other exception would be a crash for the configuration loader.
/// </summary>
public sealed class TomlRobustnessTests
{
    // Bytes that steer the parser into its interesting states: delimiters, quotes, escapes, separators,
    // line endings, control characters and broken UTF-8.
    private static readonly byte[] Interesting =
        "[]{}\"'=.,#\\_+-:eExob0179TZtz uU\t\n\r"u8.ToArray().Concat(new byte[] { 0x00, 0x7F, 0x80, 0xC3, 0xED, 0xFF }).ToArray();

    [Fact]
    public void Parse_MutatedSuiteDocuments_ReturnsTableOrThrowsParseException()
    {
        // A fixed seed keeps the test deterministic; a failure names the document and mutation to replay.
        var random = new Random(20240601);
        var documents = TomlTestSuite.ListCases()
            .Select(path => (Path: path, Bytes: File.ReadAllBytes(TomlTestSuite.FullPath(path))))
            .ToList();
        documents.Should().NotBeEmpty();

        foreach (var (path, original) in documents)
        {
            for (var round = 0; round < 25; round++)
            {
                var mutated = Mutate(original, random);
                try
                {
                    TomlParser.Parse(mutated);
                }
                catch (TomlParseException)
                {
                    // Expected for most mutations.
                }
                catch (Exception other)
                {
                    throw new Xunit.Sdk.XunitException(
                        $"{path}, round {round}: {other.GetType().Name} instead of TomlParseException for bytes " +
                        $"{Convert.ToHexString(mutated)}: {other}");
                }
            }
        }
    }

    [Theory]
    [InlineData("a = \"\"\"")]
    [InlineData("a = '''")]
    [InlineData("a = \"\\")]
    [InlineData("a = \"\\u12")]
    [InlineData("a = \"\"\"\\")]
    [InlineData("a = 1979-05-27T")]
    [InlineData("a = 1979-05-27 07:32:00+")]
    [InlineData("a = 07:32:00.")]
    [InlineData("a = 0x")]
    [InlineData("a = +")]
    [InlineData("a = [")]
    [InlineData("a = {")]
    [InlineData("a = { b")]
    [InlineData("a = { b = 1,")]
    [InlineData("[[a]")]
    [InlineData("[a.")]
    [InlineData("a.")]
    [InlineData("\"a")]
    public void Parse_DocumentCutShort_ThrowsParseException(string document)
    {
        var parse = () => TomlParser.Parse(document);

        parse.Should().ThrowExactly<TomlParseException>();
    }

    private static byte[] Mutate(byte[] original, Random random)
    {
        var bytes = new List<byte>(original);
        var edits = random.Next(1, 4);
        for (var i = 0; i < edits; i++)
        {
            var at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            var value = Interesting[random.Next(Interesting.Length)];
            switch (random.Next(4))
            {
                case 0 when bytes.Count > 0:
                    bytes[at] = value;
                    break;
                case 1:
                    bytes.Insert(at, value);
                    break;
                case 2 when bytes.Count > 0:
                    bytes.RemoveAt(at);
                    break;
                default:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
            }
        }

        return [.. bytes];
    }
}
