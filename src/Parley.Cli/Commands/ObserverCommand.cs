using System.CommandLine;
using Parley.Observer.Rules;

namespace Parley.Cli.Commands;

/// <summary><c>parley observer ...</c>: the event observer (OBSERVER.md): check a rules file, run a process.</summary>
public static class ObserverCommand
{
    public static Command Create(GlobalOptions global) => new("observer", "The event observer: database changes → rules → webhooks, email, Slack, search (OBSERVER.md).")
    {
        Config(global),
    };

    private static Command Config(GlobalOptions global)
    {
        var file = new Argument<string>("rules") { Description = "The rules file (YAML)." };
        var strict = new Option<bool>("--strict") { Description = "Unknown keys are errors, not warnings." };
        var check = new Command("check", "Validate a rules file: keys, names, sources, field paths, ops, durations, secrets, templates, each with its line. Exit 0: valid, 2: invalid.")
        {
            file, strict,
        };
        check.SetHandler(global, async (result, cli, ct) =>
        {
            var path = result.GetValue(file)!;
            var loaded = RulesFile.Load(path, result.GetValue(strict));
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
