//! Task-level CPU and memory limits (a task definition's `cpu` and `memory`, or
//! the task's overrides), enforced for all the task's containers together: the
//! agent makes a parent cgroup per task, `/flotilla/<task id>`, writes the limits
//! into it and creates every container of the task (the pause container too) with
//! it as `HostConfig.CgroupParent`; the kernel then caps their sum.
//!
//! - cgroup v2 with Docker's `cgroupfs` driver: `/sys/fs/cgroup/flotilla/<id>` with
//!   `cpu.max` = units/1024 × 100000 per 100000 µs and `memory.max` = MiB × 1 MiB;
//!   `+cpu +memory` is enabled in the parents' `cgroup.subtree_control` first.
//! - cgroup v1 with `cgroupfs`: the same in the `cpu` hierarchy
//!   (`cpu.cfs_period_us`/`cpu.cfs_quota_us`) and the `memory` one
//!   (`memory.limit_in_bytes`); runc creates the directory in the other hierarchies.
//! - Docker's `systemd` driver (or none, rootless): not supported; the task runs
//!   without a task-level limit (containers keep their own limits) and the agent
//!   warns. Likewise when the agent cannot write the cgroup files (an agent in a
//!   container without the host's `/sys/fs/cgroup`, say).
//!
//! The task's cgroup is removed when its containers have stopped (runc removes
//! each container's own cgroup when it exits), and again at cleanup if that failed.

use flotilla_domain::task::TaskOverride;
use flotilla_domain::task_definition::{TaskDefinitionSpec, parse_task_cpu, parse_task_memory};
use std::path::{Path, PathBuf};

/// The period of the CPU quota, in microseconds.
pub const CPU_PERIOD_US: u64 = 100_000;
/// The smallest quota the kernel accepts, in microseconds.
const MIN_CPU_QUOTA_US: u64 = 1_000;
/// The directory every task cgroup is made in.
const PARENT: &str = "flotilla";

/// A task's own limits, from its definition or its overrides.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskLimits {
    pub cpu_units: Option<i64>,
    pub memory_mib: Option<i64>,
}

impl TaskLimits {
    /// The overrides' `cpu`/`memory` when set, else the definition's.
    pub fn of(definition: &TaskDefinitionSpec, overrides: &TaskOverride) -> Self {
        let pick = |o: &Option<String>, d: &Option<String>, parse: fn(&str) -> Option<i64>| {
            o.as_deref().and_then(parse).or_else(|| d.as_deref().and_then(parse))
        };
        Self {
            cpu_units: pick(&overrides.cpu, &definition.cpu, parse_task_cpu),
            memory_mib: pick(&overrides.memory, &definition.memory, parse_task_memory),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.cpu_units.is_none() && self.memory_mib.is_none()
    }

    /// Microseconds of CPU per [`CPU_PERIOD_US`].
    pub fn cpu_quota_us(&self) -> Option<u64> {
        let units = u64::try_from(self.cpu_units?).ok()?;
        Some((units.saturating_mul(CPU_PERIOD_US) / 1024).max(MIN_CPU_QUOTA_US))
    }

    pub fn memory_bytes(&self) -> Option<u64> {
        u64::try_from(self.memory_mib?).ok()?.checked_mul(1024 * 1024)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("task-level limits are not enforced on this host: {0}")]
    Unsupported(String),
    #[error("'{0}' cannot name a task cgroup")]
    BadTaskId(String),
    #[error("{doing} {path}: {source}")]
    Io { doing: &'static str, path: String, source: std::io::Error },
}

/// How this host's cgroups are laid out, as far as task cgroups go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupMode {
    V1,
    V2,
    Unsupported(String),
}

/// Makes and removes task cgroups under a cgroup mount (`/sys/fs/cgroup`).
#[derive(Debug, Clone)]
pub struct TaskCgroups {
    root: PathBuf,
    mode: CgroupMode,
}

impl TaskCgroups {
    pub fn new(root: impl Into<PathBuf>, mode: CgroupMode) -> Self {
        Self { root: root.into(), mode }
    }

