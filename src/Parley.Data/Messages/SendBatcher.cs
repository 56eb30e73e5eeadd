using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace Parley.Data.Messages;

/// <summary>What happened to one send in its batch.</summary>
internal enum BatchedState
{
    /// <summary>Stored by this batch; <see cref="BatchedSend.Message"/> is the new message.</summary>
    Inserted,

    /// <summary>The sender is not a participant (or the conversation is gone): nothing stored.</summary>
    NotMember,

    /// <summary>The clientMessageId was used before; <see cref="BatchedSend.Message"/> is set when it was used in this batch.</summary>
    Exists,
}

internal readonly record struct BatchedSend(BatchedState State, MessageRecord? Message);

/// <summary>
/// Group commit of sends: one bounded queue per writer, and each writer stores what piled up while
/// its previous commit was in flight as one statement (arrays through <c>unnest</c>), committed once.
/// An idle writer takes the first send at once (no timer). A send is answered only after the
/// statement that stored it has committed. One statement per batch instead of one per message cuts
/// the commits, the round trips and the conversation-row updates (once per conversation and batch).
/// </summary>
public sealed partial class SendBatcher : IAsyncDisposable
{
    // The membership rows are locked (KEY SHARE) so a concurrent removal waits for the batch, and the
    // conversation rows (NO KEY UPDATE, as `touched` takes anyway) so a send waits for a delete still
    // committing and then sees it (the row is re-checked); a message is inserted only for a member and unless its clientMessageId was used before; each
    // conversation's activity moves to its newest message once; every stored message gets its
    // message.created outbox row in the same transaction, in message order.
    internal const string SendBatchSql = """
        -- name: message.send_batch
        WITH input AS (
            SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $6::text[])
                WITH ORDINALITY AS t(id, conversation_id, sender_id, body, client_message_id, n)),
        member AS (
            SELECT p.conversation_id, p.user_id FROM participants p JOIN conversations c ON c.id = p.conversation_id
            WHERE (p.conversation_id, p.user_id) IN (SELECT conversation_id, sender_id FROM input) AND c.deleted_at IS NULL
            FOR KEY SHARE OF p FOR NO KEY UPDATE OF c),
        inserted AS (
            INSERT INTO messages (id, conversation_id, sender_id, body, created_at, client_message_id)
            SELECT i.id, i.conversation_id, i.sender_id, i.body, $5, i.client_message_id FROM input i
            WHERE EXISTS (SELECT 1 FROM member m WHERE m.conversation_id = i.conversation_id AND m.user_id = i.sender_id)
            ORDER BY i.n
            ON CONFLICT (conversation_id, sender_id, client_message_id) WHERE client_message_id IS NOT NULL DO NOTHING
            RETURNING id, conversation_id, sender_id, body, created_at, client_message_id),
        latest AS (
            SELECT DISTINCT ON (conversation_id) conversation_id, id, created_at FROM inserted
            ORDER BY conversation_id, created_at DESC, id DESC),
        touched AS (
            UPDATE conversations c SET last_activity_at = l.created_at, last_message_id = l.id
            FROM latest l WHERE c.id = l.conversation_id AND c.last_activity_at <= l.created_at),
        event AS (
            INSERT INTO outbox (conversation_id, type, payload)
            SELECT i.conversation_id, 'message.created', jsonb_build_object('message', jsonb_build_object(
                'id', i.id, 'conversationId', i.conversation_id, 'senderId', i.sender_id, 'body', i.body,
                'createdAt', to_char(i.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'clientMessageId', i.client_message_id))
            FROM inserted i ORDER BY i.id)
        SELECT i.n, EXISTS (SELECT 1 FROM member m WHERE m.conversation_id = i.conversation_id AND m.user_id = i.sender_id),
               EXISTS (SELECT 1 FROM inserted s WHERE s.id = i.id)
        FROM input i
        """;

    private const int DeadlockAttempts = 3;

    private static readonly Counter<long> Batches = DataMetrics.Meter.CreateCounter<long>(
        "parley.send.batches", "{batch}", "Send transactions committed (or failed) by the group commit.");

    private static readonly Counter<long> BatchedRows = DataMetrics.Meter.CreateCounter<long>(
        "parley.send.batch_rows", "{message}", "Sends carried by those transactions; rows / batches is the mean batch size.");

