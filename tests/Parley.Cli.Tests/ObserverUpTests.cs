using System.Text.Json;
using Parley.Cli.Local;
using Parley.Kit.Stack;

namespace Parley.Cli.Tests;

/// <summary><c>parley up --observer RULES.yaml [--observers N]</c>: observer processes next to the server, found by <c>status</c>, stopped by <c>down</c>.</summary>
public sealed class ObserverUpTests : IDisposable
{
    private const string Rules = """
        rules:
          - name: messages
            source: parley
            on: [message.created]
            actions:
              - name: hook
                webhook: { url: "http://127.0.0.1:9/hook", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }
        """;

    private readonly string _root = Directory.CreateTempSubdirectory("parley-cli-observers-").FullName;

    public void Dispose()
    {
        CliRun.ProcessAsync(LocalParley.CommandTimeout, "down", "--root", _root).GetAwaiter().GetResult();
        CliRun.ProcessAsync(LocalParley.CommandTimeout, "reset", "--yes", "--root", _root).GetAwaiter().GetResult();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    [Trait("Category", "Smoke")]
    public async Task Up_with_an_invalid_rules_file_exits_2_with_the_config_check_report_and_starts_nothing()
    {
        var rules = Path.Combine(_root, "bad.yaml");
        await File.WriteAllTextAsync(rules, Rules.Replace("on: [message.created]", "on: [message.sent]", StringComparison.Ordinal));

        var up = await CliRun.InProcessAsync("up", "--observer", rules, "--observers", "2", "--root", _root);

        Assert.Equal(ExitCodes.Usage, up.ExitCode);
        Assert.Contains($"{rules}:4:", up.Err);
        Assert.Contains("is invalid: 1 error(s)", up.Err);
        Assert.False(File.Exists(Path.Combine(_root, "stack.json")), "nothing was started");
        Assert.Equal(ExitCodes.Usage, (await CliRun.InProcessAsync("up", "--observers", "2", "--root", _root)).ExitCode);
    }

    [Fact]
    [Trait("Category", "Integration")]
    public async Task Up_with_two_observers_lists_one_leader_and_one_standby_with_live_pids_and_down_stops_both()
    {
        var rules = Path.Combine(_root, "rules.yaml");
        await File.WriteAllTextAsync(rules, Rules);

        var up = await CliRun.ProcessAsync(LocalParley.CommandTimeout, "up", "--detach", "--port", "0", "--observer", rules, "--observers", "2", "--root", _root);
        Assert.True(up.ExitCode == ExitCodes.Ok, up.ToString());

        var status = await CliRun.ProcessAsync(LocalParley.CommandTimeout, "status", "--json", "--root", _root);
        Assert.True(status.ExitCode == ExitCodes.Ok, status.ToString());
        using var document = JsonDocument.Parse(status.Out);
        var observers = document.RootElement.GetProperty("components").EnumerateArray()
            .Where(c => c.GetProperty("name").GetString()!.Contains("observer", StringComparison.Ordinal))
            .Select(c => (Pid: c.GetProperty("pid").GetInt32(), Role: c.GetProperty("role").GetString(), State: c.GetProperty("state").GetString()))
            .ToList();
        Assert.Equal(2, observers.Count);
        Assert.Equal(["leader", "standby"], observers.Select(o => o.Role).Order());
        Assert.All(observers, o => Assert.True(o.State == "running" && Processes.IsAlive(o.Pid), $"pid {o.Pid} runs"));
        Assert.Equal(2, observers.Select(o => o.Pid).Distinct().Count());
        // Each runs with the observer's runtime settings (CPU per event: ObserverRuntime.Defaults).
        Assert.All(observers, o =>
        {
            var environment = File.ReadAllText($"/proc/{o.Pid}/environ").Split('\0');
            Assert.All(ObserverRuntime.Defaults, d => Assert.Contains($"{d.Key}={d.Value}", environment));
        });

        // The observer's own view agrees: the same two processes, one of them leading.
        var group = await CliRun.ProcessAsync(LocalParley.CommandTimeout, "observer", "status", "--json", "--root", _root);
        Assert.True(group.ExitCode == ExitCodes.Ok, group.ToString());
        using var groupDocument = JsonDocument.Parse(group.Out);
        Assert.Equal(observers.Select(o => o.Pid).Order(),
            groupDocument.RootElement.GetProperty("instances").EnumerateArray().Select(i => i.GetProperty("pid").GetInt32()).Order());
        Assert.Contains(groupDocument.RootElement.GetProperty("leader").GetProperty("pid").GetInt32(), observers.Select(o => o.Pid));

        var down = await CliRun.ProcessAsync(LocalParley.CommandTimeout, "down", "--root", _root);
        Assert.True(down.ExitCode == ExitCodes.Ok, down.ToString());
        foreach (var (pid, _, _) in observers)
            Assert.True(await Processes.WaitForExitAsync(pid, TimeSpan.FromSeconds(10)), $"observer pid {pid} still runs after down");
        Assert.False(File.Exists(Path.Combine(_root, "observers.json")), "down clears observers.json");
    }
}
