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


def alb_with_group(elb, protocol="HTTP"):
    lb_type = "application" if protocol == "HTTP" else "network"
    lb = elb.create_load_balancer(Name=short("lst"), Type=lb_type)["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elb.create_target_group(Name=short("lst"), Protocol=protocol, Port=80, TargetType="ip")["TargetGroups"][0]
    return lb, tg["TargetGroupArn"]


def test_listeners_forward_and_refuse_what_does_not_fit(elb):
    lb, tg = alb_with_group(elb)
    listener = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tg}])["Listeners"][0]
    arn = listener["ListenerArn"]
    assert ":listener/app/" in arn and listener["Port"] == 80 and listener["Protocol"] == "HTTP"
    action = listener["DefaultActions"][0]
    assert action["TargetGroupArn"] == tg
    assert action["ForwardConfig"]["TargetGroups"] == [{"TargetGroupArn": tg, "Weight": 1}]
    assert elb.describe_listeners(LoadBalancerArn=lb)["Listeners"][0]["ListenerArn"] == arn
    used = elb.describe_target_groups(LoadBalancerArn=lb)["TargetGroups"]
    assert [t["TargetGroupArn"] for t in used] == [tg] and used[0]["LoadBalancerArns"] == [lb]

    assert code(elb.create_listener, LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tg}])[0] == "DuplicateListener"
    assert code(elb.create_listener, LoadBalancerArn=lb, Protocol="TCP", Port=81, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tg}])[0] == "IncompatibleProtocols"
    assert code(elb.create_listener, LoadBalancerArn=lb, Protocol="HTTP", Port=82, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tg + "0"}])[0] == "TargetGroupNotFound"
    assert code(elb.delete_target_group, TargetGroupArn=tg)[0] == "ResourceInUse"
    other = elb.create_load_balancer(Name=short("other"))["LoadBalancers"][0]["LoadBalancerArn"]
    assert code(elb.create_listener, LoadBalancerArn=other, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tg}])[0] == "TargetGroupAssociationLimit"

    fixed = elb.modify_listener(ListenerArn=arn, Port=8080, DefaultActions=[{
        "Type": "fixed-response",
        "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain", "MessageBody": "nothing"}}])
    listener = fixed["Listeners"][0]
    assert listener["Port"] == 8080
    assert listener["DefaultActions"][0]["FixedResponseConfig"]["StatusCode"] == "404"
    elb.delete_target_group(TargetGroupArn=tg)  # no longer used

    nlb, tcp = alb_with_group(elb, "TCP")
    elb.create_listener(LoadBalancerArn=nlb, Protocol="TCP", Port=9000, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tcp}])
    assert code(elb.create_listener, LoadBalancerArn=nlb, Protocol="TCP", Port=9001, DefaultActions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}])[0] == "InvalidLoadBalancerAction"

    elb.delete_load_balancer(LoadBalancerArn=lb)
    assert code(elb.describe_listeners, ListenerArns=[arn])[0] == "ListenerNotFound", "listeners go with their load balancer"
    for arn in (other, nlb):
        elb.delete_load_balancer(LoadBalancerArn=arn)
    elb.delete_target_group(TargetGroupArn=tcp)


