//! Durable parameters on the storage foundation (SQLite's `ssm.db`, or the `ssm` schema
//! on PostgreSQL): one row per parameter (its latest version and its tags), one per
//! version (the attributes it was put with, its value plain or sealed), one per label.
//!
//! Every change is one write transaction locked per parameter (SQLite's single writer;
//! a transaction advisory lock on PostgreSQL). A new version is written only if the
//! latest version is still the one the caller read ([`SsmStore::put`] answers
//! [`DbError::Conflict`] otherwise, and the caller reads again), so concurrent puts
//! never lose or repeat a version.

use crate::error::{Doing, Result, SsmError};
use flotilla_core::Timestamp;
use flotilla_db::{Db, DbError, Migrations, RowExt, StoreLocation, Tx};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use std::collections::{BTreeMap, HashMap};

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The store's name: `ssm.db` on SQLite, schema `ssm` on PostgreSQL.
pub const STORE_NAME: &str = "ssm";
/// Versions kept per parameter; the oldest goes when a new one comes, unless labelled.
pub const MAX_VERSIONS: i64 = 100;
/// Labels one version may carry.
pub const MAX_LABELS_PER_VERSION: usize = 10;

/// A parameter's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterType {
    String,
    StringList,
    SecureString,
}

impl ParameterType {
    pub fn as_str(self) -> &'static str {
        match self {
            ParameterType::String => "String",
            ParameterType::StringList => "StringList",
            ParameterType::SecureString => "SecureString",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "String" => Some(ParameterType::String),
            "StringList" => Some(ParameterType::StringList),
            "SecureString" => Some(ParameterType::SecureString),
            _ => None,
        }
    }
}

/// A version's value as stored: text, or sealed bytes (SecureString). `Debug` shows
/// neither.
#[derive(Clone, PartialEq, Eq)]
pub enum StoredValue {
    Plain(String),
    Sealed(Vec<u8>),
}

impl std::fmt::Debug for StoredValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoredValue::Plain(v) => write!(f, "Plain({} bytes)", v.len()),
            StoredValue::Sealed(v) => write!(f, "Sealed({} bytes)", v.len()),
        }
    }
}

/// One version of a parameter, with the attributes it was put with.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRecord {
    pub name: String,
    pub version: i64,
    pub kind: ParameterType,
    pub value: StoredValue,
    pub key_id: Option<String>,
    pub description: Option<String>,
    pub allowed_pattern: Option<String>,
    pub tier: String,
    pub data_type: String,
    pub modified_at: Timestamp,
    pub modified_user: String,
    /// The labels on this version (filled when read; ignored when written).
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// A parameter as listed: its latest version, its tags, and every label it has with
/// the version carrying it.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub latest: VersionRecord,
    pub tags: Vec<Tag>,
    pub labels: BTreeMap<String, i64>,
}

/// The outcome of [`SsmStore::put`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    Stored,
    /// 100 versions are kept and the oldest, which would go, has labels.
    OldestLabelled {
        version: i64,
    },
}

/// The outcome of [`SsmStore::label`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelOutcome {
    Labelled {
        version: i64,
    },
    NotFound,
    VersionNotFound,
    /// The version would carry more than ten labels.
    LimitExceeded,
}

/// The outcome of [`SsmStore::change_tags`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagOutcome {
    Changed,
    NotFound,
    /// The parameter would have more than the limit.
    TooMany,
}

/// The Parameter Store's store.
#[derive(Clone)]
pub struct SsmStore {
    db: Db,
}

fn version_from_row(row: &AnyRow) -> Result<VersionRecord> {
    let name: String = row.col("name")?;
    let kind: String = row.col("type")?;
    let kind = ParameterType::parse(&kind)
        .ok_or_else(|| SsmError::corrupt(format!("reading {name}"), format!("unknown type {kind}")))?;
    let value = match (row.col::<Option<String>>("value")?, row.col::<Option<Vec<u8>>>("sealed")?) {
        (Some(v), None) => StoredValue::Plain(v),
        (None, Some(s)) => StoredValue::Sealed(s),
        _ => return Err(SsmError::corrupt(format!("reading {name}"), "a version has no value or two")),
    };
    Ok(VersionRecord {
        version: row.col("version")?,
        kind,
        value,
        key_id: row.col("key_id")?,
        description: row.col("description")?,
        allowed_pattern: row.col("allowed_pattern")?,
        tier: row.col("tier")?,
        data_type: row.col("data_type")?,
        modified_at: Timestamp(row.col("modified_at")?),
        modified_user: row.col("modified_user")?,
        labels: Vec::new(),
        name,
    })
}

