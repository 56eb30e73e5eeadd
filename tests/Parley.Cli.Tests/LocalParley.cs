using System.Text.Json;
using System.Text.RegularExpressions;

namespace Parley.Cli.Tests;

/// <summary>
/// <c>parley up --detach</c> / <c>down</c> / <c>reset</c> against a root of its own; disposing stops the stack, wipes its data
/// and deletes the root, whatever the test left behind.
/// </summary>
public sealed partial class LocalParley : IAsyncDisposable
{
    /// <summary>A bound against hangs, not a speed gate: a first `parley up` (initdb, base backup, migrations) on a loaded 2-core machine took over 150 s.</summary>
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(300);

    public string Root { get; } = Directory.CreateTempSubdirectory("parley-durable-").FullName;

    /// <summary>Starts Parley in the background and returns its URL; fails the test with the CLI's output otherwise.</summary>
    public async Task<Uri> UpAsync()
    {
        var up = await RunAsync("up", "--detach", "--port", "0");
        Assert.True(up.ExitCode == ExitCodes.Ok, $"parley up --detach failed (is postgresql-15/pgbouncer/redis-server installed?){Environment.NewLine}{up}");
        Assert.Matches(@"data: /\S+", up.Out);
        return new Uri(UpUrl().Match(up.Out).Groups[1].Value);
    }

    public async Task DownAsync()
    {
        var down = await RunAsync("down");
        Assert.True(down.ExitCode == ExitCodes.Ok, down.ToString());
    }

    public Task<CliResult> RunAsync(params string[] args) => CliRun.ProcessAsync(CommandTimeout, [.. args, "--root", Root]);

    /// <summary>Pids of every process <c>parley status</c> lists: the stack's components, its watchdog and the server.</summary>
    public async Task<IReadOnlyDictionary<string, int>> PidsAsync()
    {
        var status = await RunAsync("status", "--json");
        Assert.True(status.ExitCode == ExitCodes.Ok, status.ToString());
        using var document = JsonDocument.Parse(status.Out);
        return document.RootElement.GetProperty("components").EnumerateArray()
            .ToDictionary(c => c.GetProperty("name").GetString()!, c => c.GetProperty("pid").GetInt32());
    }

    public async ValueTask DisposeAsync()
    {
        await RunAsync("down");
        await RunAsync("reset", "--yes");
        Directory.Delete(Root, recursive: true);
    }

    [GeneratedRegex(@"Parley is up at (http://127\.0\.0\.1:\d+)")]
    private static partial Regex UpUrl();
}
