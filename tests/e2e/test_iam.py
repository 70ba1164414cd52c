"""Identity and access (issue 11) with real clients: IAM users, groups, roles and
policies made with boto3 and the aws CLI, enforced by the front door on ECS, ECR (the
API and `docker pull`) and STS; AssumeRole with its session credentials; forged
tokens; SimulatePrincipalPolicy answering from the same evaluator.

Every test makes its own users and roles (unique names) on the shared server; the root
credentials keep full power throughout.
"""

import base64
import json
import os
import subprocess
import sys

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from conftest import (
    ACCESS_KEY,
    ACCOUNT,
    BUSYBOX_IMAGE,
    REGION,
    SECRET_KEY,
    cluster_arn,
    containers_of_task,
    docker_inspect,
    td_arn,
    unique,
    wait_for,
    wait_running,
    wait_stopped,
)
from test_registry import DockerClient, need_docker, run  # noqa: F401 (need_docker is a fixture)

DESCRIBE_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["ecs:Describe*", "ecs:List*"], "Resource": "*"}],
}


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def error(e):
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def iam(server):
    return server.client("iam")


def new_user(server, iam, *inline):
    """A user with an access key and the given inline policies; returns (name, clients)."""
    name = unique("user")
    iam.create_user(UserName=name)
    for i, doc in enumerate(inline):
        iam.put_user_policy(UserName=name, PolicyName=f"p{i}", PolicyDocument=json.dumps(doc))
    key = iam.create_access_key(UserName=name)["AccessKey"]

    def client(service):
        return server.client(service, access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])

    return name, client, key


def test_a_new_user_may_do_nothing_and_a_describe_only_user_cannot_run_tasks(server, iam, ecs):
    name, client, _ = new_user(server, iam)
    user_ecs = client("ecs")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user_ecs.list_clusters()
    code, message = error(e)
    assert code == "AccessDeniedException", e.value.response
    assert message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform: ecs:ListClusters on resource: *"
    )

    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=json.dumps(DESCRIBE_ONLY))
    user_ecs.list_clusters()
    user_ecs.describe_clusters(clusters=["default"])
    family = unique("fam")
    ecs.register_task_definition(family=family, containerDefinitions=[{"name": "c", "image": "busybox", "memory": 16}])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user_ecs.run_task(taskDefinition=f"{family}:1")
    code, message = error(e)
    assert code == "AccessDeniedException"
    assert message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform: ecs:RunTask "
        f"on resource: {td_arn(family, 1)}"
    )
    # And IAM itself is closed to them.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client("iam").create_user(UserName=unique("x"))
    assert error(e)[0] == "AccessDenied"


def test_an_explicit_deny_in_a_group_beats_an_allow(server, iam):
    name, client, _ = new_user(server, iam, DESCRIBE_ONLY)
    client("ecs").list_clusters()
    group = unique("group")
    iam.create_group(GroupName=group)
    deny = iam.create_policy(
        PolicyName=unique("deny"),
        PolicyDocument=policy({"Effect": "Deny", "Action": "ecs:ListClusters", "Resource": "*"}),
    )["Policy"]["Arn"]
    iam.attach_group_policy(GroupName=group, PolicyArn=deny)
    iam.add_user_to_group(GroupName=group, UserName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client("ecs").list_clusters()
    assert error(e)[0] == "AccessDeniedException"
    client("ecs").describe_clusters(clusters=["default"])
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=name)["Groups"]] == [group]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_policy(PolicyArn=deny)
    assert error(e)[0] == "DeleteConflict"