    /// Chooses the mode from what Docker says (`CgroupVersion`, `CgroupDriver`)
    /// and, when it says no version, from what `root` holds.
    pub fn detect(root: impl Into<PathBuf>, version: Option<&str>, driver: Option<&str>) -> Self {
        let root = root.into();
        let mode = match (driver.unwrap_or(""), version.unwrap_or("")) {
            ("systemd", _) => CgroupMode::Unsupported(
                "Docker uses the systemd cgroup driver; the agent makes task cgroups only with cgroupfs".into(),
            ),
            ("none", _) => CgroupMode::Unsupported("Docker manages no cgroups (rootless?)".into()),
            (_, "2") => CgroupMode::V2,
            (_, "1") => CgroupMode::V1,
            _ if root.join("cgroup.controllers").exists() => CgroupMode::V2,
            _ if root.join("cpu").is_dir() => CgroupMode::V1,
            _ => CgroupMode::Unsupported(format!("no cgroup hierarchy found under {}", root.display())),
        };
        Self { root, mode }
    }

    pub fn mode(&self) -> &CgroupMode {
        &self.mode
    }

    /// The `CgroupParent` of a task's containers.
    pub fn parent_of(task_id: &str) -> String {
        format!("/{PARENT}/{task_id}")
    }

    /// Makes the task's cgroup with its limits (again, if it exists); returns the
    /// cgroup parent for its containers.
    pub fn create(&self, task_id: &str, limits: &TaskLimits) -> Result<String, CgroupError> {
        check_id(task_id)?;
        match &self.mode {
            CgroupMode::Unsupported(why) => return Err(CgroupError::Unsupported(why.clone())),
            CgroupMode::V2 => self.create_v2(task_id, limits)?,
            CgroupMode::V1 => self.create_v1(task_id, limits)?,
        }
        Ok(Self::parent_of(task_id))
    }

    fn create_v2(&self, task_id: &str, limits: &TaskLimits) -> Result<(), CgroupError> {
        let available = read(&self.root.join("cgroup.controllers")).unwrap_or_default();
        if !has_controllers(&available) {
            return Err(CgroupError::Unsupported(format!(
                "the cpu and memory controllers are not available in {} (cgroup.controllers: '{}')",
                self.root.display(),
                available.trim()
            )));
        }
        let base = self.root.join(PARENT);
        let dir = base.join(task_id);
        enable_controllers(&self.root)?;
        make_dir(&base)?;
        enable_controllers(&base)?;
        make_dir(&dir)?;
        let cpu = limits.cpu_quota_us().map_or("max".to_string(), |q| q.to_string());
        write(&dir.join("cpu.max"), &format!("{cpu} {CPU_PERIOD_US}"))?;
        write(&dir.join("memory.max"), &limits.memory_bytes().map_or("max".to_string(), |b| b.to_string()))?;
        enable_controllers(&dir)
    }

    fn create_v1(&self, task_id: &str, limits: &TaskLimits) -> Result<(), CgroupError> {
        for controller in ["cpu", "memory"] {
            if !self.root.join(controller).is_dir() {
                return Err(CgroupError::Unsupported(format!(
                    "no cgroup v1 {controller} hierarchy under {}",
                    self.root.display()
                )));
            }
        }
        let cpu = self.root.join("cpu").join(PARENT).join(task_id);
        make_dir(&cpu)?;
        write(&cpu.join("cpu.cfs_period_us"), &CPU_PERIOD_US.to_string())?;
        let quota = limits.cpu_quota_us().map_or("-1".to_string(), |q| q.to_string());
        write(&cpu.join("cpu.cfs_quota_us"), &quota)?;
        let memory = self.root.join("memory").join(PARENT).join(task_id);
        make_dir(&memory)?;
        if let Some(bytes) = limits.memory_bytes() {
            write(&memory.join("memory.limit_in_bytes"), &bytes.to_string())?;
        }
        Ok(())
    }

    /// Removes the task's cgroup (from every v1 hierarchy); a missing one is no
    /// error. Fails while a process is still in it.
    pub fn remove(&self, task_id: &str) -> Result<(), CgroupError> {
        check_id(task_id)?;
        match &self.mode {
            CgroupMode::Unsupported(_) => Ok(()),
            CgroupMode::V2 => remove_dir(&self.root.join(PARENT).join(task_id)),
            CgroupMode::V1 => {
                let entries = std::fs::read_dir(&self.root).map_err(|source| CgroupError::Io {
                    doing: "listing",
                    path: self.root.display().to_string(),
                    source,
                })?;
                let mut result = Ok(());
                let mut seen = Vec::new();
                for entry in entries.flatten() {
                    // cpu and cpuacct are often links to one `cpu,cpuacct` hierarchy.
                    let Ok(hierarchy) = entry.path().canonicalize() else { continue };
                    if !hierarchy.is_dir() || seen.contains(&hierarchy) {
                        continue;
                    }
                    if let Err(e) = remove_dir(&hierarchy.join(PARENT).join(task_id)) {
                        result = result.and(Err(e));
                    }
                    seen.push(hierarchy);
                }
                result
            }
        }
    }

