using System.Net.Sockets;
using Npgsql;
using Parley.Server.Http;

namespace Parley.Server.Tests.Http;

/// <summary>What a multi-host data source throws while no writable server answers (a failover) is a 503, not a 500.</summary>
[Trait("Category", "Smoke")]
public sealed class ExceptionProblemsTests
{
    [Fact]
    public void No_suitable_host_during_a_failover_is_unavailable()
    {
        Assert.Equal(503, ExceptionProblems.Classify(new NpgsqlException("No suitable host was found.")).Status);
        var refused = new NpgsqlException("Failed to connect to 127.0.0.1:5432", new SocketException((int)SocketError.ConnectionRefused));
        Assert.Equal(503, ExceptionProblems.Classify(
            new NpgsqlException("Unable to connect to a suitable host. Check inner exception for more details.", new AggregateException(refused))).Status);
    }

    [Fact]
    public void Other_database_errors_stay_internal()
    {
        Assert.Equal(500, ExceptionProblems.Classify(new NpgsqlException("Something else went wrong.")).Status);
        Assert.Equal(500, ExceptionProblems.Classify(new NpgsqlException("Wrapped", new InvalidOperationException("a bug"))).Status);
    }
}
