using System.CommandLine;
using Parley.Cli.Configuration;

namespace Parley.Cli.Commands;

/// <summary><c>parley config check</c>: validates a configuration without starting anything.</summary>
public static class ConfigCommand
{
    public static Command Create(GlobalOptions global)
    {
        var strict = new Option<bool>("--strict") { Description = "Unknown keys under Parley: are errors, not warnings." };
        var file = new Option<string?>("--file", "-f") { Description = $"JSON settings file to check. Default: ./{ParleyConfiguration.DefaultFile} if present." };
        var noEnvironment = new Option<bool>("--no-env") { Description = "Ignore environment variables (Parley__...); check the file alone." };
        var check = new Command("check", "Validate the configuration: required keys, signing key, connection strings, ranges. Exit 0: valid, 2: invalid.")
        {
            strict, file, noEnvironment,
        };
        check.SetHandler(global, async (result, cli, ct) =>
        {
            var configuration = ParleyConfiguration.Load(result.GetValue(file), environment: !result.GetValue(noEnvironment));
            var problems = ConfigValidator.Validate(configuration, result.GetValue(strict));
            var valid = !problems.Any(p => p.IsError);
            if (cli.Json)
            {
                cli.WriteJson(new { valid, problems = problems.Select(p => new { p.Key, p.Severity, p.Message }) });
            }
            else
            {
                foreach (var problem in problems)
                    await cli.Out.WriteLineAsync($"{problem.Severity}: {problem.Key} {problem.Message}");
                var errors = problems.Count(p => p.IsError);
                await cli.Out.WriteLineAsync(valid ? "Configuration is valid." : $"Configuration is invalid: {errors} error(s).");
            }
            return valid ? ExitCodes.Ok : ExitCodes.Usage;
        });
        return new Command("config", "Inspect Parley's configuration.") { check };
    }
}
