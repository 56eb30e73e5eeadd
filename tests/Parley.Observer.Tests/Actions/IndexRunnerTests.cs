using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Parley.Data.Search;
using Parley.Observer.Actions;

namespace Parley.Observer.Tests.Actions;

[Trait("Category", "Smoke")]
public sealed class IndexRunnerTests
{
    [Fact]
    public async Task With_the_database_unreachable_an_index_attempt_fails_without_an_exception()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        await using var source = NpgsqlDataSource.Create($"Host=127.0.0.1;Port={port};Username=parley;Database=parley;Timeout=2");
        var runner = new IndexRunner(new SearchStore(source), NullLogger<IndexRunner>.Instance);

        var result = await runner.RunAsync(new ActionWork(Work.Event(), "big-orders", "index-orders", new IndexSpec("orders", "text"), 1), CancellationToken.None);

        Assert.Equal(ActionOutcome.Failed, result.Outcome);
        Assert.StartsWith("database:", result.Error, StringComparison.Ordinal);
    }
}
