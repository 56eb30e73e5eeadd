using Parley.Kit.Stack;
using Parley.Kit.Stack.Internal;

namespace Parley.Kit.Tests.Stack;

[Trait("Category", "Smoke")]
public sealed class StackOptionsTests
{
    [Fact]
    public void Missing_postgres_names_the_package_to_install()
    {
        var error = Assert.Throws<MissingBinaryException>(
            () => StackBinaries.Locate(new StackOptions(), runAsPostgres: false, searchPath: "/nonexistent", postgresRoots: "/nonexistent"));

        Assert.EndsWith("not found: apt-get install -y postgresql-15", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_pgbouncer_names_the_package_to_install()
    {
        var options = new StackOptions { WithReplica = false, WithRedis = false };

        var error = Assert.Throws<MissingBinaryException>(
            () => StackBinaries.Locate(options, runAsPostgres: false, searchPath: "/usr/bin:/bin"));

        Assert.Equal("pgbouncer not found: apt-get install -y pgbouncer", error.Message);
    }

    [Fact]
    public void Missing_aiosmtpd_for_the_smtp_server_names_the_package_to_install()
    {
        var options = new StackOptions { WithPrimary = false, WithReplica = false, WithPgBouncer = false, WithRedis = false, WithSmtp = true };

        var error = Assert.Throws<MissingBinaryException>(
            () => StackBinaries.Locate(options, runAsPostgres: false, debianPython: "/nonexistent/python3"));

        Assert.EndsWith("not found: apt-get install -y python3-aiosmtpd", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false, true, "parley")]
    [InlineData(true, true, "parley; DROP")]
    public async Task Invalid_options_are_refused_before_anything_starts(bool withPrimary, bool withReplica, string database)
    {
        var options = new StackOptions { WithPrimary = withPrimary, WithReplica = withReplica, Database = database };

        await Assert.ThrowsAsync<ArgumentException>(() => LocalStack.StartAsync(options));
    }
}
