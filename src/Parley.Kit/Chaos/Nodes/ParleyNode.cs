using System.Diagnostics;
using System.Text.RegularExpressions;
using Parley.Kit.Stack;
using Parley.Kit.Stack.Internal;

namespace Parley.Kit.Chaos.Nodes;

/// <summary>
/// A Parley server (<c>dotnet Parley.Server.dll</c>) or observer (<c>dotnet parley.dll observer run</c>) as a real process
/// on 127.0.0.1, configured with <c>--Parley:…=</c> arguments. It keeps its port across <see cref="KillAsync"/> /
/// <see cref="StopAsync"/> and <see cref="StartAsync"/>, so clients reconnect to the same address, as behind a load balancer.
/// </summary>
public sealed partial class ParleyNode : IAsyncDisposable
{
    /// <summary>A bound against a node that never starts, not a speed gate: startup (migrations, flags, probes) took over 60 s at load average 50.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);
    private readonly IReadOnlyDictionary<string, string?> _settings;
    private readonly IReadOnlyList<string> _command;
    private readonly int? _openFileLimit;
    private readonly bool _observer;
    private readonly List<string> _log = [];
    private Process? _process;
    private int _port;

    private ParleyNode(string name, IReadOnlyDictionary<string, string?> settings, IReadOnlyList<string> command, int? openFileLimit, bool observer)
    {
        _observer = observer;
        Name = name;
        _settings = settings;
        _command = command;
        _openFileLimit = openFileLimit;
    }

    public string Name { get; }

    /// <summary><c>http://127.0.0.1:port</c>; the same across restarts.</summary>
    public Uri BaseAddress => new($"http://127.0.0.1:{_port}");

    /// <summary>A setting the node was started with (e.g. <c>Parley:Node:Id</c>); null when not set.</summary>
    public string? Setting(string key) => _settings.GetValueOrDefault(key);

    public int? Pid => _process is { HasExited: false } p ? p.Id : null;

    public bool IsRunning => Pid is not null;

    /// <summary><c>Parley.Server.dll</c> beside the running assembly (tests and the CLI reference the server project), or <c>PARLEY_SERVER_DLL</c>.</summary>
    public static string DefaultServerDll =>
        Environment.GetEnvironmentVariable("PARLEY_SERVER_DLL") is { Length: > 0 } path ? path : Path.Combine(AppContext.BaseDirectory, "Parley.Server.dll");

    /// <summary>The CLI (<c>parley.dll</c>) beside the running assembly (the CLI itself, or tests that reference it), or <c>PARLEY_CLI_DLL</c>.</summary>
    public static string DefaultCliDll =>
        Environment.GetEnvironmentVariable("PARLEY_CLI_DLL") is { Length: > 0 } path ? path : Path.Combine(AppContext.BaseDirectory, "parley.dll");

    /// <summary>
    /// A server process with <paramref name="settings"/>; <paramref name="openFileLimit"/>: its RLIMIT_NOFILE (soft and hard), set by
    /// util-linux's <c>prlimit</c> before it starts, for file-descriptor exhaustion.
    /// </summary>
    public static Task<ParleyNode> StartAsync(
        string name, IReadOnlyDictionary<string, string?> settings, string? serverDll = null, int? openFileLimit = null, CancellationToken ct = default) =>
        StartAsync(name, settings, [Existing(serverDll ?? DefaultServerDll, "PARLEY_SERVER_DLL")], ct, openFileLimit, observer: false);

    /// <summary>An observer process (<c>parley observer run --rules <paramref name="rulesFile"/></c>) with <paramref name="settings"/>.</summary>
    public static Task<ParleyNode> StartObserverAsync(string name, string rulesFile, IReadOnlyDictionary<string, string?> settings, string? cliDll = null, CancellationToken ct = default) =>
        StartAsync(name, settings, [Existing(cliDll ?? DefaultCliDll, "PARLEY_CLI_DLL"), "observer", "run", "--rules", rulesFile], ct, openFileLimit: null, observer: true);

    private static async Task<ParleyNode> StartAsync(
        string name, IReadOnlyDictionary<string, string?> settings, IReadOnlyList<string> command, CancellationToken ct, int? openFileLimit, bool observer)
    {
        var node = new ParleyNode(name, settings, command, openFileLimit, observer);
        await node.StartAsync(ct).ConfigureAwait(false);
        return node;
    }

