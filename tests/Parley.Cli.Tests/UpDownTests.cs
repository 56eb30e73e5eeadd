using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Parley.Cli.Local;

namespace Parley.Cli.Tests;

/// <summary>The real CLI end to end: a local stack with PostgreSQL, PgBouncer and Redis (apt-get install postgresql-15 pgbouncer redis-server).</summary>
[Trait("Category", "Integration")]
public sealed class UpDownTests : IDisposable
{
    private static readonly TimeSpan CommandTimeout = LocalParley.CommandTimeout;
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly string _root = Directory.CreateTempSubdirectory("parley-cli-it-").FullName;

    public void Dispose()
    {
        // Whatever a failed test left running goes; then the data (up keeps it, maybe outside the root) and the directory.
        CliRun.ProcessAsync(CommandTimeout, "down", "--root", _root).GetAwaiter().GetResult();
        CliRun.ProcessAsync(CommandTimeout, "reset", "--yes", "--root", _root).GetAwaiter().GetResult();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task Up_detached_serves_ready_and_down_leaves_no_process_or_port()
    {
        var up = await CliRun.ProcessAsync(CommandTimeout, "up", "--detach", "--port", "0", "--root", _root);
        Assert.True(up.ExitCode == ExitCodes.Ok, $"parley up --detach failed (is postgresql-15/pgbouncer/redis-server installed?){Environment.NewLine}{up}");
        Assert.Matches(@"Parley is up at http://127\.0\.0\.1:\d+", up.Out);

        var status = await CliRun.ProcessAsync(CommandTimeout, "status", "--json", "--root", _root);
        Assert.True(status.ExitCode == ExitCodes.Ok, status.ToString());
        var (url, components) = ParseStatus(status.Out);
        Assert.Equal(
            ["primary", "replica", "pgbouncer", "redis", "balancer", "watchdog", "server", "node-1"],
            components.Select(c => c.Name));
        Assert.All(components, c => Assert.Equal("running", c.State));

        using (var ready = await Http.GetAsync(new Uri(new Uri(url), "/health/ready")))
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.True(File.Exists(Path.Combine(_root, "parley.json")), "up persists the signing key in <root>/parley.json");

        var again = await CliRun.ProcessAsync(CommandTimeout, "up", "--port", "0", "--root", _root);
        Assert.True(again.ExitCode == ExitCodes.AlreadyRunning, again.ToString());
        Assert.Contains("parley down", again.Err);

        var down = await CliRun.ProcessAsync(CommandTimeout, "down", "--root", _root);
        Assert.True(down.ExitCode == ExitCodes.Ok, down.ToString());
        await AssertAllGoneAsync(components);

        var after = await CliRun.ProcessAsync(CommandTimeout, "status", "--root", _root);
        Assert.Equal(ExitCodes.Failure, after.ExitCode);
        var downAgain = await CliRun.ProcessAsync(CommandTimeout, "down", "--root", _root);
        Assert.Equal(ExitCodes.Ok, downAgain.ExitCode);
        Assert.Contains("Nothing running", downAgain.Out);
    }

    [Fact]
    public async Task Up_in_the_foreground_stops_server_and_stack_on_SIGTERM_and_reuses_its_signing_key()
    {
        var keyFile = Path.Combine(_root, "parley.json");
        using var up = Process.Start(CliRun.StartInfo(["up", "--port", "0", "--root", _root]))!;
        var output = up.StandardOutput.ReadToEndAsync();
        var error = up.StandardError.ReadToEndAsync();
        var components = await WaitUntilRunningAsync(up, output, error);
        var key = await File.ReadAllTextAsync(keyFile);

        Processes.Signal(up.Id, Processes.SigTerm);
        using (var cts = new CancellationTokenSource(CommandTimeout))
            await up.WaitForExitAsync(cts.Token);

        Assert.True(up.ExitCode == ExitCodes.Ok, $"exit {up.ExitCode}{Environment.NewLine}{await output}{Environment.NewLine}{await error}");
        Assert.Contains("Parley is up at http://127.0.0.1:", await output);
        Assert.Contains("Parley stopped.", await output);
        await AssertAllGoneAsync(components);
        Assert.Equal(key, await File.ReadAllTextAsync(keyFile));
        Assert.False(File.Exists(Path.Combine(_root, "up.pid")), "up removes up.pid when it stops");
    }

    private async Task<IReadOnlyList<Component>> WaitUntilRunningAsync(Process up, Task<string> output, Task<string> error)
    {
        var deadline = DateTime.UtcNow + CommandTimeout;
        while (DateTime.UtcNow < deadline)
        {
            if (up.HasExited)
                Assert.Fail($"parley up exited early with {up.ExitCode}: {await error}");
            var status = await CliRun.ProcessAsync(CommandTimeout, "status", "--json", "--root", _root);
            if (status.ExitCode == ExitCodes.Ok)
                return ParseStatus(status.Out).Components;
            await Task.Delay(500);
        }
        // Stopped so its progress lines can be read: they say which step it was on.
        Processes.Signal(up.Id, Processes.SigTerm);
        using var stop = new CancellationTokenSource(CommandTimeout);
        await up.WaitForExitAsync(stop.Token);
        throw new TimeoutException($"parley up did not get ready within {CommandTimeout.TotalSeconds:0} s:{Environment.NewLine}{await output}{Environment.NewLine}{await error}");
    }

    private static async Task AssertAllGoneAsync(IReadOnlyList<Component> components)
    {
        foreach (var component in components)
        {
            // The stack's watchdog may need a moment after down returns; nothing may outlive a few seconds.
            Assert.True(await Processes.WaitForExitAsync(component.Pid, TimeSpan.FromSeconds(10)), $"{component.Name} (pid {component.Pid}) still runs");
            if (component.Port is { } port)
                Assert.False(await IsListeningAsync(port), $"{component.Name} still listens on {port}");
        }
    }

    private static async Task<bool> IsListeningAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private sealed record Component(string Name, int? Port, int Pid, string State);

    private static (string Url, IReadOnlyList<Component> Components) ParseStatus(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var components = root.GetProperty("components").EnumerateArray()
            .Select(c => new Component(
                c.GetProperty("name").GetString()!,
                c.TryGetProperty("port", out var port) ? port.GetInt32() : null,
                c.GetProperty("pid").GetInt32(),
                c.GetProperty("state").GetString()!))
            .ToList();
        return (root.GetProperty("url").GetString()!, components);
    }
}
