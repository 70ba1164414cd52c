#!/usr/bin/env python3
"""Helper for bench/iam.sh: ECS API throughput of a restricted IAM user beside the root
principal, against one running `flotilla server`, in the same run.

Subcommands:
  port    print a free loopback TCP port
  run     against --endpoint (the server's PID in --server-pid, for its CPU time):
          setup   as root: the cluster `bench`, the task definition `bench:1`, the user
                  `bench-restricted` in the group `bench-restricted-team`, 10 customer
                  managed policies of 10 statements each (7 attached to the user, 3 to the
                  group) and a 2-statement inline policy on the user, and an access key
                  for the user. The statements mix wildcard actions (`ecs:Describe*`),
                  resource ARNs with wildcards, StringEquals and ArnLike conditions on
                  `ecs:cluster`, and Deny statements for IAM, SQS, Secrets Manager, SSM
                  and ECR. Only the last policy (attached to the group) names the `bench`
                  cluster: it allows DescribeClusters (no condition) and ListTasks
                  (ArnLike on `ecs:cluster`), and allows RunTask only in `bench-prod`
                  (StringEquals on `ecs:cluster`), so RunTask in `bench` is refused.
          check   each principal's calls answer as expected before anything is timed
          load    for each operation, ROUNDS rounds; in each round root and the restricted
                  user (the order alternates from round to round) each make
                  REQUESTS/ROUNDS calls over THREADS threads, so machine noise hits both.
                  Operations: DescribeClusters(bench) and ListTasks(bench) for both, and
                  RunTask(bench:1 in bench) for the restricted user only, where an
                  AccessDeniedException is the expected answer (counted as a success).

One boto3 client per thread and principal (retries off, connect 5 s, read 30 s), each
warmed up with a few calls first. Latency is each call's `time.perf_counter()` time in
the client, boto3's own serialising, signing and parsing included; req/s is the calls
of a (principal, operation) over the wall time of its rounds. The server's CPU time
(/proc/PID/stat utime+stime) is read around every round, and so is this process's own
(the load generator, one Python process: the GIL makes it the bottleneck well before
the server on 2 cores, which is why the CPU figures are printed too).

Stdout: `bench=iam_api …` key=value lines; stderr: progress. Exit status 1 when any
call failed, answered wrongly or was not made before the deadline.
Root credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
"""

import argparse
import json
import math
import os
import socket
import sys
import threading
import time

import boto3
import botocore.exceptions
from botocore.config import Config

REGION = "us-east-1"
ACCOUNT = "000000000000"
CLUSTER = "bench"
FAMILY = "bench"
USER = "bench-restricted"
GROUP = "bench-restricted-team"
# The teams whose resources the policies name; the last one covers the bench cluster.
TEAMS = ["payments", "search", "ledger", "billing", "checkout", "catalog", "inventory", "notify", "reports", "bench"]
USER_ATTACHED = 7  # policies 0..6 on the user, 7..9 on the group
OPS = ["DescribeClusters", "ListTasks", "RunTask"]
PRINCIPALS = ["root", "restricted"]
WARMUP_PER_CLIENT = 5


def log(msg):
    print(f"# {msg}", file=sys.stderr, flush=True)


