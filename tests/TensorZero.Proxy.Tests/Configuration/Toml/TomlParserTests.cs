using System.Text;
using TensorZero.Proxy.Configuration.Toml;

namespace TensorZero.Proxy.Tests.Configuration.Toml;

/// <summary>
/// Behaviour the conformance suite does not pin down: error positions and wording, the nesting bound, line
/// endings, key positions, documented .NET range limits, and a realistic configuration document.
/// </summary>
public sealed class TomlParserTests
{
    // ---- error positions and reasons ----

    [Fact]
    public void Parse_DuplicateKey_ReportsSecondKeyAndFirstDefinition()
    {
        var error = ParseFails("a = 1\nb = 2\na = 3\n");

        error.Line.Should().Be(3);
        error.Column.Should().Be(1);
        error.Reason.Should().Be("duplicate key 'a' (first defined at 1:1)");
        error.Message.Should().Be("3:1: duplicate key 'a' (first defined at 1:1)");
    }

    [Fact]
    public void Parse_DuplicateDottedKeyInSection_ReportsFullKeyAndFirstDefinition()
    {
        var error = ParseFails("[server]\nhttp.port = 1\n  http.port = 2\n");

        error.Line.Should().Be(3);
        error.Column.Should().Be(8);
        error.Reason.Should().Be("duplicate key 'http.port' (first defined at 2:6)");
    }

    [Fact]
    public void Parse_BadEscape_ReportsBackslashPosition()
    {
        var error = ParseFails("ok = 1\ns = \"ab\\qc\"\n");

        error.Line.Should().Be(2);
        error.Column.Should().Be(8);
        error.Reason.Should().Be("invalid escape sequence '\\q'");
    }

    [Fact]
    public void Parse_UnterminatedString_ReportsOpeningQuote()
    {
        var error = ParseFails("a = 1\nname = \"abc\nb = 2\n");

        error.Line.Should().Be(2);
        error.Column.Should().Be(8);
        error.Reason.Should().StartWith("unterminated string");
    }

    [Fact]
    public void Parse_UnterminatedMultiLineString_ReportsOpeningQuotes()
    {
        var error = ParseFails("a = 1\ntext = \"\"\"\nline\n");

        error.Line.Should().Be(2);
        error.Column.Should().Be(8);
        error.Reason.Should().StartWith("unterminated multi-line string");
    }

    [Fact]
    public void Parse_InvalidUtf8_ReportsLineAndCodePointColumnOfBadByte()
    {
        // "é" is two bytes but one column; the stray 0xFF is the 7th character of line 2.
        byte[] bytes = [.. "a = 1\nb = \"é"u8, 0xFF, .. "\"\n"u8];

        var error = ParseFails(bytes);

        error.Line.Should().Be(2);
        error.Column.Should().Be(7);
        error.Reason.Should().Be("invalid UTF-8 byte 0xFF");
    }

