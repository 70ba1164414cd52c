"""Task definitions through boto3: register, validate, describe, list, deregister, delete."""

import datetime
import json

import pytest
from botocore.exceptions import ClientError

from conftest import td_arn, unique

VALIDATION_CODES = ("ClientException", "InvalidParameterException")


def code(exc_info):
    return exc_info.value.response["Error"]["Code"]


def message(exc_info):
    return exc_info.value.response["Error"]["Message"]


def simple(name="app", **extra):
    return {"name": name, "image": "busybox:latest", "memory": 64, **extra}


def register(ecs, family, containers=None, **kwargs):
    return ecs.register_task_definition(family=family, containerDefinitions=containers or [simple()], **kwargs)[
        "taskDefinition"
    ]


def all_arns(ecs, **kwargs):
    return [a for p in ecs.get_paginator("list_task_definitions").paginate(**kwargs) for a in p["taskDefinitionArns"]]


def all_families(ecs, **kwargs):
    return [f for p in ecs.get_paginator("list_task_definition_families").paginate(**kwargs) for f in p["families"]]


def test_register_revisions_count_up(ecs):
    family = unique("fam")
    tds = [register(ecs, family) for _ in range(3)]
    assert [t["revision"] for t in tds] == [1, 2, 3]
    assert [t["taskDefinitionArn"] for t in tds] == [td_arn(family, r) for r in (1, 2, 3)]
    assert all(t["status"] == "ACTIVE" and t["family"] == family for t in tds)
    assert tds[0]["registeredAt"] is not None
    assert tds[0]["registeredBy"].startswith("arn:aws:")


FULL_CONTAINERS = [
    {
        "name": "web",
        "image": "nginx:1.25",
        "cpu": 256,
        "memory": 512,
        "memoryReservation": 256,
        "essential": True,
        "portMappings": [
            {"containerPort": 80, "hostPort": 8080, "protocol": "tcp"},
            {"containerPort": 53, "hostPort": 5353, "protocol": "udp"},
        ],
        "environment": [{"name": "MODE", "value": "prod"}, {"name": "LEVEL", "value": "3"}],
        "mountPoints": [{"sourceVolume": "data", "containerPath": "/data", "readOnly": False}],
        "healthCheck": {
            "command": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"],
            "interval": 10,
            "timeout": 3,
            "retries": 2,
            "startPeriod": 5,
        },
        "dependsOn": [{"containerName": "init", "condition": "COMPLETE"}, {"containerName": "sidecar", "condition": "START"}],
        "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
        "logConfiguration": {"logDriver": "json-file", "options": {"max-size": "10m"}},
        "dockerLabels": {"com.example.team": "core", "tier": "frontend"},
        "command": ["nginx", "-g", "daemon off;"],
        "workingDirectory": "/srv",
    },
    {"name": "init", "image": "busybox", "memory": 32, "essential": False, "command": ["true"]},
    {"name": "sidecar", "image": "busybox", "memory": 32, "essential": False},
]


def test_register_full_container_definition_round_trip(ecs):
    family = unique("full")
    td = register(
        ecs,
        family,
        FULL_CONTAINERS,
        networkMode="bridge",
        volumes=[{"name": "data", "host": {"sourcePath": "/tmp/flotilla-e2e"}}],
        taskRoleArn="arn:aws:iam::000000000000:role/app",
    )
    described = ecs.describe_task_definition(taskDefinition=f"{family}:1")["taskDefinition"]
    for got in (td, described):
        assert got["networkMode"] == "bridge"
        assert got["volumes"] == [{"name": "data", "host": {"sourcePath": "/tmp/flotilla-e2e"}}]
        assert got["taskRoleArn"] == "arn:aws:iam::000000000000:role/app"
        c = {x["name"]: x for x in got["containerDefinitions"]}
        assert set(c) == {"web", "init", "sidecar"}
        web = c["web"]
        assert web["image"] == "nginx:1.25"
        assert (web["cpu"], web["memory"], web["memoryReservation"]) == (256, 512, 256)
        assert web["essential"] is True
        assert web["portMappings"] == [
            {"containerPort": 80, "hostPort": 8080, "protocol": "tcp"},
            {"containerPort": 53, "hostPort": 5353, "protocol": "udp"},
        ]
        assert web["environment"] == [{"name": "MODE", "value": "prod"}, {"name": "LEVEL", "value": "3"}]
        assert web["mountPoints"] == [{"sourceVolume": "data", "containerPath": "/data", "readOnly": False}]
        assert web["healthCheck"] == {
            "command": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"],
            "interval": 10,
            "timeout": 3,
            "retries": 2,
            "startPeriod": 5,
        }
        assert web["dependsOn"] == [
            {"containerName": "init", "condition": "COMPLETE"},
            {"containerName": "sidecar", "condition": "START"},
        ]
        assert web["ulimits"] == [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}]
        assert web["logConfiguration"] == {"logDriver": "json-file", "options": {"max-size": "10m"}}
        assert web["dockerLabels"] == {"com.example.team": "core", "tier": "frontend"}
        assert web["command"] == ["nginx", "-g", "daemon off;"]
        assert web["workingDirectory"] == "/srv"
        assert c["init"]["essential"] is False
        # ECS fills in the defaults: essential true, protocol tcp, health check timings.
        assert c["sidecar"]["essential"] is False
    reqs = {a["name"] for a in described["requiresAttributes"]}
    assert "ecs.capability.container-health-check" in reqs
    assert "ecs.capability.container-ordering" in reqs
    assert "com.amazonaws.ecs.capability.task-iam-role" in reqs
    assert "EC2" in described["compatibilities"]
    assert "FARGATE" not in described["compatibilities"]  # bridge mode cannot run on Fargate


