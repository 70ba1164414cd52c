//! One process per directory: an exclusive OS file lock on `DIR/flotilla.lock`, held
//! for the life of the process. The kernel releases it when the process exits, however
//! it exits, so a `kill -9` never leaves a stale lock behind. The holder writes its pid
//! into the file so that a refused process can name it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The lock file's name inside the locked directory.
pub const LOCK_FILE: &str = "flotilla.lock";

/// Why a directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum DirLockError {
    #[error(
        "the {kind} {} is in use by another flotilla process{}; stop that process or choose another {kind}",
        .dir.display(),
        .pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    InUse { kind: &'static str, dir: PathBuf, pid: Option<u32> },
    #[error("{what} {}: {source}", .path.display())]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
}

/// An exclusive lock on a directory; released when dropped or when the process ends.
#[derive(Debug)]
pub struct DirLock {
    dir: PathBuf,
    // Held open for the lock's sake: closing the file releases it.
    _file: File,
}

impl DirLock {
    /// Locks `dir` (a `kind`, such as "data directory", for messages), creating it if
    /// it does not exist yet. When another process holds it, fails with
    /// [`DirLockError::InUse`] without changing anything in it.
    pub fn acquire(dir: &Path, kind: &'static str) -> Result<Self, DirLockError> {
        let io = |what, path: &Path| {
            let path = path.to_path_buf();
            move |source| DirLockError::Io { what, path, source }
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io("creating the directory", dir))?;
        let path = dir.join(LOCK_FILE);
        // Neither truncated nor written before the lock is ours: a refused process
        // must leave the holder's pid in place.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io("opening the lock file", &path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(DirLockError::InUse { kind, dir: dir.to_path_buf(), pid: read_pid(&mut file) });
            }
            Err(TryLockError::Error(e)) => return Err(io("locking the lock file", &path)(e)),
        }
        // Only this user may read what is kept here (secrets, keys, state).
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io("making the directory private", dir))?;
        file.set_len(0).map_err(io("truncating the lock file", &path))?;
        file.rewind().map_err(io("rewinding the lock file", &path))?;
        writeln!(file, "{}", std::process::id()).map_err(io("writing the pid into the lock file", &path))?;
        Ok(Self { dir: dir.to_path_buf(), _file: file })
    }

    /// The locked directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The holder's pid, when the file holds one (it may be empty for the moment
/// between the holder taking the lock and writing its pid).
fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_a_held_directory_is_refused_with_the_holders_pid() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let held = DirLock::acquire(&data, "data directory").unwrap();
        assert_eq!(held.dir(), data);
        let written = std::fs::read_to_string(data.join(LOCK_FILE)).unwrap();
        assert_eq!(written, format!("{}\n", std::process::id()));

        // flock locks belong to open files, so a second open in this process conflicts
        // just as another process would.
        match DirLock::acquire(&data, "data directory") {
            Err(DirLockError::InUse { dir, pid, .. }) => {
                assert_eq!(dir, data);
                assert_eq!(pid, Some(std::process::id()));
            }
            other => panic!("expected the directory to be in use, got {other:?}"),
        }
        // The refused attempt left the holder's pid in place.
        assert_eq!(std::fs::read_to_string(data.join(LOCK_FILE)).unwrap(), written);

        drop(held);
        let again = DirLock::acquire(&data, "data directory").unwrap();
        assert_eq!(again.dir(), data);
    }

    #[test]
    fn a_locked_directory_is_private_whether_made_or_found() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let made = dir.path().join("made");
        let _made = DirLock::acquire(&made, "data directory").unwrap();
        let found = dir.path().join("found");
        std::fs::create_dir(&found).unwrap();
        std::fs::set_permissions(&found, std::fs::Permissions::from_mode(0o755)).unwrap();
        let _found = DirLock::acquire(&found, "data directory").unwrap();
        for d in [&made, &found] {
            let mode = std::fs::metadata(d).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{} is {mode:o}", d.display());
        }
    }

    #[test]
    fn the_refusal_names_the_directory_and_pid() {
        let err = DirLockError::InUse { kind: "data directory", dir: PathBuf::from("/srv/flotilla"), pid: Some(42) };
        assert_eq!(
            err.to_string(),
            "the data directory /srv/flotilla is in use by another flotilla process (pid 42); \
             stop that process or choose another data directory"
        );
        let err = DirLockError::InUse { kind: "agent state directory", dir: PathBuf::from("/srv/agent"), pid: None };
        assert!(
            err.to_string().starts_with("the agent state directory /srv/agent is in use by another flotilla process;")
        );
    }

    #[test]
    fn a_stale_pid_left_in_the_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), "999999999\n").unwrap();
        let _held = DirLock::acquire(dir.path(), "data directory").unwrap();
        let written = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert_eq!(written, format!("{}\n", std::process::id()));
    }
}
