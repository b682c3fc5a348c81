using System.Reflection;
using TensorZero.Proxy.Tests.TestSupport;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Tests.Hosting;

/// <summary>docs/plugin.md lists the plugin's whole public API: a public type or member added without docs fails here.</summary>
public sealed class PublicApiDocsTests
{
    [Fact]
    public void PluginAssembly_EveryPublicTypeAndMember_IsNamedInPluginDocs()
    {
        var docs = File.ReadAllText(Path.Combine(RepoPaths.Root, "docs", "plugin.md"));
        var exported = typeof(TensorZeroOptions).Assembly.GetExportedTypes();

        exported.Should().NotBeEmpty();
        foreach (var type in exported)
        {
            docs.Should().Contain(type.Name, $"{type.FullName} is public");
            foreach (var member in type.GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
                .Where(m => m is not MethodInfo { IsSpecialName: true } and not ConstructorInfo && m.DeclaringType == type)
                .Where(m => m.Name is not ("Equals" or "GetHashCode" or "ToString")))
            {
                docs.Should().Contain(member.Name, $"{type.Name}.{member.Name} is public");
            }
        }
    }

    [Fact]
    public void PluginAssembly_PublicSurface_IsOnlyTheDocumentedEntryPoints()
    {
        typeof(TensorZeroOptions).Assembly.GetExportedTypes().Select(t => t.FullName).Should().BeEquivalentTo(
            "Microsoft.Extensions.DependencyInjection.TensorZeroReverseProxyBuilderExtensions",
            "Microsoft.AspNetCore.Builder.TensorZeroApplicationBuilderExtensions",
            "TensorZero.Proxy.TensorZeroOptions",
            "TensorZero.Proxy.TensorZeroRoutes",
            "TensorZero.Proxy.TensorZeroGateway",
            "TensorZero.Proxy.TensorZeroConfigFile",
            "TensorZero.Proxy.TensorZeroStartupException",
            "TensorZero.Proxy.TensorZeroApiKeys",
            "TensorZero.Proxy.Configuration.ConfigException");
        typeof(ProviderHttpTransformer).Assembly.GetName().Name.Should().Be("TensorZero.Proxy.Transforms");
    }
}
