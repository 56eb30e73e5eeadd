using Npgsql;
using Parley.Data.Migrations;
using Parley.Data.Schema;

namespace Parley.Data.Tests.Chaos;

/// <summary>
/// Schema drift and corruption (seed 004, corruption): each case breaks a migrated database one way,
/// the doctor names the break with its repair, and running the repair makes the doctor report OK again.
/// </summary>
[Collection(ChaosPostgresCollection.Name)]
[Trait("Category", "Chaos")]
[Trait("Tier", "Smoke")]
[Trait("Kind", "corruption")]
public sealed class DoctorTests(ChaosPostgres server)
{
    /// <summary>Case → the statements that break the database ({group} is the database's name), and the finding expected.</summary>
    private static readonly Dictionary<string, (string[] Break, string Check, string Subject, string Problem)> Drift = new()
    {
        ["dropped index"] = (["DROP INDEX idx_messages_conversation_created"], "index", "idx_messages_conversation_created", "missing"),
        ["dropped partial index"] = (["DROP INDEX idx_outbox_undispatched"], "index", "idx_outbox_undispatched", "missing"),
        ["dropped unique index"] = (["DROP INDEX idx_messages_client_message_id"], "index", "idx_messages_client_message_id", "missing"),
        ["dropped gin index"] = (["DROP INDEX idx_search_documents_document"], "index", "idx_search_documents_document", "missing"),
        ["index on other columns"] = (["DROP INDEX idx_participants_user", "CREATE INDEX idx_participants_user ON participants (user_id)"],
            "index", "idx_participants_user", "expected CREATE INDEX idx_participants_user ON participants USING btree (user_id, conversation_id)"),
        ["index nobody defined"] = (["CREATE INDEX idx_stray ON messages (sender_id)"], "index", "idx_stray", "not defined by the migrations"),
        ["integer column widened"] = (["ALTER TABLE conversations ALTER COLUMN version TYPE bigint"], "column", "conversations.version", "is bigint; expected integer"),
        ["text column narrowed"] = (["ALTER TABLE users ALTER COLUMN handle TYPE varchar(64)"], "column", "users.handle", "is character varying(64); expected text"),
        ["time zone dropped"] = (["ALTER TABLE participants ALTER COLUMN joined_at TYPE timestamp"], "column", "participants.joined_at",
            "is timestamp without time zone; expected timestamp with time zone"),
        ["array column narrowed"] = (["ALTER TABLE observer_actions ALTER COLUMN retry_ms TYPE integer[]"], "column", "observer_actions.retry_ms", "expected bigint[]"),
        ["NOT NULL dropped"] = (["ALTER TABLE messages ALTER COLUMN body DROP NOT NULL"], "column", "messages.body", "is nullable; expected NOT NULL"),
        ["NOT NULL added"] = (["ALTER TABLE conversations ALTER COLUMN title SET NOT NULL"], "column", "conversations.title", "is NOT NULL; expected nullable"),
        ["default changed"] = (["ALTER TABLE feature_flags ALTER COLUMN percentage SET DEFAULT 50"], "column", "feature_flags.percentage", "defaults to 50; expected 100"),
        ["default dropped"] = (["ALTER TABLE outbox ALTER COLUMN attempts DROP DEFAULT"], "column", "outbox.attempts", "defaults to nothing; expected 0"),
        ["column dropped"] = (["ALTER TABLE users DROP COLUMN is_admin"], "column", "users.is_admin", "missing"),
        ["column dropped with its index"] = (["ALTER TABLE messages DROP COLUMN client_message_id"], "index", "idx_messages_client_message_id", "missing"),
        ["column nobody defined"] = (["ALTER TABLE users ADD COLUMN nickname text"], "column", "users.nickname", "not defined by the migrations"),
        ["check dropped"] = (["ALTER TABLE participants DROP CONSTRAINT participants_role_check"], "constraint", "participants.participants_role_check", "missing"),
        ["check widened"] = (["ALTER TABLE participants DROP CONSTRAINT participants_role_check",
            "ALTER TABLE participants ADD CONSTRAINT participants_role_check CHECK (role IN ('owner', 'member', 'guest'))"],
            "constraint", "participants.participants_role_check", "'guest'"),
        ["foreign key dropped"] = (["ALTER TABLE conversations DROP CONSTRAINT conversations_owner_id_fkey"], "constraint", "conversations.conversations_owner_id_fkey",
            "missing: FOREIGN KEY (owner_id) REFERENCES users(id)"),
        ["unique constraint dropped"] = (["ALTER TABLE users DROP CONSTRAINT users_handle_key"], "constraint", "users.users_handle_key", "missing: UNIQUE (handle)"),
        ["primary key dropped"] = (["ALTER TABLE outbox DROP CONSTRAINT outbox_pkey"], "constraint", "outbox.outbox_pkey", "missing: PRIMARY KEY (id)"),
        ["constraint nobody defined"] = (["ALTER TABLE messages ADD CONSTRAINT messages_body_short CHECK (length(body) < 10000)"],
            "constraint", "messages.messages_body_short", "not defined by the migrations"),
        ["autovacuum scale factor changed"] = (["ALTER TABLE messages SET (autovacuum_vacuum_scale_factor = 0.2)"],
            "autovacuum", "messages.autovacuum_vacuum_scale_factor", "is 0.2; expected 0.02"),
        ["autovacuum setting reset"] = (["ALTER TABLE outbox RESET (autovacuum_vacuum_cost_delay)"], "autovacuum", "outbox.autovacuum_vacuum_cost_delay", "is not set; expected 0"),
        ["autovacuum disabled"] = (["ALTER TABLE participants SET (autovacuum_enabled = false)"], "autovacuum", "participants.autovacuum_enabled", "is false; expected not set"),
        ["sequence narrowed"] = (["ALTER SEQUENCE outbox_id_seq AS integer"], "sequence", "outbox_id_seq", "is integer; expected bigint"),
        ["sequence near its limit"] = (["ALTER SEQUENCE dead_letters_id_seq AS integer", "SELECT setval('dead_letters_id_seq', 2000000000)"],
            "sequence", "dead_letters_id_seq", "has used 93% of its range (2000000000 of 2147483647)"),
        ["sequence dropped"] = (["DROP SEQUENCE observer_actions_id_seq CASCADE"], "sequence", "observer_actions_id_seq", "missing"),
        ["trigger left behind"] = ([
            "CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('parley_outbox', ''); RETURN NULL; END $$",
            "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()"],
            "trigger", "outbox.outbox_notify", "not defined by the migrations"),
        ["table dropped"] = (["DROP TABLE pending_admin_grants"], "table", "pending_admin_grants", "missing"),
        ["table with a sequence and a foreign key dropped"] = (["DROP TABLE observer_attempts"], "table", "observer_attempts", "missing"),
        ["table with a generated column dropped"] = (["DROP TABLE search_documents"], "table", "search_documents", "missing"),
        ["replication slot missing"] = ([Checkpoint, "CREATE PUBLICATION {group}_outbox FOR TABLE outbox WITH (publish = 'insert')"],
            "replication", "{group}", "the replication slot of observer group {group} is missing"),
        ["replication slot physical"] = ([Checkpoint, "SELECT pg_create_physical_replication_slot('{group}')",
            "CREATE PUBLICATION {group}_outbox FOR TABLE outbox WITH (publish = 'insert')"], "replication", "{group}", "expected logical pgoutput here"),
        ["publication missing"] = ([Checkpoint, Slot], "replication", "{group}_outbox", "has no publication"),
        ["publication without the outbox"] = ([Checkpoint, Slot, "CREATE PUBLICATION {group}_outbox FOR TABLE users WITH (publish = 'insert')"],
            "replication", "{group}_outbox", "does not publish the outbox table"),
        ["publication without inserts"] = ([Checkpoint, Slot, "CREATE PUBLICATION {group}_outbox FOR TABLE outbox WITH (publish = 'update')"],
            "replication", "{group}_outbox", "does not publish inserts"),
    };

