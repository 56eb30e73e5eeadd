using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Parley.Cli.Configuration;
using Parley.Cli.Local;
using Parley.Observer.Actions;
using Parley.Observer.Hosting;
using Parley.Observer.Rules;

namespace Parley.Cli.Commands;

/// <summary><c>parley observer ...</c>: the event observer (OBSERVER.md): check a rules file, run a process, inspect it (<see cref="ObserverInspectCommands"/>).</summary>
public static class ObserverCommand
{
    public static Command Create(GlobalOptions global)
    {
        var command = new Command("observer", "The event observer: database changes → rules → webhooks, email, Slack, search (OBSERVER.md).")
        {
            Config(global),
            Run(global),
        };
        foreach (var inspect in ObserverInspectCommands.Create(global)) command.Add(inspect);
        return command;
    }

    private static Command Run(GlobalOptions global)
    {
        var rules = new Option<string>("--rules") { Description = "The rules file (YAML).", Required = true };
        var strict = new Option<bool>("--strict") { Description = "Refuse to start when the rules file has unknown keys." };
        var urls = new Option<string?>("--urls") { Description = "Where /metrics and /health listen. Default: http://127.0.0.1:0 (a free port, printed at start)." };
        var command = new Command("run",
            "Run one observer process against the configured databases (appsettings.json, Parley__* environment variables, or extra "
            + "arguments such as --Parley:Data:PrimaryConnectionString=...). Any number may run: one leads, the others stand by. "
            + "An invalid rules file is refused with the report of `observer config check` (exit 2).")
        {
            rules, strict, urls,
        };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetHandler(global, async (result, cli, ct) =>
        {
            var path = result.GetValue(rules)!;
            var loaded = RulesFile.Load(path, result.GetValue(strict));
            if (!loaded.IsValid)
            {
                await ReportAsync(cli, path, loaded, alwaysSummarise: false);
                return ExitCodes.Usage;
            }
            using var shutdown = new ShutdownSignal(ct);
            var app = ObserverHost.Build([.. result.UnmatchedTokens], loaded.Rules!,
                builder => builder.WebHost.UseUrls(result.GetValue(urls) ?? "http://127.0.0.1:0"));
            await app.StartAsync(shutdown.Token);
            await cli.Err.WriteLineAsync($"Parley observer (pid {Environment.ProcessId}) serving /metrics and /health at {string.Join(" ", ServerHost.Urls(app))}  (Ctrl-C to stop)");
            await ServerHost.RunUntilShutdownAsync([app], shutdown.Token);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Config(GlobalOptions global)
    {
        var file = new Argument<string>("rules") { Description = "The rules file (YAML)." };
        var strict = new Option<bool>("--strict") { Description = "Unknown keys are errors, not warnings." };
        var settings = new Option<string?>("--settings") { Description = "Configuration file with Parley:Observer:Smtp. Default: appsettings.json in the current directory if there is one, then Parley__* environment variables." };
        var check = new Command("check", "Validate a rules file: keys, names, sources, field paths, ops, durations, secrets, templates, and that the SMTP server (Parley:Observer:Smtp) answers when a rule sends email, each with its line. Exit 0: valid, 2: invalid.")
        {
            file, strict, settings,
        };
        check.SetHandler(global, async (result, cli, ct) =>
        {
            var path = result.GetValue(file)!;
            var smtp = ParleyConfiguration.Load(result.GetValue(settings)).GetSection(SmtpOptions.Section).Get<SmtpOptions>() ?? new SmtpOptions();
            var loaded = await SmtpReachability.CheckAsync(RulesFile.Load(path, result.GetValue(strict)), smtp, ct);
            await ReportAsync(cli, path, loaded, alwaysSummarise: true);
            return loaded.IsValid ? ExitCodes.Ok : ExitCodes.Usage;
        });
        return new Command("config", "Inspect the observer's rules.") { check };
    }

    /// <summary>
    /// Prints what <see cref="RulesFile.Load"/> found (as JSON with --json): <c>config check</c> always,
    /// <c>run</c> when it refuses a file. The same report in both places.
    /// </summary>
    internal static async Task ReportAsync(CliContext cli, string path, RulesLoadResult loaded, bool alwaysSummarise)
    {
        if (cli.Json)
        {
            cli.WriteJson(new
            {
                file = path,
                valid = loaded.IsValid,
                rules = loaded.Rules?.Rules.Count ?? 0,
                problems = loaded.Problems.Select(p => new { line = p.Line, column = p.Column, severity = p.SeverityName, message = p.Message }),
            });
            return;
        }
        var writer = loaded.IsValid ? cli.Out : cli.Err;
        foreach (var problem in loaded.Problems)
            await writer.WriteLineAsync(problem.Format(path));
        if (!loaded.IsValid)
            await writer.WriteLineAsync($"{path} is invalid: {loaded.Problems.Count(p => p.IsError)} error(s).");
        else if (alwaysSummarise)
            await writer.WriteLineAsync($"{path} is valid: {loaded.Rules!.Rules.Count} rule(s).");
    }
}
