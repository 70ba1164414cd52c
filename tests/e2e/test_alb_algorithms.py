"""The routing algorithms of an Application Load Balancer's target groups, through the
real data plane: least outstanding requests (`load_balancing.algorithm.type`) sends a
fast target more requests than a slow one where round robin splits them evenly, and
slow start (`slow_start.duration_seconds`) gives a target that becomes healthy a share
that rises from nothing to a full one over the window.

Every target is a small HTTP server on 127.0.0.1; every loop is bounded in count and time.
"""

import http.server
import socketserver
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import unique, wait_for


@pytest.fixture(scope="module")
def elb(server):
    return server.client("elbv2")


def short(prefix):
    """A unique name within ELBv2's 32 characters."""
    return unique(prefix)[:32].rstrip("-")


class Backend:
    """A target on 127.0.0.1 that answers with its name, `delay` seconds after a
    request (health checks on /health at once)."""

    def __init__(self, name, delay=0.0):
        self.name = name
        self.delay = delay
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/health" and outer.delay:
                    time.sleep(outer.delay)
                body = outer.name.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            request_queue_size = 64

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def get(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def address_of(elb, lb):
    return wait_for("the load balancer's address", lambda: (
        elb.describe_load_balancers(LoadBalancerArns=[lb])["LoadBalancers"][0]["AvailabilityZones"][0]
        .get("LoadBalancerAddresses", [{}])[0].get("IpAddress")), 30)


def target_group(elb, name, attributes):
    tg = elb.create_target_group(Name=short(name), Protocol="HTTP", Port=80, TargetType="ip",
                                 HealthCheckPath="/health", HealthCheckIntervalSeconds=5,
                                 HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
                                 UnhealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
        {"Key": k, "Value": v} for k, v in attributes.items()])
    return tg


def states(elb, tg):
    return {h["Target"]["Port"]: h["TargetHealth"]["State"]
            for h in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]}


def hammer(url, clients=20, seconds=4.0, per_client=400):
    """`clients` concurrent clients, each sending requests one after another for
    `seconds` (at most `per_client` each): the answers' bodies, counted."""
    deadline = time.monotonic() + seconds

    def client():
        seen = Counter()
        for _ in range(per_client):
            if time.monotonic() > deadline:
                break
            status, body = get(url)
            seen[body if status == 200 else f"status {status}"] += 1
        return seen

    total = Counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for seen in pool.map(lambda _: client(), range(clients)):
            total.update(seen)
    return total


def sequential(url, n):
    """`n` requests one after another: the answers' bodies, counted."""
    return Counter(get(url)[1] for _ in range(n))


@pytest.mark.once
def test_least_outstanding_requests_favours_the_fast_target_and_round_robin_does_not(elb):
    slow, fast = Backend("slow", delay=0.3), Backend("fast")
    lb = None
    groups = []
    try:
        lb = elb.create_load_balancer(Name=short("algo"))["LoadBalancers"][0]["LoadBalancerArn"]
        address = address_of(elb, lb)
        rr = target_group(elb, "rr", {"load_balancing.algorithm.type": "round_robin"})
        lor = target_group(elb, "lor", {"load_balancing.algorithm.type": "least_outstanding_requests"})
        groups = [rr, lor]
        attrs = {a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(TargetGroupArn=lor)["Attributes"]}
        assert attrs["load_balancing.algorithm.type"] == "least_outstanding_requests"
        for tg, port in ((rr, 8200), (lor, 8201)):
            elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": b.port} for b in (slow, fast)])
            elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=port, DefaultActions=[
                {"Type": "forward", "TargetGroupArn": tg}])
        wait_for("every target healthy", lambda: all(
            set(states(elb, tg).values()) == {"healthy"} for tg in groups), 60)
        # The listeners serve from tables rebuilt every second: let them see the health.
        wait_for("both listeners answering", lambda: all(
            get(f"http://{address}:{port}/")[0] == 200 for port in (8200, 8201)), 30)

        by_rr = hammer(f"http://{address}:8200/")
        by_lor = hammer(f"http://{address}:8201/")
        print(f"FIGURE alb-round-robin slow={by_rr['slow']} fast={by_rr['fast']}")
        print(f"FIGURE alb-least-outstanding-requests slow={by_lor['slow']} fast={by_lor['fast']}")
        assert set(by_rr) == {"slow", "fast"} and set(by_lor) <= {"slow", "fast"}, (by_rr, by_lor)

        rr_total = by_rr["slow"] + by_rr["fast"]
        assert rr_total >= 40, by_rr
        assert abs(by_rr["slow"] - by_rr["fast"]) <= max(2, rr_total // 10), f"round robin splits evenly: {by_rr}"
        assert by_lor["fast"] >= 3 * max(1, by_lor["slow"]), f"the fast target gets clearly more: {by_lor}"
        assert by_lor["fast"] + by_lor["slow"] > rr_total, "and more requests get answered in the same time"
    finally:
        if lb:
            elb.delete_load_balancer(LoadBalancerArn=lb)
        for tg in groups:
            elb.delete_target_group(TargetGroupArn=tg)
        slow.close()
        fast.close()


@pytest.mark.once
def test_slow_start_ramps_a_new_targets_share_up_linearly(elb):
    first, second, newcomer = Backend("first"), Backend("second"), Backend("newcomer")
    window = 30
    lb = None
    tg = None
    try:
        lb = elb.create_load_balancer(Name=short("slow"))["LoadBalancers"][0]["LoadBalancerArn"]
        address = address_of(elb, lb)
        tg = target_group(elb, "slow", {"slow_start.duration_seconds": str(window)})
        # Targets registered together into an empty group do not enter slow start.
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": b.port}
                                                         for b in (first, second)])
        elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=8202, DefaultActions=[
            {"Type": "forward", "TargetGroupArn": tg}])
        url = f"http://{address}:8202/"
        wait_for("the first targets healthy", lambda: set(states(elb, tg).values()) == {"healthy"}, 60)
        wait_for("the listener answering", lambda: get(url)[0] == 200, 30)
        time.sleep(1.5)  # one more table rebuild: both seen healthy
        start = sequential(url, 100)
        assert abs(start["first"] - start["second"]) <= 2, f"full shares at once: {start}"

        # A target joining a group with healthy targets starts from nothing.
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": newcomer.port}])
        wait_for("the newcomer healthy", lambda: states(elb, tg).get(newcomer.port) == "healthy", 60)
        healthy_at = time.monotonic()
        shares = []
        for at in (0, window / 2, window + 2):
            time.sleep(max(0.0, healthy_at + at - time.monotonic()))
            seen = sequential(url, 150)
            share = seen["newcomer"] / sum(seen.values())
            shares.append(share)
            print(f"FIGURE alb-slow-start newcomer-share-at-{at:.0f}s={share:.3f} {dict(seen)}")
        early, middle, late = shares
        assert early < 0.15, f"in slow start, far below a full third: {shares}"
        assert early < middle < late, f"the share rises: {shares}"
        assert 0.25 <= late <= 0.42, f"a full share after the window: {shares}"
    finally:
        if lb:
            elb.delete_load_balancer(LoadBalancerArn=lb)
        if tg:
            elb.delete_target_group(TargetGroupArn=tg)
        for b in (first, second, newcomer):
            b.close()
