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
