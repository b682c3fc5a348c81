using TensorZero.Proxy;
using TensorZero.Proxy.Gateway;

if (args.Contains("--check-config"))
{
    return GatewayHost.CheckConfig(args, Console.Out, Console.Error);
}

if (TensorZeroApiKeys.IsCommand(args))
{
    // --create-api-key, --disable-api-key, --list-api-keys: talk to TENSORZERO_VALKEY_URL and exit.
    return await TensorZeroApiKeys.RunCommandAsync(args, Console.Out, Console.Error);
}

GatewayHost.PreferInlineIoCompletions();

try
{
    var app = GatewayHost.CreateApp(args);
    app.Run();
    return 0;
}
catch (Exception ex) when (TensorZeroStartupException.Find(ex) is { } startup)
{
    // A problem the operator has to fix (an invalid tensorzero.toml, a data folder in use): say what, no stack trace.
    Console.Error.WriteLine(startup.Message);
    return 1;
}

/// <summary>Entry point, visible to the functional tests.</summary>
public partial class Program;
