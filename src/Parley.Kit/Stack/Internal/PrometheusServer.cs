using System.Globalization;
using System.Text.Json;

namespace Parley.Kit.Stack.Internal;

/// <summary>
/// Debian's Prometheus server scraping the stack's Parley nodes (and observers): its targets are a file
/// (<c>file_sd_configs</c>) that <see cref="SetTargets"/> rewrites, which Prometheus watches and applies at once, so nodes
/// that start after it are scraped without a reload. Ready once <c>/-/ready</c> answers 200. Its samples live in the
/// component's directory for a day (a local stack's history, not a monitoring system's).
/// </summary>
internal sealed class PrometheusServer(string dataDirectory, StackEnvironment env, string prometheus, TimeSpan scrapeInterval)
    : ComponentDriver(StackComponentKind.Prometheus, dataDirectory, env)
{
    /// <summary>The <c>job</c> label of every target the stack gives it.</summary>
    public const string Job = "parley";

    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    protected override string PidFile => Path.Combine(Directory, "prometheus.pid");

    protected override string ProcessName => "prometheus";

    private string ConfigFile => Path.Combine(Directory, "prometheus.yml");

    private string TargetsFile => Path.Combine(Directory, "targets.json");

    protected override Task PrepareAsync(CancellationToken ct)
    {
        System.IO.Directory.CreateDirectory(Directory);
        return Task.CompletedTask;
    }

    protected override Task LaunchAsync(CancellationToken ct)
    {
        var seconds = Math.Max(1, (int)Math.Round(scrapeInterval.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        WriteConfig(ConfigFile, $"""
            global:
              scrape_interval: {seconds}s
              scrape_timeout: {seconds}s
            scrape_configs:
              - job_name: {Job}
                file_sd_configs:
                  - files: ['{TargetsFile}']
            """);
        if (!File.Exists(TargetsFile)) SetTargets([]);
        DeleteStalePidFile();
        LaunchInOwnSession(prometheus,
        [
            $"--config.file={ConfigFile}", $"--storage.tsdb.path={Path.Combine(Directory, "data")}", "--storage.tsdb.retention.time=1d",
            $"--web.listen-address=127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}",
        ]);
        return Task.CompletedTask;
    }

    protected override async Task<bool> ProbeAsync(CancellationToken ct) =>
        (await LoopbackProbe.ExchangeAsync(Port, "GET /-/ready HTTP/1.0\r\n\r\n"u8.ToArray(), ProbeTimeout, ct).ConfigureAwait(false))
            ?.Split('\n')[0].Contains(" 200 ", StringComparison.Ordinal) == true;

    /// <summary>Replaces what Prometheus scrapes (each target's <c>/metrics</c>; loopback only). Written whole, then renamed, so it never reads half a file.</summary>
    public void SetTargets(IEnumerable<Uri> targets)
    {
        var hosts = targets.Select(t => t.IsLoopback ? $"{t.Host}:{t.Port.ToString(CultureInfo.InvariantCulture)}" : throw new ArgumentException($"{t} is not on loopback."))
            .Distinct().ToList();
        var json = JsonSerializer.Serialize(new[] { new { targets = hosts, labels = new Dictionary<string, string> { ["job"] = Job } } });
        var temp = TargetsFile + ".tmp";
        WriteConfig(temp, json);
        File.Move(temp, TargetsFile, overwrite: true);
    }
}
