using System.Diagnostics;
using System.Diagnostics.Metrics;
using Parley.Server.Observability;

namespace Parley.Server.Tests.Observability;

/// <summary>A meter with a unique name and an exporter that listens to it alone.</summary>
internal sealed class IsolatedMeter : IDisposable
{
    public IsolatedMeter(Action<PrometheusExporterOptions>? configure = null)
    {
        Meter = new Meter("Parley.Tests." + Guid.NewGuid().ToString("N"));
        var options = new PrometheusExporterOptions();
        options.MeterNames.Clear();
        options.MeterNames.Add(Meter.Name);
        configure?.Invoke(options);
        Exporter = new PrometheusExporter(options);
    }

    public Meter Meter { get; }

    public PrometheusExporter Exporter { get; }

    public void Dispose()
    {
        Exporter.Dispose();
        Meter.Dispose();
    }
}

internal static class PrometheusAssert
{
    /// <summary>
    /// Checks what promtool 2.42 lets pass: each family has one HELP and one TYPE, before its samples,
    /// and all samples of a family are contiguous.
    /// </summary>
    public static void WellFormed(string text)
    {
        Assert.EndsWith("\n", text);
        var families = new HashSet<string>(StringComparer.Ordinal);
        string? family = null;
        string? type = null;
        foreach (string line in text.TrimEnd('\n').Split('\n'))
        {
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                family = line.Split(' ')[2];
                Assert.True(families.Add(family), $"family {family} is printed twice");
                type = null;
                continue;
            }

            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                string[] parts = line.Split(' ');
                Assert.Equal(family, parts[2]);
                Assert.Null(type);
                type = parts[3];
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
