//! Durable secrets: the [`SecretStore`] trait and its SQL implementation on the storage
//! foundation (SQLite's `secrets.db`, or the `secrets` schema on PostgreSQL).
//!
//! Values are sealed at rest ([`Sealer`], bound to the secret's ARN and the version id):
//! a sealed row (`sealed = 1`) keeps `S`+text or `B`+bytes, sealed, in `secret_binary`.
//! Rows of Flotilla before sealing (`sealed = 0`, plain `secret_string`/`secret_binary`)
//! are sealed in place when the store opens, and read as they are until then (a replica
//! of an older Flotilla on the same PostgreSQL may still write them).

use crate::error::{Doing, Result, SecretsError};
use async_trait::async_trait;
use flotilla_db::{Backend, Db, Migrations, RowExt, StoreLocation, Tx};
use flotilla_domain::Timestamp;
use flotilla_seal::Sealer;
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
    /// The KMS key named at creation or by UpdateSecret (recorded, not used: values are
    /// sealed with the data directory's key); `None` for the default key.
    pub kms_key_id: Option<String>,
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

/// A change of a secret by UpdateSecret, made in one transaction.
#[derive(Debug, Clone, Default)]
pub struct SecretUpdate {
    pub description: Option<String>,
    /// `Some(None)` returns the secret to the default key.
    pub kms_key_id: Option<Option<String>>,
    /// A new version, staged `AWSCURRENT` as by [`SecretStore::put_version`].
    pub version: Option<VersionRecord>,
}

/// The outcome of changing a secret's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tagging {
    Done,
    NotFound,
    Deleted,
    /// The secret would have this many tags, more than [`MAX_TAGS`].
    TooMany(usize),
}

/// Secrets Manager's limit of tags per secret.
pub const MAX_TAGS: usize = 50;
/// Secrets Manager's limit of staging labels across a secret's versions.
pub const MAX_STAGES: usize = 20;
/// Versions kept per secret: beyond it the oldest versions without a label go.
pub const MAX_VERSIONS: usize = 100;

/// A request to move the staging label `stage` (UpdateSecretVersionStage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageMove<'a> {
    pub stage: &'a str,
    pub remove_from: Option<&'a str>,
    pub move_to: Option<&'a str>,
}

/// Why a staging label could not be moved (or that it was).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveStage {
    Moved,
    NotFound,
    Deleted,
    /// The version id names no version of the secret.
    NoSuchVersion(String),
    /// The label is not on the version RemoveFromVersionId names.
    NotAttached {
        version: String,
    },
    /// The label is on another version, which RemoveFromVersionId must name.
    AttachedElsewhere {
        version: String,
    },
    /// AWSCURRENT cannot be removed without being moved to another version.
    CurrentNotMoved,
    /// The secret would have more than [`MAX_STAGES`] labels.
    TooManyLabels,
}

