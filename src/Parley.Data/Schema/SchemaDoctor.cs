using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;
using Parley.Data.Migrations;

namespace Parley.Data.Schema;

/// <summary>One difference between the live database and what its migrations define, with the statements that repair it.</summary>
/// <param name="Check">version, table, column, index, constraint, trigger, autovacuum, sequence or replication.</param>
/// <param name="Subject">The object, e.g. <c>messages.body</c> or <c>idx_outbox_undispatched</c>.</param>
/// <param name="Repair">SQL statements to run one by one (outside a transaction block: some are CONCURRENTLY), or a <c>parley</c> command; empty when no statement can.</param>
public sealed record DoctorFinding(string Check, string Subject, string Problem, IReadOnlyList<string> Repair);

/// <summary>What <c>parley doctor</c> found: the schema's version, the newest this build knows, and every difference.</summary>
public sealed record DoctorReport(string Schema, int Version, int LatestVersion, IReadOnlyList<DoctorFinding> Findings)
{
    public bool Ok => Findings.Count == 0;
}

/// <summary>
/// Checks the live database against what its migrations define. The expected schema is built by applying
/// the migrations up to the live version to a scratch schema inside a transaction that is rolled back, and
/// both schemas are read from the same catalog queries and compared. Tables the migrations do not define
/// are not reported (observer rules may read the operator's own tables); extra columns, indexes,
/// constraints and triggers on Parley's tables are.
/// </summary>
public static partial class SchemaDoctor
{
    /// <summary>A sequence that has used more than this share of its range is reported.</summary>
    public const double SequenceUsedLimit = 0.75;

    [GeneratedRegex(@"^nextval\('([^']+)'::regclass\)$")]
    private static partial Regex NextVal();

    public static Task<DoctorReport> CheckAsync(NpgsqlDataSource dataSource, CancellationToken ct = default) =>
        CheckAsync(dataSource, Migrator.Known, ct);

    internal static async Task<DoctorReport> CheckAsync(NpgsqlDataSource dataSource, IReadOnlyList<Migration> migrations, CancellationToken ct)
    {
        var latest = migrations[^1].Version;
        var findings = new List<DoctorFinding>();
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var schema = (string)(await Scalar(conn, tx, "SELECT current_schema()", ct))!;
        var version = await Scalar(conn, tx, "SELECT to_regclass('schema_version') IS NOT NULL", ct) is true
            ? Convert.ToInt32(await Scalar(conn, tx, "SELECT coalesce(max(version), 0) FROM schema_version", ct), CultureInfo.InvariantCulture)
            : 0;
        if (version == 0)
        {
            findings.Add(new("version", "schema_version", "the database is not migrated", ["parley migrate"]));
            return new(schema, version, latest, findings);
        }
        if (version > latest)
        {
            findings.Add(new("version", "schema_version",
                $"the schema is at version {version}, newer than this build knows ({latest}); it cannot be checked", ["a newer parley doctor"]));
            return new(schema, version, latest, findings);
        }
        if (version < latest)
            findings.Add(new("version", "schema_version", $"the schema is at version {version}; migrations up to {latest} are pending", ["parley migrate"]));

        var scratch = "parley_doctor_" + Guid.NewGuid().ToString("N")[..12];
        await Execute(conn, tx, $"CREATE SCHEMA {scratch}", ct);
        await Execute(conn, tx, $"SET LOCAL search_path = {scratch}", ct);
        await Execute(conn, tx, Migrator.VersionTableSql, ct);
        foreach (var migration in migrations.Where(m => m.Version <= version))
            await Execute(conn, tx, migration.Sql, ct);
        var expected = await SchemaSnapshot.ReadAsync(conn, tx, scratch, ct);
        var live = await SchemaSnapshot.ReadAsync(conn, tx, schema, ct);
        await tx.RollbackAsync(ct);

        Compare(expected, live, findings);
        CheckSequenceHeadroom(live, findings);
        if (live.Tables.ContainsKey("observer_checkpoints"))
            await CheckReplicationAsync(conn, schema, findings, ct);
        return new(schema, version, latest, findings);
    }

