-- Systems Manager Parameter Store: parameters, their versions and their labels.
CREATE TABLE parameters (
    name TEXT PRIMARY KEY NOT NULL,
    -- The latest version; its row in parameter_versions holds the parameter's attributes.
    version INTEGER NOT NULL,
    -- [{"Key": .., "Value": ..}] as JSON.
    tags TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE parameter_versions (
    name TEXT NOT NULL REFERENCES parameters(name) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    type TEXT NOT NULL,
    -- String and StringList values in plain text; SecureString values sealed (flotilla-seal).
    value TEXT,
    sealed BLOB,
    key_id TEXT,
    description TEXT,
    allowed_pattern TEXT,
    tier TEXT NOT NULL,
    data_type TEXT NOT NULL,
    modified_at INTEGER NOT NULL,
    modified_user TEXT NOT NULL,
    PRIMARY KEY (name, version)
);

-- A label names one version of a parameter; moving it is an update.
CREATE TABLE parameter_labels (
    name TEXT NOT NULL REFERENCES parameters(name) ON DELETE CASCADE,
    label TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (name, label)
);
CREATE INDEX parameter_labels_by_version ON parameter_labels (name, version);
