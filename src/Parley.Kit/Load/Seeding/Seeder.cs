using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using Npgsql;
using NpgsqlTypes;
using Parley.Kit.Load.Scenarios;

namespace Parley.Kit.Load.Seeding;

/// <summary>How much to seed.</summary>
public sealed record SeedOptions(int Users = 1_000, int Conversations = 10_000, long Messages = 1_000_000, int MembersPerConversation = 3,
    int BodyBytes = 100, int PasswordHashIterations = 100_000, int Parallelism = 2)
{
    public void Validate()
    {
        if (Users < 2) throw new ArgumentException("seed at least 2 users");
        if (Conversations < 1) throw new ArgumentException("seed at least 1 conversation");
        if (Messages < 0) throw new ArgumentException("messages cannot be negative");
        if (MembersPerConversation < 1 || MembersPerConversation > Users) throw new ArgumentException("members per conversation must be 1..users");
        if (BodyBytes is < 1 or > 65_536) throw new ArgumentException("body bytes must be 1..65536");
        if (Parallelism is < 1 or > 16) throw new ArgumentException("parallelism must be 1..16");
    }
}

public sealed record SeedResult(int Users, int Conversations, long Messages, TimeSpan Elapsed)
{
    public double MessagesPerSecond => Messages / Math.Max(Elapsed.TotalSeconds, 0.001);
}

/// <summary>
/// Bulk-loads users, conversations, participants and messages with binary COPY straight into the primary, the way
/// the API would have stored them (ids are UUIDv7 of their timestamps, conversations' last activity is set).
/// Users are <c>load_0</c>, <c>load_1</c>, ... with the load kit's password, so scenarios can log in as them;
/// users that exist already are reused. Conversations and messages are always new.
/// </summary>
public static class Seeder
{
    private const int ProgressEvery = 100_000;

