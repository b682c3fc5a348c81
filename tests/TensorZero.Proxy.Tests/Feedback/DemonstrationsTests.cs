using System.Collections.Frozen;
using System.Text.Json;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Feedback;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Tests.Feedback;

public sealed class DemonstrationsTests
{
    private const string WeatherParameters = """{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""";
    private const string AnswerSchema = """{"type":"object","properties":{"answer":{"type":"integer"}},"required":["answer"]}""";

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    private static DemonstrationTools Weather(bool complete = true) =>
        new(new Dictionary<string, JsonElement> { ["get_weather"] = Json(WeatherParameters) }, complete);

    /// <summary>Functions <c>chat</c> (tool <c>get_weather</c> from [tools]) and <c>extract</c> (json, <see cref="AnswerSchema"/>).</summary>
    private static GatewayConfig Config()
    {
        var parsed = ConfigLoader.Parse("""
            [models.m]
            routing = ["p"]
            [models.m.providers.p]
            type = "dummy"
            model_name = "test"

            [functions.chat]
            type = "chat"
            [functions.chat.variants.v]
            type = "chat_completion"
            model = "m"
            """);
        var chat = parsed.Functions["chat"];
        return parsed with
        {
            Tools = new Dictionary<string, ToolConfigEntry>
            {
                ["weather_tool"] = new("weather_tool", "get_weather", "Weather", new SchemaFile("/tools/weather.json", Json(WeatherParameters)), Strict: false),
            }.ToFrozenDictionary(),
            Functions = new Dictionary<string, FunctionConfig>
            {
                ["chat"] = chat with { Tools = ["weather_tool"] },
                ["extract"] = chat with { Name = "extract", Kind = FunctionKind.Json, OutputSchema = new SchemaFile("/schemas/answer.json", Json(AnswerSchema)) },
            }.ToFrozenDictionary(),
        };
    }

    [Fact]
    public void ParseChat_String_IsOneTextBlock()
    {
        Demonstrations.ParseChat(Json("\"Paris is sunny\""), DemonstrationTools.None, out var stored).Should().BeNull();

        stored.Should().Be("""[{"type":"text","text":"Paris is sunny"}]""");
    }

    [Fact]
    public void ParseChat_TextAndToolCall_StoredAsTensorZeroOutputBlocks()
    {
        var value = Json("""[{"type":"text","text":"Let me check."},{"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"city":"Paris"}}]""");

        Demonstrations.ParseChat(value, Weather(), out var stored).Should().BeNull();

        stored.Should().Be("""[{"type":"text","text":"Let me check."},""" +
            """{"type":"tool_call","id":"call_1","raw_name":"get_weather","raw_arguments":"{\"city\":\"Paris\"}","name":"get_weather","arguments":{"city":"Paris"}}]""");
    }

    [Theory]
    [InlineData("42", "Demonstration must be a string or an array of content blocks")]
    [InlineData("""[{"text":"x"}]""", "Invalid demonstration content block: missing field `type`")]
    [InlineData("""[{"type":"image","url":"x"}]""", "Invalid demonstration content block: unknown variant `image`, expected `text` or `tool_call`")]
    [InlineData("""[{"type":"text"}]""", "Invalid demonstration content block: missing field `text`")]
    [InlineData("""["plain"]""", "Invalid demonstration content block: invalid type: string \"plain\", expected internally tagged enum DemonstrationContentBlock")]
    [InlineData("""[{"type":"tool_call","name":"get_weather","arguments":{"city":"Paris"}}]""", "Invalid demonstration content block: missing field `id`")]
    [InlineData("""[{"type":"tool_call","id":"c","name":"get_time","arguments":{}}]""", "Demonstration contains invalid tool name")]
    [InlineData("""[{"type":"tool_call","id":"c","name":"get_weather","arguments":{"city":3}}]""", "Demonstration contains invalid tool call arguments")]
    [InlineData("""[{"type":"tool_call","id":"c","name":"get_weather","arguments":{}}]""", "Demonstration contains invalid tool call arguments")]
    public void ParseChat_Invalid_TensorZeroMessage(string value, string expected)
    {
        var error = Demonstrations.ParseChat(Json(value), Weather(), out _);

        error.Should().Be(FeedbackError.Invalid(expected));
    }

