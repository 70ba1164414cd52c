//! The `awslogs` log driver: what a container prints goes to CloudWatch Logs.
//!
//! For each container whose definition says `logDriver: awslogs`, a **follower**
//! reads the container's output from the runtime and appends every line to a spool
//! file on disk; a **shipper** reads the spool from its committed offset, sends
//! batches with PutLogEvents (AWS's limits: 10,000 events, 1 MiB counting 26 bytes
//! an event, 24 hours), and commits the new offset only once the batch is stored.
//! So lines survive an agent restart (a restarted agent resumes both from the spool
//! and its cursor), and a container that floods its output cannot fill the agent's
//! memory: the runtime's channel is bounded and the spool is on disk.
//!
//! Drop policy: a spool holds at most [`MAX_UNSHIPPED_BYTES`] not yet shipped; lines
//! beyond that are dropped (counted and logged) until the shipper catches up.
//!
//! Events go to group `awslogs-group` (created first when `awslogs-create-group` is
//! `true`) and stream `PREFIX/CONTAINER/TASK_ID` with `awslogs-stream-prefix`, the
//! container's id otherwise, as ECS names them. A task with an execution role has its
//! lines shipped as that role (its credentials asked for from the control plane and
//! renewed before they expire), so the role's policies decide.

use crate::client::ControlPlaneClient;
use crate::runtime::{ContainerRuntime, LogLine};
use flotilla_core::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Unshipped bytes a spool may hold before new lines are dropped.
pub const MAX_UNSHIPPED_BYTES: u64 = 256 * 1024 * 1024;
const MAX_BATCH_EVENTS: usize = 10_000;
const MAX_BATCH_BYTES: usize = 1_048_576;
const EVENT_OVERHEAD: usize = 26;
/// The longest message one event carries; longer lines are split.
const MAX_EVENT_BYTES: usize = 262_144 - EVENT_OVERHEAD;
const DAY_MS: i64 = 24 * 3600 * 1000;
const LOGS_TARGET: &str = "Logs_20140328";
/// How much of a spool's end is read when resuming.
const TAIL_BYTES: u64 = 4 * 1024 * 1024;

/// Where one container's lines go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogTarget {
    pub group: String,
    pub stream: String,
    pub create_group: bool,
    /// The task whose execution role ships the lines (the agent ships them itself
    /// for a task without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role_of: Option<TaskRef>,
}

/// A task, as its execution role's credentials are asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRef {
    pub cluster: String,
    pub task_arn: String,
}

impl LogTarget {
    /// The target of a container with `options` (`awslogs-…`), as ECS names streams.
    pub fn awslogs(
        options: &std::collections::BTreeMap<String, String>,
        container: &str,
        task_id: &str,
        container_id: &str,
    ) -> Option<Self> {
        let group = options.get("awslogs-group")?.clone();
        let stream = match options.get("awslogs-stream-prefix") {
            Some(prefix) => format!("{prefix}/{container}/{task_id}"),
            None => container_id.to_string(),
        };
        let create_group = options.get("awslogs-create-group").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        Some(Self { group, stream, create_group, execution_role_of: None })
    }
}

/// What a spool knows besides its lines: where they go, whether the container's
/// output has ended, and the last line spooled (to skip lines seen again on resume).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    target: LogTarget,
    container_id: String,
    closed: bool,
    /// (timestamp ms, nanos) of the last line spooled, and how many lines had it.
    last: (i64, u32),
    last_count: u32,
    dropped: u64,
}

/// One spooled line: its timestamp (ms, and nanoseconds within the second, to tell
/// lines apart when resuming) and its text.
#[derive(Serialize, Deserialize)]
struct Spooled {
    t: i64,
    #[serde(default)]
    n: u32,
    m: String,
}

/// The agent's log shipping: one follower and one shipper per container.
#[derive(Clone)]
pub struct LogShipping {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    client: ControlPlaneClient,
    /// This agent's container instance ARN (execution role credentials are asked as it).
    container_instance: Mutex<String>,
    /// Clients calling as tasks' execution roles, by task ARN, with their expiry.
    roles: Mutex<HashMap<String, (ControlPlaneClient, Timestamp)>>,
    runtime: Arc<dyn ContainerRuntime>,
    /// Spools with a live follower / shipper.
    following: Mutex<HashSet<String>>,
    shipping: Mutex<HashSet<String>>,
}

