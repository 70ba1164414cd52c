//! Leases: at most one holder of a name at a time, kept in the store so any process
//! sharing it (control-plane replicas on PostgreSQL) sees the same holder.
//!
//! A holder takes a free or expired lease and renews it before it expires. Callers
//! pass the time, which should be one clock every holder shares (the runner uses the
//! database's, [`crate::Db::now_ms`]). The `token` grows with every take and renewal.

use crate::db::Db;
use crate::error::{DbResult, Doing};
use crate::row::RowExt;

/// A lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    /// Epoch milliseconds after which another holder may take it.
    pub expires_at: i64,
    /// Bumped each time the lease is taken or renewed (not used for fencing yet).
    pub token: i64,
}

/// The leases of one database.
#[derive(Debug, Clone)]
pub struct Leases {
    db: Db,
}

impl Leases {
    /// The leases kept in `db`, whose migrations must create the table
    /// `flotilla_leases (name TEXT PRIMARY KEY, holder TEXT, expires_at BIGINT, token BIGINT)`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Takes or renews `name` for `holder` until `now_ms + ttl_ms`. Returns the lease
    /// when `holder` has it afterwards, `None` when another holder's lease is still live.
    pub async fn acquire(&self, name: &str, holder: &str, now_ms: i64, ttl_ms: i64) -> DbResult<Option<Lease>> {
        let mut tx = self.db.write().await?;
        let changed = sqlx::query(
            "INSERT INTO flotilla_leases (name, holder, expires_at, token) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, \
             token = flotilla_leases.token + 1 \
             WHERE flotilla_leases.holder = excluded.holder OR flotilla_leases.expires_at <= $4",
        )
        .bind(name)
        .bind(holder)
        .bind(now_ms + ttl_ms)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .doing(format!("taking the lease {name}"))?
        .rows_affected();
        let lease = if changed == 1 { read(&mut tx, name).await? } else { None };
        tx.commit().await.doing(format!("committing the lease {name}"))?;
        Ok(lease)
    }

    /// Gives `name` up if `holder` has it, so another holder need not wait for expiry.
    pub async fn release(&self, name: &str, holder: &str) -> DbResult<()> {
        sqlx::query("DELETE FROM flotilla_leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(self.db.writer())
            .await
            .doing(format!("releasing the lease {name}"))?;
        Ok(())
    }

    /// The lease as stored, live or expired.
    pub async fn get(&self, name: &str) -> DbResult<Option<Lease>> {
        let mut conn = self.db.reader().acquire().await.doing("reading a lease")?;
        read(&mut conn, name).await
    }
}

async fn read(conn: &mut sqlx::AnyConnection, name: &str) -> DbResult<Option<Lease>> {
    let row = sqlx::query("SELECT name, holder, expires_at, token FROM flotilla_leases WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await
        .doing(format!("reading the lease {name}"))?;
    row.map(|r| {
        Ok(Lease {
            name: r.col("name")?,
            holder: r.col("holder")?,
            expires_at: r.col("expires_at")?,
            token: r.col("token")?,
        })
    })
    .transpose()
}
