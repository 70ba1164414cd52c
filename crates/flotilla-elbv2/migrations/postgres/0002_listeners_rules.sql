-- Listeners and rules: documents whose `name` is a unique key (a listener's load
-- balancer and port, a rule's listener and priority) under a `parent`.
ALTER TABLE load_balancers ADD COLUMN parent TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE target_groups ADD COLUMN parent TEXT COLLATE "C" NOT NULL DEFAULT '';

CREATE TABLE listeners (
    arn        TEXT COLLATE "C"    PRIMARY KEY NOT NULL,
    name       TEXT COLLATE "C"    NOT NULL UNIQUE,
    parent     TEXT COLLATE "C"    NOT NULL,
    created_at BIGINT NOT NULL,
    body       TEXT COLLATE "C"    NOT NULL,   -- JSON Listener
    version    BIGINT NOT NULL
);
CREATE INDEX listeners_by_parent ON listeners (parent, created_at);

CREATE TABLE rules (
    arn        TEXT COLLATE "C"    PRIMARY KEY NOT NULL,
    name       TEXT COLLATE "C"    NOT NULL UNIQUE,
    parent     TEXT COLLATE "C"    NOT NULL,
    created_at BIGINT NOT NULL,
    body       TEXT COLLATE "C"    NOT NULL,   -- JSON Rule
    version    BIGINT NOT NULL
);
CREATE INDEX rules_by_parent ON rules (parent, created_at);
