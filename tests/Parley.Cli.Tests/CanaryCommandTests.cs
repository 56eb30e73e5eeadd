namespace Parley.Cli.Tests;

/// <summary><c>parley canary</c>'s refusals: a bad plan exits 2 before anything is touched; status without a run says so.</summary>
[Trait("Category", "Smoke")]
public sealed class CanaryCommandTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("parley-canary-cli-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string PlanFile(string yaml)
    {
        var path = Path.Combine(_root, "plan.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    [Theory]
    [InlineData("stages: [{percent: 10, hold: 1m}]")]
    [InlineData("flag: message.history.replica.enabled\nstages: [{percent: 50}, {percent: 10}]")]
    [InlineData("flag: message.history.replica.enabled\nstages: [{percent: 10}]\ninterval: often")]
    [InlineData("flag: message.history.replica.enabled\nstages: [{percent: 10}]\ncriteria: {latencyIncrease: {test: t-test}}")]
    public async Task A_bad_plan_exits_2_and_says_what_is_wrong(string yaml)
    {
        var result = await CliRun.InProcessAsync("--root", _root, "canary", "run", PlanFile(yaml), "--url", "http://127.0.0.1:9");

        Assert.True(result.ExitCode == ExitCodes.Usage, result.ToString());
        Assert.StartsWith("parley: bad plan: ", result.Err);
    }

    [Fact]
    public async Task A_missing_plan_file_a_remote_node_and_an_unknown_load_scenario_exit_2()
    {
        var missing = await CliRun.InProcessAsync("--root", _root, "canary", "run", Path.Combine(_root, "none.yaml"));
        Assert.True(missing.ExitCode == ExitCodes.Usage, missing.ToString());

        var plan = PlanFile("flag: message.history.replica.enabled\nstages: [{percent: 10}]");
        var remote = await CliRun.InProcessAsync("--root", _root, "canary", "run", plan, "--url", "http://192.0.2.1:8080");
        Assert.True(remote.ExitCode == ExitCodes.Usage, remote.ToString());
        Assert.Contains("loopback", remote.Err);

        var noNode = await CliRun.InProcessAsync("--root", _root, "canary", "run", plan);
        Assert.True(noNode.ExitCode == ExitCodes.Usage, noNode.ToString());
        Assert.Contains("no node to judge", noNode.Err);

        var scenario = await CliRun.InProcessAsync("--root", _root, "canary", "run", plan, "--url", "http://127.0.0.1:9", "--load", "nonsense");
        Assert.True(scenario.ExitCode == ExitCodes.Usage, scenario.ToString());
    }

    [Fact]
    public async Task Status_without_a_run_says_so_and_exits_1()
    {
        var result = await CliRun.InProcessAsync("--root", _root, "canary", "status");

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Contains("No canary run", result.Out);
    }
}