    private readonly ParleyDatabase _db;
    private readonly SendBatchOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<Pending>[] _queues;
    private readonly Task[] _writers;
    private readonly CancellationTokenSource _stopping = new();

    public SendBatcher(ParleyDatabase db, SendBatchOptions options, TimeProvider time, ILogger<SendBatcher> logger)
    {
        (_db, _options, _time, _logger) = (db, options, time, logger);
        _queues = new Channel<Pending>[options.Writers];
        _writers = new Task[options.Writers];
        for (var i = 0; i < options.Writers; i++)
        {
            _queues[i] = Channel.CreateBounded<Pending>(new BoundedChannelOptions(options.QueueCapacity)
            {
                SingleReader = true,
                FullMode = BoundedChannelFullMode.Wait,
            });
            var reader = _queues[i].Reader;
            _writers[i] = Task.Run(() => RunAsync(reader));
        }
        DataMetrics.Meter.CreateObservableGauge("parley.send.queued", () => Queued, "{message}",
            "Sends waiting for a writer of the group commit on this node.");
    }

    /// <summary>Sends queued and not yet taken into a batch.</summary>
    public int Queued => _queues.Sum(q => q.Reader.Count);

    /// <summary>Queues a send and waits until its batch has committed, within the request's token and <see cref="SendBatchOptions.Timeout"/>.</summary>
    internal async Task<BatchedSend> SendAsync(Guid conversationId, Guid senderId, string body, string? clientMessageId, CancellationToken ct)
    {
        var pending = new Pending(conversationId, senderId, body, clientMessageId, ct);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(_options.Timeout);
        var queue = _queues[(conversationId.GetHashCode() & int.MaxValue) % _queues.Length];
        try
        {
            await queue.Writer.WriteAsync(pending, deadline.Token);
            return await pending.Done.Task.WaitAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"The send was not committed within {_options.Timeout.TotalSeconds:0.#} s (Parley:Data:SendBatch:Timeout).");
        }
        catch (ChannelClosedException e)
        {
            throw new OperationCanceledException("The server is stopping.", e);
        }
    }

    private async Task RunAsync(ChannelReader<Pending> reader)
    {
        var batch = new List<Pending>(_options.MaxBatchSize);
        try
        {
            while (await reader.WaitToReadAsync(_stopping.Token))
            {
                while (batch.Count < _options.MaxBatchSize && reader.TryRead(out var pending))
                {
                    // A request that gave up while queued is not stored behind its back.
                    if (pending.RequestAborted.IsCancellationRequested) pending.Done.TrySetCanceled(pending.RequestAborted);
                    else batch.Add(pending);
                }
                if (batch.Count > 0) await CommitAsync(batch);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // Stopping: whatever is still queued is refused below.
        }
        while (reader.TryRead(out var left)) left.Done.TrySetException(new OperationCanceledException("The server is stopping."));
        foreach (var pending in batch) pending.Done.TrySetException(new OperationCanceledException("The server is stopping."));
    }

    private async Task CommitAsync(List<Pending> batch)
    {
        Batches.Add(1);
        BatchedRows.Add(batch.Count);
        try
        {
            Complete(batch, await StoreWithRetryAsync(batch));
        }
        catch (PostgresException e) when (batch.Count > 1 && IsRowError(e))
        {
            // One row broke the statement: store each alone, so only that row's request fails.
            LogSplit(_logger, batch.Count, e.SqlState, e.MessageText);
            foreach (var pending in batch)
            {
                try
                {
                    Complete([pending], await StoreWithRetryAsync([pending]));
                }
                catch (Exception one)
                {
                    pending.Done.TrySetException(one);
                }
            }
        }
        catch (Exception e)
        {
            foreach (var pending in batch) pending.Done.TrySetException(e);
        }
    }

    // Writers never share a conversation, but another node's batch may lock two conversations in the
    // other order: the deadlock victim is stored again, bounded.
    private async Task<BatchedSend[]> StoreWithRetryAsync(IReadOnlyList<Pending> batch)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StoreAsync(batch);
            }
            catch (PostgresException e) when (attempt < DeadlockAttempts && e.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure)
            {
                LogRetry(_logger, batch.Count, e.SqlState);
            }
        }
    }

    private async Task<BatchedSend[]> StoreAsync(IReadOnlyList<Pending> batch)
    {
        // Retries of one clientMessageId inside the batch go to the database once; the others follow it.
        var leaderOf = new int[batch.Count];
        var leaders = new List<int>(batch.Count);
        var firstByKey = new Dictionary<(Guid, Guid, string), int>();
        for (var i = 0; i < batch.Count; i++)
        {
            var p = batch[i];
            if (p.ClientMessageId is { } key && firstByKey.TryGetValue((p.ConversationId, p.SenderId, key), out var first))
            {
                leaderOf[i] = first;
                continue;
            }
            if (p.ClientMessageId is { } newKey) firstByKey[(p.ConversationId, p.SenderId, newKey)] = i;
            leaderOf[i] = i;
            leaders.Add(i);
        }

        // Ids are taken here, in queue order, so a conversation's messages commit in id order.
        var now = Clock.UtcNowMs(_time);
        var messages = new MessageRecord[batch.Count];
        foreach (var i in leaders)
        {
            var p = batch[i];
            messages[i] = new MessageRecord(Ids.NewId(now), p.ConversationId, p.SenderId, p.Body, now, p.ClientMessageId);
        }

        var states = new BatchedState[batch.Count];
        await using (var cmd = _db.Primary.CreateCommand(SendBatchSql))
        {
            cmd.Parameters.Add(new() { Value = leaders.Select(i => messages[i].Id).ToArray() });
            cmd.Parameters.Add(new() { Value = leaders.Select(i => batch[i].ConversationId).ToArray() });
            cmd.Parameters.Add(new() { Value = leaders.Select(i => batch[i].SenderId).ToArray() });
            cmd.Parameters.Add(new() { Value = leaders.Select(i => batch[i].Body).ToArray() });
            cmd.Parameters.Add(new() { Value = now });
            cmd.Parameters.Add(new()
            {
                Value = leaders.Select(i => (object?)batch[i].ClientMessageId ?? DBNull.Value).ToArray(),
                NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text,
            });
            // The reader is read to its end and closed before anyone is answered: the implicit
            // transaction commits before the server says it is ready again.
            await using var reader = await cmd.ExecuteReaderAsync(_stopping.Token);
            while (await reader.ReadAsync(_stopping.Token))
            {
                var leader = leaders[(int)reader.GetInt64(0) - 1];
                states[leader] = !reader.GetBoolean(1) ? BatchedState.NotMember
                    : reader.GetBoolean(2) ? BatchedState.Inserted
                    : BatchedState.Exists;
            }
        }

        var results = new BatchedSend[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            var leader = leaderOf[i];
            results[i] = (i == leader, states[leader]) switch
            {
                (true, BatchedState.Inserted) => new(BatchedState.Inserted, messages[i]),
                (false, BatchedState.Inserted) => new(BatchedState.Exists, messages[leader]),
                (_, var state) => new(state, null),
            };
        }
        return results;
    }

    private static void Complete(IReadOnlyList<Pending> batch, BatchedSend[] results)
    {
        for (var i = 0; i < batch.Count; i++) batch[i].Done.TrySetResult(results[i]);
    }

    // Data and constraint errors belong to a row; connection, timeout and shutdown errors to the batch.
    private static bool IsRowError(PostgresException e) => e.SqlState.StartsWith("22", StringComparison.Ordinal) || e.SqlState.StartsWith("23", StringComparison.Ordinal);

    public async ValueTask DisposeAsync()
    {
        foreach (var queue in _queues) queue.Writer.TryComplete();
        // Queued sends still commit; a database that does not answer is given up on after the timeout.
        _stopping.CancelAfter(_options.Timeout);
        await Task.WhenAll(_writers);
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "A send batch of {Count} failed with {SqlState} ({Reason}); storing its messages one by one")]
    private static partial void LogSplit(ILogger logger, int count, string sqlState, string reason);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Information, Message = "A send batch of {Count} hit {SqlState}; storing it again")]
    private static partial void LogRetry(ILogger logger, int count, string sqlState);

    private sealed class Pending(Guid conversationId, Guid senderId, string body, string? clientMessageId, CancellationToken requestAborted)
    {
        public Guid ConversationId { get; } = conversationId;

        public Guid SenderId { get; } = senderId;

        public string Body { get; } = body;

        public string? ClientMessageId { get; } = clientMessageId;

        public CancellationToken RequestAborted { get; } = requestAborted;

        public TaskCompletionSource<BatchedSend> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
