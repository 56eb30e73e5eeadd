using System.Text.Json;
using Parley.Kit.Load.Sampling;

namespace Parley.Kit.Canary;

/// <summary>One reading of every node's counters for the flag (by node name), and the nodes that could not be read.</summary>
public sealed record MetricsReading(IReadOnlyDictionary<string, NodeSnapshot> Nodes, IReadOnlyList<string> Errors);

/// <summary>Where a canary's figures come from: each node's <c>/metrics</c> (<see cref="NodeMetricsSource"/>) or a Prometheus server (<see cref="PrometheusMetricsSource"/>).</summary>
public interface IMetricsSource
{
    /// <summary>Reads the counters now; a node that does not answer is left out and named in <see cref="MetricsReading.Errors"/>.</summary>
    Task<MetricsReading> ReadAsync(CancellationToken ct);
}

/// <summary>Scrapes every node's <c>/metrics</c> itself, all at once; a node is named by its base URL.</summary>
public sealed class NodeMetricsSource(HttpClient http, IReadOnlyList<Uri> nodes, string flag) : IMetricsSource
{
    public async Task<MetricsReading> ReadAsync(CancellationToken ct)
    {
        var errors = new List<string>();
        var read = await Task.WhenAll(nodes.Select(async node =>
        {
            try
            {
                var text = await http.GetStringAsync(new Uri(node, "/metrics"), ct).ConfigureAwait(false);
                return (Node: node.ToString(), Snapshot: NodeSnapshot.Parse(flag, PrometheusText.Parse(text)));
            }
            catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !ct.IsCancellationRequested))
            {
                lock (errors) errors.Add($"{node}: {e.Message}");
                return (Node: node.ToString(), Snapshot: (NodeSnapshot?)null);
            }
        })).ConfigureAwait(false);
        return new MetricsReading(read.Where(r => r.Snapshot is not null).ToDictionary(r => r.Node, r => r.Snapshot!), errors);
    }
}

/// <summary>
/// Reads the same series from a Prometheus server's HTTP API (an instant query of their latest samples), one node per
/// <c>instance</c> label, so a canary can be judged where the metrics are already collected. Its figures are as fresh as
/// Prometheus's last scrape: the plan's interval should span several scrape intervals. A target whose last scrape
/// failed (<c>up</c> 0) is named as an error, as a node that does not answer its <c>/metrics</c> would be.
/// </summary>
public sealed class PrometheusMetricsSource(HttpClient http, Uri prometheus, string flag, string? match) : IMetricsSource
{
    public async Task<MetricsReading> ReadAsync(CancellationToken ct)
    {
        var extra = string.IsNullOrWhiteSpace(match) ? "" : "," + match.Trim();
        var errors = new List<string>();
        List<(string Instance, PrometheusSample Sample)> samples;
        try
        {
            samples = await QueryAsync($"{{__name__=~\"{string.Join('|', NodeSnapshot.SeriesRead)}\"{extra}}}", ct).ConfigureAwait(false);
            foreach (var (instance, up) in await QueryAsync($"up{{{extra.TrimStart(',')}}}", ct).ConfigureAwait(false))
                if (up.Value != 1) errors.Add($"{instance}: Prometheus's last scrape of it failed (up {up.Value})");
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or InvalidOperationException || (e is TaskCanceledException && !ct.IsCancellationRequested))
        {
            return new MetricsReading(new Dictionary<string, NodeSnapshot>(), [$"{prometheus}: {e.Message}"]);
        }
        var nodes = samples.GroupBy(s => s.Instance)
            .ToDictionary(g => g.Key, g => NodeSnapshot.Parse(flag, g.Select(s => s.Sample).ToList()));
        return new MetricsReading(nodes, errors);
    }

    private async Task<List<(string Instance, PrometheusSample Sample)>> QueryAsync(string query, CancellationToken ct)
    {
        using var response = await http.GetAsync(new Uri(prometheus, "/api/v1/query?query=" + Uri.EscapeDataString(query)), ct).ConfigureAwait(false);
        using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false), cancellationToken: ct).ConfigureAwait(false);
        var root = json.RootElement;
        if (root.GetProperty("status").GetString() != "success")
            throw new InvalidOperationException($"Prometheus refused the query {query}: {(root.TryGetProperty("error", out var error) ? error.GetString() : response.StatusCode.ToString())}");
        var result = new List<(string, PrometheusSample)>();
        foreach (var item in root.GetProperty("data").GetProperty("result").EnumerateArray())
        {
            var labels = item.GetProperty("metric").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "", StringComparer.Ordinal);
            var name = labels.Remove("__name__", out var n) ? n : "up";
            var instance = labels.Remove("instance", out var i) ? i : "";
            labels.Remove("job");
            var value = PrometheusText.ParseValue(item.GetProperty("value")[1].GetString() ?? "NaN");
            result.Add((instance, new PrometheusSample(name, labels, value)));
        }
        return result;
    }
}
