using System.Globalization;

namespace Parley.Kit.Stack.Internal;

/// <summary>
/// Debian's aiosmtpd (<c>python3 -m aiosmtpd</c>) with its Mailbox handler: every mail it accepts becomes one file in
/// the Maildir <see cref="Maildir"/> (<c>new/</c>), which tests read back. Ready once it greets with 220.
/// No authentication, no TLS: it listens on 127.0.0.1 only, for the observer's email actions.
/// </summary>
internal sealed class SmtpServer(string dataDirectory, StackEnvironment env)
    : ComponentDriver(StackComponentKind.Smtp, dataDirectory, env)
{
    private static readonly TimeSpan GreetingTimeout = TimeSpan.FromSeconds(2);

    protected override string PidFile => Path.Combine(Directory, "smtp.pid");

    // The pid file holds the shell's pid, which becomes python's with exec.
    protected override string ProcessName => "python3";

    public string Maildir => Path.Combine(Directory, "maildir");

    protected override Task PrepareAsync(CancellationToken ct)
    {
        System.IO.Directory.CreateDirectory(Directory);
        return Task.CompletedTask;
    }

    protected override Task LaunchAsync(CancellationToken ct)
    {
        DeleteStalePidFile();
        LaunchInOwnSession(Env.Binaries.Python!,
            ["-m", "aiosmtpd", "-n", "-l", $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}", "-c", "aiosmtpd.handlers.Mailbox", Maildir]);
        return Task.CompletedTask;
    }

    protected override async Task<bool> ProbeAsync(CancellationToken ct) =>
        (await LoopbackProbe.ExchangeAsync(Port, request: null, GreetingTimeout, ct).ConfigureAwait(false))?.StartsWith("220", StringComparison.Ordinal) == true;
}
