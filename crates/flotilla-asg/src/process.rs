//! Local processes as Linux shows them in `/proc`: which process a pid is now (its
//! start time, its command line), whether it is still running, and signals to it
//! (through `rustix`, so no `unsafe` here).

use crate::model::ProcessRecord;
use rustix::process::{Pid, Signal};

/// This boot's id; empty when it cannot be read.
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// This host's name; empty when it cannot be read.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// The state letter and start time (clock ticks after boot) in a `/proc/PID/stat` line.
fn parse_stat(stat: &str) -> Option<(char, u64)> {
    // `pid (comm) state …`: the command may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    // Field 22 of the line is the 20th after the command.
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

fn stat(pid: u32) -> Option<(char, u64)> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The record of a process running now (to find it again later).
pub fn record_of(pid: u32) -> Option<ProcessRecord> {
    let (_, start_ticks) = stat(pid)?;
    Some(ProcessRecord { pid, start_ticks, boot_id: boot_id(), host: host() })
}

/// Whether `record` names a process of this host.
pub fn is_local(record: &ProcessRecord) -> bool {
    record.host.is_empty() || record.host == host()
}

/// Whether the process `record` names still runs: the same boot, the same start time
/// (so not a reused pid), not a zombie, and (once it has exec'd) `mark` in its
/// command line.
pub fn is_running(record: &ProcessRecord, mark: &str) -> bool {
    if record.boot_id != boot_id() {
        return false;
    }
    match stat(record.pid) {
        Some((state, start)) if start == record.start_ticks && state != 'Z' && state != 'X' => {}
        _ => return false,
    }
    match std::fs::read(format!("/proc/{}/cmdline", record.pid)) {
        Ok(cmdline) => cmdline.split(|b| *b == 0).any(|arg| arg == mark.as_bytes()),
        Err(_) => false,
    }
}

/// Whether the process `record` names still exists and is not a zombie (whatever its
/// command line).
pub fn is_alive(record: &ProcessRecord) -> bool {
    matches!(stat(record.pid), Some((state, start)) if start == record.start_ticks && state != 'Z' && state != 'X')
}

/// The value after `flag` in the command line of process `pid`.
pub fn flag_of(pid: u32, flag: &str) -> Option<String> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let at = args.iter().position(|a| *a == flag.as_bytes())?;
    args.get(at + 1).map(|v| String::from_utf8_lossy(v).to_string())
}

/// Sends SIGTERM (or SIGKILL when `kill`) to `pid`; a process already gone is fine.
pub fn signal(pid: u32, kill: bool) {
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else { return };
    let signal = if kill { Signal::KILL } else { Signal::TERM };
    if let Err(e) = rustix::process::kill_process(pid, signal)
        && e != rustix::io::Errno::SRCH
    {
        tracing::warn!(pid = pid.as_raw_nonzero().get(), error = %e, "signalling a launched agent failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_are_read_past_odd_command_names() {
        let line = "4242 (flo (tilla) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 4 0 987654 1000 10 0";
        assert_eq!(parse_stat(line), Some(('S', 987_654)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
    }

    #[test]
    fn this_process_is_running_and_a_changed_record_is_not() {
        let me = record_of(std::process::id()).expect("this process is in /proc");
        assert!(is_local(&me));
        let exe = std::fs::read(format!("/proc/{}/cmdline", me.pid)).unwrap();
        let first = String::from_utf8_lossy(exe.split(|b| *b == 0).next().unwrap()).to_string();
        assert!(is_running(&me, &first));
        assert!(!is_running(&me, "i-not-in-the-command-line"));
        assert!(!is_running(&ProcessRecord { start_ticks: me.start_ticks + 1, ..me.clone() }, &first), "pid reused");
        assert!(!is_running(&ProcessRecord { boot_id: "another boot".into(), ..me.clone() }, &first));
        assert!(!is_local(&ProcessRecord { host: "elsewhere.example".into(), ..me }));
    }
}
