var builder = WebApplication.CreateBuilder(args);
var app = builder.Build();
app.Run();

/// <summary>Entry point, visible to the functional tests.</summary>
public partial class Program;
