"""Elastic Load Balancing v2 on the query protocol, driven by boto3's `elbv2` client and
the aws CLI: load balancers and target groups, their attributes and tags, and the
errors AWS answers with. (Listeners, targets and the data plane come later.)
"""

import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, SECRET_KEY, unique


@pytest.fixture(scope="module")
def elb(server):
    return server.client("elbv2")


def code(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def short(prefix):
    """A unique name within ELBv2's 32 characters."""
    return unique(prefix)[:32].rstrip("-")


def test_load_balancers_are_created_described_and_deleted(elb):
    name = short("alb")
    created = elb.create_load_balancer(Name=name, Subnets=["subnet-a", "subnet-b"],
                                       Tags=[{"Key": "team", "Value": "core"}])["LoadBalancers"][0]
    arn = created["LoadBalancerArn"]
    assert arn.startswith(f"arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/{name}/")
    assert created["Type"] == "application" and created["Scheme"] == "internet-facing"
    assert created["State"]["Code"] == "active"
    assert created["DNSName"].startswith(f"{name}-") and created["IpAddressType"] == "ipv4"
    assert created["CreatedTime"].tzinfo is not None

    again = elb.create_load_balancer(Name=name)["LoadBalancers"][0]
    assert again["LoadBalancerArn"] == arn, "the same settings return the same load balancer"
    assert code(elb.create_load_balancer, Name=name, Type="network")[0] == "DuplicateLoadBalancerName"

    by_name = elb.describe_load_balancers(Names=[name])["LoadBalancers"]
    by_arn = elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]
    assert [lb["LoadBalancerArn"] for lb in by_name + by_arn] == [arn, arn]
    assert code(elb.describe_load_balancers, Names=[name, "nope"])[0] == "LoadBalancerNotFound"
    tags = elb.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"]
    assert tags == [{"Key": "team", "Value": "core"}]

    nlb = elb.create_load_balancer(Name=short("nlb"), Type="network", Scheme="internal")["LoadBalancers"][0]
    assert ":loadbalancer/net/" in nlb["LoadBalancerArn"] and nlb["DNSName"].startswith("internal-")

    elb.delete_load_balancer(LoadBalancerArn=arn)
    elb.delete_load_balancer(LoadBalancerArn=arn)  # gone already: still a success, as on AWS
    assert code(elb.describe_load_balancers, LoadBalancerArns=[arn])[0] == "LoadBalancerNotFound"
    elb.delete_load_balancer(LoadBalancerArn=nlb["LoadBalancerArn"])


def test_describe_load_balancers_pages(elb):
    names = [short(f"page{i}") for i in range(3)]
    for n in names:
        elb.create_load_balancer(Name=n)
    seen = []
    for page in elb.get_paginator("describe_load_balancers").paginate(PaginationConfig={"PageSize": 2}):
        seen.extend(lb["LoadBalancerName"] for lb in page["LoadBalancers"])
    assert all(n in seen for n in names)
    assert len(seen) == len(set(seen)), "no load balancer twice across pages"
    for n in names:
        arn = elb.describe_load_balancers(Names=[n])["LoadBalancers"][0]["LoadBalancerArn"]
        elb.delete_load_balancer(LoadBalancerArn=arn)


def test_load_balancer_attributes_and_deletion_protection(elb):
    arn = elb.create_load_balancer(Name=short("attrs"))["LoadBalancers"][0]["LoadBalancerArn"]
    attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]}
    assert attrs["idle_timeout.timeout_seconds"] == "60" and attrs["deletion_protection.enabled"] == "false"
    out = elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "idle_timeout.timeout_seconds", "Value": "120"},
        {"Key": "deletion_protection.enabled", "Value": "true"}])["Attributes"]
    assert {"Key": "idle_timeout.timeout_seconds", "Value": "120"} in out
    assert code(elb.delete_load_balancer, LoadBalancerArn=arn)[0] == "OperationNotPermitted"
    for bad in ({"Key": "idle_timeout.timeout_seconds", "Value": "0"}, {"Key": "made.up", "Value": "1"},
                {"Key": "deletion_protection.enabled", "Value": "maybe"}):
        assert code(elb.modify_load_balancer_attributes, LoadBalancerArn=arn, Attributes=[bad])[0] == "ValidationError"
    attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]}
    assert attrs["idle_timeout.timeout_seconds"] == "120", "a refused change changes nothing"
    elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "deletion_protection.enabled", "Value": "false"}])
    elb.delete_load_balancer(LoadBalancerArn=arn)


