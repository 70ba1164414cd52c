"""ECS blue/green deployments behind an Application Load Balancer, on real containers:
the green tasks start beside the blue ones in the alternate target group, the test
listener turns to them, production traffic moves (at once, or in linear steps), and
the blue tasks stop after the bake time; a rollback puts the traffic back on blue.
A load generator runs throughout: no request may fail.
"""

import threading
import time

import pytest
from botocore.exceptions import ClientError
from conftest import unique, wait_for
from test_services_elb import fetch, register, short

CLUSTER = "default"
WAIT = {"Delay": 1, "MaxAttempts": 240}


class Setup:
    """Two target groups, one load balancer with a production listener (port 8000)
    and a test listener (port 8001), each forwarding to both groups (blue weight 1)."""

    def __init__(self, docker_server):
        self.elb = elb = docker_server.client("elbv2")
        self.groups = []
        for color in ("blue", "green"):
            self.groups.append(elb.create_target_group(
                Name=short(color), Protocol="HTTP", Port=80, TargetType="instance", HealthCheckPath="/index.html",
                HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
                UnhealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"])
        for tg in self.groups:
            elb.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
                {"Key": "deregistration_delay.timeout_seconds", "Value": "3"}])
        self.lb = elb.create_load_balancer(Name=short("bg"))["LoadBalancers"][0]["LoadBalancerArn"]
        forward = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": self.groups[0], "Weight": 1}, {"TargetGroupArn": self.groups[1], "Weight": 0}]}}]
        self.rules = []
        for port in (8000, 8001):
            listener = elb.create_listener(LoadBalancerArn=self.lb, Protocol="HTTP", Port=port,
                                           DefaultActions=forward)["Listeners"][0]["ListenerArn"]
            rules = elb.describe_rules(ListenerArn=listener)["Rules"]
            self.rules.append(next(r["RuleArn"] for r in rules if r["IsDefault"]))
        address = wait_for("the load balancer's address", lambda: (
            elb.describe_load_balancers(LoadBalancerArns=[self.lb])["LoadBalancers"][0]["AvailabilityZones"][0]
            .get("LoadBalancerAddresses", [{}])[0].get("IpAddress")), 30)
        self.production = f"http://{address}:8000/index.html"
        self.test = f"http://{address}:8001/index.html"

    def load_balancers(self):
        return [{"targetGroupArn": self.groups[0], "containerName": "web", "containerPort": 8080,
                 "advancedConfiguration": {"alternateTargetGroupArn": self.groups[1],
                                           "productionListenerRule": self.rules[0],
                                           "testListenerRule": self.rules[1],
                                           "roleArn": "arn:aws:iam::000000000000:role/ecsInfrastructure"}}]

    def weights(self, rule):
        action = self.elb.describe_rules(RuleArns=[rule])["Rules"][0]["Actions"][0]
        return {g["TargetGroupArn"]: g["Weight"] for g in action["ForwardConfig"]["TargetGroups"]}

    def close(self):
        self.elb.delete_load_balancer(LoadBalancerArn=self.lb)
        for tg in self.groups:
            for _ in range(30):
                try:
                    self.elb.delete_target_group(TargetGroupArn=tg)
                    break
                except Exception:  # noqa: BLE001 - still in use for a moment after the listeners go
                    time.sleep(1)


class Load:
    """Requests to the production listener every 10 ms until stopped (bounded)."""

    def __init__(self, url):
        self.url, self.results, self.stop = url, [], threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        deadline = time.monotonic() + 600
        while not self.stop.is_set() and time.monotonic() < deadline and len(self.results) < 200_000:
            self.results.append(fetch(self.url))
            time.sleep(0.01)

    def finish(self):
        self.stop.set()
        self.thread.join()
        failed = [r for r in self.results if r[0] != 200]
        return failed, {r[1] for r in self.results if r[0] == 200}


def service(decs, setup, family, image, config):
    name = unique("bg")
    first = register(decs, family, "v1", image)
    decs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=first, desiredCount=2,
                        deploymentConfiguration=config, loadBalancers=setup.load_balancers())
    decs.get_waiter("services_stable").wait(cluster=CLUSTER, services=[name], WaiterConfig=WAIT)
    wait_for("the first rollout to complete", lambda: describe(decs, name)["deployments"][0]["rolloutState"]
             == "COMPLETED", 60)
    wait_for("v1 serving", lambda: {fetch(setup.production) for _ in range(6)} == {(200, "v1")}, 60)
    return name


def describe(decs, name):
    return decs.describe_services(cluster=CLUSTER, services=[name])["services"][0]


