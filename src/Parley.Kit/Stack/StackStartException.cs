namespace Parley.Kit.Stack;

/// <summary>A component did not start or did not become ready; the message ends with its log tail.</summary>
public sealed class StackStartException : Exception
{
    public StackStartException(string component, string reason, string logTail, Exception? inner = null)
        : base($"{component}: {reason}{Environment.NewLine}--- last lines of the {component} log ---{Environment.NewLine}{logTail}", inner)
    {
        Component = component;
    }

    /// <summary>The component's name, e.g. <c>replica</c>.</summary>
    public string Component { get; }

    /// <summary>What went wrong, in a few words, without the log tail.</summary>
    public string Reason { get; init; } = "";
}
