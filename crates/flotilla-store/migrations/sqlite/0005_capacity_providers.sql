-- Capacity providers backed by Auto Scaling groups: one document per name; a name
-- freed by an INACTIVE (deleted) provider can be used again.
CREATE TABLE capacity_providers (
    name    TEXT    PRIMARY KEY NOT NULL,
    status  TEXT    NOT NULL,
    body    TEXT    NOT NULL,   -- JSON CapacityProvider
    version INTEGER NOT NULL
);
