using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Parley.Server.Features.Health;
using Parley.Server.Tests.Infrastructure;

namespace Parley.Server.Tests.Features;

/// <summary>Servers of its own to freeze and stop: no other test reads from them meanwhile.</summary>
[CollectionDefinition(Name)]
public sealed class ReadinessCollection : ICollectionFixture<ParleyFixture>
{
    public const string Name = "readiness";
}

/// <summary>
/// Readiness tells the truth without traffic: each dependency is probed by the node itself, so a server that hangs
/// with its socket open (SIGSTOP) shows as Degraded and comes back by itself; the anonymous body has fixed texts only.
/// The polls below only read /health/ready, which never touches a dependency. Waits are bounds, not gates.
/// </summary>
[Collection(ReadinessCollection.Name)]
[Trait("Category", "Integration")]
public sealed class ReadinessTests(ParleyFixture fixture)
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(15);

    [Theory]
    [InlineData("redis")]
    [InlineData("replica")]
    public async Task A_hung_dependency_is_degraded_without_traffic_and_healthy_again_after_it_resumes(string dependency)
    {
        using var api = fixture.Client();
        var (server, descriptions) = dependency == "redis"
            ? (fixture.Stack.Redis!, new[] { RedisProbe.NotAnswering, RedisProbe.NotConnected })
            : (fixture.Stack.Replica!, new[] { ReplicaProbe.NotAnswering });
        await WaitForCheck(api, dependency, "Healthy", $"{dependency} healthy before the freeze");
        await using (Frozen.Tree(server.Pid!.Value))
        {
            var check = await WaitForCheck(api, dependency, "Degraded", $"{dependency} degraded while frozen");
            Assert.Contains(check["description"]!.GetValue<string>(), descriptions);
            Assert.Equal("Degraded", (await Ready(api))["status"]!.GetValue<string>());
        }
        await WaitForCheck(api, dependency, "Healthy", $"{dependency} healthy after SIGCONT");
    }

    [Fact]
    public async Task With_redis_hung_committed_writes_answer_their_success_status()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync("rh");
        var member = await api.NewUserAsync("rh");
        var id = await api.CreateConversationAsync(owner);
        await using (Frozen.Tree(fixture.Stack.Redis!.Pid!.Value))
        {
            // Invalidation and the membership publish run after the commit: a Redis that does not answer must not turn them into 503.
            var sent = await api.SendMessageAsync(owner, id, "while redis hangs");
            Assert.Equal(HttpStatusCode.Created, (await api.PostAsync(owner, $"/v1/conversations/{id}/participants", new { userId = member.Id })).StatusCode);
            Assert.Equal(HttpStatusCode.NoContent, (await api.SendAsync(owner, HttpMethod.Delete, $"/v1/conversations/{id}/participants/{member.Id}")).StatusCode);
            Assert.Contains(Guid.Parse(sent["id"]!.GetValue<string>()), await api.MessageIdsAsync(owner, id));
        }
        await WaitForCheck(api, "redis", "Healthy", "Redis healthy after SIGCONT");
    }

    [Fact]
    public async Task An_unreachable_primary_answers_503_and_the_anonymous_body_holds_only_fixed_descriptions()
    {
        using var api = fixture.Client();
        await fixture.Stack.Primary.StopAsync();
        try
        {
            await Eventually.True(async () =>
            {
                using var response = await api.Http.GetAsync("/health/ready");
                return response.StatusCode == HttpStatusCode.ServiceUnavailable;
            }, "readiness to answer 503", Within);
            var body = await Ready(api);
            Assert.Equal("Unhealthy", body["status"]!.GetValue<string>());
            Assert.Equal(PrimaryProbe.NotAnswering, body["checks"]!["primary"]!["description"]!.GetValue<string>());
            string[] fixedTexts =
            [
                PrimaryProbe.Answering, PrimaryProbe.NotAnswering,
                ReplicaProbe.NotConfigured, ReplicaProbe.Answering, ReplicaProbe.Lagging, ReplicaProbe.NotAnswering, ReplicaProbe.BreakerOpen,
                RedisProbe.Answering, RedisProbe.NotConnected, RedisProbe.NotAnswering, RedisProbe.Full,
                ProbeHealthCheck<RedisProbe>.Stale, ProbeHealthCheck<RedisProbe>.NotProbedYet,
            ];
            foreach (var (name, check) in body["checks"]!.AsObject())
                Assert.True(fixedTexts.Contains(check!["description"]!.GetValue<string>()), $"{name}: {check["description"]}");
            var text = body.ToJsonString();
            foreach (var leak in new[] { "Exception", "Npgsql", "refused", "127.0.0.1", fixture.Stack.Primary.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) })
                Assert.DoesNotContain(leak, text, StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            await fixture.Stack.Primary.StartAsync();
        }
        await Eventually.True(async () => (await api.Http.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK, "readiness after the primary returns", TimeSpan.FromSeconds(60));
    }

    private static async Task<JsonObject> Ready(ApiClient api) => await ApiClient.Json(await api.Http.GetAsync("/health/ready"));

    private static async Task<JsonObject> WaitForCheck(ApiClient api, string check, string status, string what)
    {
        JsonObject? last = null;
        await Eventually.True(async () =>
        {
            last = (await Ready(api))["checks"]![check]!.AsObject();
            return last["status"]!.GetValue<string>() == status;
        }, $"{what} (last: {last?.ToJsonString()})", Within);
        return last!;
    }

    /// <summary>Processes stopped with SIGSTOP (alive, sockets open, no answers) until disposed, which always sends SIGCONT.</summary>
    private sealed class Frozen : IAsyncDisposable
    {
        private readonly List<int> _pids;

        private Frozen(List<int> pids)
        {
            _pids = pids;
            Signal("STOP", _pids);
        }

        /// <summary>A server and every process it forked (PostgreSQL's postmaster and its backends, walsender, walreceiver...).</summary>
        public static Frozen Tree(int pid)
        {
            var pids = new List<int> { pid };
            for (var i = 0; i < pids.Count; i++)
                pids.AddRange(Run("pgrep", $"-P {pids[i]}").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse));
            return new(pids);
        }

        public ValueTask DisposeAsync()
        {
            Signal("CONT", _pids);
            return ValueTask.CompletedTask;
        }

        private static void Signal(string signal, List<int> pids) => Run("kill", $"-{signal} {string.Join(' ', pids)}");

        private static string Run(string file, string arguments)
        {
            using var process = System.Diagnostics.Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true })!;
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return output;
        }
    }
}