    private static void Compare(SchemaSnapshot expected, SchemaSnapshot live, List<DoctorFinding> findings)
    {
        var missingTables = expected.Tables.Keys.Where(t => !live.Tables.ContainsKey(t)).ToHashSet();
        foreach (var table in missingTables.Order(StringComparer.Ordinal))
            findings.Add(new("table", table, "missing", CreateTable(expected, live, table)));
        bool Compared(string table) => expected.Tables.ContainsKey(table) && !missingTables.Contains(table);

        // Sequences before columns: a restored default draws from a restored sequence.
        var owners = SequenceOwners(expected);
        foreach (var (name, want, have) in Pair(expected.Sequences, live.Sequences, s => s.Name))
        {
            if (want is null) continue; // a sequence of a table the migrations do not define
            if (have is null)
            {
                if (owners.TryGetValue(name, out var owner) && missingTables.Contains(owner.Table)) continue; // CREATE TABLE brings it
                findings.Add(new("sequence", name, "missing", CreateSequence(want, owners)));
            }
            else if (want.Type != have.Type)
            {
                findings.Add(new("sequence", name, $"is {have.Type}; expected {want.Type}", [$"ALTER SEQUENCE {SchemaSnapshot.Quote(name)} AS {want.Type}"]));
            }
        }

        foreach (var (key, want, have) in Pair(expected.Columns.Where(c => Compared(c.Table)), live.Columns.Where(c => Compared(c.Table)), c => (c.Table, c.Name)))
            CompareColumn(key.Table, key.Name, want, have, findings);

        foreach (var (name, want, have) in Pair(expected.Indexes.Where(i => Compared(i.Table)), live.Indexes.Where(i => Compared(i.Table)), i => i.Name))
        {
            if (want is null)
                findings.Add(new("index", name, "not defined by the migrations", [$"DROP INDEX CONCURRENTLY {SchemaSnapshot.Quote(name)}"]));
            else if (have is null)
                findings.Add(new("index", name, "missing", [Concurrently(want.Definition)]));
            else if (want.Definition != have.Definition)
                findings.Add(new("index", name, $"is {have.Definition}; expected {want.Definition}",
                    [$"DROP INDEX CONCURRENTLY {SchemaSnapshot.Quote(name)}", Concurrently(want.Definition)]));
            else if (!have.Valid)
                findings.Add(new("index", name, "is INVALID (a failed concurrent build): it is kept up to date but never used", [$"REINDEX INDEX CONCURRENTLY {SchemaSnapshot.Quote(name)}"]));
        }

        foreach (var (key, want, have) in Pair(expected.Constraints.Where(c => Compared(c.Table)), live.Constraints.Where(c => Compared(c.Table)), c => (c.Table, c.Name)))
        {
            var (table, name) = (SchemaSnapshot.Quote(key.Table), SchemaSnapshot.Quote(key.Name));
            var drop = $"ALTER TABLE {table} DROP CONSTRAINT {name}";
            if (want is null)
                findings.Add(new("constraint", $"{key.Table}.{key.Name}", $"not defined by the migrations: {have!.Definition}", [drop]));
            else if (have is null)
                findings.Add(new("constraint", $"{key.Table}.{key.Name}", $"missing: {want.Definition}", [AddConstraint(want)]));
            else if (want.Definition != have.Definition)
                findings.Add(new("constraint", $"{key.Table}.{key.Name}", $"is {have.Definition}; expected {want.Definition}", [drop, AddConstraint(want)]));
        }

        foreach (var (key, want, have) in Pair(expected.Triggers.Where(t => Compared(t.Table)), live.Triggers.Where(t => Compared(t.Table)), t => (t.Table, t.Name)))
        {
            var drop = $"DROP TRIGGER {SchemaSnapshot.Quote(key.Name)} ON {SchemaSnapshot.Quote(key.Table)}";
            if (want is null)
                findings.Add(new("trigger", $"{key.Table}.{key.Name}", $"not defined by the migrations: {have!.Definition}", [drop]));
            else if (have is null)
                findings.Add(new("trigger", $"{key.Table}.{key.Name}", "missing", [want.Definition]));
            else if (want.Definition != have.Definition)
                findings.Add(new("trigger", $"{key.Table}.{key.Name}", $"is {have.Definition}; expected {want.Definition}", [drop, want.Definition]));
        }

        foreach (var table in expected.Tables.Keys.Where(Compared).Order(StringComparer.Ordinal))
        {
            var (want, have) = (expected.Tables[table], live.Tables[table]);
            foreach (var option in want.Keys.Union(have.Keys).Order(StringComparer.Ordinal))
            {
                var wanted = want.GetValueOrDefault(option);
                var had = have.GetValueOrDefault(option);
                if (wanted == had) continue;
                findings.Add(new("autovacuum", $"{table}.{option}", $"is {had ?? "not set"}; expected {wanted ?? "not set"}",
                    [wanted is null
                        ? $"ALTER TABLE {SchemaSnapshot.Quote(table)} RESET ({option})"
                        : $"ALTER TABLE {SchemaSnapshot.Quote(table)} SET ({option} = {wanted})"]));
            }
        }

    }

