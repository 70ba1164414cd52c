-- Registry metadata. Blob bytes live in files; these tables say which exist and who uses them.

CREATE TABLE repositories (
    name TEXT PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL,
    tag_mutability TEXT NOT NULL,
    scan_on_push BOOLEAN NOT NULL,
    encryption_type TEXT NOT NULL,
    tags TEXT NOT NULL,
    repository_policy TEXT,
    lifecycle_policy TEXT,
    lifecycle_evaluated_at BIGINT,
    version BIGINT NOT NULL
);

-- One row per blob file present under registry/blobs (content-addressed, shared).
CREATE TABLE blobs (
    digest TEXT PRIMARY KEY NOT NULL,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Which repositories may serve a blob (pushed or mounted there).
CREATE TABLE repository_blobs (
    repository TEXT NOT NULL,
    digest TEXT NOT NULL REFERENCES blobs(digest),
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (repository, digest)
);
CREATE INDEX repository_blobs_digest ON repository_blobs(digest);

CREATE TABLE manifests (
    repository TEXT NOT NULL,
    digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    artifact_type TEXT,
    subject TEXT,
    size BIGINT NOT NULL,
    image_size BIGINT NOT NULL,
    body BLOB NOT NULL,
    pushed_at BIGINT NOT NULL,
    PRIMARY KEY (repository, digest)
);
CREATE INDEX manifests_subject ON manifests(repository, subject);

-- What a manifest points at: blobs (config, layers) or other manifests (index entries).
CREATE TABLE manifest_refs (
    repository TEXT NOT NULL,
    manifest_digest TEXT NOT NULL,
    child_digest TEXT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (repository, manifest_digest, child_digest, kind)
);
CREATE INDEX manifest_refs_child ON manifest_refs(child_digest);

CREATE TABLE tags (
    repository TEXT NOT NULL,
    tag TEXT NOT NULL,
    digest TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (repository, tag)
);
CREATE INDEX tags_digest ON tags(repository, digest);

-- Blob uploads in progress; `committed` is the number of bytes durably in the upload file.
CREATE TABLE uploads (
    id TEXT PRIMARY KEY NOT NULL,
    repository TEXT NOT NULL,
    committed BIGINT NOT NULL,
    started_at BIGINT NOT NULL
);