def test_a_condition_on_ecs_cluster_limits_run_task_to_one_cluster(server, iam, ecs):
    blue, green = unique("blue"), unique("green")
    for c in (blue, green):
        ecs.create_cluster(clusterName=c)
    family = unique("fam")
    ecs.register_task_definition(family=family, containerDefinitions=[{"name": "c", "image": "busybox", "memory": 16}])
    _, client, _ = new_user(server, iam, {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Action": "ecs:RunTask", "Resource": "*",
            "Condition": {"ArnEquals": {"ecs:cluster": cluster_arn(blue)}},
        }],
    })
    user_ecs = client("ecs")
    # Allowed on blue: the call reaches ECS, which has no instance there to place it on.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user_ecs.run_task(cluster=blue, taskDefinition=f"{family}:1")
    assert error(e) == ("InvalidParameterException", "No Container Instances were found in your cluster.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user_ecs.run_task(cluster=green, taskDefinition=f"{family}:1")
    assert error(e)[0] == "AccessDeniedException"


def test_tag_conditions_limit_what_a_user_may_touch_and_create(server, iam, ecs):
    team = unique("team")
    mine, theirs = unique("mine"), unique("theirs")
    ecs.create_cluster(clusterName=mine, tags=[{"key": "team", "value": team}])
    ecs.create_cluster(clusterName=theirs, tags=[{"key": "team", "value": "other"}])
    _, client, _ = new_user(server, iam, {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ecs:DeleteCluster", "Resource": "*",
             "Condition": {"StringEquals": {"aws:ResourceTag/team": team}}},
            {"Effect": "Allow", "Action": "ecs:CreateCluster", "Resource": "*",
             "Condition": {"StringEquals": {"aws:RequestTag/team": team},
                           "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}},
        ],
    })
    user_ecs = client("ecs")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user_ecs.delete_cluster(cluster=theirs)
    assert error(e)[0] == "AccessDeniedException"
    user_ecs.delete_cluster(cluster=mine)
    user_ecs.create_cluster(clusterName=unique("new"), tags=[{"key": "team", "value": team}])
    for tags in ([], [{"key": "team", "value": "other"}],
                 [{"key": "team", "value": team}, {"key": "cost", "value": "x"}]):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            user_ecs.create_cluster(clusterName=unique("new"), tags=tags)
        assert error(e)[0] == "AccessDeniedException", tags


def test_a_resource_tag_condition_on_secrets(server, iam):
    team = unique("team")
    secrets = server.client("secretsmanager")
    ours = secrets.create_secret(Name=unique("ours"), SecretString="a", Tags=[{"Key": "team", "Value": team}])
    other = secrets.create_secret(Name=unique("other"), SecretString="b", Tags=[{"Key": "team", "Value": "x"}])
    _, client, _ = new_user(server, iam, {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
        "Condition": {"StringEquals": {"aws:ResourceTag/team": team}}}]})
    user_secrets = client("secretsmanager")
    for secret_id in (ours["ARN"], ours["Name"]):
        assert user_secrets.get_secret_value(SecretId=secret_id)["SecretString"] == "a"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user_secrets.get_secret_value(SecretId=other["ARN"])
    assert error(e)[0] == "AccessDeniedException"


def test_a_resource_tag_condition_on_parameters(server, iam):
    team = unique("team")
    ssm = server.client("ssm")
    ours, other = f"/{unique('p')}/ours", f"/{unique('p')}/other"
    ssm.put_parameter(Name=ours, Value="a", Type="String", Tags=[{"Key": "team", "Value": team}])
    ssm.put_parameter(Name=other, Value="b", Type="String", Tags=[{"Key": "team", "Value": "x"}])
    _, client, _ = new_user(server, iam, {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*",
        "Condition": {"StringEquals": {"aws:ResourceTag/team": team}}}]})
    user_ssm = client("ssm")
    assert user_ssm.get_parameter(Name=ours)["Parameter"]["Value"] == "a"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user_ssm.get_parameter(Name=other)
    assert error(e)[0] == "AccessDeniedException"


