//! The storage foundation every Flotilla store is built on.
//!
//! A store names itself and hands over its migrations; [`Db::open`] does the rest for
//! either backend:
//! - **SQLite** (the default): one file per store in the data directory, WAL,
//!   `synchronous=FULL` (an acknowledged write survives `kill -9` and power loss),
//!   foreign keys on, readers on a small pool and every write on **one queued writer
//!   connection** (`BEGIN IMMEDIATE`), so writers wait in order instead of spinning.
//! - **PostgreSQL**: one database shared by every store (and by every control-plane
//!   replica), each store in its own schema; writes on a pooled connection, with
//!   [`Db::lock`] (a transaction-scoped advisory lock) where a change needs more than
//!   row-level isolation.
//!
//! Queries go through sqlx's `Any` driver, so one SQL text serves both backends: write
//! `$1, $2, …` placeholders (SQLite accepts them too), `BIGINT` for integers, `BLOB` /
//! `BYTEA` in the per-backend migrations only, and no backend-only syntax. Rows are read
//! with [`RowExt::col`], which returns an error naming the column instead of panicking.

mod db;
mod error;
mod lease;
mod location;
mod retry;
mod row;
#[cfg(feature = "testing")]
pub mod testing;

pub use db::{Backend, Db, LockMode, Migrations, SessionLock};
pub use error::{DbError, DbResult, Doing};
pub use lease::{Lease, Leases};
pub use location::StoreLocation;
pub use retry::retry_on_conflict;
pub use row::RowExt;
pub use sqlx;
pub use sqlx::AnyPool;
pub use sqlx::any::AnyRow;

/// `count` numbered placeholders from `$first` on, comma-separated, for an `IN (…)`
/// list: `placeholders(3, 2)` is `$3, $4`.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// A write transaction on either backend.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_from_the_first() {
        assert_eq!(super::placeholders(3, 2), "$3, $4");
        assert_eq!(super::placeholders(1, 1), "$1");
        assert_eq!(super::placeholders(1, 0), "");
    }
}
