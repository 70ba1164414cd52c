"""Services end to end on real Docker containers: the service scheduler keeping a
replica service at its desired count of real containers, replacing a container
killed with `docker kill`, a rolling image update with health checks that never
drops below minimumHealthyPercent, the deployment circuit breaker rolling back a
deployment whose image cannot be pulled, images pinned by digest for the life of a
deployment (software version consistency) with the built-in registry, and `kill -9`
of the control plane in the middle of a deployment.

Most tests share the Docker-backed `flotilla up` (fixture `docker_server`, cluster
`default`) and use services and task-definition families of their own; the `kill -9`
test runs `flotilla server` with a separate `flotilla agent`. Every test deletes its
services (force, then waits for INACTIVE) and removes the containers their tasks
caused, and the images it made.

Timings are printed as `FIGURE name=value` lines (see them with `pytest -s`); nothing
asserts on them.
"""

import base64
import os
import subprocess
import threading
import time
import uuid

import pytest
from botocore.exceptions import WaiterError

from conftest import (
    BUSYBOX_IMAGE,
    TASK_ARN_LABEL,
    containers_of_task,
    docker,
    docker_inspect,
    instance_of,
    remove_task_containers,
    unique,
    wait_for,
    wait_stopped,
)

CLUSTER = "default"
# Bounds of the services' waiters: a busy two-core machine, never timing assertions.
WAIT = {"Delay": 1, "MaxAttempts": 180}
FAMILY_LABEL = "com.amazonaws.ecs.task-definition-family"
VERSION_LABEL = "com.amazonaws.ecs.task-definition-version"
# A container that runs until SIGTERM.
LOOP = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
HEALTH_CHECK = {"command": ["CMD-SHELL", "true"], "interval": 5, "timeout": 2, "retries": 1}


# Helpers ------------------------------------------------------------------------------

def register(ecs, family, image=None, health=False, memory=32, environment=None):
    container = {"name": "app", "image": image or BUSYBOX_IMAGE, "memory": memory, "essential": True,
                 "command": LOOP}
    if health:
        container["healthCheck"] = dict(HEALTH_CHECK)
    if environment:
        container["environment"] = [{"name": k, "value": v} for k, v in environment.items()]
    td = ecs.register_task_definition(family=family, containerDefinitions=[container])["taskDefinition"]
    return td["taskDefinitionArn"]


def describe(ecs, name, cluster=CLUSTER):
    resp = ecs.describe_services(cluster=cluster, services=[name])
    assert not resp["failures"], resp["failures"]
    return resp["services"][0]


def service_tasks(ecs, name, status="RUNNING", cluster=CLUSTER):
    arns = []
    token = None
    for _ in range(20):
        kwargs = {"nextToken": token} if token else {}
        page = ecs.list_tasks(cluster=cluster, serviceName=name, desiredStatus=status, **kwargs)
        arns.extend(page["taskArns"])
        token = page.get("nextToken")
        if not token:
            break
    tasks = []
    for i in range(0, len(arns), 100):
        tasks.extend(ecs.describe_tasks(cluster=cluster, tasks=arns[i:i + 100])["tasks"])
    return tasks


def brief(svc):
    """What a failure message needs of a service."""
    return {
        "status": svc.get("status"),
        "desired/running/pending": (svc.get("desiredCount"), svc.get("runningCount"), svc.get("pendingCount")),
        "taskDefinition": svc.get("taskDefinition"),
        "deployments": [{k: d.get(k) for k in ("id", "status", "taskDefinition", "runningCount", "pendingCount",
                                               "failedTasks", "rolloutState", "rolloutStateReason")}
                        for d in svc.get("deployments", [])],
        "events": [e["message"] for e in svc.get("events", [])[:8]],
    }