def test_assume_role_gives_session_credentials_limited_by_the_role_and_the_session_policy(server, iam):
    name, client, _ = new_user(server, iam, {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
    })
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/{name}"
    assert client("sts").get_caller_identity()["Arn"] == user_arn
    role = unique("role")
    role_arn = iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=policy({"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}),
        MaxSessionDuration=7200,
    )["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="read", PolicyDocument=json.dumps(DESCRIBE_ONLY))

    out = client("sts").assume_role(RoleArn=role_arn, RoleSessionName="s1", DurationSeconds=900)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and creds["SessionToken"]
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/s1"
    sess = boto3.session.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                                 aws_session_token=creds["SessionToken"], region_name=REGION)
    cfg = Config(retries={"total_max_attempts": 1})
    session = sess.client("ecs", endpoint_url=server.endpoint, config=cfg)
    session.list_clusters()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        session.create_cluster(clusterName=unique("c"))
    code, message = error(e)
    assert code == "AccessDeniedException"
    assert message.startswith(f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/s1 is not authorized"), message
    ident = sess.client("sts", endpoint_url=server.endpoint, config=cfg).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/s1"

    # A session policy narrows the role: ListClusters only.
    narrow = client("sts").assume_role(
        RoleArn=role_arn, RoleSessionName="s2",
        Policy=policy({"Effect": "Allow", "Action": "ecs:ListClusters", "Resource": "*"}),
    )["Credentials"]
    narrow_ecs = boto3.session.Session(
        aws_access_key_id=narrow["AccessKeyId"], aws_secret_access_key=narrow["SecretAccessKey"],
        aws_session_token=narrow["SessionToken"], region_name=REGION,
    ).client("ecs", endpoint_url=server.endpoint, config=cfg)
    narrow_ecs.list_clusters()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        narrow_ecs.describe_clusters(clusters=["default"])
    assert error(e)[0] == "AccessDeniedException"

    # A forged token, and a token of another session, are refused.
    forged = boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=narrow["SessionToken"], region_name=REGION,
    ).client("ecs", endpoint_url=server.endpoint, config=cfg)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        forged.list_clusters()
    assert error(e)[0] in ("UnrecognizedClientException", "InvalidSignatureException"), e.value.response

    # Longer than the role allows, and a role that does not trust the caller.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client("sts").assume_role(RoleArn=role_arn, RoleSessionName="s3", DurationSeconds=7201)
    assert error(e)[0] == "ValidationError"
    other = iam.create_role(
        RoleName=unique("other"),
        AssumeRolePolicyDocument=policy({"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                                         "Action": "sts:AssumeRole"}),
    )["Role"]["Arn"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client("sts").assume_role(RoleArn=other, RoleSessionName="s4")
    code, message = error(e)
    assert code == "AccessDenied" and "sts:AssumeRole" in message


def test_deactivated_and_deleted_keys_are_refused(server, iam):
    name, client, key = new_user(server, iam, DESCRIBE_ONLY)
    client("ecs").list_clusters()
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client("ecs").list_clusters()
    assert error(e)[0] == "UnrecognizedClientException"
    keys = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in keys] == [(key["AccessKeyId"], "Inactive")]
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    iam.delete_user_policy(UserName=name, PolicyName="p0")
    iam.delete_user(UserName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_user(UserName=name)
    assert error(e)[0] == "NoSuchEntity"


def test_malformed_policies_are_refused_with_the_fault(iam):
    name = unique("user")
    iam.create_user(UserName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument='{"Version": "2012-10-17",\n "Statement": [}')
    code, message = error(e)
    assert code == "MalformedPolicyDocument" and "line 2" in message, message
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_policy(PolicyName=unique("p"), PolicyDocument=policy({"Effect": "Allow", "Action": "ecs:*"}))
    assert error(e)[0] == "MalformedPolicyDocument"


def test_policy_versions_simulation_and_authorization_details(server, iam):
    arn = iam.create_policy(PolicyName=unique("ver"), PolicyDocument=json.dumps(DESCRIBE_ONLY))["Policy"]["Arn"]
    iam.create_policy_version(PolicyArn=arn, SetAsDefault=True, PolicyDocument=policy(
        {"Sid": "Runs", "Effect": "Allow", "Action": ["ecs:RunTask", "ecs:ListClusters"], "Resource": "*"},
        {"Sid": "NoDelete", "Effect": "Deny", "Action": "ecs:DeleteCluster", "Resource": "*"},
    ))
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions] == [("v2", True), ("v1", False)]
    doc = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]["Document"]
    assert doc == DESCRIBE_ONLY  # boto3 decodes IAM's URL-encoded documents
    name = unique("sim")
    iam.create_user(UserName=name)
    iam.attach_user_policy(UserName=name, PolicyArn=arn)
    results = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/{name}",
        ActionNames=["ecs:RunTask", "ecs:DescribeClusters", "ecs:DeleteCluster"],
    )["EvaluationResults"]
    assert [(r["EvalActionName"], r["EvalDecision"]) for r in results] == [
        ("ecs:RunTask", "allowed"), ("ecs:DescribeClusters", "implicitDeny"), ("ecs:DeleteCluster", "explicitDeny"),
    ]
    details = iam.get_account_authorization_details(Filter=["User"])["UserDetailList"]
    mine = [u for u in details if u["UserName"] == name]
    assert mine and mine[0]["AttachedManagedPolicies"][0]["PolicyArn"] == arn
    names = [u["UserName"] for page in iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 2})
             for u in page["Users"]]
    assert name in names and len(names) == len(set(names))


