using System.Net;
using Parley.Server.Tests.Infrastructure;

namespace Parley.Server.Tests.Features;

[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class ParticipantsApiTests(ParleyFixture fixture)
{
    [Fact]
    public async Task The_owner_adds_once_and_a_second_add_conflicts()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync();
        var newcomer = await api.NewUserAsync();
        var id = await api.CreateConversationAsync(owner);
        var added = await api.PostAsync(owner, $"/v1/conversations/{id}/participants", new { userId = newcomer.Id });
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        var participant = await ApiClient.Json(added);
        Assert.Equal("member", participant["role"]!.GetValue<string>());
        Assert.Equal(newcomer.Handle, participant["handle"]!.GetValue<string>());
        await ApiClient.AssertProblem(await api.PostAsync(owner, $"/v1/conversations/{id}/participants", new { userId = newcomer.Id }), HttpStatusCode.Conflict);
        await ApiClient.AssertProblem(await api.PostAsync(owner, $"/v1/conversations/{id}/participants", new { userId = Guid.NewGuid() }), HttpStatusCode.NotFound);
        var list = await ApiClient.Json(await api.GetAsync(newcomer, $"/v1/conversations/{id}/participants"));
        Assert.Equal(2, list["items"]!.AsArray().Count);
    }

    [Fact]
    public async Task Members_cannot_add_or_remove_others_but_may_leave()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync();
        var member = await api.NewUserAsync();
        var other = await api.NewUserAsync();
        var id = await api.CreateConversationAsync(owner, member, other);
        await ApiClient.AssertProblem(await api.PostAsync(member, $"/v1/conversations/{id}/participants", new { userId = (await api.NewUserAsync()).Id }), HttpStatusCode.Forbidden);
        await ApiClient.AssertProblem(await api.SendAsync(member, HttpMethod.Delete, $"/v1/conversations/{id}/participants/{other.Id}"), HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.NoContent, (await api.SendAsync(member, HttpMethod.Delete, $"/v1/conversations/{id}/participants/{member.Id}")).StatusCode);
    }

    [Fact]
    public async Task Removal_takes_effect_on_the_next_read_and_send()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync();
        var member = await api.NewUserAsync();
        var id = await api.CreateConversationAsync(owner, member);
        await api.SendMessageAsync(member, id, "before removal");
        Assert.Equal(HttpStatusCode.NoContent, (await api.SendAsync(owner, HttpMethod.Delete, $"/v1/conversations/{id}/participants/{member.Id}")).StatusCode);
        await ApiClient.AssertProblem(await api.GetAsync(member, $"/v1/conversations/{id}/messages"), HttpStatusCode.Forbidden);
        await ApiClient.AssertProblem(await api.PostAsync(member, $"/v1/conversations/{id}/messages", new { body = "after removal" }), HttpStatusCode.Forbidden);
        var history = await ApiClient.Json(await api.GetAsync(owner, $"/v1/conversations/{id}/messages"));
        Assert.Single(history["items"]!.AsArray());
        var list = await ApiClient.Json(await api.GetAsync(member, "/v1/conversations"));
        Assert.Empty(list["items"]!.AsArray());
    }

    [Fact]
    public async Task The_owner_cannot_leave_its_own_conversation()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync();
        var id = await api.CreateConversationAsync(owner);
        await ApiClient.AssertProblem(await api.SendAsync(owner, HttpMethod.Delete, $"/v1/conversations/{id}/participants/{owner.Id}"), HttpStatusCode.Conflict);
    }
}
