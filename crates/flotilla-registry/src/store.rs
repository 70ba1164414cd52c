//! Registry metadata: the [`RegistryStore`] trait and its SQL implementation on the
//! storage foundation (SQLite's `registry.db`, or the `registry` schema on PostgreSQL).
//!
//! The store knows which blobs exist and which repositories may serve them, the
//! manifests and tags of each repository, repositories' settings, and uploads in
//! progress. Every multi-statement change is one write transaction, serialised with
//! every other change to the same repository (SQLite's single writer; a transaction
//! lock per repository on PostgreSQL), and the checks a change depends on (referenced
//! blobs present, tag not immutable) are made inside it, so concurrent writers cannot
//! invalidate them.

use crate::error::{Doing, RegistryError, Result};
use async_trait::async_trait;
use flotilla_db::{Db, LockMode, Migrations, RowExt, SessionLock, StoreLocation, Tx};
use flotilla_domain::Timestamp;
use flotilla_domain::tag::Tag;
use sqlx::any::AnyRow;

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The registry store's name: `registry.db` on SQLite, schema `registry` on PostgreSQL.
pub const STORE_NAME: &str = "registry";

/// The repository columns, read the same way on both backends.
const REPOSITORY_COLUMNS: &str = "name, created_at, tag_mutability, CAST(scan_on_push AS BIGINT) AS scan_on_push, \
     encryption_type, tags, repository_policy, lifecycle_policy, lifecycle_evaluated_at, version";

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

    /// Holds the registry's collection lock in the store, so that on a shared
    /// PostgreSQL store collection on one replica never races a blob commit, mount or
    /// manifest write on another (shared holders), nor another collection (exclusive).
    async fn gc_lock(&self, mode: LockMode) -> Result<SessionLock>;

    /// Flushes and closes the store (for a clean shutdown).
    async fn close(&self) {}
}

/// A [`RegistryStore`] in a SQL database (through [`Db`]).
#[derive(Clone)]
pub struct SqlRegistryStore {
    db: Db,
}

impl SqlRegistryStore {
    /// Opens (creating if needed) the registry store at `location` and applies migrations.
    pub async fn open(location: &StoreLocation) -> Result<Self> {
        let db = Db::open(location, STORE_NAME, &Migrations { sqlite: &SQLITE, postgres: &POSTGRES }).await?;
        Ok(Self { db })
    }

    /// Fills in the tags of `images` (kept out of the image query for portability).
    async fn with_tags(&self, repository: &str, mut images: Vec<ImageRow>) -> Result<Vec<ImageRow>> {
        let rows = sqlx::query("SELECT digest, tag FROM tags WHERE repository = $1 ORDER BY tag")
            .bind(repository)
            .fetch_all(self.db.reader())
            .await
            .doing(format!("reading the tags of repository {repository}"))?;
        let mut by_digest: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
        for row in &rows {
            by_digest.entry(row.col("digest")?).or_default().push(row.col("tag")?);
        }
        for image in &mut images {
            image.tags = by_digest.remove(&image.digest).unwrap_or_default();
        }
        Ok(images)
    }

    async fn write(&self) -> Result<Tx> {
        Ok(self.db.write().await?)
    }

    /// Serialises changes to one repository's settings, links, manifests and tags
    /// (on PostgreSQL; SQLite's single writer already does), so the checks a change
    /// makes inside its transaction stay true until it commits.
    async fn lock_repository(&self, tx: &mut Tx, name: &str) -> Result<()> {
        Ok(self.db.lock(tx, &format!("repository {name}")).await?)
    }
}

fn repository_from_row(row: &AnyRow) -> Result<RepositoryRecord> {
    let name: String = row.col("name")?;
    let tags: String = row.col("tags")?;
    let tags: Vec<(String, String)> = serde_json::from_str(&tags)
        .map_err(|e| RegistryError::Corrupt { what: format!("tags of repository {name}"), reason: e.to_string() })?;
    Ok(RepositoryRecord {
        created_at: Timestamp(row.col("created_at")?),
        tag_mutability: row.col("tag_mutability")?,
        scan_on_push: row.col::<i64>("scan_on_push")? != 0,
        encryption_type: row.col("encryption_type")?,
        tags: tags.into_iter().map(|(key, value)| Tag { key, value }).collect(),
        repository_policy: row.col("repository_policy")?,
        lifecycle_policy: row.col("lifecycle_policy")?,
        lifecycle_evaluated_at: row.col::<Option<i64>>("lifecycle_evaluated_at")?.map(Timestamp),
        version: row.col("version")?,
        name,
    })
}

