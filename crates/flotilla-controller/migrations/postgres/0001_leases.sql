-- Leases: at most one holder per controller at a time, taken over after expiry.
CREATE TABLE flotilla_leases (
    name       TEXT COLLATE "C"   PRIMARY KEY NOT NULL,
    holder     TEXT COLLATE "C"   NOT NULL,
    expires_at BIGINT NOT NULL,   -- epoch milliseconds
    token      BIGINT NOT NULL    -- bumped on every take and renewal
);
