namespace TensorZero.Proxy.Tests.TestSupport;

/// <summary>Locations in the repository, found from the test assembly's folder.</summary>
internal static class RepoPaths
{
    private static readonly Lazy<string> LazyRoot = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TensorZero.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("TensorZero.sln not found above " + AppContext.BaseDirectory);
    });

    public static string Root => LazyRoot.Value;

    public static string Config(string file) => Path.Combine(Root, "config", file);
}
