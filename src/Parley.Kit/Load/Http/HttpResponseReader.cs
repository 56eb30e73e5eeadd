using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace Parley.Kit.Load.Http;

/// <summary>Where a <see cref="HttpResponseReader"/> gets its bytes: a socket, or a script of reads in tests.</summary>
internal interface IByteSource
{
    /// <summary>Receives at least one byte into <paramref name="buffer"/>, or returns 0 at end of stream.</summary>
    ValueTask<int> ReceiveAsync(Memory<byte> buffer);
}

/// <summary>
/// Reads HTTP/1.1 responses off one connection: status line, headers (Content-Length, chunked Transfer-Encoding,
/// Connection, ETag, Retry-After), then the body. A pooled read buffer with a start and an end (the shape of npgsql's
/// read buffer); Content-Length bodies are received straight into their array; headers and trailers are bounded by
/// <see cref="LoopbackHttpOptions.MaxHeaderBytes"/>, bodies by <see cref="LoopbackHttpOptions.MaxBodyBytes"/>.
/// Not thread-safe: one response at a time.
/// </summary>
internal sealed class HttpResponseReader(IByteSource source, int maxHeaderBytes, int maxBodyBytes, int initialBuffer = 16 * 1024) : IDisposable
{
    private const int MaxChunkLine = 1024;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(Math.Min(initialBuffer, maxHeaderBytes + 4));
    private int _start;
    private int _end;

    /// <summary>Whether any byte of the response being read has arrived (a failure before that is safe to retry).</summary>
    public bool ReceivedAny { get; private set; }

    /// <summary>After a response: whether the connection may carry the next request.</summary>
    public bool KeepAlive { get; private set; }

    private enum Framing
    {
        None,
        Length,
        Chunked,
        UntilClose,
    }

    private struct Head
    {
        public int Status;
        public bool KeepAlive;
        public Framing Framing;
        public long ContentLength;
        public string? ETag;
        public TimeSpan? RetryAfter;
        public double? ServerAppMs;
        public double? ServerCacheMs;
    }

    /// <summary>Reads one whole response. <paramref name="headRequest"/>: the request was HEAD, so no body follows.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<LoopbackHttpResponse> ReadAsync(bool headRequest, bool discardBody)
    {
        KeepAlive = false;
        ReceivedAny = _end > _start;
        if (_start == _end) _start = _end = 0;
        Head head;
        while (true)
        {
            var scanned = 0;
            int length;
            while ((length = _buffer.AsSpan(_start + scanned, _end - _start - scanned).IndexOf("\r\n\r\n"u8)) < 0)
            {
                scanned = Math.Max(0, _end - _start - 3);
                if (_end - _start >= maxHeaderBytes) throw HttpErrors.HeadersTooLarge(maxHeaderBytes);
                await FillAsync().ConfigureAwait(false);
            }
            length += scanned + 4;
            if (length > maxHeaderBytes) throw HttpErrors.HeadersTooLarge(maxHeaderBytes);
            head = ParseHead(_buffer.AsSpan(_start, length));
            _start += length;
            // 1xx interim responses (100 Continue, 103 Early Hints) precede the real one; 101 would switch protocols.
            if (head.Status is >= 100 and < 200 and not 101) continue;
            break;
        }
        if (headRequest || head.Status is (>= 100 and < 200) or 204 or 304) head.Framing = Framing.None;

        byte[] body;
        long bodyLength;
        switch (head.Framing)
        {
            case Framing.Length:
                if (head.ContentLength > maxBodyBytes) throw HttpErrors.BodyTooLarge(head.ContentLength, maxBodyBytes);
                bodyLength = head.ContentLength;
                body = discardBody ? [] : await ReadLengthAsync((int)head.ContentLength).ConfigureAwait(false);
                if (discardBody) await SkipAsync((int)head.ContentLength).ConfigureAwait(false);
                break;
            case Framing.Chunked:
                (body, bodyLength) = await ReadChunkedAsync(discardBody).ConfigureAwait(false);
                break;
            case Framing.UntilClose:
                (body, bodyLength) = await ReadUntilCloseAsync(discardBody).ConfigureAwait(false);
                head.KeepAlive = false;
                break;
            default:
                body = [];
                bodyLength = 0;
                break;
        }
        // Bytes beyond the response mean the framing and the server disagree; never read the next response from them.
        KeepAlive = head.KeepAlive && _start == _end;
        return new LoopbackHttpResponse(head.Status, body, head.ETag, head.RetryAfter, bodyLength)
        {
            ServerAppMs = head.ServerAppMs,
            ServerCacheMs = head.ServerCacheMs,
        };
    }

