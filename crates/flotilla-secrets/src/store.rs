//! Durable secrets: the [`SecretStore`] trait and its SQL implementation on the storage
//! foundation (SQLite's `secrets.db`, or the `secrets` schema on PostgreSQL).

use crate::error::{Doing, Result, SecretsError};
use async_trait::async_trait;
use flotilla_db::{Db, Migrations, RowExt, StoreLocation, Tx};
use flotilla_domain::Timestamp;
use sqlx::any::AnyRow;

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The secrets store's name: `secrets.db` on SQLite, schema `secrets` on PostgreSQL.
pub const STORE_NAME: &str = "secrets";

pub const AWSCURRENT: &str = "AWSCURRENT";
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";

/// A secret's value: text or bytes. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretValue {
    String(String),
    Binary(Vec<u8>),
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretValue::String(_) => f.write_str("String(<redacted>)"),
            SecretValue::Binary(_) => f.write_str("Binary(<redacted>)"),
        }
    }
}

/// A secret, without its values.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretRecord {
    pub arn: String,
    pub name: String,
    pub description: Option<String>,
    /// `[{"Key":..,"Value":..}]` as JSON.
    pub tags: serde_json::Value,
    pub created_at: Timestamp,
    pub last_changed_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
    pub deletion_date: Option<Timestamp>,
}

/// One version of a secret's value.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRecord {
    pub version_id: String,
    pub value: SecretValue,
    pub stages: Vec<String>,
    pub created_at: Timestamp,
}

/// The outcome of creating a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Create {
    Created,
    /// A secret of that name exists; `deleted` when it is scheduled for deletion.
    NameTaken {
        deleted: bool,
    },
}

/// The outcome of adding a version.
#[derive(Debug, Clone, PartialEq)]
pub enum PutVersion {
    /// Stored, or the same version id with the same value was there already.
    Stored(Vec<String>),
    NotFound,
    Deleted,
    /// The version id exists with another value.
    VersionExists,
}

/// Where secrets are kept.
#[async_trait]
pub trait SecretStore: Send + Sync + 'static {
    /// Creates a secret with its first version (staged `AWSCURRENT`), if any.
    async fn create(&self, secret: &SecretRecord, version: Option<&VersionRecord>) -> Result<Create>;
    /// A secret by name, full ARN or partial ARN (without the random suffix), with
    /// its versions.
    async fn find(&self, id: &str) -> Result<Option<(SecretRecord, Vec<VersionRecord>)>>;
    /// Adds a version to the secret `arn`, moving `AWSCURRENT` to it and the previous
    /// current version to `AWSPREVIOUS`.
    async fn put_version(&self, arn: &str, version: &VersionRecord, now: Timestamp) -> Result<PutVersion>;
    /// Every secret (with its versions' stages) by name.
    async fn list(&self) -> Result<Vec<(SecretRecord, Vec<VersionRecord>)>>;
    /// Schedules the secret for deletion on `deletion_date`; `false` when absent.
    async fn mark_deleted(&self, arn: &str, now: Timestamp, deletion_date: Timestamp) -> Result<bool>;
    /// Removes the secret and its versions; `false` when absent.
    async fn purge(&self, arn: &str) -> Result<bool>;
    async fn close(&self) {}
}

/// A [`SecretStore`] in a SQL database (through [`Db`]).
#[derive(Clone)]
pub struct SqlSecretStore {
    db: Db,
}

impl SqlSecretStore {
    /// Opens (creating if needed) the secrets store at `location` and applies migrations.
    pub async fn open(location: &StoreLocation) -> Result<Self> {
        let db = Db::open(location, STORE_NAME, &Migrations { sqlite: &SQLITE, postgres: &POSTGRES }).await?;
        Ok(Self { db })
    }

    /// A write transaction serialised with every other secrets write (SQLite's single
    /// writer; a transaction lock on PostgreSQL), so two changes of one secret's
    /// versions or stages never interleave. Secrets change rarely: one lock is enough.
    async fn write(&self) -> Result<Tx> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, "secrets").await?;
        Ok(tx)
    }
}