def deployment_of(decs, name):
    arn = decs.list_service_deployments(cluster=CLUSTER, service=name)["serviceDeployments"][0]["serviceDeploymentArn"]
    return decs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]


def remove(decs, name):
    decs.delete_service(cluster=CLUSTER, service=name, force=True)
    decs.get_waiter("services_inactive").wait(cluster=CLUSTER, services=[name], WaiterConfig=WAIT)


def test_a_blue_green_deployment_shifts_all_traffic_to_green_and_fails_no_request(
        docker_server, decs, busybox_image):
    setup = Setup(docker_server)
    blue, green = setup.groups
    family = unique("bgweb")
    config = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0,
              "deploymentCircuitBreaker": {"enable": True, "rollback": True}}
    name = service(decs, setup, family, busybox_image, config)
    try:
        shown = describe(decs, name)
        assert shown["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"
        assert shown["loadBalancers"][0]["advancedConfiguration"]["alternateTargetGroupArn"] == green
        assert setup.weights(setup.rules[0]) == {blue: 1, green: 0}

        load = Load(setup.production)
        try:
            second = register(decs, family, "v2", busybox_image)
            started = time.monotonic()
            decs.update_service(cluster=CLUSTER, service=name, taskDefinition=second)
            wait_for("the test listener on green", lambda: fetch(setup.test) == (200, "v2"), 120)
            decs.get_waiter("services_stable").wait(cluster=CLUSTER, services=[name], WaiterConfig=WAIT)
            seconds = time.monotonic() - started
            wait_for("only v2 answering", lambda: {fetch(setup.production) for _ in range(6)} == {(200, "v2")}, 30)
        finally:
            failed, versions = load.finish()
        print(f"FIGURE alb-blue-green-deployment requests={len(load.results)} failed={len(failed)} "
              f"seconds={seconds:.1f}")
        assert len(load.results) > 100, len(load.results)
        assert not failed, f"{len(failed)} of {len(load.results)} requests failed: {failed[:5]}"
        assert versions == {"v1", "v2"}, versions
        assert setup.weights(setup.rules[0]) == {blue: 0, green: 1}
        assert setup.weights(setup.rules[1]) == {blue: 0, green: 1}
        done = deployment_of(decs, name)
        assert done["status"] == "SUCCESSFUL", done
        assert done["lifecycleStage"] == "CLEAN_UP", done
        revision = decs.describe_service_revisions(serviceRevisionArns=[
            done["targetServiceRevision"]["arn"]])["serviceRevisions"][0]
        assert revision["resolvedConfiguration"]["loadBalancers"][0]["targetGroupArn"] == green
        # The blue tasks drain (3 s), then are told to stop (ListTasks shows the tasks meant to run).
        wait_for("the blue tasks to stop", lambda: len(
            decs.list_tasks(cluster=CLUSTER, serviceName=name)["taskArns"]) == 2, 30)
        registered = elb_targets(setup.elb, blue)
        assert registered == [], f"blue targets left: {registered}"
        events = [e["message"] for e in describe(decs, name)["events"]]
        assert any("shifted 100.0% of production traffic" in m for m in events), events
    finally:
        remove(decs, name)
        setup.close()


def elb_targets(elb, tg):
    return [h for h in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
            if h["TargetHealth"]["State"] != "draining"]


@pytest.mark.once
def test_a_linear_deployment_rolled_back_during_its_bake_returns_traffic_to_blue(docker_server, decs, busybox_image):
    setup = Setup(docker_server)
    blue, green = setup.groups
    family = unique("bglin")
    config = {"strategy": "LINEAR", "bakeTimeInMinutes": 10,
              "linearConfiguration": {"stepPercent": 50.0, "stepBakeTimeInMinutes": 0}}
    name = service(decs, setup, family, busybox_image, config)
    try:
        assert describe(decs, name)["deploymentConfiguration"]["linearConfiguration"] == {
            "stepPercent": 50.0, "stepBakeTimeInMinutes": 0}
        load = Load(setup.production)
        try:
            decs.update_service(cluster=CLUSTER, service=name, taskDefinition=register(decs, family, "v2", busybox_image))
            wait_for("the bake time", lambda: deployment_of(decs, name).get("lifecycleStage") == "BAKE_TIME", 120)
            assert setup.weights(setup.rules[0]) == {blue: 0, green: 1}
            wait_for("only v2 answering", lambda: {fetch(setup.production) for _ in range(6)} == {(200, "v2")}, 10)
            decs.stop_service_deployment(serviceDeploymentArn=deployment_of(decs, name)["serviceDeploymentArn"],
                                         stopType="ROLLBACK")
            wait_for("traffic back on blue", lambda: setup.weights(setup.rules[0]) == {blue: 1, green: 0}, 10)
            decs.get_waiter("services_stable").wait(cluster=CLUSTER, services=[name], WaiterConfig=WAIT)
            assert {fetch(setup.production) for _ in range(6)} == {(200, "v1")}
        finally:
            failed, versions = load.finish()
        print(f"FIGURE alb-linear-rollback requests={len(load.results)} failed={len(failed)}")
        assert not failed, f"{len(failed)} of {len(load.results)} requests failed: {failed[:5]}"
        assert versions == {"v1", "v2"}, versions
        events = [e["message"] for e in describe(decs, name)["events"]]
        assert any("shifted 50.0% of production traffic" in m for m in events), events
        assert any("rolling back to deployment" in m for m in events), events
        rolled = decs.describe_service_deployments(serviceDeploymentArns=[
            d["serviceDeploymentArn"] for d in decs.list_service_deployments(
                cluster=CLUSTER, service=name)["serviceDeployments"]])["serviceDeployments"]
        assert "ROLLBACK_SUCCESSFUL" in {d["status"] for d in rolled}, rolled
        assert elb_targets(setup.elb, green) == []
    finally:
        remove(decs, name)
        setup.close()


@pytest.mark.once
def test_a_green_set_failing_its_health_checks_rolls_back_and_production_never_sees_it(
        docker_server, decs, busybox_image):
    setup = Setup(docker_server)
    blue, green = setup.groups
    family = unique("bgbad")
    config = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5,
              "deploymentCircuitBreaker": {"enable": True, "rollback": True}}
    name = service(decs, setup, family, busybox_image, config)
    try:
        broken = decs.register_task_definition(family=family, containerDefinitions=[{
            "name": "web", "image": busybox_image, "memory": 32, "essential": True, "stopTimeout": 2,
            "command": ["sh", "-c", "mkdir -p /empty && exec httpd -f -p 8080 -h /empty"],
            "portMappings": [{"containerPort": 8080, "hostPort": 0}],
        }])["taskDefinition"]["taskDefinitionArn"]
        load = Load(setup.production)
        try:
            decs.update_service(cluster=CLUSTER, service=name, taskDefinition=broken)
            wait_for("the rollback", lambda: any(
                "rolling back to deployment" in e["message"] for e in describe(decs, name)["events"]), 180)
            decs.get_waiter("services_stable").wait(cluster=CLUSTER, services=[name], WaiterConfig=WAIT)
        finally:
            failed, versions = load.finish()
        assert not failed, f"{len(failed)} of {len(load.results)} requests failed: {failed[:5]}"
        assert versions == {"v1"}, versions
        assert setup.weights(setup.rules[0]) == {blue: 1, green: 0}
        events = [e["message"] for e in describe(decs, name)["events"]]
        assert any("failed ELB health checks" in m for m in events), events
    finally:
        remove(decs, name)
        setup.close()


