//! Opening a store's database on either backend, and the write discipline.

use crate::error::{DbError, DbResult, Doing};
use crate::location::StoreLocation;
use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::{Any, Connection, Executor, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Which database engine a [`Db`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A store's migrations, one directory per backend (`migrations/sqlite`,
/// `migrations/postgres`); both must describe the same tables.
pub struct Migrations {
    pub sqlite: &'static Migrator,
    pub postgres: &'static Migrator,
}

/// One store's database: readers, the writer, and how to write safely on this backend.
#[derive(Clone)]
pub struct Db {
    backend: Backend,
    /// Readers. On SQLite, WAL lets them run beside the writer.
    reader: AnyPool,
    /// On SQLite the one writer connection, so writers queue in order; on PostgreSQL
    /// the same pool as the readers.
    writer: AnyPool,
    /// What lock keys are prefixed with: the schema, so stores and deployments sharing
    /// one PostgreSQL database never contend on each other's keys.
    lock_namespace: Arc<str>,
    /// PostgreSQL only: connections that hold session locks ([`Db::session_lock`]),
    /// apart from the query pool so lock holders never starve their own queries.
    locks: Option<AnyPool>,
    location: Arc<str>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("backend", &self.backend).field("location", &self.location).finish()
    }
}

/// How long SQLite waits for a lock before giving up (the single writer rarely waits).
const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;

impl Db {
    /// Opens (creating if needed) the store `name` at `location` and applies its migrations.
    /// `name` is a file stem on SQLite and a schema on PostgreSQL: lower-case letters,
    /// digits and `_`.
    pub async fn open(location: &StoreLocation, name: &str, migrations: &Migrations) -> DbResult<Db> {
        sqlx::any::install_default_drivers();
        let described = location.describe(name);
        let open_error = |source| DbError::Open { store: name.to_string(), location: described.clone(), source };
        let db = match location {
            StoreLocation::Sqlite { dir } => {
                let path = dir.join(format!("{name}.db"));
                make_private(&path).map_err(|e| open_error(sqlx::Error::Io(e)))?;
                let url = format!("sqlite://{}?mode=rwc", percent_encode_path(&path.to_string_lossy()));
                let options = AnyConnectOptions::from_str(&url).map_err(open_error)?;
                let pool = |max: u32| {
                    AnyPoolOptions::new()
                        .max_connections(max)
                        .acquire_timeout(Duration::from_secs(60))
                        .after_connect(|conn, _| {
                            Box::pin(async move {
                                conn.execute(
                                    format!(
                                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS};"
                                    )
                                    .as_str(),
                                )
                                .await?;
                                Ok(())
                            })
                        })
                        .connect_with(options.clone())
                };
                let writer = pool(1).await.map_err(open_error)?;
                let reader = pool(4).await.map_err(open_error)?;
                Db {
                    backend: Backend::Sqlite,
                    reader,
                    writer,
                    lock_namespace: name.into(),
                    locks: None,
                    location: described.clone().into(),
                }
            }
            StoreLocation::Postgres { url, schema_prefix } => {
                let schema = format!("{schema_prefix}{name}");
                if !schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
                    return Err(DbError::Location {
                        location: described,
                        reason: format!("schema name {schema:?} must be lower-case letters, digits and _"),
                    });
                }
                let options = AnyConnectOptions::from_str(url).map_err(open_error)?;
                create_schema(&options, &schema).await.map_err(open_error)?;
                let search_path = format!("SET search_path TO {schema}");
                let locks = AnyPoolOptions::new()
                    .max_connections(16)
                    .min_connections(0)
                    .acquire_timeout(Duration::from_secs(60))
                    // A lock wait that was given up (its future dropped) is granted
                    // later on the connection; nothing may come back to the pool holding it.
                    .after_release(|conn, _| {
                        Box::pin(async move {
                            conn.execute("SELECT pg_advisory_unlock_all()").await?;
                            Ok(true)
                        })
                    })
                    .connect_lazy_with(options.clone());
                let pool = AnyPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(60))
                    .after_connect(move |conn, _| {
                        let search_path = search_path.clone();
                        Box::pin(async move {
                            conn.execute(search_path.as_str()).await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await
                    .map_err(open_error)?;
                Db {
                    backend: Backend::Postgres,
                    reader: pool.clone(),
                    writer: pool,
                    lock_namespace: schema.clone().into(),
                    locks: Some(locks),
                    location: described.clone().into(),
                }
            }
        };
        let migrator = match db.backend {
            Backend::Sqlite => migrations.sqlite,
            Backend::Postgres => migrations.postgres,
        };
        migrator.run(&db.writer).await.map_err(|source| DbError::Migrate {
            store: name.to_string(),
            location: described.clone(),
            source,
        })?;
        tracing::debug!(store = name, location = %described, "store open");
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool for reads outside a transaction.
    pub fn reader(&self) -> &AnyPool {
        &self.reader
    }

    /// The pool for a single-statement write outside a transaction.
    pub fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// A write transaction. On SQLite it takes the database's write lock at once
    /// (`BEGIN IMMEDIATE` on the one writer), so two writers never deadlock upgrading
    /// read locks and every write sees the latest committed state.
    pub async fn write(&self) -> DbResult<Transaction<'static, Any>> {
        match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.writer.begin().await,
        }
        .doing("starting a write transaction")
    }

    /// Serialises this transaction with every other one that locks `key`, until it
    /// ends, across processes. On SQLite the writer already holds the whole database.
    pub async fn lock(&self, tx: &mut Transaction<'static, Any>, key: &str) -> DbResult<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(lock_id(&self.lock_namespace, key))
                .execute(&mut **tx)
                .await
                .doing(format!("locking {key}"))?;
        }
        Ok(())
    }

    /// Holds `key` until the guard is released, across processes sharing the
    /// database: any number of shared holders, or one exclusive holder. On SQLite,
    /// where one process owns the data directory, it holds nothing: callers keep
    /// their in-process lock for that.
    pub async fn session_lock(&self, key: &str, mode: LockMode) -> DbResult<SessionLock> {
        let Some(locks) = &self.locks else { return Ok(SessionLock { conn: None, id: 0, mode }) };
        let mut conn = locks.acquire().await.doing(format!("connecting to lock {key}"))?;
        let sql = match mode {
            LockMode::Shared => "SELECT pg_advisory_lock_shared($1)",
            LockMode::Exclusive => "SELECT pg_advisory_lock($1)",
        };
        let id = lock_id(&self.lock_namespace, key);
        sqlx::query(sql).bind(id).execute(&mut *conn).await.doing(format!("locking {key}"))?;
        Ok(SessionLock { conn: Some(conn), id, mode })
    }

    /// The database's clock in epoch milliseconds, so that processes sharing a
    /// database agree on time (leases expire by it).
    pub async fn now_ms(&self) -> DbResult<i64> {
        let sql = match self.backend {
            Backend::Sqlite => "SELECT CAST((julianday('now') - 2440587.5) * 86400000.0 AS BIGINT)",
            Backend::Postgres => "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        };
        sqlx::query_scalar(sql).fetch_one(&self.reader).await.doing("reading the database clock")
    }

    /// Flushes SQLite's write-ahead log and closes every connection.
    pub async fn close(&self) {
        if let Some(locks) = &self.locks {
            locks.close().await;
        }
        self.reader.close().await;
        if self.backend == Backend::Sqlite {
            let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.writer).await;
        }
        self.writer.close().await;
    }
}

