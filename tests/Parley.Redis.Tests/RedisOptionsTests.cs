using Parley.Redis.Internal;

namespace Parley.Redis.Tests;

[Trait("Category", "Smoke")]
public sealed class RedisOptionsTests
{
    [Fact]
    public void Defaults_are_the_documented_ones_and_valid()
    {
        var options = new RedisOptions().Validate();
        Assert.Equal("127.0.0.1:6379", options.Endpoint);
        Assert.Equal("parley:", options.KeyPrefix);
        Assert.Equal(TimeSpan.FromSeconds(1), options.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(1), options.CommandTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(50), options.ReconnectMinBackoff);
        Assert.Equal(TimeSpan.FromSeconds(2), options.ReconnectMaxBackoff);
        Assert.Equal(("127.0.0.1", 6379), options.ParseEndpoint());
        Assert.False(options.Tls);
        Assert.Equal(TimeSpan.FromSeconds(10), options.KeepAlive);
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData(":6379")]
    [InlineData("host:0")]
    [InlineData("host:70000")]
    [InlineData("host:port")]
    public void Bad_endpoints_are_refused_with_an_example(string endpoint)
    {
        var error = Assert.Throws<ArgumentException>(() => new RedisOptions { Endpoint = endpoint }.Validate());
        Assert.Contains("host:port", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Out_of_range_settings_are_refused_by_name()
    {
        Assert.Contains("CommandTimeout", Assert.Throws<ArgumentException>(() => new RedisOptions { CommandTimeout = TimeSpan.Zero }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("ReconnectMaxBackoff", Assert.Throws<ArgumentException>(() =>
            new RedisOptions { ReconnectMinBackoff = TimeSpan.FromSeconds(3) }.Validate()).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new RedisOptions { Database = -1 }.Validate());
        Assert.Contains("KeepAlive", Assert.Throws<ArgumentException>(() => new RedisOptions { KeepAlive = TimeSpan.Zero }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("TlsCaFile", Assert.Throws<ArgumentException>(() => new RedisOptions { TlsCaFile = "/nonexistent/ca.pem" }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("Sentinels[1]", Assert.Throws<ArgumentException>(() =>
            new RedisOptions { Sentinels = ["127.0.0.1:26379", "sentinel-b"], SentinelPrimary = "p" }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("SentinelPrimary", Assert.Throws<ArgumentException>(() => new RedisOptions { Sentinels = ["127.0.0.1:26379"] }.Validate()).Message, StringComparison.Ordinal);
        // With Sentinels the endpoint is not used, so it is not checked.
        new RedisOptions { Endpoint = "", Sentinels = ["127.0.0.1:26379"], SentinelPrimary = "p" }.Validate();
    }

    [Fact]
    public void Backoff_doubles_from_min_to_max_with_jitter_inside_bounds()
    {
        var min = TimeSpan.FromMilliseconds(50);
        var max = TimeSpan.FromSeconds(2);
        Assert.Equal(TimeSpan.FromMilliseconds(25), Backoff.Compute(1, min, max, 0));
        Assert.Equal(TimeSpan.FromMilliseconds(50), Backoff.Compute(1, min, max, 1));
        Assert.Equal(TimeSpan.FromMilliseconds(100), Backoff.Compute(3, min, max, 0));
        Assert.Equal(max, Backoff.Compute(30, min, max, 1));
        Assert.Equal(max, Backoff.Compute(int.MaxValue, min, max, 1));
        for (var attempt = 1; attempt < 40; attempt++)
        {
            var delay = Backoff.Compute(attempt, min, max, Random.Shared.NextDouble());
            Assert.InRange(delay, min / 2, max);
        }
    }

    [Fact]
    public void Lua_script_sha1_matches_what_redis_computes()
    {
        // redis-cli SCRIPT LOAD "return 1" answers this SHA1.
        Assert.Equal("e0e1f9fabfc9d4800c877a703b823ac0578ff8db", new LuaScript("return 1").Sha1);
    }

    [Fact]
    public void Server_errors_expose_their_prefix()
    {
        var error = new RedisServerException("BUSYGROUP Consumer Group name already exists");
        Assert.Equal("BUSYGROUP", error.Prefix);
        Assert.False(error.IsTransient);
        Assert.True(new RedisConnectionException("down").IsTransient);
    }

    [Fact]
    public void Resp_value_accessors_convert_or_explain()
    {
        Assert.Equal(42, RespValue.BulkString("42").AsInt64());
        Assert.Null(RespValue.NullBulkString.AsString());
        Assert.Empty(RespValue.NullArray.Items);
        var error = Assert.Throws<InvalidCastException>(() => RespValue.Integer(1).Items);
        Assert.Contains("array", error.Message, StringComparison.Ordinal);
    }
}
