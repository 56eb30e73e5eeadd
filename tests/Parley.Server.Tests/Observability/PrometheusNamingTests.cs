using Parley.Server.Observability;

namespace Parley.Server.Tests.Observability;

[Trait("Category", "Smoke")]
public sealed class PrometheusNamingTests
{
    [Theory]
    [InlineData("http.server.request.duration", "s", PrometheusMetricKind.Histogram, "http_server_request_duration_seconds")]
    [InlineData("parley.cache.lookup", "ms", PrometheusMetricKind.Histogram, "parley_cache_lookup_milliseconds")]
    [InlineData("parley.payload.size", "By", PrometheusMetricKind.Histogram, "parley_payload_size_bytes")]
    [InlineData("parley.messages.sent", "{message}", PrometheusMetricKind.Counter, "parley_messages_sent_total")]
    [InlineData("parley.messages.sent", null, PrometheusMetricKind.Counter, "parley_messages_sent_total")]
    [InlineData("parley.requests_total", "{request}", PrometheusMetricKind.Counter, "parley_requests_total")]
    [InlineData("dotnet.process.cpu.time", "s", PrometheusMetricKind.Counter, "dotnet_process_cpu_time_seconds_total")]
    [InlineData("dotnet.gc.heap.total_allocated", "By", PrometheusMetricKind.Counter, "dotnet_gc_heap_total_allocated_bytes_total")]
    [InlineData("kestrel.active-connections", "{connection}", PrometheusMetricKind.Gauge, "kestrel_active_connections")]
    [InlineData("parley.wait_seconds", "s", PrometheusMetricKind.Histogram, "parley_wait_seconds")]
    [InlineData("parley.pool.usage", "1", PrometheusMetricKind.Gauge, "parley_pool_usage_ratio")]
    [InlineData("parley.retries", "1", PrometheusMetricKind.Counter, "parley_retries_total")]
    [InlineData("parley.network.io", "By/s", PrometheusMetricKind.Gauge, "parley_network_io_bytes_per_second")]
    [InlineData("parley.events.rate", "{event}/s", PrometheusMetricKind.Gauge, "parley_events_rate_per_second")]
    [InlineData("parley.memory", "MiBy", PrometheusMetricKind.Gauge, "parley_memory_mebibytes")]
    [InlineData("parley.temperature", "Cel", PrometheusMetricKind.Gauge, "parley_temperature_celsius")]
    [InlineData("parley.queueDepth", "{item}", PrometheusMetricKind.Gauge, "parley_queue_depth")]
    [InlineData("dotnet.assembly.count", "{assembly}", PrometheusMetricKind.Gauge, "dotnet_assembly_count_value")]
    [InlineData("parley..odd--name.", "", PrometheusMetricKind.Gauge, "parley_odd_name")]
    [InlineData("9lives", "", PrometheusMetricKind.Gauge, "_9lives")]
    [InlineData("parley:ns.metric", "", PrometheusMetricKind.Gauge, "parley:ns_metric")]
    [InlineData("parley.weird", "furlongs", PrometheusMetricKind.Gauge, "parley_weird_furlongs")]
    public void Instrument_names_and_units_become_prometheus_names(string name, string? unit, PrometheusMetricKind kind, string expected)
    {
        Assert.Equal(expected, PrometheusNaming.MetricName(name, unit, kind.ToType()));
    }

    [Theory]
    [InlineData("http.request.method", "http_request_method")]
    [InlineData("http.response.status_code", "http_response_status_code")]
    [InlineData("error-type", "error_type")]
    [InlineData("conversationKind", "conversation_kind")]
    [InlineData("1st", "_1st")]
    [InlineData("a:b", "a_b")]
    [InlineData("ünïcode", "n_code")]
    public void Tag_keys_become_valid_label_names(string key, string expected)
    {
        Assert.Equal(expected, PrometheusNaming.LabelName(key));
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("back\\slash", "back\\\\slash")]
    [InlineData("say \"hi\"", "say \\\"hi\\\"")]
    [InlineData("two\nlines", "two\\nlines")]
    [InlineData("all \\ \" \n", "all \\\\ \\\" \\n")]
    public void Label_values_escape_backslash_quote_and_newline(string value, string expected)
    {
        Assert.Equal(expected, LabelSetBuilder.Escape(value));
    }

    [Fact]
    public void Help_text_escapes_backslash_and_newline()
    {
        Assert.Equal("a \\\\ b\\nc \"q\"", PrometheusNaming.EscapeHelp("a \\ b\nc \"q\""));
    }

    [Fact]
    public void Tags_render_sorted_without_nulls_or_repeated_names()
    {
        KeyValuePair<string, object?>[] tags =
        [
            new("z", "last"),
            new("a.b", 1),
            new("skip", null),
            new("a_b", "again"),
            new("flag", true),
            new("ratio", 0.5),
        ];

        string rendered = LabelSetBuilder.Current.Build(tags).ToString();

        Assert.Equal("a_b=\"1\",flag=\"true\",ratio=\"0.5\",z=\"last\"", rendered);
    }

    [Fact]
    public void A_histogram_tag_named_le_is_renamed()
    {
        KeyValuePair<string, object?>[] tags = [new("le", "x"), new("a", "y")];

        Assert.Equal("a=\"y\",le_=\"x\"", LabelSetBuilder.Current.Build(tags, histogram: true).ToString());
        Assert.Equal("a=\"y\",le=\"x\"", LabelSetBuilder.Current.Build(tags).ToString());
    }

    [Theory]
    [InlineData("Parley*", "Parley", true)]
    [InlineData("Parley*", "Parley.Messages", true)]
    [InlineData("Parley*", "ParleyX", true)]
    [InlineData("Parley*", "Other", false)]
    [InlineData("Npgsql", "Npgsql", true)]
    [InlineData("Npgsql", "Npgsql.Pool", true)]
    [InlineData("Npgsql", "NpgsqlX", false)]
    [InlineData("System.Runtime", "System", false)]
    public void Meter_names_match_by_prefix(string pattern, string meterName, bool expected)
    {
        Assert.Equal(expected, PrometheusExporter.MatchesMeterName(pattern, meterName));
    }
}

/// <summary>A public mirror of the internal metric type, so that theories can take it.</summary>
public enum PrometheusMetricKind
{
    Counter,
    Gauge,
    Histogram,
}

internal static class PrometheusMetricKindExtensions
{
    public static PrometheusMetricType ToType(this PrometheusMetricKind kind) => (PrometheusMetricType)(int)kind;
}
