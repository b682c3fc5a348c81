using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Resilience;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Functional;

/// <summary>
/// Timeouts, failover, retries and circuit breaking against real loopback providers scripted per request.
/// The timeout tests run the gateway on a <see cref="WatchedFakeTimeProvider"/>: once the provider has the request, the
/// test moves the clock onto the configured value, and the clock's record of the one-shot timers it fired shows
/// that the deadline fired at that value exactly (a shorter one would have fired on the way, at its own value; a
/// longer one never fires and the test fails through <see cref="HangGuard"/>). No assertion depends on how fast
/// the machine is.
/// </summary>
public sealed class FailoverEndToEndTests
{
    /// <summary>How long a test waits for a response at most: a guard against a hang, not a timing assertion.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Early = TimeSpan.FromMilliseconds(20);

    private static string ProviderToml(string model, string name, string apiBase, string timeouts = "") =>
        TestConfigs.OpenAIProvider(model, name, apiBase, timeouts);

    private static StringContent Body(string model, bool stream) =>
        new($$"""{"model":"{{model}}","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json");

    private static Task<HttpResponseMessage> Send(TestGateway gateway, string model, bool stream) =>
        gateway.Client.SendAsync(
            new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Body(model, stream) }, HttpCompletionOption.ResponseHeadersRead);

    /// <summary>Sends a request, waits until <paramref name="hang"/> holds it, then moves the clock onto <paramref name="ms"/>.</summary>
    private static async Task<HttpResponseMessage> SendThenAdvanceAsync(
        TestGateway gateway, WatchedFakeTimeProvider time, FakeProvider hang, string model, bool stream, int ms)
    {
        var request = Send(gateway, model, stream);
        await hang.FirstRequestAsync();
        time.Advance(TimeSpan.FromMilliseconds(ms));
        return await request.WaitAsync(HangGuard);
    }

    /// <summary>The deadlines in force fired at <paramref name="ms"/> and at no other time.</summary>
    private static void ShouldHaveFiredAt(WatchedFakeTimeProvider time, int ms) =>
        time.OneShotsFired.Should().NotBeEmpty().And.OnlyContain(t => t == TimeSpan.FromMilliseconds(ms), $"the deadline is {ms} ms");

    private static async Task<(string Text, List<string> Events)> ReadAsync(HttpResponseMessage response, bool stream)
    {
        var text = await response.Content.ReadAsStringAsync();
        if (!stream)
        {
            return (text, []);
        }
        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).ToList();
        var content = new StringBuilder();
        foreach (var e in events.Where(e => e.StartsWith("data: {", StringComparison.Ordinal)))
        {
            using var chunk = JsonDocument.Parse(e["data: ".Length..]);
            if (chunk.RootElement.TryGetProperty("choices", out var choices))
            {
                foreach (var choice in choices.EnumerateArray())
                {
                    if (choice.GetProperty("delta").TryGetProperty("content", out var c))
                    {
                        content.Append(c.GetString());
                    }
                }
            }
        }
        return (content.ToString(), events);
    }

    public static TheoryData<FailureMode, bool> FailureModes()
    {
        var data = new TheoryData<FailureMode, bool>();
        foreach (var mode in Enum.GetValues<FailureMode>())
        {
            data.Add(mode, false);
            if (mode != FailureMode.SlowSecondChunk)
            {
                // A stream whose first chunk arrived is committed: its slow second chunk is the truncation test below.
                data.Add(mode, true);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(FailureModes))]
    public async Task FailureMode_FailsOverToNextProvider_ClientSeesOnlyTheGoodResponse(FailureMode mode, bool stream)
    {
        await using var bad = await FakeProvider.StartAsync(mode == FailureMode.RefuseConnection ? null : FailingResponses.For(mode));
        await using var good = await FakeProvider.StartAsync(FakeResponses.Default("good provider reply"));
        var badBase = mode == FailureMode.RefuseConnection ? "http://127.0.0.1:1" : bad.BaseUrl;
        var toml = """
            [models.m]
            routing = ["bad", "good"]
            """ + ProviderToml("m", "bad", badBase, "timeouts = { non_streaming.total_ms = 500, streaming.ttft_ms = 500 }")
                + ProviderToml("m", "good", good.BaseUrl);
        await using var gateway = await TestGateway.StartAsync(toml);

        using var response = await gateway.Client.PostAsync("/v1/chat/completions", Body("m", stream));
        var (text, events) = await ReadAsync(response, stream);
        var inference = await gateway.Inferences.NextAsync();

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Headers.Contains("x-bad-provider").Should().BeFalse();
        response.Headers.Contains("retry-after").Should().BeFalse();
        response.Headers.GetValues("x-tensorzero-provider").Should().Equal("good");
        response.Headers.GetValues("x-tensorzero-attempts").Should().Equal("2");
        response.Headers.GetValues("x-fake-provider").Should().Equal("yes");
        text.Should().Contain("good provider reply").And.NotContain("bad provider body");
        if (stream)
        {
            events[^1].Should().Be("data: [DONE]");
        }
        good.Received.Should().ContainSingle().Which.Json.GetProperty("model").GetString().Should().Be("good-upstream");
        inference.Attempts.Select(a => a.Provider).Should().Equal("bad", "good");
        inference.Attempts[0].Outcome.Should().Be(mode switch
        {
            FailureMode.RefuseConnection => AttemptOutcome.ConnectError,
            FailureMode.Status500 or FailureMode.Status429WithRetryAfter => AttemptOutcome.Status,
            FailureMode.OkHtml or FailureMode.OkGarbageStream => AttemptOutcome.Error,
            _ => AttemptOutcome.Timeout,
        });
        inference.Outcome.Should().Be(InferenceOutcome.Ok);
    }

    /// <summary>
    /// Each attempt's body reaches its provider whole, with its own exact Content-Length and never chunked (since YARP 2.3
    /// the body travels through the request, not a replaced HttpContent): the three bodies differ in length (the
    /// providers' model names), a 200 KB message takes several reads of the forwarder's 64 KB buffer, and a chunked client
    /// request must not make the upstream requests chunked. The attempts' records hold the very bytes each provider got.
    /// </summary>
    [Theory]
    [InlineData(false, 2, false)]
    [InlineData(true, 2, false)]
    [InlineData(false, 200_000, false)]
    [InlineData(true, 200_000, true)]
    [InlineData(false, 2, true)]
    public async Task Failover_EachAttemptSendsItsOwnWholeBody_WithExactContentLength_NeverChunked(bool stream, int contentLength, bool chunkedClient)
    {
        await using var first = await FakeProvider.StartAsync(FailingResponses.For(FailureMode.Status500));
        await using var second = await FakeProvider.StartAsync(FailingResponses.For(FailureMode.Status429WithRetryAfter));
        await using var good = await FakeProvider.StartAsync(FakeResponses.Default("good provider reply"));
        var toml = """
            [models.m]
            routing = ["first", "second", "good"]
            """ + ProviderToml("m", "first", first.BaseUrl) + ProviderToml("m", "second", second.BaseUrl) + ProviderToml("m", "good", good.BaseUrl);
        await using var gateway = await TestGateway.StartAsync(toml);
        var content = new string('x', contentLength);
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent(
                $$"""{"model":"m","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"{{content}}"}]}""",
                Encoding.UTF8, "application/json"),
        };
        request.Headers.TransferEncodingChunked = chunkedClient;

