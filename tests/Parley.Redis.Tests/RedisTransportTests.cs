using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Parley.Redis.Tests;

/// <summary>
/// The transport production needs, against the real redis-server: TLS on its <c>tls-port</c> (switched on at run time
/// with CONFIG SET, certificates made here by a throwaway CA) with the server's certificate checked, and TCP keepalive on
/// every connection (seen in the kernel's socket table), so a peer that vanished breaks the connection.
/// </summary>
[Trait("Category", "Integration")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class RedisTransportTests(RedisServerFixture server) : RedisServerTest(server)
{
    private readonly string _certs = Directory.CreateTempSubdirectory("parley-redis-tls-").FullName;

    [Fact]
    public async Task A_tls_client_checks_the_servers_certificate_and_round_trips_over_the_tls_port()
    {
        var tlsPort = await EnableTlsAsync();
        var options = Server.Options("tls");
        options.Endpoint = $"127.0.0.1:{tlsPort}";
        options.Tls = true;
        options.TlsCaFile = Path.Combine(_certs, "ca.pem");

        await using (var client = await RedisClient.ConnectAsync(options))
        {
            var key = client.Key("secret");
            Assert.True(await client.SetAsync(key, "over tls"));
            Assert.Equal("over tls", await client.GetStringAsync(key));
        }

        // The certificate is checked: another CA's root is refused, and so is a name the certificate does not carry.
        WriteAuthority("other-ca.pem", NewAuthority("not-the-ca").Certificate);
        var stranger = Server.Options("tls");
        stranger.Endpoint = options.Endpoint;
        stranger.Tls = true;
        stranger.TlsCaFile = Path.Combine(_certs, "other-ca.pem");
        var refused = await Assert.ThrowsAsync<RedisConnectionException>(() => RedisClient.ConnectAsync(stranger));
        Assert.Contains("TLS", refused.Message, StringComparison.Ordinal);
        options.TlsHost = "redis.example";
        await Assert.ThrowsAsync<RedisConnectionException>(() => RedisClient.ConnectAsync(options));

        // A TLS client on the plain port gets a clear connection error, not a hang or a protocol fault.
        var plain = Server.Options("tls");
        plain.Tls = true;
        plain.TlsCaFile = Path.Combine(_certs, "ca.pem");
        await Assert.ThrowsAsync<RedisConnectionException>(() => RedisClient.ConnectAsync(plain));
    }

    [Fact]
    public async Task Every_connection_has_tcp_keepalive_unless_turned_off()
    {
        var port = int.Parse(Server.Endpoint.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
        var before = await SocketTimersAsync(port);
        await using (var subscriber = await RedisSubscriber.ConnectAsync(Options))
        {
            var after = await SocketTimersAsync(port);
            Assert.Equal(before.Count + 1, after.Count);
            Assert.All(after, timer => Assert.Contains("keepalive", timer, StringComparison.Ordinal));
        }

        var off = Server.Options("nokeepalive");
        off.KeepAlive = Timeout.InfiniteTimeSpan;
        await using var quiet = await RedisClient.ConnectAsync(off);
        var timers = await SocketTimersAsync(port);
        Assert.Single(timers, timer => !timer.Contains("keepalive", StringComparison.Ordinal));
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(_certs, recursive: true);
    }

    /// <summary>This process's established sockets to <paramref name="port"/>, each as its <c>ss -o</c> timer column ("" when none).</summary>
    private static async Task<IReadOnlyList<string>> SocketTimersAsync(int port)
    {
        var start = new ProcessStartInfo("ss", ["-tnpoH", "state", "established", $"( dport = :{port} )"]) { RedirectStandardOutput = true };
        using var ss = Process.Start(start)!;
        var output = await ss.StandardOutput.ReadToEndAsync();
        await ss.WaitForExitAsync();
        Assert.True(ss.ExitCode == 0, "ss failed: is iproute2 installed?");
        var mine = $"pid={Environment.ProcessId},";
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(line => line.Contains(mine, StringComparison.Ordinal))
            .Select(line => line.Contains("timer:(", StringComparison.Ordinal) ? line[line.IndexOf("timer:(", StringComparison.Ordinal)..] : "")
            .ToList();
    }

    /// <summary>Makes a CA and a server certificate for 127.0.0.1 and turns on Redis's TLS port with them; returns the port.</summary>
    private async Task<int> EnableTlsAsync()
    {
        var (authority, authorityKey) = NewAuthority("parley-test-ca");
        WriteAuthority("ca.pem", authority);
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var leaf = request.Create(authority, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), RandomNumberGenerator.GetBytes(8));
        await File.WriteAllTextAsync(Path.Combine(_certs, "server.pem"), leaf.ExportCertificatePem());
        await File.WriteAllTextAsync(Path.Combine(_certs, "server.key"), key.ExportPkcs8PrivateKeyPem());
        authorityKey.Dispose();
        // redis-server may run as another user than the tests: let it read the files.
        File.SetUnixFileMode(_certs, (UnixFileMode)0b111_101_101);
        foreach (var file in Directory.GetFiles(_certs)) File.SetUnixFileMode(file, (UnixFileMode)0b110_100_100);

        var port = FreePort();
        foreach (var (name, value) in new[]
        {
            ("tls-cert-file", Path.Combine(_certs, "server.pem")), ("tls-key-file", Path.Combine(_certs, "server.key")),
            ("tls-ca-cert-file", Path.Combine(_certs, "ca.pem")), ("tls-auth-clients", "no"), ("tls-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        })
            await Client.ExecuteAsync("CONFIG", ["SET", name, value]);
        return port;
    }

    private static (X509Certificate2 Certificate, RSA Key) NewAuthority(string name)
    {
        var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return (request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-10), DateTimeOffset.UtcNow.AddDays(2)), key);
    }

    private void WriteAuthority(string file, X509Certificate2 authority) => File.WriteAllText(Path.Combine(_certs, file), authority.ExportCertificatePem());

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
