namespace TensorZero.Proxy.Tests.Configuration.Toml;

/// <summary>
/// Locates the toml-test suite's TOML 1.0.0 cases, kept in the repository at <c>tests/toml-test</c> (the repository root
/// is the folder holding TensorZero.sln) so a clean clone tests with nothing beside it, and reads their list. A missing
/// suite fails loudly.
/// </summary>
internal static class TomlTestSuite
{
    private static readonly Lazy<string> Folder = new(FindFolder);

    public static IReadOnlyList<string> ListCases()
    {
        var listPath = Path.Combine(Folder.Value, "files-toml-1.0.0");
        if (!File.Exists(listPath))
        {
            throw new InvalidOperationException($"The toml-test case list {listPath} is missing.");
        }

        return File.ReadAllLines(listPath)
            .Select(line => line.Trim())
            .Where(line => line.EndsWith(".toml", StringComparison.Ordinal)
                && (line.StartsWith("valid/", StringComparison.Ordinal)
                    || line.StartsWith("invalid/", StringComparison.Ordinal)))
            .ToList();
    }

    public static string FullPath(string relativePath) => Path.Combine(Folder.Value, relativePath);

    private static string FindFolder()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "TensorZero.sln")))
        {
            directory = directory.Parent;
        }

        if (directory is null)
        {
            throw new InvalidOperationException(
                $"No folder above {AppContext.BaseDirectory} contains TensorZero.sln, so the toml-test suite cannot be found.");
        }

        var folder = Path.GetFullPath(Path.Combine(directory.FullName, "tests", "toml-test"));
        if (!Directory.Exists(folder))
        {
            throw new InvalidOperationException(
                $"The toml-test suite is missing: expected it at {folder} (tests/toml-test from the repository root).");
        }

        return folder;
    }
}