        using var response = await gateway.Client.SendAsync(request);
        var (text, _) = await ReadAsync(response, stream);
        var inference = await gateway.Inferences.NextAsync();

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        text.Should().Contain("good provider reply");
        var received = new[] { first, second, good }.Select(p => p.Received.Should().ContainSingle().Subject).ToArray();
        received.Select(r => r.Json.GetProperty("model").GetString()).Should().Equal("first-upstream", "second-upstream", "good-upstream");
        for (var i = 0; i < received.Length; i++)
        {
            var r = received[i];
            r.Header("Content-Length").Should().Be(r.Body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
            r.Header("Transfer-Encoding").Should().BeNull();
            r.Json.GetProperty("messages")[0].GetProperty("content").GetString().Should().Be(content);
            r.Json.GetProperty("stream").GetBoolean().Should().Be(stream);
            inference.Attempts[i].RawRequest!.Value.ToArray().Should().Equal(r.Body, "the attempt's record holds the bytes its provider received");
        }
        inference.Attempts.Select(a => a.Outcome).Should().Equal(AttemptOutcome.Status, AttemptOutcome.Status, AttemptOutcome.Ok);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task EveryProviderFails_ErrorListsEveryAttempt(bool stream)
    {
        await using var five = await FakeProvider.StartAsync(FailingResponses.For(FailureMode.Status500));
        await using var hang = await FakeProvider.StartAsync(FailingResponses.For(FailureMode.HangBeforeHeaders));
        var toml = """
            [models.m]
            routing = ["refused", "five", "hang"]
            """ + ProviderToml("m", "refused", "http://127.0.0.1:1") + ProviderToml("m", "five", five.BaseUrl)
                + ProviderToml("m", "hang", hang.BaseUrl, "timeouts = { non_streaming.total_ms = 300, streaming.ttft_ms = 300 }");
        await using var gateway = await TestGateway.StartAsync(toml);

        using var response = await gateway.Client.PostAsync("/v1/chat/completions", Body("m", stream));

        response.StatusCode.Should().Be(HttpStatusCode.InternalServerError);
        response.Headers.GetValues("x-tensorzero-attempts").Should().Equal("3");
        var message = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("message").GetString();
        message.Should().Contain("provider 'refused' of model 'm': connect error")
            .And.Contain("provider 'five' of model 'm': status 500")
            .And.Contain("provider 'hang' of model 'm': timeout (provider ")
            .And.MatchRegex("after [0-9]+ ms");
    }

    [Theory]
    [InlineData(false, "timeouts = { non_streaming.total_ms = 400 }")]
    [InlineData(true, "timeouts = { streaming.ttft_ms = 400 }")]
    [InlineData(true, "timeouts = { streaming.ttft_ms = 900, streaming.total_ms = 400 }")]
    public async Task ProviderTimeout_FiresAtItsValue_ThenNextProvider(bool stream, string timeouts)
    {
        await using var hang = await FakeProvider.StartAsync(FailingResponses.For(FailureMode.HangBeforeHeaders));
        await using var good = await FakeProvider.StartAsync(FakeResponses.Default("ok"));
        var toml = "[models.m]\nrouting = [\"hang\", \"good\"]\n" + ProviderToml("m", "hang", hang.BaseUrl, timeouts) + ProviderToml("m", "good", good.BaseUrl);
        var time = new WatchedFakeTimeProvider();
        await using var gateway = await TestGateway.StartWithClockAsync(toml, time);

        using var response = await SendThenAdvanceAsync(gateway, time, hang, "m", stream, 400);
        var (text, _) = await ReadAsync(response, stream).WaitAsync(HangGuard);
        var inference = await gateway.Inferences.NextAsync();

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        text.Should().Contain("ok");
        var timedOut = inference.Attempts[0];
        timedOut.Outcome.Should().Be(AttemptOutcome.Timeout);
        timedOut.TimeoutLevel.Should().Be(TimeoutLevel.Provider);
        timedOut.Elapsed.Should().Be(TimeSpan.FromMilliseconds(400));
        ShouldHaveFiredAt(time, 400);
        inference.Attempts[1].Provider.Should().Be("good");
    }

    [Theory]
    [InlineData(false, "timeouts = { non_streaming.total_ms = 600 }")]
    [InlineData(true, "timeouts = { streaming.ttft_ms = 600 }")]
    public async Task ModelTimeout_EndsTheModel_With408ForAModelTarget(bool stream, string timeouts)
    {
        await using var hang = await FakeProvider.StartAsync(FailingResponses.For(FailureMode.HangBeforeHeaders));
        await using var good = await FakeProvider.StartAsync(FakeResponses.Default("never"));
        var toml = $"[models.m]\nrouting = [\"hang\", \"good\"]\n{timeouts}\n" + ProviderToml("m", "hang", hang.BaseUrl) + ProviderToml("m", "good", good.BaseUrl);
        var time = new WatchedFakeTimeProvider();
        await using var gateway = await TestGateway.StartWithClockAsync(toml, time);

        using var response = await SendThenAdvanceAsync(gateway, time, hang, "m", stream, 600);
        var inference = await gateway.Inferences.NextAsync();

        response.StatusCode.Should().Be(HttpStatusCode.RequestTimeout);
        (await response.Content.ReadAsStringAsync()).Should().Contain("Model 'm' timed out").And.Contain("timeout (model ");
        var attempt = inference.Attempts.Should().ContainSingle().Subject;
        attempt.TimeoutLevel.Should().Be(TimeoutLevel.Model);
        attempt.Elapsed.Should().Be(TimeSpan.FromMilliseconds(600));
        ShouldHaveFiredAt(time, 600);
        good.Received.Should().BeEmpty("the model's timeout ends the model: no further provider");
    }

    [Theory]
    [InlineData(false, "timeouts = { non_streaming.total_ms = 500 }")]
    [InlineData(true, "timeouts = { streaming.ttft_ms = 500 }")]
    public async Task VariantTimeout_MovesToTheNextVariant(bool stream, string timeouts)
    {
        await using var hang = await FakeProvider.StartAsync(FailingResponses.For(FailureMode.HangBeforeHeaders));
        await using var good = await FakeProvider.StartAsync(FakeResponses.Default("second variant"));
        var toml = "[models.slow]\nrouting = [\"hang\"]\n" + ProviderToml("slow", "hang", hang.BaseUrl)
            + "\n[models.fast]\nrouting = [\"good\"]\n" + ProviderToml("fast", "good", good.BaseUrl) + $"""

            [functions.f]
            type = "chat"

            [functions.f.variants.a]
            type = "chat_completion"
            model = "slow"
            {timeouts}

            [functions.f.variants.b]
            type = "chat_completion"
            model = "fast"

            [functions.f.experimentation]
            type = "static_weights"
            candidate_variants = {"{"} a = 1.0 {"}"}
            fallback_variants = ["b"]
            """;
        var time = new WatchedFakeTimeProvider();
        await using var gateway = await TestGateway.StartWithClockAsync(toml, time);

        using var response = await SendThenAdvanceAsync(gateway, time, hang, "tensorzero::function_name::f", stream, 500);
        var (text, _) = await ReadAsync(response, stream).WaitAsync(HangGuard);
        var inference = await gateway.Inferences.NextAsync();

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        text.Should().Contain("second variant");
        response.Headers.GetValues("x-tensorzero-variant").Should().Equal("b");
        inference.Attempts[0].TimeoutLevel.Should().Be(TimeoutLevel.Variant);
        inference.Attempts[0].Elapsed.Should().Be(TimeSpan.FromMilliseconds(500));
        ShouldHaveFiredAt(time, 500);
    }

    [Fact]
    public async Task StreamStalledAfterCommit_EndsAtStreamingTotalWithSseErrorEvent()
    {
        await using var stall = await FakeProvider.StartAsync(FailingResponses.For(FailureMode.SlowSecondChunk));
        await using var good = await FakeProvider.StartAsync(FakeResponses.Default("never used"));
        var toml = "[models.m]\nrouting = [\"stall\", \"good\"]\n"
            + ProviderToml("m", "stall", stall.BaseUrl, "timeouts = { streaming.ttft_ms = 5000, streaming.total_ms = 800 }")
            + ProviderToml("m", "good", good.BaseUrl);
        var time = new WatchedFakeTimeProvider();
        await using var gateway = await TestGateway.StartWithClockAsync(toml, time);

        // The client has the headers once the gateway committed the stream, which starts the post-commit deadline.
        using var response = await Send(gateway, "m", stream: true).WaitAsync(HangGuard);
        time.Advance(TimeSpan.FromMilliseconds(800));
        var (text, events) = await ReadAsync(response, stream: true).WaitAsync(HangGuard);
        var inference = await gateway.Inferences.NextAsync();

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        text.Should().Be("bad provider body", "the first chunk was committed to the client before the stall");
        events[^1].Should().Contain("\"error\"").And.Contain("stream_timeout");
        inference.Outcome.Should().Be(InferenceOutcome.Truncated);
        var attempt = inference.Attempts.Should().ContainSingle().Subject;
        attempt.Outcome.Should().Be(AttemptOutcome.Truncated);
        attempt.Elapsed.Should().Be(TimeSpan.FromMilliseconds(800));
        ShouldHaveFiredAt(time, 800);
        good.Received.Should().BeEmpty("nothing is retried after commit");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ClientDisconnect_CausesNoSecondAttempt(bool stream)
    {
        var received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var hang = await FakeProvider.StartAsync(async (context, _) =>
        {
            received.TrySetResult();
            await FailingResponses.HangAsync(context);
        });
        await using var good = await FakeProvider.StartAsync(FakeResponses.Default("never"));
        var toml = "[models.m]\nrouting = [\"hang\", \"good\"]\n" + ProviderToml("m", "hang", hang.BaseUrl) + ProviderToml("m", "good", good.BaseUrl);
        await using var gateway = await TestGateway.StartAsync(toml);

        using var cts = new CancellationTokenSource();
        var request = gateway.Client.PostAsync("/v1/chat/completions", Body("m", stream), cts.Token);
        await received.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await cts.CancelAsync();
        await FluentActions.Awaiting(() => request).Should().ThrowAsync<OperationCanceledException>();
        var inference = await gateway.Inferences.NextAsync();

        inference.Outcome.Should().Be(InferenceOutcome.ClientAbort);
        inference.Attempts.Should().ContainSingle().Which.Outcome.Should().Be(AttemptOutcome.ClientAbort);
        good.Received.Should().BeEmpty();
    }

    [Fact]
    public async Task Retries_BackOffAndStopAtTheVariantTimeout()
    {
        await using var failing = await FakeProvider.StartAsync(FailingResponses.For(FailureMode.Status500));
        var toml = TestConfigs.SingleProviderModel("m", "p", failing.BaseUrl) + TestConfigs.SingleVariantFunction("f", "m",
            "retries = { num_retries = 50, max_delay_s = 0.2 }\ntimeouts = { non_streaming.total_ms = 1200 }");
        await using var gateway = await TestGateway.StartAsync(toml);

        var watch = Stopwatch.StartNew();
        using var response = await gateway.Client.PostAsync("/v1/chat/completions", Body("f", stream: false));
        watch.Stop();

        response.StatusCode.Should().Be(HttpStatusCode.BadGateway, "the only variant failed");
        var attempts = failing.Received.Count;
        // How many runs fit in 1.2 s depends on the machine (the backoff itself is pinned on a fake clock in
        // ResilienceTests); all 51 would take about 10 s.
        attempts.Should().BeLessThan(51, "the variant timeout stops retries");
        watch.Elapsed.Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(1200) - Early, "the variant timeout ends the retries, never earlier");
    }

    [Fact]
    public async Task Retries_RunTheRoutingListAgain_UpToNumRetries()
    {
        await using var failing = await FakeProvider.StartAsync(FailingResponses.For(FailureMode.Status500));
        var toml = TestConfigs.SingleProviderModel("m", "p", failing.BaseUrl)
            + TestConfigs.SingleVariantFunction("f", "m", "retries = { num_retries = 2, max_delay_s = 0.05 }");
        await using var gateway = await TestGateway.StartAsync(toml);

        using var response = await gateway.Client.PostAsync("/v1/chat/completions", Body("f", stream: false));

        response.StatusCode.Should().Be(HttpStatusCode.BadGateway);
        failing.Received.Should().HaveCount(3);
    }

    [Fact]
    public async Task RateLimitedProvider_IsNotRetriedInLaterRounds()
    {
        await using var limited = await FakeProvider.StartAsync(FailingResponses.For(FailureMode.Status429WithRetryAfter));
        await using var failing = await FakeProvider.StartAsync(FailingResponses.For(FailureMode.Status500));
        var toml = "[models.m]\nrouting = [\"limited\", \"failing\"]\n" + ProviderToml("m", "limited", limited.BaseUrl) + ProviderToml("m", "failing", failing.BaseUrl)
            + TestConfigs.SingleVariantFunction("f", "m", "retries = { num_retries = 2, max_delay_s = 0.05 }");
        await using var gateway = await TestGateway.StartAsync(toml);

        using var response = await gateway.Client.PostAsync("/v1/chat/completions", Body("f", stream: false));

        response.StatusCode.Should().Be(HttpStatusCode.BadGateway);
        limited.Received.Should().ContainSingle();
        failing.Received.Should().HaveCount(3);
    }

    [Fact]
    public async Task OpenCircuit_SkipsDeadProviderWithoutConnecting_LastCandidateStillTried()
    {
        await using var good = await FakeProvider.StartAsync(FakeResponses.Default("ok"));
        var toml = "[models.m]\nrouting = [\"dead\", \"good\"]\n" + ProviderToml("m", "dead", "http://127.0.0.1:1") + ProviderToml("m", "good", good.BaseUrl)
            + "\n[models.only_dead]\nrouting = [\"dead\"]\n" + ProviderToml("only_dead", "dead", "http://127.0.0.1:1");
        await using var gateway = await TestGateway.StartAsync(toml, extraArgs:
        [
            "--TensorZero:CircuitBreaker:MinimumThroughput=2", "--TensorZero:CircuitBreaker:FailureRatio=0.5",
            "--TensorZero:CircuitBreaker:BreakDuration=00:05:00",
        ]);

        for (var i = 0; i < 2; i++)
        {
            using var warm = await gateway.Client.PostAsync("/v1/chat/completions", Body("m", stream: false));
            warm.StatusCode.Should().Be(HttpStatusCode.OK);
        }
        using var response = await gateway.Client.PostAsync("/v1/chat/completions", Body("m", stream: false));
        using var onlyDead = await gateway.Client.PostAsync("/v1/chat/completions", Body("only_dead", stream: false));
        var inferences = gateway.Inferences.All;

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Headers.GetValues("x-tensorzero-attempts").Should().Equal("1");
        inferences[2].Attempts.Select(a => a.Outcome).Should().Equal(AttemptOutcome.CircuitOpen, AttemptOutcome.Ok);
        onlyDead.StatusCode.Should().Be(HttpStatusCode.InternalServerError);
        inferences[3].Attempts.Should().ContainSingle().Which.Outcome.Should().Be(AttemptOutcome.ConnectError, "the last candidate is always tried");
    }
}