def test_blue_green_settings_that_cannot_work_are_refused(docker_server, decs, busybox_image):
    setup = Setup(docker_server)
    blue, green = setup.groups
    td = register(decs, unique("bgerr"), "v1", busybox_image)
    config = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0}

    def refused(load_balancers):
        with pytest.raises(ClientError) as e:
            decs.create_service(cluster=CLUSTER, serviceName=unique("bgerr"), taskDefinition=td, desiredCount=1,
                                deploymentConfiguration=config, loadBalancers=load_balancers)
        return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]

    try:
        plain = [{"targetGroupArn": blue, "containerName": "web", "containerPort": 8080}]
        assert refused(plain)[0] == "InvalidParameterException"
        for change, says in [
            ({"alternateTargetGroupArn": blue}, "must differ"),
            ({"alternateTargetGroupArn": blue.replace("blue", "gone")}, "Unable to find the target group"),
            ({"productionListenerRule": setup.rules[0].replace("/default", "/0123456789abcdef")},
             "Unable to find the listener rule"),
        ]:
            lbs = setup.load_balancers()
            lbs[0]["advancedConfiguration"].update(change)
            code, message = refused(lbs)
            assert code == "InvalidParameterException" and says in message, (code, message)
        assert decs.list_services(cluster=CLUSTER)["serviceArns"] == [] or all(
            "bgerr" not in a for a in decs.list_services(cluster=CLUSTER)["serviceArns"])
    finally:
        setup.close()
