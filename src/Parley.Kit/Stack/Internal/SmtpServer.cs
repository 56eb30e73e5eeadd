using System.Diagnostics;
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
        // aiosmtpd has no daemon mode: a shell in its own session (so it outlives us) writes its pid and execs python.
        var command = string.Join(' ',
            "echo $$ >", Shell.Quote(PidFile), "; exec", Shell.Quote(Env.Binaries.Python!), "-m aiosmtpd -n",
            "-l", Shell.Quote($"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}"),
            "-c aiosmtpd.handlers.Mailbox", Shell.Quote(Maildir),
            ">>", Shell.Quote(LogFile), "2>&1 </dev/null");
        var info = new ProcessStartInfo(Env.Binaries.SetSid)
        {
            ArgumentList = { "sh", "-c", command },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Directory,
        };
        using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start aiosmtpd.");
        return Task.CompletedTask;
    }

    protected override async Task<bool> ProbeAsync(CancellationToken ct) =>
        (await LoopbackProbe.ExchangeAsync(Port, request: null, GreetingTimeout, ct).ConfigureAwait(false))?.StartsWith("220", StringComparison.Ordinal) == true;
}
