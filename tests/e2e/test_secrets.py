"""Secrets Manager with boto3 against the real binary, and ECS private registry
authentication: a task whose container definition has `repositoryCredentials`
pulls its image with the credentials held in a secret."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import BUSYBOX_IMAGE, unique, wait_running, wait_stopped
from test_registry import Registry

CLUSTER = "default"


@pytest.fixture(scope="module")
def sm(server):
    return server.client("secretsmanager")


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_create_get_put_describe(sm):
    name = unique("app/db")
    created = sm.create_secret(Name=name, SecretString='{"password": "one"}', Description="the db",
                               Tags=[{"Key": "team", "Value": "red"}])
    arn = created["ARN"]
    assert arn.startswith(f"arn:aws:secretsmanager:us-east-1:") and f":secret:{name}-" in arn
    assert len(arn.rsplit("-", 1)[1]) == 6
    got = sm.get_secret_value(SecretId=name)
    assert got["SecretString"] == '{"password": "one"}'
    assert got["VersionId"] == created["VersionId"]
    assert got["VersionStages"] == ["AWSCURRENT"]
    assert sm.get_secret_value(SecretId=arn)["ARN"] == arn
    assert sm.get_secret_value(SecretId=arn[:-7])["ARN"] == arn, "a partial ARN names the secret too"

    put = sm.put_secret_value(SecretId=arn, SecretString="two")
    assert put["VersionStages"] == ["AWSCURRENT"]
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "two"
    previous = sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")
    assert previous["SecretString"] == '{"password": "one"}'

    described = sm.describe_secret(SecretId=name)
    assert described["Name"] == name
    assert described["Description"] == "the db"
    assert described["Tags"] == [{"Key": "team", "Value": "red"}]
    assert described["VersionIdsToStages"] == {created["VersionId"]: ["AWSPREVIOUS"],
                                               put["VersionId"]: ["AWSCURRENT"]}
    assert described["CreatedDate"] <= described["LastChangedDate"]


def test_binary_secrets(sm):
    name = unique("bin")
    sm.create_secret(Name=name, SecretBinary=b"\x00\x01\xffbytes")
    got = sm.get_secret_value(SecretId=name)
    assert got["SecretBinary"] == b"\x00\x01\xffbytes"
    assert "SecretString" not in got


def test_secret_created_without_a_value(sm):
    name = unique("later")
    created = sm.create_secret(Name=name)
    assert "VersionId" not in created
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=name)
    assert code_of(e) == "ResourceNotFoundException"
    sm.put_secret_value(SecretId=name, SecretString="now")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "now"


def test_list_secrets_pages(sm):
    prefix = unique("list")
    names = [f"{prefix}-{i}" for i in range(5)]
    for n in names:
        sm.create_secret(Name=n, SecretString="v")
    seen, token = [], None
    while True:
        kwargs = {"MaxResults": 2, "Filters": [{"Key": "name", "Values": [prefix]}]}
        if token:
            kwargs["NextToken"] = token
        page = sm.list_secrets(**kwargs)
        assert len(page["SecretList"]) <= 2
        seen += [s["Name"] for s in page["SecretList"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == names
    paginated = [s["Name"] for p in sm.get_paginator("list_secrets").paginate(
        Filters=[{"Key": "name", "Values": [prefix]}], PaginationConfig={"PageSize": 3}) for s in p["SecretList"]]
    assert paginated == names


def test_delete_with_and_without_recovery(sm):
    soft, hard = unique("soft"), unique("hard")
    sm.create_secret(Name=soft, SecretString="v")
    sm.create_secret(Name=hard, SecretString="v")
    deleted = sm.delete_secret(SecretId=soft, RecoveryWindowInDays=7)
    assert deleted["Name"] == soft and deleted["DeletionDate"]
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=soft)
    assert code_of(e) == "InvalidRequestException"
    assert "DeletedDate" in sm.describe_secret(SecretId=soft)
    listed = [s["Name"] for s in sm.list_secrets(Filters=[{"Key": "name", "Values": [soft]}])["SecretList"]]
    assert listed == []
    listed = sm.list_secrets(IncludePlannedDeletion=True, Filters=[{"Key": "name", "Values": [soft]}])
    assert [s["Name"] for s in listed["SecretList"]] == [soft]

    sm.delete_secret(SecretId=hard, ForceDeleteWithoutRecovery=True)
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=hard)
    assert code_of(e) == "ResourceNotFoundException"


def test_errors(sm):
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=unique("missing"))
    assert code_of(e) == "ResourceNotFoundException"
    name = unique("dup")
    sm.create_secret(Name=name, SecretString="v")
    with pytest.raises(ClientError) as e:
        sm.create_secret(Name=name, SecretString="v")
    assert code_of(e) == "ResourceExistsException"
    with pytest.raises(ClientError) as e:
        sm.create_secret(Name=unique("both"), SecretString="v", SecretBinary=b"v")
    assert code_of(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        sm.delete_secret(SecretId=name, RecoveryWindowInDays=1)
    assert code_of(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        sm.delete_secret(SecretId=name, RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
    assert code_of(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        sm.put_secret_value(SecretId=unique("missing"), SecretString="v")
    assert code_of(e) == "ResourceNotFoundException"


# ---- private registry authentication (needs Docker) ----

def run_task(ecs, track, family, image, credentials):
    td = ecs.register_task_definition(family=family, containerDefinitions=[{
        "name": "app", "image": image, "memory": 64, "command": ["sleep", "600"],
        "repositoryCredentials": {"credentialsParameter": credentials},
    }])["taskDefinition"]
    assert "com.amazonaws.ecs.capability.private-registry-authentication.secretsmanager" in [
        a["name"] for a in td["requiresAttributes"]]
    resp = ecs.run_task(cluster=CLUSTER, taskDefinition=td["taskDefinitionArn"])
    assert resp["failures"] == [], resp["failures"]
    arn = resp["tasks"][0]["taskArn"]
    track(arn, ecs=ecs, cluster=CLUSTER)
    return arn


@pytest.fixture
def pushed(docker_server, aws_cli, tmp_path):
    """The busybox test image pushed to a new repository of the built-in registry
    (after `docker login` with `aws ecr get-login-password`) and removed locally;
    yields (registry, image reference)."""
    registry = Registry(docker_server, aws_cli, tmp_path)
    repo = registry.create_repository()
    client = registry.docker_login()
    ref = registry.ref(repo, "v1")
    client("tag", BUSYBOX_IMAGE, ref)
    client("push", ref)
    client("rmi", ref)
    yield registry, ref
    client("rmi", "-f", ref, check=False)


def test_task_pulls_with_repository_credentials(decs, docker_server, pushed, task_cleanup):
    registry, ref = pushed
    sm = docker_server.client("secretsmanager")
    secret = sm.create_secret(Name=unique("registry"),
                              SecretString=json.dumps({"username": "AWS", "password": registry.password()}))
    arn = run_task(decs, task_cleanup, unique("privreg"), ref, secret["ARN"])
    task = wait_running(decs, CLUSTER, arn)
    assert task["lastStatus"] == "RUNNING", task


def test_missing_secret_stops_the_task(decs, task_cleanup):
    arn = run_task(decs, task_cleanup, unique("privreg-missing"), BUSYBOX_IMAGE,
                   f"arn:aws:secretsmanager:us-east-1:000000000000:secret:{unique('absent')}-AbCdEf")
    task = wait_stopped(decs, CLUSTER, arn)
    assert task["stoppedReason"].startswith("CannotPullContainerError:"), task["stoppedReason"]
    assert task["stopCode"] == "TaskFailedToStart"


def test_bad_secret_json_stops_the_task(decs, docker_server, task_cleanup):
    sm = docker_server.client("secretsmanager")
    secret = sm.create_secret(Name=unique("notjson"), SecretString="user:pass")
    arn = run_task(decs, task_cleanup, unique("privreg-bad"), BUSYBOX_IMAGE, secret["Name"])
    task = wait_stopped(decs, CLUSTER, arn)
    assert task["stoppedReason"].startswith("CannotPullContainerError:"), task["stoppedReason"]
    assert "user:pass" not in task["stoppedReason"]


def test_secret_credentials_take_precedence_over_the_agents_login(decs, docker_server, pushed, task_cleanup):
    _, ref = pushed
    sm = docker_server.client("secretsmanager")
    secret = sm.create_secret(Name=unique("wrong"), SecretString=json.dumps({"username": "AWS", "password": "nope"}))
    arn = run_task(decs, task_cleanup, unique("privreg-wrong"), ref, secret["ARN"])
    task = wait_stopped(decs, CLUSTER, arn)
    assert task["stoppedReason"].startswith("CannotPullContainerError:"), task["stoppedReason"]