fn tags_from(name: &str, text: &str) -> Result<Vec<Tag>> {
    serde_json::from_str(text).map_err(|e| SsmError::corrupt(format!("reading the tags of {name}"), e))
}

fn tags_text(tags: &[Tag]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".to_string())
}

/// The bounds of names starting with `prefix` (names are ASCII): `[prefix, upper)`.
fn prefix_bounds(prefix: Option<&str>) -> (String, String) {
    match prefix {
        Some(p) if !p.is_empty() => {
            let mut upper = p.as_bytes().to_vec();
            if let Some(last) = upper.last_mut() {
                *last = last.saturating_add(1);
            }
            (p.to_string(), String::from_utf8_lossy(&upper).into_owned())
        }
        _ => (String::new(), "\u{7f}".to_string()),
    }
}

impl SsmStore {
    /// Opens (creating if needed) the store at `location` and applies its migrations.
    pub async fn open(location: &StoreLocation) -> Result<Self> {
        let db = Db::open(location, STORE_NAME, &Migrations { sqlite: &SQLITE, postgres: &POSTGRES }).await?;
        Ok(Self { db })
    }

    /// A write transaction serialised with every other change of the parameter `name`.
    async fn write(&self, name: &str) -> Result<Tx> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, &format!("parameter:{name}")).await?;
        Ok(tx)
    }

    async fn one_version(
        &self,
        sql: &str,
        name: &str,
        key: Option<i64>,
        label: Option<&str>,
    ) -> Result<Option<VersionRecord>> {
        let mut q = sqlx::query(sql).bind(name);
        if let Some(k) = key {
            q = q.bind(k);
        }
        if let Some(l) = label {
            q = q.bind(l);
        }
        let Some(row) = q.fetch_optional(self.db.reader()).await.doing(format!("reading the parameter {name}"))? else {
            return Ok(None);
        };
        let mut record = version_from_row(&row)?;
        record.labels =
            sqlx::query_scalar("SELECT label FROM parameter_labels WHERE name = $1 AND version = $2 ORDER BY label")
                .bind(name)
                .bind(record.version)
                .fetch_all(self.db.reader())
                .await
                .doing(format!("reading the labels of {name}"))?;
        Ok(Some(record))
    }

    /// The latest version of `name`.
    pub async fn latest(&self, name: &str) -> Result<Option<VersionRecord>> {
        self.one_version(
            "SELECT v.* FROM parameter_versions v JOIN parameters p ON p.name = v.name AND p.version = v.version \
             WHERE p.name = $1",
            name,
            None,
            None,
        )
        .await
    }

    /// Version `version` of `name`.
    pub async fn version(&self, name: &str, version: i64) -> Result<Option<VersionRecord>> {
        self.one_version("SELECT * FROM parameter_versions WHERE name = $1 AND version = $2", name, Some(version), None)
            .await
    }

    /// The version of `name` labelled `label`.
    pub async fn labelled(&self, name: &str, label: &str) -> Result<Option<VersionRecord>> {
        self.one_version(
            "SELECT v.* FROM parameter_versions v JOIN parameter_labels l ON l.name = v.name AND l.version = v.version \
             WHERE v.name = $1 AND l.label = $2",
            name,
            None,
            Some(label),
        )
        .await
    }

    /// Every kept version of `name`, oldest first, with their labels; empty when absent.
    pub async fn history(&self, name: &str) -> Result<Vec<VersionRecord>> {
        let doing = format!("reading the history of {name}");
        let rows = sqlx::query("SELECT * FROM parameter_versions WHERE name = $1 ORDER BY version")
            .bind(name)
            .fetch_all(self.db.reader())
            .await
            .doing(&doing)?;
        let mut versions: Vec<VersionRecord> = rows.iter().map(version_from_row).collect::<Result<_>>()?;
        let labels = sqlx::query("SELECT label, version FROM parameter_labels WHERE name = $1 ORDER BY label")
            .bind(name)
            .fetch_all(self.db.reader())
            .await
            .doing(&doing)?;
        for row in &labels {
            let version: i64 = row.col("version")?;
            if let Some(v) = versions.iter_mut().find(|v| v.version == version) {
                v.labels.push(row.col("label")?);
            }
        }
        Ok(versions)
    }

    /// Every parameter whose name starts with `prefix` (all when `None`), by name.
    pub async fn list(&self, prefix: Option<&str>) -> Result<Vec<Listed>> {
        let (lower, upper) = prefix_bounds(prefix);
        let rows = sqlx::query(
            "SELECT v.*, p.tags AS tags FROM parameters p \
             JOIN parameter_versions v ON v.name = p.name AND v.version = p.version \
             WHERE p.name >= $1 AND p.name < $2 ORDER BY p.name",
        )
        .bind(&lower)
        .bind(&upper)
        .fetch_all(self.db.reader())
        .await
        .doing("listing parameters")?;
        let label_rows =
            sqlx::query("SELECT name, label, version FROM parameter_labels WHERE name >= $1 AND name < $2")
                .bind(&lower)
                .bind(&upper)
                .fetch_all(self.db.reader())
                .await
                .doing("listing parameter labels")?;
        let mut labels: HashMap<String, BTreeMap<String, i64>> = HashMap::new();
        for row in &label_rows {
            labels.entry(row.col("name")?).or_default().insert(row.col("label")?, row.col("version")?);
        }
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut latest = version_from_row(row)?;
            let tags = tags_from(&latest.name, &row.col::<String>("tags")?)?;
            let labels = labels.remove(&latest.name).unwrap_or_default();
            latest.labels = labels.iter().filter(|(_, v)| **v == latest.version).map(|(l, _)| l.clone()).collect();
            out.push(Listed { latest, tags, labels });
        }
        Ok(out)
    }

    /// Stores `record` as the parameter's next version, if its latest version is still
    /// `expected` (`None`: the parameter does not exist); else [`DbError::Conflict`].
    /// A new parameter gets `tags`. The 101st version drops the oldest, unless labelled.
    pub async fn put(&self, record: &VersionRecord, expected: Option<i64>, tags: &[Tag]) -> Result<PutOutcome> {
        let name = &record.name;
        let mut tx = self.write(name).await?;
        let current: Option<i64> = sqlx::query_scalar("SELECT version FROM parameters WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .doing(format!("reading the parameter {name}"))?;
        if current != expected || record.version != expected.unwrap_or(0) + 1 {
            return Err(DbError::Conflict { what: format!("the parameter {name}") }.into());
        }
        match current {
            None => {
                sqlx::query("INSERT INTO parameters (name, version, tags) VALUES ($1, $2, $3)")
                    .bind(name)
                    .bind(record.version)
                    .bind(tags_text(tags))
                    .execute(&mut *tx)
                    .await
                    .doing(format!("creating the parameter {name}"))?;
            }
            Some(_) => {
                let kept: Vec<i64> =
                    sqlx::query_scalar("SELECT version FROM parameter_versions WHERE name = $1 ORDER BY version")
                        .bind(name)
                        .fetch_all(&mut *tx)
                        .await
                        .doing(format!("reading the versions of {name}"))?;
                if kept.len() as i64 >= MAX_VERSIONS {
                    let oldest = kept[0];
                    let labelled: i64 =
                        sqlx::query_scalar("SELECT COUNT(*) FROM parameter_labels WHERE name = $1 AND version = $2")
                            .bind(name)
                            .bind(oldest)
                            .fetch_one(&mut *tx)
                            .await
                            .doing(format!("reading the labels of {name}"))?;
                    if labelled > 0 {
                        return Ok(PutOutcome::OldestLabelled { version: oldest });
                    }
                    sqlx::query("DELETE FROM parameter_versions WHERE name = $1 AND version <= $2")
                        .bind(name)
                        .bind(kept[kept.len() - MAX_VERSIONS as usize])
                        .execute(&mut *tx)
                        .await
                        .doing(format!("dropping the oldest version of {name}"))?;
                }
                sqlx::query("UPDATE parameters SET version = $1 WHERE name = $2")
                    .bind(record.version)
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .doing(format!("updating the parameter {name}"))?;
            }
        }
        let (value, sealed) = match &record.value {
            StoredValue::Plain(v) => (Some(v.as_str()), None),
            StoredValue::Sealed(s) => (None, Some(s.as_slice())),
        };
        sqlx::query(
            "INSERT INTO parameter_versions (name, version, type, value, sealed, key_id, description, allowed_pattern, \
             tier, data_type, modified_at, modified_user) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(name)
        .bind(record.version)
        .bind(record.kind.as_str())
        .bind(value)
        .bind(sealed)
        .bind(&record.key_id)
        .bind(&record.description)
        .bind(&record.allowed_pattern)
        .bind(&record.tier)
        .bind(&record.data_type)
        .bind(record.modified_at.0)
        .bind(&record.modified_user)
        .execute(&mut *tx)
        .await
        .doing(format!("storing version {} of {name}", record.version))?;
        tx.commit().await.doing(format!("committing version {} of {name}", record.version))?;
        Ok(PutOutcome::Stored)
    }

    /// Deletes the parameter with its versions and labels; `false` when absent.
    pub async fn delete(&self, name: &str) -> Result<bool> {
        let mut tx = self.write(name).await?;
        for table in ["parameter_labels", "parameter_versions"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE name = $1"))
                .bind(name)
                .execute(&mut *tx)
                .await
                .doing(format!("deleting the parameter {name}"))?;
        }
        let done = sqlx::query("DELETE FROM parameters WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .doing(format!("deleting the parameter {name}"))?;
        tx.commit().await.doing(format!("committing the deletion of {name}"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Puts `labels` on version `version` of `name` (the latest when `None`), moving
    /// any of them from another version.
    pub async fn label(&self, name: &str, version: Option<i64>, labels: &[String]) -> Result<LabelOutcome> {
        let mut tx = self.write(name).await?;
        let doing = format!("labelling the parameter {name}");
        let Some(latest): Option<i64> = sqlx::query_scalar("SELECT version FROM parameters WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .doing(&doing)?
        else {
            return Ok(LabelOutcome::NotFound);
        };
        let version = version.unwrap_or(latest);
        let exists: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM parameter_versions WHERE name = $1 AND version = $2")
                .bind(name)
                .bind(version)
                .fetch_one(&mut *tx)
                .await
                .doing(&doing)?;
        if exists == 0 {
            return Ok(LabelOutcome::VersionNotFound);
        }
        let mut on_version: Vec<String> =
            sqlx::query_scalar("SELECT label FROM parameter_labels WHERE name = $1 AND version = $2")
                .bind(name)
                .bind(version)
                .fetch_all(&mut *tx)
                .await
                .doing(&doing)?;
        for l in labels {
            if !on_version.contains(l) {
                on_version.push(l.clone());
            }
        }
        if on_version.len() > MAX_LABELS_PER_VERSION {
            return Ok(LabelOutcome::LimitExceeded);
        }
        for l in labels {
            sqlx::query(
                "INSERT INTO parameter_labels (name, label, version) VALUES ($1, $2, $3) \
                 ON CONFLICT (name, label) DO UPDATE SET version = excluded.version",
            )
            .bind(name)
            .bind(l)
            .bind(version)
            .execute(&mut *tx)
            .await
            .doing(&doing)?;
        }
        tx.commit().await.doing(format!("committing the labels of {name}"))?;
        Ok(LabelOutcome::Labelled { version })
    }

    /// The tags of `name`; `None` when absent.
    pub async fn tags(&self, name: &str) -> Result<Option<Vec<Tag>>> {
        let text: Option<String> = sqlx::query_scalar("SELECT tags FROM parameters WHERE name = $1")
            .bind(name)
            .fetch_optional(self.db.reader())
            .await
            .doing(format!("reading the tags of {name}"))?;
        text.map(|t| tags_from(name, &t)).transpose()
    }

    /// Adds (or overwrites) `add` and removes the keys `remove`, keeping at most `max`.
    pub async fn change_tags(&self, name: &str, add: &[Tag], remove: &[String], max: usize) -> Result<TagOutcome> {
        let mut tx = self.write(name).await?;
        let doing = format!("tagging the parameter {name}");
        let Some(text): Option<String> = sqlx::query_scalar("SELECT tags FROM parameters WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .doing(&doing)?
        else {
            return Ok(TagOutcome::NotFound);
        };
        let mut tags = tags_from(name, &text)?;
        tags.retain(|t| !remove.contains(&t.key));
        for tag in add {
            match tags.iter_mut().find(|t| t.key == tag.key) {
                Some(t) => t.value = tag.value.clone(),
                None => tags.push(tag.clone()),
            }
        }
        if tags.len() > max {
            return Ok(TagOutcome::TooMany);
        }
        sqlx::query("UPDATE parameters SET tags = $1 WHERE name = $2")
            .bind(tags_text(&tags))
            .bind(name)
            .execute(&mut *tx)
            .await
            .doing(&doing)?;
        tx.commit().await.doing(format!("committing the tags of {name}"))?;
        Ok(TagOutcome::Changed)
    }

    /// Flushes and closes the store.
    pub async fn close(&self) {
        self.db.close().await;
    }
}
