//! What can go wrong in the store.

use flotilla_db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer changed the record since it was read; read again and retry.
    #[error("{what} was changed by another request; retry")]
    Conflict { what: String },
    /// A per-resource limit would be exceeded.
    #[error("{0}")]
    Limit(String),
    /// The database failed, or a stored record cannot be read.
    #[error(transparent)]
    Db(DbError),
    /// A batch of writes this one shared failed (or was cut short) as a whole.
    #[error("a batch of writes failed: {0}")]
    Batch(String),
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Conflict { what } => StoreError::Conflict { what },
            other => StoreError::Db(other),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