/// The stages of each version after `m`, or why `m` cannot be done. Pure: the store
/// applies the answer inside its transaction. Moving `AWSCURRENT` puts `AWSPREVIOUS`
/// on the version it left.
pub fn plan_stage_move(
    versions: &[(String, Vec<String>)],
    m: &StageMove<'_>,
) -> Result<Vec<(String, Vec<String>)>, MoveStage> {
    let find =
        |id: &str| versions.iter().position(|(v, _)| v == id).ok_or_else(|| MoveStage::NoSuchVersion(id.to_string()));
    let from = m.remove_from.map(find).transpose()?;
    let to = m.move_to.map(find).transpose()?;
    let holder = versions.iter().position(|(_, stages)| stages.iter().any(|s| s == m.stage));
    if let Some(from) = from
        && holder != Some(from)
    {
        return Err(MoveStage::NotAttached { version: versions[from].0.clone() });
    }
    if let Some(h) = holder
        && Some(h) != to
        && from.is_none()
    {
        return Err(MoveStage::AttachedElsewhere { version: versions[h].0.clone() });
    }
    if m.stage == AWSCURRENT && from.is_some() && to.is_none() {
        return Err(MoveStage::CurrentNotMoved);
    }
    let mut out: Vec<(String, Vec<String>)> = versions.to_vec();
    // Nothing to do: the label stays where it is (or is already where it is asked to go).
    if from == to || (from.is_none() && holder.is_some() && holder == to) {
        return Ok(out);
    }
    if let Some(from) = from {
        out[from].1.retain(|s| s != m.stage);
    }
    if let Some(to) = to {
        out[to].1.push(m.stage.to_string());
    }
    if m.stage == AWSCURRENT
        && let (Some(from), Some(_)) = (from, to)
    {
        for (_, stages) in &mut out {
            stages.retain(|s| s != AWSPREVIOUS);
        }
        out[from].1.push(AWSPREVIOUS.to_string());
    }
    let mut labels: Vec<&String> = out.iter().flat_map(|(_, s)| s).collect();
    labels.sort();
    labels.dedup();
    if labels.len() > MAX_STAGES {
        return Err(MoveStage::TooManyLabels);
    }
    Ok(out)
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
    /// Changes the description, KMS key and/or adds a version, in one transaction.
    async fn update(&self, arn: &str, update: &SecretUpdate, now: Timestamp) -> Result<PutVersion>;
    /// Cancels the secret's scheduled deletion; `false` when absent.
    async fn restore(&self, arn: &str, now: Timestamp) -> Result<bool>;
    /// Adds (or replaces the values of) the tags `add` and removes the keys `remove`.
    async fn change_tags(&self, arn: &str, add: &[(String, String)], remove: &[String]) -> Result<Tagging>;
    /// Moves a staging label between versions (see [`plan_stage_move`]).
    async fn move_stage(&self, arn: &str, m: &StageMove<'_>, now: Timestamp) -> Result<MoveStage>;
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
    sealer: Sealer,
}

impl SqlSecretStore {
    /// Opens (creating if needed) the secrets store at `location`, applies migrations and
    /// seals the values still stored plain (written before Flotilla sealed them).
    pub async fn open(location: &StoreLocation, sealer: Sealer) -> Result<Self> {
        let db = Db::open(location, STORE_NAME, &Migrations { sqlite: &SQLITE, postgres: &POSTGRES }).await?;
        let store = Self { db, sealer };
        store.seal_plain_rows().await?;
        Ok(store)
    }

    /// The database, for tests that write rows as an earlier Flotilla did.
    #[cfg(test)]
    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// Seals every version stored plain, in one transaction; on SQLite the file is then
    /// vacuumed (and its log truncated) so the plain values' old pages do not linger.
    async fn seal_plain_rows(&self) -> Result<usize> {
        let plain: i64 = sqlx::query("SELECT COUNT(*) AS n FROM secret_versions WHERE sealed = 0")
            .fetch_one(self.db.reader())
            .await
            .doing("counting plain secret values")?
            .col("n")?;
        if plain == 0 {
            return Ok(0);
        }
        let mut tx = self.write().await?;
        let rows = sqlx::query("SELECT * FROM secret_versions WHERE sealed = 0")
            .fetch_all(&mut *tx)
            .await
            .doing("reading plain secret values")?;
        for row in &rows {
            let arn: String = row.col("secret_arn")?;
            let version = version_from_row(&self.sealer, &arn, row)?;
            sqlx::query(
                "UPDATE secret_versions SET secret_string = NULL, secret_binary = $1, sealed = 1 \
                 WHERE secret_arn = $2 AND version_id = $3 AND sealed = 0",
            )
            .bind(seal_value(&self.sealer, &arn, &version.version_id, &version.value))
            .bind(&arn)
            .bind(&version.version_id)
            .execute(&mut *tx)
            .await
            .doing(format!("sealing a version of {arn}"))?;
        }
        tx.commit().await.doing("committing sealed secret values")?;
        if self.db.backend() == Backend::Sqlite {
            sqlx::query("VACUUM").execute(self.db.writer()).await.doing("vacuuming the secrets store")?;
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(self.db.writer())
                .await
                .doing("checkpointing the secrets store")?;
        }
        tracing::info!(versions = rows.len(), "sealed secret values stored plain by an earlier Flotilla");
        Ok(rows.len())
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
        kms_key_id: row.col("kms_key_id")?,
        tags,
        created_at: Timestamp(row.col("created_at")?),
        last_changed_at: Timestamp(row.col("last_changed_at")?),
        deleted_at: row.col::<Option<i64>>("deleted_at")?.map(Timestamp),
        deletion_date: row.col::<Option<i64>>("deletion_date")?.map(Timestamp),
    })
}

