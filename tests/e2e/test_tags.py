"""TagResource, UntagResource and ListTagsForResource on clusters and task definitions."""

import pytest
from botocore.exceptions import ClientError

from conftest import cluster_arn, td_arn, unique


def code(exc_info):
    return exc_info.value.response["Error"]["Code"]


def tags_of(ecs, arn):
    return {t["key"]: t["value"] for t in ecs.list_tags_for_resource(resourceArn=arn)["tags"]}


def many(n, prefix="k"):
    return [{"key": f"{prefix}{i}", "value": f"v{i}"} for i in range(n)]


@pytest.fixture
def cluster(ecs):
    name = unique("tagc")
    ecs.create_cluster(clusterName=name, tags=[{"key": "initial", "value": "1"}])
    return cluster_arn(name)


@pytest.fixture
def taskdef(ecs):
    family = unique("tagtd")
    ecs.register_task_definition(
        family=family,
        containerDefinitions=[{"name": "app", "image": "busybox", "memory": 32}],
        tags=[{"key": "initial", "value": "1"}],
    )
    return td_arn(family, 1)


@pytest.fixture(params=["cluster", "taskdef"])
def resource(request):
    return request.getfixturevalue(request.param)


def test_tag_untag_list(ecs, resource):
    assert tags_of(ecs, resource) == {"initial": "1"}
    ecs.tag_resource(resourceArn=resource, tags=[{"key": "team", "value": "core"}, {"key": "empty", "value": ""}])
    assert tags_of(ecs, resource) == {"initial": "1", "team": "core", "empty": ""}
    # Tagging an existing key overwrites its value.
    ecs.tag_resource(resourceArn=resource, tags=[{"key": "team", "value": "platform"}])
    assert tags_of(ecs, resource) == {"initial": "1", "team": "platform", "empty": ""}
    ecs.untag_resource(resourceArn=resource, tagKeys=["initial", "empty", "not-there"])
    assert tags_of(ecs, resource) == {"team": "platform"}


def test_cluster_tags_show_in_describe(ecs, cluster):
    ecs.tag_resource(resourceArn=cluster, tags=[{"key": "a", "value": "b"}])
    (c,) = ecs.describe_clusters(clusters=[cluster], include=["TAGS"])["clusters"]
    assert {t["key"]: t["value"] for t in c["tags"]} == {"initial": "1", "a": "b"}


def test_task_definition_tags_show_in_describe(ecs, taskdef):
    ecs.tag_resource(resourceArn=taskdef, tags=[{"key": "a", "value": "b"}])
    out = ecs.describe_task_definition(taskDefinition=taskdef, include=["TAGS"])
    assert {t["key"]: t["value"] for t in out["tags"]} == {"initial": "1", "a": "b"}


def test_more_than_50_tags_in_one_call_refused(ecs, resource):
    with pytest.raises(ClientError) as e:
        ecs.tag_resource(resourceArn=resource, tags=many(51))
    assert code(e) == "InvalidParameterException"
    assert tags_of(ecs, resource) == {"initial": "1"}


def test_more_than_50_tags_in_total_refused(ecs, resource):
    ecs.tag_resource(resourceArn=resource, tags=many(49))
    assert len(tags_of(ecs, resource)) == 50
    # Overwriting existing keys at the limit is fine.
    ecs.tag_resource(resourceArn=resource, tags=[{"key": "k0", "value": "changed"}])
    assert tags_of(ecs, resource)["k0"] == "changed"
    with pytest.raises(ClientError) as e:
        ecs.tag_resource(resourceArn=resource, tags=[{"key": "one-too-many", "value": "x"}])
    assert code(e) in ("InvalidParameterException", "LimitExceededException")
    tags = tags_of(ecs, resource)
    assert len(tags) == 50 and "one-too-many" not in tags


def test_create_with_more_than_50_tags_refused(ecs):
    name = unique("toomany")
    with pytest.raises(ClientError) as e:
        ecs.create_cluster(clusterName=name, tags=many(51))
    assert code(e) == "InvalidParameterException"
    assert ecs.describe_clusters(clusters=[name])["failures"][0]["reason"] == "MISSING"


@pytest.mark.parametrize("key", ["aws:owner", "AWS:Owner"])
def test_aws_prefix_refused(ecs, resource, key):
    with pytest.raises(ClientError) as e:
        ecs.tag_resource(resourceArn=resource, tags=[{"key": key, "value": "x"}])
    assert code(e) == "InvalidParameterException"
    assert "aws:" in e.value.response["Error"]["Message"].lower()
    assert tags_of(ecs, resource) == {"initial": "1"}


def test_aws_prefix_refused_at_create(ecs):
    name = unique("awsprefix")
    with pytest.raises(ClientError) as e:
        ecs.create_cluster(clusterName=name, tags=[{"key": "aws:cloudformation:stack", "value": "x"}])
    assert code(e) == "InvalidParameterException"
    assert ecs.describe_clusters(clusters=[name])["failures"][0]["reason"] == "MISSING"


def test_tags_on_unknown_resources(ecs):
    with pytest.raises(ClientError) as e:
        ecs.list_tags_for_resource(resourceArn=cluster_arn(unique("nope")))
    assert code(e) in ("ClusterNotFoundException", "ResourceNotFoundException", "InvalidParameterException")
    with pytest.raises(ClientError) as e:
        ecs.tag_resource(resourceArn=td_arn(unique("nope"), 1), tags=[{"key": "a", "value": "b"}])
    assert code(e) in ("ResourceNotFoundException", "ClientException", "InvalidParameterException")


def test_tags_on_malformed_arn(ecs):
    with pytest.raises(ClientError) as e:
        ecs.list_tags_for_resource(resourceArn="not-an-arn")
    assert code(e) == "InvalidParameterException"
