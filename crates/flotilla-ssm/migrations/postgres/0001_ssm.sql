-- Systems Manager Parameter Store: parameters, their versions and their labels.
CREATE TABLE parameters (
    name TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    -- The latest version; its row in parameter_versions holds the parameter's attributes.
    version BIGINT NOT NULL,
    -- [{"Key": .., "Value": ..}] as JSON.
    tags TEXT COLLATE "C" NOT NULL DEFAULT '[]'
);

CREATE TABLE parameter_versions (
    name TEXT COLLATE "C" NOT NULL REFERENCES parameters(name) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    type TEXT COLLATE "C" NOT NULL,
    -- String and StringList values in plain text; SecureString values sealed (flotilla-seal).
    value TEXT COLLATE "C",
    sealed BYTEA,
    key_id TEXT COLLATE "C",
    description TEXT COLLATE "C",
    allowed_pattern TEXT COLLATE "C",
    tier TEXT COLLATE "C" NOT NULL,
    data_type TEXT COLLATE "C" NOT NULL,
    modified_at BIGINT NOT NULL,
    modified_user TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (name, version)
);

-- A label names one version of a parameter; moving it is an update.
CREATE TABLE parameter_labels (
    name TEXT COLLATE "C" NOT NULL REFERENCES parameters(name) ON DELETE CASCADE,
    label TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (name, label)
);
CREATE INDEX parameter_labels_by_version ON parameter_labels (name, version);