def test_register_fills_in_defaults(ecs):
    family = unique("defaults")
    td = register(
        ecs,
        family,
        [simple(portMappings=[{"containerPort": 8080}], healthCheck={"command": ["CMD", "true"]})],
    )
    (c,) = td["containerDefinitions"]
    assert c["essential"] is True
    assert c["portMappings"][0]["protocol"] == "tcp"
    hc = c["healthCheck"]
    assert (hc["interval"], hc["timeout"], hc["retries"]) == (30, 5, 3)


def test_register_fargate_normalises_cpu_and_memory(ecs):
    family = unique("fargate")
    td = register(
        ecs,
        family,
        [{"name": "app", "image": "busybox", "portMappings": [{"containerPort": 80}]}],
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="0.25 vCPU",
        memory="0.5 GB",
    )
    assert td["cpu"] == "256"
    assert td["memory"] == "512"
    assert td["networkMode"] == "awsvpc"
    assert td["requiresCompatibilities"] == ["FARGATE"]
    assert set(td["compatibilities"]) >= {"EC2", "FARGATE"}
    assert {"name": "ecs.capability.task-eni"} in td["requiresAttributes"]
    # In awsvpc mode the host port is the container port.
    assert td["containerDefinitions"][0]["portMappings"] == [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}]
    described = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
    assert (described["cpu"], described["memory"]) == ("256", "512")


def test_register_fargate_larger_size_in_units(ecs):
    td = register(
        ecs,
        unique("fargate"),
        [{"name": "app", "image": "busybox"}],
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="1 vCPU",
        memory="2GB",
    )
    assert (td["cpu"], td["memory"]) == ("1024", "2048")


def expect_refused(ecs, family, field, **kwargs):
    kwargs.setdefault("containerDefinitions", [simple()])
    with pytest.raises(ClientError) as e:
        ecs.register_task_definition(family=family, **kwargs)
    assert code(e) in VALIDATION_CODES, e.value.response
    assert field.lower() in message(e).lower(), message(e)
    return e


def test_refuse_bad_family(ecs):
    expect_refused(ecs, "bad family!", "family")
    expect_refused(ecs, "x" * 256, "family")


def test_refuse_zero_and_eleven_containers(ecs):
    family = unique("count")
    expect_refused(ecs, family, "containerDefinitions", containerDefinitions=[])
    expect_refused(
        ecs, family, "containerDefinitions", containerDefinitions=[simple(f"c{i}") for i in range(11)]
    )
    # Ten is the limit and is fine.
    td = register(ecs, family, [simple(f"c{i}") for i in range(10)])
    assert len(td["containerDefinitions"]) == 10
    assert td["revision"] == 1


def test_refuse_duplicate_container_names(ecs):
    e = expect_refused(ecs, unique("dup"), "app", containerDefinitions=[simple("app"), simple("app")])
    assert "more than once" in message(e) or "duplicate" in message(e).lower()


def test_refuse_missing_memory(ecs):
    expect_refused(ecs, unique("mem"), "memory", containerDefinitions=[{"name": "app", "image": "busybox"}])