    public static async Task<SeedResult> SeedAsync(string connectionString, SeedOptions options, IProgress<string>? progress, CancellationToken ct)
    {
        options.Validate();
        var clock = Stopwatch.StartNew();
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        await using var source = builder.Build();
        var now = DateTime.UtcNow;
        var start = now.AddSeconds(-options.Messages / 1000.0 - 3600);

        var userIds = await SeedUsersAsync(source, options, start, progress, ct).ConfigureAwait(false);
        var conversations = Enumerable.Range(0, options.Conversations).Select(_ => Guid.CreateVersion7(start)).ToArray();
        await using (var conn = await source.OpenConnectionAsync(ct).ConfigureAwait(false))
        {
            await using (var writer = await conn.BeginBinaryImportAsync(
                "COPY conversations (id, title, owner_id, version, created_at, updated_at, last_activity_at) FROM STDIN (FORMAT BINARY)", ct).ConfigureAwait(false))
            {
                for (var k = 0; k < conversations.Length; k++)
                {
                    await writer.StartRowAsync(ct).ConfigureAwait(false);
                    await writer.WriteAsync(conversations[k], NpgsqlDbType.Uuid, ct).ConfigureAwait(false);
                    await writer.WriteAsync($"seeded #{k}", NpgsqlDbType.Text, ct).ConfigureAwait(false);
                    await writer.WriteAsync(userIds[k % userIds.Length], NpgsqlDbType.Uuid, ct).ConfigureAwait(false);
                    await writer.WriteAsync(1, NpgsqlDbType.Integer, ct).ConfigureAwait(false);
                    await writer.WriteAsync(start, NpgsqlDbType.TimestampTz, ct).ConfigureAwait(false);
                    await writer.WriteAsync(start, NpgsqlDbType.TimestampTz, ct).ConfigureAwait(false);
                    await writer.WriteAsync(start, NpgsqlDbType.TimestampTz, ct).ConfigureAwait(false);
                }
                await writer.CompleteAsync(ct).ConfigureAwait(false);
            }
            await using (var writer = await conn.BeginBinaryImportAsync(
                "COPY participants (conversation_id, user_id, role, joined_at) FROM STDIN (FORMAT BINARY)", ct).ConfigureAwait(false))
            {
                for (var k = 0; k < conversations.Length; k++)
                {
                    for (var m = 0; m < options.MembersPerConversation; m++)
                    {
                        await writer.StartRowAsync(ct).ConfigureAwait(false);
                        await writer.WriteAsync(conversations[k], NpgsqlDbType.Uuid, ct).ConfigureAwait(false);
                        await writer.WriteAsync(MemberOf(userIds, k, m), NpgsqlDbType.Uuid, ct).ConfigureAwait(false);
                        await writer.WriteAsync(m == 0 ? "owner" : "member", NpgsqlDbType.Text, ct).ConfigureAwait(false);
                        await writer.WriteAsync(start, NpgsqlDbType.TimestampTz, ct).ConfigureAwait(false);
                    }
                }
                await writer.CompleteAsync(ct).ConfigureAwait(false);
            }
        }
        progress?.Report($"{userIds.Length:N0} users, {conversations.Length:N0} conversations ({options.MembersPerConversation} members each) in {clock.Elapsed.TotalSeconds:0.0} s");

        // Messages: message i is the i-th millisecond after start, in conversation i mod C, by one of its members.
        // Each worker writes the messages of its share of conversations in one COPY.
        long written = 0;
        var body = new string('s', options.BodyBytes);
        var lastIds = new Guid[conversations.Length];
        var lastAt = new DateTime[conversations.Length];
        await Parallel.ForEachAsync(Enumerable.Range(0, options.Parallelism), new ParallelOptions { MaxDegreeOfParallelism = options.Parallelism, CancellationToken = ct },
            async (worker, token) =>
            {
                await using var conn = await source.OpenConnectionAsync(token).ConfigureAwait(false);
                await using var writer = await conn.BeginBinaryImportAsync(
                    "COPY messages (id, conversation_id, sender_id, body, created_at) FROM STDIN (FORMAT BINARY)", token).ConfigureAwait(false);
                for (long i = worker; i < options.Messages; i += options.Parallelism)
                {
                    var k = (int)(i % conversations.Length);
                    var at = start.AddTicks(i * TimeSpan.TicksPerMillisecond);
                    var id = Guid.CreateVersion7(at);
                    await writer.StartRowAsync(token).ConfigureAwait(false);
                    await writer.WriteAsync(id, NpgsqlDbType.Uuid, token).ConfigureAwait(false);
                    await writer.WriteAsync(conversations[k], NpgsqlDbType.Uuid, token).ConfigureAwait(false);
                    await writer.WriteAsync(MemberOf(userIds, k, (int)(i / conversations.Length % options.MembersPerConversation)), NpgsqlDbType.Uuid, token).ConfigureAwait(false);
                    await writer.WriteAsync(body, NpgsqlDbType.Text, token).ConfigureAwait(false);
                    await writer.WriteAsync(at, NpgsqlDbType.TimestampTz, token).ConfigureAwait(false);
                    lastIds[k] = id;
                    lastAt[k] = at;
                    var done = Interlocked.Increment(ref written);
                    if (done % ProgressEvery == 0)
                        progress?.Report($"{done:N0} / {options.Messages:N0} messages ({done / clock.Elapsed.TotalSeconds:N0}/s)");
                }
                await writer.CompleteAsync(token).ConfigureAwait(false);
            }).ConfigureAwait(false);

        await SetLastActivityAsync(source, conversations, lastIds, lastAt, ct).ConfigureAwait(false);
        await using (var analyze = source.CreateCommand("ANALYZE users; ANALYZE conversations; ANALYZE participants; ANALYZE messages"))
            await analyze.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        return new SeedResult(userIds.Length, conversations.Length, options.Messages, clock.Elapsed);
    }

    private static Guid MemberOf(Guid[] users, int conversation, int member) => users[(conversation + member) % users.Length];

