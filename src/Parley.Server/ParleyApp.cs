using Parley.Server.Extensions;

namespace Parley.Server;

/// <summary>Builds the Parley server; used by <c>Program</c>, <c>parley serve|up</c> and the tests.</summary>
public static class ParleyApp
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        builder.AddParley();
        configure?.Invoke(builder);
        var app = builder.Build();
        app.UseParley();
        return app;
    }
}
