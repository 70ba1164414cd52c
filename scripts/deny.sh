#!/bin/sh
# Checks the dependency tree against deny.toml with cargo-deny:
#   licenses - every crate's license expression is met by the allow-list;
#   bans     - no crate in two versions goes unnoticed (warnings only), no
#              wildcard versions, and the control plane's crates (sqlx, the
#              store, the ECS API, the registry, Secrets Manager, placement) are
#              used only by the crates allowed to wrap them, so the node agent
#              can never pull them in;
#   sources  - every crate comes from crates.io (or a path in this workspace).
# Security advisories are not checked: their database is on GitHub, which is not
# reachable here (see deny.toml).
#
# Without cargo-deny installed (`cargo install cargo-deny --locked`) this says so
# and exits 0, so it can run anywhere; set DENY_REQUIRED=1 to fail instead.
set -eu
cd "$(dirname "$0")/.."
if ! cargo deny --version >/dev/null 2>&1; then
    echo "deny.sh: cargo-deny is not installed; dependency policy not checked" >&2
    [ "${DENY_REQUIRED:-0}" = 1 ] && exit 1
    exit 0
fi
exec cargo deny --offline check licenses bans sources
