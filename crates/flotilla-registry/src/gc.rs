//! Garbage collection of blobs that no manifest references.
//!
//! A blob is garbage when no manifest in any repository references it and no push or
//! mount has linked it within the grace period (so layers pushed ahead of their
//! manifest survive). Collection holds the registry's GC lock exclusively; committing
//! or mounting a blob and storing a manifest hold it shared, so a blob file is never
//! removed while an upload is placing and recording it or a manifest is claiming it.
//! The lock is held in the process and in the store, so replicas sharing a PostgreSQL
//! store exclude each other too. Uploads in progress are files under `uploads/`, never collected.

use crate::State;
use crate::digest::Digest;
use crate::error::RegistryError;
use flotilla_domain::Timestamp;
use std::time::Duration;

/// What one collection did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    pub removed: Vec<String>,
}

pub(crate) async fn collect(state: &State, grace: Duration) -> Result<GcReport, RegistryError> {
    let exclusive = state.collecting().await?;
    let cutoff = Timestamp(Timestamp::now().0 - grace.as_millis() as i64);
    let removed = state.store.collect_garbage(cutoff).await?;
    // The rows are gone: a file that cannot be removed now is logged, and the others
    // are still removed.
    for digest in &removed {
        match Digest::parse(digest) {
            Ok(d) => {
                if let Err(e) = state.files.remove_blob(&d).await {
                    tracing::warn!(digest = %digest, error = %e, "removing a collected blob file failed");
                }
            }
            Err(e) => tracing::warn!(digest = %digest, error = %e, "skipping a blob with a malformed digest"),
        }
    }
    exclusive.release().await;
    tracing::info!(removed = removed.len(), "registry garbage collection finished");
    Ok(GcReport { removed })
}

/// Cancels uploads started more than `max_age` ago (abandoned by their clients),
/// waiting for any chunk in flight on each. Returns their ids.
pub(crate) async fn purge_uploads(state: &State, max_age: Duration) -> Result<Vec<String>, RegistryError> {
    let cutoff = Timestamp::now().0 - max_age.as_millis() as i64;
    let mut purged = Vec::new();
    for upload in state.store.uploads().await? {
        if upload.started_at.0 >= cutoff {
            continue;
        }
        let session = state.session(&upload.id);
        let _in_flight = session.lock().await;
        if state.store.delete_upload(&upload.id).await? {
            state.files.remove_upload(&upload.id).await?;
            purged.push(upload.id.clone());
        }
        state.forget_session(&upload.id);
    }
    if !purged.is_empty() {
        tracing::info!(purged = purged.len(), "abandoned uploads purged");
    }
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use crate::{Registry, RegistryConfig};
    use flotilla_domain::AccountContext;
    use std::time::Duration;

    async fn replica(dir: &std::path::Path, location: &flotilla_db::StoreLocation) -> Registry {
        let config = RegistryConfig { endpoint: "http://127.0.0.1:1".into(), create_on_push: true };
        Registry::open(dir, location, AccountContext::default(), b"test-key".to_vec(), config).await.unwrap()
    }

    #[tokio::test]
    async fn collection_waits_for_a_commit_on_another_replica_sharing_the_store() {
        for b in flotilla_db::testing::backends() {
            // Two replicas of one store; they share the blob directory as replicas on a shared
            // file system would.
            let files = tempfile::tempdir().unwrap();
            let a = replica(files.path(), &b.location).await;
            let c = replica(files.path(), &b.location).await;
            let committing = a.state.no_gc().await.unwrap();
            let collection = tokio::spawn(async move { c.collect_garbage(Duration::ZERO).await.map(|r| r.removed) });
            tokio::time::sleep(Duration::from_millis(300)).await;
            if b.label == "postgres" {
                assert!(!collection.is_finished(), "collection waits for the other replica's commit");
            }
            committing.release().await;
            let removed = tokio::time::timeout(Duration::from_secs(10), collection).await.unwrap().unwrap().unwrap();
            assert!(removed.is_empty(), "{}", b.label);
            a.close().await;
        }
    }
}