def test_refuse_bad_fargate_size(ecs):
    expect_refused(
        ecs,
        unique("fsize"),
        "fargate",
        containerDefinitions=[{"name": "app", "image": "busybox"}],
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="4096",
    )


def test_refuse_fargate_without_awsvpc(ecs):
    expect_refused(
        ecs,
        unique("fmode"),
        "awsvpc",
        containerDefinitions=[{"name": "app", "image": "busybox"}],
        requiresCompatibilities=["FARGATE"],
        networkMode="bridge",
        cpu="256",
        memory="512",
    )


@pytest.mark.parametrize("port", [0, 65536, 70000])
def test_refuse_bad_port(ecs, port):
    expect_refused(ecs, unique("port"), "containerPort", containerDefinitions=[simple(portMappings=[{"containerPort": port}])])


def test_refuse_mount_point_without_volume(ecs):
    expect_refused(
        ecs,
        unique("mnt"),
        "sourceVolume",
        containerDefinitions=[simple(mountPoints=[{"sourceVolume": "nope", "containerPath": "/x"}])],
    )


def test_refuse_depends_on_unknown_container(ecs):
    expect_refused(
        ecs,
        unique("dep"),
        "dependsOn",
        containerDefinitions=[simple(dependsOn=[{"containerName": "ghost", "condition": "START"}])],
    )


def test_unknown_enum_value_is_invalid_parameter(server):
    family = unique("enum")
    status, _, body = server.raw(
        "RegisterTaskDefinition",
        {"family": family, "networkMode": "bogus", "containerDefinitions": [simple()]},
    )
    doc = json.loads(body)
    assert status == 400
    assert doc["__type"] == "InvalidParameterException"
    assert "networkMode" in doc["message"]


def test_failed_register_stores_nothing(ecs):
    family = unique("nothing")
    with pytest.raises(ClientError):
        ecs.register_task_definition(family=family, containerDefinitions=[{"name": "app", "image": "busybox"}])
    with pytest.raises(ClientError):
        ecs.register_task_definition(
            family=family, containerDefinitions=[simple()], tags=[{"key": "aws:reserved", "value": "x"}]
        )
    assert all_families(ecs, familyPrefix=family, status="ALL") == []
    assert all_arns(ecs, familyPrefix=family) == []
    with pytest.raises(ClientError) as e:
        ecs.describe_task_definition(taskDefinition=family)
    assert code(e) == "ClientException"
    # The first successful registration is revision 1: failures used no revision.
    assert register(ecs, family)["revision"] == 1


def test_describe_by_family_revision_arn_and_tags(ecs):
    family = unique("desc")
    register(ecs, family, tags=[{"key": "owner", "value": "me"}])
    register(ecs, family, [simple(image="busybox:2")])
    latest = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
    assert latest["revision"] == 2
    assert latest["containerDefinitions"][0]["image"] == "busybox:2"
    first = ecs.describe_task_definition(taskDefinition=f"{family}:1")["taskDefinition"]
    assert first["revision"] == 1
    by_arn = ecs.describe_task_definition(taskDefinition=td_arn(family, 1))["taskDefinition"]
    assert by_arn["taskDefinitionArn"] == td_arn(family, 1)
    with_tags = ecs.describe_task_definition(taskDefinition=f"{family}:1", include=["TAGS"])
    assert with_tags["tags"] == [{"key": "owner", "value": "me"}]
    without = ecs.describe_task_definition(taskDefinition=f"{family}:1")
    assert not without.get("tags")


@pytest.mark.parametrize("ref", ["no-such-family", "no-such-family:1", "arn:aws:ecs:us-east-1:000000000000:task-definition/no-such-family:9"])
def test_describe_unknown_is_client_exception(ecs, ref):
    with pytest.raises(ClientError) as e:
        ecs.describe_task_definition(taskDefinition=ref)
    assert code(e) == "ClientException"


def test_describe_unknown_revision_of_known_family(ecs):
    family = unique("rev")
    register(ecs, family)
    with pytest.raises(ClientError) as e:
        ecs.describe_task_definition(taskDefinition=f"{family}:7")
    assert code(e) == "ClientException"


