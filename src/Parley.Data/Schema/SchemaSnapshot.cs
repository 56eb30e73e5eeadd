using Npgsql;

namespace Parley.Data.Schema;

public sealed record ColumnShape(string Table, string Name, string Type, bool NotNull, string? Default, string? Generated);

public sealed record IndexShape(string Table, string Name, string Definition, bool Valid);

public sealed record ConstraintShape(string Table, string Name, string Definition);

public sealed record TriggerShape(string Table, string Name, string Definition);

public sealed record SequenceShape(string Name, string Type, long MaxValue, long? LastValue);

/// <summary>
/// One schema's structure as the catalog describes it: tables with their storage options (autovacuum),
/// columns, indexes (those not backing a constraint), constraints (not NOT NULL, which
/// <see cref="ColumnShape.NotNull"/> carries), user triggers and sequences. Definitions are printed
/// with the schema alone on the search_path (and its name taken out of index definitions), so two schemas built by the same DDL print the same.
/// </summary>
public sealed record SchemaSnapshot(
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Tables,
    IReadOnlyList<ColumnShape> Columns,
    IReadOnlyList<IndexShape> Indexes,
    IReadOnlyList<ConstraintShape> Constraints,
    IReadOnlyList<TriggerShape> Triggers,
    IReadOnlyList<SequenceShape> Sequences)
{
    /// <summary>Reads <paramref name="schema"/> inside the caller's transaction (it sets a local search_path).</summary>
    public static async Task<SchemaSnapshot> ReadAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string schema, CancellationToken ct = default)
    {
        await using (var path = new NpgsqlCommand($"SET LOCAL search_path = {Quote(schema)}", conn, tx))
            await path.ExecuteNonQueryAsync(ct);

        var tables = new Dictionary<string, IReadOnlyDictionary<string, string>>();
        await foreach (var r in QueryAsync(conn, tx, schema, """
            SELECT c.relname, coalesce(c.reloptions, '{}') FROM pg_class c
            WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND c.relkind IN ('r', 'p')
            """, ct))
        {
            tables[r.GetString(0)] = r.GetFieldValue<string[]>(1)
                .Select(o => o.Split('=', 2)).ToDictionary(o => o[0], o => o[1]);
        }

        var columns = new List<ColumnShape>();
        await foreach (var r in QueryAsync(conn, tx, schema, """
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                   CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END,
                   CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY c.relname, a.attnum
            """, ct))
        {
            columns.Add(new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetBoolean(3),
                r.IsDBNull(4) ? null : r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5)));
        }

        var indexes = new List<IndexShape>();
        await foreach (var r in QueryAsync(conn, tx, schema, """
            SELECT t.relname, i.relname, pg_get_indexdef(x.indexrelid), x.indisvalid
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
            WHERE t.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND t.relkind IN ('r', 'p')
              AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = x.indexrelid AND k.contype IN ('p', 'u', 'x'))
            ORDER BY t.relname, i.relname
            """, ct))
        {
            indexes.Add(new(r.GetString(0), r.GetString(1), Unqualified(r.GetString(2), schema), r.GetBoolean(3)));
        }

        var constraints = new List<ConstraintShape>();
        await foreach (var r in QueryAsync(conn, tx, schema, """
            SELECT t.relname, k.conname, pg_get_constraintdef(k.oid)
            FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid
            WHERE t.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND k.contype IN ('p', 'u', 'f', 'c', 'x')
            ORDER BY t.relname, k.conname
            """, ct))
        {
            constraints.Add(new(r.GetString(0), r.GetString(1), r.GetString(2)));
        }

        var triggers = new List<TriggerShape>();
        await foreach (var r in QueryAsync(conn, tx, schema, """
            SELECT t.relname, g.tgname, pg_get_triggerdef(g.oid)
            FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid
            WHERE t.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND NOT g.tgisinternal
            ORDER BY t.relname, g.tgname
            """, ct))
        {
            triggers.Add(new(r.GetString(0), r.GetString(1), Unqualified(r.GetString(2), schema)));
        }

        var sequences = new List<SequenceShape>();
        await foreach (var r in QueryAsync(conn, tx, schema, """
            SELECT sequencename, data_type::text, max_value, last_value FROM pg_sequences
            WHERE schemaname = $1 ORDER BY sequencename
            """, ct))
        {
            sequences.Add(new(r.GetString(0), r.GetString(1), r.GetInt64(2), r.IsDBNull(3) ? null : r.GetInt64(3)));
        }

        return new(tables, columns, indexes, constraints, triggers, sequences);
    }

    // pg_get_indexdef qualifies the table whatever the search_path says.
    private static string Unqualified(string definition, string schema) =>
        definition.Replace($" ON {Quote(schema)}.", " ON ", StringComparison.Ordinal);

    /// <summary>An identifier as SQL text: bare when it is a plain lower-case name, else double-quoted.</summary>
    public static string Quote(string name) =>
        name.Length > 0 && name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_') && !char.IsDigit(name[0])
            ? name
            : "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static async IAsyncEnumerable<NpgsqlDataReader> QueryAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string schema, string sql,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn, tx);
        cmd.Parameters.Add(new() { Value = schema });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) yield return reader;
    }
}
