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

    /// <summary>HAProxy in front of the Parley nodes, on the one public port; only with <see cref="LocalStack.StartBalancerAsync"/>.</summary>
    Balancer,

    /// <summary>A Prometheus server scraping the stack's nodes; only with <see cref="StackOptions.WithPrometheus"/>.</summary>
    Prometheus,
}

/// <summary>Whether a component's process is up.</summary>
public enum StackComponentState
{
    Running,
    Stopped,
}
