using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Feedback;
using TensorZero.Proxy.Observability;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Feedback;

public sealed class FeedbackTargetsTests
{
    private readonly WatchedFakeTimeProvider _time = new();
    private readonly RecentInferences _recent = new(16);

    private Guid NewId(TimeSpan age = default) => UuidV7.Create(_time.GetUtcNow() - age);

    private FeedbackTargets Targets(IFeedbackTargetStore? store = null, TimeSpan? window = null) =>
        new(_recent, store, window ?? TimeSpan.FromSeconds(6), _time);

    private void Remember(Guid id, Guid episode, string function = "f", bool hadTools = false, string? schema = null) =>
        _recent.Add([(id, new RecordedInference(episode, function, hadTools, schema))]);

    [Fact]
    public async Task FindInferenceAsync_InIndex_FoundWithoutWaiting()
    {
        var id = NewId();
        Remember(id, id, "extract", schema: "{}");

        var (inference, error) = await Targets().FindInferenceAsync(id, needToolParams: true, CancellationToken.None);

        error.Should().BeNull();
        inference.Should().Be(new KnownInference("extract", false, null, "{}"));
    }

    [Fact]
    public async Task FindInferenceAsync_IndexKnowsToolsStoreHasThem_ToolParamsFromStore()
    {
        var id = NewId();
        Remember(id, id, hadTools: true);
        var store = new FakeStore { Inferences = { [id] = new KnownInference("f", true, """{"tools":[]}""", null) } };

        var (inference, _) = await Targets(store).FindInferenceAsync(id, needToolParams: true, CancellationToken.None);

        inference!.ToolParams.Should().Be("""{"tools":[]}""");
    }

    [Fact]
    public async Task CheckEpisodeAsync_EpisodeOfARememberedInference_Found()
    {
        var episode = NewId();
        var inference = NewId();
        Remember(inference, episode);

        (await Targets().CheckEpisodeAsync(episode, CancellationToken.None)).Should().BeNull();
        (await Targets(window: TimeSpan.Zero).CheckEpisodeAsync(inference, CancellationToken.None)).Should().Be(
            FeedbackError.Invalid($"Episode ID: {inference} does not exist"), "an inference id is not an episode unless it started its own");
    }

    [Fact]
    public async Task CheckAsync_OldUnknownTargetNoStore_DoesNotExistAfterTheMinimumWait()
    {
        var id = NewId(age: TimeSpan.FromMinutes(5));

        var start = _time.GetUtcNow();
        var check = Targets().CheckAsync(MetricLevel.Inference, id, CancellationToken.None);
        check.IsCompleted.Should().BeFalse("TensorZero waits at least a second before it says a target does not exist");

        (await AdvanceUntilDone(check)).Should().Be(FeedbackError.Invalid($"Inference ID: {id} does not exist"));
        (_time.GetUtcNow() - start).Should().Be(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task CheckAsync_TargetWrittenWhileWaiting_Found()
    {
        var id = NewId();
        var check = Targets().CheckAsync(MetricLevel.Inference, id, CancellationToken.None);

        Remember(id, id);
        _time.Advance(TimeSpan.FromMilliseconds(250));

        (await check.WaitAsync(TimeSpan.FromSeconds(10))).Should().BeNull();
    }

    [Fact]
    public async Task CheckAsync_ZeroWindow_AnswersAtOnce()
    {
        var id = NewId();

        var error = await Targets(window: TimeSpan.Zero).CheckAsync(MetricLevel.Episode, id, CancellationToken.None);

        error.Should().Be(FeedbackError.Invalid($"Episode ID: {id} does not exist"));
    }

    [Fact]
    public async Task CheckAsync_StoreKnowsTarget_Found()
    {
        var inference = NewId(TimeSpan.FromDays(3));
        var episode = NewId(TimeSpan.FromDays(3));
        var store = new FakeStore { Inferences = { [inference] = new KnownInference("f", false, null, null) }, Episodes = { episode } };

        (await Targets(store, TimeSpan.Zero).CheckAsync(MetricLevel.Inference, inference, CancellationToken.None)).Should().BeNull();
        (await Targets(store, TimeSpan.Zero).CheckAsync(MetricLevel.Episode, episode, CancellationToken.None)).Should().BeNull();
        store.Queries.Should().Be(2);
    }

    [Fact]
    public async Task CheckAsync_StoreFails_503SayingWhy()
    {
        var id = NewId();
        var store = new FakeStore { Failure = "ClickHouse at http://ch:8123/db could not be asked (Unreachable: refused)" };

        var error = await Targets(store).CheckAsync(MetricLevel.Inference, id, CancellationToken.None);

        error.Should().Be(new FeedbackError(503, $"Cannot check that inference {id} exists: {store.Failure}"));
    }

    [Theory]
    [InlineData("0196a0b4-55a5-4c30-9a26-0e5d1e6b4c11")]
    [InlineData("00000000-0000-0000-0000-000000000000")]
    public async Task CheckAsync_NotAVersion7Id_TensorZeroMessage(string id)
    {
        var error = await Targets().CheckAsync(MetricLevel.Inference, Guid.Parse(id), CancellationToken.None);

        error.Should().Be(FeedbackError.Invalid($"Failed to parse UUID as v7: {id}"));
    }

    [Fact]
    public void TimeOf_Version7Id_ItsMillisecond()
    {
        var at = new DateTimeOffset(2026, 3, 4, 5, 6, 7, 890, TimeSpan.Zero);

        FeedbackTargets.TimeOf(UuidV7.Create(at)).Should().Be(at);
        FeedbackTargets.TimeOf(Guid.Parse("ffffffff-ffff-7fff-bfff-ffffffffffff")).Should().Be(DateTimeOffset.MaxValue);
    }

    /// <summary>Advances the clock whenever the lookup waits on it, until it is done (a real-time guard against a hang).</summary>
    private async Task<T> AdvanceUntilDone<T>(Task<T> task)
    {
        var guard = System.Diagnostics.Stopwatch.StartNew();
        while (!task.IsCompleted && guard.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (_time.PendingTimers > 0)
            {
                _time.Advance(TimeSpan.FromMilliseconds(50));
            }
            else
            {
                await Task.Yield();
            }
        }
        return await task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private sealed class FakeStore : IFeedbackTargetStore
    {
        public Dictionary<Guid, KnownInference> Inferences { get; } = [];

        public HashSet<Guid> Episodes { get; } = [];

        public string? Failure { get; init; }

        public int Queries { get; private set; }

        public Task<KnownInference?> FindInferenceAsync(Guid id, CancellationToken cancellationToken)
        {
            Queries++;
            return Failure is not null ? throw new FeedbackLookupException(Failure) : Task.FromResult(Inferences.GetValueOrDefault(id));
        }

        public Task<bool> EpisodeExistsAsync(Guid episodeId, CancellationToken cancellationToken)
        {
            Queries++;
            return Failure is not null ? throw new FeedbackLookupException(Failure) : Task.FromResult(Episodes.Contains(episodeId));
        }
    }
}