    [Fact]
    public void ParseChat_UnseenToolWhenToolsIncomplete_KeptAsGiven()
    {
        var value = Json("""[{"type":"tool_call","id":"c","name":"get_time","arguments":{"zone":"UTC"}}]""");

        Demonstrations.ParseChat(value, Weather(complete: false), out var stored).Should().BeNull();

        stored.Should().Contain("\"name\":\"get_time\"").And.Contain("\"raw_arguments\":\"{\\\"zone\\\":\\\"UTC\\\"}\"");
    }

    [Fact]
    public void ParseJson_ValidAgainstSchema_StoredAsRawAndParsed()
    {
        var schema = Demonstrations.Compile(new object(), Json(AnswerSchema), out _);

        Demonstrations.ParseJson(Json("""{ "answer": 42 }"""), schema, out var stored).Should().BeNull();

        stored.Should().Be("""{"raw":"{\"answer\":42}","parsed":{"answer":42}}""");
    }

    [Fact]
    public void ParseJson_NotValid_SaysWhere()
    {
        var schema = Demonstrations.Compile(new object(), Json(AnswerSchema), out _);

        var error = Demonstrations.ParseJson(Json("""{"answer":"many"}"""), schema, out _);

        error!.Value.Status.Should().Be(400);
        error.Value.Message.Should().StartWith("Demonstration does not fit function output schema: ").And.Contain("/answer");
    }

    [Fact]
    public void ParseDemonstration_ChatFunction_ConfiguredAndRecordedToolsAllowed()
    {
        var recorded = """{"tools":[{"type":"function","function":{"name":"get_time","parameters":{"type":"object"}}}]}""";
        var inference = new KnownInference("chat", HadTools: true, recorded, OutputSchema: null);
        var value = Json("""[{"type":"tool_call","id":"a","name":"get_weather","arguments":{"city":"Oslo"}},{"type":"tool_call","id":"b","name":"get_time","arguments":{}}]""");

        FeedbackHandler.ParseDemonstration(Config(), inference, value, out var stored).Should().BeNull();

        JsonDocument.Parse(stored).RootElement.GetArrayLength().Should().Be(2);
        FeedbackHandler.ParseDemonstration(Config(), inference with { ToolParams = null, HadTools = false },
            Json("""[{"type":"tool_call","id":"b","name":"get_time","arguments":{}}]"""), out _)
            .Should().Be(FeedbackError.Invalid("Demonstration contains invalid tool name"));
    }

    [Fact]
    public void ParseDemonstration_JsonFunction_RecordedSchemaWinsOverFunctions()
    {
        var inference = new KnownInference("extract", HadTools: false, null, OutputSchema: """{"type":"object","required":["name"]}""");

        FeedbackHandler.ParseDemonstration(Config(), inference, Json("""{"name":"x"}"""), out var stored).Should().BeNull();
        FeedbackHandler.ParseDemonstration(Config(), inference with { OutputSchema = null }, Json("""{"name":"x"}"""), out _)!
            .Value.Message.Should().StartWith("Demonstration does not fit function output schema");

        stored.Should().Be("""{"raw":"{\"name\":\"x\"}","parsed":{"name":"x"}}""");
    }

    [Theory]
    [InlineData("tensorzero::default", null)]
    [InlineData("gone", "Unknown function: gone")]
    public void ParseDemonstration_FunctionNotConfigured_DefaultIsChatOthers404(string function, string? expected)
    {
        var error = FeedbackHandler.ParseDemonstration(Config(), new KnownInference(function, false, null, null), Json("\"hi\""), out _);

        if (expected is null)
        {
            error.Should().BeNull();
        }
        else
        {
            error.Should().Be(new FeedbackError(404, expected));
        }
    }
}