fn secret_from_row(row: &AnyRow) -> Result<SecretRecord> {
    let tags: String = row.col("tags")?;
    let tags = serde_json::from_str(&tags)
        .map_err(|e| SecretsError::Corrupt { doing: "reading a secret's tags".into(), reason: e.to_string() })?;
    Ok(SecretRecord {
        arn: row.col("arn")?,
        name: row.col("name")?,
        description: row.col("description")?,
        tags,
        created_at: Timestamp(row.col("created_at")?),
        last_changed_at: Timestamp(row.col("last_changed_at")?),
        deleted_at: row.col::<Option<i64>>("deleted_at")?.map(Timestamp),
        deletion_date: row.col::<Option<i64>>("deletion_date")?.map(Timestamp),
    })
}

fn version_from_row(row: &AnyRow) -> Result<VersionRecord> {
    let string: Option<String> = row.col("secret_string")?;
    let binary: Option<Vec<u8>> = row.col("secret_binary")?;
    let value = match (string, binary) {
        (Some(s), _) => SecretValue::String(s),
        (None, Some(b)) => SecretValue::Binary(b),
        (None, None) => {
            return Err(SecretsError::Corrupt { doing: "reading a secret version".into(), reason: "no value".into() });
        }
    };
    let stages: String = row.col("stages")?;
    Ok(VersionRecord {
        version_id: row.col("version_id")?,
        value,
        stages: stages.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        created_at: Timestamp(row.col("created_at")?),
    })
}

fn value_columns(value: &SecretValue) -> (Option<&str>, Option<&[u8]>) {
    match value {
        SecretValue::String(s) => (Some(s.as_str()), None),
        SecretValue::Binary(b) => (None, Some(b.as_slice())),
    }
}