def wait_stable(ecs, name, cluster=CLUSTER, server=None):
    """services_stable (bounded), failing with the service's state and the end of the
    server's log."""
    try:
        ecs.get_waiter("services_stable").wait(cluster=cluster, services=[name], WaiterConfig=WAIT)
    except WaiterError as e:
        log = server.read_log()[-3000:] if server is not None else ""
        raise AssertionError(f"{name} did not reach a steady state: {e}\n{brief(describe(ecs, name, cluster))}"
                             f"\nserver log:\n{log}") from None
    return describe(ecs, name, cluster)


def task_health(t):
    return t.get("healthStatus")


def healthy(t):
    return t["lastStatus"] == "RUNNING" and t["desiredStatus"] == "RUNNING" and task_health(t) == "HEALTHY"


def running_containers(family, version=None):
    """Ids of the running containers of a task-definition family (and revision)."""
    args = ["ps", "-q", "--no-trunc", "--filter", f"label={FAMILY_LABEL}={family}"]
    if version is not None:
        args += ["--filter", f"label={VERSION_LABEL}={version}"]
    return docker(*args, check=False).stdout.split()


def derived_image(ref, tmp_path):
    """A new image `ref`: busybox plus a layer with a marker of its own, so it differs
    from every other image. Returns its image id."""
    cid = docker("create", BUSYBOX_IMAGE, "true").stdout.strip()
    try:
        marker = tmp_path / f"marker-{uuid.uuid4().hex[:8]}"
        marker.write_text(uuid.uuid4().hex + "\n")
        docker("cp", str(marker), f"{cid}:/marker")
        docker("commit", cid, ref)
    finally:
        docker("rm", "-f", cid, check=False)
    return docker("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()


def pushed_digest(push_output):
    """The manifest digest `docker push` printed (`...: digest: sha256:... size: N`)."""
    for line in push_output.splitlines():
        if "digest: sha256:" in line:
            return line.split("digest: ", 1)[1].split()[0]
    raise AssertionError(f"no digest in the push output:\n{push_output}")


class RegistryLogin:
    """The docker CLI logged in to a server's built-in registry (ECR token from
    GetAuthorizationToken), with a DOCKER_CONFIG of its own."""

    def __init__(self, server, config_dir):
        self.host = f"127.0.0.1:{server.port}"
        self.config_dir = config_dir
        self.config_dir.mkdir(parents=True, exist_ok=True)
        token = server.client("ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
        user, password = base64.b64decode(token).decode().split(":", 1)
        p = subprocess.run(["docker", "--config", str(config_dir), "login", "--username", user, "--password-stdin",
                            self.host], input=password, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, f"docker login failed:\n{p.stdout}\n{p.stderr}"

    def ref(self, repo, tag):
        return f"{self.host}/{repo}:{tag}"

    def push(self, ref):
        return pushed_digest(docker("--config", str(self.config_dir), "push", ref, timeout=300).stdout)


# Fixtures -----------------------------------------------------------------------------

@pytest.fixture
def images():
    """Local image references the test made; removed at teardown (with the digest
    references of their repositories)."""
    refs = []

    def track(*names):
        refs.extend(names)
        return names[0]

    yield track
    if refs:
        docker("rmi", "-f", *refs, check=False)
        repos = {r.rsplit(":", 1)[0] for r in refs}
        listed = docker("images", "--digests", "--format", "{{.Repository}}@{{.Digest}}", check=False)
        digests = [line for line in listed.stdout.split()
                   if line.split("@", 1)[0] in repos and not line.endswith("@<none>")]
        if digests:
            docker("rmi", "-f", *digests, check=False)


@pytest.fixture
def services():
    """Records the services a test creates: track(ecs, name, families, cluster=...).
    At teardown deletes them (force) and waits, bounded, for INACTIVE; then removes
    every container of their tasks and of their task-definition families, whatever
    state the control plane is in."""
    made = []

    def track(ecs, name, *families, cluster=CLUSTER):
        made.append((ecs, cluster, name, families))
        return name

    yield track

    task_arns = set()

    def collect(ecs, cluster, name):
        for status in ("RUNNING", "STOPPED"):
            try:
                task_arns.update(t["taskArn"] for t in service_tasks(ecs, name, status, cluster))
            except Exception:  # the control plane may be down by design; removal below still runs
                pass

    deleted = []
    for ecs, cluster, name, _ in made:
        collect(ecs, cluster, name)
        try:
            ecs.delete_service(cluster=cluster, service=name, force=True)
            deleted.append((ecs, cluster, name))
        except Exception:
            pass
    for ecs, cluster, name in deleted:
        try:
            ecs.get_waiter("services_inactive").wait(cluster=cluster, services=[name],
                                                     WaiterConfig={"Delay": 1, "MaxAttempts": 90})
        except Exception:
            pass
        collect(ecs, cluster, name)
    remove_task_containers(sorted(task_arns))
    for _, _, _, families in made:
        for family in families:
            p = docker("ps", "-aq", "--no-trunc", "--filter", f"label={FAMILY_LABEL}={family}", check=False)
            ids = p.stdout.split()
            if ids:
                docker("rm", "-f", "-v", *ids, check=False)


def sampler(server, name, cluster=CLUSTER, max_samples=6000, max_seconds=600, interval=0.1):
    """Samples the service's tasks in a thread: (healthy, running) counts of the tasks
    meant to run. Returns (samples, errors, stop): set `stop` and join `.thread`."""
    samples, errors, stop = [], [], threading.Event()
    client = server.client()  # made here: creating boto3 clients is not thread-safe

    def run():
        deadline = time.monotonic() + max_seconds
        while not stop.is_set() and len(samples) < max_samples and time.monotonic() < deadline:
            try:
                tasks = service_tasks(client, name, "RUNNING", cluster)
            except Exception as e:  # recorded, the test fails on it
                errors.append(repr(e))
                if len(errors) > 20:
                    return
                time.sleep(interval)
                continue
            running = [t for t in tasks if t["lastStatus"] == "RUNNING" and t["desiredStatus"] == "RUNNING"]
            samples.append((sum(1 for t in running if healthy(t)), len(running)))
            time.sleep(interval)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    stop.thread = thread
    return samples, errors, stop


# 1. Steady state on real containers -----------------------------------------------------

def test_a_service_reaches_a_steady_state_on_real_containers(docker_server, decs, services):
    family = unique("svcd")
    td = register(decs, family)
    name = services(decs, unique("web"), family)
    created = decs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=td, desiredCount=3)["service"]
    assert created["status"] == "ACTIVE"
    [deployment] = created["deployments"]

    svc = wait_stable(decs, name, server=docker_server)
    assert (svc["desiredCount"], svc["runningCount"], svc["pendingCount"]) == (3, 3, 0), brief(svc)
    [primary] = svc["deployments"]
    assert primary["id"] == deployment["id"]
    assert primary["taskDefinition"] == td
    wait_for("the rollout to complete",
             lambda: describe(decs, name)["deployments"][0]["rolloutState"] == "COMPLETED", 60)
    messages = [e["message"] for e in describe(decs, name)["events"]]
    assert f"(service {name}) has reached a steady state." in messages, messages

    tasks = service_tasks(decs, name)
    assert len(tasks) == 3, [t["taskArn"] for t in tasks]
    assert {t["group"] for t in tasks} == {f"service:{name}"}
    assert {t["startedBy"] for t in tasks} == {deployment["id"]}
    assert {t["taskDefinitionArn"] for t in tasks} == {td}
    for t in tasks:
        assert t["lastStatus"] == "RUNNING", t
        c = t["containers"][0]
        info = docker_inspect(c["runtimeId"])
        assert info is not None, f"task {t['taskArn']}: runtimeId {c['runtimeId']} is no Docker container"
        assert info["State"]["Running"] is True
        assert info["Config"]["Labels"][TASK_ARN_LABEL] == t["taskArn"]
        assert containers_of_task(t["taskArn"]) == [c["runtimeId"]]
    assert len(running_containers(family)) == 3


# 2. A killed container is replaced --------------------------------------------------------

def test_a_container_killed_with_docker_kill_is_replaced(docker_server, decs, services):
    family = unique("svck")
    name = services(decs, unique("web"), family)
    decs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=register(decs, family), desiredCount=3)
    wait_stable(decs, name, server=docker_server)
    before = service_tasks(decs, name)
    assert len(before) == 3
    victim = before[0]
    container_id = victim["containers"][0]["runtimeId"]
    assert docker_inspect(container_id)["State"]["Running"] is True

    docker("kill", container_id)
    killed_at = time.monotonic()

    def replacement():
        fresh = [t for t in service_tasks(decs, name)
                 if t["taskArn"] not in {b["taskArn"] for b in before} and t["lastStatus"] == "RUNNING"]
        return fresh[0] if fresh else None

    new = wait_for("a replacement task RUNNING", replacement, interval=0.1)
    seconds = time.monotonic() - killed_at
    print(f"\nFIGURE replace-killed-task-seconds={seconds:.2f}")

    stopped = wait_stopped(decs, CLUSTER, victim["taskArn"])
    assert stopped["stopCode"] == "EssentialContainerExited", stopped
    assert stopped["containers"][0]["exitCode"] == 137, stopped["containers"]
    assert new["group"] == f"service:{name}"
    assert new["startedBy"] == victim["startedBy"]
    info = docker_inspect(new["containers"][0]["runtimeId"])
    assert info["State"]["Running"] is True
    assert info["Id"] != container_id

    svc = wait_stable(decs, name, server=docker_server)
    assert (svc["runningCount"], svc["desiredCount"]) == (3, 3), brief(svc)
    tasks = service_tasks(decs, name)
    assert len(tasks) == 3
    assert victim["taskArn"] not in {t["taskArn"] for t in tasks}
    assert new["taskArn"] in {t["taskArn"] for t in tasks}
    task_id = new["taskArn"].rsplit("/", 1)[1]
    messages = [e["message"] for e in svc["events"]]
    assert any("has started 1 tasks" in m and f"(task {task_id})" in m for m in messages), messages
    assert len(running_containers(family)) == 3
    assert docker_inspect(container_id)["State"]["Running"] is False


# 3. A rolling image update keeps the minimum healthy -----------------------------------------

@pytest.mark.once
def test_an_image_update_never_drops_below_the_minimum_healthy(docker_server, decs, images, services, tmp_path):
    family = unique("svcu")
    name = services(decs, unique("web"), family)
    first = register(decs, family, health=True)
    decs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=first, desiredCount=3,
                        deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200})
    wait_stable(decs, name, server=docker_server)

    def healthy_and_complete():
        tasks = service_tasks(decs, name)
        svc = describe(decs, name)
        return (len(tasks) == 3 and all(healthy(t) for t in tasks) and len(svc["deployments"]) == 1
                and svc["deployments"][0]["rolloutState"] == "COMPLETED")

    wait_for("3 HEALTHY tasks and a completed rollout", healthy_and_complete)
    old_tasks = {t["taskArn"] for t in service_tasks(decs, name)}

    new_image = images(f"flotilla-test/busybox:svc-{uuid.uuid4().hex[:10]}")
    new_image_id = derived_image(new_image, tmp_path)
    second = register(decs, family, image=new_image, health=True)

    samples, errors, stop = sampler(docker_server, name)
    try:
        wait_for("the sampler's first samples", lambda: len(samples) >= 3 or errors, 60, interval=0.1)
        started = time.monotonic()
        updated = decs.update_service(cluster=CLUSTER, service=name, taskDefinition=second)["service"]
        assert [d["status"] for d in updated["deployments"]] == ["PRIMARY", "ACTIVE"]
        wait_stable(decs, name, server=docker_server)

        def all_new_and_healthy():
            tasks = service_tasks(decs, name)
            return len(tasks) == 3 and all(healthy(t) and t["taskDefinitionArn"] == second for t in tasks)

        wait_for("3 HEALTHY tasks of the new image", all_new_and_healthy)
        print(f"\nFIGURE rolling-update-3-tasks-with-health-checks-seconds={time.monotonic() - started:.2f}")
        time.sleep(1)  # a few samples of the end state
    finally:
        stop.set()
        stop.thread.join(timeout=60)
    assert not errors, errors
    healthy_counts = [h for h, _ in samples]
    running_counts = [r for _, r in samples]
    print(f"\nsampled {len(samples)} times: healthy min {min(healthy_counts, default=None)}, "
          f"running max {max(running_counts, default=None)}")
    assert len(samples) > 10, samples
    assert min(healthy_counts) >= 3, f"fewer than 3 healthy tasks during the update: {healthy_counts}"
    assert max(running_counts) <= 6, f"more than 200% running during the update: {running_counts}"
    assert max(running_counts) > 3, f"no new task was ever seen running next to the old ones: {running_counts}"

    svc = describe(decs, name)
    [deployment] = svc["deployments"]
    assert deployment["taskDefinition"] == second
    tasks = service_tasks(decs, name)
    assert not old_tasks & {t["taskArn"] for t in tasks}
    for t in tasks:
        info = docker_inspect(t["containers"][0]["runtimeId"])
        assert info["State"]["Running"] is True
        assert info["Image"] == new_image_id, (info["Image"], new_image_id)
        assert info["State"]["Health"]["Status"] == "healthy"
    for arn in old_tasks:
        stopped = wait_stopped(decs, CLUSTER, arn)
        assert stopped["stopCode"] == "ServiceSchedulerInitiated", stopped
    listed = decs.list_service_deployments(cluster=CLUSTER, service=name)["serviceDeployments"]
    assert [d["status"] for d in listed] == ["SUCCESSFUL", "SUCCESSFUL"], listed


