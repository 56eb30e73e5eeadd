namespace Parley.Cli;

/// <summary>A failure the user can act on: its message is printed as is and the process exits with <see cref="ExitCode"/>.</summary>
public sealed class CliException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
