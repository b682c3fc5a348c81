namespace TensorZero.Proxy.Observability;

/// <summary>What the recent-inference index knows of one recorded inference.</summary>
/// <param name="EpisodeId">The inference's episode.</param>
/// <param name="FunctionName">The function called (<c>tensorzero::default</c> for a model target).</param>
/// <param name="HadTools">Whether the request offered tools.</param>
/// <param name="OutputSchema">For a JSON function's inference, the output schema it used (JSON text); else null.</param>
internal readonly record struct RecordedInference(Guid EpisodeId, string FunctionName, bool HadTools, string? OutputSchema);

/// <summary>
/// The most recent inferences the observability writer put in the queue files, by id, and their episodes: what
/// <c>POST /feedback</c> checks a target against before it asks ClickHouse (TensorZero checks its database). Bounded:
/// past <c>capacity</c> inferences the oldest is forgotten (and its episode, once no remembered inference has it).
/// Filled by the group commit's one writer, once per written batch, under one lock; read by feedback requests under
/// the same lock. Nothing allocates per inference once the tables have grown: the ring is fixed, and an inference
/// that started its own episode (the episode id is the inference id, the common case) adds no episode entry.
/// </summary>
internal sealed class RecentInferences
{
    private readonly object _lock = new();
    private readonly Guid[] _ring;
    private readonly Dictionary<Guid, RecordedInference> _inferences = [];
    // Episodes named by the client (not the inference's own id): how many remembered inferences have each.
    private readonly Dictionary<Guid, int> _episodes = [];
    private int _next;
    private int _count;

    /// <param name="capacity">Inferences remembered, at least 1.</param>
    public RecentInferences(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _ring = new Guid[capacity];
    }

    public int Capacity => _ring.Length;

    /// <summary>Inferences remembered now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>Remembers written inferences, oldest first; an id already known is updated in place.</summary>
    public void Add(ReadOnlySpan<(Guid Id, RecordedInference Inference)> written)
    {
        if (written.IsEmpty)
        {
            return;
        }
        lock (_lock)
        {
            foreach (var (id, inference) in written)
            {
                if (_inferences.TryGetValue(id, out var known))
                {
                    // Written again (a retried record): keep its one ring slot.
                    Release(id, known);
                    _inferences[id] = inference;
                    Retain(id, inference);
                    continue;
                }
                if (_count == _ring.Length)
                {
                    var oldest = _ring[_next];
                    if (_inferences.Remove(oldest, out var evicted))
                    {
                        Release(oldest, evicted);
                    }
                }
                else
                {
                    _count++;
                }
                _ring[_next] = id;
                _next = (_next + 1) % _ring.Length;
                _inferences[id] = inference;
                Retain(id, inference);
            }
        }
    }

    /// <summary>The remembered inference with this id.</summary>
    public bool TryGetInference(Guid id, out RecordedInference inference)
    {
        lock (_lock)
        {
            return _inferences.TryGetValue(id, out inference);
        }
    }

    /// <summary>Whether a remembered inference belongs to this episode.</summary>
    public bool ContainsEpisode(Guid episodeId)
    {
        lock (_lock)
        {
            return _episodes.ContainsKey(episodeId)
                || (_inferences.TryGetValue(episodeId, out var own) && own.EpisodeId == episodeId);
        }
    }

    private void Retain(Guid id, RecordedInference inference)
    {
        if (inference.EpisodeId != id)
        {
            _episodes[inference.EpisodeId] = _episodes.GetValueOrDefault(inference.EpisodeId) + 1;
        }
    }

    private void Release(Guid id, RecordedInference inference)
    {
        if (inference.EpisodeId != id && _episodes.TryGetValue(inference.EpisodeId, out var count))
        {
            if (count <= 1)
            {
                _episodes.Remove(inference.EpisodeId);
            }
            else
            {
                _episodes[inference.EpisodeId] = count - 1;
            }
        }
    }
}
