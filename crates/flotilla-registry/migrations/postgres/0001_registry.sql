-- Registry metadata. Blob bytes live in files; these tables say which exist and who uses them.

CREATE TABLE repositories (
    name TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL,
    tag_mutability TEXT COLLATE "C" NOT NULL,
    scan_on_push BIGINT NOT NULL,
    encryption_type TEXT COLLATE "C" NOT NULL,
    tags TEXT COLLATE "C" NOT NULL,
    repository_policy TEXT COLLATE "C",
    lifecycle_policy TEXT COLLATE "C",
    lifecycle_evaluated_at BIGINT,
    version BIGINT NOT NULL
);

-- One row per blob file present under registry/blobs (content-addressed, shared).
CREATE TABLE blobs (
    digest TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Which repositories may serve a blob (pushed or mounted there).
CREATE TABLE repository_blobs (
    repository TEXT COLLATE "C" NOT NULL,
    digest TEXT COLLATE "C" NOT NULL REFERENCES blobs(digest),
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (repository, digest)
);
CREATE INDEX repository_blobs_digest ON repository_blobs(digest);

CREATE TABLE manifests (
    repository TEXT COLLATE "C" NOT NULL,
    digest TEXT COLLATE "C" NOT NULL,
    media_type TEXT COLLATE "C" NOT NULL,
    artifact_type TEXT COLLATE "C",
    subject TEXT COLLATE "C",
    size BIGINT NOT NULL,
    image_size BIGINT NOT NULL,
    body BYTEA NOT NULL,
    pushed_at BIGINT NOT NULL,
    PRIMARY KEY (repository, digest)
);
CREATE INDEX manifests_subject ON manifests(repository, subject);

-- What a manifest points at: blobs (config, layers) or other manifests (index entries).
CREATE TABLE manifest_refs (
    repository TEXT COLLATE "C" NOT NULL,
    manifest_digest TEXT COLLATE "C" NOT NULL,
    child_digest TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (repository, manifest_digest, child_digest, kind)
);
CREATE INDEX manifest_refs_child ON manifest_refs(child_digest);

CREATE TABLE tags (
    repository TEXT COLLATE "C" NOT NULL,
    tag TEXT COLLATE "C" NOT NULL,
    digest TEXT COLLATE "C" NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (repository, tag)
);
CREATE INDEX tags_digest ON tags(repository, digest);

-- Blob uploads in progress; `committed` is the number of bytes durably in the upload file.
CREATE TABLE uploads (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    repository TEXT COLLATE "C" NOT NULL,
    committed BIGINT NOT NULL,
    started_at BIGINT NOT NULL
);
