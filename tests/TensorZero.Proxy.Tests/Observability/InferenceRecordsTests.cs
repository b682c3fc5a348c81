using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Observability;

namespace TensorZero.Proxy.Tests.Observability;

/// <summary>Response capture (stream reassembly, buffered bodies) and the JSONEachRow rows built from an inference.</summary>
public sealed class InferenceRecordsTests
{
    private static byte[] Event(string json) => Encoding.UTF8.GetBytes("data: " + json + "\n\n");

    [Fact]
    public void OnEvent_StreamedTextAndToolCalls_AreReassembled()
    {
        var capture = new ResponseCapture(1 << 20);
        capture.OnEvent(Event("""{"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}"""));
        capture.OnEvent(Event("""{"choices":[{"index":0,"delta":{"content":"lo"}},{"index":1,"delta":{"content":"other choice"}}]}"""));
        capture.OnEvent(Event("""{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","function":{"name":"second","arguments":""}}]}}]}"""));
        capture.OnEvent(Event("""{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","function":{"name":"get_","arguments":"{\"ci"}}]}}]}"""));
        capture.OnEvent(Event("""{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"weather","arguments":"ty\":1}"}}]}}]}"""));
        capture.OnEvent(Event("""{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"""));
        capture.OnEvent(Event("""{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":34}}"""));
        capture.OnEvent("data: [DONE]\n\n"u8);
        capture.OnEvent(": keep-alive\n\n"u8);
        capture.OnEvent("data: {not json\n\n"u8);

        capture.IsStream.Should().BeTrue();
        capture.Text.Should().Be("Hello");
        capture.ToolCalls.Should().Equal(new CapturedToolCall("call_a", "get_weather", "{\"city\":1}"), new CapturedToolCall("call_b", "second", ""));
        capture.FinishReason.Should().Be("tool_calls");
        capture.InputTokens.Should().Be(12);
        capture.OutputTokens.Should().Be(34);
    }

    [Fact]
    public void OnEvent_NullIndexAndCounts_AreNoValuesRatherThanErrors()
    {
        var capture = new ResponseCapture(1 << 20);

        capture.OnEvent(Event("""{"choices":[{"index":0,"delta":{"tool_calls":[{"index":null,"id":"c","function":{"name":"f","arguments":"{}"}}]},"finish_reason":null}]}"""));
        capture.OnEvent(Event("""{"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":null}}"""));

        capture.Text.Should().Be("hi");
        capture.ToolCalls.Should().Equal(new CapturedToolCall("c", "f", "{}"));
        capture.FinishReason.Should().Be("stop");
        capture.InputTokens.Should().Be(3);
        capture.OutputTokens.Should().BeNull();
    }

    [Fact]
    public void OnEvent_MultiLineDataAndCrLf_IsOnePayload()
    {
        var capture = new ResponseCapture(1 << 20);

        capture.OnEvent("event: message\r\ndata: {\"choices\":[{\"delta\":\r\ndata: {\"content\":\"x\"}}]}\r\n\r\n"u8);

        capture.Text.Should().Be("x");
    }

    [Fact]
    public void Complete_BufferedBody_ParsesMessageToolCallsAndUsage()
    {
        var capture = new ResponseCapture(16);
        var body = Encoding.UTF8.GetBytes("""
            {"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[
              {"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}},
              {"id":"c2","type":"function","function":{"name":"g","arguments":"[1]"}}]},"finish_reason":"tool_calls"}],
             "usage":{"prompt_tokens":5,"completion_tokens":3}}
            """);
        capture.OnBody(body);

        capture.Text.Should().BeNull("nothing is parsed before Complete");
        capture.Complete();

        capture.IsStream.Should().BeFalse();
        capture.Text.Should().BeNull();
        capture.ToolCalls.Should().Equal(new CapturedToolCall("c1", "f", "{}"), new CapturedToolCall("c2", "g", "[1]"));
        capture.InputTokens.Should().Be(5);
        capture.OutputTokens.Should().Be(3);
        capture.RawLength.Should().Be(body.Length);
        capture.Raw.Length.Should().Be(16, "the raw response is capped");
    }

