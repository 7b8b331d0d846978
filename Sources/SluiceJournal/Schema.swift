import GRDB

/// The journal's schema, as versioned migrations. A migration is never edited once released; a change is a
/// new migration.
enum JournalSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE entries (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    correlation_id TEXT NOT NULL UNIQUE,
                    delivery_key TEXT UNIQUE,
                    source TEXT NOT NULL,
                    bucket TEXT NOT NULL,
                    object_key TEXT NOT NULL,
                    size INTEGER,
                    etag TEXT,
                    version_id TEXT,
                    sequencer TEXT,
                    event_time TEXT,
                    event_id TEXT,
                    domain TEXT NOT NULL,
                    table_name TEXT NOT NULL,
                    partition TEXT NOT NULL,
                    target_database TEXT NOT NULL,
                    target_table TEXT NOT NULL,
                    priority INTEGER NOT NULL,
                    state TEXT NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    received_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    next_attempt_at INTEGER,
                    last_error_code TEXT,
                    last_error_message TEXT,
                    rows_loaded INTEGER,
                    bytes_loaded INTEGER,
                    payload TEXT NOT NULL
                );
                CREATE INDEX entries_ready ON entries(priority, id) WHERE state IN ('queued', 'retrying');
                CREATE INDEX entries_state ON entries(state, domain);
                CREATE INDEX entries_updated ON entries(updated_at);
                CREATE TABLE history (
                    entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
                    at INTEGER NOT NULL,
                    from_state TEXT,
                    to_state TEXT NOT NULL,
                    event TEXT NOT NULL,
                    code TEXT,
                    message TEXT
                );
                CREATE INDEX history_entry ON history(entry_id);
                CREATE TABLE dead_letters (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    entry_id INTEGER REFERENCES entries(id) ON DELETE SET NULL,
                    correlation_id TEXT NOT NULL,
                    code TEXT NOT NULL,
                    category TEXT NOT NULL,
                    message TEXT NOT NULL,
                    field TEXT,
                    source TEXT,
                    domain TEXT,
                    table_name TEXT,
                    payload TEXT,
                    created_at INTEGER NOT NULL,
                    replayed_at INTEGER
                );
                CREATE INDEX dead_letters_entry ON dead_letters(entry_id);
                CREATE INDEX dead_letters_created ON dead_letters(created_at);
                """)
        }
        migrator.registerMigration("v2-loads-and-ledger") { db in
            try db.execute(sql: """
                ALTER TABLE entries ADD COLUMN load_id TEXT;
                ALTER TABLE entries ADD COLUMN object_version TEXT;
                CREATE INDEX entries_load ON entries(load_id) WHERE load_id IS NOT NULL;
                CREATE TABLE loads (
                    load_id TEXT PRIMARY KEY,
                    target_database TEXT NOT NULL,
                    target_table TEXT NOT NULL,
                    state TEXT NOT NULL,
                    progress BLOB,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL
                );
                CREATE TABLE ledger (
                    bucket TEXT NOT NULL,
                    object_key TEXT NOT NULL,
                    version TEXT NOT NULL,
                    target_database TEXT NOT NULL,
                    target_table TEXT NOT NULL,
                    rows INTEGER NOT NULL,
                    bytes INTEGER NOT NULL,
                    load_id TEXT NOT NULL,
                    correlation_id TEXT NOT NULL,
                    loaded_at INTEGER NOT NULL,
                    PRIMARY KEY (bucket, object_key, version)
                );
                CREATE INDEX ledger_loaded ON ledger(loaded_at);
                """)
        }
        migrator.registerMigration("v3-final-backoff") { db in
            // A failure that used up its attempts waits out its last backoff in `retrying`, then is
            // dead-lettered without another attempt (the seed's retry table: 3 attempts, 2 s/4 s/8 s, ~14 s).
            try db.execute(sql: "ALTER TABLE entries ADD COLUMN dead_letter_when_due INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v4-failures") { db in
            // Failed attempts, which the retry policy counts (claims interrupted by a restart do not count).
            try db.execute(sql: "ALTER TABLE entries ADD COLUMN failures INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v5-leaner-intake") { db in
            // Every index costs each intake insert; the retention purge scans instead.
            try db.execute(sql: "DROP INDEX IF EXISTS entries_updated")
        }
        migrator.registerMigration("v6-redelivered") { db in
            // An SQS message that another consumer had received before (ApproximateReceiveCount > 1): before loading
            // it, the loader looks for the version's rows in the target (lineage columns).
            try db.execute(sql: "ALTER TABLE entries ADD COLUMN redelivered INTEGER NOT NULL DEFAULT 0")
        }
        return migrator
    }
}
