using System.Diagnostics;
using System.Text;

namespace Parley.Kit.Stack.Internal;

internal sealed record ProcessResult(int ExitCode, string Output);

/// <summary>Runs a short-lived command to completion with a bounded wait.</summary>
internal static class ProcessRunner
{
    /// <summary>
    /// Runs <paramref name="file"/> and returns its exit code and combined output. Daemons it starts must
    /// detach from stdout/stderr (pg_ctl -l, redis --daemonize, pgbouncer -d do), or this waits for the timeout.
    /// </summary>
    public static async Task<ProcessResult> RunAsync(
        string file, IEnumerable<string> args, string workingDirectory, TimeSpan timeout, CancellationToken ct)
    {
        var info = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
            info.ArgumentList.Add(arg);

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {file}.");
        process.StandardInput.Close();
        var output = new StringBuilder();
        var stdout = PumpAsync(process.StandardOutput, output);
        var stderr = PumpAsync(process.StandardError, output);
        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeoutCts.CancelAfter(timeout);
        try
        {
            await Task.WhenAll(stdout, stderr, process.WaitForExitAsync(timeoutCts.Token)).WaitAsync(timeoutCts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await ProcessTree.KillTreeAsync(process.Id, TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
            throw new TimeoutException($"{Describe(file, info.ArgumentList)} did not finish within {timeout.TotalSeconds:0}s. Output:{Environment.NewLine}{Snapshot(output)}");
        }
        return new ProcessResult(process.ExitCode, Snapshot(output));
    }

    /// <summary>Runs the command and throws with its output when it exits non-zero.</summary>
    public static async Task<string> RunCheckedAsync(
        string file, IEnumerable<string> args, string workingDirectory, TimeSpan timeout, CancellationToken ct)
    {
        var argList = args.ToList();
        var result = await RunAsync(file, argList, workingDirectory, timeout, ct).ConfigureAwait(false);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"{Describe(file, argList)} exited with {result.ExitCode}:{Environment.NewLine}{result.Output}");
        return result.Output;
    }

    private static string Describe(string file, IEnumerable<string> args) => string.Join(' ', args.Prepend(file));

    private static string Snapshot(StringBuilder output)
    {
        lock (output)
            return output.ToString();
    }

    private static async Task PumpAsync(StreamReader reader, StringBuilder output)
    {
        while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            lock (output)
                output.AppendLine(line);
        }
    }
}
