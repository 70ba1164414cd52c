"""A service behind an Application Load Balancer, on real containers: ECS registers
each task (its instance and dynamic host port) as a target, counts a new task only
once its target is healthy, and drains a task's target before stopping it, so a
rolling deployment under steady load fails no request.
"""

import datetime
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import unique, wait_for

CLUSTER = "default"
WAIT = {"Delay": 1, "MaxAttempts": 180}


def short(prefix):
    return unique(prefix)[:32].rstrip("-")


def register(ecs, family, version, image):
    return ecs.register_task_definition(family=family, containerDefinitions=[{
        "name": "web", "image": image, "memory": 32, "essential": True, "stopTimeout": 2,
        "command": ["sh", "-c", f"echo {version} > /tmp/index.html && exec httpd -f -p 8080 -h /tmp"],
        "portMappings": [{"containerPort": 8080, "hostPort": 0}],
    }])["taskDefinition"]["taskDefinitionArn"]


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode().strip()
    except urllib.error.HTTPError as e:
        return e.code, ""
    except (urllib.error.URLError, ConnectionError, OSError) as e:
        return None, repr(e)


@pytest.mark.once
def test_a_rolling_deployment_behind_an_alb_fails_no_request(docker_server, decs, busybox_image):
    elb = docker_server.client("elbv2")
    family = unique("elbweb")
    first = register(decs, family, "v1", busybox_image)
    tg = elb.create_target_group(Name=short("svc"), Protocol="HTTP", Port=80, TargetType="instance",
                                 HealthCheckPath="/", HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
                                 HealthyThresholdCount=2, UnhealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "5"}])
    lb = elb.create_load_balancer(Name=short("svc"))["LoadBalancers"][0]["LoadBalancerArn"]
    elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=8000, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tg}])
    address = wait_for("the load balancer's address", lambda: (
        elb.describe_load_balancers(LoadBalancerArns=[lb])["LoadBalancers"][0]["AvailabilityZones"][0]
        .get("LoadBalancerAddresses", [{}])[0].get("IpAddress")), 30)
    url = f"http://{address}:8000/"
    name = unique("web")
    try:
        created = decs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=first, desiredCount=3,
                                      healthCheckGracePeriodSeconds=60,
                                      loadBalancers=[{"targetGroupArn": tg, "containerName": "web",
                                                      "containerPort": 8080}])["service"]
        assert created["loadBalancers"] == [{"targetGroupArn": tg, "containerName": "web", "containerPort": 8080}]
        decs.get_waiter("services_stable").wait(cluster=CLUSTER, services=[name], WaiterConfig=WAIT)

        def targets():
            return elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]

        wait_for("three healthy targets", lambda: len(targets()) == 3
                 and {h["TargetHealth"]["State"] for h in targets()} == {"healthy"}, 60)
        wait_for("the rollout to complete", lambda: decs.describe_services(cluster=CLUSTER, services=[name])[
            "services"][0]["deployments"][0]["rolloutState"] == "COMPLETED", 60)
        health = targets()
        assert all(h["Target"]["Id"].startswith("i-") for h in health), health
        events = [e["message"] for e in decs.describe_services(cluster=CLUSTER, services=[name])["services"][0]["events"]]
        assert any(f"registered" in m and tg in m for m in events), events
        assert {fetch(url) for _ in range(10)} == {(200, "v1")}

        results, stop = [], threading.Event()

        def load():
            deadline = time.monotonic() + 600
            while not stop.is_set() and time.monotonic() < deadline and len(results) < 200_000:
                results.append(fetch(url))
                time.sleep(0.01)

        loader = threading.Thread(target=load, daemon=True)
        loader.start()
        try:
            second = register(decs, family, "v2", busybox_image)
            started = time.monotonic()
            decs.update_service(cluster=CLUSTER, service=name, taskDefinition=second)
            decs.get_waiter("services_stable").wait(cluster=CLUSTER, services=[name], WaiterConfig=WAIT)
            wait_for("only v2 answering", lambda: {fetch(url) for _ in range(10)} == {(200, "v2")}, 60)
            seconds = time.monotonic() - started
        finally:
            stop.set()
            loader.join()
        failed = [r for r in results if r[0] != 200]
        versions = {r[1] for r in results if r[0] == 200}
        print(f"FIGURE alb-rolling-deployment requests={len(results)} failed={len(failed)} seconds={seconds:.1f}")
        assert len(results) > 100, len(results)
        assert not failed, f"{len(failed)} of {len(results)} requests failed: {failed[:5]}"
        assert versions == {"v1", "v2"}, versions
        events = [e["message"] for e in decs.describe_services(cluster=CLUSTER, services=[name])["services"][0]["events"]]
        assert any("has begun draining connections on" in m for m in events), events

        # The load balancer's CloudWatch metrics counted that traffic.
        cw = docker_server.client("cloudwatch")
        lb_dim = {"Name": "LoadBalancer", "Value": lb.split(":loadbalancer/", 1)[1]}
        tg_dim = {"Name": "TargetGroup", "Value": tg.rsplit(":", 1)[1]}
        since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=30)

        def total(metric, dims, stat="Sum"):
            points = cw.get_metric_statistics(
                Namespace="AWS/ApplicationELB", MetricName=metric, Dimensions=dims, StartTime=since,
                EndTime=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1), Period=60,
                Statistics=[stat])["Datapoints"]
            return sum(p[stat] for p in points)

        wait_for("RequestCount to count the requests", lambda: total("RequestCount", [lb_dim]) >= len(results), 30)
        assert total("HTTPCode_Target_2XX_Count", [lb_dim, tg_dim]) >= len(results)
        assert total("HTTPCode_ELB_5XX_Count", [lb_dim]) == 0
        assert total("HealthyHostCount", [lb_dim, tg_dim], "Maximum") >= 3
    finally:
        decs.delete_service(cluster=CLUSTER, service=name, force=True)
        decs.get_waiter("services_inactive").wait(cluster=CLUSTER, services=[name], WaiterConfig=WAIT)
        elb.delete_load_balancer(LoadBalancerArn=lb)
        for _ in range(30):
            try:
                elb.delete_target_group(TargetGroupArn=tg)
                break
            except Exception:  # noqa: BLE001 - still in use for a moment after the listener goes
                time.sleep(1)


