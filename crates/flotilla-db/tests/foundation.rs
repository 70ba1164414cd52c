//! The foundation itself on every backend: migrations, the write discipline, row
//! decoding errors and leases.

use flotilla_db::testing::backends;
use flotilla_db::{Db, DbError, Leases, Migrations, RowExt};

static SQLITE: flotilla_db::sqlx::migrate::Migrator = flotilla_db::sqlx::migrate!("./tests/migrations/sqlite");
static POSTGRES: flotilla_db::sqlx::migrate::Migrator = flotilla_db::sqlx::migrate!("./tests/migrations/postgres");
const MIGRATIONS: Migrations = Migrations { sqlite: &SQLITE, postgres: &POSTGRES };

#[tokio::test]
async fn migrations_run_once_and_data_survives_reopening() {
    for backend in backends() {
        let db = Db::open(&backend.location, "sample", &MIGRATIONS).await.unwrap();
        let mut tx = db.write().await.unwrap();
        db.lock(&mut tx, "items").await.unwrap();
        sqlx::query("INSERT INTO items (name, size, body) VALUES ($1, $2, $3)")
            .bind("a")
            .bind(1_i64 << 40)
            .bind(vec![0_u8, 1, 2])
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        db.close().await;

        let db = Db::open(&backend.location, "sample", &MIGRATIONS).await.unwrap();
        let row = sqlx::query("SELECT name, size, body, note FROM items").fetch_one(db.reader()).await.unwrap();
        assert_eq!(row.col::<String>("name").unwrap(), "a", "{}", backend.label);
        assert_eq!(row.col::<i64>("size").unwrap(), 1 << 40, "{}", backend.label);
        assert_eq!(row.col::<Vec<u8>>("body").unwrap(), vec![0, 1, 2], "{}", backend.label);
        assert_eq!(row.col::<Option<String>>("note").unwrap(), None, "{}", backend.label);
        db.close().await;
    }
}

#[tokio::test]
async fn a_bad_column_is_an_error_naming_it_not_a_panic() {
    for backend in backends() {
        let db = Db::open(&backend.location, "sample", &MIGRATIONS).await.unwrap();
        sqlx::query("INSERT INTO items (name, size, body) VALUES ('b', 2, $1)")
            .bind(vec![1_u8])
            .execute(db.writer())
            .await
            .unwrap();
        let row = sqlx::query("SELECT name, note FROM items").fetch_one(db.reader()).await.unwrap();
        let missing = row.col::<String>("nope").unwrap_err();
        assert!(matches!(&missing, DbError::Corrupt { what, .. } if what == "column nope"), "{missing}");
        let null = row.col::<String>("note").unwrap_err();
        assert!(null.to_string().contains("column note"), "{}: {null}", backend.label);
        db.close().await;
    }
}

#[tokio::test]
async fn a_failed_transaction_leaves_nothing_behind() {
    for backend in backends() {
        let db = Db::open(&backend.location, "sample", &MIGRATIONS).await.unwrap();
        {
            let mut tx = db.write().await.unwrap();
            sqlx::query("INSERT INTO items (name, size, body) VALUES ('c', 3, $1)")
                .bind(vec![1_u8])
                .execute(&mut *tx)
                .await
                .unwrap();
            // A duplicate key fails; the transaction is dropped without commit.
            let dup = sqlx::query("INSERT INTO items (name, size, body) VALUES ('c', 3, $1)")
                .bind(vec![1_u8])
                .execute(&mut *tx)
                .await;
            assert!(dup.is_err(), "{}", backend.label);
        }
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM items").fetch_one(db.reader()).await.unwrap();
        assert_eq!(n, 0, "{}", backend.label);
        db.close().await;
    }
}

#[tokio::test]
async fn concurrent_writers_never_lose_an_increment() {
    for backend in backends() {
        let db = Db::open(&backend.location, "sample", &MIGRATIONS).await.unwrap();
        sqlx::query("INSERT INTO items (name, size, body) VALUES ('counter', 0, $1)")
            .bind(Vec::<u8>::new())
            .execute(db.writer())
            .await
            .unwrap();
        let mut workers = Vec::new();
        for _ in 0..8 {
            let db = db.clone();
            workers.push(tokio::spawn(async move {
                for _ in 0..25 {
                    let mut tx = db.write().await.unwrap();
                    db.lock(&mut tx, "counter").await.unwrap();
                    let n: i64 = sqlx::query_scalar("SELECT size FROM items WHERE name = 'counter'")
                        .fetch_one(&mut *tx)
                        .await
                        .unwrap();
                    sqlx::query("UPDATE items SET size = $1 WHERE name = 'counter'")
                        .bind(n + 1)
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                }
            }));
        }
        for w in workers {
            w.await.unwrap();
        }
        let n: i64 =
            sqlx::query_scalar("SELECT size FROM items WHERE name = 'counter'").fetch_one(db.reader()).await.unwrap();
        assert_eq!(n, 200, "{}", backend.label);
        db.close().await;
    }
}

