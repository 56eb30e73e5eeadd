using System.Text;
using Parley.Kit.Load.Engine;
using Parley.Kit.Load.Http;

namespace Parley.Kit.Tests.Load;

/// <summary>The lean client's response parser on scripted reads: every split point, chunked bodies, bad input, limits.</summary>
[Trait("Category", "Smoke")]
public sealed class HttpResponseReaderTests
{
    private const string Plain = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nETag: W/\"7\"\r\nretry-after: 3\r\nContent-Length: 13\r\n\r\n{\"ok\":\"yes\"}\n";

    private const string Chunked = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nEtag: \"2\"\r\n\r\n"
        + "5\r\nhello\r\n1;ext=1\r\n,\r\nA\r\n world and\r\n0\r\nX-Trailer: t\r\n\r\n";

    private static byte[] Bytes(string text) => Encoding.ASCII.GetBytes(text);

    /// <summary>Hands out the script's reads one by one (each split further by the caller's buffer size), then end of stream.</summary>
    private sealed class ScriptedSource(IEnumerable<byte[]> reads) : IByteSource
    {
        private readonly Queue<byte[]> _reads = new(reads.Where(r => r.Length > 0));
        private int _offset;

        public ValueTask<int> ReceiveAsync(Memory<byte> buffer)
        {
            if (!_reads.TryPeek(out var read)) return ValueTask.FromResult(0);
            var n = Math.Min(buffer.Length, read.Length - _offset);
            read.AsSpan(_offset, n).CopyTo(buffer.Span);
            _offset += n;
            if (_offset == read.Length)
            {
                _reads.Dequeue();
                _offset = 0;
            }
            return ValueTask.FromResult(n);
        }
    }

    private static HttpResponseReader Reader(IEnumerable<byte[]> reads, int initialBuffer = 16 * 1024, int maxHeader = 1024, int maxBody = 1024) =>
        new(new ScriptedSource(reads), maxHeader, maxBody, initialBuffer);

    private static IEnumerable<byte[][]> Splits(byte[] bytes)
    {
        for (var at = 1; at < bytes.Length; at++) yield return [bytes[..at], bytes[at..]];
    }

    [Fact]
    public async Task A_content_length_response_parses_at_every_split_point()
    {
        var bytes = Bytes(Plain);
        foreach (var buffer in new[] { 16, 64, 16 * 1024 })
        {
            foreach (var reads in Splits(bytes))
            {
                using var reader = Reader(reads, buffer);
                var response = await reader.ReadAsync(headRequest: false, discardBody: false);

                Assert.Equal(200, response.Status);
                Assert.Equal("{\"ok\":\"yes\"}\n", Encoding.ASCII.GetString(response.Body));
                Assert.Equal("W/\"7\"", response.ETag);
                Assert.Equal(TimeSpan.FromSeconds(3), response.RetryAfter);
                Assert.True(reader.KeepAlive, $"split at {reads[0].Length}, buffer {buffer}");
            }
        }
    }

    [Theory]
    [InlineData("app;dur=12.5, cache;dur=0.75", 12.5, 0.75)]
    [InlineData("cache;dur=3,app;dur=4", 4.0, 3.0)]
    [InlineData("app;dur=2", 2.0, null)]
    [InlineData("db;dur=9, app;dur=x", null, null)]
    public async Task Server_timing_gives_the_app_and_cache_durations(string value, double? app, double? cache)
    {
        using var reader = Reader([Bytes($"HTTP/1.1 200 OK\r\nServer-Timing: {value}\r\nContent-Length: 0\r\n\r\n")]);
        var response = await reader.ReadAsync(headRequest: false, discardBody: false);
        Assert.Equal(app, response.ServerAppMs);
        Assert.Equal(cache, response.ServerCacheMs);
    }

    [Fact]
    public async Task A_chunked_response_parses_at_every_split_point_and_byte_by_byte()
    {
        var bytes = Bytes(Chunked);
        var scripts = Splits(bytes).Append(bytes.Select(b => new[] { b }).ToArray());
        foreach (var buffer in new[] { 16, 16 * 1024 })
        {
            foreach (var reads in scripts)
            {
                using var reader = Reader(reads, buffer);
                var response = await reader.ReadAsync(headRequest: false, discardBody: false);

                Assert.Equal(201, response.Status);
                Assert.Equal("hello, world and", Encoding.ASCII.GetString(response.Body));
                Assert.Equal("\"2\"", response.ETag);
                Assert.True(reader.KeepAlive);
            }
        }
    }

    [Fact]
    public async Task Two_responses_on_one_connection_parse_in_turn_whatever_the_split()
    {
        var bytes = Bytes(Plain + Chunked);
        foreach (var reads in Splits(bytes))
        {
            using var reader = Reader(reads, 64);
            var first = await reader.ReadAsync(false, false);
            var second = await reader.ReadAsync(false, false);

            Assert.Equal((200, 13), (first.Status, first.Body.Length));
            Assert.Equal((201, "hello, world and"), (second.Status, Encoding.ASCII.GetString(second.Body)));
        }
    }

    [Fact]
    public async Task A_discarded_body_is_read_off_the_connection_and_counted()
    {
        using var reader = Reader([Bytes(Plain + Chunked)]);

        var first = await reader.ReadAsync(false, discardBody: true);
        var second = await reader.ReadAsync(false, discardBody: true);

        Assert.Equal((200, 0, 13L), (first.Status, first.Body.Length, first.BodyLength));
        Assert.Equal((201, 0, 16L), (second.Status, second.Body.Length, second.BodyLength));
    }