    [Fact]
    public void Complete_BufferedBody_TakesTheFirstChoiceWhereverItsIndexIsAndSkipsWhatItDoesNotStore()
    {
        var capture = new ResponseCapture(1 << 20);
        capture.OnBody(Encoding.UTF8.GetBytes("""
            {"id":"x","choices":[
               {"message":{"content":"second","tool_calls":[{"id":"z","function":{"name":"no","arguments":"{}"}}]},"finish_reason":"length","index":1},
               {"logprobs":{"content":[{"token":"a","top_logprobs":[]}]},"message":{"refusal":null,"annotations":[{"a":[1,{"b":2}]}],
                "content":"first \"quoted\" é","tool_calls":[{"index":1,"id":"b","function":{"name":"g","arguments":"[2]"}},
                {"function":{"name":"f","arguments":{"not":"a string"}},"id":"a","index":0}]},"index":0,"finish_reason":"stop"},
               "not a choice"],
             "usage":{"prompt_tokens":7,"completion_tokens":null,"prompt_tokens_details":{"cached_tokens":0}},"system_fingerprint":null}
            """));

        capture.Complete();

        capture.Text.Should().Be("first \"quoted\" é");
        capture.ToolCalls.Should().Equal(new CapturedToolCall("a", "f", ""), new CapturedToolCall("b", "g", "[2]"));
        capture.FinishReason.Should().Be("stop");
        capture.InputTokens.Should().Be(7);
        capture.OutputTokens.Should().BeNull("a null count is no count");
    }

    [Theory]
    [InlineData("""{"choices":null,"usage":{"prompt_tokens":3,"completion_tokens":2}}""")]
    [InlineData("""{"choices":{"message":{"content":"no"}},"usage":{"prompt_tokens":3,"completion_tokens":2}}""")]
    [InlineData("""{"choices":[{"message":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}""")]
    [InlineData("""{"choices":[{"message":{"tool_calls":null,"content":null},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}""")]
    [InlineData("""{"choices":[{"message":{"tool_calls":[{"function":null,"id":"c"}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}""")]
    public void Complete_MembersOfAnotherShape_AreSkippedAndTheRestIsRead(string body)
    {
        var capture = new ResponseCapture(1 << 20);
        capture.OnBody(Encoding.UTF8.GetBytes(body));

        capture.Complete();

        capture.Text.Should().BeNull();
        capture.InputTokens.Should().Be(3);
        capture.OutputTokens.Should().Be(2);
    }

    [Theory]
    [InlineData("a", "a\uFFFD\uFFFD")]
    [InlineData("\\\"a", "\"a\uFFFD\uFFFD")]
    public void Complete_InvalidUtf8InAString_BecomesReplacementCharacters(string before, string expected)
    {
        var capture = new ResponseCapture(1 << 20);
        byte[] body = [.. "{\"choices\":[{\"message\":{\"content\":\""u8, .. Encoding.UTF8.GetBytes(before), 0xFF, 0xFE,
            .. "\"}}],\"usage\":{\"prompt_tokens\":3}}"u8];
        capture.OnBody(body);

        capture.Complete();

        capture.Text.Should().Be(expected);
        capture.InputTokens.Should().Be(3);
    }

    [Fact]
    public void OnEvent_ChoicesNotAnArray_IsSkippedAndTheUsageIsRead()
    {
        var capture = new ResponseCapture(1 << 20);

        capture.OnEvent(Event("""{"choices":null,"usage":{"prompt_tokens":3,"completion_tokens":2}}"""));

        capture.InputTokens.Should().Be(3);
        capture.OutputTokens.Should().Be(2);
    }

    [Theory]
    [InlineData("""{"choices":[{"message":{"content":"hi"}}]} trailing""")]
    [InlineData("""{"choices":[{"message":{"content":"hi"}}]""")]
    [InlineData("""{"choices":[{"message":{"content":"hi"}}]}{"usage":{}}""")]
    [InlineData("""[{"choices":[{"message":{"content":"hi"}}]}]""")]
    [InlineData("""<html>bad gateway</html>""")]
    public void Complete_BodyThatIsNotOneJsonObject_AddsNothing(string body)
    {
        var capture = new ResponseCapture(1 << 20);
        capture.OnBody(Encoding.UTF8.GetBytes(body));

        capture.Complete();

        capture.Text.Should().BeNull();
        capture.ToolCalls.Should().BeEmpty();
        capture.InputTokens.Should().BeNull();
        capture.RawLength.Should().Be(Encoding.UTF8.GetByteCount(body), "the raw response is still kept");
    }

