using System.Globalization;

namespace Parley.Kit.Stack.Internal;

/// <summary>
/// redis-server, daemonised, ready once it answers PING. Durable: an append-only file fsynced every second (the event
/// stream survives a restart, a crash loses at most about its last second).
/// Bounded by maxmemory with noeviction either way.
/// </summary>
internal sealed class RedisServer(string dataDirectory, StackEnvironment env, bool durable, int maxMemoryMegabytes)
    : ComponentDriver(StackComponentKind.Redis, dataDirectory, env)
{
    private static readonly TimeSpan PingTimeout = TimeSpan.FromSeconds(2);

    protected override string PidFile => Path.Combine(Directory, "redis.pid");

    protected override string ProcessName => "redis-server";

    public string Endpoint => $"127.0.0.1:{Port}";

    protected override Task PrepareAsync(CancellationToken ct)
    {
        System.IO.Directory.CreateDirectory(Directory);
        return Task.CompletedTask;
    }

    protected override async Task LaunchAsync(CancellationToken ct)
    {
        DeleteStalePidFile();
        string[] args =
        [
            "--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
            "--save", "", "--dir", Directory,
            .. durable ? ["--appendonly", "yes", "--appendfsync", "everysec"] : new[] { "--appendonly", "no" },
            "--maxmemory", $"{maxMemoryMegabytes.ToString(CultureInfo.InvariantCulture)}mb", "--maxmemory-policy", "noeviction",
            "--unixsocket", Path.Combine(Directory, "redis.sock"), "--unixsocketperm", "700",
            "--daemonize", "yes", "--pidfile", PidFile, "--logfile", LogFile,
        ];
        var result = await ProcessRunner.RunAsync(Env.Binaries.RedisServer!, args, Directory, StackEnvironment.CommandTimeout, ct).ConfigureAwait(false);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"redis-server exited with {result.ExitCode}: {result.Output.Trim()}");
    }

    protected override async Task<bool> ProbeAsync(CancellationToken ct) =>
        (await LoopbackProbe.ExchangeAsync(Port, "PING\r\n"u8.ToArray(), PingTimeout, ct).ConfigureAwait(false))?.StartsWith("+PONG", StringComparison.Ordinal) == true;
}
