//! The crate's error type: storage failures, each saying what was being done.

/// A failure of the secrets store.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The secrets store's database failed, or a stored row cannot be read.
    #[error(transparent)]
    Db(#[from] flotilla_db::DbError),
    #[error("{doing}: stored data is corrupt: {reason}")]
    Corrupt { doing: String, reason: String },
    /// A sealed value did not open: altered, or sealed under another key.
    #[error("{doing}: {source}")]
    Unseal { doing: String, source: flotilla_seal::SealError },
}

pub type Result<T, E = SecretsError> = std::result::Result<T, E>;

/// Adds what was being done to a database error.
pub(crate) trait Doing<T> {
    fn doing(self, doing: impl Into<String>) -> Result<T>;
}

impl<T> Doing<T> for std::result::Result<T, sqlx::Error> {
    fn doing(self, doing: impl Into<String>) -> Result<T> {
        self.map_err(|source| flotilla_db::DbError::Query { doing: doing.into(), source }.into())
    }
}
