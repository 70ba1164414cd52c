"""State survives `kill -9` and restarts; concurrent registrations number revisions
without gaps or duplicates."""

import threading
import time

from conftest import cluster_arn, td_arn, unique


def test_acknowledged_writes_survive_kill_9(fresh_server):
    srv = fresh_server()
    ecs = srv.client()
    name = unique("durable")
    ecs.create_cluster(
        clusterName=name,
        tags=[{"key": "team", "value": "core"}],
        settings=[{"name": "containerInsights", "value": "enabled"}],
        capacityProviders=["FARGATE"],
        defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
    )
    ecs.tag_resource(resourceArn=cluster_arn(name), tags=[{"key": "later", "value": "yes"}])
    gone = unique("gone")
    ecs.create_cluster(clusterName=gone)
    ecs.delete_cluster(cluster=gone)
    family = unique("fam")
    for i in range(3):
        ecs.register_task_definition(
            family=family,
            containerDefinitions=[{"name": "app", "image": f"busybox:{i}", "memory": 32}],
            tags=[{"key": "rev", "value": str(i + 1)}],
        )
    ecs.deregister_task_definition(taskDefinition=f"{family}:1")
    ecs.tag_resource(resourceArn=td_arn(family, 2), tags=[{"key": "extra", "value": "x"}])

    srv.kill9()
    srv.start()
    ecs = srv.client()

    (c,) = ecs.describe_clusters(clusters=[name], include=["TAGS", "SETTINGS"])["clusters"]
    assert c["status"] == "ACTIVE"
    assert {t["key"]: t["value"] for t in c["tags"]} == {"team": "core", "later": "yes"}
    assert {s["name"]: s["value"] for s in c["settings"]} == {"containerInsights": "enabled"}
    assert c["capacityProviders"] == ["FARGATE"]
    assert ecs.describe_clusters(clusters=[gone])["clusters"][0]["status"] == "INACTIVE"
    listed = set(ecs.list_clusters()["clusterArns"])
    assert listed == {cluster_arn("default"), cluster_arn(name)}

    inactive = [a for p in ecs.get_paginator("list_task_definitions").paginate(familyPrefix=family, status="INACTIVE") for a in p["taskDefinitionArns"]]
    assert inactive == [td_arn(family, 1)]
    latest = ecs.describe_task_definition(taskDefinition=family, include=["TAGS"])
    assert latest["taskDefinition"]["revision"] == 3
    assert latest["taskDefinition"]["containerDefinitions"][0]["image"] == "busybox:2"
    assert latest["tags"] == [{"key": "rev", "value": "3"}]
    two = ecs.describe_task_definition(taskDefinition=td_arn(family, 2), include=["TAGS"])
    assert {t["key"]: t["value"] for t in two["tags"]} == {"rev": "2", "extra": "x"}
    # Revisions continue after the restart.
    nxt = ecs.register_task_definition(
        family=family, containerDefinitions=[{"name": "app", "image": "busybox", "memory": 32}]
    )
    assert nxt["taskDefinition"]["revision"] == 4


def test_concurrent_registrations_number_revisions_exactly(fresh_server):
    srv = fresh_server()
    family = unique("race")
    threads_n, per_thread = 8, 10
    results, errors = [], []
    lock = threading.Lock()
    start = threading.Barrier(threads_n)

    def worker(t):
        ecs = srv.client(max_pool_connections=2)
        start.wait()
        for i in range(per_thread):
            try:
                td = ecs.register_task_definition(
                    family=family,
                    containerDefinitions=[{"name": "app", "image": f"busybox:{t}-{i}", "memory": 32}],
                )["taskDefinition"]
                with lock:
                    results.append((td["revision"], td["containerDefinitions"][0]["image"]))
            except Exception as e:  # noqa: BLE001 - collected and reported below
                with lock:
                    errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == []
    total = threads_n * per_thread
    assert sorted(r for r, _ in results) == list(range(1, total + 1))
    assert len({img for _, img in results}) == total

    # What each call was told is what was stored.
    ecs = srv.client()
    arns = [a for p in ecs.get_paginator("list_task_definitions").paginate(familyPrefix=family) for a in p["taskDefinitionArns"]]
    assert arns == [td_arn(family, r) for r in range(1, total + 1)]
    for revision, image in results[:: max(1, total // 10)]:
        td = ecs.describe_task_definition(taskDefinition=f"{family}:{revision}")["taskDefinition"]
        assert td["containerDefinitions"][0]["image"] == image


def test_concurrent_cluster_updates_all_apply(fresh_server):
    srv = fresh_server()
    ecs = srv.client()
    name = unique("tagrace")
    ecs.create_cluster(clusterName=name)
    errors = []

    def worker(t):
        c = srv.client()
        try:
            for i in range(5):
                c.tag_resource(resourceArn=cluster_arn(name), tags=[{"key": f"t{t}-{i}", "value": "v"}])
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == []
    tags = ecs.list_tags_for_resource(resourceArn=cluster_arn(name))["tags"]
    assert len(tags) == 30


def test_kill_9_during_concurrent_writes_keeps_every_acknowledged_revision(fresh_server):
    srv = fresh_server()
    family = unique("crash")
    acked, stop = [], threading.Event()
    lock = threading.Lock()

    def worker(t):
        ecs = srv.client()
        i = 0
        while not stop.is_set():
            try:
                td = ecs.register_task_definition(
                    family=family,
                    containerDefinitions=[{"name": "app", "image": f"busybox:{t}-{i}", "memory": 32}],
                )["taskDefinition"]
            except Exception:  # noqa: BLE001 - the server is being killed under us
                return
            with lock:
                acked.append((td["revision"], td["containerDefinitions"][0]["image"]))
            i += 1

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    # Let some registrations through, then pull the plug mid-flight.
    deadline = time.monotonic() + 60
    while len(acked) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    srv.kill9()
    stop.set()
    for t in threads:
        t.join(timeout=120)
    assert len(acked) >= 20

    srv.start()
    ecs = srv.client()
    arns = [a for p in ecs.get_paginator("list_task_definitions").paginate(familyPrefix=family) for a in p["taskDefinitionArns"]]
    revisions = [int(a.rsplit(":", 1)[1]) for a in arns]
    # No gaps, and every acknowledged revision is there with what was registered.
    assert revisions == list(range(1, len(revisions) + 1))
    assert max(r for r, _ in acked) <= len(revisions)
    for revision, image in acked:
        td = ecs.describe_task_definition(taskDefinition=f"{family}:{revision}")["taskDefinition"]
        assert td["containerDefinitions"][0]["image"] == image
    # And the family keeps counting.
    nxt = ecs.register_task_definition(family=family, containerDefinitions=[{"name": "a", "image": "b", "memory": 8}])
    assert nxt["taskDefinition"]["revision"] == len(revisions) + 1
