using Parley.Kit.Load.Sampling;

namespace Parley.Kit.Load.Observer;

/// <summary>One stage of the event path (observer_stage_duration_seconds{stage}) summed over a group's observers.</summary>
public sealed record StageDuration(string Stage, long Count, double SumSeconds)
{
    public double MeanMs => Count == 0 ? 0 : SumSeconds * 1000 / Count;
}

/// <summary>Reads the stage histograms of each observer's <c>/metrics</c>.</summary>
internal static class StageDurations
{
    private static readonly HttpClient Client = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>What each stage did between two readings (<paramref name="before"/>'s counts taken off).</summary>
    public static IReadOnlyList<StageDuration> Since(IReadOnlyList<StageDuration> before, IReadOnlyList<StageDuration> after) =>
        [.. after.Select(a => before.FirstOrDefault(b => b.Stage == a.Stage) is { } b ? a with { Count = a.Count - b.Count, SumSeconds = a.SumSeconds - b.SumSeconds } : a)];

    /// <summary>The stages of every observer that answered, in the order of the event path; an observer that did not answer is left out.</summary>
    public static async Task<IReadOnlyList<StageDuration>> ReadAsync(IReadOnlyList<Uri> metrics, CancellationToken ct)
    {
        var sums = new Dictionary<string, (long Count, double Sum)>(StringComparer.Ordinal);
        foreach (var url in metrics)
        {
            string text;
            try
            {
                text = await Client.GetStringAsync(url, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException || e is TaskCanceledException && !ct.IsCancellationRequested)
            {
                continue;
            }
            foreach (var s in PrometheusText.Parse(text))
            {
                if (!s.Labels.TryGetValue("stage", out var stage)) continue;
                var (count, sum) = sums.GetValueOrDefault(stage);
                if (s.Name == "observer_stage_duration_seconds_count") sums[stage] = (count + (long)s.Value, sum);
                else if (s.Name == "observer_stage_duration_seconds_sum") sums[stage] = (count, sum + s.Value);
            }
        }
        string[] order = ["stream", "decode", "match", "dedup_check", "enqueue", "confirm", "dedup_mark", "claim", "run", "record"];
        return [.. sums.OrderBy(kv => Array.IndexOf(order, kv.Key) is var i && i < 0 ? int.MaxValue : i).ThenBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => new StageDuration(kv.Key, kv.Value.Count, kv.Value.Sum))];
    }
}