fn tags_json(tags: &[Tag]) -> String {
    let pairs: Vec<(&str, &str)> = tags.iter().map(|t| (t.key.as_str(), t.value.as_str())).collect();
    serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into())
}

fn manifest_from_row(row: &AnyRow) -> Result<ManifestRecord> {
    Ok(ManifestRecord {
        repository: row.col("repository")?,
        digest: row.col("digest")?,
        media_type: row.col("media_type")?,
        artifact_type: row.col("artifact_type")?,
        subject: row.col("subject")?,
        size: row.col("size")?,
        image_size: row.col("image_size")?,
        body: row.col("body")?,
        pushed_at: Timestamp(row.col("pushed_at")?),
    })
}

const IMAGE_COLUMNS: &str = "m.digest, m.media_type, m.artifact_type, m.subject, m.size, m.image_size, m.pushed_at";

fn image_from_row(row: &AnyRow) -> Result<ImageRow> {
    Ok(ImageRow {
        digest: row.col("digest")?,
        media_type: row.col("media_type")?,
        artifact_type: row.col("artifact_type")?,
        subject: row.col("subject")?,
        size: row.col("size")?,
        image_size: row.col("image_size")?,
        pushed_at: Timestamp(row.col("pushed_at")?),
        tags: Vec::new(),
    })
}

fn upload_from_row(row: &AnyRow) -> Result<UploadRecord> {
    Ok(UploadRecord {
        id: row.col("id")?,
        repository: row.col("repository")?,
        committed: row.col("committed")?,
        started_at: Timestamp(row.col("started_at")?),
    })
}

