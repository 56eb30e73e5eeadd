using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Parley.Cli.Local;

/// <summary>
/// <c>parley.json</c>: settings <c>parley up</c> generates once and reuses, in appsettings shape
/// (so <c>parley config check --file .parley/parley.json</c> reads it). Today: the token signing key.
/// </summary>
public static class LocalSettings
{
    private const int KeyBytes = 32;

    /// <summary>The signing key from parley.json, generated (32 random bytes, file mode 0600) on first use.</summary>
    public static string LoadOrCreateSigningKey(ParleyHome home)
    {
        var path = home.SettingsFile;
        if (File.Exists(path))
        {
            var key = JsonNode.Parse(File.ReadAllText(path))?["Parley"]?["Auth"]?["SigningKey"]?.GetValue<string>();
            if (key is null || !SigningKeys.IsValid(key))
                throw new CliException(ExitCodes.Usage, $"{path} holds no valid Parley:Auth:SigningKey (base64, at least {KeyBytes} bytes); fix it or delete the file to generate a new one.");
            return key;
        }
        var generated = Convert.ToBase64String(RandomNumberGenerator.GetBytes(KeyBytes));
        var document = new JsonObject { ["Parley"] = new JsonObject { ["Auth"] = new JsonObject { ["SigningKey"] = generated } } };
        home.Create();
        using (var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        {
            JsonSerializer.Serialize(stream, document, new JsonSerializerOptions { WriteIndented = true });
        }
        return generated;
    }
}

/// <summary>The rule every Parley node applies to <c>Parley:Auth:SigningKey</c>.</summary>
public static class SigningKeys
{
    public const int MinimumBytes = 32;

    public static bool IsValid(string key, out string problem)
    {
        var buffer = new byte[key.Length];
        if (!Convert.TryFromBase64String(key, buffer, out var length))
        {
            problem = "is not valid base64";
            return false;
        }
        if (length < MinimumBytes)
        {
            problem = $"decodes to {length} bytes; at least {MinimumBytes} are needed";
            return false;
        }
        problem = "";
        return true;
    }

    public static bool IsValid(string key) => IsValid(key, out _);
}
