using System.Net;
using Parley.Server.Tests.Infrastructure;

namespace Parley.Server.Tests.Features;

/// <summary>Admission control (Parley:Admission): past the node's limit, send and history are refused with 503 + Retry-After at once.</summary>
[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class AdmissionTests(ParleyFixture fixture)
{
    [Fact]
    public async Task With_the_one_permit_held_send_and_history_are_503_with_retry_after_and_served_again_once_it_is_free()
    {
        await using var node = await fixture.StartOwnNodeAsync(new Dictionary<string, string?>
        {
            ["Parley:Admission:PermitLimit"] = "1",
            ["Parley:Admission:QueueLength"] = "0",
            ["Parley:Admission:RetryAfterSeconds"] = "2",
        });
        var api = node.Api;
        var owner = await api.NewUserAsync("adm");
        var id = await api.CreateConversationAsync(owner);
        var rejectedBefore = await MetricsScrape.ValueAsync(api.Http, "parley_admission_rejected_total", "endpoint=\"history\"");

        // A send held on a row lock keeps the only permit.
        await using var db = fixture.OpenPrimary();
        await using var lockRow = await HeldRowLock.OnConversationAsync(db, id);
        var held = api.PostAsync(owner, $"/v1/conversations/{id}/messages", new { body = "held" });
        await lockRow.WaitForOneBlockedAsync();

        foreach (var refused in new[]
        {
            await api.GetAsync(owner, $"/v1/conversations/{id}/messages"),
            await api.PostAsync(owner, $"/v1/conversations/{id}/messages", new { body = "refused" }),
        })
        {
            var problem = await ApiClient.AssertProblem(refused, HttpStatusCode.ServiceUnavailable);
            Assert.Equal("urn:parley:problem:overloaded", problem["type"]!.GetValue<string>());
            Assert.Equal("2", refused.Headers.GetValues("Retry-After").Single());
        }
        // Endpoints outside admission control are served meanwhile.
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync(owner, $"/v1/conversations/{id}")).StatusCode);
        Assert.Equal(rejectedBefore + 1, await MetricsScrape.ValueAsync(api.Http, "parley_admission_rejected_total", "endpoint=\"history\""));

        await lockRow.ReleaseAsync();
        Assert.Equal(HttpStatusCode.Created, (await held).StatusCode);
        var history = await ApiClient.Json(await api.GetAsync(owner, $"/v1/conversations/{id}/messages"));
        Assert.Equal(["held"], history["items"]!.AsArray().Select(m => m!["body"]!.GetValue<string>()));
    }
}
