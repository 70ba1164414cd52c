"""One process per data directory (issue 18): a second `server` or `up` on a data
directory in use, or a second agent on a state directory in use, exits 1 at once,
naming the directory and the pid holding it, and changes nothing; the lock dies with
its process, so after `kill -9` a new process starts at once. Logs: no colour codes in
a log file, and `--log-format json` (or FLOTILLA_LOG_FORMAT) writes one JSON object
per line."""

import json
import re
import subprocess

import pytest

from conftest import FLOTILLA_BIN, POSTGRES_URL, cluster_arn, free_port, instance_of, unique, wait_for

LOCK_FILE = "flotilla.lock"
# The first process may write its own databases at any moment; only their names are
# compared.
DATABASE_FILE = re.compile(r"\.db(-wal|-shm|-journal)?$")


def snapshot(root):
    """Every path under `root`: directories and database files by name, other files
    with their size, modification time and contents."""
    seen = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_dir():
            seen[rel] = "dir"
        elif DATABASE_FILE.search(p.name):
            seen[rel] = "database"
        else:
            st = p.stat()
            seen[rel] = (st.st_size, st.st_mtime_ns, p.read_bytes())
    return seen


def run_second(first, command, *extra, home=None, env=None):
    """Runs another `flotilla COMMAND` on `first`'s data directory (its own port, its
    own HOME, the AWS CLI profile not turned off) and returns the CompletedProcess."""
    args = [FLOTILLA_BIN, command, "--data-dir", str(first.data_dir), "--listen", f"127.0.0.1:{free_port()}",
            "--no-agent", *extra]
    if POSTGRES_URL:
        args.extend(["--store", first.postgres_store()])
    environment = first.env()
    if home is not None:
        environment["HOME"] = str(home)
    environment.update(env or {})
    return subprocess.run(args, env=environment, capture_output=True, text=True, timeout=60)


def lock_holder(directory):
    return int((directory / LOCK_FILE).read_text().strip())


def assert_refused(p, directory, pid):
    out = p.stdout + p.stderr
    assert p.returncode == 1, f"expected exit status 1, got {p.returncode}:\n{out}"
    assert f"{directory} is in use by another flotilla process (pid {pid})" in out, out


@pytest.mark.parametrize("first_command,second_command", [("server", "server"), ("up", "up"), ("up", "server")])
def test_a_second_process_on_a_data_directory_in_use_is_refused(fresh_server, tmp_path, first_command,
                                                                 second_command):
    first = fresh_server(command=first_command, args=["--no-agent"])
    ecs = first.client()
    before_name = unique("before")
    ecs.create_cluster(clusterName=before_name)
    assert lock_holder(first.data_dir) == first.proc.pid
    before = snapshot(first.data_dir)

    home = tmp_path / "second-home"
    home.mkdir()
    p = run_second(first, second_command, home=home)

    assert_refused(p, first.data_dir, first.proc.pid)
    # Nothing in the data directory was created or changed, nor was an AWS CLI profile
    # written: the refusal comes before anything else.
    assert snapshot(first.data_dir) == before
    assert list(home.iterdir()) == []
    # The first process keeps serving, with its state.
    assert first.proc.poll() is None
    after_name = unique("after")
    ecs.create_cluster(clusterName=after_name)
    listed = set(ecs.list_clusters()["clusterArns"])
    assert {cluster_arn(before_name), cluster_arn(after_name)} <= listed


@pytest.mark.parametrize("command", ["server", "up"])
def test_after_kill_9_a_new_process_starts_on_the_directory_at_once(fresh_server, command):
    first = fresh_server(command=command, args=["--no-agent"])
    name = unique("kept")
    first.client().create_cluster(clusterName=name)
    old_pid = first.proc.pid

    first.kill9()
    # No waiting and no clean-up: the kernel released the lock with the process.
    first.start()

    assert first.proc.pid != old_pid
    assert lock_holder(first.data_dir) == first.proc.pid
    assert cluster_arn(name) in first.client().list_clusters()["clusterArns"]
    # The new process holds the directory in turn.
    assert_refused(run_second(first, "server"), first.data_dir, first.proc.pid)


