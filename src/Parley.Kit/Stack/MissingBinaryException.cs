namespace Parley.Kit.Stack;

/// <summary>A server binary the stack needs is not installed; the message says what to install.</summary>
public sealed class MissingBinaryException : Exception
{
    public MissingBinaryException(string binary, string installCommand)
        : base($"{binary} not found: {installCommand}")
    {
        Binary = binary;
        InstallCommand = installCommand;
    }

    /// <summary>What was looked for, e.g. <c>pgbouncer</c>.</summary>
    public string Binary { get; }

    /// <summary>The command that installs it, e.g. <c>apt-get install -y pgbouncer</c>.</summary>
    public string InstallCommand { get; }
}
