using System.Text.Json;

namespace Parley.Cli.Local;

/// <summary>
/// <c>server.json</c>: the running <c>parley up</c> process, its public URL (the balancer's) in <paramref name="Urls"/>, and the
/// URLs its nodes listen on behind it, in order (<c>node-1</c> first); written once they answer.
/// </summary>
public sealed record ServerInfo(int Pid, IReadOnlyList<string> Urls, IReadOnlyList<string>? Nodes = null)
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
