using System.Diagnostics.Metrics;
using Parley.Server.Observability;

namespace Parley.Server.Tests.Observability;

[Trait("Category", "Smoke")]
public sealed class PrometheusExporterTests
{
    [Fact]
    public void Counters_and_histograms_with_tags_render_exactly()
    {
        using var scope = new IsolatedMeter();
        Counter<long> requests = scope.Meter.CreateCounter<long>("parley.test.requests", "{request}", "Requests handled.");
        Histogram<double> duration = scope.Meter.CreateHistogram<double>(
            "parley.test.request.duration", "s", "Request duration.", tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.125, 1] });

        requests.Add(1, new("method", "GET"), new("status", 200));
        requests.Add(1, new("status", 200), new("method", "GET"));
        requests.Add(1, new("method", "POST"), new("status", 201));
        duration.Record(0.125, new KeyValuePair<string, object?>("method", "GET"));
        duration.Record(0.5, new KeyValuePair<string, object?>("method", "GET"));
        duration.Record(2, new KeyValuePair<string, object?>("method", "GET"));

        Assert.Equal(
            """
            # TYPE parley_test_request_duration_seconds histogram
            # HELP parley_test_request_duration_seconds Request duration.
            parley_test_request_duration_seconds_bucket{method="GET",le="0.125"} 1
            parley_test_request_duration_seconds_bucket{method="GET",le="1"} 2
            parley_test_request_duration_seconds_bucket{method="GET",le="+Inf"} 3
            parley_test_request_duration_seconds_sum{method="GET"} 2.625
            parley_test_request_duration_seconds_count{method="GET"} 3
            # TYPE parley_test_requests_total counter
            # HELP parley_test_requests_total Requests handled.
            parley_test_requests_total{method="GET",status="200"} 2
            parley_test_requests_total{method="POST",status="201"} 1

            """.ReplaceLineEndings("\n"),
            scope.Scrape());
    }

    [Fact]
    public void Histogram_buckets_are_cumulative_and_count_equals_the_inf_bucket()
    {
        using var scope = new IsolatedMeter();
        Histogram<int> sizes = scope.Meter.CreateHistogram<int>(
            "parley.test.size", "By", "Sizes.", tags: null,
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [10, 100, 1000] });

        foreach (int value in new[] { 0, 10, 11, 100, 101, 999, 1000, 1001, 5000, -3 })
        {
            sizes.Record(value);
        }

        string text = scope.Scrape();

        Assert.Equal(3, PrometheusAssert.Sample(text, "parley_test_size_bytes_bucket{le=\"10\"}"));
        Assert.Equal(5, PrometheusAssert.Sample(text, "parley_test_size_bytes_bucket{le=\"100\"}"));
        Assert.Equal(8, PrometheusAssert.Sample(text, "parley_test_size_bytes_bucket{le=\"1000\"}"));
        Assert.Equal(10, PrometheusAssert.Sample(text, "parley_test_size_bytes_bucket{le=\"+Inf\"}"));
        Assert.Equal(10, PrometheusAssert.Sample(text, "parley_test_size_bytes_count"));
        Assert.Equal(8219, PrometheusAssert.Sample(text, "parley_test_size_bytes_sum"));
    }

    [Theory]
    [InlineData("s", "0.001", "10")]
    [InlineData("ms", "1", "10000")]
    [InlineData("By", "0", "10000")]
    public void Histograms_without_advice_get_buckets_suited_to_their_unit(string unit, string firstBound, string lastBound)
    {
        using var scope = new IsolatedMeter();
        Histogram<double> histogram = scope.Meter.CreateHistogram<double>("parley.test.latency", unit);
        histogram.Record(1);

        string[] bounds = scope.Scrape().Split('\n')
            .Where(l => l.Contains("_bucket{", StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf("le=\"", StringComparison.Ordinal) + 4)..l.LastIndexOf('"')])
            .ToArray();

        Assert.Equal(firstBound, bounds[0]);
        Assert.Equal(lastBound, bounds[^2]);
        Assert.Equal("+Inf", bounds[^1]);
    }

    [Fact]
    public void Observable_instruments_are_collected_at_each_scrape()
    {
        using var scope = new IsolatedMeter();
        double depth = 3;
        bool reportReplica = true;
        scope.Meter.CreateObservableGauge("parley.test.queue.depth", () => depth, "{item}", "Queue depth.");
        scope.Meter.CreateObservableCounter("parley.test.flushes", () => (long)depth * 10, "{flush}", "Flushes.");
        scope.Meter.CreateObservableUpDownCounter("parley.test.connections", () =>
            reportReplica
                ? new[] { new Measurement<int>(4, new KeyValuePair<string, object?>("pool", "primary")), new Measurement<int>(2, new KeyValuePair<string, object?>("pool", "replica")) }
                : new[] { new Measurement<int>(5, new KeyValuePair<string, object?>("pool", "primary")) });

        string first = scope.Scrape();
        depth = 7;
        reportReplica = false;
        string second = scope.Scrape();

        Assert.Equal(3, PrometheusAssert.Sample(first, "parley_test_queue_depth"));
        Assert.Equal(30, PrometheusAssert.Sample(first, "parley_test_flushes_total"));
        Assert.Equal(2, PrometheusAssert.Sample(first, "parley_test_connections{pool=\"replica\"}"));
        Assert.Equal(7, PrometheusAssert.Sample(second, "parley_test_queue_depth"));
        Assert.Equal(70, PrometheusAssert.Sample(second, "parley_test_flushes_total"));
        Assert.Equal(5, PrometheusAssert.Sample(second, "parley_test_connections{pool=\"primary\"}"));
        Assert.DoesNotContain("pool=\"replica\"", second, StringComparison.Ordinal);
        Assert.Contains("# TYPE parley_test_queue_depth gauge", second, StringComparison.Ordinal);
        Assert.Contains("# TYPE parley_test_flushes_total counter", second, StringComparison.Ordinal);
    }

    [Fact]
    public void Up_down_counters_and_gauges_render_as_gauges()
    {
        using var scope = new IsolatedMeter();
        UpDownCounter<long> active = scope.Meter.CreateUpDownCounter<long>("parley.test.active", "{socket}");
        Gauge<double> lag = scope.Meter.CreateGauge<double>("parley.test.replica.lag", "s");
        active.Add(5);
        active.Add(-2);
        lag.Record(1.5);
        lag.Record(0.25);

        string text = scope.Scrape();

        Assert.Contains("# TYPE parley_test_active gauge", text, StringComparison.Ordinal);
        Assert.Equal(3, PrometheusAssert.Sample(text, "parley_test_active"));
        Assert.Equal(0.25, PrometheusAssert.Sample(text, "parley_test_replica_lag_seconds"));
    }

    [Fact]
    public void Label_values_are_escaped_in_the_output()
    {
        using var scope = new IsolatedMeter();
        Counter<int> errors = scope.Meter.CreateCounter<int>("parley.test.errors", description: "Errors\nby \\ reason.");
        errors.Add(1, new KeyValuePair<string, object?>("reason", "bad \"quote\" \\ and\nnewline"));

        string text = scope.Scrape();

        Assert.Contains("# HELP parley_test_errors_total Errors\\nby \\\\ reason.\n", text, StringComparison.Ordinal);
        Assert.Contains("parley_test_errors_total{reason=\"bad \\\"quote\\\" \\\\ and\\nnewline\"} 1\n", text, StringComparison.Ordinal);
        PrometheusAssert.WellFormed(text);
    }

    [Fact]
    public void Tag_sets_beyond_the_cap_share_one_overflow_series_and_nothing_is_lost()
    {
        using var scope = new IsolatedMeter();
        Counter<long> hits = scope.Meter.CreateCounter<long>("parley.test.hits");
        const int users = 2_100;
        for (int user = 0; user < users; user++)
        {
            hits.Add(1, new KeyValuePair<string, object?>("user", user));
            hits.Add(1, new KeyValuePair<string, object?>("user", user));
        }

        string text = scope.Scrape();
        string[] series = [.. text.Split('\n').Where(l => l.StartsWith("parley_test_hits_total{", StringComparison.Ordinal))];

        // 2,000 tag sets and the overflow series.
        Assert.Equal(2_001, series.Length);
        Assert.Equal(2, PrometheusAssert.Sample(text, "parley_test_hits_total{user=\"9\"}"));
        Assert.Equal(2 * users, series.Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Contains("parley_test_hits_total{otel_metric_overflow=\"true\"}", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Concurrent_recording_keeps_exact_totals()
    {
        using var scope = new IsolatedMeter();
        Counter<long> sent = scope.Meter.CreateCounter<long>("parley.test.sent");
        Histogram<double> latency = scope.Meter.CreateHistogram<double>(
            "parley.test.latency", "s", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.5] });
        const int threads = 8;
        const int perThread = 50_000;
        // A meter with nothing recorded yet exports no series (an empty body): the scraper starts once both have one.
        sent.Add(0, new KeyValuePair<string, object?>("shard", "primer"));
        latency.Record(0.25, new KeyValuePair<string, object?>("shard", "primer"));
        using var stop = new CancellationTokenSource();
        Task scraper = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                PrometheusAssert.WellFormed(scope.Scrape());
            }
        });

        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            var shard = new KeyValuePair<string, object?>("shard", t % 4);
            for (int i = 0; i < perThread; i++)
            {
                sent.Add(1, shard);
                latency.Record(i % 2 == 0 ? 0.25 : 1.0, shard);
            }
        });
        stop.Cancel();
        await scraper;

        string text = scope.Scrape();
        for (int shard = 0; shard < 4; shard++)
        {
            string labels = $"shard=\"{shard}\"";
            Assert.Equal(2 * perThread, PrometheusAssert.Sample(text, $"parley_test_sent_total{{{labels}}}"));
            Assert.Equal(perThread, PrometheusAssert.Sample(text, $"parley_test_latency_seconds_bucket{{{labels},le=\"0.5\"}}"));
            Assert.Equal(2 * perThread, PrometheusAssert.Sample(text, $"parley_test_latency_seconds_count{{{labels}}}"));
            Assert.Equal(perThread * 1.25, PrometheusAssert.Sample(text, $"parley_test_latency_seconds_sum{{{labels}}}"));
        }
    }

    [Fact]
    public void Recording_an_existing_series_does_not_allocate()
    {
        using var scope = new IsolatedMeter();
        Counter<long> sent = scope.Meter.CreateCounter<long>("parley.test.sent");
        Histogram<double> latency = scope.Meter.CreateHistogram<double>("parley.test.latency", "s");
        var method = new KeyValuePair<string, object?>("http.request.method", "GET");
        var route = new KeyValuePair<string, object?>("http.route", "/v1/conversations/{id}/messages");
        var status = new KeyValuePair<string, object?>("http.response.status_code", 200);
        sent.Add(1, method, route, status);
        latency.Record(0.01, method, route, status);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            sent.Add(1, method, route, status);
            latency.Record(0.01, method, route, status);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(allocated < 1_000, $"recording 20,000 measurements allocated {allocated} bytes; the hot path should allocate nothing");
        Assert.Contains("parley_test_sent_total{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/v1/conversations/{id}/messages\"} 10001\n", scope.Scrape(), StringComparison.Ordinal);
    }

    [Fact]
    public void Instruments_of_one_name_share_one_family()
    {
        using var scope = new IsolatedMeter(SecondMeterName);
        using var other = new Meter(SecondMeterName);
        scope.Meter.CreateCounter<long>("parley.test.shared", description: "First.").Add(1, new KeyValuePair<string, object?>("node", "a"));
        other.CreateCounter<long>("parley.test.shared", description: "Second.").Add(2, new KeyValuePair<string, object?>("node", "b"));

        string text = scope.Scrape();

        PrometheusAssert.WellFormed(text);
        Assert.Equal(1, PrometheusAssert.Sample(text, "parley_test_shared_total{node=\"a\"}"));
        Assert.Equal(2, PrometheusAssert.Sample(text, "parley_test_shared_total{node=\"b\"}"));
    }

    [Fact]
    public void Instruments_of_a_disposed_meter_leave_the_output()
    {
        using var scope = new IsolatedMeter(SecondMeterName);
        var other = new Meter(SecondMeterName);
        other.CreateCounter<long>("parley.test.transient").Add(1);
        Assert.Contains("parley_test_transient_total 1", scope.Scrape(), StringComparison.Ordinal);

        other.Dispose();
        scope.Scrape(); // OpenTelemetry exports a disposed instrument's last values once more

        Assert.DoesNotContain("parley_test_transient", scope.Scrape(), StringComparison.Ordinal);
    }

    [Fact]
    public void Meters_outside_the_configured_names_are_ignored()
    {
        using var scope = new IsolatedMeter();
        using var other = new Meter("Elsewhere." + Guid.NewGuid().ToString("N"));
        other.CreateCounter<long>("elsewhere.count").Add(1);

        Assert.DoesNotContain("elsewhere", scope.Scrape(), StringComparison.Ordinal);
    }

    private static readonly string SecondMeterName = "IsolatedTests.Other." + Guid.NewGuid().ToString("N");
}
