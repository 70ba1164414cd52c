#!/usr/bin/env python3
"""Helper for bench/sqs.sh: SQS send and receive throughput and latency of one server.

Subcommands:
  port    print a free loopback TCP port
  run     against --endpoint (named --server in the output), in a queue of its own:
          send    PROCS processes send MESSAGES messages of BODY_BYTES bytes between them
                  with SendMessage, one at a time each (every answer's MD5OfMessageBody
                  checked); messages/s over the phase, latency of each call
          receive PROCS processes ReceiveMessage (up to 10, WaitTimeSeconds 1, visibility
                  60 s) and DeleteMessageBatch what they got until every message sent is
                  deleted; messages/s over the phase, latency of each ReceiveMessage that
                  returned messages and of each DeleteMessageBatch; missing and duplicate
                  messages are counted, and fail the run unless --peer (moto)
          wake    WAKE_SAMPLES times: a ReceiveMessage long-polls (WaitTimeSeconds 20) an
                  empty queue, a SendMessage is made; the time from the send's answer to
                  the receive's answer

Requests go over persistent HTTP/1.1 connections (http.client), signed with botocore's
SigV4 (AWS JSON 1.0, `AmazonSQS.*`), one connection per process, so the Python client
is not the bottleneck boto3's per-call overhead would be. Every phase has a deadline.
Prints `sqs_bench server=… phase=… key=value …` lines on stdout; progress on stderr.
Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
"""

import argparse
import hashlib
import http.client
import json
import multiprocessing as mp
import os
import socket
import statistics
import sys
import threading
import time
import urllib.parse
import uuid

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REGION = "us-east-1"
PHASE_DEADLINE = 300.0


def log(msg):
    print(f"# {msg}", file=sys.stderr, flush=True)


def fail(msg):
    print(f"sqs_bench.py: {msg}", file=sys.stderr)
    sys.exit(1)


class Client:
    """One persistent connection; `call(op, payload)` -> (status, parsed JSON)."""

    def __init__(self, endpoint):
        u = urllib.parse.urlparse(endpoint)
        self.endpoint = endpoint.rstrip("/") + "/"
        self.host, self.port = u.hostname, u.port
        self.creds = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
        self.conn = None

    def call(self, op, payload, timeout=60):
        body = json.dumps(payload).encode()
        req = AWSRequest(method="POST", url=self.endpoint, data=body, headers={
            "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{op}"})
        SigV4Auth(self.creds, "sqs", REGION).add_auth(req)
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            try:
                self.conn.request("POST", "/", body=body, headers=dict(req.headers.items()))
                resp = self.conn.getresponse()
                data = resp.read()
                return resp.status, (json.loads(data) if data else {})
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def ok(self, op, payload, timeout=60):
        status, out = self.call(op, payload, timeout)
        if status != 200:
            raise RuntimeError(f"{op} answered {status}: {out}")
        return out


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def send_worker(endpoint, url, worker, count, body_bytes, results):
    client = Client(endpoint)
    latencies = []
    for k in range(count):
        head = f"{worker}-{k}-"
        body = head + "x" * max(0, body_bytes - len(head))
        t0 = time.perf_counter()
        out = client.ok("SendMessage", {"QueueUrl": url, "MessageBody": body})
        latencies.append(time.perf_counter() - t0)
        if out.get("MD5OfMessageBody") != hashlib.md5(body.encode()).hexdigest():
            raise RuntimeError(f"wrong MD5OfMessageBody in {out}")
    results.put(latencies)


def receive_worker(endpoint, url, total, deleted, deadline, results):
    client = Client(endpoint)
    receive_lat, delete_lat, bodies = [], [], []
    while deleted.value < total and time.time() < deadline:
        t0 = time.perf_counter()
        out = client.ok("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10, "VisibilityTimeout": 60,
                                           "WaitTimeSeconds": 1})
        took = time.perf_counter() - t0
        messages = out.get("Messages", [])
        if not messages:
            continue
        receive_lat.append(took)
        bodies.extend(m["Body"] for m in messages)
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        t0 = time.perf_counter()
        out = client.ok("DeleteMessageBatch", {"QueueUrl": url, "Entries": entries})
        delete_lat.append(time.perf_counter() - t0)
        if out.get("Failed"):
            raise RuntimeError(f"DeleteMessageBatch failed entries: {out['Failed']}")
        with deleted.get_lock():
            deleted.value += len(messages)
    results.put((receive_lat, delete_lat, bodies))


