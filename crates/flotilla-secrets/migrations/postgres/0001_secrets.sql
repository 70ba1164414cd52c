-- Secrets Manager: secrets and their versions.
CREATE TABLE secrets (
    arn TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    name TEXT COLLATE "C" NOT NULL UNIQUE,
    description TEXT COLLATE "C",
    tags TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    last_changed_at BIGINT NOT NULL,
    deleted_at BIGINT,
    deletion_date BIGINT
);

CREATE TABLE secret_versions (
    secret_arn TEXT COLLATE "C" NOT NULL REFERENCES secrets(arn) ON DELETE CASCADE,
    version_id TEXT COLLATE "C" NOT NULL,
    secret_string TEXT COLLATE "C",
    secret_binary BYTEA,
    -- Comma-separated staging labels; a version without labels is removed.
    stages TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (secret_arn, version_id)
);