    private static void CompareColumn(string table, string column, ColumnShape? want, ColumnShape? have, List<DoctorFinding> findings)
    {
        var subject = $"{table}.{column}";
        var alter = $"ALTER TABLE {SchemaSnapshot.Quote(table)} ";
        var name = SchemaSnapshot.Quote(column);
        if (want is null)
        {
            findings.Add(new("column", subject, $"not defined by the migrations ({have!.Type})", [alter + $"DROP COLUMN {name}"]));
            return;
        }
        if (have is null)
        {
            findings.Add(new("column", subject, "missing", [alter + "ADD COLUMN " + ColumnDefinition(want)]));
            return;
        }
        if (want.Generated != have.Generated)
        {
            findings.Add(new("column", subject, $"is generated as {have.Generated ?? "nothing"}; expected {want.Generated ?? "nothing"}",
                [alter + $"DROP COLUMN {name}", alter + "ADD COLUMN " + ColumnDefinition(want)]));
            return;
        }
        if (want.Type != have.Type)
            findings.Add(new("column", subject, $"is {have.Type}; expected {want.Type}", [alter + $"ALTER COLUMN {name} TYPE {want.Type} USING {name}::{want.Type}"]));
        if (want.NotNull != have.NotNull)
            findings.Add(new("column", subject, want.NotNull ? "is nullable; expected NOT NULL" : "is NOT NULL; expected nullable",
                [alter + $"ALTER COLUMN {name} {(want.NotNull ? "SET" : "DROP")} NOT NULL"]));
        if (want.Generated is null && want.Default != have.Default)
            findings.Add(new("column", subject, $"defaults to {have.Default ?? "nothing"}; expected {want.Default ?? "nothing"}",
                [alter + (want.Default is null ? $"ALTER COLUMN {name} DROP DEFAULT" : $"ALTER COLUMN {name} SET DEFAULT {want.Default}")]));
    }

    /// <summary>A sequence past <see cref="SequenceUsedLimit"/> of its range: widening to bigint repairs a narrower one; a bigint one has no statement.</summary>
    private static void CheckSequenceHeadroom(SchemaSnapshot live, List<DoctorFinding> findings)
    {
        foreach (var sequence in live.Sequences.Where(s => s.LastValue is { } last && (double)last / s.MaxValue > SequenceUsedLimit))
        {
            findings.Add(new("sequence", sequence.Name,
                string.Create(CultureInfo.InvariantCulture, $"has used {Math.Floor(100.0 * sequence.LastValue!.Value / sequence.MaxValue)}% of its range ({sequence.LastValue} of {sequence.MaxValue})"),
                sequence.Type == "bigint" ? [] : [$"ALTER SEQUENCE {SchemaSnapshot.Quote(sequence.Name)} AS bigint"]));
        }
    }

