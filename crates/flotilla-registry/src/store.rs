//! Registry metadata: the [`RegistryStore`] trait and its SQLite implementation.
//!
//! The store knows which blobs exist and which repositories may serve them, the
//! manifests and tags of each repository, repositories' settings, and uploads in
//! progress. Every multi-statement change is one `BEGIN IMMEDIATE` transaction, and the
//! checks a change depends on (referenced blobs present, tag not immutable) are made
//! inside it, so concurrent writers cannot invalidate them.

use crate::error::{Doing, RegistryError, Result};
use async_trait::async_trait;
use flotilla_domain::Timestamp;
use flotilla_domain::tag::Tag;
use flotilla_store::durable_sqlite_options;
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{Row, Sqlite, Transaction};
use std::path::Path;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A repository and its settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RepositoryRecord {
    pub name: String,
    pub created_at: Timestamp,
    /// `MUTABLE` or `IMMUTABLE`.
    pub tag_mutability: String,
    pub scan_on_push: bool,
    pub encryption_type: String,
    pub tags: Vec<Tag>,
    pub repository_policy: Option<String>,
    pub lifecycle_policy: Option<String>,
    pub lifecycle_evaluated_at: Option<Timestamp>,
    pub version: i64,
}

impl RepositoryRecord {
    pub fn immutable_tags(&self) -> bool {
        self.tag_mutability.starts_with("IMMUTABLE")
    }
}

/// A stored manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestRecord {
    pub repository: String,
    pub digest: String,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub subject: Option<String>,
    pub size: i64,
    /// The sum of the sizes of the blobs the manifest references.
    pub image_size: i64,
    pub body: Vec<u8>,
    pub pushed_at: Timestamp,
}

/// What a manifest refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// A blob (config or layer) with its declared size.
    Blob { digest: String, size: i64 },
    /// Another manifest (an index entry).
    Manifest { digest: String },
}

/// A manifest with its tags, without its body.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRow {
    pub digest: String,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub subject: Option<String>,
    pub size: i64,
    pub image_size: i64,
    pub pushed_at: Timestamp,
    pub tags: Vec<String>,
}

/// The outcome of storing a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutManifest {
    /// Stored (or already present) and the tag, if any, now points at it.
    Stored {
        created: bool,
        tag_moved: bool,
    },
    RepositoryNotFound,
    /// Referenced blobs or manifests that the repository does not have.
    MissingReferences(Vec<String>),
    /// A referenced blob whose size differs from the manifest's descriptor.
    SizeMismatch {
        digest: String,
        declared: i64,
        actual: i64,
    },
    /// The repository's tags are immutable and the tag points at another manifest.
    TagImmutable,
}

/// The outcome of deleting a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteManifest {
    Deleted {
        tags: Vec<String>,
    },
    NotFound,
    /// An index in the repository still lists it.
    ReferencedByIndex,
}

/// An upload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    pub id: String,
    pub repository: String,
    /// Bytes durably written to the upload file.
    pub committed: i64,
    pub started_at: Timestamp,
}

/// The outcome of deleting a repository.
#[derive(Debug, Clone, PartialEq)]
pub enum DeleteRepository {
    Deleted(RepositoryRecord),
    NotFound,
    NotEmpty,
}

