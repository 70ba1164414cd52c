-- IAM's entities (users, groups, roles, managed policies, access keys): one JSON
-- document each, unique by kind and name. The whole set is small and read at once.
CREATE TABLE iam_entities (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);

-- Bumped by every change to iam_entities, so readers know when to read them again.
CREATE TABLE iam_revision (
    id       INTEGER PRIMARY KEY NOT NULL,
    revision BIGINT  NOT NULL
);
INSERT INTO iam_revision (id, revision) VALUES (1, 0);

-- STS sessions (temporary credentials), kept until they expire.
CREATE TABLE iam_sessions (
    access_key_id TEXT   PRIMARY KEY NOT NULL,
    expires_at    BIGINT NOT NULL,
    body          TEXT   NOT NULL
);
CREATE INDEX iam_sessions_by_expiry ON iam_sessions (expires_at);