    private const string Checkpoint = "INSERT INTO observer_checkpoints (observer, slot, lsn, term, updated_at) VALUES ('{group}', '{group}', '0/0', 1, now())";
    private const string Slot = "SELECT pg_create_logical_replication_slot('{group}', 'pgoutput')";

    public static TheoryData<string> DriftCases => new(Drift.Keys);

    [Theory]
    [MemberData(nameof(DriftCases))]
    public async Task A_drift_is_reported_with_statements_that_repair_it(string drift)
    {
        var (statements, check, subject, problem) = Drift[drift];
        await using var db = await server.CreateDatabaseAsync();
        foreach (var statement in statements)
            await db.ExecuteAsync(statement.Replace("{group}", db.Name, StringComparison.Ordinal));

        var report = await SchemaDoctor.CheckAsync(db.Source);
        Assert.False(report.Ok);
        subject = subject.Replace("{group}", db.Name, StringComparison.Ordinal);
        problem = problem.Replace("{group}", db.Name, StringComparison.Ordinal);
        Assert.Contains(report.Findings, f => f.Check == check && f.Subject == subject && f.Problem.Contains(problem, StringComparison.Ordinal));

        await RepairAsync(db, report);
        var after = await SchemaDoctor.CheckAsync(db.Source);
        Assert.True(after.Ok, string.Join("\n", after.Findings));
    }

    [Fact]
    public async Task A_freshly_migrated_database_is_OK_and_the_check_leaves_no_scratch_schema_behind()
    {
        await using var db = await server.CreateDatabaseAsync();
        var report = await SchemaDoctor.CheckAsync(db.Source);
        Assert.True(report.Ok, string.Join("\n", report.Findings));
        Assert.Equal((Migrator.LatestVersion, Migrator.LatestVersion, "public"), (report.Version, report.LatestVersion, report.Schema));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'parley_doctor_%'"));
    }

