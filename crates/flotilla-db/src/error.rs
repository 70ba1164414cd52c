//! What can go wrong in the storage foundation, with what it was doing.

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid store location {location:?}: {reason}")]
    Location { location: String, reason: String },
    #[error("opening the {store} store at {location}: {source}")]
    Open { store: String, location: String, source: sqlx::Error },
    #[error("applying the {store} store's migrations at {location}: {source}")]
    Migrate { store: String, location: String, source: sqlx::migrate::MigrateError },
    #[error("store query failed while {doing}: {source}")]
    Query { doing: String, source: sqlx::Error },
    /// A stored value that cannot be read back: wrong type, missing column, bad document.
    #[error("stored record {what} cannot be read: {reason}")]
    Corrupt { what: String, reason: String },
    /// Another writer changed the record since it was read; read again and retry.
    #[error("{what} was changed by another request; retry")]
    Conflict { what: String },
}

impl DbError {
    pub fn corrupt(what: impl Into<String>, reason: impl ToString) -> Self {
        DbError::Corrupt { what: what.into(), reason: reason.to_string() }
    }

    pub fn is_conflict(&self) -> bool {
        matches!(self, DbError::Conflict { .. })
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// Attaches what the store was doing to a database error.
pub trait Doing<T> {
    fn doing(self, doing: impl Into<String>) -> DbResult<T>;
}

impl<T> Doing<T> for Result<T, sqlx::Error> {
    fn doing(self, doing: impl Into<String>) -> DbResult<T> {
        self.map_err(|source| DbError::Query { doing: doing.into(), source })
    }
}
