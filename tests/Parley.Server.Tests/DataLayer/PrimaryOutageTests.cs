using System.Net;
using Parley.Server.Tests.Infrastructure;

namespace Parley.Server.Tests.DataLayer;

/// <summary>The primary stopped: 503 with Retry-After (never a hang or a 500), Unhealthy readiness, then recovery by itself.</summary>
[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class PrimaryOutageTests(ParleyFixture fixture)
{
    [Fact]
    public async Task Requests_get_503_with_retry_after_while_the_primary_is_down_and_succeed_after()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync("po");
        var id = await api.CreateConversationAsync(owner);
        await api.SendMessageAsync(owner, id, "before the outage");

        await fixture.Stack.Primary.StopAsync();
        try
        {
            // Readiness reports the primary probe's latest result, which follows within one probe.
            await Eventually.True(async () =>
            {
                using var ready = await api.Http.GetAsync("/health/ready");
                return ready.StatusCode == HttpStatusCode.ServiceUnavailable && (await ApiClient.Json(ready))["status"]!.GetValue<string>() == "Unhealthy";
            }, "readiness to be Unhealthy (503)");

            foreach (var response in new[]
            {
                await api.PostAsync(owner, $"/v1/conversations/{id}/messages", new { body = "during the outage" }),
                await api.GetAsync(owner, "/v1/conversations"),
                await api.Http.PostAsync("/v1/auth/login", System.Net.Http.Json.JsonContent.Create(new { handle = owner.Handle, password = "correct horse" })),
            })
            {
                await ApiClient.AssertProblem(response, HttpStatusCode.ServiceUnavailable);
                Assert.NotNull(response.Headers.RetryAfter);
            }
        }
        finally
        {
            await fixture.Stack.Primary.StartAsync();
        }

        await Eventually.True(async () => (await api.Http.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK, "readiness after the primary returns", TimeSpan.FromSeconds(60));
        await Eventually.True(async () => (await api.PostAsync(owner, $"/v1/conversations/{id}/messages", new { body = "after the outage" })).StatusCode == HttpStatusCode.Created,
            "sends to succeed again", TimeSpan.FromSeconds(60));
        var history = await ApiClient.Json(await api.GetAsync(owner, $"/v1/conversations/{id}/messages"));
        var bodies = history["items"]!.AsArray().Select(i => i!["body"]!.GetValue<string>()).ToList();
        Assert.Equal("before the outage", bodies[^1]);
        Assert.DoesNotContain("during the outage", bodies);
        // The replica streams from the restarted primary again.
        await Eventually.True(async () => (await ApiClient.Json(await api.Http.GetAsync("/health/ready")))["status"]!.GetValue<string>() == "Healthy",
            "the replica to reconnect", TimeSpan.FromSeconds(60));
    }
}
