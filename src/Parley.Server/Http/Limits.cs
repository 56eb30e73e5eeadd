namespace Parley.Server.Http;

/// <summary>Input limits the API enforces; each breach is a 400 or 413 problem.</summary>
public static class Limits
{
    /// <summary>A message body's maximum size in UTF-8 bytes (API.md).</summary>
    public const int MessageBodyBytes = 65_536;

    /// <summary>Request body cap: a maximal message body plus room for JSON escaping.</summary>
    public const int RequestBodyBytes = 256 * 1024;

    public const int TitleChars = 200;
    public const int DisplayNameChars = 64;

    /// <summary>A handle's maximum length (register's rule: 3–32 characters).</summary>
    public const int HandleChars = 32;
    public const int PasswordChars = 1024;
    public const int ClientMessageIdChars = 128;
    public const int ParticipantsPerCreate = 1000;
    public const int MaxPageSize = 100;

    /// <summary>A search query's maximum length in characters (<c>GET /v1/search/messages?q=</c>).</summary>
    public const int SearchQueryChars = 256;
}
