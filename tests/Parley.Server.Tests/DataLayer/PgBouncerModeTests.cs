using System.Net;
using Parley.Server.Tests.Infrastructure;

namespace Parley.Server.Tests.DataLayer;

/// <summary>A node whose primary connection goes through PgBouncer in transaction mode.</summary>
[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class PgBouncerModeTests(ParleyFixture fixture)
{
    [Fact]
    public async Task The_whole_api_works_through_pgbouncer_in_transaction_mode()
    {
        var (node, address) = await fixture.StartNodeAsync(new Dictionary<string, string?>
        {
            ["Parley:Data:PrimaryConnectionString"] = fixture.Stack.PgBouncerConnectionString,
            ["Parley:Data:PgBouncerTransactionMode"] = "true",
        });
        await using var _ = node;
        using var api = new ApiClient(new HttpClient { BaseAddress = address });
        var owner = await api.NewUserAsync("pb");
        var member = await api.NewUserAsync("pb");
        var id = await api.CreateConversationAsync(owner, member);
        // Many statements over few server connections: each must run in whatever backend it gets.
        var sends = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => api.PostAsync(owner, $"/v1/conversations/{id}/messages", new { body = $"via pgbouncer {i}", clientMessageId = $"pb{i}" })));
        Assert.All(sends, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        var page = await ApiClient.Json(await api.GetAsync(member, $"/v1/conversations/{id}/messages?limit=100"));
        Assert.Equal(40, page["items"]!.AsArray().Count);
        var list = await ApiClient.Json(await api.GetAsync(member, "/v1/conversations"));
        Assert.Equal(40, list["items"]![0]!["unreadCount"]!.GetValue<long>());
        var patched = await api.SendAsync(owner, HttpMethod.Patch, $"/v1/conversations/{id}", new { title = "pooled" }, r => r.Headers.TryAddWithoutValidation("If-Match", "\"1\""));
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        var ready = await ApiClient.Json(await api.Http.GetAsync("/health/ready"));
        Assert.Equal("Healthy", ready["checks"]!["primary"]!["status"]!.GetValue<string>());
    }
}