/// The registry's durable metadata.
#[async_trait]
pub trait RegistryStore: Send + Sync + 'static {
    /// Creates a repository; `false` when one of that name exists.
    async fn create_repository(&self, repository: &RepositoryRecord) -> Result<bool>;
    async fn repository(&self, name: &str) -> Result<Option<RepositoryRecord>>;
    /// Repositories by name after `after`, at most `limit`.
    async fn list_repositories(&self, after: Option<&str>, limit: i64) -> Result<Vec<RepositoryRecord>>;
    /// Replaces a repository's settings if its version is still `repository.version`;
    /// `false` on a stale version or a vanished repository.
    async fn update_repository(&self, repository: &RepositoryRecord) -> Result<bool>;
    /// Deletes a repository; with `force` also its images, otherwise only when empty.
    async fn delete_repository(&self, name: &str, force: bool) -> Result<DeleteRepository>;

    /// The size of a blob the repository may serve.
    async fn repository_blob(&self, repository: &str, digest: &str) -> Result<Option<i64>>;
    /// The size of a blob present in the registry, whatever the repository.
    async fn blob(&self, digest: &str) -> Result<Option<i64>>;
    /// Records that a blob file exists and that `repository` may serve it.
    async fn link_blob(&self, repository: &str, digest: &str, size: i64, now: Timestamp) -> Result<()>;
    /// Removes a repository's link to a blob; `false` when there was none.
    async fn unlink_blob(&self, repository: &str, digest: &str) -> Result<bool>;

    async fn create_upload(&self, upload: &UploadRecord) -> Result<()>;
    async fn upload(&self, id: &str) -> Result<Option<UploadRecord>>;
    async fn set_upload_committed(&self, id: &str, committed: i64) -> Result<()>;
    async fn delete_upload(&self, id: &str) -> Result<bool>;
    async fn uploads(&self) -> Result<Vec<UploadRecord>>;

    /// Stores a manifest and moves `tag` to it, checking references and tag
    /// immutability in the same transaction.
    async fn put_manifest(
        &self,
        manifest: &ManifestRecord,
        refs: &[Reference],
        tag: Option<&str>,
    ) -> Result<PutManifest>;
    async fn manifest(&self, repository: &str, digest: &str) -> Result<Option<ManifestRecord>>;
    async fn resolve_tag(&self, repository: &str, tag: &str) -> Result<Option<String>>;
    async fn delete_manifest(&self, repository: &str, digest: &str) -> Result<DeleteManifest>;
    /// Removes a tag; `false` when there was none.
    async fn delete_tag(&self, repository: &str, tag: &str) -> Result<bool>;
    /// Tags in lexical order after `last`, at most `limit` (`None`: all).
    async fn list_tags(&self, repository: &str, last: Option<&str>, limit: Option<i64>) -> Result<Vec<String>>;
    /// Manifests of the repository whose subject is `digest`.
    async fn referrers(&self, repository: &str, digest: &str) -> Result<Vec<ImageRow>>;
    /// Every manifest of a repository with its tags, newest first.
    async fn images(&self, repository: &str) -> Result<Vec<ImageRow>>;

    /// Blobs no manifest references whose newest link is older than `cutoff`: deletes
    /// their rows and links and returns their digests (the caller removes the files).
    async fn collect_garbage(&self, cutoff: Timestamp) -> Result<Vec<String>>;

    /// Flushes and closes the store (for a clean shutdown).
    async fn close(&self) {}
}

/// A [`RegistryStore`] in one SQLite file.
#[derive(Clone)]
pub struct SqliteRegistryStore {
    pool: SqlitePool,
}

impl SqliteRegistryStore {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        let display = path.display().to_string();
        let options = durable_sqlite_options(path).doing(format!("reading the database path {display}"))?;
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .doing(format!("opening the registry database {display}"))?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// Fills in the tags of `images` (kept out of the image query for portability).
    async fn with_tags(&self, repository: &str, mut images: Vec<ImageRow>) -> Result<Vec<ImageRow>> {
        let rows = sqlx::query("SELECT digest, tag FROM tags WHERE repository = ? ORDER BY tag")
            .bind(repository)
            .fetch_all(&self.pool)
            .await
            .doing(format!("reading the tags of repository {repository}"))?;
        let mut by_digest: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
        for row in &rows {
            by_digest.entry(row.get("digest")).or_default().push(row.get("tag"));
        }
        for image in &mut images {
            image.tags = by_digest.remove(&image.digest).unwrap_or_default();
        }
        Ok(images)
    }

    async fn write(&self) -> Result<Transaction<'static, Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.doing("starting a registry write transaction")
    }
}

fn repository_from_row(row: &SqliteRow) -> Result<RepositoryRecord> {
    let name: String = row.get("name");
    let tags: String = row.get("tags");
    let tags: Vec<(String, String)> = serde_json::from_str(&tags)
        .map_err(|e| RegistryError::Corrupt { what: format!("tags of repository {name}"), reason: e.to_string() })?;
    Ok(RepositoryRecord {
        created_at: Timestamp(row.get("created_at")),
        tag_mutability: row.get("tag_mutability"),
        scan_on_push: row.get("scan_on_push"),
        encryption_type: row.get("encryption_type"),
        tags: tags.into_iter().map(|(key, value)| Tag { key, value }).collect(),
        repository_policy: row.get("repository_policy"),
        lifecycle_policy: row.get("lifecycle_policy"),
        lifecycle_evaluated_at: row.get::<Option<i64>, _>("lifecycle_evaluated_at").map(Timestamp),
        version: row.get("version"),
        name,
    })
}

fn tags_json(tags: &[Tag]) -> String {
    let pairs: Vec<(&str, &str)> = tags.iter().map(|t| (t.key.as_str(), t.value.as_str())).collect();
    serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into())
}

