namespace Parley.Observer.Rules;

/// <summary>One thing wrong (or, for unknown keys outside strict mode, doubtful) in a rules file.</summary>
/// <param name="Line">1-based; 0 when the file as a whole is meant (it cannot be read).</param>
public sealed record RuleProblem(int Line, int Column, RuleProblemSeverity Severity, string Message)
{
    public bool IsError => Severity == RuleProblemSeverity.Error;

    public string SeverityName => IsError ? "error" : "warning";

    /// <summary><c>rules.yaml:12:9: error: ...</c>, as <c>config check</c> prints it.</summary>
    public string Format(string file) => $"{file}:{Line}:{Column}: {SeverityName}: {Message}";
}

public enum RuleProblemSeverity
{
    Error,
    Warning,
}

/// <summary>What <see cref="RulesFile.Load"/> read: the rules when the file is valid, and every problem found.</summary>
public sealed record RulesLoadResult(RuleSet? Rules, IReadOnlyList<RuleProblem> Problems)
{
    public bool IsValid => Rules is not null;
}
