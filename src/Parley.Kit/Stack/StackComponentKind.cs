namespace Parley.Kit.Stack;

/// <summary>The servers a <see cref="LocalStack"/> can run.</summary>
public enum StackComponentKind
{
    Primary,
    Replica,
    PgBouncer,
    Redis,

    /// <summary>A local SMTP server (aiosmtpd) that keeps what it receives in a Maildir; only with <see cref="StackOptions.WithSmtp"/>.</summary>
    Smtp,
}

/// <summary>Whether a component's process is up.</summary>
public enum StackComponentState
{
    Running,
    Stopped,
}