async fn insert_version(tx: &mut Tx, arn: &str, v: &VersionRecord) -> Result<()> {
    let (string, binary) = value_columns(&v.value);
    sqlx::query(
        "INSERT INTO secret_versions (secret_arn, version_id, secret_string, secret_binary, stages, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(arn)
    .bind(&v.version_id)
    .bind(string)
    .bind(binary)
    .bind(v.stages.join(","))
    .bind(v.created_at.0)
    .execute(&mut **tx)
    .await
    .doing(format!("storing a version of {arn}"))?;
    Ok(())
}

impl SqlSecretStore {
    async fn versions(&self, arn: &str) -> Result<Vec<VersionRecord>> {
        let rows = sqlx::query("SELECT * FROM secret_versions WHERE secret_arn = $1 ORDER BY created_at, version_id")
            .bind(arn)
            .fetch_all(self.db.reader())
            .await
            .doing(format!("reading the versions of {arn}"))?;
        rows.iter().map(version_from_row).collect()
    }
}

#[async_trait]
impl SecretStore for SqlSecretStore {
    async fn create(&self, secret: &SecretRecord, version: Option<&VersionRecord>) -> Result<Create> {
        let mut tx = self.write().await?;
        let existing = sqlx::query("SELECT deleted_at FROM secrets WHERE name = $1")
            .bind(&secret.name)
            .fetch_optional(&mut *tx)
            .await
            .doing(format!("looking up the secret {}", secret.name))?;
        if let Some(row) = existing {
            return Ok(Create::NameTaken { deleted: row.col::<Option<i64>>("deleted_at")?.is_some() });
        }
        sqlx::query(
            "INSERT INTO secrets (arn, name, description, tags, created_at, last_changed_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&secret.arn)
        .bind(&secret.name)
        .bind(&secret.description)
        .bind(secret.tags.to_string())
        .bind(secret.created_at.0)
        .bind(secret.last_changed_at.0)
        .execute(&mut *tx)
        .await
        .doing(format!("creating the secret {}", secret.name))?;
        if let Some(version) = version {
            insert_version(&mut tx, &secret.arn, version).await?;
        }
        tx.commit().await.doing(format!("committing the secret {}", secret.name))?;
        Ok(Create::Created)
    }

    async fn find(&self, id: &str) -> Result<Option<(SecretRecord, Vec<VersionRecord>)>> {
        let row = sqlx::query("SELECT * FROM secrets WHERE name = $1 OR arn = $2")
            .bind(id)
            .bind(id)
            .fetch_optional(self.db.reader())
            .await
            .doing(format!("looking up the secret {id}"))?;
        let row = match (row, id.split_once(":secret:")) {
            (Some(row), _) => row,
            // A partial ARN: the secret's ARN is it plus `-` and six characters.
            (None, Some((_, name))) if id.starts_with("arn:") => {
                let Some(row) = sqlx::query("SELECT * FROM secrets WHERE name = $1")
                    .bind(name)
                    .fetch_optional(self.db.reader())
                    .await
                    .doing(format!("looking up the secret {id}"))?
                else {
                    return Ok(None);
                };
                let arn: String = row.col("arn")?;
                if arn.len() != id.len() + 7 || !arn.starts_with(&format!("{id}-")) {
                    return Ok(None);
                }
                row
            }
            (None, _) => return Ok(None),
        };
        let secret = secret_from_row(&row)?;
        let versions = self.versions(&secret.arn).await?;
        Ok(Some((secret, versions)))
    }

    async fn put_version(&self, arn: &str, version: &VersionRecord, now: Timestamp) -> Result<PutVersion> {
        let mut tx = self.write().await?;
        let row = sqlx::query("SELECT deleted_at FROM secrets WHERE arn = $1")
            .bind(arn)
            .fetch_optional(&mut *tx)
            .await
            .doing(format!("looking up the secret {arn}"))?;
        match row {
            None => return Ok(PutVersion::NotFound),
            Some(r) if r.col::<Option<i64>>("deleted_at")?.is_some() => return Ok(PutVersion::Deleted),
            Some(_) => {}
        }
        let rows = sqlx::query("SELECT * FROM secret_versions WHERE secret_arn = $1")
            .bind(arn)
            .fetch_all(&mut *tx)
            .await
            .doing(format!("reading the versions of {arn}"))?;
        let versions: Vec<VersionRecord> = rows.iter().map(version_from_row).collect::<Result<_>>()?;
        if let Some(same) = versions.iter().find(|v| v.version_id == version.version_id) {
            return Ok(if same.value == version.value {
                PutVersion::Stored(same.stages.clone())
            } else {
                PutVersion::VersionExists
            });
        }
        for v in &versions {
            let mut stages: Vec<String> = v.stages.iter().filter(|s| *s != AWSPREVIOUS).cloned().collect();
            if let Some(i) = stages.iter().position(|s| s == AWSCURRENT) {
                stages[i] = AWSPREVIOUS.to_string();
            }
            if stages.is_empty() {
                sqlx::query("DELETE FROM secret_versions WHERE secret_arn = $1 AND version_id = $2")
                    .bind(arn)
                    .bind(&v.version_id)
                    .execute(&mut *tx)
                    .await
                    .doing(format!("removing an unstaged version of {arn}"))?;
            } else if stages != v.stages {
                sqlx::query("UPDATE secret_versions SET stages = $1 WHERE secret_arn = $2 AND version_id = $3")
                    .bind(stages.join(","))
                    .bind(arn)
                    .bind(&v.version_id)
                    .execute(&mut *tx)
                    .await
                    .doing(format!("moving the stages of {arn}"))?;
            }
        }
        insert_version(&mut tx, arn, version).await?;
        sqlx::query("UPDATE secrets SET last_changed_at = $1 WHERE arn = $2")
            .bind(now.0)
            .bind(arn)
            .execute(&mut *tx)
            .await
            .doing(format!("updating {arn}"))?;
        tx.commit().await.doing(format!("committing a version of {arn}"))?;
        Ok(PutVersion::Stored(version.stages.clone()))
    }

    async fn list(&self) -> Result<Vec<(SecretRecord, Vec<VersionRecord>)>> {
        let rows = sqlx::query("SELECT * FROM secrets ORDER BY name")
            .fetch_all(self.db.reader())
            .await
            .doing("listing secrets")?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let secret = secret_from_row(row)?;
            let versions = self.versions(&secret.arn).await?;
            out.push((secret, versions));
        }
        Ok(out)
    }

    async fn mark_deleted(&self, arn: &str, now: Timestamp, deletion_date: Timestamp) -> Result<bool> {
        let mut tx = self.write().await?;
        let done = sqlx::query("UPDATE secrets SET deleted_at = $1, deletion_date = $2 WHERE arn = $3")
            .bind(now.0)
            .bind(deletion_date.0)
            .bind(arn)
            .execute(&mut *tx)
            .await
            .doing(format!("scheduling the deletion of {arn}"))?;
        tx.commit().await.doing(format!("committing the deletion of {arn}"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn purge(&self, arn: &str) -> Result<bool> {
        let mut tx = self.write().await?;
        let done = sqlx::query("DELETE FROM secrets WHERE arn = $1")
            .bind(arn)
            .execute(&mut *tx)
            .await
            .doing(format!("deleting {arn}"))?;
        tx.commit().await.doing(format!("committing the deletion of {arn}"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn close(&self) {
        self.db.close().await;
    }
}