def test_a_second_agent_on_a_state_directory_in_use_is_refused(fresh_server, agents):
    srv = fresh_server(command="server", args=["--no-agent"])
    cluster = unique("lock")
    ecs = srv.client()
    ecs.create_cluster(clusterName=cluster)
    agent = agents(srv.endpoint, cluster, "--runtime", "simulated", "--metadata-port", "0")
    instance_of(ecs, cluster)
    state = agent.state_dir
    before = snapshot(state)

    p = subprocess.run([FLOTILLA_BIN, "agent", "--endpoint", srv.endpoint, "--cluster", cluster, "--state-dir",
                        str(state), "--runtime", "simulated", "--metadata-port", "0"],
                       env=agent.env(), capture_output=True, text=True, timeout=60)

    assert_refused(p, state, agent.proc.pid)
    assert snapshot(state) == before
    assert agent.proc.poll() is None
    assert len(ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]) == 1

    # kill -9 leaves no stale lock: the agent starts again on its state at once.
    agent.kill9()
    agent.start()
    wait_for("the restarted agent to hold its state directory", lambda: lock_holder(state) == agent.proc.pid,
             timeout=60)
    assert agent.proc.poll() is None


def test_up_refuses_an_agent_state_directory_in_use(fresh_server, agents, tmp_path):
    """`up`'s local agent keeps its state in DATA/agent, which a separate agent may
    already use (it is the default `flotilla agent` state directory too)."""
    srv = fresh_server(command="server", args=["--no-agent"])
    data = tmp_path / "up-data"
    data.mkdir()
    agent = agents(srv.endpoint, "default", "--runtime", "simulated", "--metadata-port", "0",
                   state_dir=data / "agent")
    wait_for("the agent to hold its state directory", lambda: (data / "agent" / LOCK_FILE).exists()
             and (data / "agent" / LOCK_FILE).read_text().strip() == str(agent.proc.pid), timeout=60)

    p = subprocess.run([FLOTILLA_BIN, "up", "--data-dir", str(data), "--listen", f"127.0.0.1:{free_port()}",
                        "--no-aws-profile", "--runtime", "simulated", "--metadata-port", "0"],
                       env=srv.env(), capture_output=True, text=True, timeout=60)

    assert_refused(p, data / "agent", agent.proc.pid)
    assert agent.proc.poll() is None


def test_a_log_file_written_by_up_holds_no_escape_characters(fresh_server):
    # The simulated agent runs too, so the log has lines from several crates.
    srv = fresh_server(args=["--runtime", "simulated", "--metadata-port", "0"], extra_env={"RUST_LOG": "info"})
    ecs = srv.client()
    instance_of(ecs, "default")
    ecs.describe_clusters(clusters=[unique("missing")])
    assert srv.terminate() == 0

    log = srv.read_log()
    assert "control plane ready" in log
    assert "registered" in log
    assert "stopped cleanly" in log
    assert "\x1b" not in log, [line for line in log.splitlines() if "\x1b" in line][:5]


def json_lines(text):
    """Every non-empty line parsed as JSON (fails on the first one that is not)."""
    docs = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            docs.append(json.loads(line))
        except ValueError as e:
            raise AssertionError(f"not a JSON line ({e}): {line!r}\nin:\n{text[-4000:]}") from None
    return docs


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_json_logs_are_one_object_per_line(fresh_server, how):
    if how == "flag":
        srv = fresh_server(command="server", args=["--no-agent", "--log-format", "json"],
                           extra_env={"RUST_LOG": "info"})
    else:
        srv = fresh_server(args=["--runtime", "simulated", "--metadata-port", "0"],
                           extra_env={"RUST_LOG": "info", "FLOTILLA_LOG_FORMAT": "json"})
        instance_of(srv.client(), "default")
    srv.client().list_clusters()
    # A refused second process writes its error as JSON too.
    refused = run_second(srv, "server", "--log-format", "json")
    assert refused.returncode == 1
    assert srv.terminate() == 0

    docs = json_lines(srv.read_log())
    for d in docs:
        assert isinstance(d, dict) and {"timestamp", "level", "target", "message"} <= d.keys(), d
        assert "\x1b" not in json.dumps(d)
    ready = [d for d in docs if d["message"] == "control plane ready"]
    assert len(ready) == 1
    # The event's fields are top-level keys, as in the text format's `key=value`.
    assert ready[0]["endpoint"] == srv.endpoint
    assert ready[0]["level"] == "INFO"
    assert any(d["message"].startswith("flotilla is listening on ") for d in docs)
    assert any(d["message"] == "stopped cleanly" for d in docs)
    if how == "environment":
        assert any(d["message"] == "registered" for d in docs)

    (error,) = json_lines(refused.stdout + refused.stderr)
    assert error["level"] == "ERROR"
    assert f"{srv.data_dir} is in use by another flotilla process (pid " in error["error"]
