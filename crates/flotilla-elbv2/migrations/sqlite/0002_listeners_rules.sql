-- Listeners and rules: documents whose `name` is a unique key (a listener's load
-- balancer and port, a rule's listener and priority) under a `parent`.
ALTER TABLE load_balancers ADD COLUMN parent TEXT NOT NULL DEFAULT '';
ALTER TABLE target_groups ADD COLUMN parent TEXT NOT NULL DEFAULT '';

CREATE TABLE listeners (
    arn        TEXT    PRIMARY KEY NOT NULL,
    name       TEXT    NOT NULL UNIQUE,
    parent     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    body       TEXT    NOT NULL,   -- JSON Listener
    version    INTEGER NOT NULL
);
CREATE INDEX listeners_by_parent ON listeners (parent, created_at);

CREATE TABLE rules (
    arn        TEXT    PRIMARY KEY NOT NULL,
    name       TEXT    NOT NULL UNIQUE,
    parent     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    body       TEXT    NOT NULL,   -- JSON Rule
    version    INTEGER NOT NULL
);
CREATE INDEX rules_by_parent ON rules (parent, created_at);