impl LogShipping {
    /// Shipping with spools in `dir`; call [`Self::resume`] once to finish what an
    /// earlier run left.
    pub fn new(dir: PathBuf, client: ControlPlaneClient, runtime: Arc<dyn ContainerRuntime>) -> Self {
        Self {
            inner: Arc::new(Inner {
                dir,
                client,
                container_instance: Mutex::default(),
                roles: Mutex::default(),
                runtime,
                following: Mutex::default(),
                shipping: Mutex::default(),
            }),
        }
    }

    /// The container instance ARN the agent registered as.
    pub fn set_container_instance(&self, arn: &str) {
        *self.inner.container_instance.lock().unwrap_or_else(|p| p.into_inner()) = arn.to_string();
    }

    /// Creates the target's group (when asked to) and stream as whoever ships its
    /// lines, as Docker's awslogs driver does when a container starts: a task whose
    /// execution role may not fails to start with the reason.
    pub async fn prepare(&self, target: &LogTarget) -> Result<(), String> {
        let client = client_for(&self.inner, target).await?;
        prepare(&client, target).await.map_err(|e| e.to_string())
    }

    /// Ships every spool an earlier run left; containers still running are followed
    /// again when their supervisor adopts them ([`Self::follow`]).
    pub fn resume(&self) {
        let Ok(entries) = std::fs::read_dir(&self.inner.dir) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some(key) = name.strip_suffix(".meta") {
                self.ship(key.to_string());
            }
        }
    }

    /// Follows a container's output into its spool (again, after a restart) and
    /// ships it. Idempotent per container.
    pub fn follow(&self, container_id: &str, target: LogTarget) {
        let key = container_id.to_string();
        if !self.inner.following.lock().unwrap_or_else(|p| p.into_inner()).insert(key.clone()) {
            return;
        }
        let spool = Spool::new(&self.inner.dir, &key);
        let meta = match spool.meta() {
            Some(m) => m,
            None => Meta { target, container_id: key.clone(), closed: false, last: (0, 0), last_count: 0, dropped: 0 },
        };
        if let Err(e) = spool.save_meta(&meta) {
            tracing::warn!(container = %key, error = %e, "the log spool cannot be written; output is not shipped");
            return;
        }
        let inner = self.inner.clone();
        tokio::spawn(async move {
            if let Err(e) = follow(&inner, &spool, meta).await {
                tracing::warn!(container = %spool.key, error = %e, "following a container's output failed");
            }
            inner.following.lock().unwrap_or_else(|p| p.into_inner()).remove(&spool.key);
        });
        self.ship(key);
    }

    fn ship(&self, key: String) {
        if !self.inner.shipping.lock().unwrap_or_else(|p| p.into_inner()).insert(key.clone()) {
            return;
        }
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let spool = Spool::new(&inner.dir, &key);
            ship(&inner, &spool).await;
            inner.shipping.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
        });
    }
}

/// A container's spool: `KEY.log` (JSON lines), `KEY.cursor` (the committed
/// offset) and `KEY.meta`.
struct Spool {
    key: String,
    log: PathBuf,
    cursor: PathBuf,
    meta: PathBuf,
}

impl Spool {
    fn new(dir: &Path, key: &str) -> Self {
        Self {
            key: key.to_string(),
            log: dir.join(format!("{key}.log")),
            cursor: dir.join(format!("{key}.cursor")),
            meta: dir.join(format!("{key}.meta")),
        }
    }

    fn meta(&self) -> Option<Meta> {
        serde_json::from_slice(&std::fs::read(&self.meta).ok()?).ok()
    }