def test_target_groups_with_health_checks_and_attributes(elb):
    name = short("tg")
    tg = elb.create_target_group(Name=name, Protocol="HTTP", Port=8080, TargetType="ip", VpcId="vpc-1",
                                 HealthCheckPath="/health", HealthCheckIntervalSeconds=10,
                                 Matcher={"HttpCode": "200-299"})["TargetGroups"][0]
    arn = tg["TargetGroupArn"]
    assert f":targetgroup/{name}/" in arn
    assert (tg["Protocol"], tg["Port"], tg["TargetType"], tg["HealthCheckPath"]) == ("HTTP", 8080, "ip", "/health")
    assert (tg["HealthCheckIntervalSeconds"], tg["HealthCheckTimeoutSeconds"], tg["Matcher"]) == (
        10, 5, {"HttpCode": "200-299"})
    assert tg["HealthCheckPort"] == "traffic-port" and tg["ProtocolVersion"] == "HTTP1"

    tcp = elb.create_target_group(Name=short("tcp"), Protocol="TCP", Port=9000)["TargetGroups"][0]
    assert tcp["HealthCheckProtocol"] == "TCP" and "HealthCheckPath" not in tcp and tcp["TargetType"] == "instance"

    modified = elb.modify_target_group(TargetGroupArn=arn, HealthyThresholdCount=3,
                                       UnhealthyThresholdCount=4)["TargetGroups"][0]
    assert (modified["HealthyThresholdCount"], modified["UnhealthyThresholdCount"]) == (3, 4)
    assert code(elb.modify_target_group, TargetGroupArn=arn, HealthCheckTimeoutSeconds=20)[0] == \
        "InvalidConfigurationRequest", "a timeout at or over the interval is refused"

    attrs = {a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]}
    assert attrs["deregistration_delay.timeout_seconds"] == "300"
    assert attrs["load_balancing.algorithm.type"] == "round_robin"
    elb.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "5"},
        {"Key": "stickiness.enabled", "Value": "true"}])
    attrs = {a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]}
    assert (attrs["deregistration_delay.timeout_seconds"], attrs["stickiness.enabled"]) == ("5", "true")

    listed = [t["TargetGroupName"] for t in elb.describe_target_groups(Names=[name, tcp["TargetGroupName"]])["TargetGroups"]]
    assert listed == [name, tcp["TargetGroupName"]]
    assert code(elb.describe_target_groups, TargetGroupArns=[arn + "0"])[0] == "TargetGroupNotFound"
    assert code(elb.create_target_group, Name=name, Protocol="TCP", Port=1)[0] == "DuplicateTargetGroupName"
    elb.delete_target_group(TargetGroupArn=arn)
    elb.delete_target_group(TargetGroupArn=tcp["TargetGroupArn"])
    assert code(elb.describe_target_groups, Names=[name])[0] == "TargetGroupNotFound"


def test_tags_on_load_balancers_and_target_groups(elb):
    lb = elb.create_load_balancer(Name=short("tags"))["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elb.create_target_group(Name=short("tags"), Protocol="HTTP", Port=80)["TargetGroups"][0]["TargetGroupArn"]
    elb.add_tags(ResourceArns=[lb, tg], Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "a"}])
    elb.remove_tags(ResourceArns=[lb], TagKeys=["team"])
    described = {d["ResourceArn"]: d["Tags"] for d in elb.describe_tags(ResourceArns=[lb, tg])["TagDescriptions"]}
    assert described[lb] == [{"Key": "env", "Value": "dev"}]
    assert described[tg] == [{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "a"}]
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(49)]
    assert code(elb.add_tags, ResourceArns=[tg], Tags=many)[0] == "TooManyTags"
    assert code(elb.add_tags, ResourceArns=[lb], Tags=[{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}])[0] == \
        "DuplicateTagKeys"
    missing = lb.replace("/app/", "/app/x")
    assert code(elb.describe_tags, ResourceArns=[missing])[0] == "LoadBalancerNotFound"
    elb.delete_load_balancer(LoadBalancerArn=lb)
    elb.delete_target_group(TargetGroupArn=tg)


def test_bad_input_gets_elbv2_errors(elb):
    for name in ["-bad", "bad-", "has_underscore", "x" * 33, "internal-web"]:
        assert code(elb.create_load_balancer, Name=name)[0] == "ValidationError", name
    assert code(elb.create_load_balancer, Name=short("gw"), Type="gateway")[0] == "InvalidConfigurationRequest"
    assert code(elb.create_target_group, Name=short("bad"), Protocol="HTTP", Port=80,
                HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=10)[0] == "InvalidConfigurationRequest"
    assert code(elb.create_target_group, Name=short("bad"), Protocol="HTTP", Port=80,
                HealthCheckPath="no-slash")[0] == "ValidationError"
    assert code(elb.create_target_group, Name=short("bad"), Protocol="HTTP", Port=80,
                Matcher={"HttpCode": "600"})[0] == "ValidationError"
    assert code(elb.describe_load_balancers, Names=["a"], LoadBalancerArns=["b"])[0] == "ValidationError"


def test_the_aws_cli_speaks_to_it(aws_cli, server):
    env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": "us-east-1"}

    def cli(*args, check=True):
        return aws_cli(["--endpoint-url", server.endpoint, "elbv2", *args], check=check, extra_env=env)

    name = short("cli")
    arn = cli("create-load-balancer", "--name", name).json["LoadBalancers"][0]["LoadBalancerArn"]
    assert cli("describe-load-balancers", "--names", name).json["LoadBalancers"][0]["LoadBalancerArn"] == arn
    failed = cli("describe-target-groups", "--names", "does-not-exist", check=False)
    assert failed.returncode != 0 and "TargetGroupNotFound" in failed.stderr
    cli("delete-load-balancer", "--load-balancer-arn", arn)
