using System.Diagnostics;

namespace Parley.Cli.Tests;

/// <summary>What a parley invocation printed and returned.</summary>
public sealed record CliResult(int ExitCode, string Out, string Err)
{
    public override string ToString() => $"exit {ExitCode}{Environment.NewLine}stdout:{Environment.NewLine}{Out}{Environment.NewLine}stderr:{Environment.NewLine}{Err}";
}

/// <summary>Runs the CLI in this process (fast, for parsing and config) or as the real program (for up/down).</summary>
public static class CliRun
{
    public static async Task<CliResult> InProcessAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exitCode = await ParleyCli.RunAsync(args, output, error);
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }

    /// <summary><c>dotnet parley.dll args</c>, as the ./parley wrapper runs it; killed after <paramref name="timeout"/>.</summary>
    public static async Task<CliResult> ProcessAsync(TimeSpan timeout, params string[] args)
    {
        using var process = Process.Start(StartInfo(args))!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"parley {string.Join(' ', args)} did not finish within {timeout}; stderr so far: {await error}");
        }
        return new CliResult(process.ExitCode, await output, await error);
    }

    public static ProcessStartInfo StartInfo(IEnumerable<string> args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "parley.dll"));
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        // Tests choose the root with --root; do not let the caller's environment pick another one.
        start.Environment.Remove("PARLEY_HOME");
        start.Environment.Remove("PARLEY_REPO");
        return start;
    }
}