    /// Whether the task has a cgroup here.
    pub fn exists(&self, task_id: &str) -> bool {
        check_id(task_id).is_ok()
            && match &self.mode {
                CgroupMode::Unsupported(_) => false,
                CgroupMode::V2 => self.root.join(PARENT).join(task_id).is_dir(),
                CgroupMode::V1 => {
                    ["cpu", "memory"].iter().any(|c| self.root.join(c).join(PARENT).join(task_id).is_dir())
                }
            }
    }
}

/// Task ids are ECS's (hex and dashes): nothing that could leave the directory.
fn check_id(task_id: &str) -> Result<(), CgroupError> {
    let ok = !task_id.is_empty()
        && task_id.len() <= 64
        && task_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok { Ok(()) } else { Err(CgroupError::BadTaskId(task_id.to_string())) }
}

fn has_controllers(list: &str) -> bool {
    let names: Vec<&str> = list.split_whitespace().collect();
    names.contains(&"cpu") && names.contains(&"memory")
}

/// Enables cpu and memory for `dir`'s children, unless they already are.
fn enable_controllers(dir: &Path) -> Result<(), CgroupError> {
    let file = dir.join("cgroup.subtree_control");
    if read(&file).is_ok_and(|s| has_controllers(&s)) {
        return Ok(());
    }
    write(&file, "+cpu +memory")
}

fn read(path: &Path) -> Result<String, CgroupError> {
    std::fs::read_to_string(path).map_err(|source| CgroupError::Io {
        doing: "reading",
        path: path.display().to_string(),
        source,
    })
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(|source| CgroupError::Io {
        doing: "writing",
        path: path.display().to_string(),
        source,
    })
}

fn make_dir(path: &Path) -> Result<(), CgroupError> {
    std::fs::create_dir_all(path).map_err(|source| CgroupError::Io {
        doing: "creating cgroup",
        path: path.display().to_string(),
        source,
    })
}

fn remove_dir(path: &Path) -> Result<(), CgroupError> {
    match std::fs::remove_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(CgroupError::Io { doing: "removing cgroup", path: path.display().to_string(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(cpu: Option<&str>, memory: Option<&str>) -> TaskDefinitionSpec {
        let mut d: TaskDefinitionSpec =
            serde_json::from_value(serde_json::json!({"family": "f", "containerDefinitions": []})).unwrap();
        d.cpu = cpu.map(Into::into);
        d.memory = memory.map(Into::into);
        d
    }

    #[test]
    fn limits_come_from_overrides_first() {
        let none = TaskOverride::default();
        let l = TaskLimits::of(&definition(Some("256"), Some("0.5 GB")), &none);
        assert_eq!(l, TaskLimits { cpu_units: Some(256), memory_mib: Some(512) });
        assert_eq!(l.cpu_quota_us(), Some(25_000));
        assert_eq!(l.memory_bytes(), Some(512 * 1024 * 1024));
        let o = TaskOverride { cpu: Some("1 vCPU".into()), memory: Some("2048".into()), ..TaskOverride::default() };
        let l = TaskLimits::of(&definition(Some("256"), None), &o);
        assert_eq!(l, TaskLimits { cpu_units: Some(1024), memory_mib: Some(2048) });
        assert_eq!(l.cpu_quota_us(), Some(100_000));
        assert!(TaskLimits::of(&definition(None, None), &none).is_empty());
        assert_eq!(
            TaskLimits { cpu_units: Some(2), memory_mib: None }.cpu_quota_us(),
            Some(1_000),
            "the kernel's minimum"
        );
    }

    #[test]
    fn the_mode_follows_docker() {
        let dir = tempfile::tempdir().unwrap();
        let detect = |v, d| TaskCgroups::detect(dir.path(), v, d).mode().clone();
        assert_eq!(detect(Some("2"), Some("cgroupfs")), CgroupMode::V2);
        assert_eq!(detect(Some("1"), Some("cgroupfs")), CgroupMode::V1);
        assert!(matches!(detect(Some("2"), Some("systemd")), CgroupMode::Unsupported(_)));
        assert!(matches!(detect(None, None), CgroupMode::Unsupported(_)));
        std::fs::write(dir.path().join("cgroup.controllers"), "cpu memory").unwrap();
        assert_eq!(detect(None, Some("")), CgroupMode::V2);
    }

    #[test]
    fn v2_writes_limits_and_enables_controllers() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("cgroup.controllers"), "cpuset cpu io memory pids").unwrap();
        std::fs::write(root.join("cgroup.subtree_control"), "").unwrap();
        let cgroups = TaskCgroups::new(root, CgroupMode::V2);
        let limits = TaskLimits { cpu_units: Some(512), memory_mib: Some(1024) };
        assert_eq!(cgroups.create("abc123", &limits).unwrap(), "/flotilla/abc123");
        let task = root.join("flotilla/abc123");
        assert_eq!(std::fs::read_to_string(task.join("cpu.max")).unwrap(), "50000 100000");
        assert_eq!(std::fs::read_to_string(task.join("memory.max")).unwrap(), "1073741824");
        for d in [root.to_path_buf(), root.join("flotilla"), task.clone()] {
            assert_eq!(std::fs::read_to_string(d.join("cgroup.subtree_control")).unwrap(), "+cpu +memory");
        }
        assert!(cgroups.exists("abc123"));
        // A plain directory holds files; a real cgroup's are virtual.
        for f in ["cpu.max", "memory.max", "cgroup.subtree_control"] {
            std::fs::remove_file(task.join(f)).unwrap();
        }
        cgroups.remove("abc123").unwrap();
        assert!(!cgroups.exists("abc123"));
        cgroups.remove("abc123").unwrap();
        let memory_only = TaskLimits { cpu_units: None, memory_mib: Some(512) };
        cgroups.create("t2", &memory_only).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("flotilla/t2/cpu.max")).unwrap(), "max 100000");
    }