def test_list_task_definitions_family_filter_is_the_full_family_name(ecs):
    # ListTaskDefinitions' familyPrefix is, despite its name, "the full family name"
    # (botocore's ECS model; moto PR #2602 records AWS answering [] for a mere prefix),
    # unlike ListTaskDefinitionFamilies' familyPrefix, which is a prefix.
    stem = unique("lst")
    fa, fb = f"{stem}-a", f"{stem}-ab"
    for _ in range(3):
        register(ecs, fa)
    register(ecs, fb)
    assert all_arns(ecs, familyPrefix=fa) == [td_arn(fa, 1), td_arn(fa, 2), td_arn(fa, 3)]
    assert all_arns(ecs, familyPrefix=fb) == [td_arn(fb, 1)]
    assert all_arns(ecs, familyPrefix=stem) == []
    assert all_families(ecs, familyPrefix=stem) == [fa, fb]


def test_list_task_definitions_sort_and_pagination_in_a_family(ecs):
    family = unique("lsort")
    for _ in range(5):
        register(ecs, family)
    asc = [td_arn(family, r) for r in range(1, 6)]
    assert all_arns(ecs, familyPrefix=family) == asc
    assert all_arns(ecs, familyPrefix=family, sort="ASC") == asc
    assert all_arns(ecs, familyPrefix=family, sort="DESC") == list(reversed(asc))

    page = ecs.list_task_definitions(familyPrefix=family, maxResults=2)
    assert page["taskDefinitionArns"] == asc[:2]
    assert page["nextToken"]
    page2 = ecs.list_task_definitions(familyPrefix=family, maxResults=2, nextToken=page["nextToken"])
    assert page2["taskDefinitionArns"] == asc[2:4]
    pages = list(
        ecs.get_paginator("list_task_definitions").paginate(familyPrefix=family, PaginationConfig={"PageSize": 2})
    )
    assert [p["taskDefinitionArns"] for p in pages] == [asc[:2], asc[2:4], asc[4:]]
    desc_pages = list(
        ecs.get_paginator("list_task_definitions").paginate(
            familyPrefix=family, sort="DESC", PaginationConfig={"PageSize": 2}
        )
    )
    assert [a for p in desc_pages for a in p["taskDefinitionArns"]] == list(reversed(asc))

    ecs.deregister_task_definition(taskDefinition=f"{family}:2")
    assert all_arns(ecs, familyPrefix=family, status="INACTIVE") == [td_arn(family, 2)]
    assert td_arn(family, 2) not in all_arns(ecs, familyPrefix=family, status="ACTIVE")


def test_list_task_definitions_sort_across_families(fresh_server):
    ecs = fresh_server().client()
    for family, count in (("beta", 2), ("alpha", 2), ("gamma", 1)):
        for _ in range(count):
            register(ecs, family)
    asc = [td_arn("alpha", 1), td_arn("alpha", 2), td_arn("beta", 1), td_arn("beta", 2), td_arn("gamma", 1)]
    assert all_arns(ecs) == asc
    assert all_arns(ecs, sort="DESC") == list(reversed(asc))
    pages = list(ecs.get_paginator("list_task_definitions").paginate(PaginationConfig={"PageSize": 2}))
    assert [p["taskDefinitionArns"] for p in pages] == [asc[:2], asc[2:4], asc[4:]]


def test_list_task_definition_families_by_status(ecs):
    prefix = unique("famst")
    active, inactive = f"{prefix}-active", f"{prefix}-gone"
    register(ecs, active)
    register(ecs, inactive)
    ecs.deregister_task_definition(taskDefinition=f"{inactive}:1")
    assert all_families(ecs, familyPrefix=prefix, status="ACTIVE") == [active]
    assert all_families(ecs, familyPrefix=prefix, status="INACTIVE") == [inactive]
    assert all_families(ecs, familyPrefix=prefix, status="ALL") == [active, inactive]
    pages = list(
        ecs.get_paginator("list_task_definition_families").paginate(
            familyPrefix=prefix, status="ALL", PaginationConfig={"PageSize": 1}
        )
    )
    assert [p["families"] for p in pages] == [[active], [inactive]]
    # A family with one ACTIVE revision left is ACTIVE, not INACTIVE.
    register(ecs, inactive)
    assert all_families(ecs, familyPrefix=prefix, status="INACTIVE") == []


