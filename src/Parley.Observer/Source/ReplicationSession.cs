using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;
using NpgsqlTypes;
using Parley.Observer.Events;
using Parley.Observer.Hosting;
using Parley.Observer.Metrics;
using Parley.Observer.Queue;
using Parley.Observer.Rules;
using Parley.Server.Delivery;

namespace Parley.Observer.Source;

/// <summary>The lease was lost while leading: nothing more may be enqueued or checkpointed under that term.</summary>
public sealed class LeadershipLostException(string message) : Exception(message);

/// <summary>
/// One term of leading: prepares the publications and the slot, reads the slot with pgoutput, turns
/// changes into events, enqueues the matching actions and moves the checkpoint — the queue insert and
/// the checkpoint row in one transaction fenced by the term, the slot's confirmed position after that
/// commit. A crash between the two re-reads events whose actions are already queued; the dedup
/// (Redis, then the queue's unique key) drops them.
/// </summary>
internal sealed partial class ReplicationSession(
    ObserverDatabase db, RuleSet rules, ActionQueue queue, ActionWorkers workers, EventDedup dedup, ObserverMetrics metrics,
    ObserverIdentity identity, ObserverOptions options, ILogger logger, long term)
{
    private const int ChannelCapacity = 1024;

    // Events read but not yet enqueued hold at most this much (besides one event of up to MaxEventBytes).
    private const long MaxBytesInFlight = 64L * 1024 * 1024;
    private static readonly TimeSpan SlotReleaseWait = TimeSpan.FromSeconds(10);

    private readonly string _slot = options.Name;
    private readonly SemaphoreSlim _drained = new(0, 1);
    private long _bytesInFlight;

    // The checkpoint when this term began: only events committed before it can have been enqueued already (a
    // replay), so only theirs are looked up in the dedup fast path; later ones go straight to the insert, whose
    // unique key still drops a repeat (e.g. of a long transaction split over batches before a crash).
    private ulong _replayBefore;
    // Event ids whose actions are enqueued, for the dedup marks; a full backlog drops a batch's marks (best effort: a
    // replay of those events then costs an ON CONFLICT instead of a Redis hit). The marks never hold up the next enqueue.
    private readonly Channel<List<string>> _marks = Channel.CreateBounded<List<string>>(
        new BoundedChannelOptions(MarkBacklog) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.DropWrite });
    private const int MarkBacklog = 256;
    private readonly string _heartbeatPrefix = $"parley-observer:{options.Name}";
    // A row of a table that appeared while this group ran, sent by the backfill as a transactional message.
    private readonly string _rowPrefix = $"parley-observer-row:{options.Name}";
    private static readonly TimeSpan MissingTableCheck = TimeSpan.FromSeconds(1);
    // A table that appeared a second ago is small, but one made by CREATE TABLE AS can be huge: the backfill is bounded.
    private const int MaxBackfillRows = 100_000;

    // The rules' tables that did not exist when this session began: watched, and added with their rows once they appear.
    private List<(string Schema, string Name)> _missing = [];

    private string OutboxPublication => $"{options.Name}_outbox";

    private string TablesPublication => $"{options.Name}_tables";

    public async Task RunAsync(CancellationToken ct)
    {
        var publications = await PrepareAsync(ct);
        _replayBefore = await queue.CheckpointAsync(ct);
        await using var connection = new LogicalReplicationConnection(db.ConnectionString);
        await connection.Open(ct);
        await TakeSlotAsync(connection.ProcessID, ct);
        var channel = Channel.CreateBounded<StreamItem>(new BoundedChannelOptions(ChannelCapacity) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var tasks = new List<Task>
        {
            ReadAsync(connection, publications, channel.Writer, stop.Token),
            EnqueueAsync(connection, channel.Reader, stop.Token),
            HeartbeatAsync(stop.Token),
            MarkAsync(stop.Token),
        };
        // Ends the session normally once a missing table was added: the next one reads it (ObserverService starts it).
        if (_missing.Count > 0) tasks.Add(WatchMissingTablesAsync(stop.Token));
        identity.Streaming = true;
        try
        {
            var first = await Task.WhenAny(tasks);
            await stop.CancelAsync();
            try
            {
                await Task.WhenAll(tasks);
            }
            catch (Exception)
            {
                // the others were stopped: the first to end is the one that counts
            }
            await first;
        }
        finally
        {
            identity.Streaming = false;
        }
    }

    /// <summary>The publications (created or brought to the rules' tables) and the slot (created when missing).</summary>
    private async Task<List<string>> PrepareAsync(CancellationToken ct)
    {
        await using var conn = await db.Source.OpenConnectionAsync(ct);
        var names = new List<string>();
        if (rules.ReadsParleyEvents)
        {
            await EnsurePublicationAsync(conn, OutboxPublication, [("public", "outbox")], "insert", ct);
            names.Add(OutboxPublication);
        }
        if (rules.Tables.Count > 0)
        {
            // A table that does not exist yet holds up no other rule: it is watched, and added when it appears.
            var exist = await ExistingAsync(conn, rules.Tables, ct);
            _missing = rules.Tables.Where(t => !exist.Contains(t)).ToList();
            if (_missing.Count > 0) LogTablesMissing(logger, string.Join(", ", _missing.Select(t => $"{t.Schema}.{t.Name}")));
            await EnsurePublicationAsync(conn, TablesPublication, rules.Tables.Where(exist.Contains).ToList(), "insert, update, delete", ct);
            names.Add(TablesPublication);
        }
        await using (var exists = new NpgsqlCommand("SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", conn))
        {
            exists.Parameters.Add(new() { Value = _slot });
            if ((long)(await exists.ExecuteScalarAsync(ct))! == 0)
            {
                await using var create = new NpgsqlCommand("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", conn);
                create.Parameters.Add(new() { Value = _slot });
                await create.ExecuteNonQueryAsync(ct);
                LogSlotCreated(logger, _slot);
            }
        }
        return names;
    }

    // Names come from validated options and rules ([a-z0-9_] identifiers), so quoting is enough.
    private static string Quoted((string Schema, string Name) table) => $"\"{table.Schema}\".\"{table.Name}\"";

    /// <summary>Creates the publication with exactly <paramref name="tables"/>, or brings an existing one to them (none is allowed).</summary>
    private static async Task EnsurePublicationAsync(
        NpgsqlConnection conn, string name, IReadOnlyList<(string Schema, string Name)> tables, string publish, CancellationToken ct)
    {
        var list = string.Join(", ", tables.Select(Quoted));
        await using var exists = new NpgsqlCommand("SELECT count(*) FROM pg_publication WHERE pubname = $1", conn);
        exists.Parameters.Add(new() { Value = name });
        string sql;
        if ((long)(await exists.ExecuteScalarAsync(ct))! == 0)
            sql = $"CREATE PUBLICATION \"{name}\" {(tables.Count > 0 ? $"FOR TABLE {list} " : "")}WITH (publish = '{publish}')";
        else if (tables.Count > 0)
            sql = $"ALTER PUBLICATION \"{name}\" SET TABLE {list}";
        else
        {
            // SET TABLE needs at least one: drop the members instead.
            await using var members = new NpgsqlCommand(
                "SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') FROM pg_publication_tables WHERE pubname = $1", conn);
            members.Parameters.Add(new() { Value = name });
            if (await members.ExecuteScalarAsync(ct) is not string current) return;
            sql = $"ALTER PUBLICATION \"{name}\" DROP TABLE {current}";
        }
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static async Task<HashSet<(string Schema, string Name)>> ExistingAsync(
        NpgsqlConnection conn, IReadOnlyList<(string Schema, string Name)> tables, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            "SELECT s, n FROM unnest($1::text[], $2::text[]) AS t(s, n) WHERE to_regclass(format('%I.%I', s, n)) IS NOT NULL", conn);
        cmd.Parameters.Add(new() { Value = tables.Select(t => t.Schema).ToArray() });
        cmd.Parameters.Add(new() { Value = tables.Select(t => t.Name).ToArray() });
        var exist = new HashSet<(string, string)>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) exist.Add((r.GetString(0), r.GetString(1)));
        return exist;
    }

    /// <summary>Every second, adds the missing tables that exist now (with their rows); returns once one was added.</summary>
    private async Task WatchMissingTablesAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(MissingTableCheck);
        while (await timer.WaitForNextTickAsync(ct))
        {
            try
            {
                await using var conn = await db.Source.OpenConnectionAsync(ct);
                var appeared = await ExistingAsync(conn, _missing, ct);
                foreach (var table in appeared) await BackfillAsync(conn, table, ct);
                if (appeared.Count > 0) return;
            }
            catch (NpgsqlException e)
            {
                // Dropped again, locked past the timeout, or the database is away: the next tick tries again.
                LogBackfillFailed(logger, e.Message);
            }
        }
    }

    /// <summary>
    /// Adds a table that appeared to the publication, and its rows as insert events, in one transaction that holds
    /// the table against writes: rows committed before it are in its messages, later ones in the stream, none in
    /// both. A second backfill of the table fails (it is a member already), so no row is sent twice.
    /// </summary>
    private async Task BackfillAsync(NpgsqlConnection conn, (string Schema, string Name) table, CancellationToken ct)
    {
        await using var tx = await conn.BeginTransactionAsync(ct);
        var columns = new List<(string Name, uint Type)>();
        await using (var cmd = new NpgsqlCommand(
            "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum", conn, tx))
        {
            cmd.Parameters.Add(new() { Value = Quoted(table) });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct)) columns.Add((r.GetString(0), r.GetFieldValue<uint>(1)));
        }
        await using (var hold = new NpgsqlCommand(
            $"SET LOCAL lock_timeout = '5s'; LOCK TABLE {Quoted(table)} IN SHARE MODE; ALTER PUBLICATION \"{TablesPublication}\" ADD TABLE {Quoted(table)}", conn, tx))
            await hold.ExecuteNonQueryAsync(ct);
        // format's %s is the type's output function, as pgoutput sends it (a cast differs: bool is 'true', not 't').
        var values = string.Join(", ", columns.Select(c => $"\"{c.Name.Replace("\"", "\"\"", StringComparison.Ordinal)}\"")
            .Select(c => $"CASE WHEN {c} IS NULL THEN NULL ELSE format('%s', {c}) END"));
        long rows;
        await using (var emit = new NpgsqlCommand(
            $"SELECT count(pg_logical_emit_message(true, $1, json_build_object('columns', $2::json, 'values', array_to_json(ARRAY[{values}]))::text)) " +
            $"FROM (SELECT * FROM {Quoted(table)} LIMIT {MaxBackfillRows}) t", conn, tx))
        {
            // The prefix names the table, so a row too large to read still has its source.
            emit.Parameters.Add(new() { Value = $"{_rowPrefix}:{table.Schema}.{table.Name}" });
            emit.Parameters.Add(new() { Value = JsonSerializer.Serialize(columns.Select(c => new object[] { c.Name, c.Type })) });
            rows = (long)(await emit.ExecuteScalarAsync(ct))!;
        }
        await tx.CommitAsync(ct);
        LogTableAdded(logger, $"{table.Schema}.{table.Name}", rows);
        if (rows == MaxBackfillRows) LogBackfillBounded(logger, $"{table.Schema}.{table.Name}", MaxBackfillRows);
    }

    /// <summary>Ends the walsender of a deposed leader still attached to the slot (a paused process keeps it), then waits for it to let go.</summary>
    private async Task TakeSlotAsync(int ownPid, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + SlotReleaseWait;
        while (true)
        {
            await using var cmd = db.Source.CreateCommand("""
                SELECT active_pid, pg_terminate_backend(active_pid) FROM pg_replication_slots
                WHERE slot_name = $1 AND active_pid IS NOT NULL AND active_pid <> $2
                """);
            cmd.Parameters.Add(new() { Value = _slot });
            cmd.Parameters.Add(new() { Value = ownPid });
            if (await cmd.ExecuteScalarAsync(ct) is not int pid) return;
            LogSlotTaken(logger, _slot, pid);
            if (DateTime.UtcNow > deadline)
                throw new InvalidOperationException($"Replication slot {_slot} is still held by process {pid} after {SlotReleaseWait.TotalSeconds:0} s.");
            await Task.Delay(TimeSpan.FromMilliseconds(100), ct);
        }
    }

    private async Task ReadAsync(LogicalReplicationConnection connection, List<string> publications, ChannelWriter<StreamItem> writer, CancellationToken ct)
    {
        var replication = new PgOutputReplicationOptions(publications, PgOutputProtocolVersion.V1, binary: false, messages: true);
        ulong commitLsn = 0;
        var committedAt = DateTimeOffset.MinValue;
        var index = 0;
        await foreach (var message in connection.StartReplication(new PgOutputReplicationSlot(_slot), replication, ct))
        {
            var decodeStarted = Stopwatch.GetTimestamp();
            StreamItem? item = null;
            switch (message)
            {
                case BeginMessage begin:
                    commitLsn = (ulong)begin.TransactionFinalLsn;
                    committedAt = new DateTimeOffset(begin.TransactionCommitTimestamp.ToUniversalTime(), TimeSpan.Zero);
                    index = 0;
                    break;
                case InsertMessage insert:
                    item = await ChangeAsync(insert.Relation, "insert", insert.NewRow, null, commitLsn, index++, committedAt, ct);
                    break;
                case FullUpdateMessage update:
                {
                    var old = await RowDecoder.ReadAsync(update.Relation, update.OldRow, options.MaxEventBytes, ct);
                    item = await ChangeAsync(update.Relation, "update", update.NewRow, old, commitLsn, index++, committedAt, ct);
                    break;
                }
                case IndexUpdateMessage update:
                {
                    var key = await RowDecoder.ReadAsync(update.Relation, update.Key, options.MaxEventBytes, ct);
                    item = await ChangeAsync(update.Relation, "update", update.NewRow, key, commitLsn, index++, committedAt, ct);
                    break;
                }
                case UpdateMessage update:
                    item = await ChangeAsync(update.Relation, "update", update.NewRow, null, commitLsn, index++, committedAt, ct);
                    break;
                case FullDeleteMessage delete:
                    item = await ChangeAsync(delete.Relation, "delete", delete.OldRow, null, commitLsn, index++, committedAt, ct);
                    break;
                case KeyDeleteMessage delete:
                    item = await ChangeAsync(delete.Relation, "delete", delete.Key, null, commitLsn, index++, committedAt, ct);
                    break;
                case CommitMessage commit:
                    // A replayed transaction's age is not the stream's delay.
                    if (commitLsn >= _replayBefore) metrics.Stage("stream", DateTimeOffset.UtcNow - committedAt);
                    item = new CommitItem((ulong)commit.TransactionEndLsn, committedAt);
                    break;
                case LogicalDecodingMessage { Prefix: var prefix } logical when prefix.StartsWith(_rowPrefix + ":", StringComparison.Ordinal):
                    item = await BackfilledRowAsync(logical, commitLsn, index++, committedAt, ct);
                    break;
                case LogicalDecodingMessage { Prefix: var prefix } logical when prefix == _heartbeatPrefix:
                {
                    using var reader = new StreamReader(logical.Data, Encoding.UTF8);
                    var text = await reader.ReadToEndAsync(ct);
                    var emitted = DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at : DateTimeOffset.UtcNow;
                    item = new HeartbeatItem((ulong)logical.MessageLsn, emitted);
                    break;
                }
            }
            if (item is null) continue;
            if (item is EventItem e)
            {
                metrics.Stage("decode", decodeStarted);
                // Backpressure by size as well as count: many large events never pile up in memory.
                while (Interlocked.Read(ref _bytesInFlight) > MaxBytesInFlight)
                    await _drained.WaitAsync(TimeSpan.FromMilliseconds(100), ct);
                Interlocked.Add(ref _bytesInFlight, e.Bytes);
            }
            await writer.WriteAsync(item, ct);
        }
        throw new InvalidOperationException("The replication stream ended.");
    }

    /// <summary>One change as an event: a Parley event for an outbox insert, else a table event with the new (or deleted) row and the old one.</summary>
    private async Task<StreamItem> ChangeAsync(
        RelationMessage relation, string type, ReplicationTuple tuple, DecodedRow? old, ulong commitLsn, int index, DateTimeOffset committedAt, CancellationToken ct)
    {
        var id = EventId(commitLsn, index);
        var row = await RowDecoder.ReadAsync(relation, tuple, options.MaxEventBytes - (old?.Bytes ?? 0), ct);
        var tooLarge = row.TooLarge || old is { TooLarge: true };
        if (relation is { Namespace: "public", RelationName: "outbox" } && rules.ReadsParleyEvents && type == "insert")
        {
            // type comes before payload in the outbox's columns, so a too-large event still has it.
            var eventType = row.Row["type"]?.GetValue<string>() ?? "";
            var data = tooLarge ? [] : ParleyData(row.Row);
            return new EventItem(new ObserverEvent(id, ObserverEvent.ParleySource, eventType, committedAt, data), commitLsn, tooLarge, row.Bytes);
        }
        var source = ObserverEvent.TableSource(relation.Namespace, relation.RelationName);
        return new EventItem(new ObserverEvent(id, source, type, committedAt, tooLarge ? [] : row.Row, tooLarge ? null : old?.Row), commitLsn, tooLarge, row.Bytes + (old?.Bytes ?? 0));
    }

    /// <summary>A row sent by <see cref="BackfillAsync"/> as the insert event the stream would have carried (the same JSON by column type).</summary>
    private async Task<StreamItem> BackfilledRowAsync(LogicalDecodingMessage message, ulong commitLsn, int index, DateTimeOffset committedAt, CancellationToken ct)
    {
        var relation = message.Prefix[(_rowPrefix.Length + 1)..];
        var dot = relation.IndexOf('.', StringComparison.Ordinal);
        var source = ObserverEvent.TableSource(relation[..dot], relation[(dot + 1)..]);
        using var content = new MemoryStream();
        var chunk = new byte[16 * 1024];
        var tooLarge = false;
        int read;
        while (!tooLarge && (read = await message.Data.ReadAsync(chunk, ct)) > 0)
        {
            tooLarge = content.Length + read > options.MaxEventBytes;
            if (!tooLarge) content.Write(chunk, 0, read);
        }
        var row = new JsonObject();
        if (!tooLarge)
        {
            using var document = JsonDocument.Parse(content.GetBuffer().AsMemory(0, (int)content.Length));
            var columns = document.RootElement.GetProperty("columns").EnumerateArray().ToList();
            var i = 0;
            foreach (var value in document.RootElement.GetProperty("values").EnumerateArray())
            {
                var column = columns[i++];
                row[column[0].GetString()!] = value.ValueKind == JsonValueKind.Null ? null : RowDecoder.ToJson(column[1].GetUInt32(), value.GetString()!);
            }
        }
        return new EventItem(new ObserverEvent(EventId(commitLsn, index), source, "insert", committedAt, row), commitLsn, tooLarge, content.Length);
    }

    /// <summary>The WebSocket frame's fields other than type and eventId, built by the same code as the frame.</summary>
    private static JsonObject ParleyData(JsonObject outboxRow)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        using (var payload = JsonDocument.Parse(outboxRow["payload"]?.ToJsonString() ?? "{}"))
        {
            writer.WriteStartObject();
            DeliveryEvent.WriteFields(writer, Guid.Parse(outboxRow["conversation_id"]!.GetValue<string>()), payload.RootElement);
            writer.WriteEndObject();
        }
        return JsonNode.Parse(buffer.WrittenSpan)!.AsObject();
    }

    /// <summary>The commit's WAL position and the change's place in its transaction: the same on every read.</summary>
    public static string EventId(ulong commitLsn, int index) =>
        string.Create(CultureInfo.InvariantCulture, $"{commitLsn:x16}-{index}");

    private async Task EnqueueAsync(LogicalReplicationConnection connection, ChannelReader<StreamItem> reader, CancellationToken ct)
    {
        var pending = new List<EventItem>();
        CheckpointMove? move = null;
        DateTimeOffset? lagFrom = null;
        while (await reader.WaitToReadAsync(ct))
        {
            while (reader.TryRead(out var item))
            {
                switch (item)
                {
                    case EventItem e:
                        pending.Add(e);
                        break;
                    case CommitItem c:
                        move = new CheckpointMove(c.EndLsn, c.CommittedAt);
                        lagFrom = c.CommittedAt;
                        break;
                    case HeartbeatItem h:
                        move = new CheckpointMove(h.Lsn, null);
                        lagFrom = h.EmittedAt;
                        break;
                }
                if (pending.Count >= options.BatchSize) break;
            }
            // The channel is drained (or the batch full): what was read so far goes in one transaction.
            await FlushAsync(connection, pending, move, ct);
            if (move is not null && lagFrom is { } from) metrics.SetLag((DateTimeOffset.UtcNow - from).TotalSeconds);
            Interlocked.Add(ref _bytesInFlight, -pending.Sum(e => e.Bytes));
            if (_drained.CurrentCount == 0) _drained.Release();
            pending.Clear();
            move = null;
        }
    }

    private async Task FlushAsync(LogicalReplicationConnection connection, List<EventItem> events, CheckpointMove? move, CancellationToken ct)
    {
        if (events.Count == 0 && move is null) return;
        var started = Stopwatch.GetTimestamp();
        var actions = new List<NewAction>();
        var withActions = new List<string>();
        var replayed = new List<string>();
        foreach (var e in events)
        {
            var before = actions.Count;
            AddActions(e, actions);
            if (actions.Count == before) continue;
            withActions.Add(e.Event.Id);
            if (e.CommitLsn < _replayBefore) replayed.Add(e.Event.Id);
        }
        if (events.Count > 0) metrics.Stage("match", started);
        if (replayed.Count > 0)
        {
            started = Stopwatch.GetTimestamp();
            var seen = await dedup.SeenAsync(replayed, ct);
            metrics.Stage("dedup_check", started);
            metrics.DedupHits(seen.Count);
            if (seen.Count > 0)
            {
                actions.RemoveAll(a => seen.Contains(a.EventId));
                // A hit's key is already set: marking it again would be a Redis write per replayed event for nothing.
                withActions.RemoveAll(seen.Contains);
            }
        }
        started = Stopwatch.GetTimestamp();
        // Actions due at once go straight to this process's free worker slots, claimed by the insert itself.
        var reserved = workers.TryReserve(actions.Count(a => a.DueAtOnce));
        IReadOnlyList<ClaimedAction>? claimed = null;
        try
        {
            claimed = await queue.EnqueueAsync(term, identity.Instance, _slot, actions, move, reserved, ct);
        }
        finally
        {
            workers.Run(reserved, claimed ?? []);
        }
        if (claimed is null)
            throw new LeadershipLostException($"The lease of term {term} is no longer this process's; nothing was enqueued.");
        metrics.Stage("enqueue", started);
        if (move is { } m)
        {
            started = Stopwatch.GetTimestamp();
            connection.SetReplicationStatus(new NpgsqlLogSequenceNumber(m.Lsn));
            await connection.SendStatusUpdate(ct);
            metrics.Stage("confirm", started);
        }
        foreach (var e in events) metrics.EventRead(e.Event.Source, e.Event.Type);
        foreach (var a in actions.Where(a => a.DeadReason is not null)) metrics.ActionDone(a.Rule, a.Action, a.DeadReason!);
        if (actions.Count > claimed.Count) identity.SignalWork();
        if (withActions.Count > 0) _marks.Writer.TryWrite(withActions);
    }

    /// <summary>Sets the dedup marks of enqueued events, all the batches waiting at once, beside the enqueues.</summary>
    private async Task MarkAsync(CancellationToken ct)
    {
        var ids = new List<string>();
        while (await _marks.Reader.WaitToReadAsync(ct))
        {
            while (ids.Count < options.BatchSize && _marks.Reader.TryRead(out var batch)) ids.AddRange(batch);
            var started = Stopwatch.GetTimestamp();
            await dedup.MarkAsync(ids, ct);
            metrics.Stage("dedup_mark", started);
            ids.Clear();
        }
    }

    private void AddActions(EventItem item, List<NewAction> into)
    {
        var e = item.Event;
        string? json = null;
        foreach (var rule in rules.Rules)
        {
            // A too-large event is not held, so its conditions cannot be tested: every rule of its source and type gets its actions dead-lettered.
            if (e.Source != rule.Source.Name || !rule.On.Contains(e.Type)) continue;
            if (!item.TooLarge && rule.When is not null && !rule.When.Matches(e)) continue;
            json ??= Encoding.UTF8.GetString(e.ToJsonBytes());
            foreach (var action in rule.Actions)
            {
                var spec = action.Render(e);
                into.Add(new NewAction(e.Id, rule.Name, action.Name, ActionSpecJson.Kind(spec), action.Template.Endpoint, json,
                    ActionSpecJson.Write(spec), action.Retry, action.Timeout, item.TooLarge ? RetryPolicy.TooLarge : null));
            }
            if (item.TooLarge) LogTooLarge(logger, e.Id, rule.Name, item.Bytes, options.MaxEventBytes);
        }
    }

    private async Task HeartbeatAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(options.HeartbeatInterval);
        while (await timer.WaitForNextTickAsync(ct))
        {
            try
            {
                await using var cmd = db.Source.CreateCommand("SELECT pg_logical_emit_message(false, $1, $2)");
                cmd.Parameters.Add(new() { Value = _heartbeatPrefix });
                cmd.Parameters.Add(new() { Value = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture) });
                await cmd.ExecuteNonQueryAsync(ct);
            }
            catch (NpgsqlException e)
            {
                LogHeartbeatFailed(logger, e.Message);
            }
        }
    }

    private abstract record StreamItem;

    private sealed record EventItem(ObserverEvent Event, ulong CommitLsn, bool TooLarge, long Bytes) : StreamItem;

    private sealed record CommitItem(ulong EndLsn, DateTimeOffset CommittedAt) : StreamItem;

    private sealed record HeartbeatItem(ulong Lsn, DateTimeOffset EmittedAt) : StreamItem;

    [LoggerMessage(EventId = 8301, Level = LogLevel.Information, Message = "Observer: created replication slot {Slot}")]
    private static partial void LogSlotCreated(ILogger logger, string slot);

    [LoggerMessage(EventId = 8302, Level = LogLevel.Warning, Message = "Observer: replication slot {Slot} was held by process {Pid} (a deposed leader); ended it")]
    private static partial void LogSlotTaken(ILogger logger, string slot, int pid);

    [LoggerMessage(EventId = 8303, Level = LogLevel.Warning, Message = "Observer: event {EventId} ({Bytes} bytes read, limit {Limit}) is too large; the actions of rule {Rule} are dead-lettered too_large")]
    private static partial void LogTooLarge(ILogger logger, string eventId, string rule, long bytes, int limit);

    [LoggerMessage(EventId = 8304, Level = LogLevel.Warning, Message = "Observer: heartbeat failed: {Reason}")]
    private static partial void LogHeartbeatFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 8305, Level = LogLevel.Warning, Message = "Observer: rule tables {Tables} do not exist; the other rules run, and each table is added (its rows with it) once it appears")]
    private static partial void LogTablesMissing(ILogger logger, string tables);

    [LoggerMessage(EventId = 8306, Level = LogLevel.Information, Message = "Observer: table {Table} appeared; added to the publication, its {Rows} rows sent as insert events")]
    private static partial void LogTableAdded(ILogger logger, string table, long rows);

    [LoggerMessage(EventId = 8307, Level = LogLevel.Warning, Message = "Observer: table {Table} appeared with at least {Rows} rows, the backfill bound; rows past it were not sent as events")]
    private static partial void LogBackfillBounded(ILogger logger, string table, int rows);

    [LoggerMessage(EventId = 8308, Level = LogLevel.Warning, Message = "Observer: adding a table that appeared failed, trying again: {Reason}")]
    private static partial void LogBackfillFailed(ILogger logger, string reason);
}
