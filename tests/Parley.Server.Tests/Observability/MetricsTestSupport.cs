using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Parley.Server.Observability;

namespace Parley.Server.Tests.Observability;

/// <summary>A host of its own that exports only the given meters on <c>/metrics</c>, the way the server does.</summary>
internal sealed class MetricsHost : IDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _client;

    public MetricsHost(IEnumerable<string> meters)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Services.AddPrometheusExporter(meters);
        _app = builder.Build();
        _app.MapPrometheusMetrics();
        _app.StartAsync().GetAwaiter().GetResult();
        _client = _app.GetTestClient();
    }

    public IServiceProvider Services => _app.Services;

    /// <summary>What <c>GET /metrics</c> answers now.</summary>
    public string Scrape() => _client.GetStringAsync("/metrics").GetAwaiter().GetResult();

    public void Dispose()
    {
        _client.Dispose();
        _app.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}

/// <summary>A meter with a unique name and a host that exports it (and <paramref name="otherMeters"/>) alone.</summary>
internal sealed class IsolatedMeter : IDisposable
{
    private readonly MetricsHost _host;

    public IsolatedMeter(params string[] otherMeters)
    {
        // Not under "Parley*": every other host in the test process exports the meters matching its defaults, and this
        // one's test instruments (e.g. a millisecond histogram promtool refuses) would show up in their scrapes.
        Meter = new Meter("IsolatedTests." + Guid.NewGuid().ToString("N"));
        _host = new MetricsHost([Meter.Name, .. otherMeters]);
    }

    public Meter Meter { get; }

    public string Scrape() => _host.Scrape();

    public void Dispose()
    {
        _host.Dispose();
        Meter.Dispose();
    }
}

internal static class PrometheusAssert
{
    /// <summary>
    /// Checks what promtool 2.42 lets pass: each family has one HELP and one TYPE (in either order), before its
    /// samples, and all samples of a family are contiguous.
    /// </summary>
    public static void WellFormed(string text)
    {
        Assert.EndsWith("\n", text);
        var families = new HashSet<string>(StringComparer.Ordinal);
        string? family = null;
        string? type = null;
        bool help = false;
        foreach (string line in text.TrimEnd('\n').Split('\n'))
        {
            bool isHelp = line.StartsWith("# HELP ", StringComparison.Ordinal);
            if (isHelp || line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                string[] parts = line.Split(' ');
                if (parts[2] != family)
                {
                    family = parts[2];
                    Assert.True(families.Add(family), $"family {family} is printed twice");
                    type = null;
                    help = false;
                }

                if (isHelp)
                {
                    Assert.False(help, $"family {family} has two HELP lines");
                    help = true;
                }
                else
                {
                    Assert.Null(type);
                    type = parts[3];
                }

                continue;
            }

            Assert.NotNull(family);
            Assert.NotNull(type);
            string sampleName = line[..line.IndexOfAny(['{', ' '])];
            bool belongs = type == "histogram"
                ? sampleName == family + "_bucket" || sampleName == family + "_sum" || sampleName == family + "_count"
                : sampleName == family;
            Assert.True(belongs, $"sample line '{line}' is outside its family (current family {family})");
        }
    }

    /// <summary>The value of the sample line that starts with <paramref name="prefix"/> (name and labels).</summary>
    public static double Sample(string text, string prefix)
    {
        string? line = text.Split('\n').SingleOrDefault(l => l.StartsWith(prefix + " ", StringComparison.Ordinal));
        Assert.True(line is not null, $"no sample '{prefix}' in:\n{text}");
        return double.Parse(line[(prefix.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>Runs <c>promtool check metrics</c>; skipped only where promtool is not installed.</summary>
internal static class Promtool
{
    public static readonly string? Path = Find();

    public static (int ExitCode, string Output) CheckMetrics(string text)
    {
        using var process = Process.Start(new ProcessStartInfo(Path!, "check metrics")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        process.StandardInput.Write(text);
        process.StandardInput.Close();
        Assert.True(process.WaitForExit(30_000), "promtool did not finish within 30 s");
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private static string? Find() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => System.IO.Path.Combine(dir, "promtool"))
            .FirstOrDefault(File.Exists);
}

/// <summary>A fact that needs promtool (Debian package <c>prometheus</c>).</summary>
public sealed class PromtoolFactAttribute : FactAttribute
{
    public PromtoolFactAttribute()
    {
        if (Promtool.Path is null)
        {
            Skip = "promtool is not on PATH; install it with `apt-get install -y prometheus` to check the exporter's output.";
        }
    }
}