    fn save_meta(&self, meta: &Meta) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(meta).map_err(std::io::Error::other)?;
        write_atomically(&self.meta, &bytes)
    }

    fn committed(&self) -> u64 {
        std::fs::read_to_string(&self.cursor).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
    }

    fn commit(&self, offset: u64) -> std::io::Result<()> {
        write_atomically(&self.cursor, offset.to_string().as_bytes())
    }

    fn remove(&self) {
        for p in [&self.log, &self.cursor, &self.meta] {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Each file its own temporary (the cursor and the meta are written concurrently).
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Appends the container's lines to the spool until its output ends.
async fn follow(inner: &Inner, spool: &Spool, mut meta: Meta) -> std::io::Result<()> {
    let mut lines = match inner.runtime.logs(&meta.container_id, meta.last.0.div_euclid(1000)).await {
        Ok(lines) => lines,
        Err(e) => {
            // The container is gone: what was spooled is all there is.
            tracing::info!(container = %spool.key, error = %e, "a container's output cannot be followed");
            meta.closed = true;
            return spool.save_meta(&meta);
        }
    };
    // The spool itself says where it ended: a line cut short by a crash is dropped
    // (it is read again from the runtime), and lines up to the last whole one
    // (Docker resumes at whole seconds) were spooled before: they are skipped.
    if let Some((last, count)) = repair_tail(&spool.log)? {
        (meta.last, meta.last_count) = (last, count);
    }
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&spool.log)?;
    let (resume_at, resume_count) = (meta.last, meta.last_count);
    let mut skipped_at_resume = 0u32;
    let mut pending: Vec<LogLine> = Vec::new();
    while let Some(line) = lines.recv().await {
        // Take what is there, then write it in one go.
        pending.push(line);
        while pending.len() < 1000 {
            match lines.try_recv() {
                Ok(line) => pending.push(line),
                Err(_) => break,
            }
        }
        let mut out = Vec::new();
        let unshipped = file.metadata()?.len().saturating_sub(spool.committed());
        for line in pending.drain(..) {
            let at = (line.timestamp, line.nanos);
            if at < resume_at || (at == resume_at && skipped_at_resume < resume_count) {
                skipped_at_resume += u32::from(at == resume_at);
                continue;
            }
            if at == meta.last {
                meta.last_count += 1;
            } else {
                meta.last = at;
                meta.last_count = 1;
            }
            if unshipped + out.len() as u64 > MAX_UNSHIPPED_BYTES {
                meta.dropped += 1;
                continue;
            }
            for chunk in split_message(&line.text) {
                serde_json::to_writer(&mut out, &Spooled { t: line.timestamp, n: line.nanos, m: chunk.to_string() })
                    .map_err(std::io::Error::other)?;
                out.push(b'\n');
            }
        }
        file.write_all(&out)?;
        file.sync_data()?;
        spool.save_meta(&meta)?;
    }
    if meta.dropped > 0 {
        tracing::warn!(container = %spool.key, dropped = meta.dropped, "log lines were dropped: the spool was full");
    }
    meta.closed = true;
    spool.save_meta(&meta)
}

/// Cuts a partly written last line off the spool, and returns the position of its
/// last whole line with how many whole lines at its end share it (`None` for an empty
/// or missing spool).
fn repair_tail(path: &Path) -> std::io::Result<Option<((i64, u32), u32)>> {
    let mut file = match std::fs::OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    // Only the tail is read: a spool may be large, and one line is at most a few
    // hundred KiB.
    let len = file.metadata()?.len();
    let start = len.saturating_sub(TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes)?;
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    if whole < bytes.len() && (whole > 0 || start == 0) {
        file.set_len(start + whole as u64)?;
    }
    let mut last: Option<(i64, u32)> = None;
    let mut count = 0u32;
    for line in bytes[..whole].split(|b| *b == b'\n').rev().filter(|l| !l.is_empty()) {
        let Ok(spooled) = serde_json::from_slice::<Spooled>(line) else { continue };
        let at = (spooled.t, spooled.n);
        match last {
            None => {
                last = Some(at);
                count = 1;
            }
            Some(l) if l == at => count += 1,
            Some(_) => break,
        }
    }
    Ok(last.map(|l| (l, count)))
}

/// Splits a message into pieces of at most [`MAX_EVENT_BYTES`] on character bounds;
/// an empty line becomes one space (events cannot be empty).
fn split_message(text: &str) -> Vec<&str> {
    if text.is_empty() {
        return vec![" "];
    }
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > MAX_EVENT_BYTES {
        let mut cut = MAX_EVENT_BYTES;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out.push(rest);
    out
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InputEvent<'a> {
    timestamp: i64,
    message: &'a str,
}

/// Execution role credentials are asked for again this long before they expire.
const ROLE_RENEW_BEFORE_MS: i64 = 10 * 60 * 1000;

/// The client a target's lines are shipped with: the agent's, or one calling as the
/// task's execution role.
async fn client_for(inner: &Inner, target: &LogTarget) -> Result<ControlPlaneClient, String> {
    let Some(task) = &target.execution_role_of else { return Ok(inner.client.clone()) };
    let cached = inner.roles.lock().unwrap_or_else(|p| p.into_inner()).get(&task.task_arn).cloned();
    if let Some((client, expires)) = cached
        && expires.0 - Timestamp::now().0 > ROLE_RENEW_BEFORE_MS
    {
        return Ok(client);
    }
    let instance = inner.container_instance.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let credentials = crate::secrets::execution_credentials(&inner.client, &task.cluster, &instance, &task.task_arn)
        .await
        .map_err(|e| e.to_string())?;
    let expires = Timestamp::parse_iso8601(&credentials.expiration).unwrap_or_else(|_| Timestamp::now());
    let client = crate::secrets::as_role(&inner.client, &credentials);
    let mut roles = inner.roles.lock().unwrap_or_else(|p| p.into_inner());
    roles.retain(|_, (_, e)| e.0 > Timestamp::now().0);
    roles.insert(task.task_arn.clone(), (client.clone(), expires));
    Ok(client)
}

/// Sends the spool's lines from the committed offset until the container's output
/// has ended and everything is shipped; then removes the spool.
async fn ship(inner: &Inner, spool: &Spool) {
    let mut backoff = Duration::from_millis(200);
    let mut prepared = false;
    loop {
        let Some(meta) = spool.meta() else { return };
        let offset = spool.committed();
        let batch = match read_batch(&spool.log, offset) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(container = %spool.key, error = %e, "reading the log spool failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if batch.events.is_empty() {
            if meta.closed
                && spool.meta().is_some_and(|m| m.closed)
                && read_batch(&spool.log, offset).is_ok_and(|b| b.events.is_empty())
            {
                spool.remove();
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        let client = match client_for(inner, &meta.target).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(group = %meta.target.group, error = %e, "no credentials to ship log events with; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(15));
                continue;
            }
        };
        if !prepared {
            match prepare(&client, &meta.target).await {
                Ok(()) => prepared = true,
                Err(e) => {
                    tracing::warn!(group = %meta.target.group, error = %e, "creating the log group or stream failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(15));
                    continue;
                }
            }
        }
        let events: Vec<InputEvent<'_>> =
            batch.events.iter().map(|(t, m)| InputEvent { timestamp: *t, message: m.as_str() }).collect();
        let input = serde_json::json!({
            "logGroupName": meta.target.group,
            "logStreamName": meta.target.stream,
            "logEvents": events,
        });
        let sent: Result<serde_json::Value, _> =
            client.call_service("logs", &format!("{LOGS_TARGET}.PutLogEvents"), &input).await;
        match sent {
            Ok(_) => {
                backoff = Duration::from_millis(200);
                if let Err(e) = spool.commit(batch.end) {
                    tracing::warn!(container = %spool.key, error = %e, "committing the log spool's offset failed");
                }
            }
            Err(e) => {
                if e.code() == Some("ResourceNotFoundException") {
                    prepared = false;
                }
                tracing::warn!(group = %meta.target.group, error = %e, "shipping log events failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(15));
            }
        }
    }
}

/// Creates the group (when asked to) and the stream; either existing is fine.
async fn prepare(client: &ControlPlaneClient, target: &LogTarget) -> Result<(), crate::client::ClientError> {
    let exists = |r: Result<serde_json::Value, crate::client::ClientError>| match r {
        Err(e) if e.code() != Some("ResourceAlreadyExistsException") => Err(e),
        _ => Ok(()),
    };
    if target.create_group {
        let input = serde_json::json!({"logGroupName": target.group});
        exists(client.call_service("logs", &format!("{LOGS_TARGET}.CreateLogGroup"), &input).await)?;
    }
    let input = serde_json::json!({"logGroupName": target.group, "logStreamName": target.stream});
    exists(client.call_service("logs", &format!("{LOGS_TARGET}.CreateLogStream"), &input).await)
}

/// A batch read from a spool: events in order and the offset after them.
struct Batch {
    events: Vec<(i64, String)>,
    end: u64,
}

/// Reads events from `offset` within PutLogEvents' limits (count, bytes, 24 hours,
/// chronological: a line stamped earlier than the one before it takes that one's time).
fn read_batch(path: &Path, offset: u64) -> std::io::Result<Batch> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Batch { events: Vec::new(), end: offset }),
        Err(e) => return Err(e),
    };
    let mut reader = std::io::BufReader::new(file);
    reader.seek(SeekFrom::Start(offset))?;
    let mut events: Vec<(i64, String)> = Vec::new();
    let mut bytes = 0usize;
    let mut end = offset;
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line)?;
        if n == 0 || !line.ends_with('\n') {
            break; // the end, or a line still being written
        }
        let Ok(spooled) = serde_json::from_str::<Spooled>(line.trim_end()) else {
            end += n as u64; // a damaged line is skipped
            continue;
        };
        let size = spooled.m.len() + EVENT_OVERHEAD;
        let first = events.first().map(|e| e.0);
        let timestamp = events.last().map_or(spooled.t, |last| spooled.t.max(last.0));
        if events.len() == MAX_BATCH_EVENTS
            || bytes + size > MAX_BATCH_BYTES
            || first.is_some_and(|f| timestamp - f > DAY_MS)
        {
            break;
        }
        bytes += size;
        end += n as u64;
        events.push((timestamp, spooled.m));
    }
    Ok(Batch { events, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spool_lines(path: &Path, lines: &[(i64, &str)]) {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        for (t, m) in lines {
            serde_json::to_writer(&mut f, &Spooled { t: *t, n: 0, m: m.to_string() }).unwrap();
            f.write_all(b"\n").unwrap();
        }
    }

    #[test]
    fn batches_keep_order_and_respect_the_limits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let lines: Vec<(i64, String)> = (0..10_050).map(|i| (1_000 + i, format!("line {i}"))).collect();
        let refs: Vec<(i64, &str)> = lines.iter().map(|(t, m)| (*t, m.as_str())).collect();
        spool_lines(&path, &refs);
        let first = read_batch(&path, 0).unwrap();
        assert_eq!(first.events.len(), MAX_BATCH_EVENTS);
        let second = read_batch(&path, first.end).unwrap();
        assert_eq!(second.events.len(), 50);
        assert_eq!(second.events[0].1, "line 10000");
        assert!(read_batch(&path, second.end).unwrap().events.is_empty());
    }

    #[test]
    fn a_batch_is_chronological_and_spans_at_most_a_day() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        spool_lines(&path, &[(5_000, "a"), (4_000, "b"), (6_000, "c"), (6_000 + DAY_MS, "d")]);
        let batch = read_batch(&path, 0).unwrap();
        let times: Vec<i64> = batch.events.iter().map(|e| e.0).collect();
        assert_eq!(times, [5_000, 5_000, 6_000]);
        assert_eq!(read_batch(&path, batch.end).unwrap().events[0].1, "d");
    }

    #[test]
    fn a_line_still_being_written_waits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        spool_lines(&path, &[(1, "whole")]);
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"t\":2,\"m\":\"ha").unwrap();
        let batch = read_batch(&path, 0).unwrap();
        assert_eq!(batch.events, vec![(1, "whole".to_string())]);
    }

    #[test]
    fn a_line_cut_short_by_a_crash_is_dropped_and_the_tail_says_where_to_resume() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        assert_eq!(repair_tail(&path).unwrap(), None);
        spool_lines(&path, &[(1, "a"), (2, "b"), (2, "c")]);
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"t\":3,\"m\":\"d").unwrap();
        assert_eq!(repair_tail(&path).unwrap(), Some(((2, 0), 2)));
        assert!(std::fs::read_to_string(&path).unwrap().ends_with("\"c\"}\n"), "the cut line is gone");
    }

    #[test]
    fn long_lines_split_on_character_bounds_and_empty_ones_are_kept() {
        let long = "é".repeat(MAX_EVENT_BYTES);
        let parts = split_message(&long);
        assert!(parts.iter().all(|p| p.len() <= MAX_EVENT_BYTES));
        assert_eq!(parts.concat(), long);
        assert_eq!(split_message(""), vec![" "]);
    }

    #[test]
    fn stream_names_follow_ecs() {
        let mut options = std::collections::BTreeMap::new();
        options.insert("awslogs-group".to_string(), "/ecs/web".to_string());
        let t = LogTarget::awslogs(&options, "app", "abc", "c0ffee").unwrap();
        assert_eq!((t.stream.as_str(), t.create_group), ("c0ffee", false));
        options.insert("awslogs-stream-prefix".to_string(), "web".to_string());
        options.insert("awslogs-create-group".to_string(), "true".to_string());
        let t = LogTarget::awslogs(&options, "app", "abc", "c0ffee").unwrap();
        assert_eq!((t.stream.as_str(), t.create_group), ("web/app/abc", true));
    }
}