# 4. The circuit breaker rolls back a deployment that cannot start ------------------------------

def test_the_circuit_breaker_rolls_back_an_image_that_cannot_be_pulled(docker_server, decs, services):
    family = unique("svcb")
    name = services(decs, unique("web"), family)
    first = register(decs, family)
    decs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=first, desiredCount=3,
                        deploymentConfiguration={
                            "minimumHealthyPercent": 100, "maximumPercent": 200,
                            "deploymentCircuitBreaker": {"enable": True, "rollback": True}})
    wait_stable(decs, name, server=docker_server)
    wait_for("the first rollout to complete",
             lambda: describe(decs, name)["deployments"][0]["rolloutState"] == "COMPLETED", 60)
    original = describe(decs, name)["deployments"][0]["id"]
    original_tasks = {t["taskArn"] for t in service_tasks(decs, name)}

    # A repository nobody created in the built-in registry: the pull fails.
    missing = f"127.0.0.1:{docker_server.port}/{unique('missing')}:v1"
    broken = register(decs, family, image=missing)

    seen = {}  # deployment id -> rollout states seen in DescribeServices
    stop = threading.Event()
    client = docker_server.client()  # made here: creating boto3 clients is not thread-safe

    def watch():
        deadline = time.monotonic() + 600
        while not stop.is_set() and time.monotonic() < deadline and len(seen.get("samples", [])) < 20000:
            try:
                for d in describe(client, name)["deployments"]:
                    seen.setdefault(d["id"], set()).add(d["rolloutState"])
                seen.setdefault("samples", []).append(1)
            except Exception as e:
                seen.setdefault("errors", []).append(repr(e))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        updated = decs.update_service(cluster=CLUSTER, service=name, taskDefinition=broken)["service"]
        failed = updated["deployments"][0]["id"]
        failed_arn = updated["currentServiceDeployment"]
        assert updated["deployments"][0]["taskDefinition"] == broken

        def events():
            return [e["message"] for e in describe(decs, name)["events"]]

        wait_for("the breaker to trip", lambda: any("deployment failed: tasks failed to start" in m
                                                     for m in events()), interval=0.5)
        svc = wait_stable(decs, name, server=docker_server)
        wait_for("the rollback to complete", lambda: decs.describe_service_deployments(
            serviceDeploymentArns=[failed_arn])["serviceDeployments"][0]["status"] == "ROLLBACK_SUCCESSFUL", 60)
    finally:
        stop.set()
        watcher.join(timeout=30)

    messages = [e["message"] for e in describe(decs, name)["events"]]
    assert f"(service {name}) (deployment {failed}) deployment failed: tasks failed to start." in messages, messages
    assert any(f"rolling back to deployment {original}" in m for m in messages), messages
    # DescribeServices shows the failed deployment only until the rollback completes (often
    # less than a second): what was seen is printed, the lasting record is checked below.
    print(f"\nrollout states seen in DescribeServices: failed deployment {sorted(seen.get(failed, ()))}, "
          f"original {sorted(seen.get(original, ()))} ({len(seen.get('samples', []))} samples)")
    assert not seen.get("errors"), seen.get("errors")

    # The failed tasks: the pull failed, so they never started.
    stopped = [t for t in service_tasks(decs, name, "STOPPED") if t["taskDefinitionArn"] == broken]
    print(f"\nstop codes of the failed deployment's tasks: {sorted(t.get('stopCode') for t in stopped)}")
    failures = [t for t in stopped if t.get("stopCode") == "TaskFailedToStart"]
    assert len(failures) >= 3, [(t["taskArn"], t.get("stopCode"), t.get("stoppedReason")) for t in stopped]
    for t in stopped:
        assert t["startedBy"] == failed
        if t in failures:
            assert "CannotPullContainerError" in (t.get("stoppedReason") or ""), t.get("stoppedReason")
        else:
            # Started again before the breaker tripped, then stopped by the rollback.
            assert t["stopCode"] == "ServiceSchedulerInitiated", t
        assert not containers_of_task(t["taskArn"]) or all(
            docker_inspect(c)["State"]["Running"] is False for c in containers_of_task(t["taskArn"]))

    described = decs.describe_service_deployments(serviceDeploymentArns=[failed_arn])["serviceDeployments"][0]
    assert described["status"] == "ROLLBACK_SUCCESSFUL", described
    # TRIGGERED and this reason: the deployment's rolloutState became FAILED.
    assert described["deploymentCircuitBreaker"]["status"] == "TRIGGERED", described
    assert described["statusReason"] == "ECS deployment circuit breaker: tasks failed to start.", described
    assert described["deploymentCircuitBreaker"]["failureCount"] >= 3, described
    assert described["rollback"]["serviceRevisionArn"], described
    assert described["rollback"]["serviceRevisionArn"].endswith("/" + original.split("/", 1)[1])
    listed = {d["serviceDeploymentArn"]: d for d in
              decs.list_service_deployments(cluster=CLUSTER, service=name)["serviceDeployments"]}
    assert listed[failed_arn]["status"] == "ROLLBACK_SUCCESSFUL", listed

    # Steady on the original task definition, with its original tasks.
    svc = describe(decs, name)
    [deployment] = svc["deployments"]
    assert deployment["taskDefinition"] == first, brief(svc)
    assert deployment["id"] == original
    assert deployment["rolloutState"] == "COMPLETED"
    assert svc["taskDefinition"] == first
    assert (svc["runningCount"], svc["desiredCount"]) == (3, 3)
    tasks = service_tasks(decs, name)
    assert {t["taskDefinitionArn"] for t in tasks} == {first}
    assert {t["taskArn"] for t in tasks} == original_tasks, "the original tasks kept serving"
    assert len(running_containers(family)) == 3