fn manifest_from_row(row: &SqliteRow) -> ManifestRecord {
    ManifestRecord {
        repository: row.get("repository"),
        digest: row.get("digest"),
        media_type: row.get("media_type"),
        artifact_type: row.get("artifact_type"),
        subject: row.get("subject"),
        size: row.get("size"),
        image_size: row.get("image_size"),
        body: row.get("body"),
        pushed_at: Timestamp(row.get("pushed_at")),
    }
}

const IMAGE_COLUMNS: &str = "m.digest, m.media_type, m.artifact_type, m.subject, m.size, m.image_size, m.pushed_at";

fn image_from_row(row: &SqliteRow) -> ImageRow {
    ImageRow {
        digest: row.get("digest"),
        media_type: row.get("media_type"),
        artifact_type: row.get("artifact_type"),
        subject: row.get("subject"),
        size: row.get("size"),
        image_size: row.get("image_size"),
        pushed_at: Timestamp(row.get("pushed_at")),
        tags: Vec::new(),
    }
}

fn upload_from_row(row: &SqliteRow) -> UploadRecord {
    UploadRecord {
        id: row.get("id"),
        repository: row.get("repository"),
        committed: row.get("committed"),
        started_at: Timestamp(row.get("started_at")),
    }
}

#[async_trait]
impl RegistryStore for SqliteRegistryStore {
    async fn create_repository(&self, r: &RepositoryRecord) -> Result<bool> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "INSERT INTO repositories (name, created_at, tag_mutability, scan_on_push, encryption_type, tags, \
             repository_policy, lifecycle_policy, lifecycle_evaluated_at, version) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&r.name)
        .bind(r.created_at.0)
        .bind(&r.tag_mutability)
        .bind(r.scan_on_push)
        .bind(&r.encryption_type)
        .bind(tags_json(&r.tags))
        .bind(&r.repository_policy)
        .bind(&r.lifecycle_policy)
        .bind(r.lifecycle_evaluated_at.map(|t| t.0))
        .execute(&mut *tx)
        .await
        .doing(format!("creating repository {}", r.name))?;
        tx.commit().await.doing(format!("committing repository {}", r.name))?;
        Ok(done.rows_affected() == 1)
    }

    async fn repository(&self, name: &str) -> Result<Option<RepositoryRecord>> {
        let row = sqlx::query("SELECT * FROM repositories WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .doing(format!("reading repository {name}"))?;
        row.as_ref().map(repository_from_row).transpose()
    }

    async fn list_repositories(&self, after: Option<&str>, limit: i64) -> Result<Vec<RepositoryRecord>> {
        let rows = sqlx::query("SELECT * FROM repositories WHERE name > ? ORDER BY name LIMIT ?")
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .doing("listing repositories")?;
        rows.iter().map(repository_from_row).collect()
    }

    async fn update_repository(&self, r: &RepositoryRecord) -> Result<bool> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE repositories SET tag_mutability = ?, scan_on_push = ?, encryption_type = ?, tags = ?, \
             repository_policy = ?, lifecycle_policy = ?, lifecycle_evaluated_at = ?, version = version + 1 \
             WHERE name = ? AND version = ?",
        )
        .bind(&r.tag_mutability)
        .bind(r.scan_on_push)
        .bind(&r.encryption_type)
        .bind(tags_json(&r.tags))
        .bind(&r.repository_policy)
        .bind(&r.lifecycle_policy)
        .bind(r.lifecycle_evaluated_at.map(|t| t.0))
        .bind(&r.name)
        .bind(r.version)
        .execute(&mut *tx)
        .await
        .doing(format!("updating repository {}", r.name))?;
        tx.commit().await.doing(format!("committing repository {}", r.name))?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_repository(&self, name: &str, force: bool) -> Result<DeleteRepository> {
        let mut tx = self.write().await?;
        let doing = || format!("deleting repository {name}");
        let Some(row) = sqlx::query("SELECT * FROM repositories WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .doing(doing())?
        else {
            return Ok(DeleteRepository::NotFound);
        };
        let record = repository_from_row(&row)?;
        let images: i64 = sqlx::query_scalar("SELECT count(*) FROM manifests WHERE repository = ?")
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .doing(doing())?;
        if images > 0 && !force {
            return Ok(DeleteRepository::NotEmpty);
        }
        for table in ["tags", "manifest_refs", "manifests", "repository_blobs", "uploads", "repositories"] {
            let column = if table == "repositories" { "name" } else { "repository" };
            sqlx::query(&format!("DELETE FROM {table} WHERE {column} = ?"))
                .bind(name)
                .execute(&mut *tx)
                .await
                .doing(doing())?;
        }
        tx.commit().await.doing(doing())?;
        Ok(DeleteRepository::Deleted(record))
    }

    async fn repository_blob(&self, repository: &str, digest: &str) -> Result<Option<i64>> {
        sqlx::query_scalar(
            "SELECT b.size FROM repository_blobs l JOIN blobs b ON b.digest = l.digest \
             WHERE l.repository = ? AND l.digest = ?",
        )
        .bind(repository)
        .bind(digest)
        .fetch_optional(&self.pool)
        .await
        .doing(format!("looking up blob {digest} in repository {repository}"))
    }

    async fn blob(&self, digest: &str) -> Result<Option<i64>> {
        sqlx::query_scalar("SELECT size FROM blobs WHERE digest = ?")
            .bind(digest)
            .fetch_optional(&self.pool)
            .await
            .doing(format!("looking up blob {digest}"))
    }

    async fn link_blob(&self, repository: &str, digest: &str, size: i64, now: Timestamp) -> Result<()> {
        let doing = || format!("linking blob {digest} to repository {repository}");
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING")
            .bind(digest)
            .bind(size)
            .bind(now.0)
            .execute(&mut *tx)
            .await
            .doing(doing())?;
        sqlx::query(
            "INSERT INTO repository_blobs (repository, digest, linked_at) VALUES (?, ?, ?) \
             ON CONFLICT (repository, digest) DO UPDATE SET linked_at = excluded.linked_at",
        )
        .bind(repository)
        .bind(digest)
        .bind(now.0)
        .execute(&mut *tx)
        .await
        .doing(doing())?;
        tx.commit().await.doing(doing())
    }

    async fn unlink_blob(&self, repository: &str, digest: &str) -> Result<bool> {
        let doing = || format!("unlinking blob {digest} from repository {repository}");
        let mut tx = self.write().await?;
        let done = sqlx::query("DELETE FROM repository_blobs WHERE repository = ? AND digest = ?")
            .bind(repository)
            .bind(digest)
            .execute(&mut *tx)
            .await
            .doing(doing())?;
        tx.commit().await.doing(doing())?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_upload(&self, u: &UploadRecord) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO uploads (id, repository, committed, started_at) VALUES (?, ?, ?, ?)")
            .bind(&u.id)
            .bind(&u.repository)
            .bind(u.committed)
            .bind(u.started_at.0)
            .execute(&mut *tx)
            .await
            .doing(format!("recording upload {}", u.id))?;
        tx.commit().await.doing(format!("recording upload {}", u.id))
    }

    async fn upload(&self, id: &str) -> Result<Option<UploadRecord>> {
        let row = sqlx::query("SELECT * FROM uploads WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .doing(format!("reading upload {id}"))?;
        Ok(row.as_ref().map(upload_from_row))
    }

    async fn set_upload_committed(&self, id: &str, committed: i64) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE uploads SET committed = ? WHERE id = ?")
            .bind(committed)
            .bind(id)
            .execute(&mut *tx)
            .await
            .doing(format!("recording the progress of upload {id}"))?;
        tx.commit().await.doing(format!("recording the progress of upload {id}"))
    }

    async fn delete_upload(&self, id: &str) -> Result<bool> {
        let mut tx = self.write().await?;
        let done = sqlx::query("DELETE FROM uploads WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .doing(format!("deleting upload {id}"))?;
        tx.commit().await.doing(format!("deleting upload {id}"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn uploads(&self) -> Result<Vec<UploadRecord>> {
        let rows = sqlx::query("SELECT * FROM uploads").fetch_all(&self.pool).await.doing("listing uploads")?;
        Ok(rows.iter().map(upload_from_row).collect())
    }

    async fn put_manifest(&self, m: &ManifestRecord, refs: &[Reference], tag: Option<&str>) -> Result<PutManifest> {
        let doing = || format!("storing manifest {} in repository {}", m.digest, m.repository);
        let mut tx = self.write().await?;
        let mutability: Option<String> = sqlx::query_scalar("SELECT tag_mutability FROM repositories WHERE name = ?")
            .bind(&m.repository)
            .fetch_optional(&mut *tx)
            .await
            .doing(doing())?;
        let Some(mutability) = mutability else { return Ok(PutManifest::RepositoryNotFound) };
        let mut missing = Vec::new();
        for r in refs {
            match r {
                Reference::Blob { digest, size } => {
                    let actual: Option<i64> = sqlx::query_scalar(
                        "SELECT b.size FROM repository_blobs l JOIN blobs b ON b.digest = l.digest \
                         WHERE l.repository = ? AND l.digest = ?",
                    )
                    .bind(&m.repository)
                    .bind(digest)
                    .fetch_optional(&mut *tx)
                    .await
                    .doing(doing())?;
                    match actual {
                        None => missing.push(digest.clone()),
                        Some(actual) if actual != *size => {
                            return Ok(PutManifest::SizeMismatch { digest: digest.clone(), declared: *size, actual });
                        }
                        Some(_) => {}
                    }
                }
                Reference::Manifest { digest } => {
                    let found: Option<i64> =
                        sqlx::query_scalar("SELECT 1 FROM manifests WHERE repository = ? AND digest = ?")
                            .bind(&m.repository)
                            .bind(digest)
                            .fetch_optional(&mut *tx)
                            .await
                            .doing(doing())?;
                    if found.is_none() {
                        missing.push(digest.clone());
                    }
                }
            }
        }
        if !missing.is_empty() {
            return Ok(PutManifest::MissingReferences(missing));
        }
        let mut tag_moved = false;
        if let Some(tag) = tag {
            let current: Option<String> =
                sqlx::query_scalar("SELECT digest FROM tags WHERE repository = ? AND tag = ?")
                    .bind(&m.repository)
                    .bind(tag)
                    .fetch_optional(&mut *tx)
                    .await
                    .doing(doing())?;
            if current.as_deref().is_some_and(|c| c != m.digest) && mutability.starts_with("IMMUTABLE") {
                return Ok(PutManifest::TagImmutable);
            }
            tag_moved = current.as_deref() != Some(m.digest.as_str());
        }
        let created = sqlx::query(
            "INSERT INTO manifests (repository, digest, media_type, artifact_type, subject, size, image_size, body, \
             pushed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repository, digest) DO NOTHING",
        )
        .bind(&m.repository)
        .bind(&m.digest)
        .bind(&m.media_type)
        .bind(&m.artifact_type)
        .bind(&m.subject)
        .bind(m.size)
        .bind(m.image_size)
        .bind(&m.body)
        .bind(m.pushed_at.0)
        .execute(&mut *tx)
        .await
        .doing(doing())?
        .rows_affected()
            == 1;
        if created {
            for r in refs {
                let (child, kind) = match r {
                    Reference::Blob { digest, .. } => (digest, "blob"),
                    Reference::Manifest { digest } => (digest, "manifest"),
                };
                sqlx::query(
                    "INSERT INTO manifest_refs (repository, manifest_digest, child_digest, kind) VALUES (?, ?, ?, ?) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(&m.repository)
                .bind(&m.digest)
                .bind(child)
                .bind(kind)
                .execute(&mut *tx)
                .await
                .doing(doing())?;
            }
        }
        if let Some(tag) = tag.filter(|_| tag_moved) {
            sqlx::query("DELETE FROM tags WHERE repository = ? AND tag = ?")
                .bind(&m.repository)
                .bind(tag)
                .execute(&mut *tx)
                .await
                .doing(doing())?;
            sqlx::query("INSERT INTO tags (repository, tag, digest, updated_at) VALUES (?, ?, ?, ?)")
                .bind(&m.repository)
                .bind(tag)
                .bind(&m.digest)
                .bind(m.pushed_at.0)
                .execute(&mut *tx)
                .await
                .doing(doing())?;
        }
        tx.commit().await.doing(doing())?;
        Ok(PutManifest::Stored { created, tag_moved })
    }

    async fn manifest(&self, repository: &str, digest: &str) -> Result<Option<ManifestRecord>> {
        let row = sqlx::query("SELECT * FROM manifests WHERE repository = ? AND digest = ?")
            .bind(repository)
            .bind(digest)
            .fetch_optional(&self.pool)
            .await
            .doing(format!("reading manifest {digest} of repository {repository}"))?;
        Ok(row.as_ref().map(manifest_from_row))
    }

    async fn resolve_tag(&self, repository: &str, tag: &str) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT digest FROM tags WHERE repository = ? AND tag = ?")
            .bind(repository)
            .bind(tag)
            .fetch_optional(&self.pool)
            .await
            .doing(format!("resolving tag {tag} of repository {repository}"))
    }

    async fn delete_manifest(&self, repository: &str, digest: &str) -> Result<DeleteManifest> {
        let doing = || format!("deleting manifest {digest} of repository {repository}");
        let mut tx = self.write().await?;
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM manifests WHERE repository = ? AND digest = ?")
            .bind(repository)
            .bind(digest)
            .fetch_optional(&mut *tx)
            .await
            .doing(doing())?;
        if found.is_none() {
            return Ok(DeleteManifest::NotFound);
        }
        let parents: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM manifest_refs WHERE repository = ? AND child_digest = ? AND kind = 'manifest'",
        )
        .bind(repository)
        .bind(digest)
        .fetch_one(&mut *tx)
        .await
        .doing(doing())?;
        if parents > 0 {
            return Ok(DeleteManifest::ReferencedByIndex);
        }
        let mut tags: Vec<String> =
            sqlx::query_scalar("SELECT tag FROM tags WHERE repository = ? AND digest = ? ORDER BY tag")
                .bind(repository)
                .bind(digest)
                .fetch_all(&mut *tx)
                .await
                .doing(doing())?;
        tags.sort();
        for sql in [
            "DELETE FROM tags WHERE repository = ? AND digest = ?",
            "DELETE FROM manifest_refs WHERE repository = ? AND manifest_digest = ?",
            "DELETE FROM manifests WHERE repository = ? AND digest = ?",
        ] {
            sqlx::query(sql).bind(repository).bind(digest).execute(&mut *tx).await.doing(doing())?;
        }
        tx.commit().await.doing(doing())?;
        Ok(DeleteManifest::Deleted { tags })
    }

    async fn delete_tag(&self, repository: &str, tag: &str) -> Result<bool> {
        let doing = || format!("deleting tag {tag} of repository {repository}");
        let mut tx = self.write().await?;
        let done = sqlx::query("DELETE FROM tags WHERE repository = ? AND tag = ?")
            .bind(repository)
            .bind(tag)
            .execute(&mut *tx)
            .await
            .doing(doing())?;
        tx.commit().await.doing(doing())?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_tags(&self, repository: &str, last: Option<&str>, limit: Option<i64>) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT tag FROM tags WHERE repository = ? AND tag > ? ORDER BY tag LIMIT ?")
            .bind(repository)
            .bind(last.unwrap_or(""))
            .bind(limit.unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .doing(format!("listing the tags of repository {repository}"))
    }

    async fn referrers(&self, repository: &str, digest: &str) -> Result<Vec<ImageRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {IMAGE_COLUMNS} FROM manifests m WHERE m.repository = ? AND m.subject = ? ORDER BY m.digest"
        ))
        .bind(repository)
        .bind(digest)
        .fetch_all(&self.pool)
        .await
        .doing(format!("listing the referrers of {digest} in repository {repository}"))?;
        self.with_tags(repository, rows.iter().map(image_from_row).collect()).await
    }

    async fn images(&self, repository: &str) -> Result<Vec<ImageRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {IMAGE_COLUMNS} FROM manifests m WHERE m.repository = ? ORDER BY m.pushed_at DESC, m.digest"
        ))
        .bind(repository)
        .fetch_all(&self.pool)
        .await
        .doing(format!("listing the images of repository {repository}"))?;
        self.with_tags(repository, rows.iter().map(image_from_row).collect()).await
    }

    async fn collect_garbage(&self, cutoff: Timestamp) -> Result<Vec<String>> {
        let doing = "collecting unreferenced blobs";
        let mut tx = self.write().await?;
        let digests: Vec<String> = sqlx::query_scalar(
            "SELECT b.digest FROM blobs b WHERE b.created_at < ? \
             AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.child_digest = b.digest AND r.kind = 'blob') \
             AND NOT EXISTS (SELECT 1 FROM repository_blobs l WHERE l.digest = b.digest AND l.linked_at >= ?)",
        )
        .bind(cutoff.0)
        .bind(cutoff.0)
        .fetch_all(&mut *tx)
        .await
        .doing(doing)?;
        for digest in &digests {
            for sql in ["DELETE FROM repository_blobs WHERE digest = ?", "DELETE FROM blobs WHERE digest = ?"] {
                sqlx::query(sql).bind(digest).execute(&mut *tx).await.doing(doing)?;
            }
        }
        tx.commit().await.doing(doing)?;
        Ok(digests)
    }

    /// Flushes the write-ahead log and closes every connection.
    async fn close(&self) {
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await;
        self.pool.close().await;
    }
}