def test_the_aws_cli_makes_a_user_and_calls_as_it(server, aws_cli):
    root = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": REGION}
    common = ["--endpoint-url", server.endpoint, "--output", "json"]
    name = unique("cli")
    aws_cli(["iam", "create-user", "--user-name", name, *common], extra_env=root)
    aws_cli(["iam", "attach-user-policy", "--user-name", name, "--policy-arn",
             "arn:aws:iam::aws:policy/AmazonECS_FullAccess", *common], extra_env=root)
    key = aws_cli(["iam", "create-access-key", "--user-name", name, *common], extra_env=root).json["AccessKey"]
    user = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
            "AWS_DEFAULT_REGION": REGION}
    ident = aws_cli(["sts", "get-caller-identity", *common], extra_env=user).json
    assert ident["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    aws_cli(["ecs", "list-clusters", *common], extra_env=user)
    p = aws_cli(["iam", "list-users", *common], extra_env=user, check=False)
    assert p.returncode != 0 and "AccessDenied" in p.stderr, p.stderr


def docker_login(server, ecr_client, config_dir):
    """A docker client (its own DOCKER_CONFIG) logged in with a token `ecr_client` got."""
    token = ecr_client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    password = base64.b64decode(token).decode().split(":", 1)[1]
    client = DockerClient(config_dir)
    p = subprocess.run(["docker", "login", "--username", "AWS", "--password-stdin", f"127.0.0.1:{server.port}"],
                       env=client.env(), input=password, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return client


def pushed_busybox(server, tmp_path):
    """BUSYBOX_IMAGE pushed by root to a new repository of `server`; its reference."""
    repo = unique("iamrepo")
    server.client("ecr").create_repository(repositoryName=repo)
    ref = f"127.0.0.1:{server.port}/{repo}:v1"
    root_docker = docker_login(server, server.client("ecr"), tmp_path / "root")
    run(["docker", "tag", BUSYBOX_IMAGE, ref])
    try:
        root_docker("push", ref)
    finally:
        run(["docker", "rmi", ref], check=False)
    return ref


def test_docker_pull_needs_ecr_batch_get_image(need_docker, docker_server, tmp_path):  # noqa: F811
    server = docker_server
    iam = server.client("iam")
    ref = pushed_busybox(server, tmp_path)
    try:
        name, client, _ = new_user(server, iam, {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}]})
        user_docker = docker_login(server, client("ecr"), tmp_path / "user")
        p = user_docker("pull", ref, check=False)
        assert p.returncode != 0, p.stdout
        assert "denied" in (p.stderr + p.stdout).lower(), p.stderr
        iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly")
        user_docker("pull", ref)
        # Pushing stays refused: read-only.
        p = user_docker("push", ref, check=False)
        assert p.returncode != 0 and "denied" in (p.stderr + p.stdout).lower(), p.stderr
    finally:
        run(["docker", "rmi", "-f", ref], check=False)

# Execution roles and secrets in containers ---------------------------------------

TRUST_ECS_TASKS = policy({"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                          "Action": "sts:AssumeRole"})


def execution_role(iam, *statements):
    name = unique("exec")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_ECS_TASKS)["Role"]["Arn"]
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=policy(*statements))
    return arn


def run_one(ecs, track, family, containers, **kwargs):
    for c in containers:
        c.setdefault("image", BUSYBOX_IMAGE)
        c.setdefault("memory", 64)
    ecs.register_task_definition(family=family, containerDefinitions=containers, **kwargs)
    out = ecs.run_task(cluster="default", taskDefinition=family)
    assert out["failures"] == [], out
    arn = out["tasks"][0]["taskArn"]
    track(arn, ecs=ecs, cluster="default")
    return arn


