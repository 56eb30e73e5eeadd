using System.Diagnostics;
using System.Text.Json;
using Parley.Server.Tests.Infrastructure;

namespace Parley.Server.Tests.Realtime;

/// <summary>
/// Send → socket latency at a steady rate through a real server process: the time from just before
/// the POST to the frame's arrival on a participant's socket. Writes bench/results/&lt;ts&gt;-delivery/summary.json.
/// </summary>
[Trait("Category", "Load")]
public sealed class DeliveryLatencyBenchmark(MultiNodeFixture fixture) : IClassFixture<MultiNodeFixture>
{
    [Fact]
    public async Task Send_to_socket_latency_at_a_steady_rate()
    {
        const int warmup = 200, measured = 2000, perSecond = 100;
        await using var node = await fixture.StartNodeAsync("bench");
        using var api = MultiNodeFixture.Client(node);
        var owner = await api.NewUserAsync("bno");
        var member = await api.NewUserAsync("bnm");
        var conversation = await api.CreateConversationAsync(owner, member);
        await using var socket = await WsClient.ConnectAsync(node.BaseAddress, member.Token);

        var sentAt = new long[warmup + measured];
        var interval = TimeSpan.FromSeconds(1.0 / perSecond);
        var start = DateTime.UtcNow;
        var tasks = new List<Task>();
        for (var i = 0; i < sentAt.Length; i++)
        {
            var delay = start + (interval * i) - DateTime.UtcNow;
            if (delay > TimeSpan.Zero) await Task.Delay(delay);
            var n = i;
            sentAt[n] = Stopwatch.GetTimestamp();
            tasks.Add(api.PostAsync(owner, $"/v1/conversations/{conversation}/messages", new { body = $"bench {n}", clientMessageId = $"b{n}" }));
        }
        await Task.WhenAll(tasks);
        await socket.WaitForMessagesAsync(sentAt.Length, TimeSpan.FromSeconds(60));

        var latencies = new List<double>();
        lock (socket.Received)
        {
            for (var i = 0; i < socket.Received.Count; i++)
            {
                var frame = socket.Received[i];
                if (WsClient.Type(frame) != "message.created") continue;
                var n = int.Parse(frame["message"]!["clientMessageId"]!.GetValue<string>()[1..], System.Globalization.CultureInfo.InvariantCulture);
                if (n >= warmup) latencies.Add(Stopwatch.GetElapsedTime(sentAt[n], socket.ReceivedAt[i]).TotalMilliseconds);
            }
        }
        latencies.Sort();
        double P(double q) => latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(q * latencies.Count) - 1)];
        var summary = new
        {
            scenario = "send (POST) → WebSocket frame, one server process, one socket",
            ratePerSecond = perSecond,
            messages = latencies.Count,
            p50Ms = Math.Round(P(0.50), 2),
            p90Ms = Math.Round(P(0.90), 2),
            p99Ms = Math.Round(P(0.99), 2),
            maxMs = Math.Round(latencies[^1], 2),
            at = DateTime.UtcNow.ToString("O"),
        };
        var root = AppContext.BaseDirectory;
        while (root is not null && !File.Exists(Path.Combine(root, "Parley.slnx"))) root = Path.GetDirectoryName(root);
        var dir = Path.Combine(root ?? AppContext.BaseDirectory, "bench", "results", $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-delivery");
        Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(Path.Combine(dir, "summary.json"), JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }));
        Assert.Equal(measured, latencies.Count);
    }
}