# 5. Software version consistency: images pinned by digest ---------------------------------------

def test_a_deployment_keeps_running_the_digest_it_started_with(docker_server, decs, images, services, tmp_path):
    login = RegistryLogin(docker_server, tmp_path / "docker-config")
    repo = unique("svcimg")
    docker_server.client("ecr").create_repository(repositoryName=repo)
    ref = images(login.ref(repo, "v1"))

    first_id = derived_image(ref, tmp_path)
    first_digest = login.push(ref)
    # Not present locally any more: the agent pulls it from the registry by digest.
    docker("rmi", ref)

    family = unique("svcv")
    name = services(decs, unique("web"), family)
    td = register(decs, family, image=ref)
    created = decs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=td, desiredCount=2)["service"]
    first_deployment = created["deployments"][0]["id"]
    wait_stable(decs, name, server=docker_server)
    for t in service_tasks(decs, name):
        c = t["containers"][0]
        assert c["image"] == ref
        assert c.get("imageDigest") == first_digest, c
        info = docker_inspect(c["runtimeId"])
        assert info["Image"] == first_id, (info["Image"], first_id)
        assert info["Config"]["Image"] == f"{login.host}/{repo}@{first_digest}", info["Config"]["Image"]

    # The tag moves to a different image.
    second_id = derived_image(ref, tmp_path)
    assert second_id != first_id
    second_digest = login.push(ref)
    assert second_digest != first_digest
    docker("rmi", ref)
    described = docker_server.client("ecr").describe_images(repositoryName=repo, imageIds=[{"imageTag": "v1"}])
    assert described["imageDetails"][0]["imageDigest"] == second_digest

    # Scaling up starts tasks of the same deployment: still the first digest.
    before = {t["taskArn"] for t in service_tasks(decs, name)}
    decs.update_service(cluster=CLUSTER, service=name, desiredCount=4)
    svc = wait_stable(decs, name, server=docker_server)
    assert svc["runningCount"] == 4, brief(svc)
    [deployment] = svc["deployments"]
    assert deployment["id"] == first_deployment
    tasks = service_tasks(decs, name)
    new = [t for t in tasks if t["taskArn"] not in before]
    assert len(new) == 2, [t["taskArn"] for t in tasks]
    for t in tasks:
        c = t["containers"][0]
        assert c.get("imageDigest") == first_digest, (t["taskArn"], c)
    for t in new:
        info = docker_inspect(t["containers"][0]["runtimeId"])
        assert info["State"]["Running"] is True
        assert info["Image"] == first_id, f"a new task of the deployment runs {info['Image']}, not {first_id}"
    revision_arn = svc["currentServiceRevisions"][0]["arn"]
    revision = decs.describe_service_revisions(serviceRevisionArns=[revision_arn])["serviceRevisions"][0]
    assert revision["taskDefinition"] == td
    assert revision["containerImages"] == [{"containerName": "app", "image": ref, "imageDigest": first_digest}], \
        revision["containerImages"]

    # A forced new deployment resolves the tag again.
    forced = decs.update_service(cluster=CLUSTER, service=name, forceNewDeployment=True)["service"]
    second_deployment = forced["deployments"][0]["id"]
    assert second_deployment != first_deployment
    svc = wait_stable(decs, name, server=docker_server)
    [deployment] = svc["deployments"]
    assert deployment["id"] == second_deployment
    tasks = service_tasks(decs, name)
    assert len(tasks) == 4
    for t in tasks:
        assert t["startedBy"] == second_deployment
        c = t["containers"][0]
        assert c.get("imageDigest") == second_digest, (t["taskArn"], c)
        info = docker_inspect(c["runtimeId"])
        assert info["Image"] == second_id, (info["Image"], second_id)
    revision = decs.describe_service_revisions(
        serviceRevisionArns=[svc["currentServiceRevisions"][0]["arn"]])["serviceRevisions"][0]
    assert revision["containerImages"][0]["imageDigest"] == second_digest


