-- Secrets Manager: secrets and their versions.
CREATE TABLE secrets (
    arn TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    last_changed_at INTEGER NOT NULL,
    deleted_at INTEGER,
    deletion_date INTEGER
);

CREATE TABLE secret_versions (
    secret_arn TEXT NOT NULL REFERENCES secrets(arn) ON DELETE CASCADE,
    version_id TEXT NOT NULL,
    secret_string TEXT,
    secret_binary BLOB,
    -- Comma-separated staging labels; a version without labels is removed.
    stages TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (secret_arn, version_id)
);
