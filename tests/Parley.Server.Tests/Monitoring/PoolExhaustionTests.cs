using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Parley.Data;
using Parley.Server.Monitoring;
using Parley.Server.Tests.Infrastructure;
using Parley.Kit.Load;

namespace Parley.Server.Tests.Monitoring;

/// <summary>A server of its own with a tiny pool, on the shared stack.</summary>
[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class PoolExhaustionTests(ParleyFixture fixture)
{
    private const int PoolSize = 3;

    [Fact]
    public async Task An_exhausted_pool_answers_503_with_retry_after_instead_of_hanging()
    {
        var settings = new Dictionary<string, string?>(fixture.Settings)
        {
            ["Parley:Data:MaxPoolSize"] = PoolSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Parley:Data:PoolWaitSeconds"] = "1",
            ["Parley:Monitoring:VacuumPollInterval"] = "01:00:00",
        };
        await using WebApplication app = ParleyApp.Build(["--urls", "http://127.0.0.1:0"], builder =>
        {
            builder.Configuration.AddInMemoryCollection(settings);
            builder.Logging.SetMinimumLevel(LogLevel.Error);
        });
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        // The bound on "never a hang": a request that waited for the pool longer than this fails the test.
        using var api = new ApiClient(new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(30) });
        using var main = fixture.Client();
        ApiUser user = await main.NewUserAsync("pool");
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync(user, "/v1/conversations")).StatusCode);

        var database = app.Services.GetRequiredService<ParleyDatabase>();
        using var release = new CancellationTokenSource();
        var held = new List<NpgsqlConnection>();
        var holders = new List<Task>();
        try
        {
            // Take every connection the server's pool will give (its own background services may hold some).
            for (int failures = 0; held.Count < PoolSize && failures < 3;)
            {
                try
                {
                    NpgsqlConnection connection = await database.Primary.OpenConnectionAsync();
                    held.Add(connection);
                    holders.Add(SleepAsync(connection, release.Token));
                    failures = 0;
                }
                catch (NpgsqlException e) when (e.InnerException is TimeoutException || e.Message.Contains("pool", StringComparison.OrdinalIgnoreCase))
                {
                    failures++;
                }
            }
            Assert.NotEmpty(held);
            Assert.Equal(1.0, app.Services.GetRequiredService<NpgsqlPoolSaturation>().Read()["primary"]);

            HttpResponseMessage[] responses = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => api.GetAsync(user, "/v1/conversations")));

            foreach (HttpResponseMessage response in responses)
            {
                var problem = await ApiClient.AssertProblem(response, HttpStatusCode.ServiceUnavailable);
                Assert.True(response.Headers.RetryAfter is not null, "503 without Retry-After");
                Assert.Equal(503, problem["status"]!.GetValue<int>());
            }
        }
        finally
        {
            await release.CancelAsync();
            await Task.WhenAll(holders);
            foreach (NpgsqlConnection connection in held)
                await connection.DisposeAsync();
        }

        // Released connections serve requests again.
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync(user, "/v1/conversations")).StatusCode);
        await app.StopAsync();
    }

    private static async Task SleepAsync(NpgsqlConnection connection, CancellationToken release)
    {
        try
        {
            await using var command = new NpgsqlCommand("SELECT pg_sleep(60)", connection);
            await command.ExecuteNonQueryAsync(release);
        }
        catch (OperationCanceledException)
        {
            // Released.
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.QueryCanceled)
        {
            // Released.
        }
    }
}
