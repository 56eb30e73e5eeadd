using System.Collections.Concurrent;
using Parley.Observer.Actions;

namespace Parley.Observer.Tests.Infrastructure;

/// <summary>A runner for every kind of action that records each call and answers as <see cref="Behaviour"/> says (default: success).</summary>
public sealed class TestRunner : IActionRunner
{
    private int _running;

    public ConcurrentQueue<ActionWork> Calls { get; } = new();

    public Func<ActionWork, CancellationToken, Task<ActionResult>> Behaviour { get; set; } = (_, _) => Task.FromResult(ActionResult.Success(200));

    /// <summary>Calls that have not returned yet.</summary>
    public int Running => Volatile.Read(ref _running);

    public bool CanRun(ActionSpec spec) => true;

    public async Task<ActionResult> RunAsync(ActionWork work, CancellationToken ct)
    {
        Calls.Enqueue(work);
        Interlocked.Increment(ref _running);
        try
        {
            return await Behaviour(work, ct);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    public int CallsOf(string webhookId) => Calls.Count(c => c.WebhookId == webhookId);

    public List<ActionWork> CallsOfAction(string action) => [.. Calls.Where(c => c.Action == action)];
}

/// <summary>Bounded waiting for a condition that becomes true asynchronously; fails with what was awaited.</summary>
public static class Wait
{
    public static async Task For(Func<Task<bool>> condition, string what, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(30));
        Exception? last = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await condition()) return;
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                last = e;
            }
            await Task.Delay(50);
        }
        Assert.Fail($"Timed out waiting for {what}.{(last is null ? "" : $" Last error: {last.Message}")}");
    }

    public static Task For(Func<bool> condition, string what, TimeSpan? within = null) => For(() => Task.FromResult(condition()), what, within);
}
