using TensorZero.Proxy;
using TensorZero.Proxy.Configuration;

if (args.Contains("--check-config"))
{
    return GatewayHost.CheckConfig(args, Console.Out, Console.Error);
}

GatewayHost.PreferInlineIoCompletions();

WebApplication app;
try
{
    app = GatewayHost.CreateApp(args);
}
catch (ConfigException ex)
{
    // A configuration problem is the operator's to fix: say what, without a stack trace.
    Console.Error.WriteLine(ex.Message);
    return 1;
}

app.Run();
return 0;

/// <summary>Entry point, visible to the functional tests.</summary>
public partial class Program;
