using Parley.Server.Observability;

namespace Parley.Server.Tests.Observability;

[Trait("Category", "Smoke")]
public sealed class PrometheusNamingTests
{
    [Theory]
    [InlineData("http.server.request.duration", "s", InstrumentKind.Histogram, "http_server_request_duration_seconds")]
    [InlineData("parley.cache.lookup", "ms", InstrumentKind.Histogram, "parley_cache_lookup_milliseconds")]
    [InlineData("parley.payload.size", "By", InstrumentKind.Histogram, "parley_payload_size_bytes")]
    [InlineData("parley.messages.sent", "{message}", InstrumentKind.Counter, "parley_messages_sent_total")]
    [InlineData("parley.messages.sent", null, InstrumentKind.Counter, "parley_messages_sent_total")]
    [InlineData("parley.requests_total", "{request}", InstrumentKind.Counter, "parley_requests_total")]
    [InlineData("dotnet.process.cpu.time", "s", InstrumentKind.Counter, "dotnet_process_cpu_time_seconds_total")]
    [InlineData("dotnet.gc.heap.total_allocated", "By", InstrumentKind.Counter, "dotnet_gc_heap_total_allocated_bytes_total")]
    [InlineData("kestrel.active-connections", "{connection}", InstrumentKind.Gauge, "kestrel_active_connections")]
    [InlineData("parley.wait_seconds", "s", InstrumentKind.Histogram, "parley_wait_seconds")]
    [InlineData("parley.pool.usage", "1", InstrumentKind.Gauge, "parley_pool_usage_ratio")]
    [InlineData("parley.retries", "1", InstrumentKind.Counter, "parley_retries_total")]
    [InlineData("parley.network.io", "By/s", InstrumentKind.Gauge, "parley_network_io_bytes_per_second")]
    [InlineData("parley.events.rate", "{event}/s", InstrumentKind.Gauge, "parley_events_rate_per_second")]
    [InlineData("parley.memory", "MiBy", InstrumentKind.Gauge, "parley_memory_mebibytes")]
    [InlineData("parley.temperature", "Cel", InstrumentKind.Gauge, "parley_temperature_celsius")]
    [InlineData("dotnet.assembly.count", "{assembly}", InstrumentKind.Gauge, "dotnet_assembly_count_value")]
    [InlineData("parley.weird", "furlongs", InstrumentKind.Gauge, "parley_weird_furlongs")]
    public void Instrument_names_and_units_become_prometheus_names(string name, string? unit, InstrumentKind kind, string expected)
    {
        using var scope = new IsolatedMeter();
        switch (kind)
        {
            case InstrumentKind.Counter:
                scope.Meter.CreateCounter<long>(name, unit).Add(1);
                break;
            case InstrumentKind.Gauge:
                scope.Meter.CreateGauge<long>(name, unit).Record(1);
                break;
            default:
                scope.Meter.CreateHistogram<double>(name, unit).Record(1);
                break;
        }

        string type = kind == InstrumentKind.Histogram ? "histogram" : kind == InstrumentKind.Counter ? "counter" : "gauge";
        string text = scope.Scrape();
        Assert.True(text.Contains($"# TYPE {expected} {type}\n", StringComparison.Ordinal), $"no family {expected} in:\n{text}");
    }

    [Theory]
    [InlineData("http.request.method", "http_request_method")]
    [InlineData("http.response.status_code", "http_response_status_code")]
    [InlineData("error-type", "error_type")]
    public void Tag_keys_become_valid_label_names(string key, string expected)
    {
        using var scope = new IsolatedMeter();
        scope.Meter.CreateCounter<long>("parley.test.tagged").Add(1, new KeyValuePair<string, object?>(key, "v"));

        Assert.Contains($"parley_test_tagged_total{{{expected}=\"v\"}} 1", scope.Scrape(), StringComparison.Ordinal);
    }

    [Fact]
    public void Tags_render_sorted_and_a_null_tag_as_an_empty_label()
    {
        using var scope = new IsolatedMeter();
        scope.Meter.CreateCounter<long>("parley.test.tagged").Add(1, new("z", "last"), new("a.b", 1), new("skip", null), new("flag", true), new("ratio", 0.5));

        Assert.Contains("parley_test_tagged_total{a_b=\"1\",flag=\"true\",ratio=\"0.5\",skip=\"\",z=\"last\"} 1", scope.Scrape(), StringComparison.Ordinal);
    }
}

/// <summary>The kind of instrument a theory creates.</summary>
public enum InstrumentKind
{
    Counter,
    Gauge,
    Histogram,
}