    private static string Existing(string dll, string variable) =>
        File.Exists(dll) ? dll : throw new FileNotFoundException($"{Path.GetFileName(dll)} not found at {dll}; build the solution or set {variable}.", dll);

    /// <summary>Starts the process (again) and waits until it listens. No-op while it runs.</summary>
    public async Task StartAsync(CancellationToken ct = default)
    {
        if (IsRunning) return;
        var info = new ProcessStartInfo(_openFileLimit is null ? "dotnet" : "prlimit") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (_openFileLimit is { } limit)
        {
            // prlimit execs dotnet with the limit in place: the node's pid is the process started here.
            info.ArgumentList.Add($"--nofile={limit}:{limit}");
            info.ArgumentList.Add("dotnet");
        }
        foreach (var argument in _command) info.ArgumentList.Add(argument);
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add($"http://127.0.0.1:{_port}");
        // The node stops by itself if this process dies without disposing it (settings may override).
        info.ArgumentList.Add($"--Parley:Node:ExitWithProcess={Environment.ProcessId}");
        foreach (var (key, value) in _settings)
            if (value is not null) info.ArgumentList.Add($"--{key}={value}");
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        info.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        if (_observer) ObserverRuntime.Apply(info.Environment);
        var listening = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        process.OutputDataReceived += (_, e) => OnLine(e.Data, listening);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data, listening);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(StartTimeout);
        var started = await Task.WhenAny(listening.Task, process.WaitForExitAsync(timeout.Token)).ConfigureAwait(false);
        if (started != listening.Task)
        {
            await KillAsync(CancellationToken.None).ConfigureAwait(false);
            throw new InvalidOperationException($"Parley node {Name} did not report 'Now listening on:' within {StartTimeout.TotalSeconds:0} s. Its output:\n{Log()}");
        }
        _port = await listening.Task.ConfigureAwait(false);
    }

    /// <summary>SIGKILL, as a crash; waits until the process is gone.</summary>
    public async Task KillAsync(CancellationToken ct = default)
    {
        if (_process is not { } process || process.HasExited) return;
        process.Kill(entireProcessTree: true);
        await WaitExitAsync(process, ct).ConfigureAwait(false);
    }

    /// <summary>SIGSTOP: the process freezes with its sockets open (a long GC pause, a stalled VM) until <see cref="Resume"/>.</summary>
    public void Pause()
    {
        if (Pid is { } pid) ProcessTree.Pause(pid);
    }

    /// <summary>SIGCONT: a paused process goes on where it stopped.</summary>
    public void Resume()
    {
        if (Pid is { } pid) ProcessTree.Resume(pid);
    }

    /// <summary>SIGTERM: a graceful shutdown (sockets closed with 1001, work drained); SIGKILL after 20 s.</summary>
    public async Task StopAsync(CancellationToken ct = default)
    {
        if (_process is not { } process || process.HasExited) return;
        ProcessTree.Terminate(process.Id);
        using var grace = CancellationTokenSource.CreateLinkedTokenSource(ct);
        grace.CancelAfter(TimeSpan.FromSeconds(20));
        await process.WaitForExitAsync(grace.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await KillAsync(ct).ConfigureAwait(false);
    }

    /// <summary>The process's last lines of output (at most 2,000 kept).</summary>
    public string Log()
    {
        lock (_log) return string.Join('\n', _log);
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync().ConfigureAwait(false);
        _process?.Dispose();
    }

    private static async Task WaitExitAsync(Process process, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
    }

    private void OnLine(string? line, TaskCompletionSource<int> listening)
    {
        if (line is null) return;
        lock (_log)
        {
            if (_log.Count >= 2000) _log.RemoveAt(0);
            _log.Add(line);
        }
        var match = Listening().Match(line);
        if (match.Success) listening.TrySetResult(int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    // The server's hosting log line, or the observer's own start line (its host logs only warnings here).
    [GeneratedRegex(@"(?:Now listening on:|serving /metrics and /health at) http://127\.0\.0\.1:(\d+)")]
    private static partial Regex Listening();
}
