using System.Text.Json;

namespace Parley.Cli.Local;

/// <summary><c>server.json</c>: the running <c>parley up</c> process and the URLs its nodes listen on, written once they answer.</summary>
public sealed record ServerInfo(int Pid, IReadOnlyList<string> Urls)
{
    public static ServerInfo? Read(ParleyHome home)
    {
        try
        {
            return File.Exists(home.ServerFile) ? JsonSerializer.Deserialize<ServerInfo>(File.ReadAllText(home.ServerFile), JsonSerializerOptions.Web) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public void Write(ParleyHome home)
    {
        var temporary = home.ServerFile + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(this, JsonSerializerOptions.Web));
        File.Move(temporary, home.ServerFile, overwrite: true);
    }
}