#[async_trait]
impl RegistryStore for SqlRegistryStore {
    async fn create_repository(&self, r: &RepositoryRecord) -> Result<bool> {
        let mut tx = self.write().await?;
        self.lock_repository(&mut tx, &r.name).await?;
        let done = sqlx::query(
            "INSERT INTO repositories (name, created_at, tag_mutability, scan_on_push, encryption_type, tags, \
             repository_policy, lifecycle_policy, lifecycle_evaluated_at, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&r.name)
        .bind(r.created_at.0)
        .bind(&r.tag_mutability)
        .bind(i64::from(r.scan_on_push))
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
        let row = sqlx::query(&format!("SELECT {REPOSITORY_COLUMNS} FROM repositories WHERE name = $1"))
            .bind(name)
            .fetch_optional(self.db.reader())
            .await
            .doing(format!("reading repository {name}"))?;
        row.as_ref().map(repository_from_row).transpose()
    }

    async fn list_repositories(&self, after: Option<&str>, limit: i64) -> Result<Vec<RepositoryRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {REPOSITORY_COLUMNS} FROM repositories WHERE name > $1 ORDER BY name LIMIT $2"
        ))
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.db.reader())
        .await
        .doing("listing repositories")?;
        rows.iter().map(repository_from_row).collect()
    }

    async fn update_repository(&self, r: &RepositoryRecord) -> Result<bool> {
        let mut tx = self.write().await?;
        self.lock_repository(&mut tx, &r.name).await?;
        let done = sqlx::query(
            "UPDATE repositories SET tag_mutability = $1, scan_on_push = $2, encryption_type = $3, tags = $4, \
             repository_policy = $5, lifecycle_policy = $6, lifecycle_evaluated_at = $7, version = version + 1 \
             WHERE name = $8 AND version = $9",
        )
        .bind(&r.tag_mutability)
        .bind(i64::from(r.scan_on_push))
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
        self.lock_repository(&mut tx, name).await?;
        let doing = || format!("deleting repository {name}");
        let Some(row) = sqlx::query(&format!("SELECT {REPOSITORY_COLUMNS} FROM repositories WHERE name = $1"))
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .doing(doing())?
        else {
            return Ok(DeleteRepository::NotFound);
        };
        let record = repository_from_row(&row)?;
        let images: i64 = sqlx::query_scalar("SELECT count(*) FROM manifests WHERE repository = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .doing(doing())?;
        if images > 0 && !force {
            return Ok(DeleteRepository::NotEmpty);
        }
        for table in ["tags", "manifest_refs", "manifests", "repository_blobs", "uploads", "repositories"] {
            let column = if table == "repositories" { "name" } else { "repository" };
            sqlx::query(&format!("DELETE FROM {table} WHERE {column} = $1"))
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
             WHERE l.repository = $1 AND l.digest = $2",
        )
        .bind(repository)
        .bind(digest)
        .fetch_optional(self.db.reader())
        .await
        .doing(format!("looking up blob {digest} in repository {repository}"))
    }

    async fn blob(&self, digest: &str) -> Result<Option<i64>> {
        sqlx::query_scalar("SELECT size FROM blobs WHERE digest = $1")
            .bind(digest)
            .fetch_optional(self.db.reader())
            .await
            .doing(format!("looking up blob {digest}"))
    }

    async fn link_blob(&self, repository: &str, digest: &str, size: i64, now: Timestamp) -> Result<()> {
        let doing = || format!("linking blob {digest} to repository {repository}");
        let mut tx = self.write().await?;
        self.lock_repository(&mut tx, repository).await?;
        sqlx::query("INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3) ON CONFLICT (digest) DO NOTHING")
            .bind(digest)
            .bind(size)
            .bind(now.0)
            .execute(&mut *tx)
            .await
            .doing(doing())?;
        sqlx::query(
            "INSERT INTO repository_blobs (repository, digest, linked_at) VALUES ($1, $2, $3) \
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
        self.lock_repository(&mut tx, repository).await?;
        let done = sqlx::query("DELETE FROM repository_blobs WHERE repository = $1 AND digest = $2")
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
        sqlx::query("INSERT INTO uploads (id, repository, committed, started_at) VALUES ($1, $2, $3, $4)")
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
        let row = sqlx::query("SELECT * FROM uploads WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.reader())
            .await
            .doing(format!("reading upload {id}"))?;
        row.as_ref().map(upload_from_row).transpose()
    }

    async fn set_upload_committed(&self, id: &str, committed: i64) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE uploads SET committed = $1 WHERE id = $2")
            .bind(committed)
            .bind(id)
            .execute(&mut *tx)
            .await
            .doing(format!("recording the progress of upload {id}"))?;
        tx.commit().await.doing(format!("recording the progress of upload {id}"))
    }

    async fn delete_upload(&self, id: &str) -> Result<bool> {
        let mut tx = self.write().await?;
        let done = sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .doing(format!("deleting upload {id}"))?;
        tx.commit().await.doing(format!("deleting upload {id}"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn uploads(&self) -> Result<Vec<UploadRecord>> {
        let rows = sqlx::query("SELECT * FROM uploads").fetch_all(self.db.reader()).await.doing("listing uploads")?;
        rows.iter().map(upload_from_row).collect()
    }

    async fn put_manifest(&self, m: &ManifestRecord, refs: &[Reference], tag: Option<&str>) -> Result<PutManifest> {
        let doing = || format!("storing manifest {} in repository {}", m.digest, m.repository);
        let mut tx = self.write().await?;
        self.lock_repository(&mut tx, &m.repository).await?;
        let mutability: Option<String> = sqlx::query_scalar("SELECT tag_mutability FROM repositories WHERE name = $1")
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
                         WHERE l.repository = $1 AND l.digest = $2",
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
                        sqlx::query_scalar("SELECT 1 FROM manifests WHERE repository = $1 AND digest = $2")
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
                sqlx::query_scalar("SELECT digest FROM tags WHERE repository = $1 AND tag = $2")
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
             pushed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (repository, digest) DO NOTHING",
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
                    "INSERT INTO manifest_refs (repository, manifest_digest, child_digest, kind) VALUES ($1, $2, $3, $4) \
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
            sqlx::query("DELETE FROM tags WHERE repository = $1 AND tag = $2")
                .bind(&m.repository)
                .bind(tag)
                .execute(&mut *tx)
                .await
                .doing(doing())?;
            sqlx::query("INSERT INTO tags (repository, tag, digest, updated_at) VALUES ($1, $2, $3, $4)")
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
        let row = sqlx::query("SELECT * FROM manifests WHERE repository = $1 AND digest = $2")
            .bind(repository)
            .bind(digest)
            .fetch_optional(self.db.reader())
            .await
            .doing(format!("reading manifest {digest} of repository {repository}"))?;
        row.as_ref().map(manifest_from_row).transpose()
    }

    async fn resolve_tag(&self, repository: &str, tag: &str) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT digest FROM tags WHERE repository = $1 AND tag = $2")
            .bind(repository)
            .bind(tag)
            .fetch_optional(self.db.reader())
            .await
            .doing(format!("resolving tag {tag} of repository {repository}"))
    }

    async fn delete_manifest(&self, repository: &str, digest: &str) -> Result<DeleteManifest> {
        let doing = || format!("deleting manifest {digest} of repository {repository}");
        let mut tx = self.write().await?;
        self.lock_repository(&mut tx, repository).await?;
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM manifests WHERE repository = $1 AND digest = $2")
            .bind(repository)
            .bind(digest)
            .fetch_optional(&mut *tx)
            .await
            .doing(doing())?;
        if found.is_none() {
            return Ok(DeleteManifest::NotFound);
        }
        let parents: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM manifest_refs WHERE repository = $1 AND child_digest = $2 AND kind = 'manifest'",
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
            sqlx::query_scalar("SELECT tag FROM tags WHERE repository = $1 AND digest = $2 ORDER BY tag")
                .bind(repository)
                .bind(digest)
                .fetch_all(&mut *tx)
                .await
                .doing(doing())?;
        tags.sort();
        for sql in [
            "DELETE FROM tags WHERE repository = $1 AND digest = $2",
            "DELETE FROM manifest_refs WHERE repository = $1 AND manifest_digest = $2",
            "DELETE FROM manifests WHERE repository = $1 AND digest = $2",
        ] {
            sqlx::query(sql).bind(repository).bind(digest).execute(&mut *tx).await.doing(doing())?;
        }
        tx.commit().await.doing(doing())?;
        Ok(DeleteManifest::Deleted { tags })
    }

    async fn delete_tag(&self, repository: &str, tag: &str) -> Result<bool> {
        let doing = || format!("deleting tag {tag} of repository {repository}");
        let mut tx = self.write().await?;
        self.lock_repository(&mut tx, repository).await?;
        let done = sqlx::query("DELETE FROM tags WHERE repository = $1 AND tag = $2")
            .bind(repository)
            .bind(tag)
            .execute(&mut *tx)
            .await
            .doing(doing())?;
        tx.commit().await.doing(doing())?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_tags(&self, repository: &str, last: Option<&str>, limit: Option<i64>) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT tag FROM tags WHERE repository = $1 AND tag > $2 ORDER BY tag LIMIT $3")
            .bind(repository)
            .bind(last.unwrap_or(""))
            .bind(limit.unwrap_or(i64::MAX))
            .fetch_all(self.db.reader())
            .await
            .doing(format!("listing the tags of repository {repository}"))
    }

    async fn referrers(&self, repository: &str, digest: &str) -> Result<Vec<ImageRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {IMAGE_COLUMNS} FROM manifests m WHERE m.repository = $1 AND m.subject = $2 ORDER BY m.digest"
        ))
        .bind(repository)
        .bind(digest)
        .fetch_all(self.db.reader())
        .await
        .doing(format!("listing the referrers of {digest} in repository {repository}"))?;
        self.with_tags(repository, rows.iter().map(image_from_row).collect::<Result<_>>()?).await
    }

    async fn images(&self, repository: &str) -> Result<Vec<ImageRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {IMAGE_COLUMNS} FROM manifests m WHERE m.repository = $1 ORDER BY m.pushed_at DESC, m.digest"
        ))
        .bind(repository)
        .fetch_all(self.db.reader())
        .await
        .doing(format!("listing the images of repository {repository}"))?;
        self.with_tags(repository, rows.iter().map(image_from_row).collect::<Result<_>>()?).await
    }

    async fn collect_garbage(&self, cutoff: Timestamp) -> Result<Vec<String>> {
        let doing = "collecting unreferenced blobs";
        let mut tx = self.write().await?;
        let digests: Vec<String> = sqlx::query_scalar(
            "SELECT b.digest FROM blobs b WHERE b.created_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.child_digest = b.digest AND r.kind = 'blob') \
             AND NOT EXISTS (SELECT 1 FROM repository_blobs l WHERE l.digest = b.digest AND l.linked_at >= $2)",
        )
        .bind(cutoff.0)
        .bind(cutoff.0)
        .fetch_all(&mut *tx)
        .await
        .doing(doing)?;
        for digest in &digests {
            for sql in ["DELETE FROM repository_blobs WHERE digest = $1", "DELETE FROM blobs WHERE digest = $1"] {
                sqlx::query(sql).bind(digest).execute(&mut *tx).await.doing(doing)?;
            }
        }
        tx.commit().await.doing(doing)?;
        Ok(digests)
    }

    async fn gc_lock(&self, mode: LockMode) -> Result<SessionLock> {
        Ok(self.db.session_lock("registry-gc", mode).await?)
    }

    /// Flushes and closes every connection.
    async fn close(&self) {
        self.db.close().await;
    }
}
