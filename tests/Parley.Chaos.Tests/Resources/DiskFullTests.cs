using Npgsql;
using Parley.Kit.Chaos.Scenarios;
using Parley.Kit.Stack;
using Xunit.Abstractions;

namespace Parley.Chaos.Tests.Resources;

/// <summary>
/// The primary's data directory, pg_wal included, on a small loop-mounted ext4 filesystem this test creates (root only), filled
/// up by a file: sends get 201 or 503 + Retry-After, nothing acknowledged is lost, nothing is half-written; once the file is
/// deleted the node recovers by itself. PostgreSQL may PANIC when it cannot write WAL and stay down after its crash restart
/// (the end-of-recovery checkpoint needs space too): then the stack's supervisor (<see cref="StackOptions.Supervise"/>, on in
/// <c>parley up</c>) starts it again, and recovery replays every acknowledged commit.
/// </summary>
[Trait("Category", "Chaos")]
[Trait("Tier", "Smoke")]
[Trait("Kind", "resource")]
public sealed class DiskFullTests(ITestOutputHelper output)
{
    private const int ImageMegabytes = 160;

    [Fact]
    public async Task A_full_data_filesystem_answers_503_loses_no_201_and_recovers_once_space_is_freed()
    {
        Assert.True(Environment.IsPrivilegedProcess, "mounting a loop filesystem needs root");
        var root = Directory.CreateTempSubdirectory("parley-disk-").FullName;
        var image = Path.Combine(root, "disk.img");
        var mount = Path.Combine(root, "mnt");
        var mounted = false;
        try
        {
            await Exhaustion.RunAsync("truncate", "-s", $"{ImageMegabytes}M", image);
            await Exhaustion.RunAsync("mkfs.ext4", "-q", "-F", "-m", "0", image);
            Directory.CreateDirectory(mount);
            await Exhaustion.RunAsync("mount", "-o", "loop", image, mount);
            mounted = true;
            // The postgres user must reach <mount>/pgdata: root's temporary directory is 700.
            await Exhaustion.RunAsync("chmod", "755", root, mount);
            await using (var env = await ChaosEnvironment.StartAsync(new StackOptions
            {
                WithReplica = false,
                WithPgBouncer = false,
                PrimaryDataDirectory = Path.Combine(mount, "pgdata"),
                Supervise = true,
            }))
                await FillAndRecoverAsync(env, mount);
        }
        finally
        {
            if (mounted) await UnmountAsync(mount);
            Directory.Delete(root, recursive: true);
        }
    }

    private async Task FillAndRecoverAsync(ChaosEnvironment env, string mount)
    {
        await using var run = await Exhaustion.StartAsync(env, $"disk-{Random.Shared.Next(100_000)}");
        for (var i = 0; i < 5; i++) Assert.Equal(201, await run.SendAsync());

        var filler = Path.Combine(mount, "filler");
        var body = new string('d', 16_000);
        var before = run.Ledger.Requests.Count;
        var refused = 0;
        Fill(filler);
        // Sends until 503s come (a page or a WAL segment with room left takes some; at most 300).
        for (var i = 0; i < 300 && refused < 20; i++)
        {
            var status = await run.SendAsync(body);
            if (status != 201) refused++;
            if (status == 201 && i % 10 == 9) Fill(filler); // space a checkpoint recycled is taken again
        }
        // WAL: each switch to a new segment needs a segment file once the recycled ones are used up; a commit in between makes the
        // switch real. PostgreSQL PANICs when it cannot write WAL (at most 8 rounds).
        var panicked = false;
        await using (var db = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(env.Stack.PrimaryConnectionString) { Pooling = false, Timeout = 10 }.ConnectionString))
        {
            for (var round = 0; round < 8 && !panicked; round++)
            {
                await run.SendAsync();
                try
                {
                    await using var command = db.CreateCommand("SELECT pg_switch_wal()");
                    await command.ExecuteScalarAsync();
                }
                catch (Exception e) when (e is NpgsqlException or IOException)
                {
                    panicked = true;
                }
            }
        }
        for (var i = 0; i < 5; i++) await run.SendAsync();
        var during = run.Ledger.Requests.Skip(before).ToList();
        Exhaustion.AssertOnly201Or503(during, "a full data filesystem");
        Assert.True(refused > 0, $"the full filesystem refused nothing: {Exhaustion.Statuses(during)}");

        var postmaster = env.Stack.Primary.Pid;
        File.Delete(filler);
        await WaitUntilAcceptingAsync(env);
        var restarted = LocalStack.ReadState(env.Stack.RootDirectory)!.Components.Single(c => c.Kind == StackComponentKind.Primary).Pid != postmaster;
        output.WriteLine($"while full: {Exhaustion.Statuses(during)}; WAL switch {(panicked ? "failed" : "went through")}; PostgreSQL {(restarted ? "exited and was started again by the supervisor" : "stayed up")}");
        await run.AssertRecoversAsync("the space");
        await run.AssertWholeAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>
    /// Once the space is back PostgreSQL accepts connections again by itself (at most 60 s): its crash restart succeeds, or it fails
    /// (it began while the disk was full), the postmaster exits and the stack's supervisor starts it again.
    /// </summary>
    private static async Task WaitUntilAcceptingAsync(ChaosEnvironment env)
    {
        var probe = new NpgsqlConnectionStringBuilder(env.Stack.PrimaryConnectionString) { Pooling = false, Timeout = 2 }.ConnectionString;
        for (var deadline = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < deadline; await Task.Delay(500))
        {
            try
            {
                await using var connection = new NpgsqlConnection(probe);
                await connection.OpenAsync();
                return;
            }
            catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException)
            {
                // still in recovery (57P03), or down until the supervisor's next round: look again
            }
        }
        var log = File.Exists(env.Stack.Primary.LogFile) ? string.Join('\n', File.ReadLines(env.Stack.Primary.LogFile).TakeLast(30)) : "no log";
        Assert.Fail($"PostgreSQL accepted no connection within 60 s of the space being freed; its log ends:\n{log}");
    }

    // Appends to the filler until the filesystem refuses a byte (bounded by the image's size).
    private static void Fill(string path)
    {
        using var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.None, 1, FileOptions.WriteThrough);
        foreach (var chunk in new[] { 1 << 20, 4096, 1 })
        {
            var buffer = new byte[chunk];
            try
            {
                for (var written = 0L; written < (long)ImageMegabytes << 20; written += chunk) file.Write(buffer);
            }
            catch (IOException)
            {
                // ENOSPC: try the next, smaller chunk
            }
        }
    }

    // umount can meet a server still exiting (busy): retried a bounded number of times, then lazily detached.
    private static async Task UnmountAsync(string mount)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            try
            {
                await Exhaustion.RunAsync("umount", mount);
                return;
            }
            catch (InvalidOperationException)
            {
                await Task.Delay(500);
            }
        }
        await Exhaustion.RunAsync("umount", "-l", mount);
    }
}