    [Fact]
    public async Task An_index_left_INVALID_by_a_failed_concurrent_build_is_reported_and_reindexed()
    {
        await using var db = await server.CreateDatabaseAsync();
        await db.ExecuteAsync("DROP INDEX idx_participants_user");
        // A writer's open transaction makes the concurrent build wait; its statement timeout ends the build half-way.
        await using (var writer = await db.Source.OpenConnectionAsync())
        await using (var tx = await writer.BeginTransactionAsync())
        {
            await using (var lockTable = new NpgsqlCommand("LOCK TABLE participants IN ROW EXCLUSIVE MODE", writer, tx))
                await lockTable.ExecuteNonQueryAsync();
            await using var builder = await db.Source.OpenConnectionAsync();
            await using var timeout = new NpgsqlCommand("SET statement_timeout = '300ms'", builder);
            await timeout.ExecuteNonQueryAsync();
            await using var build = new NpgsqlCommand("CREATE INDEX CONCURRENTLY idx_participants_user ON participants (user_id, conversation_id)", builder);
            var failed = await Assert.ThrowsAsync<PostgresException>(() => build.ExecuteNonQueryAsync());
            Assert.Equal(PostgresErrorCodes.QueryCanceled, failed.SqlState);
        }
        Assert.False(await db.ScalarAsync<bool>("SELECT indisvalid FROM pg_index WHERE indexrelid = 'idx_participants_user'::regclass"));

        var report = await SchemaDoctor.CheckAsync(db.Source);
        var finding = Assert.Single(report.Findings);
        Assert.Equal(("index", "idx_participants_user"), (finding.Check, finding.Subject));
        Assert.Contains("INVALID", finding.Problem, StringComparison.Ordinal);
        Assert.Equal(["REINDEX INDEX CONCURRENTLY idx_participants_user"], finding.Repair);

        await RepairAsync(db, report);
        Assert.True((await SchemaDoctor.CheckAsync(db.Source)).Ok);
    }

    [Fact]
    public async Task Pending_migrations_are_reported_and_the_schema_is_compared_with_its_own_version()
    {
        await using var db = await server.CreateDatabaseAsync(migrated: false);
        await Migrator.MigrateAsync(db.Source, Migrator.Known.Take(Migrator.LatestVersion - 1).ToList(), null, default);

        var report = await SchemaDoctor.CheckAsync(db.Source);
        var finding = Assert.Single(report.Findings);
        Assert.Equal("version", finding.Check);
        Assert.Equal(["parley migrate"], finding.Repair);
        Assert.Equal(Migrator.LatestVersion - 1, report.Version);
    }

    [Fact]
    public async Task An_unmigrated_database_and_a_newer_schema_are_reported_not_compared()
    {
        await using var db = await server.CreateDatabaseAsync(migrated: false);
        var empty = Assert.Single((await SchemaDoctor.CheckAsync(db.Source)).Findings);
        Assert.Equal(("version", "the database is not migrated"), (empty.Check, empty.Problem));

        await Migrator.MigrateAsync(db.Source);
        await db.ExecuteAsync("INSERT INTO schema_version (version, name) VALUES (999, 'from_the_future')");
        var newer = Assert.Single((await SchemaDoctor.CheckAsync(db.Source)).Findings);
        Assert.Contains("version 999, newer than this build knows", newer.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_table_the_migrations_do_not_define_is_not_reported()
    {
        await using var db = await server.CreateDatabaseAsync();
        await db.ExecuteAsync("CREATE TABLE orders (id bigserial PRIMARY KEY, note text)");
        var report = await SchemaDoctor.CheckAsync(db.Source);
        Assert.True(report.Ok, string.Join("\n", report.Findings));
    }

    [Fact]
    public async Task An_observer_group_reading_only_tables_needs_no_outbox_publication()
    {
        await using var db = await server.CreateDatabaseAsync();
        foreach (var statement in new[] { Checkpoint, Slot, "CREATE PUBLICATION {group}_tables FOR TABLE feature_flags" })
            await db.ExecuteAsync(statement.Replace("{group}", db.Name, StringComparison.Ordinal));
        var report = await SchemaDoctor.CheckAsync(db.Source);
        Assert.True(report.Ok, string.Join("\n", report.Findings));
    }

    [Fact]
    public async Task A_database_migrated_into_its_own_schema_is_checked_there()
    {
        await using var db = await server.CreateDatabaseAsync(migrated: false);
        await db.ExecuteAsync("CREATE SCHEMA app");
        await using var app = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(db.ConnectionString) { SearchPath = "app" }.ConnectionString);
        await Migrator.MigrateAsync(app);
        var clean = await SchemaDoctor.CheckAsync(app);
        Assert.True(clean.Ok, string.Join("\n", clean.Findings));
        Assert.Equal("app", clean.Schema);

        await using (var drop = app.CreateCommand("DROP INDEX idx_outbox_undispatched"))
            await drop.ExecuteNonQueryAsync();
        var finding = Assert.Single((await SchemaDoctor.CheckAsync(app)).Findings);
        Assert.Equal(("index", "idx_outbox_undispatched", "missing"), (finding.Check, finding.Subject, finding.Problem));
    }

    /// <summary>Runs every repair statement one by one, as an operator would paste them.</summary>
    private static async Task RepairAsync(TestDatabase db, DoctorReport report)
    {
        foreach (var statement in report.Findings.SelectMany(f => f.Repair))
            await db.ExecuteAsync(statement);
    }
}
