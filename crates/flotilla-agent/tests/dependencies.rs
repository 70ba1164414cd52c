//! The agent runs on every node: it must not carry the control plane's store,
//! placement engine, front door or services (nor SQLite through them). It shares wire shapes
//! with the control plane through `flotilla-ecs-model` instead.

use std::collections::BTreeSet;
use std::process::Command;

/// Crates the agent's normal dependency tree must never contain.
fn forbidden(name: &str) -> bool {
    name.starts_with("sqlx")
        || matches!(
            name,
            "libsqlite3-sys"
                | "flotilla"
                | "flotilla-db"
                | "flotilla-store"
                | "flotilla-placement"
                | "flotilla-ecs-api"
                | "flotilla-protocol"
                | "flotilla-registry"
                | "flotilla-secrets"
        )
}

#[test]
fn the_agent_depends_on_no_control_plane_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
    let out = Command::new(&cargo)
        .args(["tree", "-p", "flotilla-agent", "-e", "normal", "--prefix", "none", "--offline", "--manifest-path"])
        .arg(manifest)
        .output()
        .unwrap_or_else(|e| panic!("running {cargo} tree on {manifest}: {e}"));
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    let names: BTreeSet<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(names.contains("flotilla-agent") && names.contains("flotilla-ecs-model"), "unexpected tree:\n{tree}");
    let offending: Vec<&str> = names.iter().copied().filter(|n| forbidden(n)).collect();
    assert!(offending.is_empty(), "flotilla-agent depends on control-plane crates: {offending:?}");
}
