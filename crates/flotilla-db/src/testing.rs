//! For store test suites: the backends every suite must pass on.
//!
//! Two ways in:
//! - [`backends`]: SQLite always (a fresh temporary directory), and PostgreSQL when
//!   `FLOTILLA_TEST_POSTGRES_URL` names a server; under `CI=true` a missing URL fails
//!   the test instead of skipping PostgreSQL, so a broken install step cannot hide.
//! - [`location`]: the one backend `FLOTILLA_TEST_STORE` names (`sqlite`, the default,
//!   or `postgres`), so a whole crate's tests run again on PostgreSQL unchanged.
//!
//! PostgreSQL gets fresh schemas per call, so tests never see each other's rows.

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

/// The environment variable choosing the backend of [`location`].
pub const STORE_VAR: &str = "FLOTILLA_TEST_STORE";

/// The backend `FLOTILLA_TEST_STORE` names: SQLite files in `dir`, or PostgreSQL
/// schemas named after `dir`, so the same `dir` reopens the same state on either.
pub fn location(dir: &std::path::Path) -> StoreLocation {
    match std::env::var(STORE_VAR).as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => StoreLocation::Sqlite { dir: dir.to_path_buf() },
        Ok("postgres") => StoreLocation::Postgres { url: postgres_url(), schema_prefix: prefix_for(dir) },
        Ok(other) => panic!("{STORE_VAR}={other}: expected sqlite or postgres"),
    }
}

fn postgres_url() -> String {
    std::env::var(POSTGRES_URL_VAR)
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| panic!("{STORE_VAR}=postgres needs {POSTGRES_URL_VAR}"))
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

/// A schema prefix for a (unique, temporary) directory.
fn prefix_for(dir: &std::path::Path) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in dir.as_os_str().as_encoded_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("d{hash:016x}_")
}

/// A schema prefix no other test run uses.
fn unique_prefix() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("t{}_{}_{}_", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed), nanos % 1_000_000_000)
}
