using Parley.Kit.Stack;

namespace Parley.Cli.Tests;

/// <summary>A local stack of PostgreSQL alone, migrated with <c>parley migrate</c>: what the CLI's database tests run against.</summary>
public static class MigratedPrimary
{
    public static async Task<LocalStack> StartAsync()
    {
        var stack = await LocalStack.StartAsync(new StackOptions { WithReplica = false, WithPgBouncer = false, WithRedis = false });
        var migrated = await CliRun.InProcessAsync("migrate", "--connection", stack.PrimaryConnectionString);
        if (migrated.ExitCode == ExitCodes.Ok) return stack;
        await stack.DisposeAsync();
        throw new InvalidOperationException("parley migrate failed: " + migrated);
    }
}