def fail(msg):
    print(f"iam_bench.py: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def arn(service, resource, region=REGION):
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


def cluster_arn(name):
    return arn("ecs", f"cluster/{name}")


def policy_size(text):
    """IAM's count: characters, whitespace not counted."""
    return sum(1 for c in text if not c.isspace())


# ------------------------------------------------------------------------- policies
def team_statements(i, team):
    """Ten statements of the kind a team's deploy/read policy has."""
    deny_a, deny_b = [
        (["iam:Create*", "iam:Delete*", "iam:Put*", "iam:Attach*"], ["sqs:DeleteQueue", "sqs:PurgeQueue"]),
        (["secretsmanager:DeleteSecret", "secretsmanager:PutResourcePolicy"], ["ssm:DeleteParameter*"]),
        (["ecr:DeleteRepository", "ecr:SetRepositoryPolicy"], ["iam:UpdateAssumeRolePolicy", "iam:PassRole"]),
    ][i % 3]
    return [
        {"Sid": f"Read{i}", "Effect": "Allow", "Action": ["ecs:Describe*", "ecs:List*"],
         "Resource": [cluster_arn(f"{team}*"), arn("ecs", f"container-instance/{team}*/*")]},
        {"Sid": f"Tasks{i}", "Effect": "Allow", "Action": ["ecs:ListTasks", "ecs:DescribeTasks", "ecs:StopTask"],
         "Resource": "*", "Condition": {"ArnLike": {"ecs:cluster": f"arn:aws:ecs:*:{ACCOUNT}:cluster/{team}*"}}},
        {"Sid": f"Run{i}", "Effect": "Allow", "Action": ["ecs:RunTask", "ecs:StartTask"],
         "Resource": arn("ecs", f"task-definition/{team}*:*"),
         "Condition": {"StringEquals": {"ecs:cluster": cluster_arn(f"{team}-prod")}}},
        {"Sid": f"Deploy{i}", "Effect": "Allow", "Action": ["ecs:UpdateService", "ecs:DescribeServices"],
         "Resource": arn("ecs", f"service/{team}-*/*"),
         "Condition": {"ArnLike": {"ecs:cluster": cluster_arn(f"{team}-*")}}},
        {"Sid": f"Pull{i}", "Effect": "Allow",
         "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
         "Resource": arn("ecr", f"repository/{team}/*")},
        {"Sid": f"Logs{i}", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:Get*"],
         "Resource": [arn("logs", f"log-group:/ecs/{team}*:*"), arn("logs", f"log-group:/ecs/{team}*")]},
        {"Sid": f"Queues{i}", "Effect": "Allow",
         "Action": ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueue*"],
         "Resource": f"arn:aws:sqs:*:{ACCOUNT}:{team}-*"},
        {"Sid": f"Config{i}", "Effect": "Allow", "Action": ["ssm:GetParameter*", "secretsmanager:GetSecretValue"],
         "Resource": [arn("ssm", f"parameter/{team}/*"), arn("secretsmanager", f"secret:{team}/*")]},
        {"Sid": f"DenyA{i}", "Effect": "Deny", "Action": deny_a, "Resource": "*"},
        {"Sid": f"DenyB{i}", "Effect": "Deny", "Action": deny_b, "Resource": "*"},
    ]


INLINE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "NoClusterChanges", "Effect": "Deny", "Action": ["ecs:DeleteCluster", "ecs:UpdateCluster*"],
         "Resource": "*"},
        {"Sid": "WhoAmI", "Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"},
    ],
}


def managed_documents():
    docs = []
    for i, team in enumerate(TEAMS):
        text = json.dumps({"Version": "2012-10-17", "Statement": team_statements(i, team)}, indent=2)
        if policy_size(text) > 6144:
            fail(f"policy {i} is {policy_size(text)} characters, over IAM's 6144")
        docs.append(text)
    return docs


# ------------------------------------------------------------------------- clients
def session_client(service, endpoint, key, secret, pool=2):
    cfg = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30, max_pool_connections=pool)
    sess = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION)
    return sess.client(service, endpoint_url=endpoint, config=cfg)


def call(client, op):
    """Make one call of `op`; return None when the answer is the expected one, else why not."""
    try:
        if op == "DescribeClusters":
            out = client.describe_clusters(clusters=[CLUSTER])
            cl = out.get("clusters") or []
            if len(cl) != 1 or cl[0].get("clusterName") != CLUSTER or out.get("failures"):
                return f"unexpected DescribeClusters answer {out!r}"
            return None
        if op == "ListTasks":
            out = client.list_tasks(cluster=CLUSTER)
            if not isinstance(out.get("taskArns"), list):
                return f"unexpected ListTasks answer {out!r}"
            return None
        if op == "RunTask":
            out = client.run_task(cluster=CLUSTER, taskDefinition=f"{FAMILY}:1")
            return f"RunTask was not refused: {out!r}"
        raise ValueError(op)
    except botocore.exceptions.ClientError as e:
        if op == "RunTask" and e.response["Error"]["Code"] == "AccessDeniedException":
            return None
        return f"{e.response['Error'].get('Code')}: {e.response['Error'].get('Message')}"
    except Exception as e:  # noqa: BLE001 (a failed call is counted, whatever it was)
        return f"{type(e).__name__}: {e}"


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds():
    t = os.times()
    return t.user + t.system


