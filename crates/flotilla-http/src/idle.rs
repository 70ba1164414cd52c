//! Which open connections are idle (no request in progress) and since when, so that
//! at the connection cap the longest-idle one can be closed for a newcomer instead of
//! the newcomer being refused: a flood of silent connections then cannot lock
//! everyone else out, it only pushes its own oldest connections out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Default)]
pub(crate) struct Connections {
    next: Mutex<u64>,
    open: Mutex<HashMap<u64, Entry>>,
}

struct Entry {
    /// Requests in progress; 0 is idle.
    busy: usize,
    idle_since: Instant,
    close: Arc<Notify>,
}

/// One connection's place in [`Connections`]; removed when dropped.
pub(crate) struct Tracked {
    id: u64,
    all: Arc<Connections>,
    pub(crate) close: Arc<Notify>,
}

impl Connections {
    pub(crate) fn track(self: &Arc<Self>) -> Tracked {
        let id = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            *next += 1;
            *next
        };
        let close = Arc::new(Notify::new());
        let entry = Entry { busy: 0, idle_since: Instant::now(), close: close.clone() };
        self.open.lock().unwrap_or_else(|p| p.into_inner()).insert(id, entry);
        Tracked { id, all: self.clone(), close }
    }

    /// Asks the connection idle the longest to close; false when none is idle.
    pub(crate) fn evict_longest_idle(&self) -> bool {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        match open.values().filter(|e| e.busy == 0).min_by_key(|e| e.idle_since) {
            Some(e) => {
                e.close.notify_one();
                true
            }
            None => false,
        }
    }
}

impl Tracked {
    /// A request started on this connection; it is busy until the guard is dropped.
    pub(crate) fn busy(&self) -> Busy {
        self.update(|e| e.busy += 1);
        Busy { id: self.id, all: self.all.clone() }
    }

    fn update(&self, f: impl FnOnce(&mut Entry)) {
        if let Some(e) = self.all.open.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&self.id) {
            f(e);
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.all.open.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
    }
}

/// A request in progress.
pub(crate) struct Busy {
    id: u64,
    all: Arc<Connections>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(e) = self.all.open.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&self.id) {
            e.busy = e.busy.saturating_sub(1);
            if e.busy == 0 {
                e.idle_since = Instant::now();
            }
        }
    }
}
