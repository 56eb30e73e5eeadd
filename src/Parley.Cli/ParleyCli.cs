using System.CommandLine;
using System.CommandLine.Invocation;
using Parley.Cli.Commands;

namespace Parley.Cli;

/// <summary>The <c>parley</c> command line: builds the command tree and runs it with Parley's exit codes.</summary>
public static class ParleyCli
{
    public static RootCommand Build()
    {
        var global = new GlobalOptions();
        var root = new RootCommand($"Parley: run and operate a local messaging backend.{Environment.NewLine}{Environment.NewLine}{ExitCodes.Table}")
        {
            global.Root,
            global.Json,
            UpCommand.Create(global),
            DownCommand.Create(global),
            StatusCommand.Create(global),
            ResetCommand.Create(global),
            ArchiveCommands.Backup(global),
            ArchiveCommands.Restore(global),
            MigrateCommand.Create(global),
            DoctorCommand.Create(global),
            FailoverCommand.Create(global),
            PitrCommand.Create(global),
            ServeCommand.Create(global),
            ConfigCommand.Create(global),
            BaselineCommand.Create(global),
            ChaosCommand.Create(global),
            LoadCommand.Create(global),
            NightlyCommand.Create(global),
            DlqCommand.Create(global),
            FlagsCommand.Create(global),
            AdminCommand.Create(global),
            ObserverCommand.Create(global),
            CanaryCommand.Create(global),
        };
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/>; usage errors print what is wrong and return <see cref="ExitCodes.Usage"/>.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter? output = null, TextWriter? error = null)
    {
        var result = Build().Parse(args);
        var invocation = new InvocationConfiguration
        {
            Output = output ?? Console.Out,
            Error = error ?? Console.Error,
            // Commands that run until Ctrl-C handle the signals themselves (ShutdownSignal) and stop in order.
            ProcessTerminationTimeout = null,
        };
        if (result.Action is ParseErrorAction)
        {
            foreach (var parseError in result.Errors)
                await invocation.Error.WriteLineAsync($"parley: {parseError.Message}");
            await invocation.Error.WriteLineAsync("Run `parley --help` (or `parley <command> --help`) for usage.");
            return ExitCodes.Usage;
        }
        return await result.InvokeAsync(invocation);
    }
}