#[tokio::test]
async fn a_lease_has_one_holder_until_it_expires_or_is_released() {
    for backend in backends() {
        let db = Db::open(&backend.location, "sample", &MIGRATIONS).await.unwrap();
        let leases = Leases::new(db.clone());
        let a = leases.acquire("gc", "replica-a", 1_000, 500).await.unwrap().expect("free lease taken");
        assert_eq!((a.holder.as_str(), a.expires_at), ("replica-a", 1_500));
        assert_eq!(leases.acquire("gc", "replica-b", 1_200, 500).await.unwrap(), None, "{}", backend.label);
        let renewed = leases.acquire("gc", "replica-a", 1_400, 500).await.unwrap().unwrap();
        assert!(renewed.token > a.token && renewed.expires_at == 1_900);
        assert_eq!(leases.acquire("gc", "replica-b", 1_899, 500).await.unwrap(), None);
        let taken = leases.acquire("gc", "replica-b", 1_900, 500).await.unwrap().expect("expired lease taken over");
        assert_eq!(taken.holder, "replica-b");
        assert!(taken.token > renewed.token);
        leases.release("gc", "replica-a").await.unwrap();
        assert_eq!(leases.get("gc").await.unwrap().unwrap().holder, "replica-b", "only the holder releases");
        leases.release("gc", "replica-b").await.unwrap();
        assert!(leases.acquire("gc", "replica-a", 1_901, 500).await.unwrap().is_some());
        db.close().await;
    }
}

#[tokio::test]
async fn racing_holders_get_the_lease_exactly_once() {
    for backend in backends() {
        let db = Db::open(&backend.location, "sample", &MIGRATIONS).await.unwrap();
        let leases = Leases::new(db.clone());
        let mut racers = Vec::new();
        for i in 0..8 {
            let leases = leases.clone();
            racers.push(tokio::spawn(async move { leases.acquire("ctl", &format!("r{i}"), 10, 1_000).await }));
        }
        let mut winners = 0;
        for r in racers {
            winners += usize::from(r.await.unwrap().unwrap().is_some());
        }
        assert_eq!(winners, 1, "{}", backend.label);
        db.close().await;
    }
}

#[tokio::test]
async fn an_exclusive_session_lock_waits_for_shared_holders_across_connections() {
    use flotilla_db::LockMode;
    for backend in backends() {
        let db = Db::open(&backend.location, "sample", &MIGRATIONS).await.unwrap();
        // Another process sharing the database: its own pools.
        let other = Db::open(&backend.location, "sample", &MIGRATIONS).await.unwrap();
        let shared_a = db.session_lock("gc", LockMode::Shared).await.unwrap();
        let shared_b = other.session_lock("gc", LockMode::Shared).await.unwrap();
        let exclusive = tokio::spawn({
            let other = other.clone();
            async move { other.session_lock("gc", LockMode::Exclusive).await.unwrap() }
        });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let postgres = backend.label == "postgres";
        assert_eq!(
            exclusive.is_finished(),
            !postgres,
            "{}: exclusive waits only where locks span processes",
            backend.label
        );
        shared_a.release().await;
        drop(shared_b); // dropped without release: its session ends, which releases it too
        let exclusive = tokio::time::timeout(std::time::Duration::from_secs(10), exclusive).await.unwrap().unwrap();
        if postgres {
            let blocked =
                tokio::time::timeout(std::time::Duration::from_millis(300), db.session_lock("gc", LockMode::Shared))
                    .await;
            assert!(blocked.is_err(), "a shared holder waits while the exclusive lock is held");
        }
        exclusive.release().await;
        db.session_lock("gc", LockMode::Shared).await.unwrap().release().await;
        db.close().await;
        other.close().await;
    }
}

#[tokio::test]
async fn a_lock_wait_given_up_leaves_no_lock_behind() {
    use flotilla_db::LockMode;
    use std::time::Duration;
    for backend in backends() {
        let db = Db::open(&backend.location, "sample", &MIGRATIONS).await.unwrap();
        let exclusive = db.session_lock("gc", LockMode::Exclusive).await.unwrap();
        // A waiter gives up (a client went away) while the exclusive holder holds on.
        let gave_up = tokio::time::timeout(Duration::from_millis(200), db.session_lock("gc", LockMode::Shared)).await;
        assert_eq!(gave_up.is_err(), backend.label == "postgres", "{}", backend.label);
        exclusive.release().await;
        // The abandoned wait must not have left a shared lock that blocks the next exclusive one.
        let again = tokio::time::timeout(Duration::from_secs(10), db.session_lock("gc", LockMode::Exclusive)).await;
        again.expect("an exclusive lock after an abandoned wait").unwrap().release().await;
        db.close().await;
    }
}

#[tokio::test]
async fn the_database_clock_is_epoch_milliseconds() {
    for backend in backends() {
        let db = Db::open(&backend.location, "sample", &MIGRATIONS).await.unwrap();
        let local = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        let remote = db.now_ms().await.unwrap();
        assert!((remote - local).abs() < 60_000, "{}: {remote} vs {local}", backend.label);
        db.close().await;
    }
}

#[tokio::test]
async fn sqlite_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let location = flotilla_db::StoreLocation::Sqlite { dir: dir.path().to_path_buf() };
    let db = Db::open(&location, "sample", &MIGRATIONS).await.unwrap();
    sqlx::query("INSERT INTO items (name, size, body) VALUES ('secret', 1, $1)")
        .bind(b"value".to_vec())
        .execute(db.writer())
        .await
        .unwrap();
    for file in ["sample.db", "sample.db-wal", "sample.db-shm"] {
        let mode = std::fs::metadata(dir.path().join(file)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file} is {mode:o}");
    }
    db.close().await;
}
