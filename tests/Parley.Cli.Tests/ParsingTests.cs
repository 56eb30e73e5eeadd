namespace Parley.Cli.Tests;

[Trait("Category", "Smoke")]
public sealed class ParsingTests
{
    [Fact]
    public async Task No_command_is_a_usage_error()
    {
        var result = await CliRun.InProcessAsync();

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("parley --help", result.Err);
    }

    [Theory]
    [InlineData("up", "--bogus")]
    [InlineData("up", "--port", "x")]
    [InlineData("up", "--port", "70000")]
    [InlineData("up", "--nodes", "0")]
    [InlineData("frobnicate")]
    [InlineData("config", "check", "--strict", "extra")]
    public async Task Bad_arguments_exit_2_with_a_message(params string[] args)
    {
        var result = await CliRun.InProcessAsync(args);

        Assert.True(result.ExitCode == ExitCodes.Usage, result.ToString());
        Assert.StartsWith("parley: ", result.Err);
    }

    [Fact]
    public async Task Help_lists_the_commands_and_the_exit_codes()
    {
        var result = await CliRun.InProcessAsync("--help");

        Assert.Equal(ExitCodes.Ok, result.ExitCode);
        foreach (var command in new[] { "up", "down", "status", "migrate", "serve", "config" })
            Assert.Contains($"  {command} ", result.Out);
        Assert.Contains("Exit codes:", result.Out);
    }

    [Theory]
    [InlineData(ExitCodes.Failure, "\"state\": \"stopped\"", "status", "--json")]
    [InlineData(ExitCodes.Failure, "Nothing running", "status")]
    [InlineData(ExitCodes.Ok, "Nothing running", "down")]
    public async Task With_nothing_running_status_and_down_say_so(int exitCode, string expected, params string[] args)
    {
        var root = Directory.CreateTempSubdirectory("parley-cli-empty-").FullName;
        try
        {
            var result = await CliRun.InProcessAsync([.. args, "--root", root]);

            Assert.True(result.ExitCode == exitCode, result.ToString());
            Assert.Contains(expected, result.Out);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task Migrate_rejects_a_connection_string_that_does_not_parse()
    {
        var result = await CliRun.InProcessAsync("migrate", "--connection", "Nonsense=1");

        Assert.True(result.ExitCode == ExitCodes.Usage, result.ToString());
        Assert.Contains("bad connection string", result.Err);
    }
}
