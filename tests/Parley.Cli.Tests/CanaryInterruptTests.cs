using System.Diagnostics;
using System.Text.Json;
using Parley.Cli.Local;
using Parley.Kit.Stack;

namespace Parley.Cli.Tests;

/// <summary>
/// A real SIGINT (Ctrl-C) to a running <c>parley canary run</c> process against a real PostgreSQL: the flag goes back to
/// its state before the run, the run says so and exits 130. The node to scrape does not exist, so every check holds
/// (scrape errors, no samples) and the run waits for the signal; nothing is timed.
/// </summary>
[Trait("Category", "Integration")]
public sealed class CanaryInterruptTests : IAsyncLifetime
{
    private const string Flag = "message.history.replica.enabled";
    private const int SigInt = 2;
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);
    private readonly string _root = Directory.CreateTempSubdirectory("parley-canary-int-").FullName;
    private LocalStack _stack = null!;

    private string Connection => _stack.PrimaryConnectionString;

    public async Task InitializeAsync()
    {
        _stack = await MigratedPrimary.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _stack.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    private async Task<(bool Enabled, int Percentage)> FlagAsync()
    {
        var list = await CliRun.InProcessAsync("--json", "flags", "list", "--connection", Connection);
        Assert.True(list.ExitCode == ExitCodes.Ok, list.ToString());
        var item = JsonDocument.Parse(list.Out).RootElement.GetProperty("items").EnumerateArray().Single(i => i.GetProperty("name").GetString() == Flag);
        return (item.GetProperty("enabled").GetBoolean(), item.GetProperty("percentage").GetInt32());
    }

    [Fact]
    public async Task Ctrl_c_during_a_run_restores_the_flag_says_so_and_exits_130()
    {
        var set = await CliRun.InProcessAsync("flags", "set", Flag, "off", "--percentage", "37", "--connection", Connection);
        Assert.True(set.ExitCode == ExitCodes.Ok, set.ToString());
        var plan = Path.Combine(_root, "plan.yaml");
        await File.WriteAllTextAsync(plan, $"flag: {Flag}\nstages: [{{percent: 50, hold: 10m}}]\ninterval: 1s\nmaxHold: 10m\n");

        var start = CliRun.StartInfo(["canary", "run", plan, "--url", "http://127.0.0.1:9", "--connection", Connection,
            "--results", Path.Combine(_root, "results"), "--root", _root]);
        // A job a non-interactive shell starts in the background has SIGINT ignored (POSIX), and its children inherit
        // that: when the test host was such a job (ci16), the run never saw the signal. Give the run SIGINT's default
        // back, as a terminal's foreground job has it.
        start.ArgumentList.Insert(0, start.FileName);
        start.ArgumentList.Insert(0, "--default-signal=INT");
        start.FileName = "env";
        using var run = Process.Start(start)!;
        try
        {
            await InterruptAndCheckAsync(run);
        }
        finally
        {
            if (!run.HasExited) run.Kill(entireProcessTree: true);
        }
    }

    private async Task InterruptAndCheckAsync(Process run)
    {
        var output = run.StandardOutput.ReadToEndAsync();
        var error = new List<string>();
        var firstCheck = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        run.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (error) error.Add(e.Data);
            if (e.Data.StartsWith("check 1 ", StringComparison.Ordinal)) firstCheck.TrySetResult();
        };
        run.BeginErrorReadLine();
        string Err() { lock (error) return string.Join(Environment.NewLine, error); }

        using (var cts = new CancellationTokenSource(Bound))
        {
            var first = await Task.WhenAny(firstCheck.Task, run.WaitForExitAsync(cts.Token));
            Assert.True(first == firstCheck.Task, $"no first check: exited {run.HasExited}{Environment.NewLine}{Err()}");
        }
        // The run holds stage 1 at 50%: the flag was really changed, so restoring it is something to check.
        Assert.Equal((true, 50), await FlagAsync());

        Processes.Signal(run.Id, SigInt);
        using (var cts = new CancellationTokenSource(Bound))
            await run.WaitForExitAsync(cts.Token);

        Assert.True(run.ExitCode == 130, $"exit {run.ExitCode}{Environment.NewLine}{await output}{Environment.NewLine}{Err()}");
        Assert.Contains("interrupted: flag restored to off at 37%", Err());
        Assert.Contains("interrupted", await output);
        Assert.Equal((false, 37), await FlagAsync());
        var summary = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_root, "results", "summary.json"))).RootElement;
        Assert.Equal("interrupted", summary.GetProperty("outcome").GetString());
    }
}
