#!/usr/bin/env python3
"""Runs the already built test binaries of the named packages again, as `cargo test`
would (each from its package's directory), with the caller's environment.

`cargo test -p A -p B` resolves features for A and B alone, which differ from the
workspace's, so it rebuilds much of the dependency graph a second time; on a CI
machine that doubled the build directory and filled the disk. This asks cargo for the
workspace's test binaries (built by `cargo test --workspace`, so nothing is rebuilt)
and runs the chosen packages' ones.

Usage: FLOTILLA_TEST_STORE=postgres scripts/rerun-tests.py flotilla flotilla-registry
"""
import json
import os
import subprocess
import sys


def main() -> int:
    wanted = set(sys.argv[1:])
    if not wanted:
        print(__doc__, file=sys.stderr)
        return 2
    listing = subprocess.run(
        ["cargo", "test", "--workspace", "--locked", "--no-run", "--message-format=json"],
        check=True, stdout=subprocess.PIPE, text=True,
    ).stdout
    binaries = []
    for line in listing.splitlines():
        message = json.loads(line)
        if message.get("reason") != "compiler-artifact" or not message.get("executable"):
            continue
        if not message["profile"]["test"]:
            continue
        manifest = message["manifest_path"]
        package = os.path.basename(os.path.dirname(manifest))
        if package in wanted:
            binaries.append((package, message["target"]["name"], message["executable"], os.path.dirname(manifest)))
    found = {b[0] for b in binaries}
    if found != wanted:
        print(f"no test binaries for: {', '.join(sorted(wanted - found))}", file=sys.stderr)
        return 2
    failed = []
    for package, target, executable, directory in binaries:
        print(f"== {package} ({target})", flush=True)
        if subprocess.run([executable], cwd=directory).returncode != 0:
            failed.append(f"{package} ({target})")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