def test_list_task_definition_families_default_lists_active_and_inactive(ecs):
    # botocore's ECS model: "By default, both ACTIVE and INACTIVE task definition
    # families are listed."
    prefix = unique("famdef")
    active, inactive = f"{prefix}-active", f"{prefix}-gone"
    register(ecs, active)
    register(ecs, inactive)
    ecs.deregister_task_definition(taskDefinition=f"{inactive}:1")
    assert all_families(ecs, familyPrefix=prefix) == [active, inactive]


def test_deregister_and_delete(ecs):
    family = unique("dereg")
    register(ecs, family)
    register(ecs, family)
    d = ecs.deregister_task_definition(taskDefinition=f"{family}:1")["taskDefinition"]
    assert d["status"] == "INACTIVE"
    assert d["revision"] == 1
    assert d.get("deregisteredAt") is not None
    # Listed as INACTIVE, and the family now resolves to revision 2. (Describing an
    # INACTIVE revision is not asserted: ECS documents it only while tasks use it.)
    assert all_arns(ecs, familyPrefix=family, status="INACTIVE") == [td_arn(family, 1)]
    assert ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]["revision"] == 2

    out = ecs.delete_task_definitions(taskDefinitions=[f"{family}:1", f"{family}:2"])
    assert [t["taskDefinitionArn"] for t in out["taskDefinitions"]] == [td_arn(family, 1)]
    assert out["taskDefinitions"][0]["status"] == "DELETE_IN_PROGRESS"
    assert out["taskDefinitions"][0].get("deleteRequestedAt") is not None
    assert len(out["failures"]) == 1
    assert out["failures"][0]["arn"] == td_arn(family, 2)
    assert "ACTIVE" in out["failures"][0]["reason"]
    assert td_arn(family, 1) in all_arns(ecs, familyPrefix=family, status="DELETE_IN_PROGRESS")
    assert td_arn(family, 1) not in all_arns(ecs, familyPrefix=family, status="INACTIVE")
    # Revision 2 untouched.
    assert ecs.describe_task_definition(taskDefinition=f"{family}:2")["taskDefinition"]["status"] == "ACTIVE"


def test_deregister_unknown_and_family_only(ecs):
    family = unique("dereg")
    register(ecs, family)
    with pytest.raises(ClientError) as e:
        ecs.deregister_task_definition(taskDefinition=f"{family}:5")
    assert code(e) in VALIDATION_CODES
    # ECS needs a revision here ("You must specify a revision"): a bare family is a
    # ClientException, not a request to deregister the latest revision.
    with pytest.raises(ClientError) as e:
        ecs.deregister_task_definition(taskDefinition=family)
    assert code(e) == "ClientException"
    assert ecs.describe_task_definition(taskDefinition=f"{family}:1")["taskDefinition"]["status"] == "ACTIVE"


def test_delete_unknown_task_definition_is_failure(ecs):
    family = unique("delx")
    out = ecs.delete_task_definitions(taskDefinitions=[f"{family}:1"])
    assert out["taskDefinitions"] == []
    assert [f["arn"] for f in out["failures"]] == [td_arn(family, 1)]


def test_more_refusals_name_their_field(ecs):
    family = unique("more")
    expect_refused(
        ecs,
        family,
        "hostPort",
        networkMode="awsvpc",
        containerDefinitions=[simple(portMappings=[{"containerPort": 80, "hostPort": 8080}])],
    )
    expect_refused(
        ecs,
        family,
        "retries",
        containerDefinitions=[simple(healthCheck={"command": ["CMD", "true"], "retries": 11})],
    )
    expect_refused(
        ecs,
        family,
        "memory",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[simple(memory=1024)],
    )
    expect_refused(ecs, family, "cpu", cpu="lots", containerDefinitions=[simple()])
    expect_refused(
        ecs, family, "essential", containerDefinitions=[simple("a", essential=False), simple("b", essential=False)]
    )
    expect_refused(ecs, family, "taskRoleArn", taskRoleArn="not-a-role", containerDefinitions=[simple()])
    assert all_families(ecs, familyPrefix=family, status="ALL") == []


def test_wrong_json_type_is_serialization_exception(server):
    family = unique("types")
    status, _, body = server.raw("RegisterTaskDefinition", {"family": family, "containerDefinitions": "not-a-list"})
    assert status == 400
    assert json.loads(body)["__type"] == "SerializationException"
    status, _, body = server.raw(
        "RegisterTaskDefinition", {"family": family, "containerDefinitions": [simple(memory="lots")]}
    )
    assert status == 400
    assert json.loads(body)["__type"] == "SerializationException"


