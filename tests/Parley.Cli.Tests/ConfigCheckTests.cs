using System.Text.Json;
using System.Text.RegularExpressions;

namespace Parley.Cli.Tests;

[Trait("Category", "Smoke")]
public sealed class ConfigCheckTests : IDisposable
{
    private const string GoodKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="; // 32 bytes
    private readonly string _directory = Directory.CreateTempSubdirectory("parley-cli-config-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Valid_configuration_exits_0()
    {
        var result = await CheckAsync(Settings(), "--strict");

        Assert.True(result.ExitCode == ExitCodes.Ok, result.ToString());
        Assert.Contains("Configuration is valid.", result.Out);
    }

    [Fact]
    public async Task Missing_signing_key_is_an_error()
    {
        var result = await CheckAsync(Settings(signingKey: null));

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("error: Parley:Auth:SigningKey is missing", result.Out);
    }

    [Fact]
    public async Task Missing_primary_connection_string_is_an_error()
    {
        var result = await CheckAsync(Settings(primary: null));

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("error: Parley:Data:PrimaryConnectionString is missing", result.Out);
    }

    [Theory]
    [InlineData("not base64!", "is not valid base64")]
    [InlineData("c2hvcnQ=", "decodes to 5 bytes")]
    public async Task Bad_signing_key_is_an_error(string key, string expected)
    {
        var result = await CheckAsync(Settings(signingKey: key));

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains(expected, result.Out);
    }

    [Fact]
    public async Task Connection_string_that_does_not_parse_is_an_error()
    {
        var result = await CheckAsync(Settings(primary: "Host=127.0.0.1;Colour=blue"));

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("Parley:Data:PrimaryConnectionString does not parse", result.Out);
    }

    [Fact]
    public async Task Value_out_of_range_is_an_error()
    {
        var result = await CheckAsync(Settings(extraData: ("MaxPoolSize", 0)));

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("Parley:Data:MaxPoolSize", result.Out);
    }

    [Fact]
    public async Task Unknown_key_is_a_warning_without_strict()
    {
        var result = await CheckAsync(Settings(extraData: ("MaxPoolSzie", 10)));

        Assert.True(result.ExitCode == ExitCodes.Ok, result.ToString());
        Assert.Contains("warning: Parley:Data:MaxPoolSzie is not a Parley setting", result.Out);
    }

    [Fact]
    public async Task Unknown_key_is_an_error_with_strict()
    {
        var result = await CheckAsync(Settings(extraData: ("MaxPoolSzie", 10)), "--strict", "--json");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        using var json = JsonDocument.Parse(result.Out);
        Assert.False(json.RootElement.GetProperty("valid").GetBoolean());
        var problem = Assert.Single(json.RootElement.GetProperty("problems").EnumerateArray());
        Assert.Equal("Parley:Data:MaxPoolSzie", problem.GetProperty("key").GetString());
        Assert.Equal("error", problem.GetProperty("severity").GetString());
    }

    [Fact]
    public async Task The_removed_admin_list_is_not_a_setting_any_more()
    {
        // Admins are a database role now (`parley admin grant`); a leftover list must not pass silently.
        var result = await CheckAsync(Settings(admins: ["alice", "bob"]), "--strict");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("Parley:Auth:Admins:0", result.Out);
    }

    [Fact]
    public void Every_setting_the_readme_documents_is_known()
    {
        // The server's and the observer's registries are what config check walks; the README is what users read.
        var readme = File.ReadAllLines(Path.Combine(Commands.LoadCommand.RepoRoot(), "README.md"));
        var documented = readme
            .Where(line => !line.Contains("is gone", StringComparison.Ordinal))
            .SelectMany(line => Regex.Matches(line, @"`(Parley(?::[A-Za-z]+){2,})`").Select(m => m.Groups[1].Value))
            .Distinct()
            .ToList();

        Assert.Contains("Parley:Data:Replica:MaxLagSeconds", documented);
        Assert.Contains("Parley:Observer:Smtp:Host", documented);
        var unknown = documented.Where(key => !Configuration.ConfigValidator.IsKnown(key) && !Configuration.ConfigValidator.IsSection(key)).ToList();
        Assert.True(unknown.Count == 0, "The README documents keys config check calls unknown: " + string.Join(", ", unknown));
    }

    [Theory]
    [InlineData("Parley:Data:Replica:MaxLagSeconds", true)]
    [InlineData("Parley:Data:Replica:MaxLagSecs", false)]
    [InlineData("Parley:Data:Replica", false)]
    [InlineData("Parley:Redis:Endpoint", true)]
    [InlineData("Parley:Health:RedisTimeoutMilliseconds", true)]
    [InlineData("Parley:Observer:Smtp:Host", true)]
    [InlineData("Parley:Observer:Host", false)]
    [InlineData("Parley:Auth:Admins:0", false)]
    [InlineData("Parley:Monitoring:VacuumTables:0", true)]
    [InlineData("Parley:Monitoring:VacuumTables:x", false)]
    [InlineData("Parley:Monitoring:VacuumTables", false)]
    public void Nested_and_observer_keys_are_walked_by_their_options_classes(string key, bool known) =>
        Assert.Equal(known, Configuration.ConfigValidator.IsKnown(key));

    [Fact]
    public async Task Missing_file_is_a_usage_error()
    {
        var result = await CliRun.InProcessAsync("config", "check", "--no-env", "--file", Path.Combine(_directory, "nope.json"));

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("does not exist", result.Err);
    }

    private async Task<CliResult> CheckAsync(object settings, params string[] options)
    {
        var file = Path.Combine(_directory, $"{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(settings));
        return await CliRun.InProcessAsync(["config", "check", "--no-env", "--file", file, .. options]);
    }

    private static Dictionary<string, object> Settings(
        string? primary = "Host=127.0.0.1;Port=5432;Username=parley;Database=parley",
        string? signingKey = GoodKey,
        (string Key, object Value)? extraData = null,
        string[]? admins = null)
    {
        var data = new Dictionary<string, object> { ["ReplicaConnectionString"] = "Host=127.0.0.1;Port=5433;Username=parley" };
        if (primary is not null)
            data["PrimaryConnectionString"] = primary;
        if (extraData is { } extra)
            data[extra.Key] = extra.Value;
        var auth = new Dictionary<string, object>();
        if (signingKey is not null)
            auth["SigningKey"] = signingKey;
        if (admins is not null)
            auth["Admins"] = admins;
        return new() { ["Parley"] = new Dictionary<string, object> { ["Data"] = data, ["Auth"] = auth, ["Redis"] = new { Endpoint = "127.0.0.1:6379" } } };
    }
}
