using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;

namespace Parley.Kit.Load.Observer;

/// <summary>
/// Rows inserted by pgbench (a custom script, one or many rows per transaction), a process of its own: the database's
/// insert ceiling without the kit in the way, and a throttled (<c>-R</c>) producer that does not share the observers' process.
/// </summary>
internal static partial class PgbenchInserter
{
    /// <summary>
    /// Runs pgbench for <paramref name="duration"/> (whole seconds, at least 1), <paramref name="rowsPerTransaction"/> rows a
    /// transaction, <paramref name="rate"/> rows per second (null: unthrottled); returns the rows it inserted per second.
    /// </summary>
    public static async Task<double> RunAsync(
        string connectionString, string table, int noteBytes, int rowsPerTransaction, double? rate, TimeSpan duration, int connections, CancellationToken ct)
    {
        var script = Path.Combine(Path.GetTempPath(), $"parley-load-{table}-{Guid.NewGuid():N}.sql");
        var insert = rowsPerTransaction == 1
            ? $"INSERT INTO {table} (note) VALUES (repeat('n', {noteBytes}));\n"
            : $"INSERT INTO {table} (note) SELECT repeat('n', {noteBytes}) FROM generate_series(1, {rowsPerTransaction});\n";
        await File.WriteAllTextAsync(script, insert, ct).ConfigureAwait(false);
        try
        {
            var seconds = Math.Max(1, (int)Math.Ceiling(duration.TotalSeconds));
            var start = new ProcessStartInfo("pgbench") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "-n", "-f", script, "-c", $"{connections}", "-j", $"{Math.Min(connections, 2)}", "-T", $"{seconds}" }) start.ArgumentList.Add(a);
            if (rate is { } r)
            {
                start.ArgumentList.Add("-R");
                start.ArgumentList.Add((r / rowsPerTransaction).ToString("0.###", CultureInfo.InvariantCulture));
            }
            var b = new NpgsqlConnectionStringBuilder(connectionString);
            start.Environment["PGHOST"] = b.Host;
            start.Environment["PGPORT"] = b.Port.ToString(CultureInfo.InvariantCulture);
            start.Environment["PGUSER"] = b.Username;
            start.Environment["PGDATABASE"] = b.Database;
            if (b.Password is { } password) start.Environment["PGPASSWORD"] = password;
            using var process = Process.Start(start) ?? throw new InvalidOperationException("pgbench did not start");
            var output = process.StandardOutput.ReadToEndAsync(ct);
            var errors = process.StandardError.ReadToEndAsync(ct);
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
            bound.CancelAfter(duration + TimeSpan.FromSeconds(60));
            try
            {
                await process.WaitForExitAsync(bound.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
                throw;
            }
            var text = await output.ConfigureAwait(false);
            if (process.ExitCode != 0 || Tps().Match(text) is not { Success: true } m)
                throw new InvalidOperationException($"pgbench failed (exit {process.ExitCode}): {await errors.ConfigureAwait(false)}{text}");
            return double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * rowsPerTransaction;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"pgbench cannot be run ({e.Message}): install PostgreSQL's client tools or use the kit's inserter", e);
        }
        finally
        {
            File.Delete(script);
        }
    }

    [GeneratedRegex(@"tps = ([0-9.]+)")]
    private static partial Regex Tps();
}