/// What a sealed value is bound to: the secret's ARN and the version id (ARNs hold no NUL).
fn seal_context(arn: &str, version_id: &str) -> Vec<u8> {
    [arn.as_bytes(), b"\0", version_id.as_bytes()].concat()
}

fn seal_value(sealer: &Sealer, arn: &str, version_id: &str, value: &SecretValue) -> Vec<u8> {
    let plain = match value {
        SecretValue::String(s) => [b"S".as_slice(), s.as_bytes()].concat(),
        SecretValue::Binary(b) => [b"B".as_slice(), b.as_slice()].concat(),
    };
    sealer.seal(&plain, &seal_context(arn, version_id))
}

fn version_from_row(sealer: &Sealer, arn: &str, row: &AnyRow) -> Result<VersionRecord> {
    let version_id: String = row.col("version_id")?;
    let string: Option<String> = row.col("secret_string")?;
    let binary: Option<Vec<u8>> = row.col("secret_binary")?;
    let sealed: i64 = row.col("sealed")?;
    let corrupt = |reason: &str| SecretsError::Corrupt {
        doing: format!("reading the version {version_id} of {arn}"),
        reason: reason.to_string(),
    };
    let value = match (sealed, string, binary) {
        (0, Some(s), _) => SecretValue::String(s),
        (0, None, Some(b)) => SecretValue::Binary(b),
        (0, None, None) => return Err(corrupt("no value")),
        (_, _, Some(b)) => {
            let plain = sealer.open(&b, &seal_context(arn, &version_id)).map_err(|source| SecretsError::Unseal {
                doing: format!("opening the version {version_id} of {arn}"),
                source,
            })?;
            match plain.split_first() {
                Some((b'S', text)) => SecretValue::String(
                    String::from_utf8(text.to_vec()).map_err(|_| corrupt("sealed text is not UTF-8"))?,
                ),
                Some((b'B', bytes)) => SecretValue::Binary(bytes.to_vec()),
                _ => return Err(corrupt("unknown kind of sealed value")),
            }
        }
        (_, _, None) => return Err(corrupt("no sealed value")),
    };
    let stages: String = row.col("stages")?;
    Ok(VersionRecord {
        version_id,
        value,
        stages: split_stages(&stages),
        created_at: Timestamp(row.col("created_at")?),
    })
}

async fn insert_version(tx: &mut Tx, sealer: &Sealer, arn: &str, v: &VersionRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO secret_versions (secret_arn, version_id, secret_binary, sealed, stages, created_at) \
         VALUES ($1, $2, $3, 1, $4, $5)",
    )
    .bind(arn)
    .bind(&v.version_id)
    .bind(seal_value(sealer, arn, &v.version_id, &v.value))
    .bind(v.stages.join(","))
    .bind(v.created_at.0)
    .execute(&mut **tx)
    .await
    .doing(format!("storing a version of {arn}"))?;
    Ok(())
}

enum SecretState {
    NotFound,
    Deleted,
    Live,
}

async fn live_secret(tx: &mut Tx, arn: &str) -> Result<SecretState> {
    let row = sqlx::query("SELECT deleted_at FROM secrets WHERE arn = $1")
        .bind(arn)
        .fetch_optional(&mut **tx)
        .await
        .doing(format!("looking up the secret {arn}"))?;
    Ok(match row {
        None => SecretState::NotFound,
        Some(r) if r.col::<Option<i64>>("deleted_at")?.is_some() => SecretState::Deleted,
        Some(_) => SecretState::Live,
    })
}

async fn touch(tx: &mut Tx, arn: &str, now: Timestamp) -> Result<()> {
    sqlx::query("UPDATE secrets SET last_changed_at = $1 WHERE arn = $2")
        .bind(now.0)
        .bind(arn)
        .execute(&mut **tx)
        .await
        .doing(format!("updating {arn}"))?;
    Ok(())
}

async fn set_stages(tx: &mut Tx, arn: &str, version_id: &str, stages: &[String]) -> Result<()> {
    sqlx::query("UPDATE secret_versions SET stages = $1 WHERE secret_arn = $2 AND version_id = $3")
        .bind(stages.join(","))
        .bind(arn)
        .bind(version_id)
        .execute(&mut **tx)
        .await
        .doing(format!("moving the stages of {arn}"))?;
    Ok(())
}