def test_secrets_and_parameters_become_environment_variables_read_as_the_execution_role(
        docker_server, decs, task_cleanup):
    iam = docker_server.client("iam")
    secrets = docker_server.client("secretsmanager")
    ssm = docker_server.client("ssm")
    marker = unique("s3cr3t")
    secret_arn = secrets.create_secret(Name=unique("db"), SecretString=json.dumps(
        {"user": "app", "password": marker}))["ARN"]
    whole_arn = secrets.create_secret(Name=unique("plain"), SecretString=f"whole-{marker}")["ARN"]
    param = f"/{unique('app')}/token"
    ssm.put_parameter(Name=param, Type="SecureString", Value=f"tok-{marker}")
    role = execution_role(iam, {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "ssm:GetParameters"],
                                "Resource": "*"})
    arn = run_one(decs, task_cleanup, unique("sec"), [{
        "name": "app",
        "command": ["sh", "-c", "echo PASSWORD=$DB_PASSWORD WHOLE=$WHOLE TOKEN=$TOKEN; sleep 3600"],
        "secrets": [
            {"name": "DB_PASSWORD", "valueFrom": f"{secret_arn}:password::"},
            {"name": "WHOLE", "valueFrom": whole_arn},
            {"name": "TOKEN", "valueFrom": param},
        ],
    }], executionRoleArn=role)
    wait_running(decs, "default", arn)
    [cid] = containers_of_task(arn)
    logs = wait_for("the container's output", lambda: (lambda out: out if "PASSWORD=" in out else None)(
        run(["docker", "logs", cid]).stdout))
    assert f"PASSWORD={marker} WHOLE=whole-{marker} TOKEN=tok-{marker}" in logs, logs
    described = json.dumps(decs.describe_tasks(cluster="default", tasks=[arn]), default=str)
    assert marker not in described
    labels = json.dumps(docker_inspect(cid)["Config"]["Labels"])
    assert marker not in labels


def test_a_missing_secret_or_a_role_without_permission_stops_the_task_with_the_reason(
        docker_server, decs, task_cleanup):
    iam = docker_server.client("iam")
    secrets = docker_server.client("secretsmanager")
    allowed = execution_role(iam, {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"})
    missing = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{unique('gone')}-AbCdEf"
    arn = run_one(decs, task_cleanup, unique("miss"), [{
        "name": "app", "command": ["sleep", "3600"], "secrets": [{"name": "X", "valueFrom": missing}],
    }], executionRoleArn=allowed)
    task = wait_stopped(decs, "default", arn)
    assert task["stopCode"] == "TaskFailedToStart", task
    assert task["stoppedReason"].startswith("ResourceInitializationError: unable to pull secrets"), task
    assert missing in task["stoppedReason"] and "ResourceNotFoundException" in task["stoppedReason"], task

    secret_arn = secrets.create_secret(Name=unique("locked"), SecretString="x")["ARN"]
    powerless = execution_role(iam)
    arn = run_one(decs, task_cleanup, unique("deny"), [{
        "name": "app", "command": ["sleep", "3600"], "secrets": [{"name": "X", "valueFrom": secret_arn}],
    }], executionRoleArn=powerless)
    task = wait_stopped(decs, "default", arn)
    reason = task["stoppedReason"]
    assert "AccessDeniedException" in reason and "secretsmanager:GetSecretValue" in reason, reason

    # A role that does not trust ECS cannot be used at all, and secrets need a role.
    untrusting = iam.create_role(RoleName=unique("nottrusting"), AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}))["Role"]["Arn"]
    arn = run_one(decs, task_cleanup, unique("untrusted"), [{
        "name": "app", "command": ["sleep", "3600"], "secrets": [{"name": "X", "valueFrom": secret_arn}],
    }], executionRoleArn=untrusting)
    reason = wait_stopped(decs, "default", arn)["stoppedReason"]
    assert "ResourceInitializationError" in reason and "trust" in reason, reason
    arn = run_one(decs, task_cleanup, unique("norole"), [{
        "name": "app", "command": ["sleep", "3600"], "secrets": [{"name": "X", "valueFrom": secret_arn}],
    }])
    reason = wait_stopped(decs, "default", arn)["stoppedReason"]
    assert "no executionRoleArn" in reason, reason


def test_images_of_the_registry_are_pulled_as_the_execution_role(docker_server, decs, task_cleanup, tmp_path):
    iam = docker_server.client("iam")
    ref = pushed_busybox(docker_server, tmp_path)
    try:
        powerless = execution_role(iam)
        arn = run_one(decs, task_cleanup, unique("pullrole"), [{"name": "app", "image": ref, "command": ["sleep", "3600"]}],
                      executionRoleArn=powerless)
        reason = wait_stopped(decs, "default", arn)["stoppedReason"]
        assert reason.startswith("CannotPullContainerError") and "ecr:GetAuthorizationToken" in reason, reason
        name = powerless.rsplit("/", 1)[1]
        iam.attach_role_policy(RoleName=name,
                               PolicyArn="arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")
        arn = run_one(decs, task_cleanup, unique("pullrole"), [{"name": "app", "image": ref, "command": ["sleep", "3600"]}],
                      executionRoleArn=powerless)
        wait_running(decs, "default", arn)
    finally:
        run(["docker", "rmi", "-f", ref], check=False)