def test_rules_with_conditions_priorities_and_weighted_forward(elb):
    lb, blue = alb_with_group(elb)
    green = elb.create_target_group(Name=short("green"), Protocol="HTTP", Port=80)["TargetGroups"][0]["TargetGroupArn"]
    listener = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}])["Listeners"][0]["ListenerArn"]
    api = elb.create_rule(ListenerArn=listener, Priority=10, Conditions=[
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["api.example.com"]}},
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/v1/*"]}},
    ], Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": blue, "Weight": 80}, {"TargetGroupArn": green, "Weight": 20}]}}])["Rules"][0]
    assert api["Priority"] == "10" and api["IsDefault"] is False
    assert {c["Field"] for c in api["Conditions"]} == {"host-header", "path-pattern"}
    weights = {g["TargetGroupArn"]: g["Weight"] for g in api["Actions"][0]["ForwardConfig"]["TargetGroups"]}
    assert weights == {blue: 80, green: 20}
    old = elb.create_rule(ListenerArn=listener, Priority=20, Conditions=[
        {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Old", "Values": ["1"]}},
        {"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "v", "Value": "1"}]}},
    ], Actions=[{"Type": "redirect", "RedirectConfig": {"Path": "/v1/#{path}", "StatusCode": "HTTP_301"}}])["Rules"][0]
    assert code(elb.create_rule, ListenerArn=listener, Priority=10, Conditions=[
        {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["GET"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": blue}])[0] == "PriorityInUse"
    assert code(elb.create_rule, ListenerArn=listener, Priority=30, Conditions=[
        {"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/33"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": blue}])[0] == "ValidationError"

    rules = elb.describe_rules(ListenerArn=listener)["Rules"]
    assert [r["Priority"] for r in rules] == ["10", "20", "default"]
    assert rules[-1]["IsDefault"] is True and rules[-1]["Actions"][0]["Type"] == "fixed-response"
    swapped = elb.set_rule_priorities(RulePriorities=[
        {"RuleArn": api["RuleArn"], "Priority": 20}, {"RuleArn": old["RuleArn"], "Priority": 10}])["Rules"]
    assert {r["RuleArn"]: r["Priority"] for r in swapped} == {api["RuleArn"]: "20", old["RuleArn"]: "10"}
    elb.modify_rule(RuleArn=old["RuleArn"], Conditions=[
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/old/*"]}}])
    modified = elb.describe_rules(RuleArns=[old["RuleArn"]])["Rules"][0]
    assert modified["Conditions"][0]["PathPatternConfig"]["Values"] == ["/old/*"]
    default = rules[-1]["RuleArn"]
    assert code(elb.delete_rule, RuleArn=default)[0] == "OperationNotPermitted"
    elb.modify_rule(RuleArn=default, Actions=[{"Type": "forward", "TargetGroupArn": green}])
    assert elb.describe_listeners(ListenerArns=[listener])["Listeners"][0]["DefaultActions"][0]["TargetGroupArn"] == green
    elb.delete_rule(RuleArn=old["RuleArn"])
    assert [r["Priority"] for r in elb.describe_rules(ListenerArn=listener)["Rules"]] == ["20", "default"]
    elb.delete_load_balancer(LoadBalancerArn=lb)
    for tg in (blue, green):
        elb.delete_target_group(TargetGroupArn=tg)


def test_targets_register_describe_and_drain(elb):
    lb, tg = alb_with_group(elb)
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": 8080}, {"Id": "127.0.0.2"}])
    health = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    assert {(h["Target"]["Id"], h["Target"]["Port"]) for h in health} == {("127.0.0.1", 8080), ("127.0.0.2", 80)}
    assert {h["TargetHealth"]["Reason"] for h in health} == {"Target.NotInUse"}, "no listener uses the group yet"
    elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tg}])
    health = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    assert {h["TargetHealth"]["State"] for h in health} == {"initial"}
    elb.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.2"}])
    states = {h["Target"]["Id"]: h["TargetHealth"] for h in elb.describe_target_health(TargetGroupArn=tg)[
        "TargetHealthDescriptions"]}
    assert states["127.0.0.2"]["State"] == "draining"
    assert states["127.0.0.2"]["Reason"] == "Target.DeregistrationInProgress"
    asked = elb.describe_target_health(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.9"}])["TargetHealthDescriptions"]
    assert asked[0]["TargetHealth"]["Reason"] == "Target.NotRegistered"
    assert code(elb.register_targets, TargetGroupArn=tg, Targets=[{"Id": "i-123"}])[0] == "InvalidTarget"
    assert code(elb.deregister_targets, TargetGroupArn=tg, Targets=[{"Id": "127.0.0.9"}])[0] == "InvalidTarget"
    instances = elb.create_target_group(Name=short("inst"), Protocol="HTTP", Port=80)["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=instances, Targets=[{"Id": "i-0123456789abcdef0"}])
    assert code(elb.register_targets, TargetGroupArn=instances, Targets=[{"Id": "10.0.0.1"}])[0] == "InvalidTarget"
    elb.delete_load_balancer(LoadBalancerArn=lb)
    for arn in (tg, instances):
        elb.delete_target_group(TargetGroupArn=arn)


# The data plane ------------------------------------------------------------------------

import http.server
import socketserver
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

from conftest import wait_for


class Backend:
    """A small HTTP target on 127.0.0.1 that answers with its name (and 500 on /fail
    once told to fail its health checks)."""

    def __init__(self, name):
        self.name = name
        self.failing = False
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                status = 500 if (outer.failing and self.path == "/health") else 200
                body = f"{outer.name} {self.headers.get('X-Forwarded-For', '')}".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def get(url, host=None, timeout=10):
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.mark.once
def test_an_alb_routes_balances_and_health_checks_real_traffic(elb):
    backends = [Backend("blue-a"), Backend("blue-b"), Backend("green")]
    try:
        lb = elb.create_load_balancer(Name=short("dp"))["LoadBalancers"][0]["LoadBalancerArn"]
        address = wait_for("the load balancer's address", lambda: (
            elb.describe_load_balancers(LoadBalancerArns=[lb])["LoadBalancers"][0]["AvailabilityZones"][0]
            .get("LoadBalancerAddresses", [{}])[0].get("IpAddress")), 30)
        assert address.startswith("127.")

        def group(name, members):
            tg = elb.create_target_group(Name=short(name), Protocol="HTTP", Port=80, TargetType="ip",
                                         HealthCheckPath="/health", HealthCheckIntervalSeconds=5,
                                         HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
                                         UnhealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
            elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": b.port} for b in members])
            return tg

        blue = group("blue", backends[:2])
        green = group("green", backends[2:])
        listener = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=8000, DefaultActions=[
            {"Type": "forward", "TargetGroupArn": blue}])["Listeners"][0]["ListenerArn"]
        elb.create_rule(ListenerArn=listener, Priority=1, Conditions=[
            {"Field": "host-header", "HostHeaderConfig": {"Values": ["fixed.example.com"]}}],
            Actions=[{"Type": "fixed-response", "FixedResponseConfig": {
                "StatusCode": "418", "ContentType": "text/plain", "MessageBody": "teapot"}}])
        elb.create_rule(ListenerArn=listener, Priority=2, Conditions=[
            {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/old/*"]}}],
            Actions=[{"Type": "redirect", "RedirectConfig": {"Path": "/new/#{path}", "StatusCode": "HTTP_301"}}])
        elb.create_rule(ListenerArn=listener, Priority=3, Conditions=[
            {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/split*"]}}],
            Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
                {"TargetGroupArn": blue, "Weight": 80}, {"TargetGroupArn": green, "Weight": 20}]}}])

        def states(tg):
            return {h["Target"]["Port"]: h["TargetHealth"]["State"]
                    for h in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]}

        wait_for("every target healthy", lambda: set(states(blue).values()) == {"healthy"}
                 and set(states(green).values()) == {"healthy"}, 60)
        url = f"http://{address}:8000"

        seen = Counter(get(f"{url}/")[1].split()[0] for _ in range(40))
        assert set(seen) == {"blue-a", "blue-b"}, seen
        assert abs(seen["blue-a"] - seen["blue-b"]) <= 2, f"round robin: {seen}"
        status, body, _ = get(f"{url}/")
        assert body.split()[1] == "127.0.0.1", "X-Forwarded-For carries the client"

        status, body, headers = get(f"{url}/", host="fixed.example.com")
        assert (status, body, headers.get("Content-Type")) == (418, "teapot", "text/plain")
        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(f"{url}/old/page?x=1", timeout=10)
            raise AssertionError("no redirect")
        except urllib.error.HTTPError as e:
            assert e.code == 301 and e.headers["Location"] == f"http://{address}:8000/new/old/page?x=1"

        split = Counter("green" if get(f"{url}/split")[1].startswith("green") else "blue" for _ in range(1000))
        share = split["blue"] / 1000
        print(f"FIGURE weighted-forward-80-20-blue-share={share:.3f}")
        assert 0.75 <= share <= 0.85, split

        # A target failing its health checks gets no more requests.
        backends[0].failing = True
        wait_for("blue-a unhealthy", lambda: states(blue)[backends[0].port] == "unhealthy", 60)
        reason = next(h["TargetHealth"] for h in elb.describe_target_health(TargetGroupArn=blue)[
            "TargetHealthDescriptions"] if h["Target"]["Port"] == backends[0].port)
        assert reason["Reason"] == "Target.ResponseCodeMismatch", reason
        assert {get(f"{url}/")[1].split()[0] for _ in range(20)} == {"blue-b"}
        # Every target unhealthy: the load balancer fails open.
        backends[1].failing = True
        wait_for("blue-b unhealthy", lambda: states(blue)[backends[1].port] == "unhealthy", 60)
        assert {get(f"{url}/")[1].split()[0] for _ in range(20)} == {"blue-a", "blue-b"}
        backends[0].failing = backends[1].failing = False
        wait_for("blue healthy again", lambda: set(states(blue).values()) == {"healthy"}, 60)

        # A target that refuses connections: 502 while it is the only one.
        elb.modify_listener(ListenerArn=listener, DefaultActions=[{"Type": "forward", "TargetGroupArn": green}])
        backends[2].close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and get(f"{url}/")[0] != 502:
            time.sleep(0.2)
        assert get(f"{url}/")[0] == 502

        elb.delete_load_balancer(LoadBalancerArn=lb)
        def refused():
            try:
                urllib.request.urlopen(f"{url}/", timeout=2)
                return False
            except (urllib.error.URLError, ConnectionError, OSError):
                return True
        wait_for("the listener to stop", refused, 30)
        for tg in (blue, green):
            elb.delete_target_group(TargetGroupArn=tg)
    finally:
        for b in backends[:2]:
            b.close()


def dns_query(port, name, qtype=1):
    """Sends one DNS query over UDP; returns (rcode, [IPv4 answers])."""
    import socket
    import struct
    packet = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        packet += bytes([len(label)]) + label.encode()
    packet += b"\x00" + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(packet, ("127.0.0.1", port))
        reply, _ = s.recvfrom(512)
    rcode = reply[3] & 0x0F
    count = struct.unpack(">H", reply[6:8])[0]
    answers = [".".join(str(b) for b in reply[-4:])] if count else []
    return rcode, answers


def free_udp_port():
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_load_balancer_names_resolve_through_flotillas_dns(fresh_server):
    port = free_udp_port()
    srv = fresh_server(command="server", args=["--dns-listen", f"127.0.0.1:{port}"])
    elb = srv.client("elbv2")
    lb = elb.create_load_balancer(Name=short("dns"))["LoadBalancers"][0]
    address = wait_for("the load balancer's address", lambda: (
        elb.describe_load_balancers(LoadBalancerArns=[lb["LoadBalancerArn"]])["LoadBalancers"][0]["AvailabilityZones"][0]
        .get("LoadBalancerAddresses", [{}])[0].get("IpAddress")), 30)
    assert dns_query(port, lb["DNSName"]) == (0, [address])
    assert dns_query(port, lb["DNSName"].upper()) == (0, [address]), "names are case-insensitive"
    assert dns_query(port, lb["DNSName"], qtype=28) == (0, []), "no IPv6 address, but the name exists"
    assert dns_query(port, "nope.us-east-1.elb.flotilla.internal")[0] == 3, "NXDOMAIN"
    assert dns_query(port, "example.com")[0] == 5, "REFUSED outside the zone"


def test_a_network_load_balancer_proxies_tcp(elb):
    import socket
    import socketserver

    class Echo(socketserver.BaseRequestHandler):
        def handle(self):
            while data := self.request.recv(4096):
                self.request.sendall(data.upper())

    class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
        daemon_threads = True
        allow_reuse_address = True

    echo = Server(("127.0.0.1", 0), Echo)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    try:
        lb = elb.create_load_balancer(Name=short("nlb"), Type="network")["LoadBalancers"][0]["LoadBalancerArn"]
        tg = elb.create_target_group(Name=short("echo"), Protocol="TCP", Port=7, TargetType="ip",
                                     HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
                                     HealthyThresholdCount=2)["TargetGroups"][0][
            "TargetGroupArn"]
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": echo.server_address[1]}])
        elb.create_listener(LoadBalancerArn=lb, Protocol="TCP", Port=9000, DefaultActions=[
            {"Type": "forward", "TargetGroupArn": tg}])
        address = wait_for("the load balancer's address", lambda: (
            elb.describe_load_balancers(LoadBalancerArns=[lb])["LoadBalancers"][0]["AvailabilityZones"][0]
            .get("LoadBalancerAddresses", [{}])[0].get("IpAddress")), 30)
        wait_for("the echo target healthy", lambda: elb.describe_target_health(TargetGroupArn=tg)[
            "TargetHealthDescriptions"][0]["TargetHealth"]["State"] == "healthy", 60)

        def roundtrip():
            try:
                with socket.create_connection((address, 9000), timeout=5) as s:
                    s.sendall(b"hello nlb")
                    return s.recv(64)
            except OSError:
                return None
        assert wait_for("an echo through the NLB", lambda: roundtrip() == b"HELLO NLB", 30)
        elb.delete_load_balancer(LoadBalancerArn=lb)
        elb.delete_target_group(TargetGroupArn=tg)
    finally:
        echo.shutdown()
        echo.server_close()


def test_sticky_sessions_and_a_port_already_taken(elb):
    import http.cookiejar
    import socket
    backends = [Backend("one"), Backend("two")]
    try:
        lb = elb.create_load_balancer(Name=short("sticky"))["LoadBalancers"][0]["LoadBalancerArn"]
        tg = elb.create_target_group(Name=short("sticky"), Protocol="HTTP", Port=80, TargetType="ip",
                                     HealthCheckPath="/health", HealthCheckIntervalSeconds=5,
                                     HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2)["TargetGroups"][0][
            "TargetGroupArn"]
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": b.port} for b in backends])
        elb.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
            {"Key": "stickiness.enabled", "Value": "true"}, {"Key": "stickiness.lb_cookie.duration_seconds", "Value": "60"}])
        address = wait_for("the load balancer's address", lambda: (
            elb.describe_load_balancers(LoadBalancerArns=[lb])["LoadBalancers"][0]["AvailabilityZones"][0]
            .get("LoadBalancerAddresses", [{}])[0].get("IpAddress")), 30)

        # A port another process holds on the address is refused, and nothing is stored.
        with socket.socket() as squatter:
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind((address, 8100))
            squatter.listen()
            assert code(elb.create_listener, LoadBalancerArn=lb, Protocol="HTTP", Port=8100, DefaultActions=[
                {"Type": "forward", "TargetGroupArn": tg}])[0] == "InvalidConfigurationRequest"
        assert elb.describe_listeners(LoadBalancerArn=lb)["Listeners"] == []

        elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=8101, DefaultActions=[
            {"Type": "forward", "TargetGroupArn": tg}])
        wait_for("both targets healthy", lambda: {h["TargetHealth"]["State"] for h in elb.describe_target_health(
            TargetGroupArn=tg)["TargetHealthDescriptions"]} == {"healthy"}, 60)
        url = f"http://{address}:8101/"
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        first = wait_for("an answer", lambda: opener.open(url, timeout=10).read().decode().split()[0], 30)
        assert any(c.name == "AWSALB" for c in jar), list(jar)
        assert {opener.open(url, timeout=10).read().decode().split()[0] for _ in range(20)} == {first}
        # Without the cookie, requests spread again.
        assert {get(url)[1].split()[0] for _ in range(20)} == {"one", "two"}
        elb.delete_load_balancer(LoadBalancerArn=lb)
        elb.delete_target_group(TargetGroupArn=tg)
    finally:
        for b in backends:
            b.close()