fn split_stages(stages: &str) -> Vec<String> {
    stages.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

impl SqlSecretStore {
    /// Adds `version` staged `AWSCURRENT`, moving `AWSPREVIOUS` to the version that was
    /// current; a version left without a label is kept (deprecated) until the secret
    /// has more than [`MAX_VERSIONS`], when the oldest such go.
    async fn add_version(&self, tx: &mut Tx, arn: &str, version: &VersionRecord) -> Result<PutVersion> {
        let rows = sqlx::query("SELECT * FROM secret_versions WHERE secret_arn = $1 ORDER BY created_at, version_id")
            .bind(arn)
            .fetch_all(&mut **tx)
            .await
            .doing(format!("reading the versions of {arn}"))?;
        let versions: Vec<VersionRecord> =
            rows.iter().map(|r| version_from_row(&self.sealer, arn, r)).collect::<Result<_>>()?;
        if let Some(same) = versions.iter().find(|v| v.version_id == version.version_id) {
            return Ok(if same.value == version.value {
                PutVersion::Stored(same.stages.clone())
            } else {
                PutVersion::VersionExists
            });
        }
        let has_current = versions.iter().any(|v| v.stages.iter().any(|s| s == AWSCURRENT));
        let mut unlabelled = Vec::new();
        for v in &versions {
            let mut stages: Vec<String> = v.stages.clone();
            if has_current {
                stages.retain(|s| s != AWSPREVIOUS);
            }
            if let Some(i) = stages.iter().position(|s| s == AWSCURRENT) {
                stages[i] = AWSPREVIOUS.to_string();
            }
            if stages != v.stages {
                set_stages(tx, arn, &v.version_id, &stages).await?;
            }
            if stages.is_empty() {
                unlabelled.push(v);
            }
        }
        insert_version(tx, &self.sealer, arn, version).await?;
        // The oldest versions without a label go once the secret has too many.
        let excess = (versions.len() + 1).saturating_sub(MAX_VERSIONS);
        for v in unlabelled.into_iter().take(excess) {
            sqlx::query("DELETE FROM secret_versions WHERE secret_arn = $1 AND version_id = $2")
                .bind(arn)
                .bind(&v.version_id)
                .execute(&mut **tx)
                .await
                .doing(format!("removing a deprecated version of {arn}"))?;
        }
        Ok(PutVersion::Stored(version.stages.clone()))
    }

    async fn versions(&self, arn: &str) -> Result<Vec<VersionRecord>> {
        let rows = sqlx::query("SELECT * FROM secret_versions WHERE secret_arn = $1 ORDER BY created_at, version_id")
            .bind(arn)
            .fetch_all(self.db.reader())
            .await
            .doing(format!("reading the versions of {arn}"))?;
        rows.iter().map(|r| version_from_row(&self.sealer, arn, r)).collect()
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
            "INSERT INTO secrets (arn, name, description, kms_key_id, tags, created_at, last_changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&secret.arn)
        .bind(&secret.name)
        .bind(&secret.description)
        .bind(&secret.kms_key_id)
        .bind(secret.tags.to_string())
        .bind(secret.created_at.0)
        .bind(secret.last_changed_at.0)
        .execute(&mut *tx)
        .await
        .doing(format!("creating the secret {}", secret.name))?;
        if let Some(version) = version {
            insert_version(&mut tx, &self.sealer, &secret.arn, version).await?;
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
        let update = SecretUpdate { version: Some(version.clone()), ..SecretUpdate::default() };
        self.update(arn, &update, now).await
    }

    async fn update(&self, arn: &str, update: &SecretUpdate, now: Timestamp) -> Result<PutVersion> {
        let mut tx = self.write().await?;
        match live_secret(&mut tx, arn).await? {
            SecretState::NotFound => return Ok(PutVersion::NotFound),
            SecretState::Deleted => return Ok(PutVersion::Deleted),
            SecretState::Live => {}
        }
        let mut outcome = PutVersion::Stored(Vec::new());
        if let Some(version) = &update.version {
            outcome = self.add_version(&mut tx, arn, version).await?;
            if outcome == PutVersion::VersionExists {
                return Ok(outcome);
            }
        }
        if let Some(description) = &update.description {
            sqlx::query("UPDATE secrets SET description = $1 WHERE arn = $2")
                .bind(description)
                .bind(arn)
                .execute(&mut *tx)
                .await
                .doing(format!("updating the description of {arn}"))?;
        }
        if let Some(key) = &update.kms_key_id {
            sqlx::query("UPDATE secrets SET kms_key_id = $1 WHERE arn = $2")
                .bind(key)
                .bind(arn)
                .execute(&mut *tx)
                .await
                .doing(format!("updating the KMS key of {arn}"))?;
        }
        touch(&mut tx, arn, now).await?;
        tx.commit().await.doing(format!("committing a change of {arn}"))?;
        Ok(outcome)
    }

    async fn restore(&self, arn: &str, now: Timestamp) -> Result<bool> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE secrets SET deleted_at = NULL, deletion_date = NULL, last_changed_at = $1 WHERE arn = $2",
        )
        .bind(now.0)
        .bind(arn)
        .execute(&mut *tx)
        .await
        .doing(format!("restoring {arn}"))?;
        tx.commit().await.doing(format!("committing the restoration of {arn}"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn change_tags(&self, arn: &str, add: &[(String, String)], remove: &[String]) -> Result<Tagging> {
        let mut tx = self.write().await?;
        let Some(row) = sqlx::query("SELECT * FROM secrets WHERE arn = $1")
            .bind(arn)
            .fetch_optional(&mut *tx)
            .await
            .doing(format!("looking up the secret {arn}"))?
        else {
            return Ok(Tagging::NotFound);
        };
        let secret = secret_from_row(&row)?;
        if secret.deleted_at.is_some() {
            return Ok(Tagging::Deleted);
        }
        let mut tags: Vec<(String, String)> = secret
            .tags
            .as_array()
            .map(|tags| {
                tags.iter()
                    .filter_map(|t| {
                        Some((t["Key"].as_str()?.to_string(), t["Value"].as_str().unwrap_or("").to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        for (key, value) in add {
            match tags.iter_mut().find(|(k, _)| k == key) {
                Some(tag) => tag.1 = value.clone(),
                None => tags.push((key.clone(), value.clone())),
            }
        }
        tags.retain(|(k, _)| !remove.contains(k));
        if tags.len() > MAX_TAGS {
            return Ok(Tagging::TooMany(tags.len()));
        }
        let json: Vec<serde_json::Value> =
            tags.iter().map(|(k, v)| serde_json::json!({"Key": k, "Value": v})).collect();
        sqlx::query("UPDATE secrets SET tags = $1 WHERE arn = $2")
            .bind(serde_json::Value::Array(json).to_string())
            .bind(arn)
            .execute(&mut *tx)
            .await
            .doing(format!("tagging {arn}"))?;
        tx.commit().await.doing(format!("committing the tags of {arn}"))?;
        Ok(Tagging::Done)
    }

    async fn move_stage(&self, arn: &str, m: &StageMove<'_>, now: Timestamp) -> Result<MoveStage> {
        let mut tx = self.write().await?;
        match live_secret(&mut tx, arn).await? {
            SecretState::NotFound => return Ok(MoveStage::NotFound),
            SecretState::Deleted => return Ok(MoveStage::Deleted),
            SecretState::Live => {}
        }
        let rows = sqlx::query("SELECT version_id, stages FROM secret_versions WHERE secret_arn = $1")
            .bind(arn)
            .fetch_all(&mut *tx)
            .await
            .doing(format!("reading the stages of {arn}"))?;
        let mut before = Vec::with_capacity(rows.len());
        for row in &rows {
            let stages: String = row.col("stages")?;
            before.push((row.col::<String>("version_id")?, split_stages(&stages)));
        }
        let after = match plan_stage_move(&before, m) {
            Ok(after) => after,
            Err(refused) => return Ok(refused),
        };
        for ((id, old), (_, new)) in before.iter().zip(&after) {
            if old != new {
                set_stages(&mut tx, arn, id, new).await?;
            }
        }
        touch(&mut tx, arn, now).await?;
        tx.commit().await.doing(format!("committing the stages of {arn}"))?;
        Ok(MoveStage::Moved)
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
