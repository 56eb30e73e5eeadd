using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Kit.Stack;

namespace Parley.Cli.Local;

/// <summary>One <c>parley observer run</c> process started by <c>parley up --observer</c>: <c>/health</c> and <c>/status</c> at <see cref="Url"/>.</summary>
public sealed record ObserverProcess(string Name, int Pid, string Url, string Log);

/// <summary>
/// The observer processes of <c>parley up --observer RULES.yaml [--observers N]</c>: started as children of
/// <c>up</c> (same program, <c>observer run</c>) with the stack's connection strings in their environment,
/// listed in <c>observers.json</c> (so <c>status</c> and <c>down</c> find them when <c>up</c> is gone), each
/// logging to <c>observer-N.log</c> in the root. <c>up</c> stops them before the stack.
/// </summary>
public static class ObserverProcesses
{
    // Generous for a loopback call: on a loaded machine a busy observer can take seconds to answer, and a status that
    // calls it unreachable then is wrong.
    private static readonly HttpClient Client = new() { Timeout = TimeSpan.FromSeconds(5) };

    public static string File(ParleyHome home) => Path.Combine(home.Root, "observers.json");

    public static IReadOnlyList<ObserverProcess> Read(ParleyHome home)
    {
        try
        {
            return System.IO.File.Exists(File(home))
                ? JsonSerializer.Deserialize<List<ObserverProcess>>(System.IO.File.ReadAllText(File(home)), JsonSerializerOptions.Web) ?? []
                : [];
        }
        catch (JsonException)
        {
            return [];
        }
    }

    /// <summary>
    /// Starts <paramref name="count"/> observers of <paramref name="rulesFile"/> against the databases in <paramref name="environment"/>
    /// (<c>Parley__*</c> variables, so no secret shows in a process list) and records them in observers.json.
    /// </summary>
    public static IReadOnlyList<ObserverProcess> Start(ParleyHome home, string rulesFile, int count, IReadOnlyDictionary<string, string?> environment)
    {
        var started = new List<ObserverProcess>();
        for (var n = 1; n <= count; n++)
        {
            var name = $"observer-{n}";
            var url = $"http://127.0.0.1:{FreePort()}";
            var log = Path.Combine(home.Root, $"{name}.log");
            var start = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, UseShellExecute = false };
            start.ArgumentList.Add("-c");
            // exec in the background subshell keeps $! the observer's own pid.
            start.ArgumentList.Add("exec \"$0\" \"$@\" >>\"$PARLEY_OBSERVER_LOG\" 2>&1 </dev/null & echo $!");
            foreach (var argument in Detacher.SelfCommand().Concat(["observer", "run", "--rules", rulesFile, "--urls", url]))
                start.ArgumentList.Add(argument);
            ObserverRuntime.Apply(start.Environment);
            foreach (var (key, value) in environment) start.Environment[key] = value;
            start.Environment["PARLEY_OBSERVER_LOG"] = log;
            start.Environment.Remove(Detacher.ChildVariable);
            System.IO.File.WriteAllText(log, $"--- parley observer run ({name}), started by parley up at {DateTimeOffset.Now:O} ---\n");
            using var shell = Process.Start(start) ?? throw new CliException(ExitCodes.Failure, "could not start /bin/sh");
            var output = shell.StandardOutput.ReadToEnd();
            shell.WaitForExit();
            if (!int.TryParse(output.Trim(), out var pid))
                throw new CliException(ExitCodes.Failure, $"could not start {name}: {output.Trim()}");
            started.Add(new ObserverProcess(name, pid, url, log));
            Write(home, started);
        }
        return started;
    }

    /// <summary>
    /// Waits until every observer answers <c>/health</c> and one of them leads; fails with the log of one that
    /// exited, or after <paramref name="timeout"/>.
    /// </summary>
    public static async Task WaitUntilReadyAsync(IReadOnlyList<ObserverProcess> observers, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (observers.FirstOrDefault(o => !Processes.IsAlive(o.Pid)) is { } dead)
                throw new CliException(ExitCodes.Failure, $"{dead.Name} (pid {dead.Pid}) exited. Last lines of {dead.Log}:{Environment.NewLine}{Detacher.Tail(dead.Log, 30)}");
            var roles = await Task.WhenAll(observers.Select(o => RoleAsync(o, ct)));
            if (roles.All(r => r is not null) && roles.Contains("leader")) return;
            if (DateTime.UtcNow >= deadline)
                throw new CliException(ExitCodes.Failure, $"the observers were not ready within {timeout.TotalSeconds:0} s (roles: {string.Join(", ", roles.Select(r => r ?? "no answer"))}); see {observers[0].Log}");
            await Task.Delay(200, ct);
        }
    }

    /// <summary>The role the process reports at <c>/health</c> (<c>leader</c> or <c>standby</c>); null when it does not answer.</summary>
    public static async Task<string?> RoleAsync(ObserverProcess observer, CancellationToken ct)
    {
        try
        {
            var health = await Client.GetFromJsonAsync<JsonObject>(new Uri(new Uri(observer.Url), "/health"), ct);
            return health?["pid"]?.GetValue<int>() == observer.Pid ? health["role"]?.GetValue<string>() : null;
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or InvalidOperationException || e is TaskCanceledException && !ct.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>SIGTERM to all at once (each releases its lease and claims), SIGKILL for any still there after <paramref name="grace"/>.</summary>
    public static async Task StopAsync(IEnumerable<ObserverProcess> observers, TimeSpan grace)
    {
        await Task.WhenAll(observers.Where(o => Processes.IsAlive(o.Pid)).Select(o => Processes.TerminateAsync(o.Pid, grace)));
    }

    private static void Write(ParleyHome home, IReadOnlyList<ObserverProcess> observers)
    {
        var temporary = File(home) + ".tmp";
        System.IO.File.WriteAllText(temporary, JsonSerializer.Serialize(observers, JsonSerializerOptions.Web));
        System.IO.File.Move(temporary, File(home), overwrite: true);
    }

    // The observer must know its URL before it starts (status and down find it there); a port taken in between fails its start, reported by WaitUntilReadyAsync.
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
