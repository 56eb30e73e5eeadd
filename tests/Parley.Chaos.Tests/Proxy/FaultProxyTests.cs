using System.Net;
using System.Net.Sockets;
using Parley.Kit.Chaos.Proxy;
using static Parley.Chaos.Tests.Proxy.SocketPair;

namespace Parley.Chaos.Tests.Proxy;

[Trait("Category", "Smoke")]
public sealed class FaultProxyTests
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(10);

    private static byte[] RandomBytes(int count)
    {
        var data = new byte[count];
        Random.Shared.NextBytes(data);
        return data;
    }

    [Fact]
    public async Task Bytes_pass_unchanged_both_ways_without_faults()
    {
        await using var pair = await StartAsync();
        var up = RandomBytes(1 << 20);
        var down = RandomBytes(300_000);
        var sendUp = SendAllAsync(pair.Client, up);
        var sendDown = SendAllAsync(pair.Server, down);
        var atServer = await ReceiveAsync(pair.Server, up.Length, Within);
        var atClient = await ReceiveAsync(pair.Client, down.Length, Within);
        await Task.WhenAll(sendUp, sendDown);
        Assert.Equal(up, atServer.Data);
        Assert.Equal(down, atClient.Data);
        Assert.Equal(up.Length, pair.Proxy.BytesUpstream);
        Assert.Equal(down.Length, pair.Proxy.BytesDownstream);
    }

    // No stopwatch bounds here (a busy CI machine stretches any of them): each fault is shown by what arrives, in what
    // order, and by a bounded wait that runs out, with margins of several times the fault's size.

    [Fact]
    public async Task Latency_delays_only_its_direction()
    {
        await using var pair = await StartAsync(p => p.Set(FaultDirection.Downstream, new LinkFaults { Latency = TimeSpan.FromSeconds(3) }));
        await SendAllAsync(pair.Server, [4, 5, 6]); // sent first, held 3 s
        await SendAllAsync(pair.Client, [1, 2, 3]);
        Assert.Equal(new byte[] { 1, 2, 3 }, (await ReceiveAsync(pair.Server, 3, Within)).Data);
        Assert.Equal(0, pair.Client.Available); // the delayed direction has not delivered yet
        Assert.Equal(new byte[] { 4, 5, 6 }, (await ReceiveAsync(pair.Client, 3, Within)).Data);
    }

    [Fact]
    public async Task Latency_on_content_holds_only_the_chunks_that_match()
    {
        await using var pair = await StartAsync(p => p.Set(FaultDirection.Downstream,
            new LinkFaults { LatencyOnContent = new ContentDelay("rows"u8.ToArray(), TimeSpan.FromSeconds(3)) }));
        await SendAllAsync(pair.Server, "probe"u8.ToArray());
        Assert.Equal("probe"u8.ToArray(), (await ReceiveAsync(pair.Client, 5, Within)).Data);
        await SendAllAsync(pair.Server, "some rows"u8.ToArray()); // matches: held 3 s
        await SendAllAsync(pair.Client, [1, 2, 3]);
        Assert.Equal(new byte[] { 1, 2, 3 }, (await ReceiveAsync(pair.Server, 3, Within)).Data);
        Assert.Equal(0, pair.Client.Available); // the matching chunk has not been delivered yet
        Assert.Equal("some rows"u8.ToArray(), (await ReceiveAsync(pair.Client, 9, Within)).Data);
    }

    [Fact]
    public async Task Latency_is_pipelined_not_added_per_chunk()
    {
        // 20 chunks at 1 s each: pipelined they arrive about 1 s after the first; added up they would need 20 s, past the wait.
        await using var pair = await StartAsync(p => p.Set(FaultDirection.Upstream, new LinkFaults { Latency = TimeSpan.FromSeconds(1) }));
        for (var i = 0; i < 20; i++)
        {
            await SendAllAsync(pair.Client, [(byte)i]);
            await Task.Delay(5); // separate writes, so the proxy sees 20 chunks
        }
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (byte)i), (await ReceiveAsync(pair.Server, 20, Within)).Data);
    }

    [Fact]
    public async Task Bandwidth_caps_throughput()
    {
        // 200 kB at 100 kB/s needs 2 s: half a second passes far short of all of it, and then every byte arrives intact.
        await using var pair = await StartAsync(p => p.Set(FaultDirection.Upstream, new LinkFaults { BandwidthBytesPerSecond = 100_000 }));
        var data = RandomBytes(200_000);
        var send = SendAllAsync(pair.Client, data);
        var first = await ReceiveAsync(pair.Server, data.Length, TimeSpan.FromMilliseconds(500));
        Assert.False(first.Ended);
        Assert.True(first.Data.Length < data.Length, "all 200 kB passed within 0.5 s of a 100 kB/s cap");
        var rest = await ReceiveAsync(pair.Server, data.Length - first.Data.Length, Within);
        await send;
        Assert.Equal(data, first.Data.Concat(rest.Data).ToArray());
    }

    [Fact]
    public async Task Slicer_splits_data_into_small_pieces_intact()
    {
        await using var pair = await StartAsync(p => p.Set(FaultDirection.Downstream, new LinkFaults { Slicer = new Slicer(8, 4, TimeSpan.FromMilliseconds(2)) }));
        var data = RandomBytes(800);
        await SendAllAsync(pair.Server, data);
        var received = await ReceiveAsync(pair.Client, data.Length, Within);
        Assert.Equal(data, received.Data);
        Assert.True(received.Reads >= 30, $"800 bytes in slices of 4–12 arrived in {received.Reads} reads");
    }

    [Fact]
    public async Task Limit_data_closes_after_the_limit()
    {
        await using var pair = await StartAsync(p => p.Set(FaultDirection.Upstream, new LinkFaults { LimitBytes = 1000 }));
        var data = RandomBytes(5000);
        _ = SendAllAsync(pair.Client, data).ContinueWith(_ => { }, TaskScheduler.Default);
        var received = await ReceiveAsync(pair.Server, data.Length, Within);
        Assert.True(received.Ended, "the connection was closed");
        Assert.Equal(data[..1000], received.Data);
    }

    [Fact]
    public async Task Reset_on_content_passes_other_chunks_and_resets_the_connection_at_the_first_that_matches()
    {
        await using var pair = await StartAsync(p => p.Set(FaultDirection.Downstream, new LinkFaults { ResetOnContent = new ContentReset("rows"u8.ToArray(), 1) }));
        await SendAllAsync(pair.Server, "probe"u8.ToArray());
        Assert.Equal("probe"u8.ToArray(), (await ReceiveAsync(pair.Client, 5, Within)).Data);
        await SendAllAsync(pair.Server, "some rows"u8.ToArray());
        var error = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            var buffer = new byte[16];
            using var timeout = new CancellationTokenSource(Within);
            if (await pair.Client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) > 0)
                throw new InvalidOperationException("the matching chunk was passed on");
            throw new InvalidOperationException("closed with FIN, not RST");
        });
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
    }

    [Theory]
    [InlineData(false, new byte[] { 7, 8 })]          // Toxiproxy's timeout: what was sent meanwhile is gone
    [InlineData(true, new byte[] { 1, 2, 3, 7, 8 })]  // a partition: held, then delivered in order
    public async Task Blackhole_and_partition_pass_nothing_until_removed_and_keep_the_connection_open(bool hold, byte[] afterRemoval)
    {
        await using var pair = await StartAsync(p => p.Set(FaultDirection.Both, hold ? LinkFaults.Partitioned : LinkFaults.Blackhole));
        await SendAllAsync(pair.Client, [1, 2, 3]);
        var during = await ReceiveAsync(pair.Server, 3, TimeSpan.FromMilliseconds(500));
        Assert.Empty(during.Data);
        Assert.False(during.Ended);
        pair.Proxy.Clear();
        await SendAllAsync(pair.Client, [7, 8]);
        Assert.Equal(afterRemoval, (await ReceiveAsync(pair.Server, afterRemoval.Length, Within)).Data);
    }

    [Fact]
    public async Task Timeout_closes_the_connection_after_its_time()
    {
        await using var pair = await StartAsync();
        pair.Proxy.Set(FaultDirection.Upstream, new LinkFaults { Timeout = TimeSpan.FromSeconds(2) });
        Assert.False(pair.Client.Poll(0, SelectMode.SelectRead), "closed at once, not after its 2 s");
        Assert.True((await ReceiveAsync(pair.Client, 1, Within)).Ended, "the timeout never closed the connection");
    }

    [Fact]
    public async Task Reset_peer_resets_the_client()
    {
        await using var pair = await StartAsync();
        pair.Proxy.Set(FaultDirection.Downstream, new LinkFaults { ResetPeer = TimeSpan.FromMilliseconds(100) });
        var error = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            var buffer = new byte[16];
            using var timeout = new CancellationTokenSource(Within);
            while (await pair.Client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) > 0)
            {
            }
            throw new InvalidOperationException("closed with FIN, not RST");
        });
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
    }

    [Fact]
    public async Task Slow_close_holds_the_close_back()
    {
        await using var pair = await StartAsync(p => p.Set(FaultDirection.Upstream, new LinkFaults { SlowClose = TimeSpan.FromSeconds(2) }));
        pair.Client.Shutdown(SocketShutdown.Send);
        Assert.False((await ReceiveAsync(pair.Server, 1, TimeSpan.FromMilliseconds(300))).Ended, "the close passed before its 2 s");
        Assert.True((await ReceiveAsync(pair.Server, 1, Within)).Ended, "the close never arrived");
    }

    [Fact]
    public async Task Down_refuses_connections_and_up_serves_again_on_the_same_port()
    {
        await using var pair = await StartAsync();
        var port = pair.Proxy.Port;
        pair.Proxy.SetDown(true);
        Assert.True((await ReceiveAsync(pair.Client, 1, Within)).Ended, "open connections are closed");
        using (var refused = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            var error = await Assert.ThrowsAsync<SocketException>(() => refused.ConnectAsync(IPAddress.Loopback, port));
            Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
        }
        pair.Proxy.SetDown(false);
        Assert.Equal(port, pair.Proxy.Port);
        await pair.ReconnectAsync();
        await SendAllAsync(pair.Client, [9]);
        Assert.Equal(new byte[] { 9 }, (await ReceiveAsync(pair.Server, 1, Within)).Data);
    }

    [Fact]
    public async Task Faults_switched_from_many_threads_under_traffic_leave_no_connection_behind()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        await using var proxy = FaultProxy.Start("churn", (IPEndPoint)listener.LocalEndpoint);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var echo = Task.Run(async () =>
        {
            var handlers = new List<Task>();
            while (!stop.IsCancellationRequested)
            {
                Socket accepted;
                try { accepted = await listener.AcceptSocketAsync(stop.Token); }
                catch (OperationCanceledException) { break; }
                handlers.Add(Task.Run(async () =>
                {
                    using var socket = accepted;
                    var buffer = new byte[4096];
                    try
                    {
                        int n;
                        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, stop.Token)) > 0)
                            await socket.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, stop.Token);
                    }
                    catch (Exception e) when (e is SocketException or OperationCanceledException) { }
                }));
            }
            await Task.WhenAll(handlers);
        });
        LinkFaults[] faults =
        [
            LinkFaults.None,
            new() { Latency = TimeSpan.FromMilliseconds(5), Jitter = TimeSpan.FromMilliseconds(5) },
            new() { Slicer = new Slicer(3, 2, TimeSpan.Zero) },
            new() { BandwidthBytesPerSecond = 50_000 },
            LinkFaults.Blackhole,
            new() { LimitBytes = 200 },
            new() { ResetPeer = TimeSpan.FromMilliseconds(50) },
            new() { ResetOnContent = new ContentReset([0, 1], 0.5) },
            new() { LatencyOnContent = new ContentDelay([0, 1], TimeSpan.FromMilliseconds(5)) },
        ];
        var switcher = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                proxy.Set(Random.Shared.Next(2) == 0 ? FaultDirection.Upstream : FaultDirection.Both, faults[Random.Shared.Next(faults.Length)]);
                if (Random.Shared.Next(20) == 0) { proxy.SetDown(true); proxy.SetDown(false); }
                await Task.Delay(10); // the switching rate
            }
        });
        var clients = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    await client.ConnectAsync(IPAddress.Loopback, proxy.Port, stop.Token);
                    await SendAllAsync(client, RandomBytes(100));
                    await ReceiveAsync(client, 100, TimeSpan.FromMilliseconds(200));
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException) { }
            }
        })).ToList();
        await Task.WhenAll([switcher, echo, .. clients]).WaitAsync(TimeSpan.FromSeconds(20));
        proxy.Clear();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (proxy.OpenConnections > 0 && DateTime.UtcNow < deadline) await Task.Delay(20); // polls the count, bounded
        Assert.Equal(0, proxy.OpenConnections);
        Assert.True(proxy.AcceptedConnections > 20, $"only {proxy.AcceptedConnections} connections were made");
    }
}