# ------------------------------------------------------------------------- setup
def setup(endpoint, root_key, root_secret):
    ecs = session_client("ecs", endpoint, root_key, root_secret)
    iam = session_client("iam", endpoint, root_key, root_secret)
    ecs.create_cluster(clusterName=CLUSTER)
    ecs.register_task_definition(
        family=FAMILY,
        containerDefinitions=[{"name": "web", "image": "busybox", "memory": 64, "essential": True,
                               "command": ["httpd", "-f", "-p", "8080"]}],
    )
    iam.create_user(UserName=USER)
    iam.create_group(GroupName=GROUP)
    iam.add_user_to_group(GroupName=GROUP, UserName=USER)
    docs = managed_documents()
    for i, (team, text) in enumerate(zip(TEAMS, docs)):
        policy_arn = iam.create_policy(PolicyName=f"bench-{team}", PolicyDocument=text)["Policy"]["Arn"]
        if i < USER_ATTACHED:
            iam.attach_user_policy(UserName=USER, PolicyArn=policy_arn)
        else:
            iam.attach_group_policy(GroupName=GROUP, PolicyArn=policy_arn)
    inline_text = json.dumps(INLINE)
    iam.put_user_policy(UserName=USER, PolicyName="bench-inline", PolicyDocument=inline_text)
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    attached = len(iam.list_attached_user_policies(UserName=USER)["AttachedPolicies"])
    group_attached = len(iam.list_attached_group_policies(GroupName=GROUP)["AttachedPolicies"])
    if (attached, group_attached) != (USER_ATTACHED, len(TEAMS) - USER_ATTACHED):
        fail(f"attached policies: user {attached}, group {group_attached}")
    shape = {
        "managed_policies": len(docs),
        "user_attached": attached,
        "group_attached": group_attached,
        "managed_statements": sum(len(json.loads(d)["Statement"]) for d in docs),
        "inline_statements": len(INLINE["Statement"]),
        "managed_chars_max": max(policy_size(d) for d in docs),
        "managed_chars_total": sum(policy_size(d) for d in docs),
        "inline_chars": policy_size(inline_text),
    }
    return key["AccessKeyId"], key["SecretAccessKey"], shape


def check(endpoint, creds, deadline_s=10.0):
    """Every (principal, op) answers as expected; bounded retries while IAM settles."""
    for principal, (key, secret) in creds.items():
        client = session_client("ecs", endpoint, key, secret)
        for op in OPS:
            if principal == "root" and op == "RunTask":
                continue
            until = time.monotonic() + deadline_s
            for _attempt in range(100):
                problem = call(client, op)
                if problem is None or time.monotonic() > until:
                    break
                time.sleep(0.1)
            if problem is not None:
                fail(f"{principal} {op}: {problem}")
    # The restricted user is really restricted outside the bench cluster's reads.
    user = session_client("ecs", endpoint, *creds["restricted"])
    try:
        user.create_cluster(clusterName="not-allowed")
        fail("the restricted user could create a cluster")
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] != "AccessDeniedException":
            fail(f"CreateCluster as the restricted user answered {e.response['Error']}")


# ------------------------------------------------------------------------- load
class Stats:
    def __init__(self):
        self.latencies = []
        self.errors = 0
        self.unfinished = 0
        self.wall = 0.0
        self.server_cpu = 0.0
        self.client_cpu = 0.0
        self.first_error = None


def run_round(clients, op, count, server_pid, deadline, stats):
    """`count` calls of `op` split over the threads (one client each); adds to `stats`."""
    threads = len(clients)
    share = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]
    lat = [[] for _ in range(threads)]
    errs = [0] * threads
    left = [0] * threads
    first = [None] * threads
    barrier = threading.Barrier(threads + 1)

    def worker(i):
        try:
            barrier.wait(timeout=60)
        except threading.BrokenBarrierError:
            left[i] = share[i]
            return
        client, mine, out = clients[i], share[i], lat[i]
        for k in range(mine):
            if time.monotonic() > deadline:
                left[i] = mine - k
                return
            t0 = time.perf_counter()
            problem = call(client, op)
            out.append(time.perf_counter() - t0)
            if problem is not None:
                errs[i] += 1
                if first[i] is None:
                    first[i] = problem

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    cpu0, own0 = cpu_seconds(server_pid), own_cpu_seconds()
    barrier.wait(timeout=60)
    t0 = time.perf_counter()
    for t in pool:
        t.join(timeout=max(1.0, deadline - time.monotonic() + 60))
    wall = time.perf_counter() - t0
    if any(t.is_alive() for t in pool):
        fail(f"{op}: a load thread did not finish 60 s after the deadline")
    stats.wall += wall
    stats.server_cpu += cpu_seconds(server_pid) - cpu0
    stats.client_cpu += own_cpu_seconds() - own0
    for i in range(threads):
        stats.latencies.extend(lat[i])
        stats.errors += errs[i]
        stats.unfinished += left[i]
        if stats.first_error is None and first[i] is not None:
            stats.first_error = first[i]


