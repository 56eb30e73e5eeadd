using System.Diagnostics;
using System.Text.RegularExpressions;
using Parley.Kit.Chaos.Nodes;

namespace Parley.Server.Tests.Realtime;

/// <summary>
/// A real Parley server process (<c>dotnet Parley.Server.dll</c>) on an ephemeral port, configured with
/// <c>--Parley:...=</c> arguments. <see cref="KillAsync"/> is a SIGKILL (kill -9).
/// </summary>
public sealed partial class ServerNode : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _log = [];

    private ServerNode(Process process) => _process = process;

    public Uri BaseAddress { get; private set; } = null!;

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex Listening();

    public static async Task<ServerNode> StartAsync(IReadOnlyDictionary<string, string?> settings)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Parley.Server.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add("http://127.0.0.1:0");
        // The node stops by itself if this process dies without disposing it (settings may override).
        info.ArgumentList.Add($"--Parley:Node:ExitWithProcess={Environment.ProcessId}");
        foreach (var (key, value) in settings)
            if (value is not null) info.ArgumentList.Add($"--{key}={value}");
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        info.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        // Delivery and Redis connection events, for the failure messages of delivery tests.
        info.Environment["Logging__LogLevel__Parley.Server.Delivery"] = "Information";
        info.Environment["Logging__LogLevel__Parley.Redis"] = "Information";
        var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        var node = new ServerNode(process);
        process.OutputDataReceived += (_, e) => node.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => node.OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var started = await Task.WhenAny(node._listening.Task, process.WaitForExitAsync(), Task.Delay(ParleyNode.StartTimeout));
        if (started != node._listening.Task)
        {
            await node.KillAsync();
            throw new InvalidOperationException($"The server process did not report 'Now listening on:' within {ParleyNode.StartTimeout.TotalSeconds:0} s. Its output:\n{node.Log()}");
        }
        node.BaseAddress = await node._listening.Task;
        return node;
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        lock (_log)
        {
            if (_log.Count < 2000) _log.Add(line);
        }
        var match = Listening().Match(line);
        if (match.Success) _listening.TrySetResult(new Uri(match.Groups[1].Value));
    }

    public string Log()
    {
        lock (_log) return string.Join('\n', _log);
    }

    /// <summary>kill -9, and wait until the process is gone.</summary>
    public async Task KillAsync()
    {
        if (_process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }
}
