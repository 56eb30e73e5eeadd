using System.CommandLine;

namespace Parley.Cli;

/// <summary>Options every command accepts (recursive on the root command).</summary>
public sealed class GlobalOptions
{
    public Option<string?> Root { get; } = new("--root")
    {
        Description = "Directory for the local stack's state, keys and logs. Default: $PARLEY_HOME, else <repo>/.parley, else ./.parley.",
        Recursive = true,
    };

    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Print structured output as JSON.",
        Recursive = true,
    };
}
