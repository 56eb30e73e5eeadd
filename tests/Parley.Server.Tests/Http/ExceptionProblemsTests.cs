using System.Net.Sockets;
using Npgsql;
using Parley.Server.Http;

namespace Parley.Server.Tests.Http;

/// <summary>
/// What a multi-host data source throws while no writable server answers (a failover), and a server out of a resource or restarting,
/// is a 503, not a 500.
/// </summary>
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

    [Theory]
    [InlineData("53100")] // disk_full: the data filesystem is full
    [InlineData("53200")] // out_of_memory
    [InlineData("53300")] // too_many_connections
    [InlineData("57P01")] // admin_shutdown
    [InlineData("57P02")] // crash_shutdown: another backend PANICked (e.g. WAL could not be written)
    [InlineData("57P03")] // cannot_connect_now: crash recovery under way
    [InlineData("58030")] // io_error
    public void A_server_out_of_a_resource_or_restarting_is_unavailable(string sqlState) =>
        Assert.Equal(503, ExceptionProblems.Classify(new PostgresException("refused", "ERROR", "ERROR", sqlState)).Status);

    [Theory]
    [InlineData("23505")]
    [InlineData("42P01")]
    public void A_statement_the_server_refuses_stays_internal(string sqlState) =>
        Assert.Equal(500, ExceptionProblems.Classify(new PostgresException("refused", "ERROR", "ERROR", sqlState)).Status);
}
