using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using Parley.Cli.Local;

namespace Parley.Cli;

/// <summary>What a command's handler needs from the parsed command line: where, how to print, and whether as JSON.</summary>
public sealed class CliContext(ParleyHome home, bool json, TextWriter output, TextWriter error)
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public ParleyHome Home { get; } = home;

    public bool Json { get; } = json;

    public TextWriter Out { get; } = output;

    public TextWriter Err { get; } = error;

    public static CliContext From(ParseResult result, GlobalOptions global) => new(
        ParleyHome.Resolve(result.GetValue(global.Root)),
        result.GetValue(global.Json),
        result.InvocationConfiguration.Output,
        result.InvocationConfiguration.Error);

    public void WriteJson<T>(T value) => Out.WriteLine(JsonSerializer.Serialize(value, JsonOptions));

    /// <summary>Progress for long steps; goes to stderr so stdout stays the result.</summary>
    public IProgress<string> Progress => new SyncProgress(line => Err.WriteLine($"  · {line}"));

    private sealed class SyncProgress(Action<string> report) : IProgress<string>
    {
        public void Report(string value) => report(value);
    }
}
