//! Durable IAM state on the storage foundation (SQLite's `iam.db`, or the `iam` schema
//! on PostgreSQL).
//!
//! An account's IAM entities are few (hundreds, not millions) and a policy decision
//! needs many of them at once, so the store keeps them as one [`State`]: read whole,
//! and changed whole by [`IamStore::update`], which runs a change on the state read
//! inside one write transaction (under the store's lock on PostgreSQL), writes back
//! only the documents that differ and bumps the revision. Readers (the authorizer)
//! compare revisions to know when to read again. STS sessions are separate rows,
//! written once and read by access key id.
//!
//! Secret access keys and session tokens are stored sealed (`flotilla-seal`, bound to
//! their access key id), never in plain text.

use crate::error::Result;
use crate::model::{AccessKey, Group, ManagedPolicy, Role, Session, State, User};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use flotilla_db::{Db, DbError, Doing, Migrations, RowExt, StoreLocation};
use flotilla_seal::Sealer;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Any;
use sqlx::any::AnyRow;
use std::collections::{BTreeMap, HashMap};

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The store's name: `iam.db` on SQLite, schema `iam` on PostgreSQL.
pub const STORE_NAME: &str = "iam";

/// The IAM store.
#[derive(Clone)]
pub struct IamStore {
    db: Db,
    sealer: Sealer,
}

/// A sealed secret as stored: `sealed:` and the sealed bytes in base64.
const SEALED: &str = "sealed:";

fn seal(sealer: &Sealer, plain: &str, id: &str) -> String {
    format!("{SEALED}{}", BASE64.encode(sealer.seal(plain.as_bytes(), id.as_bytes())))
}

fn open_sealed(sealer: &Sealer, stored: &str, id: &str) -> Result<String> {
    let Some(encoded) = stored.strip_prefix(SEALED) else { return Ok(stored.to_string()) };
    let corrupt = |reason: String| DbError::corrupt("IAM secret", reason);
    let bytes = BASE64.decode(encoded).map_err(|e| corrupt(e.to_string()))?;
    let plain = sealer.open(&bytes, id.as_bytes()).map_err(|e| corrupt(e.to_string()))?;
    Ok(String::from_utf8(plain).map_err(|e| corrupt(e.to_string()))?)
}

fn json<T: Serialize>(value: &T, what: &str) -> Result<String> {
    Ok(serde_json::to_string(value).map_err(|e| DbError::corrupt(what, e))?)
}

fn parse<T: DeserializeOwned>(body: &str, what: &str) -> Result<T> {
    Ok(serde_json::from_str(body).map_err(|e| DbError::corrupt(what, e))?)
}

