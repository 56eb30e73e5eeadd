namespace Parley.Kit.Stack;

/// <summary>The servers a <see cref="LocalStack"/> can run.</summary>
public enum StackComponentKind
{
    Primary,
    Replica,
    PgBouncer,
    Redis,
}

/// <summary>Whether a component's process is up.</summary>
public enum StackComponentState
{
    Running,
    Stopped,
}