def fetch_host(url, host):
    req = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode().strip()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode().strip()
    except (urllib.error.URLError, ConnectionError, OSError) as e:
        return None, repr(e)


def test_an_alb_routes_by_host_and_path_to_two_services(docker_server, decs, busybox_image):
    """Host and path rules in front of two services: one on EC2 (bridge; its instance
    and host port are the target), one on Fargate (awsvpc; its own address is)."""
    elb = docker_server.client("elbv2")
    api_family, web_family = unique("api"), unique("web")
    register(decs, api_family, "api", busybox_image)
    decs.register_task_definition(
        family=web_family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "web", "image": busybox_image, "essential": True, "stopTimeout": 2,
                               "command": ["sh", "-c", "mkdir -p /tmp/web && echo web > /tmp/web/index.html "
                                                       "&& exec httpd -f -p 8080 -h /tmp"],
                               "portMappings": [{"containerPort": 8080}]}])
    check = dict(Protocol="HTTP", Port=80, HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
                 HealthyThresholdCount=2, UnhealthyThresholdCount=2)
    api_tg = elb.create_target_group(Name=short("api"), TargetType="instance", HealthCheckPath="/",
                                     **check)["TargetGroups"][0]["TargetGroupArn"]
    web_tg = elb.create_target_group(Name=short("web"), TargetType="ip", HealthCheckPath="/web/",
                                     **check)["TargetGroups"][0]["TargetGroupArn"]
    for tg in (api_tg, web_tg):
        elb.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "5"}])
    lb = elb.create_load_balancer(Name=short("two"))["LoadBalancers"][0]["LoadBalancerArn"]
    listener = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=8001, DefaultActions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain",
                                                           "MessageBody": "no route"}}])["Listeners"][0]["ListenerArn"]
    elb.create_rule(ListenerArn=listener, Priority=10, Actions=[{"Type": "forward", "TargetGroupArn": api_tg}],
                    Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": ["api.example.com"]}}])
    elb.create_rule(ListenerArn=listener, Priority=20, Actions=[{"Type": "forward", "TargetGroupArn": web_tg}],
                    Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/web/*"]}}])
    address = wait_for("the load balancer's address", lambda: (
        elb.describe_load_balancers(LoadBalancerArns=[lb])["LoadBalancers"][0]["AvailabilityZones"][0]
        .get("LoadBalancerAddresses", [{}])[0].get("IpAddress")), 30)
    base = f"http://{address}:8001"
    api, web = unique("api"), unique("web")
    try:
        decs.create_service(cluster=CLUSTER, serviceName=api, taskDefinition=api_family, desiredCount=2,
                            loadBalancers=[{"targetGroupArn": api_tg, "containerName": "web", "containerPort": 8080}])
        decs.create_service(cluster=CLUSTER, serviceName=web, taskDefinition=web_family, desiredCount=2,
                            launchType="FARGATE",
                            networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-0e2e00000000000a1"]}},
                            loadBalancers=[{"targetGroupArn": web_tg, "containerName": "web", "containerPort": 8080}])
        decs.get_waiter("services_stable").wait(cluster=CLUSTER, services=[api, web], WaiterConfig=WAIT)

        def healthy(tg, n):
            hs = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
            return len(hs) == n and all(h["TargetHealth"]["State"] == "healthy" for h in hs) and hs

        api_targets = wait_for("two healthy api targets", lambda: healthy(api_tg, 2), 90)
        web_targets = wait_for("two healthy web targets", lambda: healthy(web_tg, 2), 90)
        assert all(h["Target"]["Id"].startswith("i-") for h in api_targets), api_targets
        task_ips = set()
        for arn in decs.list_tasks(cluster=CLUSTER, serviceName=web)["taskArns"]:
            t = decs.describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"][0]
            details = {d["name"]: d["value"] for d in t["attachments"][0]["details"]}
            task_ips.add(details["privateIPv4Address"])
        assert {(h["Target"]["Id"], h["Target"]["Port"]) for h in web_targets} == {(ip, 8080) for ip in task_ips}

        assert {fetch_host(f"{base}/", "api.example.com") for _ in range(10)} == {(200, "api")}
        assert {fetch_host(f"{base}/web/", "other.example.com") for _ in range(10)} == {(200, "web")}
        # Priority order: the host rule (10) wins over the path rule (20).
        assert fetch_host(f"{base}/web/", "api.example.com")[0] == 404, "api's httpd has no /web/"
        assert fetch_host(f"{base}/", "other.example.com") == (404, "no route")
    finally:
        for name in (api, web):
            decs.delete_service(cluster=CLUSTER, service=name, force=True)
        decs.get_waiter("services_inactive").wait(cluster=CLUSTER, services=[api, web], WaiterConfig=WAIT)
        elb.delete_load_balancer(LoadBalancerArn=lb)
        for tg in (api_tg, web_tg):
            for _ in range(30):
                try:
                    elb.delete_target_group(TargetGroupArn=tg)
                    break
                except Exception:  # noqa: BLE001 - still in use for a moment after the listener goes
                    time.sleep(1)


def test_a_network_load_balancer_in_front_of_a_tcp_echo_service(docker_server, decs, busybox_image):
    """An NLB's TCP listener in front of an ECS service whose task echoes TCP (busybox
    `nc -ll -e cat`), registered by its instance and dynamic host port."""
    import socket

    elb = docker_server.client("elbv2")
    family = unique("echo")
    decs.register_task_definition(family=family, containerDefinitions=[{
        "name": "echo", "image": busybox_image, "memory": 16, "essential": True, "stopTimeout": 2,
        "command": ["nc", "-ll", "-p", "7000", "-e", "cat"],
        "portMappings": [{"containerPort": 7000, "hostPort": 0, "protocol": "tcp"}],
    }])
    tg = elb.create_target_group(Name=short("echo"), Protocol="TCP", Port=7000, TargetType="instance",
                                 HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
                                 HealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "5"}])
    lb = elb.create_load_balancer(Name=short("nlb"), Type="network")["LoadBalancers"][0]["LoadBalancerArn"]
    elb.create_listener(LoadBalancerArn=lb, Protocol="TCP", Port=9100, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tg}])
    address = wait_for("the load balancer's address", lambda: (
        elb.describe_load_balancers(LoadBalancerArns=[lb])["LoadBalancers"][0]["AvailabilityZones"][0]
        .get("LoadBalancerAddresses", [{}])[0].get("IpAddress")), 30)
    name = unique("echo")
    try:
        decs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=family, desiredCount=1,
                            loadBalancers=[{"targetGroupArn": tg, "containerName": "echo", "containerPort": 7000}])
        wait_for("a healthy echo target", lambda: [
            h for h in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
            if h["TargetHealth"]["State"] == "healthy"], 90)

        def roundtrip():
            try:
                with socket.create_connection((address, 9100), timeout=5) as s:
                    s.sendall(b"hello nlb\n")
                    return s.recv(64)
            except OSError:
                return None

        assert wait_for("an echo through the NLB", lambda: roundtrip() == b"hello nlb\n" or None, 30)
    finally:
        decs.delete_service(cluster=CLUSTER, service=name, force=True)
        decs.get_waiter("services_inactive").wait(cluster=CLUSTER, services=[name], WaiterConfig=WAIT)
        elb.delete_load_balancer(LoadBalancerArn=lb)
        for _ in range(30):
            try:
                elb.delete_target_group(TargetGroupArn=tg)
                break
            except Exception:  # noqa: BLE001 - still in use for a moment after the listener goes
                time.sleep(1)
