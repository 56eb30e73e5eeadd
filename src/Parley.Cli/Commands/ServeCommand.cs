using System.CommandLine;
using Parley.Cli.Local;

namespace Parley.Cli.Commands;

/// <summary><c>parley serve</c>: the server alone, against configured databases; extra arguments go to the host's configuration.</summary>
public static class ServeCommand
{
    public static Command Create(GlobalOptions global)
    {
        var urls = new Option<string?>("--urls") { Description = "Addresses to listen on, e.g. http://127.0.0.1:8080 (separate several with ';')." };
        var command = new Command("serve",
            "Run the server against the configured databases (appsettings.json, Parley__* environment variables, "
            + "or extra arguments such as --Parley:Data:PrimaryConnectionString=...).")
        {
            urls,
        };
        // Everything parley does not know, e.g. --Parley:Auth:SigningKey=..., is host configuration.
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetHandler(global, async (result, cli, ct) =>
        {
            string[] args = [.. result.UnmatchedTokens, .. result.GetValue(urls) is { } u ? ["--urls", u] : Array.Empty<string>()];
            using var shutdown = new ShutdownSignal(ct);
            var app = await ServerHost.StartAsync(args, new Dictionary<string, string?>(), url: null, quiet: false, shutdown.Token);
            await cli.Err.WriteLineAsync($"Parley serving at {string.Join(" ", ServerHost.Urls(app))}  (Ctrl-C to stop)");
            await ServerHost.RunUntilShutdownAsync([app], shutdown.Token);
            return ExitCodes.Ok;
        });
        return command;
    }
}
