using System.Net;

namespace Parley.Kit.Load.Engine;

/// <summary>The load kit only ever targets this machine: anything but a loopback address or <c>localhost</c> is refused.</summary>
public static class LoopbackGuard
{
    /// <summary>Parses <paramref name="url"/> and returns it when it is http(s) on loopback; otherwise throws <see cref="LoadConfigurationException"/>.</summary>
    public static Uri Ensure(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw new LoadConfigurationException($"'{url}' is not an http:// or https:// URL.");
        if (!IsLoopback(uri.Host))
            throw new LoadConfigurationException(
                $"Refusing to send load to '{uri.Host}': the load kit only targets loopback (127.0.0.0/8, ::1, localhost). Start a local server with `parley up`.");
        return uri;
    }

    public static bool IsLoopback(string host)
    {
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
            return true;
        return IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address);
    }
}

/// <summary>A load run that cannot start as asked: bad target, bad profile, bad gate.</summary>
public sealed class LoadConfigurationException(string message) : Exception(message);