    #[test]
    fn v2_without_the_controllers_is_unsupported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cgroup.controllers"), "pids").unwrap();
        let cgroups = TaskCgroups::new(dir.path(), CgroupMode::V2);
        let limits = TaskLimits { cpu_units: Some(256), memory_mib: None };
        assert!(matches!(cgroups.create("t", &limits), Err(CgroupError::Unsupported(_))));
    }

    #[test]
    fn v1_writes_the_cpu_and_memory_hierarchies() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for c in ["cpu", "memory", "pids"] {
            std::fs::create_dir(root.join(c)).unwrap();
        }
        let cgroups = TaskCgroups::new(root, CgroupMode::V1);
        let limits = TaskLimits { cpu_units: Some(256), memory_mib: Some(512) };
        cgroups.create("t1", &limits).unwrap();
        let cpu = root.join("cpu/flotilla/t1");
        assert_eq!(std::fs::read_to_string(cpu.join("cpu.cfs_quota_us")).unwrap(), "25000");
        assert_eq!(std::fs::read_to_string(cpu.join("cpu.cfs_period_us")).unwrap(), "100000");
        let memory = root.join("memory/flotilla/t1");
        assert_eq!(std::fs::read_to_string(memory.join("memory.limit_in_bytes")).unwrap(), "536870912");
        std::fs::remove_file(cpu.join("cpu.cfs_quota_us")).unwrap();
        std::fs::remove_file(cpu.join("cpu.cfs_period_us")).unwrap();
        std::fs::remove_file(memory.join("memory.limit_in_bytes")).unwrap();
        std::fs::create_dir_all(root.join("pids/flotilla/t1")).unwrap();
        cgroups.remove("t1").unwrap();
        for c in ["cpu", "memory", "pids"] {
            assert!(!root.join(c).join("flotilla/t1").exists(), "{c}");
        }
    }

    #[test]
    fn task_ids_cannot_escape() {
        let cgroups = TaskCgroups::new("/nonexistent", CgroupMode::V2);
        for bad in ["../x", "a/b", "", "."] {
            assert!(matches!(cgroups.create(bad, &TaskLimits::default()), Err(CgroupError::BadTaskId(_))), "{bad}");
        }
    }
}