    [Fact]
    public void OnBodyChunk_ErrorBody_IsKeptUpToTheCap()
    {
        var capture = new ResponseCapture(10);

        capture.OnBodyChunk("0123456"u8);
        capture.OnBodyChunk("789abc"u8);

        Encoding.UTF8.GetString(capture.Raw).Should().Be("0123456789");
        capture.RawLength.Should().Be(13);
    }

    private static InferenceFeature Inference(string body, FakeTimeProvider time, Action<Dictionary<string, string>>? tags = null)
    {
        InferenceRequest.TryParse(Encoding.UTF8.GetBytes(body), out var request, out var error).Should().BeTrue(error);
        GatewayFields.TryRead(request!.TensorZeroFields, time.GetUtcNow(), out var fields, out error).Should().BeTrue(error);
        var inference = new InferenceFeature(request, fields, Guid.CreateVersion7(time.GetUtcNow()), time.GetUtcNow(), time.GetTimestamp());
        tags?.Invoke(inference.Tags);
        return inference;
    }

    private static (JsonElement Chat, List<JsonElement> Models) Serialize(InferenceFeature inference, FakeTimeProvider time, int maxRaw = 1 << 20)
    {
        var chat = new ArrayBufferWriter<byte>();
        var model = new ArrayBufferWriter<byte>();
        var (c, m) = new InferenceRecords(maxRaw, time).Write(inference, chat, model);
        var chatText = Encoding.UTF8.GetString(chat.WrittenSpan);
        var modelText = Encoding.UTF8.GetString(model.WrittenSpan);
        chatText.Count(ch => ch == '\n').Should().Be(c, "one line per row");
        modelText.Count(ch => ch == '\n').Should().Be(m);
        return (JsonDocument.Parse(chatText).RootElement,
            [.. modelText.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)]);
    }

    [Fact]
    public void Write_StreamedFailover_RowsCarryEveryColumnKind()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 4, 5, 6, 7, 890, TimeSpan.Zero));
        var inference = Inference(
            """{"model":"m","stream":true,"messages":[{"role":"user","content":"héllo 😀"}],"temperature":0.2,"tools":[{"type":"function"}],"tensorzero::tags":{"k":"v"}}""",
            time, tags => tags["tensorzero::variant_pinned"] = "a");
        inference.FunctionName = "f";
        inference.VariantName = "a";
        inference.ExtraHeadersJson = """[{"name":"x-a","value":"1"}]""";
        time.Advance(TimeSpan.FromMilliseconds(100));
        var failedStart = time.GetTimestamp();
        var failedCapture = new ResponseCapture(1 << 20);
        failedCapture.OnBodyChunk("{\"error\":\"boom\"}"u8);
        inference.AddAttempt(new AttemptRecord("m", "bad", AttemptOutcome.Status, 500, TimeSpan.FromMilliseconds(40), null)
        {
            Variant = "a", StartedTimestamp = failedStart, Response = failedCapture, RawRequest = "{\"model\":\"bad-up\"}"u8.ToArray(),
            AppliedHeaders = [new("Authorization", "[redacted]"), new("Accept", "application/json")],
        });
        inference.AddAttempt(new AttemptRecord("m", "skipped", AttemptOutcome.CircuitOpen, null, TimeSpan.Zero, null));
        time.Advance(TimeSpan.FromMilliseconds(50));
        var okCapture = new ResponseCapture(1 << 20);
        okCapture.OnEvent(Event("""{"choices":[{"index":0,"delta":{"content":"hi"}}]}"""));
        okCapture.OnEvent(Event("""{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}"""));
        var ok = new AttemptRecord("m", "good", AttemptOutcome.Ok, 200, TimeSpan.FromMilliseconds(30), null)
        {
            Variant = "a", StartedTimestamp = time.GetTimestamp(), Response = okCapture, TimeToFirstToken = TimeSpan.FromMilliseconds(7),
        };
        inference.AddAttempt(ok);
        inference.CommittedAttempt = ok;
        inference.Outcome = InferenceOutcome.Ok;
        inference.Duration = TimeSpan.FromMilliseconds(190.4);

        var (chat, models) = Serialize(inference, time);

        chat.GetProperty("id").GetString().Should().Be(inference.InferenceId.ToString());
        chat.GetProperty("episode_id").GetString().Should().Be(inference.EpisodeId.ToString());
        chat.GetProperty("function_name").GetString().Should().Be("f");
        chat.GetProperty("variant_name").GetString().Should().Be("a");
        chat.GetProperty("model").GetString().Should().Be("m");
        chat.GetProperty("model_provider_name").GetString().Should().Be("good");
        chat.GetProperty("input").GetString().Should().Be("""[{"role":"user","content":"héllo 😀"}]""");
        chat.GetProperty("inference_params").GetString().Should().Be("""{"temperature":0.2}""");
        chat.GetProperty("tool_params").GetString().Should().Be("""{"tools":[{"type":"function"}]}""");
        chat.GetProperty("output").GetString().Should().Be("""[{"type":"text","text":"hi"}]""");
        chat.GetProperty("tags.key").EnumerateArray().Select(e => e.GetString()).Should().Equal("k", "tensorzero::variant_pinned");
        chat.GetProperty("tags.value").EnumerateArray().Select(e => e.GetString()).Should().Equal("v", "a");
        chat.GetProperty("extra_headers").GetString().Should().Be("""[{"name":"x-a","value":"1"}]""");
        chat.GetProperty("extra_body").ValueKind.Should().Be(JsonValueKind.Null);
        chat.GetProperty("input_tokens").GetInt32().Should().Be(3);
        chat.GetProperty("output_tokens").GetInt32().Should().Be(1);
        chat.GetProperty("processing_time_ms").GetInt32().Should().Be(190);
        chat.GetProperty("ttft_ms").GetInt32().Should().Be(150 + 7, "from the inference's start: 150 ms before the answering attempt, then its TTFT");
        chat.GetProperty("outcome").GetString().Should().Be("ok");
        chat.GetProperty("attempt_count").GetInt32().Should().Be(2, "the circuit-open skip was not an attempt");
        chat.GetProperty("stream").GetInt32().Should().Be(1);
        chat.GetProperty("timestamp").GetString().Should().Be("2026-03-04 05:06:07");

        models.Should().HaveCount(2);
        models[0].GetProperty("inference_id").GetString().Should().Be(inference.InferenceId.ToString());
        models[0].GetProperty("attempt").GetInt32().Should().Be(1);
        models[0].GetProperty("model_provider_name").GetString().Should().Be("bad");
        models[0].GetProperty("outcome").GetString().Should().Be("status");
        models[0].GetProperty("status_code").GetInt32().Should().Be(500);
        models[0].GetProperty("raw_request").GetString().Should().Be("{\"model\":\"bad-up\"}");
        models[0].GetProperty("raw_response").GetString().Should().Be("{\"error\":\"boom\"}");
        models[0].GetProperty("headers.key").EnumerateArray().Select(e => e.GetString()).Should().Equal("Authorization", "Accept");
        models[0].GetProperty("headers.value").EnumerateArray().Select(e => e.GetString()).Should().Equal("[redacted]", "application/json");
        models[0].GetProperty("ttft_ms").ValueKind.Should().Be(JsonValueKind.Null);
        models[0].GetProperty("error").ValueKind.Should().Be(JsonValueKind.Null);
        models[0].GetProperty("timestamp").GetString().Should().Be("2026-03-04 05:06:07");
        models[1].GetProperty("attempt").GetInt32().Should().Be(2);
        models[1].GetProperty("ttft_ms").GetInt32().Should().Be(7);
        models[1].GetProperty("response_time_ms").GetInt32().Should().Be(30);
        models[1].GetProperty("input_tokens").GetInt32().Should().Be(3);
        models[1].GetProperty("timestamp").GetString().Should().Be("2026-03-04 05:06:08", "the attempt started 150 ms after 07.890");
        var ids = models.Select(m => Guid.Parse(m.GetProperty("id").GetString()!)).ToList();
        ids.Should().OnlyHaveUniqueItems().And.AllSatisfy(id => id.Version.Should().Be(7));
    }

    [Theory]
    [InlineData("say \"hi\" \\ back\tslash\r\n nul\0 esc\u001b del\u007f")]
    [InlineData("é€😀 \u2028 </script> +&'<>")]
    [InlineData("lone \ud800 surrogate")]
    [InlineData(2000)]
    [InlineData(100_000)]
    public void Write_StringColumnsOfAnyText_ReadBackAsTheSameText(object value)
    {
        // Short, long (over the writer's 1 KB transcoding buffer) and very long (over 64 KB: a rented buffer) text,
        // with everything JSON must escape, in every kind of string column: names, tags, error, output, extra JSON.
        var text = value is int length ? string.Concat(Enumerable.Range(0, length).Select(i => (char)(i % 97 == 0 ? '"' : 'a' + i % 26))) : (string)value;
        var expected = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text)); // a lone surrogate becomes U+FFFD
        var time = new FakeTimeProvider();
        var inference = Inference("""{"model":"m","messages":[]}""", time, tags => tags[text] = text);
        inference.FunctionName = text;
        inference.ExtraBodyJson = text;
        var capture = new ResponseCapture(1 << 20);
        capture.OnBody(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new
        {
            // The capture's strings come from a parse, so they are already valid UTF-16.
            choices = new[] { new { message = new { content = expected, tool_calls = new[] { new { id = expected, function = new { name = expected, arguments = expected } } } } } },
        })));
        var attempt = new AttemptRecord("m", text, AttemptOutcome.Ok, 200, TimeSpan.Zero, text) { Response = capture, AppliedHeaders = [new(text, text)] };
        inference.AddAttempt(attempt);
        inference.CommittedAttempt = attempt;

        var (chat, models) = Serialize(inference, time);

        chat.GetProperty("function_name").GetString().Should().Be(expected);
        chat.GetProperty("model_provider_name").GetString().Should().Be(expected);
        chat.GetProperty("tags.key").EnumerateArray().Select(e => e.GetString()).Should().Equal(expected);
        chat.GetProperty("tags.value").EnumerateArray().Select(e => e.GetString()).Should().Equal(expected);
        chat.GetProperty("extra_body").GetString().Should().Be(expected);
        var output = JsonDocument.Parse(chat.GetProperty("output").GetString()!).RootElement;
        output[0].GetProperty("text").GetString().Should().Be(expected);
        output[1].GetProperty("id").GetString().Should().Be(expected);
        output[1].GetProperty("name").GetString().Should().Be(expected);
        output[1].GetProperty("arguments").GetString().Should().Be(expected);
        var model = models.Single();
        model.GetProperty("model_provider_name").GetString().Should().Be(expected);
        model.GetProperty("error").GetString().Should().Be(expected);
        model.GetProperty("headers.key").EnumerateArray().Select(e => e.GetString()).Should().Equal(expected);
        model.GetProperty("headers.value").EnumerateArray().Select(e => e.GetString()).Should().Equal(expected);
    }

    [Fact]
    public void Write_RawRequestOverTheCap_IsCutOnAUtf8Boundary()
    {
        var time = new FakeTimeProvider();
        var inference = Inference("""{"model":"m","messages":[]}""", time);
        inference.AddAttempt(new AttemptRecord("m", "p", AttemptOutcome.Error, null, TimeSpan.Zero, "broken")
        {
            RawRequest = Encoding.UTF8.GetBytes("aé€😀"), // 1 + 2 + 3 + 4 bytes
        });

        var (chat, models) = Serialize(inference, time, maxRaw: 5);

        models.Single().GetProperty("raw_request").GetString().Should().Be("aé", "a cut inside '€' backs off to the character before it");
        models.Single().GetProperty("raw_request_bytes").GetInt32().Should().Be(10);
        models.Single().GetProperty("error").GetString().Should().Be("broken");
        chat.GetProperty("outcome").GetString().Should().Be("error");
        chat.GetProperty("output").GetString().Should().Be("[]");
        chat.GetProperty("model_provider_name").GetString().Should().Be("");
        chat.GetProperty("input_tokens").ValueKind.Should().Be(JsonValueKind.Null);
        chat.GetProperty("inference_params").GetString().Should().Be("");
    }

    [Theory]
    [InlineData("")]
    [InlineData("plain text")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"say \\\"hi\\\"\\n\"}]}")]
    [InlineData("back\\slash \"quote\" tab\t cr\r lf\n nul\0 bell\a esc\u001b unit\u001f del\u007f")]
    [InlineData("é€😀 \u2028 \u2029 </script> +&'<>")]
    public void EscapeString_AnyText_ReadsBackAsTheSameString(string text)
    {
        var output = new ArrayBufferWriter<byte>(4); // small: the escaper must ask for more room as it goes

        InferenceRecords.EscapeString(Encoding.UTF8.GetBytes(text), output);

        JsonSerializer.Deserialize<string>(output.WrittenSpan).Should().Be(text);
    }

    [Fact]
    public void EscapeString_TextThatIsAllEscapes_GrowsTheOutputAsItGoes()
    {
        // Every character escaped (2 or 6 bytes each): far more than the first span asked for.
        var text = string.Concat(Enumerable.Range(0, 3000).Select(i => (char)(i % 34 == 33 ? '"' : i % 33)));
        var output = new ArrayBufferWriter<byte>(1);

        InferenceRecords.EscapeString(Encoding.UTF8.GetBytes(text), output);

        JsonSerializer.Deserialize<string>(output.WrittenSpan).Should().Be(text);
    }

    [Fact]
    public void EscapeString_AnEscapeAtEveryOffsetOfTheBlocks_ReadsBackAsTheSameString()
    {
        // The escaper compares 16 bytes at once: escapes before, on and after block edges, runs of every length.
        foreach (var length in Enumerable.Range(0, 50))
        {
            foreach (var at in Enumerable.Range(0, length))
            {
                foreach (var escape in new[] { '"', '\\', '\n', '\u0001', '\u001f' })
                {
                    var text = string.Concat(Enumerable.Range(0, length).Select(i => i == at ? escape : (char)('a' + i % 26)));
                    var output = new ArrayBufferWriter<byte>(1);

                    InferenceRecords.EscapeString(Encoding.UTF8.GetBytes(text), output);

                    JsonSerializer.Deserialize<string>(output.WrittenSpan).Should().Be(text, $"length {length}, escape at {at}");
                }
            }
        }
    }

    [Fact]
    public void EscapeString_EscapesOnlyWhatJsonRequires()
    {
        var output = new ArrayBufferWriter<byte>();

        InferenceRecords.EscapeString("\"a\\b\n\u0001é😀<"u8, output);

        Encoding.UTF8.GetString(output.WrittenSpan).Should().Be("\"\\\"a\\\\b\\n\\u0001é😀<\"");
    }

    [Fact]
    public void Write_RawColumnsWithQuotesControlsAndInvalidUtf8_ReadBackAsText()
    {
        var time = new FakeTimeProvider();
        var request = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a \\\"q\\\" \\n é\"}],\"temperature\":0.5}";
        var inference = Inference(request, time);
        inference.AddAttempt(new AttemptRecord("m", "p", AttemptOutcome.Error, null, TimeSpan.Zero, "broken")
        {
            RawRequest = (byte[])[.. "{\"x\":\"\t\"}"u8, 0xFF, (byte)'!'],
        });

        var (chat, models) = Serialize(inference, time, maxRaw: 1024);

        chat.GetProperty("input").GetString().Should().Be("[{\"role\":\"user\",\"content\":\"a \\\"q\\\" \\n é\"}]");
        chat.GetProperty("inference_params").GetString().Should().Be("{\"temperature\":0.5}");
        models.Single().GetProperty("raw_request").GetString().Should().Be("{\"x\":\"\t\"}\uFFFD!", "invalid UTF-8 becomes U+FFFD");
    }

    [Fact]
    public void Write_RequestMembersWithEscapedNamesAndSpaces_GoToTheirColumns()
    {
        var time = new FakeTimeProvider();
        var request = "{ \"mod\\u0065l\" : \"m\" ,\n \"\\u006dessages\"\t:\r\n [ {\"role\":\"user\",\"content\":\"x\"} ] , \"t\\u006fols\":[] ,"
            + " \"tool_choice\" : \"auto\", \"stream\":false, \"tensorzero::dryrun\":false, \"max_tokens\" :5, \"a\\\"b\":1}";
        var inference = Inference(request, time);

        var (chat, _) = Serialize(inference, time);

        chat.GetProperty("input").GetString().Should().Be("[ {\"role\":\"user\",\"content\":\"x\"} ]");
        chat.GetProperty("tool_params").GetString().Should().Be("{\"t\\u006fols\":[],\"tool_choice\" : \"auto\"}");
        chat.GetProperty("inference_params").GetString().Should().Be("{\"max_tokens\" :5,\"a\\\"b\":1}");
    }

    [Theory]
    [InlineData(nameof(InferenceOutcome.Ok), "ok")]
    [InlineData(nameof(InferenceOutcome.Error), "error")]
    [InlineData(nameof(InferenceOutcome.Truncated), "truncated")]
    [InlineData(nameof(InferenceOutcome.ClientAbort), "client_abort")]
    public void Describe_InferenceOutcome_IsTheStoredWord(string outcome, string expected) =>
        InferenceRecords.Describe(Enum.Parse<InferenceOutcome>(outcome)).Should().Be(expected);
}
