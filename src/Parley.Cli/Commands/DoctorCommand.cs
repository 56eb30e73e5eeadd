using System.CommandLine;
using Npgsql;
using Parley.Cli.Local;
using Parley.Data.Schema;

namespace Parley.Cli.Commands;

/// <summary><c>parley doctor</c>: the live database against what its migrations define (<see cref="SchemaDoctor"/>).</summary>
public static class DoctorCommand
{
    public static Command Create(GlobalOptions global)
    {
        var connection = DatabaseTarget.Option();
        var command = new Command("doctor",
            "Check the database against its migrations (tables, columns, indexes, constraints, autovacuum, sequences, replication slot "
            + "and publication); name each difference with the statements that repair it.") { connection };
        command.SetHandler(global, (result, cli, ct) => RunAsync(cli, result.GetValue(connection), ct));
        return command;
    }

    private static async Task<int> RunAsync(CliContext cli, string? connection, CancellationToken ct)
    {
        DoctorReport report;
        await using (var dataSource = DatabaseTarget.Open(cli, connection))
        {
            try
            {
                report = await SchemaDoctor.CheckAsync(dataSource, ct);
            }
            catch (NpgsqlException e)
            {
                throw new CliException(ExitCodes.Failure, $"doctor failed: {e.Message}");
            }
        }
        if (cli.Json)
        {
            cli.WriteJson(new { ok = report.Ok, report.Schema, report.Version, latest = report.LatestVersion, findings = report.Findings });
        }
        else
        {
            foreach (var finding in report.Findings)
            {
                await cli.Out.WriteLineAsync($"{finding.Check} {finding.Subject}: {finding.Problem}");
                foreach (var statement in finding.Repair)
                    await cli.Out.WriteLineAsync($"    repair: {statement};");
                if (finding.Repair.Count == 0)
                    await cli.Out.WriteLineAsync("    repair: no statement can; see the problem");
            }
            await cli.Out.WriteLineAsync(report.Ok
                ? $"OK: schema {report.Schema} at version {report.Version} matches its migrations."
                : $"{report.Findings.Count} difference{(report.Findings.Count == 1 ? "" : "s")} in schema {report.Schema} (version {report.Version}, latest known {report.LatestVersion}).");
        }
        return report.Ok ? ExitCodes.Ok : ExitCodes.Drift;
    }
}
