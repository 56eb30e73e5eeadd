namespace Parley.Data;

internal static class Clock
{
    /// <summary>Now, truncated to the millisecond the API shows, so keys round-trip exactly.</summary>
    public static DateTime UtcNowMs(TimeProvider time)
    {
        var now = time.GetUtcNow().UtcDateTime;
        return new DateTime(now.Ticks - now.Ticks % TimeSpan.TicksPerMillisecond, DateTimeKind.Utc);
    }
}
