//! What can go wrong in the store.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer changed the record since it was read; read again and retry.
    #[error("{what} was changed by another request; retry")]
    Conflict { what: String },
    /// A per-resource limit would be exceeded.
    #[error("{0}")]
    Limit(String),
    #[error("opening the store at {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("applying store migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store query failed while {doing}: {source}")]
    Query { doing: &'static str, source: sqlx::Error },
    #[error("stored record {what} cannot be read: {reason}")]
    Corrupt { what: String, reason: String },
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Attaches what the store was doing to a database error.
pub(crate) trait Doing<T> {
    fn doing(self, doing: &'static str) -> StoreResult<T>;
}

impl<T> Doing<T> for Result<T, sqlx::Error> {
    fn doing(self, doing: &'static str) -> StoreResult<T> {
        self.map_err(|source| StoreError::Query { doing, source })
    }
}