    [Fact]
    public async Task Interim_and_bodiless_responses_have_no_body()
    {
        using var reader = Reader([Bytes("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")]);

        Assert.Equal(204, (await reader.ReadAsync(false, false)).Status);
        var head = await reader.ReadAsync(headRequest: true, discardBody: false);
        Assert.Equal((200, 0), (head.Status, head.Body.Length));
        Assert.True(reader.KeepAlive);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA")]
    public async Task A_response_that_ends_the_connection_says_so(string text)
    {
        using var reader = Reader([Bytes(text)]);

        await reader.ReadAsync(false, false);

        Assert.False(reader.KeepAlive);
    }

    [Fact]
    public async Task A_body_without_length_is_read_until_the_server_closes()
    {
        using var reader = Reader([Bytes("HTTP/1.1 200 OK\r\n\r\nuntil"), Bytes(" close")]);

        var response = await reader.ReadAsync(false, false);

        Assert.Equal("until close", Encoding.ASCII.GetString(response.Body));
        Assert.False(reader.KeepAlive);
    }

    [Theory]
    [InlineData("HTTP/1.1 20 OK\r\n\r\n")]
    [InlineData("HTTP/2 200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 2x0 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 200OK\r\n\r\n")]
    [InlineData("SSH-2.0-OpenSSH_9.6\r\n\r\n")]
    [InlineData("\r\n\r\n")]
    public async Task A_malformed_status_line_fails_with_what_was_received(string text)
    {
        using var reader = Reader([Bytes(text)]);

        var e = await Assert.ThrowsAsync<HttpRequestException>(() => reader.ReadAsync(false, false).AsTask());

        Assert.Equal(HttpRequestError.InvalidResponse, e.HttpRequestError);
        Assert.Contains("status line", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "header line")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n", "Content-Length")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "Content-Length")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", "CRLF")]
    public async Task Malformed_headers_and_chunks_fail_clearly(string text, string what)
    {
        using var reader = Reader([Bytes(text)]);

        var e = await Assert.ThrowsAsync<HttpRequestException>(() => reader.ReadAsync(false, false).AsTask());

        Assert.Equal(HttpRequestError.InvalidResponse, e.HttpRequestError);
        Assert.Contains(what, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Headers_over_the_limit_fail_with_the_limit_named(bool terminated)
    {
        var headers = "HTTP/1.1 200 OK\r\n" + string.Concat(Enumerable.Range(0, 100).Select(i => $"X-Filler-{i}: {new string('x', 40)}\r\n"));
        using var reader = Reader([Bytes(headers + (terminated ? "\r\n" : ""))], initialBuffer: 256, maxHeader: 1024);

        var e = await Assert.ThrowsAsync<HttpRequestException>(() => reader.ReadAsync(false, false).AsTask());

        Assert.Equal(HttpRequestError.ConfigurationLimitExceeded, e.HttpRequestError);
        Assert.Contains("MaxHeaderBytes", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n")]
    public async Task A_body_over_the_limit_fails_with_the_limit_named(string head)
    {
        var text = head + new string('b', 1024) + "\r\n400\r\n" + new string('b', 1024);
        using var reader = Reader([Bytes(text)], maxBody: 1500);

        var e = await Assert.ThrowsAsync<HttpRequestException>(() => reader.ReadAsync(false, false).AsTask());

        Assert.Equal(HttpRequestError.ConfigurationLimitExceeded, e.HttpRequestError);
        Assert.Contains("MaxBodyBytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_connection_closed_before_the_answer_is_told_apart_from_one_closed_mid_body()
    {
        using var silent = Reader([]);
        var before = await Assert.ThrowsAsync<HttpRequestException>(() => silent.ReadAsync(false, false).AsTask());
        Assert.Equal(HttpRequestError.ResponseEnded, before.HttpRequestError);
        Assert.False(silent.ReceivedAny);

        using var cut = Reader([Bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")]);
        var during = await Assert.ThrowsAsync<HttpRequestException>(() => cut.ReadAsync(false, false).AsTask());
        Assert.Equal(HttpRequestError.ResponseEnded, during.HttpRequestError);
        Assert.True(cut.ReceivedAny);
    }

    [Fact]
    public void A_prepared_request_is_the_bytes_wrk_would_send()
    {
        using var client = new LoopbackHttpClient(new Uri("http://127.0.0.1:5000/api/"));

        var get = client.Prepare("GET", "v1/conversations?limit=50", bearer: "tok.en");
        var post = client.Prepare("POST", "/v1/x", headers: [("If-Match", "\"3\"")], body: "{}"u8);

        Assert.Equal("GET /api/v1/conversations?limit=50 HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nAuthorization: Bearer tok.en\r\n\r\n", get.ToString());
        Assert.Equal("POST /v1/x HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nIf-Match: \"3\"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", post.ToString());
    }

    [Theory]
    [InlineData("v1/a\r\nX-Injected: 1", null, null)]
    [InlineData("v1/a", "tok\nen", null)]
    [InlineData("v1/a", null, "caf\u00e9")]
    public void A_request_that_would_break_the_framing_is_refused(string path, string? bearer, string? header)
    {
        using var client = new LoopbackHttpClient(new Uri("http://127.0.0.1:5000/"));

        Assert.Throws<ArgumentException>(() => client.Prepare("GET", path, bearer, header is null ? null : [("X-Name", header)]));
    }

    [Theory]
    [InlineData("http://example.com/")]
    [InlineData("http://10.0.0.1:8080/")]
    [InlineData("https://127.0.0.1:8443/")]
    public void Only_plain_http_on_loopback_is_accepted(string url)
    {
        Assert.Throws<LoadConfigurationException>(() => new LoopbackHttpClient(new Uri(url)));
    }
}