# Task roles ------------------------------------------------------------------------

def container_output(arn, marker):
    [cid] = containers_of_task(arn)
    return wait_for(f"{marker} in the container's output",
                    lambda: (lambda out: out if marker in out else None)(run(["docker", "logs", cid]).stdout))


def test_a_task_reads_its_role_credentials_at_169_254_170_2_and_boto3_uses_them(
        docker_server, decs, task_cleanup):
    iam = docker_server.client("iam")
    role = unique("taskrole")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_ECS_TASKS)["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="list", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "ecs:ListClusters", "Resource": "*"}))
    fetch = "wget -qO- http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
    arn = run_one(decs, task_cleanup, unique("withrole"), [{
        "name": "app",
        "command": ["sh", "-c", f"echo URI=$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI; echo CREDS=$({fetch}); sleep 3600"],
    }], taskRoleArn=role_arn)
    wait_running(decs, "default", arn)
    out = container_output(arn, "CREDS={")
    uri = out.split("URI=", 1)[1].split()[0]
    creds = json.loads(out.split("CREDS=", 1)[1].splitlines()[0])
    assert uri.startswith("/v2/credentials/") and creds["RoleArn"] == role_arn, out
    assert creds["AccessKeyId"].startswith("ASIA") and creds["Token"] and creds["Expiration"], creds

    # boto3's own container credential provider (no keys given) reads the same
    # endpoint and calls as the task's role: what the role allows, and nothing else.
    script = (
        "import boto3, botocore.exceptions, sys\n"
        f"ecs = boto3.session.Session(region_name='{REGION}').client('ecs', endpoint_url='{docker_server.endpoint}')\n"
        "ecs.list_clusters()\n"
        "try:\n"
        "    ecs.describe_clusters(clusters=['default'])\n"
        "    print('ALLOWED')\n"
        "except botocore.exceptions.ClientError as e:\n"
        "    print(e.response['Error']['Code'])\n"
        "print(boto3.client('sts', region_name='us-east-1', endpoint_url='%s').get_caller_identity()['Arn'])\n"
        % docker_server.endpoint
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=uri, AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_EC2_METADATA_DISABLED="true")
    p = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.split()
    assert lines[0] == "AccessDeniedException", p.stdout
    assert lines[1].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/"), p.stdout

    # Another task cannot reach them by guessing: unknown ids are refused.
    guess = "wget -qO- http://169.254.170.2/v2/credentials/0123456789abcdef0123456789abcdef || echo REFUSED"
    other = run_one(decs, task_cleanup, unique("guess"), [{
        "name": "app", "command": ["sh", "-c", f"echo OUT=$({guess}); sleep 3600"],
    }])
    wait_running(decs, "default", other)
    assert "OUT=REFUSED" in container_output(other, "OUT="), "a guessed id was answered"


def test_awslogs_output_is_shipped_as_the_execution_role(docker_server, decs, task_cleanup):
    iam = docker_server.client("iam")
    logs = docker_server.client("logs")
    group = f"/iam/{unique('g')}"
    logs.create_log_group(logGroupName=group)
    log_configuration = {"logDriver": "awslogs", "options": {
        "awslogs-group": group, "awslogs-region": REGION, "awslogs-stream-prefix": "app"}}

    powerless = execution_role(iam)
    arn = run_one(decs, task_cleanup, unique("nolog"), [{
        "name": "app", "command": ["sh", "-c", "echo hi; sleep 3600"], "logConfiguration": log_configuration,
    }], executionRoleArn=powerless)
    reason = wait_stopped(decs, "default", arn)["stoppedReason"]
    assert reason.startswith("CannotStartContainerError") and "logs:CreateLogStream" in reason, reason

    allowed = execution_role(iam, {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                   "Resource": "*"})
    marker = unique("line")
    arn = run_one(decs, task_cleanup, unique("withlog"), [{
        "name": "app", "command": ["sh", "-c", f"echo {marker}; sleep 3600"], "logConfiguration": log_configuration,
    }], executionRoleArn=allowed)
    wait_running(decs, "default", arn)
    stream = f"app/app/{arn.rsplit('/', 1)[1]}"
    events = wait_for("the line in CloudWatch Logs", lambda: logs.get_log_events(
        logGroupName=group, logStreamName=stream)["events"] or None)
    assert [e["message"] for e in events] == [marker]