    private static Head ParseHead(ReadOnlySpan<byte> text)
    {
        var lineEnd = text.IndexOf("\r\n"u8);
        var status = text[..lineEnd];
        // HTTP/1.x SSS[ reason]
        if (status.Length < 12 || !status.StartsWith("HTTP/1."u8) || !char.IsAsciiDigit((char)status[7]) || status[8] != ' '
            || !char.IsAsciiDigit((char)status[9]) || !char.IsAsciiDigit((char)status[10]) || !char.IsAsciiDigit((char)status[11])
            || (status.Length > 12 && status[12] != ' '))
            throw HttpErrors.Malformed($"status line '{Printable(status)}'");
        var head = new Head
        {
            Status = (status[9] - '0') * 100 + (status[10] - '0') * 10 + (status[11] - '0'),
            KeepAlive = status[7] != '0',
            ContentLength = -1,
        };
        var chunked = false;
        var transferEncoding = false;
        var rest = text[(lineEnd + 2)..];
        while (true)
        {
            lineEnd = rest.IndexOf("\r\n"u8);
            var line = rest[..lineEnd];
            rest = rest[(lineEnd + 2)..];
            if (line.IsEmpty) break;
            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || line[0] is (byte)' ' or (byte)'\t' || line[colon - 1] is (byte)' ' or (byte)'\t')
                throw HttpErrors.Malformed($"header line '{Printable(line)}'");
            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(" \t"u8);
            switch (name.Length)
            {
                case 14 when Ascii.EqualsIgnoreCase(name, "Content-Length"u8):
                    if (!Utf8Parser.TryParse(value, out long contentLength, out var used) || used != value.Length || contentLength < 0
                        || (head.ContentLength >= 0 && head.ContentLength != contentLength))
                        throw HttpErrors.Malformed($"Content-Length '{Printable(value)}'");
                    head.ContentLength = contentLength;
                    break;
                case 17 when Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8):
                    transferEncoding = true;
                    // Chunked must be the last coding; anything else is read until the server closes.
                    chunked = value.Length >= 7 && Ascii.EqualsIgnoreCase(value[^7..], "chunked"u8);
                    break;
                case 10 when Ascii.EqualsIgnoreCase(name, "Connection"u8):
                    if (HasToken(value, "close"u8)) head.KeepAlive = false;
                    else if (HasToken(value, "keep-alive"u8)) head.KeepAlive = true;
                    break;
                case 4 when Ascii.EqualsIgnoreCase(name, "ETag"u8):
                    head.ETag = Encoding.Latin1.GetString(value);
                    break;
                case 11 when Ascii.EqualsIgnoreCase(name, "Retry-After"u8):
                    head.RetryAfter = ParseRetryAfter(value);
                    break;
                case 13 when Ascii.EqualsIgnoreCase(name, "Server-Timing"u8):
                    ParseServerTiming(value, ref head);
                    break;
            }
        }
        head.Framing = transferEncoding ? (chunked ? Framing.Chunked : Framing.UntilClose)
            : head.ContentLength >= 0 ? Framing.Length
            : Framing.UntilClose;
        return head;
    }

    private static bool HasToken(ReadOnlySpan<byte> value, ReadOnlySpan<byte> token)
    {
        foreach (var range in value.Split((byte)','))
        {
            if (Ascii.EqualsIgnoreCase(value[range].Trim(" \t"u8), token)) return true;
        }
        return false;
    }

    private static TimeSpan? ParseRetryAfter(ReadOnlySpan<byte> value)
    {
        if (Utf8Parser.TryParse(value, out long seconds, out var used) && used == value.Length && seconds >= 0)
            return TimeSpan.FromSeconds(Math.Min(seconds, int.MaxValue));
        return DateTimeOffset.TryParseExact(Encoding.Latin1.GetString(value), "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date)
            ? TimeSpan.FromTicks(Math.Max(0, (date - DateTimeOffset.UtcNow).Ticks))
            : null;
    }

    /// <summary>The <c>app</c> and <c>cache</c> durations (ms) of a <c>Server-Timing</c> value such as <c>app;dur=1.2, cache;dur=0.3</c>.</summary>
    private static void ParseServerTiming(ReadOnlySpan<byte> value, ref Head head)
    {
        foreach (var range in value.Split((byte)','))
        {
            var metric = value[range].Trim(" \t"u8);
            var dur = metric.IndexOf(";dur="u8);
            if (dur < 0 || !Utf8Parser.TryParse(metric[(dur + 5)..], out double ms, out var used) || used != metric.Length - dur - 5) continue;
            if (metric[..dur].SequenceEqual("app"u8)) head.ServerAppMs = ms;
            else if (metric[..dur].SequenceEqual("cache"u8)) head.ServerCacheMs = ms;
        }
    }

    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var text = Encoding.Latin1.GetString(bytes[..Math.Min(bytes.Length, 200)]);
        return string.Create(text.Length, text, static (span, s) =>
        {
            for (var i = 0; i < s.Length; i++) span[i] = char.IsControl(s[i]) ? '?' : s[i];
        });
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<byte[]> ReadLengthAsync(int length)
    {
        if (length == 0) return [];
        var body = GC.AllocateUninitializedArray<byte>(length);
        var buffered = Math.Min(length, _end - _start);
        _buffer.AsSpan(_start, buffered).CopyTo(body);
        _start += buffered;
        // The rest goes straight from the socket into the body: no second copy for large bodies.
        for (var filled = buffered; filled < length;)
        {
            var n = await source.ReceiveAsync(body.AsMemory(filled)).ConfigureAwait(false);
            if (n == 0) throw HttpErrors.Ended(receivedAny: true);
            filled += n;
        }
        return body;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SkipAsync(int length)
    {
        var buffered = Math.Min(length, _end - _start);
        _start += buffered;
        length -= buffered;
        while (length > 0)
        {
            _start = _end = 0;
            await FillAsync().ConfigureAwait(false);
            var take = Math.Min(length, _end);
            _start = take;
            length -= take;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(byte[] Body, long Length)> ReadChunkedAsync(bool discard)
    {
        var body = new BodyBuffer(discard, maxBodyBytes);
        try
        {
            while (true)
            {
                var line = await LineAsync(MaxChunkLine, trailer: false).ConfigureAwait(false);
                var size = ChunkSize(_buffer.AsSpan(_start, line));
                _start += line + 2;
                if (size == 0) break;
                if (size > maxBodyBytes - body.Length) throw HttpErrors.BodyTooLarge(-1, maxBodyBytes);
                for (var remaining = (int)size; remaining > 0;)
                {
                    if (_start == _end) await FillAsync().ConfigureAwait(false);
                    var take = Math.Min(remaining, _end - _start);
                    body.Append(_buffer.AsSpan(_start, take));
                    _start += take;
                    remaining -= take;
                }
                while (_end - _start < 2) await FillAsync().ConfigureAwait(false);
                if (_buffer[_start] != '\r' || _buffer[_start + 1] != '\n') throw HttpErrors.Malformed("chunk data not followed by CRLF");
                _start += 2;
            }
            // Trailers: header lines up to an empty one, within the header limit.
            var trailers = 0;
            while (true)
            {
                var line = await LineAsync(maxHeaderBytes - trailers, trailer: true).ConfigureAwait(false);
                _start += line + 2;
                trailers += line + 2;
                if (line == 0) break;
            }
            return (body.ToArray(), body.Length);
        }
        finally
        {
            body.Dispose();
        }
    }

    private static long ChunkSize(ReadOnlySpan<byte> line)
    {
        var end = line.IndexOfAny(";\t "u8);
        var hex = end < 0 ? line : line[..end];
        if (hex.IsEmpty || hex.Length > 8 || !Utf8Parser.TryParse(hex, out uint size, out var used, 'X') || used != hex.Length)
            throw HttpErrors.Malformed($"chunk size '{Printable(line)}'");
        return size;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(byte[] Body, long Length)> ReadUntilCloseAsync(bool discard)
    {
        var body = new BodyBuffer(discard, maxBodyBytes);
        try
        {
            while (true)
            {
                if (_end > _start)
                {
                    if (_end - _start > maxBodyBytes - body.Length) throw HttpErrors.BodyTooLarge(-1, maxBodyBytes);
                    body.Append(_buffer.AsSpan(_start, _end - _start));
                }
                _start = _end = 0;
                var n = await source.ReceiveAsync(_buffer).ConfigureAwait(false);
                if (n == 0) return (body.ToArray(), body.Length);
                _end = n;
            }
        }
        finally
        {
            body.Dispose();
        }
    }

    /// <summary>Waits until a CRLF-terminated line is buffered at <c>_start</c>; returns its length without the CRLF.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> LineAsync(int limit, bool trailer)
    {
        var scanned = 0;
        int at;
        while ((at = _buffer.AsSpan(_start + scanned, _end - _start - scanned).IndexOf("\r\n"u8)) < 0)
        {
            scanned = Math.Max(0, _end - _start - 1);
            if (_end - _start >= limit) throw LineTooLong(limit, trailer);
            await FillAsync().ConfigureAwait(false);
        }
        if (at + scanned + 2 > limit) throw LineTooLong(limit, trailer);
        return at + scanned;
    }

    private Exception LineTooLong(int limit, bool trailer) =>
        trailer ? HttpErrors.HeadersTooLarge(maxHeaderBytes) : HttpErrors.Malformed($"a chunk size line longer than {limit:N0} bytes");

    /// <summary>Receives more bytes after <c>_end</c>, compacting or growing the buffer when it is full.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FillAsync()
    {
        if (_end == _buffer.Length)
        {
            if (_start > 0)
            {
                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            }
            else
            {
                // Only a header block or a line longer than the buffer gets here; both are bounded by the header limit.
                var grown = ArrayPool<byte>.Shared.Rent(Math.Min(_buffer.Length * 2, maxHeaderBytes + 4));
                _buffer.AsSpan(0, _end).CopyTo(grown);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = grown;
            }
            _end -= _start;
            _start = 0;
        }
        var n = await source.ReceiveAsync(_buffer.AsMemory(_end)).ConfigureAwait(false);
        if (n == 0) throw HttpErrors.Ended(ReceivedAny);
        ReceivedAny = true;
        _end += n;
    }

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0) ArrayPool<byte>.Shared.Return(buffer);
    }

    /// <summary>A chunked or until-close body: pooled while it grows, copied once into an exact array at the end.</summary>
    private struct BodyBuffer(bool discard, int limit) : IDisposable
    {
        private byte[]? _bytes;

        public int Length { get; private set; }

        public void Append(ReadOnlySpan<byte> data)
        {
            if ((long)Length + data.Length > limit) throw HttpErrors.BodyTooLarge(-1, limit);
            if (!discard)
            {
                if (_bytes is null || _bytes.Length - Length < data.Length)
                {
                    var grown = ArrayPool<byte>.Shared.Rent(Math.Max(Length + data.Length, Math.Min(limit, Math.Max(4096, (_bytes?.Length ?? 0) * 2))));
                    if (_bytes is not null)
                    {
                        _bytes.AsSpan(0, Length).CopyTo(grown);
                        ArrayPool<byte>.Shared.Return(_bytes);
                    }
                    _bytes = grown;
                }
                data.CopyTo(_bytes.AsSpan(Length));
            }
            Length += data.Length;
        }

        public readonly byte[] ToArray() => discard || Length == 0 ? [] : _bytes.AsSpan(0, Length).ToArray();

        public void Dispose()
        {
            if (_bytes is not null) ArrayPool<byte>.Shared.Return(_bytes);
            _bytes = null;
        }
    }
}
