using System.Collections.Immutable;
using System.IO.Enumeration;
using System.Text;
using System.Text.RegularExpressions;
using TensorZero.Proxy.Configuration.Toml;

namespace TensorZero.Proxy.Configuration;

/// <summary>
/// The files a configuration is read from. Like TensorZero, <c>--config-file</c> may be a glob (<c>*</c> within a
/// path segment, <c>**</c> across segments, <c>?</c>, <c>[abc]</c>, <c>{a,b}</c>): every matching file is parsed and
/// the documents are merged into one tree. Tables merge key by key; a value (or a table against a value) defined in
/// two files is an error naming both.
/// </summary>
internal static class ConfigFiles
{
    /// <summary>Whether <paramref name="path"/> contains glob syntax (otherwise it names one file).</summary>
    public static bool IsGlob(string path) => path.AsSpan().IndexOfAny("*?[{") >= 0;

    /// <summary>Reads, parses and merges the file or every file a glob matches.</summary>
    /// <param name="pathOrGlob">A file, or a glob of files.</param>
    /// <param name="inputs">Records each file as read (and the glob's matches), also when loading fails.</param>
    /// <exception cref="ConfigException">No file matches, a file cannot be read or is not TOML, or two files define the same key.</exception>
    public static (TomlTable Root, ConfigSources Sources) Load(string pathOrGlob, ConfigInputs? inputs = null)
    {
        IReadOnlyList<string> files;
        if (IsGlob(pathOrGlob))
        {
            inputs?.SetGlob(pathOrGlob, []);
            files = Expand(pathOrGlob);
            inputs?.SetGlob(pathOrGlob, files);
        }
        else
        {
            files = [Path.GetFullPath(pathOrGlob)];
        }
        var errors = new List<string>();
        var documents = new List<(string File, TomlTable Root)>(files.Count);
        foreach (var file in files)
        {
            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(file);
                inputs?.AddFile(file, bytes);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                inputs?.AddMissingFile(file);
                errors.Add($"{file}: cannot read the configuration file: {ex.Message}");
                continue;
            }
            try
            {
                documents.Add((file, TomlParser.Parse(bytes)));
            }
            catch (TomlParseException ex)
            {
                errors.Add($"{file}:{ex.Message}");
            }
        }
        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }
        var merged = Merge(documents);
        merged.Sources.Inputs = inputs;
        return merged;
    }

    /// <summary>Merges parsed documents (in order) into the first one, recording which file declared each key.</summary>
    /// <exception cref="ConfigException">Two documents define the same value, or a table in one is a value in another.</exception>
    internal static (TomlTable Root, ConfigSources Sources) Merge(IReadOnlyList<(string File, TomlTable Root)> documents)
    {
        var sources = new ConfigSources([.. documents.Select(d => d.File)]);
        foreach (var (file, root) in documents)
        {
            sources.AddDocument(root, file);
        }
        if (documents.Count == 0)
        {
            return (new TomlTable(TomlTableKind.Root), sources);
        }
        var errors = new List<string>();
        var target = documents[0].Root;
        for (var i = 1; i < documents.Count; i++)
        {
            MergeInto(target, documents[i].Root, "", sources, errors);
        }
        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }
        return (target, sources);
    }

    private static void MergeInto(TomlTable target, TomlTable source, string path, ConfigSources sources, List<string> errors)
    {
        foreach (var (key, value) in source)
        {
            var keyPath = path.Length == 0 ? key : $"{path}.{key}";
            source.TryGetPosition(key, out var line, out var column);
            if (!target.TryGetValue(key, out var existing))
            {
                target.Add(key, value, line, column);
                sources.SetKeyFile(target, key, sources.FileOf(source, key));
                continue;
            }
            if (existing is TomlTable existingTable && value is TomlTable sourceTable)
            {
                MergeInto(existingTable, sourceTable, keyPath, sources, errors);
                continue;
            }
            target.TryGetPosition(key, out var firstLine, out _);
            var first = $"{sources.Display(sources.FileOf(target, key))} (line {firstLine})";
            var second = $"{sources.Display(sources.FileOf(source, key))} (line {line})";
            errors.Add(existing is TomlTable || value is TomlTable
                ? $"{keyPath}: is a table in {(existing is TomlTable ? first : second)} but a value in {(existing is TomlTable ? second : first)}; the files of a glob cannot both define it"
                : $"{keyPath}: is defined in both {first} and {second}; each key may be defined in only one file of a glob");
        }
    }

    /// <summary>Every file the glob matches, as absolute paths sorted ordinally (TensorZero's order).</summary>
    /// <exception cref="ConfigException">The glob is malformed or matches no file.</exception>
    public static IReadOnlyList<string> Expand(string glob)
    {
        var pattern = Path.GetFullPath(glob).Replace('\\', '/');
        var root = LiteralPrefix(pattern);
        Regex regex;
        try
        {
            regex = new Regex("^" + GlobToRegex(pattern) + "$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException ex)
        {
            throw new ConfigException($"{glob}: not a valid glob pattern: {ex.Message}");
        }

        var matches = new List<string>();
        if (Directory.Exists(root))
        {
            // Without "**" a match lies a fixed number of directories below the root: search no deeper. Symbolic
            // links to directories are not followed (they could loop).
            var recursive = pattern.Contains("**", StringComparison.Ordinal);
            var maxDepth = pattern.Count(c => c == '/') - 1;
            var files = new FileSystemEnumerable<string>(root, (ref entry) => entry.ToFullPath(),
                new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = 0 })
            {
                ShouldIncludePredicate = (ref entry) => !entry.IsDirectory,
                ShouldRecursePredicate = (ref entry) => (entry.Attributes & FileAttributes.ReparsePoint) == 0
                    && (recursive || entry.ToFullPath().Replace('\\', '/').Count(c => c == '/') <= maxDepth),
            };
            foreach (var file in files)
            {
                if (regex.IsMatch(file.Replace('\\', '/')))
                {
                    matches.Add(file);
                }
            }
        }
        if (matches.Count == 0)
        {
            throw new ConfigException($"{glob}: no file matches the configuration glob (searched under {root})");
        }
        matches.Sort(StringComparer.Ordinal);
        return matches;
    }

    /// <summary>The directory before the first path segment with glob syntax: where the search starts.</summary>
    internal static string LiteralPrefix(string pattern)
    {
        var segments = pattern.Split('/');
        var literal = new List<string>();
        for (var i = 0; i < segments.Length - 1; i++)
        {
            if (IsGlob(segments[i]))
            {
                break;
            }
            literal.Add(segments[i]);
        }
        var prefix = string.Join('/', literal);
        return prefix.Length == 0 ? "/" : prefix;
    }

    /// <summary>Translates a glob to a regular expression over '/'-separated paths.</summary>
    internal static string GlobToRegex(string glob)
    {
        var builder = new StringBuilder(glob.Length * 2);
        var braces = 0;
        for (var i = 0; i < glob.Length; i++)
        {
            var c = glob[i];
            switch (c)
            {
                case '*' when i + 1 < glob.Length && glob[i + 1] == '*':
                    i++;
                    if (i + 1 < glob.Length && glob[i + 1] == '/')
                    {
                        i++;
                        builder.Append("(?:.*/)?"); // "**/": zero or more directories
                    }
                    else
                    {
                        builder.Append(".*");
                    }
                    break;
                case '*':
                    builder.Append("[^/]*");
                    break;
                case '?':
                    builder.Append("[^/]");
                    break;
                case '[':
                    var close = glob.IndexOf(']', i + 2);
                    if (close < 0)
                    {
                        builder.Append(@"\[");
                        break;
                    }
                    var set = glob[(i + 1)..close];
                    builder.Append('[');
                    if (set[0] == '!')
                    {
                        builder.Append('^');
                        set = set[1..];
                    }
                    builder.Append(set.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("[", @"\[", StringComparison.Ordinal)).Append(']');
                    i = close;
                    break;
                case '{':
                    braces++;
                    builder.Append("(?:");
                    break;
                case '}' when braces > 0:
                    braces--;
                    builder.Append(')');
                    break;
                case ',' when braces > 0:
                    builder.Append('|');
                    break;
                default:
                    builder.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }
        if (braces > 0)
        {
            throw new ArgumentException("unclosed '{'");
        }
        return builder.ToString();
    }
}

/// <summary>
/// Which file declared each key of a (possibly merged) configuration tree: relative paths in it resolve against
/// that file's directory, and messages name the file when there are several.
/// </summary>
internal sealed class ConfigSources
{
    private readonly Dictionary<TomlTable, string> _tableFiles = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<(TomlTable Table, string Key), string> _keyFiles = [];
    private readonly string? _displayRoot;

    public ConfigSources(ImmutableArray<string> files)
    {
        Files = files;
        if (files.Length > 1)
        {
            _displayRoot = files.Select(f => Path.GetDirectoryName(f) ?? "").Aggregate(CommonDirectory);
        }
    }

    /// <summary>Configuration parsed from text, not files: relative paths resolve against the working directory.</summary>
    public static ConfigSources None { get; } = new([]);

    /// <summary>The files, in the order they were merged.</summary>
    public ImmutableArray<string> Files { get; }

    /// <summary>Where files the configuration names are recorded as they are read (for the reloader); null when not recorded.</summary>
    public ConfigInputs? Inputs { get; set; }

    /// <summary>Whether messages should say which file a key is in.</summary>
    public bool HasSeveralFiles => Files.Length > 1;

    /// <summary>Records that every table of <paramref name="root"/> (nested and in arrays) comes from <paramref name="file"/>.</summary>
    internal void AddDocument(TomlTable root, string file)
    {
        _tableFiles[root] = file;
        foreach (var value in root.Values)
        {
            AddValue(value, file);
        }
    }

    private void AddValue(object value, string file)
    {
        if (value is TomlTable table)
        {
            AddDocument(table, file);
        }
        else if (value is TomlArray array)
        {
            foreach (var item in array)
            {
                AddValue(item, file);
            }
        }
    }

    internal void SetKeyFile(TomlTable table, string key, string? file)
    {
        if (file is not null)
        {
            _keyFiles[(table, key)] = file;
        }
    }

    /// <summary>The file that declared <paramref name="key"/> of <paramref name="table"/>; null for parsed text.</summary>
    public string? FileOf(TomlTable table, string key) =>
        _keyFiles.TryGetValue((table, key), out var file) ? file : _tableFiles.GetValueOrDefault(table);

    /// <summary>The directory relative paths written at <paramref name="key"/> resolve against.</summary>
    public string BaseDirectoryOf(TomlTable table, string key) =>
        FileOf(table, key) is { } file ? Path.GetDirectoryName(file) ?? Directory.GetCurrentDirectory() : Directory.GetCurrentDirectory();

    /// <summary>Resolves <paramref name="path"/> (written at <paramref name="key"/>) to an absolute path.</summary>
    public string Resolve(TomlTable table, string key, string path) => Path.GetFullPath(Path.Combine(BaseDirectoryOf(table, key), path));

    /// <summary>A file as messages show it: relative to the files' common directory when there are several.</summary>
    public string Display(string? file) => file is null ? "tensorzero.toml" : _displayRoot is null ? file : Path.GetRelativePath(_displayRoot, file);

    private static string CommonDirectory(string a, string b)
    {
        var left = a.Split(Path.DirectorySeparatorChar);
        var right = b.Split(Path.DirectorySeparatorChar);
        var shared = 0;
        while (shared < left.Length && shared < right.Length && left[shared] == right[shared])
        {
            shared++;
        }
        return string.Join(Path.DirectorySeparatorChar, left.Take(shared));
    }
}
