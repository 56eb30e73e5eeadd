using System.Diagnostics;
using Microsoft.Extensions.Options;
using Parley.Server.Delivery;

namespace Parley.Server.Background;

/// <summary>Stops the node when the process named by <see cref="NodeOptions.ExitWithProcess"/> is gone.</summary>
public sealed partial class SupervisorWatch(IOptions<NodeOptions> options, IHostApplicationLifetime lifetime, ILogger<SupervisorWatch> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.ExitWithProcess is not { } pid) return;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (IsAlive(pid)) continue;
            LogSupervisorGone(logger, pid);
            lifetime.StopApplication();
            return;
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Supervising process {Pid} has exited; stopping this node")]
    private static partial void LogSupervisorGone(ILogger logger, int pid);
}
