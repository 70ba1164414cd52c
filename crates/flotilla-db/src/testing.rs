//! For store test suites: the backends every suite must pass on.
//!
//! SQLite always (a fresh temporary directory). PostgreSQL when
//! `FLOTILLA_TEST_POSTGRES_URL` names a server (fresh schemas per call, so tests never
//! see each other's rows); under `CI=true` a missing URL fails the test instead of
//! skipping PostgreSQL, so a broken install step cannot hide.

use crate::location::StoreLocation;
use std::sync::atomic::{AtomicU32, Ordering};

/// The environment variable naming the test PostgreSQL server.
pub const POSTGRES_URL_VAR: &str = "FLOTILLA_TEST_POSTGRES_URL";

/// A backend for one test; the SQLite directory lives as long as this value.
pub struct TestBackend {
    pub label: &'static str,
    pub location: StoreLocation,
    _dir: Option<tempfile::TempDir>,
}

/// Every backend a store suite runs on, each fresh.
pub fn backends() -> Vec<TestBackend> {
    let dir = tempfile::tempdir().expect("creating a temporary directory for a SQLite test store");
    let mut out = vec![TestBackend {
        label: "sqlite",
        location: StoreLocation::Sqlite { dir: dir.path().to_path_buf() },
        _dir: Some(dir),
    }];
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.is_empty() => out.push(TestBackend {
            label: "postgres",
            location: StoreLocation::Postgres { url, schema_prefix: unique_prefix() },
            _dir: None,
        }),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{POSTGRES_URL_VAR} is not set under CI=true: the store suite must also run on PostgreSQL")
        }
        _ => eprintln!("{POSTGRES_URL_VAR} is not set: this store test runs on SQLite only"),
    }
    out
}

/// A schema prefix no other test run uses.
fn unique_prefix() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("t{}_{}_{}_", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed), nanos % 1_000_000_000)
}