    [Theory]
    [InlineData(new byte[] { 0xC0, 0xAF })]             // overlong '/'
    [InlineData(new byte[] { 0xE0, 0x80, 0xAF })]       // overlong '/', three bytes
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]       // UTF-16 surrogate U+D800
    [InlineData(new byte[] { 0xF4, 0x90, 0x80, 0x80 })] // beyond U+10FFFF
    [InlineData(new byte[] { 0xE2, 0x82 })]             // truncated at end of input
    public void Parse_InvalidUtf8InComment_Throws(byte[] invalid)
    {
        byte[] bytes = [.. "a = 1 # "u8, .. invalid];

        var error = ParseFails(bytes);

        error.Line.Should().Be(1);
        error.Column.Should().Be(9);
        error.Reason.Should().StartWith("invalid UTF-8");
    }

    [Fact]
    public void Parse_StringWithUnpairedSurrogate_Throws()
    {
        var error = ParseFails("a = \"x\uD800\"\n");

        error.Column.Should().Be(7);
        error.Reason.Should().Contain("unpaired surrogate");
    }

    [Fact]
    public void Parse_RedefinedTable_ReportsHeaderAndFirstDefinition()
    {
        var error = ParseFails("[a]\nx = 1\n[b]\n[a]\ny = 2\n");

        error.Line.Should().Be(4);
        error.Column.Should().Be(1);
        error.Reason.Should().Be("table 'a' is already defined (first defined at 1:2)");
    }

    [Fact]
    public void Parse_TableImplicitlyCreatedByDottedKeys_CannotBeReopenedWithHeader()
    {
        var error = ParseFails("[fruit]\napple.color = \"red\"\n[fruit.apple]\n");

        error.Line.Should().Be(3);
        error.Reason.Should().Contain("already defined by dotted keys");
    }

    [Fact]
    public void Parse_KeyAddedToInlineTableLater_Throws()
    {
        var error = ParseFails("[product]\ntype = { name = \"Nail\" }\ntype.edible = false\n");

        error.Line.Should().Be(3);
        error.Column.Should().Be(1);
        error.Reason.Should().Contain("inline table 'type'");
    }

    [Fact]
    public void Parse_SuperTableDefinedAfterSubTables_IsAllowedOnce()
    {
        var table = TomlParser.Parse("[a.b.c]\nz = 1\n[a]\ny = 2\n");
        Child(table, "a")["y"].Should().Be(2L);

        var error = ParseFails("[a.b.c]\n[a]\n[a]\n");
        error.Line.Should().Be(3);
    }

    [Fact]
    public void Parse_HeaderCreatedParentExtendedByDottedKeys_CannotBeDefinedAgainByHeader()
    {
        // "b" is only implied by [a.b.c] until "b.d" defines it; a later [a.b] would define it a second time.
        var table = TomlParser.Parse("[a.b.c]\n[a]\nb.d = 1\n");
        Child(Child(table, "a"), "b")["d"].Should().Be(1L);

        ParseFails("[a.b.c]\n[a]\nb.d = 1\n[a.b]\n").Line.Should().Be(4);
    }

    [Fact]
    public void Parse_ArrayOfTablesAfterStaticArray_Throws()
    {
        var error = ParseFails("fruits = []\n[[fruits]]\n");

        error.Line.Should().Be(2);
        error.Reason.Should().Contain("static array 'fruits'");
    }

    [Fact]
    public void Parse_KeyValueNotFollowedByNewline_Throws()
    {
        var error = ParseFails("a = 1 b = 2\n");

        error.Column.Should().Be(7);
        error.Reason.Should().StartWith("expected a newline or comment after the value");
    }

    [Fact]
    public void Parse_BareCarriageReturn_Throws()
    {
        var error = ParseFails("a = 1\rb = 2\n");

        error.Column.Should().Be(6);
        error.Reason.Should().Contain("carriage return");
    }

    [Theory]
    [InlineData("a = 9223372036854775808", "integer does not fit in 64 bits")]
    [InlineData("a = 0x8000000000000000", "integer does not fit in 64 bits")]
    [InlineData("a = 1e400", "float is too large for a 64-bit floating-point number")]
    [InlineData("a = 00:00:60", "leap second 60 is not supported (.NET times cannot represent it)")]
    [InlineData("a = 0000-01-01", "year 0000 is not supported")]
    [InlineData("a = 2024-01-01T00:00:00+15:00", "offsets beyond ±14:00 are not supported")]
    [InlineData("a = 0001-01-01T00:00:00+01:00", "offset date-time is out of the supported range (years 0001-9999 in UTC)")]
    public void Parse_ValueOutsideDotNetRange_ThrowsInsteadOfGuessing(string document, string reason)
    {
        ParseFails(document).Reason.Should().Be(reason);
    }

    // ---- nesting bound ----

    [Fact]
    public void Parse_ArraysNestedToMaxDepth_Succeeds()
    {
        var depth = TomlParser.MaxNestingDepth;
        var table = TomlParser.Parse($"a = {new string('[', depth)}1{new string(']', depth)}\n");

        var value = table["a"];
        for (var i = 0; i < depth; i++)
        {
            value = value.Should().BeOfType<TomlArray>().Which.Single();
        }

        value.Should().Be(1L);
    }

    [Fact]
    public void Parse_ArraysNestedOneBeyondMaxDepth_ThrowsMentioningTheBound()
    {
        var depth = TomlParser.MaxNestingDepth + 1;

        var error = ParseFails($"a = {new string('[', depth)}1{new string(']', depth)}\n");

        error.Column.Should().Be(4 + depth);
        error.Reason.Should().Contain(TomlParser.MaxNestingDepth.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Parse_InlineTablesAndArraysMixedBeyondMaxDepth_Throws()
    {
        var builder = new StringBuilder("a = ");
        for (var i = 0; i <= TomlParser.MaxNestingDepth; i++)
        {
            builder.Append(i % 2 == 0 ? "{ b = " : "[");
        }

        ParseFails(builder.ToString()).Reason.Should().Contain("nested too deeply");
    }

    [Fact]
    public void Parse_HundredThousandOpenBrackets_ThrowsParseException()
    {
        ParseFails("a = " + new string('[', 100_000)).Reason.Should().Contain("nested too deeply");
        ParseFails(new string('[', 100_000)).Should().NotBeNull();
        ParseFails("a = " + string.Concat(Enumerable.Repeat("{b=", 100_000))).Reason.Should().Contain("nested too deeply");
    }

    // ---- line endings and positions ----

    [Fact]
    public void Parse_CrlfDocument_ReadsValuesAndNormalisesMultiLineStrings()
    {
        var table = TomlParser.Parse("# settings\r\na = 1\r\ntext = \"\"\"\r\nfirst\r\nsecond\"\"\"\r\n[t]\r\nc = 'z' # done\r\n");

        table["a"].Should().Be(1L);
        table["text"].Should().Be("first\nsecond");
        Child(table, "t")["c"].Should().Be("z");
        Child(table, "t").TryGetPosition("c", out var line, out var column).Should().BeTrue();
        (line, column).Should().Be((7, 1));
    }

    [Fact]
    public void Parse_Utf8Bom_IsIgnored()
    {
        byte[] bytes = [0xEF, 0xBB, 0xBF, .. "a = \"x\"\n"u8];

        TomlParser.Parse(bytes)["a"].Should().Be("x");
        TomlParser.Parse("\uFEFFa = 1")["a"].Should().Be(1L);
    }

    [Fact]
    public void TryGetPosition_KeysAfterNonAsciiText_CountsColumnsInCodePoints()
    {
        var table = TomlParser.Parse("s = { \"😀\" = 1, b = 2 }\n[t]\n  \"é\".k = [10, 20]\n");

        Child(table, "s").TryGetPosition("b", out var line, out var column).Should().BeTrue();
        (line, column).Should().Be((1, 16));
        Child(Child(table, "t"), "é").TryGetPosition("k", out line, out column).Should().BeTrue();
        (line, column).Should().Be((3, 7));
        Child(table, "t").TryGetPosition("missing", out _, out _).Should().BeFalse();

        var array = Child(Child(table, "t"), "é")["k"].Should().BeOfType<TomlArray>().Subject;
        array.TryGetPosition(1, out line, out column).Should().BeTrue();
        (line, column).Should().Be((3, 16));
        array.TryGetPosition(2, out _, out _).Should().BeFalse();
    }

    [Fact]
    public void GetEnumerator_Table_EnumeratesInDocumentOrder()
    {
        var table = TomlParser.Parse("zeta = 1\nalpha = 2\nmid.x = 3\n[beta]\n");

        table.Keys.Should().Equal("zeta", "alpha", "mid", "beta");
        table.Select(pair => pair.Key).Should().Equal("zeta", "alpha", "mid", "beta");
    }

    // ---- values ----

    [Fact]
    public void Parse_DateAndTimeForms_MapToTheirTypes()
    {
        var table = TomlParser.Parse("""
            odt = 1979-05-27T07:32:00.999999-07:00
            utc = 1979-05-27 07:32:00z
            ldt = 1979-05-27T07:32:00
            ld = 1979-05-27
            lt = 07:32:00.123456789
            leap = 2024-02-29
            """);

        table["odt"].Should().Be(new DateTimeOffset(1979, 5, 27, 7, 32, 0, TimeSpan.FromHours(-7)).AddTicks(9_999_990));
        ((DateTimeOffset)table["odt"]).Offset.Should().Be(TimeSpan.FromHours(-7));
        ((DateTimeOffset)table["utc"]).Offset.Should().Be(TimeSpan.Zero);
        var local = table["ldt"].Should().BeOfType<TomlLocalDateTime>().Subject.Value;
        local.Should().Be(new DateTime(1979, 5, 27, 7, 32, 0));
        local.Kind.Should().Be(DateTimeKind.Unspecified);
        table["ld"].Should().Be(new TomlLocalDate(new DateOnly(1979, 5, 27)));
        // Nanoseconds below one 100 ns tick are truncated, not rounded.
        table["lt"].Should().Be(new TomlLocalTime(new TimeOnly(7, 32, 0).Add(TimeSpan.FromTicks(1_234_567))));
        table["leap"].Should().Be(new TomlLocalDate(new DateOnly(2024, 2, 29)));
    }

    [Fact]
    public void Parse_NumberForms_MapToLongAndDouble()
    {
        var table = TomlParser.Parse("""
            min = -9223372036854775808
            max = 0x7FFF_FFFF_FFFF_FFFF
            oct = 0o755
            bin = 0b1101
            grouped = 1_000
            float = -6.02e+2_3
            ninf = -inf
            nan = +nan
            """);

        table["min"].Should().Be(long.MinValue);
        table["max"].Should().Be(long.MaxValue);
        table["oct"].Should().Be(493L);
        table["bin"].Should().Be(13L);
        table["grouped"].Should().Be(1000L);
        table["float"].Should().Be(-6.02e23);
        table["ninf"].Should().Be(double.NegativeInfinity);
        double.IsNaN((double)table["nan"]).Should().BeTrue();
    }

    [Fact]
    public void Parse_MultiLineStrings_HandleLineEndingBackslashAndClosingQuotes()
    {
        var table = TomlParser.Parse("a = \"\"\"\none \\\n    two\"\"\"\"\"\nb = '''\n'x'\n'''''\nc = \"\\u00e9\\U0001F600\"\n");

        table["a"].Should().Be("one two\"\"");
        table["b"].Should().Be("'x'\n''");
        table["c"].Should().Be("é😀");
    }

    // ---- a realistic configuration ----

    [Fact]
    public void Parse_TensorZeroStyleConfig_MapsTablesInlineTablesAndArrays()
    {
        var table = TomlParser.Parse("""
            # TensorZero gateway configuration
            [gateway]
            bind_address = "0.0.0.0:3000"
            observability.enabled = false

            [models."gpt-4o"]
            routing = ["azure", "openai"]

            [models."gpt-4o".providers.azure]
            type = "azure"
            deployment_id = "gpt-4o-2024-08-06"
            endpoint = "https://example.openai.azure.com"
            timeouts = { non_streaming.total_ms = 1500, streaming.ttft_ms = 500 }

            [models."gpt-4o".providers.openai]
            type = "openai"
            model_name = "gpt-4o-2024-08-06"
            api_key_location = "env::OPENAI_API_KEY"

            [functions.draft_email]
            type = "chat"

            [functions.draft_email.variants.baseline]
            type = "chat_completion"
            model = "gpt-4o"
            weight = 0.75
            max_tokens = 1_024
            stop_sequences = [
              "\n\n",   # a blank line ends the draft
              'END',
            ]
            extra_headers = [{ name = "x-team", value = "platform" }]

            [[tools]]
            name = "search"

            [[tools]]
            name = "calculator"
            """);

        var gateway = Child(table, "gateway");
        gateway["bind_address"].Should().Be("0.0.0.0:3000");
        Child(gateway, "observability")["enabled"].Should().Be(false);

        var model = Child(Child(table, "models"), "gpt-4o");
        model["routing"].Should().BeOfType<TomlArray>().Which.Should().Equal("azure", "openai");
        var azure = Child(Child(model, "providers"), "azure");
        azure["deployment_id"].Should().Be("gpt-4o-2024-08-06");
        Child(Child(azure, "timeouts"), "non_streaming")["total_ms"].Should().Be(1500L);
        Child(Child(azure, "timeouts"), "streaming")["ttft_ms"].Should().Be(500L);
        Child(Child(model, "providers"), "openai")["api_key_location"].Should().Be("env::OPENAI_API_KEY");
        Child(model, "providers").Keys.Should().Equal("azure", "openai");
        model.TryGetPosition("routing", out var line, out var column).Should().BeTrue();
        (line, column).Should().Be((7, 1));

        var variant = Child(Child(Child(Child(table, "functions"), "draft_email"), "variants"), "baseline");
        variant["weight"].Should().Be(0.75);
        variant["max_tokens"].Should().Be(1024L);
        variant["stop_sequences"].Should().BeOfType<TomlArray>().Which.Should().Equal("\n\n", "END");
        var header = variant["extra_headers"].Should().BeOfType<TomlArray>().Which.Single()
            .Should().BeOfType<TomlTable>().Subject;
        header["name"].Should().Be("x-team");

        var tools = table["tools"].Should().BeOfType<TomlArray>().Subject;
        tools.Select(tool => ((TomlTable)tool)["name"]).Should().Equal("search", "calculator");
    }

    private static TomlTable Child(TomlTable table, string key) =>
        table[key].Should().BeOfType<TomlTable>($"'{key}' should be a table").Subject;

    private static TomlParseException ParseFails(string document)
    {
        var parse = () => TomlParser.Parse(document);
        return parse.Should().ThrowExactly<TomlParseException>().Which;
    }

    private static TomlParseException ParseFails(byte[] document)
    {
        var parse = () => TomlParser.Parse(document);
        return parse.Should().ThrowExactly<TomlParseException>().Which;
    }
}
