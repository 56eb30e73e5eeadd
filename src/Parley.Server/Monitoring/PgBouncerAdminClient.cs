using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Parley.Server.Monitoring;

/// <summary>A failure reported by PgBouncer's admin console or its protocol.</summary>
public sealed class PgBouncerAdminException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A minimal client of PgBouncer's admin console. The console speaks only the simple query protocol
/// ("extended query protocol not supported by admin console"), and Npgsql always sends the extended
/// protocol (Parse/Bind/Execute), even for a command without parameters; so this client speaks the
/// PostgreSQL v3 protocol itself: startup, authentication (trust, cleartext password, md5; not
/// SCRAM), one <c>Query</c> message per command, rows as text.
/// </summary>
public sealed class PgBouncerAdminClient : IAsyncDisposable
{
    private const int ProtocolVersion3 = 196608;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private byte[] _buffer = new byte[8192];

    private PgBouncerAdminClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>
    /// Connects and authenticates with the Host, Port, Username, Password and Database of an Npgsql
    /// connection string; Timeout bounds connecting (default 15 s).
    /// </summary>
    public static async Task<PgBouncerAdminClient> ConnectAsync(string connectionString, CancellationToken ct)
    {
        var settings = new NpgsqlConnectionStringBuilder(connectionString);
        string host = settings.Host ?? throw new PgBouncerAdminException("The PgBouncer admin connection string has no Host.");
        string user = settings.Username ?? Environment.UserName;
        string database = settings.Database ?? "pgbouncer";
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(settings.Timeout > 0 ? settings.Timeout : 15));

