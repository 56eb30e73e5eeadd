using System.Net;
using System.Net.Http.Json;
using Parley.Server.Tests.Infrastructure;

namespace Parley.Server.Tests.Features;

/// <summary>
/// The login throttle and the password-hash queue under concurrency. Each test runs its own node, so
/// the per-address budget it spends (every test client is 127.0.0.1) is not the shared server's.
/// </summary>
[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class LoginThrottleTests(ParleyFixture fixture)
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Parallel_wrong_guesses_for_one_handle_check_at_most_the_budget_and_never_fail(bool registered)
    {
        await using var node = await fixture.StartOwnNodeAsync();
        var api = node.Api;
        // An unknown handle costs a hash too (timing must not tell), so it is throttled the same way.
        var handle = registered ? (await api.NewUserAsync("pg")).Handle : ApiClient.UniqueHandle("nobody");

        var answers = await Task.WhenAll(Enumerable.Range(0, 120).Select(i =>
            api.Http.PostAsJsonAsync("/v1/auth/login", new { handle, password = $"guess-{i}" })));

        var byStatus = answers.GroupBy(a => (int)a.StatusCode).ToDictionary(g => g.Key, g => g.Count());
        var summary = string.Join(", ", byStatus.OrderBy(p => p.Key).Select(p => $"{p.Key}: {p.Value}"));
        Assert.True(byStatus.GetValueOrDefault(401) == 5, $"exactly the handle's budget of 5 guesses is checked ({summary})");
        Assert.True(byStatus.GetValueOrDefault(429) == 115, $"every other guess is refused unchecked ({summary})");
        foreach (var refused in answers.Where(a => a.StatusCode == HttpStatusCode.TooManyRequests).Take(3))
        {
            await ApiClient.AssertProblem(refused, HttpStatusCode.TooManyRequests);
            Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero, "429 carries Retry-After");
        }
    }

    [Fact]
    public async Task Successful_logins_give_their_slot_back()
    {
        await using var node = await fixture.StartOwnNodeAsync();
        var api = node.Api;
        var user = await api.NewUserAsync("ok");

        for (var i = 0; i < 4; i++)
            await ApiClient.AssertProblem(await Login(api, user.Handle, $"guess-{i}"), HttpStatusCode.Unauthorized);
        // Twenty parallel right passwords on a budget with one slot left: none is charged.
        var right = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Login(api, user.Handle, "correct horse")));
        Assert.All(right, r => Assert.True(r.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"{(int)r.StatusCode}"));
        Assert.Contains(right, r => r.StatusCode == HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.OK, (await Login(api, user.Handle, "correct horse")).StatusCode);
        await ApiClient.AssertProblem(await Login(api, user.Handle, "guess-4"), HttpStatusCode.Unauthorized);
        await ApiClient.AssertProblem(await Login(api, user.Handle, "correct horse"), HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task A_full_hash_queue_answers_503_with_retry_after_for_logins_and_registrations()
    {
        await using var node = await fixture.StartOwnNodeAsync(new Dictionary<string, string?>
        {
            // One slow hash at a time and no queue: the second concurrent hash is refused at once.
            ["Parley:Auth:HashConcurrency"] = "1",
            ["Parley:Auth:HashQueueLength"] = "0",
            ["Parley:Auth:PasswordHashIterations"] = "1000000",
        });
        var api = node.Api;

        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => i % 2 == 0
            ? api.Http.PostAsJsonAsync("/v1/auth/register", new { handle = ApiClient.UniqueHandle("hq"), password = "correct horse" })
            : Login(api, ApiClient.UniqueHandle("nobody"), "whatever1")));

        var summary = string.Join(", ", answers.Select(a => (int)a.StatusCode));
        Assert.All(answers, a => Assert.True(a.StatusCode is HttpStatusCode.Created or HttpStatusCode.Unauthorized or HttpStatusCode.ServiceUnavailable, summary));
        var busy = answers.Where(a => a.StatusCode == HttpStatusCode.ServiceUnavailable).ToList();
        Assert.True(busy.Count >= 1, $"at least one of 8 concurrent hashes found the one slot taken ({summary})");
        foreach (var refused in busy)
        {
            await ApiClient.AssertProblem(refused, HttpStatusCode.ServiceUnavailable);
            Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
        }
    }

    private static Task<HttpResponseMessage> Login(ApiClient api, string handle, string password) =>
        api.Http.PostAsJsonAsync("/v1/auth/login", new { handle, password });
}
