using Parley.Kit.Load.Engine;

namespace Parley.Kit.Tests.Load;

[Trait("Category", "Smoke")]
public sealed class LoopbackGuardTests
{
    [Theory]
    [InlineData("http://127.0.0.1:8080")]
    [InlineData("http://127.0.0.53/")]
    [InlineData("http://localhost:5000/")]
    [InlineData("https://[::1]:8443")]
    public void Loopback_targets_are_accepted(string url) => Assert.NotNull(LoopbackGuard.Ensure(url));

    [Theory]
    [InlineData("http://10.0.0.5:8080")]
    [InlineData("http://example.com/")]
    [InlineData("http://192.168.1.10")]
    [InlineData("http://127.0.0.1.example.com/")]
    [InlineData("http://[2001:db8::1]/")]
    public void Anything_else_is_refused_with_a_clear_message(string url)
    {
        var error = Assert.Throws<LoadConfigurationException>(() => LoopbackGuard.Ensure(url));

        Assert.Contains("only targets loopback", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ftp://127.0.0.1/")]
    [InlineData("not a url")]
    public void Non_http_urls_are_refused(string url) => Assert.Throws<LoadConfigurationException>(() => LoopbackGuard.Ensure(url));

    [FileLimitFact]
    public void The_file_limit_can_be_raised_for_ten_thousand_sockets()
    {
        var before = OpenFiles.Read();
        // Lower the soft limit first, so the raise has something to do even where the shell already allows 10,000.
        OpenFiles.SetSoft(4096);
        try
        {
            Assert.Equal(4096ul, OpenFiles.Read().Soft);

            var limit = FileLimit.Raise(10_000);

            Assert.Equal(10_000ul, limit);
            Assert.Equal(10_000ul, OpenFiles.Read().Soft); // in effect for the process, not only reported
        }
        finally
        {
            OpenFiles.SetSoft(before.Soft);
        }
    }
}

/// <summary>This process's RLIMIT_NOFILE as /proc/self/limits shows it, and <c>prlimit</c> to change the soft limit.</summary>
internal static class OpenFiles
{
    public static (ulong Soft, ulong Hard) Read()
    {
        var line = File.ReadLines("/proc/self/limits").First(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (Parse(fields[0]), Parse(fields[1]));
    }

    private static ulong Parse(string value) => value == "unlimited" ? ulong.MaxValue : ulong.Parse(value, System.Globalization.CultureInfo.InvariantCulture);

    public static void SetSoft(ulong soft)
    {
        using var process = System.Diagnostics.Process.Start("prlimit", ["--pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), $"--nofile={soft}:"])!;
        if (!process.WaitForExit(TimeSpan.FromSeconds(10)) || process.ExitCode != 0) throw new InvalidOperationException($"prlimit --nofile={soft}: failed");
    }
}

/// <summary>A fact that needs Linux, <c>prlimit</c> and a hard open-file limit of at least 10,000 (what the raise is for).</summary>
public sealed class FileLimitFactAttribute : FactAttribute
{
    public FileLimitFactAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "RLIMIT_NOFILE is raised on Linux only.";
        else if (!File.Exists("/usr/bin/prlimit")) Skip = "prlimit (util-linux) is not installed; it lowers the soft limit so the raise has work to do.";
        else if (OpenFiles.Read().Hard < 10_000) Skip = $"the hard open-file limit is {OpenFiles.Read().Hard}, under 10,000: raise it (ulimit -Hn, limits.conf) to run this test.";
    }
}
