using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Parley.Observer.Metrics;
using Parley.Observer.Queue;
using Parley.Observer.Rules;
using Parley.Observer.Source;

namespace Parley.Observer.Hosting;

/// <summary>
/// Leadership of one process: a standby checks the lease every <see cref="ObserverOptions.LeaseCheckInterval"/>
/// and takes it once lapsed; the leader renews it as often and reads the slot (<see cref="ReplicationSession"/>)
/// while it holds it. A leader that cannot renew within its lease (minus one check interval) stops
/// reading before the lease ends — the session is cancelled on a timer, and no renewal may wait past
/// that moment — so two leaders never overlap; its writes are fenced by term anyway.
/// </summary>
public sealed partial class ObserverService(
    ObserverDatabase db, RuleSet rules, ActionQueue queue, ActionWorkers workers, EventDedup dedup, ObserverMetrics metrics, ObserverIdentity identity,
    LeaderLease lease, IServer server, IOptions<ObserverOptions> options, ILogger<ObserverService> logger) : BackgroundService
{
    private static readonly TimeSpan SessionRetryDelay = TimeSpan.FromSeconds(1);

    private readonly ObserverOptions _options = options.Value;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await using (var cmd = db.Source.CreateCommand("SELECT to_regclass('observer_actions') IS NOT NULL"))
        {
            if (await cmd.ExecuteScalarAsync(cancellationToken) is not true)
                throw new InvalidOperationException("The observer's tables are missing: run `parley migrate` first.");
        }
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        CancellationTokenSource? leading = null;
        Task? session = null;
        var renewedAt = DateTime.MinValue;
        var sessionEndedAt = DateTime.MinValue;
        var keep = _options.LeaseDuration - _options.LeaseCheckInterval;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var checkStarted = DateTime.UtcNow;
                try
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                    timeout.CancelAfter(_options.LeaseCheckInterval * 2);
                    if (identity.Term is { } term)
                    {
                        // A renewal that hangs (a partition) must not keep this loop past the moment to stand down.
                        if (Left() <= TimeSpan.Zero) throw new TimeoutException("no time left on the lease to renew it");
                        if (await BoundedAsync(lease.RenewAsync(term, timeout.Token)))
                        {
                            renewedAt = checkStarted;
                            leading?.CancelAfter(Left());
                        }
                        else
                        {
                            LogLost(logger, term);
                            await StepDownAsync();
                        }
                    }
                    else if (await lease.TryAcquireAsync(timeout.Token) is { } won)
                    {
                        renewedAt = checkStarted;
                        identity.Term = won;
                        identity.LeaderSince = DateTimeOffset.UtcNow;
                        metrics.SetLeader(true);
                        if (won > 1) metrics.FailedOver();
                        LogLeading(logger, won, identity.Instance);
                    }
                    await BoundedAsync(HeartbeatAsync(timeout.Token));
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException || e is OperationCanceledException && !stoppingToken.IsCancellationRequested)
                {
                    LogLeaseError(logger, e.Message);
                }
                // Not renewed in time: stop before the lease can lapse and a standby take over.
                if (identity.Term is not null && DateTime.UtcNow - renewedAt > keep)
                {
                    LogLapsing(logger, identity.Term.Value);
                    await StepDownAsync();
                }
                if (session is { IsCompleted: true })
                {
                    // Failed (logged by RunSessionAsync): read again after a pause, unless the term was fenced.
                    var fenced = session.Exception?.InnerException is LeadershipLostException;
                    session = null;
                    sessionEndedAt = DateTime.UtcNow;
                    if (fenced) await StepDownAsync();
                }
                if (identity.Term is { } t && session is null && DateTime.UtcNow - sessionEndedAt >= SessionRetryDelay && Left() > TimeSpan.Zero)
                {
                    leading?.Dispose();
                    leading = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                    // The reading stops by itself when no renewal comes in time, whatever this loop is waiting on.
                    leading.CancelAfter(Left());
                    session = RunSessionAsync(t, leading.Token);
                }
                // A leader checks again no later than its moment to stand down.
                await Task.Delay(identity.Term is null ? _options.LeaseCheckInterval : Min(_options.LeaseCheckInterval, Max(TimeSpan.Zero, Left())), stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // stopping
        }
        if (identity.Term is { } last)
        {
            await StepDownAsync();
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await lease.ReleaseAsync(last, timeout.Token);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or OperationCanceledException)
            {
                LogLeaseError(logger, e.Message);
            }
        }
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await lease.ForgetAsync(timeout.Token);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or OperationCanceledException)
        {
            LogLeaseError(logger, e.Message);
        }

        // How long this process may still act on its last renewal.
        TimeSpan Left() => keep - (DateTime.UtcNow - renewedAt);

        // A leader waits on the database no longer than it may act (a cancelled command can take seconds more to
        // give up on a dead link); the abandoned call's outcome is dropped.
        async Task<bool> BoundedAsync(Task<bool> call)
        {
            var bound = identity.Term is null ? _options.LeaseCheckInterval * 2 : Max(TimeSpan.Zero, Left());
            try
            {
                return await call.WaitAsync(bound, stoppingToken);
            }
            catch (TimeoutException)
            {
                _ = call.ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                throw;
            }
        }

        async Task StepDownAsync()
        {
            identity.Term = null;
            identity.LeaderSince = null;
            metrics.SetLeader(false);
            if (leading is not null) await leading.CancelAsync();
            if (session is not null)
            {
                try
                {
                    await session;
                }
                catch (Exception)
                {
                    // cancelled on purpose, or failed and logged by RunSessionAsync
                }
            }
            session = null;
        }
    }

    private async Task RunSessionAsync(long term, CancellationToken ct)
    {
        await Task.Yield();
        try
        {
            await new ReplicationSession(db, rules, queue, workers, dedup, metrics, identity, _options, logger, term).RunAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (LeadershipLostException e)
        {
            LogFenced(logger, term, e.Message);
            throw;
        }
        catch (Exception e)
        {
            LogSessionFailed(logger, term, e.Message);
            throw;
        }
    }

    private async Task<bool> HeartbeatAsync(CancellationToken ct)
    {
        await lease.HeartbeatAsync(Url(), ct);
        return true;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private string? Url() => server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();

    [LoggerMessage(EventId = 8001, Level = LogLevel.Information, Message = "Observer: leading with term {Term} as {Instance}")]
    private static partial void LogLeading(ILogger logger, long term, string instance);

    [LoggerMessage(EventId = 8002, Level = LogLevel.Warning, Message = "Observer: the lease of term {Term} is gone (lapsed or taken); standing by")]
    private static partial void LogLost(ILogger logger, long term);

    [LoggerMessage(EventId = 8003, Level = LogLevel.Warning, Message = "Observer: the lease of term {Term} could not be renewed in time; stopped reading before it lapses")]
    private static partial void LogLapsing(ILogger logger, long term);

    [LoggerMessage(EventId = 8004, Level = LogLevel.Warning, Message = "Observer: lease check failed: {Reason}")]
    private static partial void LogLeaseError(ILogger logger, string reason);

    [LoggerMessage(EventId = 8005, Level = LogLevel.Error, Message = "Observer: reading the slot under term {Term} failed, retrying: {Reason}")]
    private static partial void LogSessionFailed(ILogger logger, long term, string reason);

    [LoggerMessage(EventId = 8006, Level = LogLevel.Warning, Message = "Observer: term {Term} was fenced: {Reason}")]
    private static partial void LogFenced(ILogger logger, long term, string reason);
}
