using System.Security.Cryptography;
using System.Text;

namespace Parley.Redis;

/// <summary>
/// A Lua script run with <c>EVALSHA</c>. Its SHA1 is computed locally; when the server does not
/// have the script cached (<c>NOSCRIPT</c>, e.g. after a restart or <c>SCRIPT FLUSH</c>) the client
/// sends it once with <c>EVAL</c>, which caches it again. Build one instance per script and keep it.
/// </summary>
public sealed class LuaScript
{
    /// <summary>Wraps <paramref name="source"/>.</summary>
    public LuaScript(string source)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(source);
        Source = source;
        SourceBytes = Encoding.UTF8.GetBytes(source);
#pragma warning disable CA5350 // SHA1 is what Redis names scripts by; it is not used for security here.
        Sha1 = Convert.ToHexStringLower(SHA1.HashData(SourceBytes));
#pragma warning restore CA5350
    }

    /// <summary>The Lua source.</summary>
    public string Source { get; }

    /// <summary>Lower-case hex SHA1 of the UTF-8 source, as <c>SCRIPT LOAD</c> returns it.</summary>
    public string Sha1 { get; }

    internal byte[] SourceBytes { get; }

    /// <summary>A script from an embedded resource of <paramref name="assembly"/> whose name ends with <paramref name="resourceSuffix"/>.</summary>
    public static LuaScript FromResource(System.Reflection.Assembly assembly, string resourceSuffix)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var name = assembly.GetManifestResourceNames().SingleOrDefault(n => n.EndsWith(resourceSuffix, StringComparison.Ordinal))
            ?? throw new ArgumentException($"No embedded resource ending with '{resourceSuffix}' in {assembly.GetName().Name}.", nameof(resourceSuffix));
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return new LuaScript(reader.ReadToEnd());
    }

    /// <inheritdoc />
    public override string ToString() => $"LuaScript {Sha1}";
}
