//! Garbage collection of blobs that no manifest references.
//!
//! A blob is garbage when no manifest in any repository references it and no push or
//! mount has linked it within the grace period (so layers pushed ahead of their
//! manifest survive). Collection holds the registry's GC lock exclusively; committing
//! a blob holds it shared, so a blob file is never removed while an upload is placing
//! and recording it. Uploads in progress are files under `uploads/`, never collected.

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
    let _exclusive = state.gc_lock.write().await;
    let cutoff = Timestamp(Timestamp::now().0 - grace.as_millis() as i64);
    let removed = state.store.collect_garbage(cutoff).await?;
    for digest in &removed {
        match Digest::parse(digest) {
            Ok(d) => state.files.remove_blob(&d).await?,
            Err(e) => tracing::warn!(digest = %digest, error = %e, "skipping a blob with a malformed digest"),
        }
    }
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