/// How a [`SessionLock`] is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Shared,
    Exclusive,
}

/// A lock held across processes until [`SessionLock::release`]; dropped without
/// release, its connection is closed, which releases the lock as well.
#[derive(Debug)]
pub struct SessionLock {
    conn: Option<PoolConnection<Any>>,
    id: i64,
    mode: LockMode,
}

impl SessionLock {
    /// Releases the lock and returns its connection to the pool.
    pub async fn release(mut self) {
        let Some(mut conn) = self.conn.take() else { return };
        let sql = match self.mode {
            LockMode::Shared => "SELECT pg_advisory_unlock_shared($1)",
            LockMode::Exclusive => "SELECT pg_advisory_unlock($1)",
        };
        if sqlx::query(sql).bind(self.id).execute(&mut *conn).await.is_err() {
            conn.close_on_drop();
        }
    }
}

impl Drop for SessionLock {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.as_mut() {
            // Ending the session is what releases a lock nobody unlocked.
            conn.close_on_drop();
        }
    }
}

/// Creates `schema` unless it exists; a replica that loses the race to create it is fine.
async fn create_schema(options: &AnyConnectOptions, schema: &str) -> Result<(), sqlx::Error> {
    let mut conn = sqlx::AnyConnection::connect_with(options).await?;
    let created = conn.execute(format!("CREATE SCHEMA IF NOT EXISTS {schema}").as_str()).await;
    let exists = match created {
        Ok(_) => Ok(()),
        Err(e) => {
            let found: Option<String> =
                sqlx::query_scalar("SELECT schema_name::text FROM information_schema.schemata WHERE schema_name = $1")
                    .bind(schema)
                    .fetch_optional(&mut conn)
                    .await?;
            if found.is_some() { Ok(()) } else { Err(e) }
        }
    };
    let _ = conn.close().await;
    exists
}

/// Creates the database file readable by its owner only, and makes an existing one
/// and its write-ahead log and shared-memory files so; SQLite gives the files it
/// creates beside a database the database's permissions.
fn make_private(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(path)?;
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

/// A stable 64-bit id for an advisory lock on `key` in `namespace` (FNV-1a).
fn lock_id(namespace: &str, key: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in namespace.bytes().chain([0]).chain(key.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

/// Percent-encodes what a URL path cannot hold literally.
fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_for_urls() {
        assert_eq!(percent_encode_path("/tmp/a b?#%/x.db"), "/tmp/a%20b%3F%23%25/x.db");
    }

    #[test]
    fn lock_ids_are_stable() {
        assert_eq!(lock_id("flotilla", "cluster/default"), lock_id("flotilla", "cluster/default"));
        assert_ne!(lock_id("flotilla", "cluster/a"), lock_id("flotilla", "cluster/b"));
        assert_ne!(lock_id("t1_flotilla", "gc"), lock_id("t2_flotilla", "gc"));
    }
}
