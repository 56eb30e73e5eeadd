using System.Diagnostics;
using System.Globalization;

namespace Parley.Server.Observability;

/// <summary>
/// The W3C <c>Server-Timing</c> response header: <c>app</c> is the time from the request entering Parley's pipeline
/// to its response starting, <c>cache</c> the part of it spent waiting on Redis. A client (the chaos and load kits)
/// can so tell a slow server from a request that waited before it reached one.
/// </summary>
public sealed class ServerTiming
{
    public const string Header = "Server-Timing";

    private static readonly AsyncLocal<ServerTiming?> Current = new();
    private long _cacheTicks;

    /// <summary>Adds time spent waiting on the cache to the current request's account, if there is one.</summary>
    public static void AddCache(TimeSpan elapsed)
    {
        if (Current.Value is { } timing) Interlocked.Add(ref timing._cacheTicks, elapsed.Ticks);
    }

    /// <summary>Times every request and writes the header when its response starts.</summary>
    public static IApplicationBuilder UseServerTiming(IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var timing = new ServerTiming();
        var started = Stopwatch.GetTimestamp();
        Current.Value = timing;
        context.Response.OnStarting(() =>
        {
            context.Response.Headers[Header] = timing.Format(Stopwatch.GetElapsedTime(started));
            return Task.CompletedTask;
        });
        await next(context);
    });

    private string Format(TimeSpan app) => string.Create(CultureInfo.InvariantCulture,
        $"app;dur={app.TotalMilliseconds:0.#}, cache;dur={TimeSpan.FromTicks(Interlocked.Read(ref _cacheTicks)).TotalMilliseconds:0.#}");
}
