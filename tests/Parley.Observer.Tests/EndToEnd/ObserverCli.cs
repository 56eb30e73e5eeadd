using System.Text.Json;
using Parley.Cli;

namespace Parley.Observer.Tests.EndToEnd;

/// <summary>What one <c>parley</c> invocation printed and returned.</summary>
public sealed record CliOutput(int ExitCode, string Out, string Err)
{
    public JsonElement Json()
    {
        using var document = JsonDocument.Parse(Out);
        return document.RootElement.Clone();
    }

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Out}\nstderr:\n{Err}";
}

/// <summary><c>parley observer ...</c> run in this process through the CLI's own parser and handlers, against one group of the fixture's database (the CLI is Linux only).</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ObserverCli(string connectionString, string group)
{
    public async Task<CliOutput> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await ParleyCli.RunAsync(["observer", .. args, "--connection", connectionString, .. Group(args)], output, error);
        return new CliOutput(exitCode, output.ToString(), error.ToString());
    }

    /// <summary>Runs and asserts the exit code, with the output in the failure message.</summary>
    public async Task<CliOutput> OkAsync(params string[] args)
    {
        var result = await RunAsync(args);
        Assert.True(result.ExitCode == ExitCodes.Ok, $"parley observer {string.Join(' ', args)}: {result}");
        return result;
    }

    // `search` reads an index, not a group.
    private string[] Group(string[] args) => args is ["search", ..] ? [] : ["--name", group];
}
