//! Where the stores live: SQLite files in the data directory, or one PostgreSQL database.

use crate::error::{DbError, DbResult};
use std::path::{Path, PathBuf};

#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// One SQLite file per store, `DIR/NAME.db`.
    Sqlite { dir: PathBuf },
    /// One PostgreSQL database; each store in the schema `PREFIX` + its name.
    Postgres { url: String, schema_prefix: String },
}

impl StoreLocation {
    /// The location `--store` names, or SQLite in `data_dir` when it names none.
    /// Accepts `sqlite` (the default), `postgres://…` and `postgresql://…`.
    pub fn from_flag(store: Option<&str>, data_dir: &Path) -> DbResult<Self> {
        match store {
            None | Some("sqlite") => Ok(StoreLocation::Sqlite { dir: data_dir.to_path_buf() }),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(StoreLocation::Postgres { url: url.to_string(), schema_prefix: String::new() })
            }
            Some(other) => Err(DbError::Location {
                location: redact(other),
                reason: "expected `sqlite` or a `postgres://user:password@host:port/database` URL".into(),
            }),
        }
    }

    /// Where the store `name` is, for messages (a URL's password is hidden).
    pub fn describe(&self, name: &str) -> String {
        match self {
            StoreLocation::Sqlite { dir } => dir.join(format!("{name}.db")).display().to_string(),
            StoreLocation::Postgres { url, schema_prefix } => {
                format!("{} schema {schema_prefix}{name}", redact(url))
            }
        }
    }
}

/// Never shows a URL's password.
impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Sqlite { dir } => f.debug_struct("Sqlite").field("dir", dir).finish(),
            StoreLocation::Postgres { url, schema_prefix } => {
                f.debug_struct("Postgres").field("url", &redact(url)).field("schema_prefix", schema_prefix).finish()
            }
        }
    }
}

/// A connection URL without its password (in the user part or a `password=` parameter).
fn redact(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match base.split_once("://").and_then(|(scheme, rest)| Some((scheme, rest.split_once('@')?))) {
        Some((scheme, (userinfo, host))) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => base.to_string(),
        },
        None => base.to_string(),
    };
    match query {
        None => base,
        Some(query) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_string(),
                })
                .collect();
            format!("{base}?{}", params.join("&"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_names_sqlite_or_postgres() {
        let dir = Path::new("/var/lib/flotilla");
        assert_eq!(StoreLocation::from_flag(None, dir).unwrap(), StoreLocation::Sqlite { dir: dir.into() });
        assert!(matches!(
            StoreLocation::from_flag(Some("postgres://u:p@h/db"), dir).unwrap(),
            StoreLocation::Postgres { .. }
        ));
        assert!(matches!(
            StoreLocation::from_flag(Some("postgresql://h/db"), dir).unwrap(),
            StoreLocation::Postgres { .. }
        ));
        let err = StoreLocation::from_flag(Some("mysql://u:secret@h/db"), dir).unwrap_err().to_string();
        assert!(err.contains("mysql://u:***@h/db") && !err.contains("secret"), "{err}");
    }

    #[test]
    fn descriptions_hide_passwords() {
        let pg = StoreLocation::from_flag(Some("postgres://flotilla:hunter2@db:5432/f"), Path::new("/d")).unwrap();
        assert_eq!(pg.describe("registry"), "postgres://flotilla:***@db:5432/f schema registry");
        let query = StoreLocation::from_flag(Some("postgres://db/f?user=u&password=hunter2"), Path::new("/d")).unwrap();
        assert_eq!(query.describe("s"), "postgres://db/f?user=u&password=*** schema s");
        assert!(!format!("{pg:?} {query:?}").contains("hunter2"));
        let lite = StoreLocation::from_flag(None, Path::new("/d")).unwrap();
        assert_eq!(lite.describe("secrets"), "/d/secrets.db");
    }
}
