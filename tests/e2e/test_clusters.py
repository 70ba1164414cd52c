"""Clusters through boto3: create, describe, list, update, capacity providers, delete."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import cluster_arn, unique


def code(exc_info):
    return exc_info.value.response["Error"]["Code"]


def message(exc_info):
    return exc_info.value.response["Error"]["Message"]


def settings_of(cluster):
    return {s["name"]: s["value"] for s in cluster.get("settings", [])}


def test_create_cluster_without_name_is_default(ecs):
    c = ecs.create_cluster()["cluster"]
    assert c["clusterName"] == "default"
    assert c["clusterArn"] == cluster_arn("default")
    assert c["status"] == "ACTIVE"


def test_create_cluster_fields_and_idempotence(ecs):
    name = unique("c")
    c = ecs.create_cluster(clusterName=name)["cluster"]
    assert c["clusterArn"] == cluster_arn(name)
    assert c["clusterName"] == name
    assert c["status"] == "ACTIVE"
    for counter in ("registeredContainerInstancesCount", "runningTasksCount", "pendingTasksCount", "activeServicesCount"):
        assert c[counter] == 0
    again = ecs.create_cluster(clusterName=name)["cluster"]
    assert again["clusterArn"] == c["clusterArn"]
    assert again["status"] == "ACTIVE"
    all_arns = [a for page in ecs.get_paginator("list_clusters").paginate() for a in page["clusterArns"]]
    assert all_arns.count(cluster_arn(name)) == 1


def test_create_cluster_with_tags_settings_configuration_and_capacity(ecs):
    name = unique("c")
    c = ecs.create_cluster(
        clusterName=name,
        tags=[{"key": "team", "value": "core"}, {"key": "env", "value": "test"}],
        settings=[{"name": "containerInsights", "value": "enabled"}],
        configuration={"executeCommandConfiguration": {"logging": "DEFAULT"}},
        capacityProviders=["FARGATE", "FARGATE_SPOT"],
        defaultCapacityProviderStrategy=[
            {"capacityProvider": "FARGATE", "weight": 1, "base": 2},
            {"capacityProvider": "FARGATE_SPOT", "weight": 3},
        ],
    )["cluster"]
    assert sorted((t["key"], t["value"]) for t in c["tags"]) == [("env", "test"), ("team", "core")]
    assert settings_of(c) == {"containerInsights": "enabled"}
    assert c["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    strategy = {s["capacityProvider"]: s for s in c["defaultCapacityProviderStrategy"]}
    assert strategy["FARGATE"]["weight"] == 1 and strategy["FARGATE"]["base"] == 2
    assert strategy["FARGATE_SPOT"]["weight"] == 3

    d = ecs.describe_clusters(clusters=[name], include=["SETTINGS", "CONFIGURATIONS", "STATISTICS", "TAGS"])
    assert d["failures"] == []
    (dc,) = d["clusters"]
    assert dc["clusterArn"] == cluster_arn(name)
    assert settings_of(dc) == {"containerInsights": "enabled"}
    assert dc["configuration"]["executeCommandConfiguration"]["logging"] == "DEFAULT"
    assert sorted((t["key"], t["value"]) for t in dc["tags"]) == [("env", "test"), ("team", "core")]
    stats = {s["name"]: s["value"] for s in dc["statistics"]}
    assert stats.get("runningEC2TasksCount") == "0"
    assert stats.get("pendingFargateTasksCount") == "0"
    assert dc["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]


def test_create_cluster_default_setting_container_insights_disabled(ecs):
    name = unique("c")
    ecs.create_cluster(clusterName=name)
    (c,) = ecs.describe_clusters(clusters=[name], include=["SETTINGS"])["clusters"]
    assert settings_of(c) == {"containerInsights": "disabled"}


@pytest.mark.parametrize("bad", ["has space", "a/b", "x" * 256, "dot.ted"])
def test_create_cluster_bad_name_refused(ecs, bad):
    with pytest.raises(ClientError) as e:
        ecs.create_cluster(clusterName=bad)
    assert code(e) == "InvalidParameterException"
    assert "clusterName" in message(e) or "cluster name" in message(e).lower()


def test_create_cluster_invalid_setting_refused(ecs):
    name = unique("c")
    with pytest.raises(ClientError) as e:
        ecs.create_cluster(clusterName=name, settings=[{"name": "containerInsights", "value": "sometimes"}])
    assert code(e) == "InvalidParameterException"
    assert "containerInsights" in message(e) or "settings" in message(e)
    assert ecs.describe_clusters(clusters=[name])["failures"][0]["reason"] == "MISSING"


def test_describe_clusters_default_unknown_and_by_arn(ecs):
    name = unique("c")
    ecs.create_cluster(clusterName=name)
    missing = unique("missing")
    d = ecs.describe_clusters(clusters=[cluster_arn(name), missing])
    assert [c["clusterName"] for c in d["clusters"]] == [name]
    assert d["failures"] == [{"arn": cluster_arn(missing), "reason": "MISSING"}]
    # No clusters given: the default cluster.
    d = ecs.describe_clusters()
    assert [c["clusterArn"] for c in d["clusters"]] == [cluster_arn("default")]
    # Without include, settings are not returned.
    (plain,) = ecs.describe_clusters(clusters=[name])["clusters"]
    assert "settings" not in plain or plain["settings"] in (None, [])


def test_cluster_not_found_for_unknown_cluster(ecs):
    missing = unique("missing")
    with pytest.raises(ClientError) as e:
        ecs.update_cluster_settings(cluster=missing, settings=[{"name": "containerInsights", "value": "enabled"}])
    assert code(e) == "ClusterNotFoundException"
    with pytest.raises(ClientError) as e:
        ecs.delete_cluster(cluster=missing)
    assert code(e) == "ClusterNotFoundException"
    with pytest.raises(ClientError) as e:
        ecs.put_cluster_capacity_providers(cluster=missing, capacityProviders=[], defaultCapacityProviderStrategy=[])
    assert code(e) == "ClusterNotFoundException"
    with pytest.raises(ClientError) as e:
        ecs.update_cluster(cluster=missing, settings=[{"name": "containerInsights", "value": "enabled"}])
    assert code(e) == "ClusterNotFoundException"


def test_list_clusters_pagination(fresh_server):
    srv = fresh_server()
    ecs = srv.client()
    names = sorted(unique("p") for _ in range(7))
    for n in names:
        ecs.create_cluster(clusterName=n)
    expected = {cluster_arn(n) for n in names} | {cluster_arn("default")}

    first = ecs.list_clusters(maxResults=3)
    assert len(first["clusterArns"]) == 3
    assert first["nextToken"]
    second = ecs.list_clusters(maxResults=3, nextToken=first["nextToken"])
    assert len(second["clusterArns"]) == 3
    assert not set(first["clusterArns"]) & set(second["clusterArns"])

    pages = list(ecs.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": 3}))
    assert [len(p["clusterArns"]) for p in pages] == [3, 3, 2]
    seen = [a for p in pages for a in p["clusterArns"]]
    assert len(seen) == len(set(seen)) == 8
    assert set(seen) == expected
    assert "nextToken" not in pages[-1]

    assert set(ecs.list_clusters()["clusterArns"]) == expected


def test_list_clusters_bad_max_results(ecs):
    with pytest.raises(ClientError) as e:
        ecs.list_clusters(maxResults=101)
    assert code(e) == "InvalidParameterException"


def test_update_cluster_settings_and_configuration(ecs):
    name = unique("c")
    ecs.create_cluster(clusterName=name)
    c = ecs.update_cluster_settings(cluster=name, settings=[{"name": "containerInsights", "value": "enabled"}])["cluster"]
    assert settings_of(c) == {"containerInsights": "enabled"}

    c = ecs.update_cluster(
        cluster=cluster_arn(name),
        settings=[{"name": "containerInsights", "value": "disabled"}],
        configuration={
            "executeCommandConfiguration": {
                "kmsKeyId": "alias/exec",
                "logging": "OVERRIDE",
                "logConfiguration": {"cloudWatchLogGroupName": "/exec", "cloudWatchEncryptionEnabled": False},
            }
        },
    )["cluster"]
    assert settings_of(c) == {"containerInsights": "disabled"}
    (d,) = ecs.describe_clusters(clusters=[name], include=["SETTINGS", "CONFIGURATIONS"])["clusters"]
    assert settings_of(d) == {"containerInsights": "disabled"}
    exec_cfg = d["configuration"]["executeCommandConfiguration"]
    assert exec_cfg["kmsKeyId"] == "alias/exec"
    assert exec_cfg["logging"] == "OVERRIDE"
    assert exec_cfg["logConfiguration"]["cloudWatchLogGroupName"] == "/exec"


def test_update_cluster_settings_refuses_unknown_setting(ecs):
    name = unique("c")
    ecs.create_cluster(clusterName=name)
    with pytest.raises(ClientError) as e:
        ecs.update_cluster_settings(cluster=name, settings=[{"name": "bogusSetting", "value": "enabled"}])
    assert code(e) == "InvalidParameterException"


def test_put_cluster_capacity_providers(ecs):
    name = unique("c")
    ecs.create_cluster(clusterName=name)
    c = ecs.put_cluster_capacity_providers(
        cluster=name,
        capacityProviders=["FARGATE_SPOT", "FARGATE"],
        defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 4, "base": 1}],
    )["cluster"]
    assert c["capacityProviders"] == ["FARGATE_SPOT", "FARGATE"]
    assert c["defaultCapacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 4, "base": 1}]
    (d,) = ecs.describe_clusters(clusters=[name])["clusters"]
    assert d["capacityProviders"] == ["FARGATE_SPOT", "FARGATE"]
    # Empty lists remove them.
    c = ecs.put_cluster_capacity_providers(cluster=name, capacityProviders=[], defaultCapacityProviderStrategy=[])[
        "cluster"
    ]
    assert c.get("capacityProviders", []) == []
    assert c.get("defaultCapacityProviderStrategy", []) == []


@pytest.mark.parametrize(
    "providers,strategy",
    [
        (["NO_SUCH_PROVIDER"], []),
        (["FARGATE"], [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]),
        (["FARGATE", "FARGATE"], []),
        (["FARGATE", "FARGATE_SPOT"], [{"capacityProvider": "FARGATE", "base": 1}, {"capacityProvider": "FARGATE_SPOT", "base": 1}]),
        (["FARGATE"], [{"capacityProvider": "FARGATE", "weight": 1001}]),
    ],
)
def test_put_cluster_capacity_providers_invalid_refused(ecs, providers, strategy):
    name = unique("c")
    ecs.create_cluster(clusterName=name, capacityProviders=["FARGATE"])
    with pytest.raises(ClientError) as e:
        ecs.put_cluster_capacity_providers(
            cluster=name, capacityProviders=providers, defaultCapacityProviderStrategy=strategy
        )
    assert code(e) == "InvalidParameterException"
    # Nothing changed.
    (d,) = ecs.describe_clusters(clusters=[name])["clusters"]
    assert d["capacityProviders"] == ["FARGATE"]


def test_create_cluster_invalid_capacity_provider_refused(ecs):
    name = unique("c")
    with pytest.raises(ClientError) as e:
        ecs.create_cluster(clusterName=name, capacityProviders=["MY_ASG_PROVIDER"])
    assert code(e) == "InvalidParameterException"
    assert ecs.describe_clusters(clusters=[name])["failures"][0]["reason"] == "MISSING"


def test_delete_cluster(ecs):
    name = unique("c")
    ecs.create_cluster(clusterName=name, tags=[{"key": "k", "value": "v"}])
    deleted = ecs.delete_cluster(cluster=name)["cluster"]
    assert deleted["clusterArn"] == cluster_arn(name)
    assert deleted["status"] == "INACTIVE"

    listed = [a for p in ecs.get_paginator("list_clusters").paginate() for a in p["clusterArns"]]
    assert cluster_arn(name) not in listed

    d = ecs.describe_clusters(clusters=[name])
    assert [c["status"] for c in d["clusters"]] == ["INACTIVE"]
    assert d["failures"] == []

    for call in (
        lambda: ecs.update_cluster_settings(cluster=name, settings=[{"name": "containerInsights", "value": "enabled"}]),
        lambda: ecs.put_cluster_capacity_providers(cluster=name, capacityProviders=[], defaultCapacityProviderStrategy=[]),
        lambda: ecs.delete_cluster(cluster=name),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == "ClusterNotFoundException"


def test_recreate_deleted_cluster_is_active_again(ecs):
    name = unique("c")
    ecs.create_cluster(clusterName=name)
    ecs.delete_cluster(cluster=cluster_arn(name))
    c = ecs.create_cluster(clusterName=name)["cluster"]
    assert c["status"] == "ACTIVE"
    (d,) = ecs.describe_clusters(clusters=[name])["clusters"]
    assert d["status"] == "ACTIVE"
    listed = [a for p in ecs.get_paginator("list_clusters").paginate() for a in p["clusterArns"]]
    assert cluster_arn(name) in listed


@pytest.mark.parametrize(
    "call",
    [
        lambda ecs: ecs.describe_clusters(clusters=["default"], include=["BOGUS"]),
        lambda ecs: ecs.list_clusters(nextToken="not-a-token-we-gave"),
        lambda ecs: ecs.describe_clusters(clusters=[f"c{i}" for i in range(101)]),
        lambda ecs: ecs.create_cluster(clusterName=unique("c"), tags=[{"key": "k", "value": "v" * 257}]),
    ],
    ids=["include", "next-token", "too-many", "long-tag-value"],
)
def test_cluster_bad_parameters(ecs, call):
    with pytest.raises(ClientError) as e:
        call(ecs)
    assert code(e) == "InvalidParameterException"


def test_update_cluster_on_deleted_cluster_is_not_found(ecs):
    name = unique("c")
    ecs.create_cluster(clusterName=name)
    ecs.delete_cluster(cluster=name)
    with pytest.raises(ClientError) as e:
        ecs.update_cluster(cluster=name, settings=[{"name": "containerInsights", "value": "enabled"}])
    assert code(e) == "ClusterNotFoundException"
    with pytest.raises(ClientError) as e:
        ecs.tag_resource(resourceArn=cluster_arn(name), tags=[{"key": "a", "value": "b"}])
    assert code(e) in ("ClusterNotFoundException", "InvalidParameterException")


def test_server_subcommand_starts_without_clusters(fresh_server):
    ecs = fresh_server(command="server").client()
    assert ecs.list_clusters()["clusterArns"] == []
    d = ecs.describe_clusters()
    assert d["clusters"] == []
    assert d["failures"] == [{"arn": cluster_arn("default"), "reason": "MISSING"}]
    # CreateCluster without a name makes the default cluster.
    assert ecs.create_cluster()["cluster"]["clusterArn"] == cluster_arn("default")
    assert ecs.list_clusters()["clusterArns"] == [cluster_arn("default")]


def test_unknown_request_fields_are_ignored(server):
    # Newer SDKs send members this server may not know yet; AWS ignores unknown members.
    name = unique("fwd")
    status, _, body = server.raw("CreateCluster", {"clusterName": name, "someFutureMember": {"x": 1}})
    assert status == 200, body
    assert json.loads(body)["cluster"]["clusterName"] == name
    status, _, body = server.raw(
        "RegisterTaskDefinition",
        {
            "family": name,
            "someFutureMember": [1, 2],
            "containerDefinitions": [{"name": "a", "image": "busybox", "memory": 16, "someFutureField": True}],
        },
    )
    assert status == 200, body
    assert json.loads(body)["taskDefinition"]["revision"] == 1