# 6. kill -9 of the control plane in the middle of a deployment ----------------------------------

def test_control_plane_kill_9_in_the_middle_of_a_deployment(busybox_image, fresh_server, agents, services):
    srv = fresh_server(command="server")
    ecs = srv.client()
    cluster = unique("svc9")
    ecs.create_cluster(clusterName=cluster)
    agent = agents(srv.endpoint, cluster, "--memory", "1024", "--metadata-port", "0")
    instance_of(ecs, cluster)
    family = unique("svc9")
    name = services(ecs, unique("web"), family, cluster=cluster)
    first = register(ecs, family)
    # One new task at a time (150%), so the deployment has a middle to be killed in.
    ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=first, desiredCount=3,
                       deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 150})
    wait_stable(ecs, name, cluster, server=srv)
    old_tasks = {t["taskArn"] for t in service_tasks(ecs, name, cluster=cluster)}
    assert len(old_tasks) == 3

    second = register(ecs, family, environment={"REVISION": "2"})
    ecs.update_service(cluster=cluster, service=name, taskDefinition=second)

    def new_running():
        tasks = service_tasks(ecs, name, cluster=cluster)
        return sum(1 for t in tasks if t["taskDefinitionArn"] == second and t["lastStatus"] == "RUNNING")

    seen = wait_for("a first task of the new revision RUNNING", lambda: new_running() or None, interval=0.05)
    srv.kill9()
    killed_mid_deployment = seen < 3
    restarted = time.monotonic()
    srv.start()
    ecs = srv.client()

    try:
        svc = wait_stable(ecs, name, cluster, server=srv)
        wait_for("the rollout to complete", lambda: describe(ecs, name, cluster)["deployments"][0]["rolloutState"]
                 == "COMPLETED", 60)
    except AssertionError as e:
        raise AssertionError(f"{e}\nagent log:\n{agent.read_log()[-3000:]}") from None
    print(f"\nFIGURE kill9-restart-to-steady-seconds={time.monotonic() - restarted:.2f}")
    svc = describe(ecs, name, cluster)
    [deployment] = svc["deployments"]
    assert deployment["taskDefinition"] == second, brief(svc)
    assert (svc["runningCount"], svc["desiredCount"]) == (3, 3), brief(svc)

    tasks = service_tasks(ecs, name, cluster=cluster)
    assert len(tasks) == 3, [(t["taskArn"], t["taskDefinitionArn"], t["lastStatus"]) for t in tasks]
    assert {t["taskDefinitionArn"] for t in tasks} == {second}
    assert all(t["lastStatus"] == "RUNNING" for t in tasks)
    assert {t["startedBy"] for t in tasks} == {deployment["id"]}
    for arn in old_tasks:
        stopped = wait_stopped(ecs, cluster, arn)
        assert stopped["stopCode"] == "ServiceSchedulerInitiated", stopped
    # No duplicates: every task of the new revision not stopped is one of the 3, and
    # exactly 3 containers of it run.
    all_new = [t for s in ("RUNNING", "STOPPED") for t in service_tasks(ecs, name, s, cluster)
               if t["taskDefinitionArn"] == second]
    live_new = [t for t in all_new if t["lastStatus"] != "STOPPED"]
    assert len(live_new) == 3, [(t["taskArn"], t["lastStatus"], t["desiredStatus"]) for t in all_new]
    # Nothing of the new revision was started twice and stopped again either.
    assert len(all_new) == 3, [(t["taskArn"], t["lastStatus"], t.get("stopCode"), t.get("stoppedReason"))
                               for t in all_new]
    for t in live_new:
        assert containers_of_task(t["taskArn"]) == [t["containers"][0]["runtimeId"]]
    wait_for("the old revision's containers to stop", lambda: running_containers(family, 1) == [], 60)
    assert len(running_containers(family, 2)) == 3, running_containers(family, 2)
    assert len(running_containers(family)) == 3
    assert killed_mid_deployment, f"the deployment finished ({seen} new tasks) before the server was killed"
