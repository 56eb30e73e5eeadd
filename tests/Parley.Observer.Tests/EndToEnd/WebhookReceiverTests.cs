using System.Security.Cryptography;
using System.Text;
using WebhookReceiver = Parley.Kit.Webhooks.WebhookReceiver;
using Parley.Observer.Actions;

namespace Parley.Observer.Tests.EndToEnd;

/// <summary>The observer load run's receiver (WebhookReceiver): its own signature check agrees with the observer's signing, and repeats are counted per webhook-id.</summary>
[Trait("Category", "Smoke")]
public sealed class WebhookReceiverTests
{
    [Fact]
    public async Task The_counter_accepts_the_observers_signature_refuses_a_wrong_one_and_counts_a_repeat_as_duplicated()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        await using var counter = await WebhookReceiver.StartAsync(key, clock: null, refuseBadSignatures: false);
        using var http = new HttpClient();
        async Task PostAsync(string id, byte[] signingKey, long row)
        {
            var body = Encoding.UTF8.GetBytes($$$"""{"id":"e","data":{"id":{{{row}}},"created_ms":{{{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}}}}}""");
            using var request = new HttpRequestMessage(HttpMethod.Post, counter.Url) { Content = new ByteArrayContent(body) };
            request.Headers.Add("webhook-id", id);
            request.Headers.Add("webhook-timestamp", "1700000000");
            request.Headers.Add("webhook-signature", WebhookSignature.Sign(signingKey, id, 1700000000, body));
            using var response = await http.SendAsync(request);
            Assert.Equal(204, (int)response.StatusCode);
        }

        await PostAsync("a.load.hook", key, 1);
        await PostAsync("a.load.hook", key, 1);
        await PostAsync("b.load.hook", RandomNumberGenerator.GetBytes(32), 2);

        Assert.Equal((1L, 1L, 3L), (counter.Duplicated, counter.BadSignatures, counter.Requests));
        Assert.Equal([1L], counter.Rows.Keys);
    }
}