    /// <summary>Inserts the missing <c>load_N</c> users (ON CONFLICT DO NOTHING) and returns all their ids in N order.</summary>
    private static async Task<Guid[]> SeedUsersAsync(NpgsqlDataSource source, SeedOptions options, DateTime createdAt, IProgress<string>? progress, CancellationToken ct)
    {
        var hash = PasswordHash(ParleyApiClient.Password, options.PasswordHashIterations);
        await using var conn = await source.OpenConnectionAsync(ct).ConfigureAwait(false);
        await using (var create = new NpgsqlCommand("CREATE TEMP TABLE seed_users (LIKE users INCLUDING DEFAULTS) ON COMMIT PRESERVE ROWS", conn))
            await create.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        await using (var writer = await conn.BeginBinaryImportAsync(
            "COPY seed_users (id, handle, display_name, password_hash, created_at) FROM STDIN (FORMAT BINARY)", ct).ConfigureAwait(false))
        {
            for (var n = 0; n < options.Users; n++)
            {
                await writer.StartRowAsync(ct).ConfigureAwait(false);
                await writer.WriteAsync(Guid.CreateVersion7(createdAt), NpgsqlDbType.Uuid, ct).ConfigureAwait(false);
                await writer.WriteAsync($"{Fixture.HandlePrefix}{n}", NpgsqlDbType.Text, ct).ConfigureAwait(false);
                await writer.WriteAsync($"Load user {n}", NpgsqlDbType.Text, ct).ConfigureAwait(false);
                await writer.WriteAsync(hash, NpgsqlDbType.Text, ct).ConfigureAwait(false);
                await writer.WriteAsync(createdAt, NpgsqlDbType.TimestampTz, ct).ConfigureAwait(false);
            }
            await writer.CompleteAsync(ct).ConfigureAwait(false);
        }
        await using var insert = new NpgsqlCommand("""
            INSERT INTO users (id, handle, display_name, password_hash, created_at)
            SELECT id, handle, display_name, password_hash, created_at FROM seed_users ON CONFLICT (handle) DO NOTHING;
            SELECT u.id, s.handle FROM seed_users s JOIN users u ON u.handle = s.handle;
            """, conn);
        var ids = new Dictionary<string, Guid>(StringComparer.Ordinal);
        await using (var reader = await insert.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(ct).ConfigureAwait(false)) ids[reader.GetString(1)] = reader.GetGuid(0);
        }
        progress?.Report($"{ids.Count:N0} users ready");
        return Enumerable.Range(0, options.Users).Select(n => ids[$"{Fixture.HandlePrefix}{n}"]).ToArray();
    }

    private static async Task SetLastActivityAsync(NpgsqlDataSource source, Guid[] conversations, Guid[] lastIds, DateTime[] lastAt, CancellationToken ct)
    {
        await using var conn = await source.OpenConnectionAsync(ct).ConfigureAwait(false);
        await using (var create = new NpgsqlCommand("CREATE TEMP TABLE seed_last (id uuid, last_message_id uuid, last_at timestamptz)", conn))
            await create.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        await using (var writer = await conn.BeginBinaryImportAsync("COPY seed_last FROM STDIN (FORMAT BINARY)", ct).ConfigureAwait(false))
        {
            for (var k = 0; k < conversations.Length; k++)
            {
                if (lastIds[k] == Guid.Empty) continue;
                await writer.StartRowAsync(ct).ConfigureAwait(false);
                await writer.WriteAsync(conversations[k], NpgsqlDbType.Uuid, ct).ConfigureAwait(false);
                await writer.WriteAsync(lastIds[k], NpgsqlDbType.Uuid, ct).ConfigureAwait(false);
                await writer.WriteAsync(lastAt[k], NpgsqlDbType.TimestampTz, ct).ConfigureAwait(false);
            }
            await writer.CompleteAsync(ct).ConfigureAwait(false);
        }
        await using var update = new NpgsqlCommand("""
            UPDATE conversations c SET last_message_id = s.last_message_id, last_activity_at = s.last_at, updated_at = s.last_at
            FROM seed_last s WHERE c.id = s.id
            """, conn);
        await update.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    /// <summary>ASP.NET Core Identity's v3 password hash (PBKDF2-HMAC-SHA512, 16-byte salt, 32-byte key), which Parley's server verifies.</summary>
    public static string PasswordHash(string password, int iterations)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var key = Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, HashAlgorithmName.SHA512, 32);
        var output = new byte[13 + salt.Length + key.Length];
        output[0] = 0x01;
        BinaryPrimitives.WriteUInt32BigEndian(output.AsSpan(1), 2); // KeyDerivationPrf.HMACSHA512
        BinaryPrimitives.WriteUInt32BigEndian(output.AsSpan(5), (uint)iterations);
        BinaryPrimitives.WriteUInt32BigEndian(output.AsSpan(9), (uint)salt.Length);
        salt.CopyTo(output, 13);
        key.CopyTo(output, 13 + salt.Length);
        return Convert.ToBase64String(output);
    }
}
