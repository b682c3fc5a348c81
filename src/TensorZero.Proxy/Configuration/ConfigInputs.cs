using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace TensorZero.Proxy.Configuration;

/// <summary>
/// Everything one load of the configuration read, as it was read: the TOML files (and, for a glob, which files it
/// matched), the files they name (templates, schemas, tools, credential files) and the directories templates may
/// include from. The reloader watches exactly these and reloads when one differs from what the load saw.
/// </summary>
/// <remarks>
/// A file is recorded with a hash of the bytes the loader parsed (or as missing); a directory with a hash of its
/// listing, taken before anything in it is read. So what is recorded is never newer than what the configuration was
/// built from: a change during a load at worst causes one more reload, never a missed one. Filled while loading, on
/// one thread; not changed once the load has returned.
/// </remarks>
internal sealed class ConfigInputs
{
    private readonly Dictionary<string, string?> _files = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _directories = new(StringComparer.Ordinal);
    private string? _glob;
    private Regex? _globRegex;
    private IReadOnlyList<string> _globMatches = [];

    /// <summary>No inputs (configuration parsed from text).</summary>
    public static ConfigInputs None { get; } = new();

    /// <summary>Every file read or looked for, absolute.</summary>
    public IEnumerable<string> Files => _files.Keys;

    /// <summary>Directories read from anywhere below (the template include directory), absolute.</summary>
    public IEnumerable<string> Directories => _directories.Keys;

    /// <summary>The absolute glob the configuration files were expanded from; null for a single file.</summary>
    public string? Glob => _glob;

    /// <summary>Records a file as read: its bytes, or null when it is missing or unreadable.</summary>
    internal void AddFile(string path, ReadOnlySpan<byte> bytes) => _files[path] = Hash(bytes);

    /// <summary>Records a file that could not be read (it is watched, so creating or fixing it reloads).</summary>
    internal void AddMissingFile(string path) => _files[path] = null;

    /// <summary>Records a file by reading it now, before its user reads it (credential files read at build).</summary>
    internal void AddFileNow(string path) => _files[path] = ReadHash(path);

    /// <summary>Records a directory read recursively, with its listing as it is now.</summary>
    internal void AddDirectory(string path) => _directories[path] = ListingHash(path);

    /// <summary>Records the glob and the files it matched (none when it matched nothing).</summary>
    internal void SetGlob(string glob, IReadOnlyList<string> matches)
    {
        _glob = Path.GetFullPath(glob).Replace('\\', '/');
        try
        {
            _globRegex = new Regex("^" + ConfigFiles.GlobToRegex(_glob) + "$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException)
        {
            // A malformed glob is the load's error; it is still watched by its directory.
            _globRegex = null;
        }
        _globMatches = [.. matches];
    }

    /// <summary>A copy with more files recorded (the runtime adds the credential files it reads).</summary>
    internal ConfigInputs With(Action<ConfigInputs> add)
    {
        var copy = new ConfigInputs { _glob = _glob, _globRegex = _globRegex, _globMatches = _globMatches };
        foreach (var (path, hash) in _files)
        {
            copy._files[path] = hash;
        }
        foreach (var (path, hash) in _directories)
        {
            copy._directories[path] = hash;
        }
        add(copy);
        return copy;
    }

    /// <summary>
    /// What differs on disk from what the load saw, e.g. "config/a.toml changed"; null when nothing does.
    /// </summary>
    public string? FindChange()
    {
        if (_glob is not null)
        {
            IReadOnlyList<string> now;
            try
            {
                now = ConfigFiles.Expand(_glob);
            }
            catch (ConfigException)
            {
                now = [];
            }
            if (!now.SequenceEqual(_globMatches, StringComparer.Ordinal))
            {
                return $"the files matching '{_glob}' changed";
            }
        }
        foreach (var (path, hash) in _files)
        {
            if (ReadHash(path) != hash)
            {
                return $"'{path}' changed";
            }
        }
        foreach (var (path, hash) in _directories)
        {
            if (ListingHash(path) != hash)
            {
                return $"a file under '{path}' changed";
            }
        }
        return null;
    }

    /// <summary>
    /// Whether a change notified at <paramref name="path"/> may concern the configuration: a recorded file or
    /// directory, a directory on the way to one (created or moved), a file under a recorded directory, a file the
    /// glob matches or a directory under its root, or a Kubernetes atomic-writer entry (<c>..data</c>), which swaps
    /// every file of a mounted ConfigMap or Secret at once.
    /// </summary>
    public bool IsRelevant(string path)
    {
        path = Path.TrimEndingDirectorySeparator(path);
        if (_files.ContainsKey(path) || _directories.ContainsKey(path) || Path.GetFileName(path).StartsWith("..", StringComparison.Ordinal))
        {
            return true;
        }
        var asDirectory = path + Path.DirectorySeparatorChar;
        foreach (var known in _files.Keys.Concat(_directories.Keys))
        {
            if (known.StartsWith(asDirectory, StringComparison.Ordinal))
            {
                return true;
            }
        }
        foreach (var directory in _directories.Keys)
        {
            if (path.StartsWith(directory + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                return true;
            }
        }
        if (_glob is not null)
        {
            var normalized = path.Replace('\\', '/');
            if (_globRegex?.IsMatch(normalized) == true)
            {
                return true;
            }
            var root = ConfigFiles.LiteralPrefix(_glob);
            return normalized.StartsWith(root + "/", StringComparison.Ordinal) && Directory.Exists(path);
        }
        return false;
    }

    /// <summary>
    /// The directories to watch: each file's directory, each recorded directory with its subdirectories, the glob's
    /// root (with subdirectories when the glob spans several levels). A directory that does not exist yet is watched
    /// through its nearest existing parent, so its creation is seen.
    /// </summary>
    public IReadOnlyDictionary<string, bool> WatchTargets()
    {
        var targets = new Dictionary<string, bool>(StringComparer.Ordinal);
        void Add(string directory, bool recursive)
        {
            while (!Directory.Exists(directory))
            {
                recursive = false;
                var parent = Path.GetDirectoryName(directory);
                if (parent is null || parent == directory)
                {
                    return;
                }
                directory = parent;
            }
            targets[directory] = recursive || targets.GetValueOrDefault(directory);
        }

        foreach (var file in _files.Keys)
        {
            if (Path.GetDirectoryName(file) is { } directory)
            {
                Add(directory, recursive: false);
            }
        }
        foreach (var directory in _directories.Keys)
        {
            Add(directory, recursive: true);
        }
        if (_glob is not null)
        {
            var root = ConfigFiles.LiteralPrefix(_glob);
            var rest = _glob[root.Length..].TrimStart('/');
            Add(root, recursive: rest.Contains('/'));
        }
        return targets;
    }

    private static string? ReadHash(string path)
    {
        try
        {
            return Hash(File.ReadAllBytes(path));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string Hash(ReadOnlySpan<byte> bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    /// <summary>Every file below the directory with its size and modification time (its content is not read).</summary>
    private static string ListingHash(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return "missing";
        }
        var listing = new StringBuilder();
        try
        {
            var files = new DirectoryInfo(directory).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true })
                .OrderBy(f => f.FullName, StringComparer.Ordinal);
            foreach (var file in files)
            {
                listing.Append(file.FullName).Append('\0').Append(file.Length).Append('\0').Append(file.LastWriteTimeUtc.Ticks).Append('\n');
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            listing.Append("unreadable");
        }
        return Hash(Encoding.UTF8.GetBytes(listing.ToString()));
    }
}