def test_missing_family_is_client_exception(server):
    # A missing family is a ClientException naming it: real ECS answers "Family can not
    # be blank." (aws/aws-sdk-go#132, aws-actions/amazon-ecs-deploy-task-definition#630),
    # not a SerializationException, which is for bodies that cannot be read.
    status, _, body = server.raw("RegisterTaskDefinition", {"containerDefinitions": [simple()]})
    assert status == 400
    doc = json.loads(body)
    assert doc["__type"] == "ClientException", doc
    assert "family" in doc["message"].lower()


@pytest.mark.parametrize(
    "call",
    [
        lambda ecs: ecs.list_task_definitions(status="BOGUS"),
        lambda ecs: ecs.list_task_definitions(sort="SIDEWAYS"),
        lambda ecs: ecs.list_task_definition_families(status="BOGUS"),
        lambda ecs: ecs.describe_task_definition(taskDefinition="x", include=["BOGUS"]),
        lambda ecs: ecs.list_task_definitions(maxResults=101),
        lambda ecs: ecs.list_task_definitions(nextToken="not-a-token-we-gave"),
    ],
    ids=["status", "sort", "family-status", "include", "max-results", "next-token"],
)
def test_list_and_describe_bad_parameters(ecs, call):
    with pytest.raises(ClientError) as e:
        call(ecs)
    assert code(e) == "InvalidParameterException"


def test_describe_bad_revision_reference(ecs):
    with pytest.raises(ClientError) as e:
        ecs.describe_task_definition(taskDefinition="fam:notanumber")
    assert code(e) in VALIDATION_CODES


def test_family_resolves_to_latest_active_revision(ecs):
    family = unique("latest")
    for _ in range(3):
        register(ecs, family)
    ecs.deregister_task_definition(taskDefinition=f"{family}:3")
    assert ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]["revision"] == 2
    ecs.deregister_task_definition(taskDefinition=f"{family}:2")
    ecs.deregister_task_definition(taskDefinition=f"{family}:1")
    with pytest.raises(ClientError) as e:
        ecs.describe_task_definition(taskDefinition=family)
    assert code(e) == "ClientException"
    # A new registration continues the numbering.
    assert register(ecs, family)["revision"] == 4


def test_registered_metadata(ecs):
    td = register(ecs, unique("meta"))
    assert isinstance(td["registeredAt"], datetime.datetime)
    assert td["registeredAt"].year >= 2024
    assert td["registeredBy"] == "arn:aws:iam::000000000000:root"
    d = ecs.deregister_task_definition(taskDefinition=td["taskDefinitionArn"])["taskDefinition"]
    assert isinstance(d["deregisteredAt"], datetime.datetime)
    assert d["deregisteredAt"] >= d["registeredAt"]


def test_list_families_pagination_many(fresh_server):
    ecs = fresh_server().client()
    families = sorted(f"pg-{i:02d}" for i in range(23))
    for f in families:
        register(ecs, f)
    pages = list(ecs.get_paginator("list_task_definition_families").paginate(PaginationConfig={"PageSize": 5}))
    assert [len(p["families"]) for p in pages] == [5, 5, 5, 5, 3]
    assert [f for p in pages for f in p["families"]] == families
    assert all_families(ecs, familyPrefix="pg-1") == [f for f in families if f.startswith("pg-1")]


def test_revision_numbers_continue_after_deleting_every_revision(ecs):
    # "The task definition name is retained by Amazon ECS and the revision is
    # incremented the next time you create a task definition with that name."
    # (DeleteTaskDefinitions, botocore's ECS model)
    family = unique("reuse")
    register(ecs, family)
    register(ecs, family)
    for r in (1, 2):
        ecs.deregister_task_definition(taskDefinition=f"{family}:{r}")
    out = ecs.delete_task_definitions(taskDefinitions=[f"{family}:1", td_arn(family, 2)])
    assert out["failures"] == []
    assert sorted(t["status"] for t in out["taskDefinitions"]) == ["DELETE_IN_PROGRESS"] * 2
    assert register(ecs, family)["revision"] == 3


def test_delete_task_definitions_limits(ecs):
    with pytest.raises(ClientError) as e:
        ecs.delete_task_definitions(taskDefinitions=[f"x:{i}" for i in range(1, 12)])
    assert code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        ecs.delete_task_definitions(taskDefinitions=["family-without-revision"])
    assert code(e) in VALIDATION_CODES