    /// <summary>
    /// Each observer group with a checkpoint needs its logical slot (pgoutput, this database) and a
    /// publication; its <c>&lt;name&gt;_outbox</c> publication, when there, must publish the outbox's inserts.
    /// </summary>
    private static async Task CheckReplicationAsync(NpgsqlConnection conn, string schema, List<DoctorFinding> findings, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT c.observer, c.slot, s.slot_type, s.plugin, s.database = current_database(),
                   o.pubname IS NOT NULL, coalesce(o.pubinsert, false),
                   EXISTS (SELECT FROM pg_publication_tables pt WHERE pt.pubname = o.pubname AND pt.schemaname = $1 AND pt.tablename = 'outbox'),
                   EXISTS (SELECT FROM pg_publication p WHERE p.pubname = c.observer || '_tables')
            FROM observer_checkpoints c
            LEFT JOIN pg_replication_slots s ON s.slot_name = c.slot
            LEFT JOIN pg_publication o ON o.pubname = c.observer || '_outbox'
            ORDER BY c.observer
            """, conn);
        cmd.Parameters.Add(new() { Value = schema });
        var rows = new List<(string Observer, string Slot, string? Type, string? Plugin, bool? ThisDatabase, bool Outbox, bool Insert, bool HasOutbox, bool Tables)>();
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
                rows.Add((r.GetString(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3),
                    r.IsDBNull(4) ? null : r.GetBoolean(4), r.GetBoolean(5), r.GetBoolean(6), r.GetBoolean(7), r.GetBoolean(8)));
        }
        foreach (var row in rows)
        {
            var slot = Literal(row.Slot);
            var create = $"SELECT pg_create_logical_replication_slot({slot}, 'pgoutput')";
            if (row.Type is null)
                findings.Add(new("replication", row.Slot, $"the replication slot of observer group {row.Observer} is missing (what was committed while it was gone is not read)", [create]));
            else if (row.Type != "logical" || row.Plugin != "pgoutput" || row.ThisDatabase != true)
                findings.Add(new("replication", row.Slot, $"the slot of observer group {row.Observer} is {row.Type} ({row.Plugin ?? "no plugin"}) or of another database; expected logical pgoutput here",
                    [$"SELECT pg_drop_replication_slot({slot})", create]));

            var publication = SchemaSnapshot.Quote(row.Observer + "_outbox");
            if (!row.Outbox && !row.Tables)
                findings.Add(new("replication", row.Observer + "_outbox", $"observer group {row.Observer} has no publication",
                    [$"CREATE PUBLICATION {publication} FOR TABLE outbox WITH (publish = 'insert')"]));
            if (row.Outbox && !row.HasOutbox)
                findings.Add(new("replication", row.Observer + "_outbox", "does not publish the outbox table", [$"ALTER PUBLICATION {publication} ADD TABLE outbox"]));
            if (row.Outbox && !row.Insert)
                findings.Add(new("replication", row.Observer + "_outbox", "does not publish inserts", [$"ALTER PUBLICATION {publication} SET (publish = 'insert')"]));
        }
    }

    private static List<string> CreateTable(SchemaSnapshot expected, SchemaSnapshot live, string table)
    {
        var statements = new List<string>();
        var owners = SequenceOwners(expected);
        var columns = expected.Columns.Where(c => c.Table == table).ToList();
        var sequences = owners.Where(o => o.Value.Table == table && live.Sequences.All(s => s.Name != o.Key)).Select(o => o.Key).ToList();
        foreach (var sequence in sequences)
            statements.Add($"CREATE SEQUENCE {SchemaSnapshot.Quote(sequence)} AS {expected.Sequences.Single(s => s.Name == sequence).Type}");
        var options = expected.Tables[table];
        statements.Add($"CREATE TABLE {SchemaSnapshot.Quote(table)} ({string.Join(", ", columns.Select(ColumnDefinition))})"
            + (options.Count == 0 ? "" : $" WITH ({string.Join(", ", options.Select(o => $"{o.Key} = {o.Value}"))})"));
        foreach (var sequence in sequences)
            statements.Add($"ALTER SEQUENCE {SchemaSnapshot.Quote(sequence)} OWNED BY {SchemaSnapshot.Quote(table)}.{SchemaSnapshot.Quote(owners[sequence].Column)}");
        // Keys before the foreign keys that may lean on them.
        statements.AddRange(expected.Constraints.Where(c => c.Table == table)
            .OrderBy(c => c.Definition.StartsWith("FOREIGN KEY", StringComparison.Ordinal)).Select(AddConstraint));
        statements.AddRange(expected.Indexes.Where(i => i.Table == table).Select(i => i.Definition));
        statements.AddRange(expected.Triggers.Where(t => t.Table == table).Select(t => t.Definition));
        return statements;
    }

    private static List<string> CreateSequence(SequenceShape sequence, Dictionary<string, (string Table, string Column)> owners)
    {
        var name = SchemaSnapshot.Quote(sequence.Name);
        List<string> statements = [$"CREATE SEQUENCE {name} AS {sequence.Type}"];
        if (owners.TryGetValue(sequence.Name, out var owner))
        {
            var (table, column) = (SchemaSnapshot.Quote(owner.Table), SchemaSnapshot.Quote(owner.Column));
            statements.Add($"ALTER SEQUENCE {name} OWNED BY {table}.{column}");
            // Past the rows already there, so the next insert does not collide.
            statements.Add($"SELECT setval({Literal(sequence.Name)}, coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)");
        }
        return statements;
    }

    /// <summary>Sequence name → the column whose default draws from it (bigserial columns).</summary>
    private static Dictionary<string, (string Table, string Column)> SequenceOwners(SchemaSnapshot snapshot) =>
        snapshot.Columns.Select(c => (c, m: c.Default is null ? Match.Empty : NextVal().Match(c.Default)))
            .Where(x => x.m.Success).ToDictionary(x => x.m.Groups[1].Value, x => (x.c.Table, x.c.Name));

    private static string ColumnDefinition(ColumnShape c) =>
        $"{SchemaSnapshot.Quote(c.Name)} {c.Type}"
        + (c.Generated is null ? "" : $" GENERATED ALWAYS AS ({c.Generated}) STORED")
        + (c.Default is null ? "" : $" DEFAULT {c.Default}")
        + (c.NotNull ? " NOT NULL" : "");

    private static string AddConstraint(ConstraintShape c) =>
        $"ALTER TABLE {SchemaSnapshot.Quote(c.Table)} ADD CONSTRAINT {SchemaSnapshot.Quote(c.Name)} {c.Definition}";

    private static string Concurrently(string indexDefinition) =>
        indexDefinition.StartsWith("CREATE UNIQUE INDEX ", StringComparison.Ordinal)
            ? "CREATE UNIQUE INDEX CONCURRENTLY " + indexDefinition["CREATE UNIQUE INDEX ".Length..]
            : "CREATE INDEX CONCURRENTLY " + indexDefinition["CREATE INDEX ".Length..];

    private static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>Expected and live items side by side by key, in key order; a side is null where the item is absent.</summary>
    private static IEnumerable<(TKey Key, T? Want, T? Have)> Pair<T, TKey>(IEnumerable<T> expected, IEnumerable<T> live, Func<T, TKey> key)
        where T : class where TKey : notnull
    {
        var want = expected.ToDictionary(key);
        var have = live.ToDictionary(key);
        return want.Keys.Union(have.Keys).Order().Select(k => (k, want.GetValueOrDefault(k), have.GetValueOrDefault(k)));
    }

    private static async Task<object?> Scalar(NpgsqlConnection conn, NpgsqlTransaction tx, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn, tx);
        return await cmd.ExecuteScalarAsync(ct);
    }

    private static async Task Execute(NpgsqlConnection conn, NpgsqlTransaction tx, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn, tx);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
