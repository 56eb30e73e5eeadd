using System.Text.Json;

namespace Parley.Cli.Tests;

[Trait("Category", "Smoke")]
public sealed class ObserverConfigCheckTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("parley-cli-observer-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private const string Good = """
        rules:
          - name: new-orders
            source: table:public.orders
            on: [insert]
            actions:
              - name: hook
                webhook: { url: "http://127.0.0.1:9000/hook", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }
        """;

    [Fact]
    public async Task A_valid_rules_file_exits_0()
    {
        var result = await CliRun.InProcessAsync("observer", "config", "check", Write(Good), "--strict");

        Assert.True(result.ExitCode == ExitCodes.Ok, result.ToString());
        Assert.Contains("is valid: 1 rule(s)", result.Out);
    }

    [Fact]
    public async Task An_invalid_rules_file_exits_2_with_each_problem_on_its_line()
    {
        var path = Write(Good.Replace("on: [insert]", "on: [inserted]\n    colour: blue", StringComparison.Ordinal));

        var result = await CliRun.InProcessAsync("observer", "config", "check", path, "--strict");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains($"{path}:4:10: error: rule 'new-orders': 'inserted' is not an event", result.Err);
        Assert.Contains($"{path}:5:5: error: unknown key 'colour'", result.Err);
    }

    [Fact]
    public async Task The_json_report_lists_problems_with_line_column_and_severity()
    {
        var result = await CliRun.InProcessAsync("--json", "observer", "config", "check", Write(Good.Replace("    on: [insert]", "    on: [insert]\n    colour: blue", StringComparison.Ordinal)));

        Assert.Equal(ExitCodes.Ok, result.ExitCode);
        var json = JsonDocument.Parse(result.Out).RootElement;
        Assert.True(json.GetProperty("valid").GetBoolean());
        var problem = Assert.Single(json.GetProperty("problems").EnumerateArray());
        Assert.Equal((5, "warning"), (problem.GetProperty("line").GetInt32(), problem.GetProperty("severity").GetString()));
    }

    [Fact]
    public async Task A_rules_file_that_sends_email_while_the_smtp_server_is_unreachable_exits_2_at_the_rule_s_line()
    {
        var mailing = Good.Replace("""webhook: { url: "http://127.0.0.1:9000/hook", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }""",
            "email: { to: [ops@example.com], subject: s, body: b }", StringComparison.Ordinal);
        var settings = Path.Combine(_directory, "appsettings.json");
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        File.WriteAllText(settings, """{ "Parley": { "Observer": { "Smtp": { "Host": "127.0.0.1", "Port": 1, "Timeout": "00:00:05" } } } }""");

        var result = await CliRun.InProcessAsync("observer", "config", "check", Write(mailing), "--settings", settings);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains(":2:1: error: rule 'new-orders' sends email, but the SMTP server 127.0.0.1:1 (Parley:Observer:Smtp) is unreachable", result.Err);
    }

    [Fact]
    public async Task Observer_run_refuses_an_invalid_rules_file_with_the_same_report_and_exit_2()
    {
        var path = Write(Good.Replace("table:public.orders", "table:orders", StringComparison.Ordinal));

        var result = await CliRun.InProcessAsync("observer", "run", "--rules", path);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains($"{path}:3:13: error: source 'table:orders' must be 'parley' or 'table:<schema>.<name>'", result.Err);
    }

    private string Write(string yaml)
    {
        var path = Path.Combine(_directory, $"rules-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }
}