def run_procs(target, args_list):
    results = mp.Queue()
    procs = [mp.Process(target=target, args=(*a, results)) for a in args_list]
    for p in procs:
        p.start()
    out = [results.get(timeout=PHASE_DEADLINE + 60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        if p.exitcode != 0:
            fail(f"a worker exited with {p.exitcode}")
    return out


def ms(seconds):
    return f"{seconds * 1000:.2f}"


def cmd_run(args):
    main = Client(args.endpoint)
    name = f"bench-{uuid.uuid4().hex[:8]}"
    url = main.ok("CreateQueue", {"QueueName": name, "Attributes": {"VisibilityTimeout": "60"}})["QueueUrl"]
    log(f"{args.server}: queue {url}")
    per_proc = args.messages // args.procs
    total = per_proc * args.procs

    t0 = time.perf_counter()
    lat = [x for r in run_procs(send_worker, [(args.endpoint, url, w, per_proc, args.body_bytes)
                                              for w in range(args.procs)]) for x in r]
    wall = time.perf_counter() - t0
    print(f"sqs_bench server={args.server} phase=send messages={total} procs={args.procs} "
          f"body_bytes={args.body_bytes} msgs_per_s={total / wall:.1f} p50_ms={ms(pct(lat, 50))} "
          f"p99_ms={ms(pct(lat, 99))} seconds={wall:.2f}", flush=True)

    deleted = mp.Value("l", 0)
    deadline = time.time() + PHASE_DEADLINE
    t0 = time.perf_counter()
    out = run_procs(receive_worker, [(args.endpoint, url, total, deleted, deadline) for _ in range(args.procs)])
    wall = time.perf_counter() - t0
    receive_lat = [x for r in out for x in r[0]]
    delete_lat = [x for r in out for x in r[1]]
    bodies = [b for r in out for b in r[2]]
    missing = total - len(set(bodies))
    dups = len(bodies) - len(set(bodies))
    print(f"sqs_bench server={args.server} phase=receive messages={len(set(bodies))} procs={args.procs} "
          f"msgs_per_s={len(set(bodies)) / wall:.1f} receive_p50_ms={ms(pct(receive_lat, 50))} "
          f"receive_p99_ms={ms(pct(receive_lat, 99))} delete_batch_p50_ms={ms(pct(delete_lat, 50))} "
          f"delete_batch_p99_ms={ms(pct(delete_lat, 99))} "
          f"msgs_per_receive={len(bodies) / max(1, len(receive_lat)):.2f} missing={missing} duplicates={dups} "
          f"seconds={wall:.2f}", flush=True)

    wakes = []
    for _ in range(args.wake_samples):
        got = {}

        def poll():
            c = Client(args.endpoint)
            got["out"] = c.ok("ReceiveMessage", {"QueueUrl": url, "WaitTimeSeconds": 20}, timeout=60)
            got["at"] = time.perf_counter()

        t = threading.Thread(target=poll)
        t.start()
        time.sleep(0.3)
        main.ok("SendMessage", {"QueueUrl": url, "MessageBody": "wake"})
        sent = time.perf_counter()
        t.join(timeout=30)
        if "out" not in got or not got["out"].get("Messages"):
            fail(f"{args.server}: a long poll did not return the message sent")
        wakes.append(max(0.0, got["at"] - sent))
        m = got["out"]["Messages"][0]
        main.ok("DeleteMessage", {"QueueUrl": url, "ReceiptHandle": m["ReceiptHandle"]})
    print(f"sqs_bench server={args.server} phase=wake samples={len(wakes)} p50_ms={ms(pct(wakes, 50))} "
          f"max_ms={ms(max(wakes) if wakes else float('nan'))} mean_ms={ms(statistics.mean(wakes) if wakes else 0)}",
          flush=True)
    main.ok("DeleteQueue", {"QueueUrl": url})
    if (missing or dups) and not args.peer:
        fail(f"{args.server}: {missing} messages missing, {dups} duplicates")


def cmd_port(_args):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("port")
    r = sub.add_parser("run")
    r.add_argument("--endpoint", required=True)
    r.add_argument("--server", required=True)
    r.add_argument("--procs", type=int, default=4)
    r.add_argument("--messages", type=int, default=2000)
    r.add_argument("--body-bytes", type=int, default=256)
    r.add_argument("--wake-samples", type=int, default=10)
    r.add_argument("--peer", action="store_true",
                   help="the server compared with: missing or duplicate messages are reported, not a failure")
    args = p.parse_args()
    {"port": cmd_port, "run": cmd_run}[args.cmd](args)


if __name__ == "__main__":
    main()