        Socket socket;
        if (host.StartsWith('/'))
        {
            socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(Path.Combine(host, $".s.PGSQL.{settings.Port}")), timeout.Token);
        }
        else
        {
            socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(host, settings.Port, timeout.Token);
        }

        var client = new PgBouncerAdminClient(socket);
        try
        {
            await client.StartupAsync(user, database, settings.Password, timeout.Token);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs one console command (<c>SHOW POOLS</c>) and returns its rows, column name → text.</summary>
    public async Task<IReadOnlyList<IReadOnlyDictionary<string, string?>>> QueryAsync(string command, CancellationToken ct)
    {
        await _stream.WriteAsync(Message('Q', command), ct);

        var rows = new List<IReadOnlyDictionary<string, string?>>();
        string[] columns = [];
        string? error = null;
        while (true)
        {
            (char type, int length) = await ReadMessageAsync(ct);
            ReadOnlySpan<byte> body = _buffer.AsSpan(0, length);
            switch (type)
            {
                case 'T':
                    columns = ParseRowDescription(body);
                    break;
                case 'D':
                    rows.Add(ParseDataRow(body, columns));
                    break;
                case 'E':
                    error = ParseError(body);
                    break;
                case 'Z':
                    return error is null ? rows : throw new PgBouncerAdminException($"PgBouncer refused '{command}': {error}");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.Connected)
                await _stream.WriteAsync(new byte[] { (byte)'X', 0, 0, 0, 4 });
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // Closing anyway.
        }
        await _stream.DisposeAsync();
    }

    private async Task StartupAsync(string user, string database, string? password, CancellationToken ct)
    {
        var body = new MemoryStream();
        Span<byte> version = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(version, ProtocolVersion3);
        body.Write(version);
        foreach (string s in new[] { "user", user, "database", database, "application_name", "parley-monitor" })
        {
            body.Write(Encoding.UTF8.GetBytes(s));
            body.WriteByte(0);
        }
        body.WriteByte(0);
        byte[] startup = new byte[4 + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(startup, startup.Length);
        body.ToArray().CopyTo(startup, 4);
        await _stream.WriteAsync(startup, ct);

        while (true)
        {
            (char type, int length) = await ReadMessageAsync(ct);
            switch (type)
            {
                case 'R':
                    await AuthenticateAsync(BinaryPrimitives.ReadInt32BigEndian(_buffer), _buffer.AsSpan(4, length - 4).ToArray(), user, password, ct);
                    break;
                case 'E':
                    throw new PgBouncerAdminException($"PgBouncer refused the admin connection: {ParseError(_buffer.AsSpan(0, length))}");
                case 'Z':
                    return;
            }
        }
    }

    private async Task AuthenticateAsync(int code, byte[] data, string user, string? password, CancellationToken ct)
    {
        string? response = code switch
        {
            0 => null,
            3 => password ?? throw new PgBouncerAdminException("PgBouncer asks for a password and the admin connection string has none."),
            5 => "md5" + Md5Hex([.. Encoding.ASCII.GetBytes(Md5Hex(Encoding.UTF8.GetBytes((password ?? "") + user))), .. data]),
            _ => throw new PgBouncerAdminException(
                $"PgBouncer asks for authentication method {code} (10 is SASL/SCRAM), which the admin client does not speak; allow trust, md5 or password for the admin user in PgBouncer's auth_hba_file."),
        };
        if (response is null)
            return;
        await _stream.WriteAsync(Message('p', response), ct);
    }

    // A frontend message whose body is one NUL-terminated string: Query ('Q'), PasswordMessage ('p').
    private static byte[] Message(char type, string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        byte[] message = new byte[1 + 4 + bytes.Length + 1];
        message[0] = (byte)type;
        BinaryPrimitives.WriteInt32BigEndian(message.AsSpan(1), 4 + bytes.Length + 1);
        bytes.CopyTo(message, 5);
        return message;
    }

    private static string Md5Hex(byte[] input) => Convert.ToHexStringLower(MD5.HashData(input));

    private async Task<(char Type, int Length)> ReadMessageAsync(CancellationToken ct)
    {
        byte[] header = new byte[5];
        await _stream.ReadExactlyAsync(header, ct);
        int length = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(1)) - 4;
        if (length < 0 || length > 16 * 1024 * 1024)
            throw new PgBouncerAdminException($"PgBouncer sent a message of invalid length {length}.");
        if (_buffer.Length < length)
            _buffer = new byte[Math.Max(length, _buffer.Length * 2)];
        await _stream.ReadExactlyAsync(_buffer.AsMemory(0, length), ct);
        return ((char)header[0], length);
    }

    private static string[] ParseRowDescription(ReadOnlySpan<byte> body)
    {
        int count = BinaryPrimitives.ReadInt16BigEndian(body);
        var columns = new string[count];
        int offset = 2;
        for (int i = 0; i < count; i++)
        {
            int end = body[offset..].IndexOf((byte)0);
            columns[i] = Encoding.UTF8.GetString(body.Slice(offset, end));
            offset += end + 1 + 18; // table oid, column number, type oid, type size, type modifier, format
        }
        return columns;
    }

    private static Dictionary<string, string?> ParseDataRow(ReadOnlySpan<byte> body, string[] columns)
    {
        int count = BinaryPrimitives.ReadInt16BigEndian(body);
        var row = new Dictionary<string, string?>(count, StringComparer.Ordinal);
        int offset = 2;
        for (int i = 0; i < count; i++)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(body[offset..]);
            offset += 4;
            string? value = length < 0 ? null : Encoding.UTF8.GetString(body.Slice(offset, length));
            offset += Math.Max(length, 0);
            row[i < columns.Length ? columns[i] : $"column{i}"] = value;
        }
        return row;
    }

    private static string ParseError(ReadOnlySpan<byte> body)
    {
        string? code = null, message = null;
        int offset = 0;
        while (offset < body.Length && body[offset] != 0)
        {
            byte field = body[offset++];
            int end = body[offset..].IndexOf((byte)0);
            string value = Encoding.UTF8.GetString(body.Slice(offset, end));
            offset += end + 1;
            if (field == 'C') code = value;
            else if (field == 'M') message = value;
        }
        return $"{code}: {message}";
    }
}