def pct(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def div(a, b):
    return a / b if b > 0 else float("nan")


def cmd_port(_args):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def cmd_run(args):
    if args.requests < args.rounds or args.threads < 1 or args.rounds < 1:
        fail("need REQUESTS >= ROUNDS >= 1 and THREADS >= 1")
    started = time.monotonic()
    deadline = started + args.deadline
    load_start = os.getloadavg()
    root = (os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    log(f"setting up the cluster, task definition, user, group and policies at {args.endpoint}")
    user_key, user_secret, shape = setup(args.endpoint, *root)
    creds = {"root": root, "restricted": (user_key, user_secret)}
    check(args.endpoint, creds)
    ops = [op for op in OPS if op in args.ops.split(",")]
    print("bench=iam_api_setup " + " ".join(f"{k}={v}" for k, v in shape.items())
          + f" threads={args.threads} requests={args.requests} rounds={args.rounds} ops={','.join(ops)}"
          + f" load_avg_1m_start={load_start[0]:.2f}", flush=True)

    clients = {p: [session_client("ecs", args.endpoint, *creds[p]) for _ in range(args.threads)] for p in PRINCIPALS}
    log(f"warming up {2 * args.threads} clients ({WARMUP_PER_CLIENT} calls each)")
    for p in PRINCIPALS:
        for c in clients[p]:
            for _ in range(WARMUP_PER_CLIENT):
                problem = call(c, "DescribeClusters")
                if problem:
                    fail(f"warm-up {p}: {problem}")

    per_round = [args.requests // args.rounds + (1 if r < args.requests % args.rounds else 0)
                 for r in range(args.rounds)]
    stats = {(p, op): Stats() for p in PRINCIPALS for op in ops if not (p == "root" and op == "RunTask")}
    log(f"load: {args.requests} calls per principal and operation, {args.rounds} rounds, {args.threads} threads")
    for r in range(args.rounds):
        order = PRINCIPALS if r % 2 == 0 else PRINCIPALS[::-1]
        for op in ops:
            for p in order:
                if (p, op) in stats:
                    run_round(clients[p], op, per_round[r], args.server_pid, deadline, stats[(p, op)])
        log(f"round {r + 1}/{args.rounds} done ({time.monotonic() - started:.1f} s)")

    failed = False
    rps = {}
    for (p, op), s in stats.items():
        done = len(s.latencies)
        lat = sorted(s.latencies)
        rps[(p, op)] = done / s.wall if s.wall > 0 else float("nan")
        shown = "RunTask_refused" if op == "RunTask" else op
        print(f"bench=iam_api principal={p} op={shown} requests={done} errors={s.errors} unfinished={s.unfinished}"
              f" req_per_s={rps[(p, op)]:.1f} p50_ms={pct(lat, 50) * 1000:.2f} p99_ms={pct(lat, 99) * 1000:.2f}"
              f" server_cpu_us_per_req={s.server_cpu / max(done, 1) * 1e6:.0f}"
              f" client_cpu_us_per_req={s.client_cpu / max(done, 1) * 1e6:.0f}"
              f" seconds={s.wall:.2f}", flush=True)
        if s.errors or s.unfinished or done != args.requests:
            failed = True
            log(f"FAILED: {p} {op}: {s.errors} errors, {s.unfinished} not made; first error: {s.first_error}")

    ratios = []
    for op in ops:
        if ("root", op) not in stats:
            continue
        a, b = stats[("restricted", op)], stats[("root", op)]
        la, lb = sorted(a.latencies), sorted(b.latencies)
        ratio = rps[("restricted", op)] / rps[("root", op)] if rps[("root", op)] > 0 else float("nan")
        ratios.append(f"ratio_{op}={ratio:.3f}")
        cpu_a = a.server_cpu / max(len(la), 1) * 1e6
        cpu_b = b.server_cpu / max(len(lb), 1) * 1e6
        print(f"bench=iam_api_ratio op={op} restricted_over_root_req_per_s={ratio:.3f}"
              f" restricted_over_root_p50={div(pct(la, 50), pct(lb, 50)):.3f}"
              f" restricted_over_root_p99={div(pct(la, 99), pct(lb, 99)):.3f}"
              f" server_cpu_us_per_req_restricted_minus_root={cpu_a - cpu_b:.0f}", flush=True)
    load_end = os.getloadavg()
    print(f"bench=iam_api_summary status={'failed' if failed else 'ok'} {' '.join(ratios)}"
          f" total_seconds={time.monotonic() - started:.1f}"
          f" load_avg_1m_start={load_start[0]:.2f} load_avg_1m_end={load_end[0]:.2f}", flush=True)
    if failed:
        sys.exit(1)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("port")
    s = sub.add_parser("run")
    s.add_argument("--endpoint", required=True)
    s.add_argument("--server-pid", type=int, required=True)
    s.add_argument("--requests", type=int, default=5000, help="calls per principal and operation")
    s.add_argument("--threads", type=int, default=8)
    s.add_argument("--rounds", type=int, default=10, help="alternating rounds the calls are split into")
    s.add_argument("--ops", default=",".join(OPS))
    s.add_argument("--deadline", type=float, default=900.0, help="seconds for the whole run")
    args = p.parse_args()
    {"port": cmd_port, "run": cmd_run}[args.cmd](args)


if __name__ == "__main__":
    main()
