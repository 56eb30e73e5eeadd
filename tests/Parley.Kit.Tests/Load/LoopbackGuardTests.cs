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

    [Fact]
    public void The_file_limit_can_be_raised_for_ten_thousand_sockets()
    {
        var limit = FileLimit.Raise(10_000);

        if (OperatingSystem.IsLinux()) Assert.True(limit >= 1024);
    }
}