/// Every entity as (kind, name) → its stored document.
type Documents = HashMap<(&'static str, String), String>;

fn documents(state: &State) -> Result<Documents> {
    let mut docs = Documents::new();
    fn add<T: Serialize>(docs: &mut Documents, kind: &'static str, items: &BTreeMap<String, T>) -> Result<()> {
        for (name, item) in items {
            docs.insert((kind, name.clone()), json(item, kind)?);
        }
        Ok(())
    }
    add(&mut docs, "user", &state.users)?;
    add(&mut docs, "group", &state.groups)?;
    add(&mut docs, "role", &state.roles)?;
    add(&mut docs, "policy", &state.policies)?;
    add(&mut docs, "access-key", &state.access_keys)?;
    Ok(docs)
}

fn state_of(rows: &[AnyRow], sealer: &Sealer) -> Result<State> {
    let mut state = State::default();
    for row in rows {
        let kind: String = row.col("kind")?;
        let name: String = row.col("name")?;
        let body: String = row.col("body")?;
        match kind.as_str() {
            "user" => drop(state.users.insert(name, parse::<User>(&body, "IAM user")?)),
            "group" => drop(state.groups.insert(name, parse::<Group>(&body, "IAM group")?)),
            "role" => drop(state.roles.insert(name, parse::<Role>(&body, "IAM role")?)),
            "policy" => drop(state.policies.insert(name, parse::<ManagedPolicy>(&body, "IAM policy")?)),
            "access-key" => {
                let mut key = parse::<AccessKey>(&body, "IAM access key")?;
                key.secret = open_sealed(sealer, &key.secret, &key.id)?;
                state.access_keys.insert(name, key);
            }
            other => return Err(DbError::corrupt("IAM entity", format!("unknown kind '{other}'")).into()),
        }
    }
    Ok(state)
}

const SELECT_ALL: &str = "SELECT kind, name, body FROM iam_entities";

impl IamStore {
    /// Opens (creating if needed) the store at `location`; secrets are sealed with `sealer`.
    pub async fn open(location: &StoreLocation, sealer: Sealer) -> Result<Self> {
        let db = Db::open(location, STORE_NAME, &Migrations { sqlite: &SQLITE, postgres: &POSTGRES }).await?;
        Ok(Self { db, sealer })
    }

    pub async fn close(&self) {
        self.db.close().await;
    }

    /// The revision of the entities: it changes whenever any of them does.
    pub async fn revision(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT revision FROM iam_revision WHERE id = 1")
            .fetch_one(self.db.reader())
            .await
            .doing("reading the IAM revision")?)
    }

    /// Every entity with the revision it was read at.
    pub async fn load(&self) -> Result<(i64, State)> {
        // Read in one transaction so the revision matches the documents.
        let mut tx = self.db.reader().begin().await.doing("reading IAM entities")?;
        let revision: i64 = sqlx::query_scalar("SELECT revision FROM iam_revision WHERE id = 1")
            .fetch_one(&mut *tx)
            .await
            .doing("reading the IAM revision")?;
        let rows = sqlx::query(SELECT_ALL).fetch_all(&mut *tx).await.doing("reading IAM entities")?;
        tx.commit().await.doing("reading IAM entities")?;
        Ok((revision, state_of(&rows, &self.sealer)?))
    }

    /// Runs `change` on the entities as stored, and stores what it made of them, all
    /// in one transaction; when `change` fails nothing is stored.
    pub async fn update<T>(&self, change: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, "iam").await?;
        let rows = sqlx::query(SELECT_ALL).fetch_all(&mut *tx).await.doing("reading IAM entities")?;
        let before = state_of(&rows, &self.sealer)?;
        let mut after = before.clone();
        let answer = change(&mut after)?;
        if after == before {
            return Ok(answer);
        }
        let (old, new) = (documents(&before)?, documents(&after)?);
        for ((kind, name), body) in &new {
            if old.get(&(*kind, name.clone())) == Some(body) {
                continue;
            }
            let stored = match (*kind, after.access_keys.get(name)) {
                ("access-key", Some(key)) => {
                    json(&AccessKey { secret: seal(&self.sealer, &key.secret, &key.id), ..key.clone() }, kind)?
                }
                _ => body.clone(),
            };
            upsert(&mut tx, kind, name, &stored).await?;
        }
        for (kind, name) in old.keys() {
            if !new.contains_key(&(*kind, name.clone())) {
                sqlx::query("DELETE FROM iam_entities WHERE kind = $1 AND name = $2")
                    .bind(*kind)
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .doing("deleting an IAM entity")?;
            }
        }
        sqlx::query("UPDATE iam_revision SET revision = revision + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await
            .doing("bumping the IAM revision")?;
        tx.commit().await.doing("committing an IAM change")?;
        Ok(answer)
    }

    /// Stores a new session.
    pub async fn put_session(&self, session: &Session) -> Result<()> {
        let mut tx = self.db.write().await?;
        sqlx::query("INSERT INTO iam_sessions (access_key_id, expires_at, body) VALUES ($1, $2, $3)")
            .bind(&session.access_key_id)
            .bind(session.expires.0)
            .bind(json(
                &Session {
                    secret: seal(&self.sealer, &session.secret, &session.access_key_id),
                    token: seal(&self.sealer, &session.token, &session.access_key_id),
                    ..session.clone()
                },
                "STS session",
            )?)
            .execute(&mut *tx)
            .await
            .doing("storing an STS session")?;
        tx.commit().await.doing("committing an STS session")?;
        Ok(())
    }

    /// The session of `access_key_id`, expired or not.
    pub async fn session(&self, access_key_id: &str) -> Result<Option<Session>> {
        let body: Option<String> = sqlx::query_scalar("SELECT body FROM iam_sessions WHERE access_key_id = $1")
            .bind(access_key_id)
            .fetch_optional(self.db.reader())
            .await
            .doing("reading an STS session")?;
        let Some(body) = body else { return Ok(None) };
        let mut session: Session = parse(&body, "STS session")?;
        session.secret = open_sealed(&self.sealer, &session.secret, &session.access_key_id)?;
        session.token = open_sealed(&self.sealer, &session.token, &session.access_key_id)?;
        Ok(Some(session))
    }

    /// Forgets sessions that expired before `before_ms`; returns how many.
    pub async fn delete_expired_sessions(&self, before_ms: i64) -> Result<u64> {
        let mut tx = self.db.write().await?;
        let gone = sqlx::query("DELETE FROM iam_sessions WHERE expires_at < $1")
            .bind(before_ms)
            .execute(&mut *tx)
            .await
            .doing("deleting expired STS sessions")?
            .rows_affected();
        tx.commit().await.doing("committing expired STS sessions")?;
        Ok(gone)
    }
}

async fn upsert(tx: &mut sqlx::Transaction<'static, Any>, kind: &str, name: &str, body: &str) -> Result<()> {
    let updated = sqlx::query("UPDATE iam_entities SET body = $1 WHERE kind = $2 AND name = $3")
        .bind(body)
        .bind(kind)
        .bind(name)
        .execute(&mut **tx)
        .await
        .doing("updating an IAM entity")?
        .rows_affected();
    if updated == 0 {
        sqlx::query("INSERT INTO iam_entities (kind, name, body) VALUES ($1, $2, $3)")
            .bind(kind)
            .bind(name)
            .bind(body)
            .execute(&mut **tx)
            .await
            .doing("storing an IAM entity")?;
    }
    Ok(())
}
