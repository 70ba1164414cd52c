"""Secrets Manager with boto3 against the real binary, and ECS private registry
authentication: a task whose container definition has `repositoryCredentials`
pulls its image with the credentials held in a secret."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import BUSYBOX_IMAGE, POSTGRES_URL, unique, wait_running, wait_stopped
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


def test_update_and_restore(sm):
    name = unique("upd")
    created = sm.create_secret(Name=name, SecretString="one", Description="old")
    token = "a" * 32
    updated = sm.update_secret(SecretId=name, SecretString="two", Description="new", ClientRequestToken=token)
    assert updated["VersionId"] == token and updated["ARN"] == created["ARN"]
    again = sm.update_secret(SecretId=name, SecretString="two", ClientRequestToken=token)
    assert again["VersionId"] == token, "the same token and value is the same version"
    with pytest.raises(ClientError) as e:
        sm.update_secret(SecretId=name, SecretString="three", ClientRequestToken=token)
    assert code_of(e) == "ResourceExistsException"
    described = sm.describe_secret(SecretId=name)
    assert described["Description"] == "new"
    assert described["VersionIdsToStages"] == {created["VersionId"]: ["AWSPREVIOUS"], token: ["AWSCURRENT"]}
    assert "VersionId" not in sm.update_secret(SecretId=name, Description="newer")

    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    with pytest.raises(ClientError) as e:
        sm.update_secret(SecretId=name, Description="x")
    assert code_of(e) == "InvalidRequestException"
    assert sm.restore_secret(SecretId=name)["Name"] == name
    assert "DeletedDate" not in sm.describe_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "two"


def test_version_ids_and_stages(sm):
    name = unique("stages")
    first = sm.create_secret(Name=name, SecretString="one")["VersionId"]
    second = sm.put_secret_value(SecretId=name, SecretString="two")["VersionId"]
    third = sm.put_secret_value(SecretId=name, SecretString="three")["VersionId"]
    listed = {v["VersionId"]: v.get("VersionStages") for v in sm.list_secret_version_ids(SecretId=name)["Versions"]}
    assert listed == {second: ["AWSPREVIOUS"], third: ["AWSCURRENT"]}
    everything = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert {v["VersionId"] for v in everything} == {first, second, third}

    # Roll back: AWSCURRENT to the second version, AWSPREVIOUS follows to the third.
    with pytest.raises(ClientError) as e:
        sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=second)
    assert code_of(e) == "InvalidParameterException"
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT",
                                   RemoveFromVersionId=third, MoveToVersionId=second)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "two"
    assert sm.describe_secret(SecretId=name)["VersionIdsToStages"] == {second: ["AWSCURRENT"], third: ["AWSPREVIOUS"]}
    sm.update_secret_version_stage(SecretId=name, VersionStage="BLUE", MoveToVersionId=first)
    assert sm.get_secret_value(SecretId=name, VersionStage="BLUE")["SecretString"] == "one"


def test_tags(sm):
    name = unique("tags")
    sm.create_secret(Name=name, SecretString="v", Tags=[{"Key": "team", "Value": "red"}])
    sm.tag_resource(SecretId=name, Tags=[{"Key": "team", "Value": "blue"}, {"Key": "env", "Value": "prod"}])
    assert sm.describe_secret(SecretId=name)["Tags"] == [{"Key": "team", "Value": "blue"},
                                                          {"Key": "env", "Value": "prod"}]
    listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]
    assert listed[0]["Tags"] == [{"Key": "team", "Value": "blue"}, {"Key": "env", "Value": "prod"}]
    sm.untag_resource(SecretId=name, TagKeys=["team", "absent"])
    assert sm.describe_secret(SecretId=name)["Tags"] == [{"Key": "env", "Value": "prod"}]
    with pytest.raises(ClientError) as e:
        sm.tag_resource(SecretId=name, Tags=[{"Key": "aws:reserved", "Value": "v"}])
    assert code_of(e) == "InvalidParameterException"


def test_random_password(sm):
    password = sm.get_random_password()["RandomPassword"]
    assert len(password) == 32
    custom = sm.get_random_password(PasswordLength=20, ExcludePunctuation=True, ExcludeCharacters="aeiou")
    assert len(custom["RandomPassword"]) == 20
    assert all(c.isalnum() and c not in "aeiou" for c in custom["RandomPassword"])
    with pytest.raises(ClientError) as e:
        sm.get_random_password(PasswordLength=3)
    assert code_of(e) == "InvalidParameterException", "too short for one of each of the four types"


def test_batch_get_secret_value(sm):
    prefix = unique("batch")
    for i in range(3):
        sm.create_secret(Name=f"{prefix}-{i}", SecretString=f"v{i}")
    got = sm.batch_get_secret_value(SecretIdList=[f"{prefix}-0", f"{prefix}-2", f"{prefix}-missing"])
    assert [v["SecretString"] for v in got["SecretValues"]] == ["v0", "v2"]
    assert [(e["SecretId"], e["ErrorCode"]) for e in got["Errors"]] == [
        (f"{prefix}-missing", "ResourceNotFoundException")]
    names, token = [], None
    while True:
        kwargs = {"Filters": [{"Key": "name", "Values": [prefix]}], "MaxResults": 2}
        if token:
            kwargs["NextToken"] = token
        page = sm.batch_get_secret_value(**kwargs)
        names += [v["Name"] for v in page["SecretValues"]]
        token = page.get("NextToken")
        if not token:
            break
    assert names == [f"{prefix}-{i}" for i in range(3)]
    with pytest.raises(ClientError) as e:
        sm.batch_get_secret_value()
    assert code_of(e) == "InvalidParameterException"


def test_values_are_sealed_at_rest(server, sm):
    marker = unique("plaintext-marker")
    name = unique("sealed")
    sm.create_secret(Name=name, SecretString=marker)
    sm.update_secret(SecretId=name, SecretBinary=marker.encode() + b"-bin")
    key = server.data_dir / "seal.key"
    assert key.stat().st_size == 32 and key.stat().st_mode & 0o777 == 0o600
    if POSTGRES_URL:
        return
    on_disk = b"".join(p.read_bytes() for p in server.data_dir.glob("secrets.db*"))
    assert name.encode() in on_disk, "the store's files were read"
    assert marker.encode() not in on_disk, "a secret value is stored in plain text"


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
