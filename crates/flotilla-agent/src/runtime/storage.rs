//! Ephemeral storage of Fargate tasks (`ephemeralStorage.sizeInGiB`, 20 GiB by
//! default): each container of the task is created with Docker's
//! `StorageOpt size=NG`, which caps its writable layer. Docker can do that only on
//! some storage drivers:
//!
//! - `overlay2` (and `vfs`) on xfs mounted with `pquota` (project quotas);
//! - `btrfs`, `zfs`, `devicemapper` and Windows' `windowsfilter`.
//!
//! Everywhere else (overlay2 on ext4, the usual case, or fuse-overlayfs) the size
//! is not applied and the agent says so in a debug log. Docker does not report
//! whether xfs has `pquota`, so on overlay2/xfs the agent tries and, when Docker
//! refuses the option, creates the container without it and stops asking.
//!
//! The cap is per container, so a task of several containers may write up to N GiB
//! in each rather than N in all; Fargate's is per task.

/// Whether Docker takes `StorageOpt size` with this storage driver, given the
/// `Backing Filesystem` it reports (for overlay2 and vfs).
pub fn size_supported(driver: &str, backing_filesystem: Option<&str>) -> bool {
    match driver {
        "btrfs" | "zfs" | "devicemapper" | "windowsfilter" => true,
        "overlay2" | "overlay" | "vfs" => backing_filesystem.is_some_and(|fs| fs.eq_ignore_ascii_case("xfs")),
        _ => false,
    }
}

/// The `Backing Filesystem` among `docker info`'s driver status pairs.
pub fn backing_filesystem(driver_status: &[Vec<String>]) -> Option<&str> {
    driver_status
        .iter()
        .find(|pair| pair.first().is_some_and(|k| k == "Backing Filesystem"))?
        .get(1)
        .map(String::as_str)
}

/// Whether a create error is Docker refusing the storage size on this host.
pub fn is_size_refusal(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("storage-opt") || m.contains("storage opt") || m.contains("pquota")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drivers_that_take_a_size() {
        assert!(size_supported("overlay2", Some("xfs")));
        assert!(!size_supported("overlay2", Some("extfs")));
        assert!(!size_supported("overlay2", None));
        assert!(size_supported("btrfs", None));
        assert!(size_supported("zfs", None));
        assert!(!size_supported("fuse-overlayfs", Some("xfs")));
        let status = vec![vec!["Backing Filesystem".to_string(), "xfs".to_string()], vec!["Supports d_type".into()]];
        assert_eq!(backing_filesystem(&status), Some("xfs"));
        assert!(is_size_refusal(
            "Error response from daemon: --storage-opt is supported only for overlay over xfs with 'pquota' mount option"
        ));
        assert!(!is_size_refusal("Conflict. The container name is already in use"));
    }
}
