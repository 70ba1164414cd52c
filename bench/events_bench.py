#!/usr/bin/env python3
"""EventBridge delivery latency: PutEvents -> an API destination on loopback.

Starts `flotilla server` (FLOTILLA_BIN, default target/release/flotilla, else
target/debug/flotilla) on a fresh data directory (SQLite, or PostgreSQL with
--store URL), a loopback HTTP server that records when each request arrives, and an
API_KEY connection, API destination, rule and target. Then two phases:

  paced   EVENTS events, one PutEvents of one entry each, GAP_MS apart: the time from
          just before the PutEvents call to the request's arrival at the HTTP server
          (so the figure includes the PutEvents round trip, the outbox commit, the
          delivery controller's wake-up and the HTTP request)
  burst   EVENTS events as PutEvents of 10 entries, sent back to back: the same
          per-event latency, and events/s from the first call to the last arrival

Also prints the PutEvents call's own latency (acknowledged = stored). Every event must
arrive (at least once); duplicates are counted. Prints
`events_bench phase=… events=… p50_ms=… p99_ms=… max_ms=…` lines on stdout.

    /tmp/venv-main/bin/python bench/events_bench.py [--events 200] [--gap-ms 20] [--store postgres://…]
"""

import argparse
import http.server
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

REPO = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
ACCESS_KEY = "AKIAFLOTILLABENCH001"
SECRET_KEY = "bench/Secret+Key/0123456789abcdefghijklm"


def log(msg):
    print(f"# {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary():
    given = os.environ.get("FLOTILLA_BIN")
    if given:
        return given
    for profile in ("release", "debug"):
        p = REPO / "target" / profile / "flotilla"
        if p.exists():
            return str(p)
    sys.exit("events_bench.py: no flotilla binary; build it or set FLOTILLA_BIN")


class Arrivals:
    """A loopback HTTP server noting when each event (by its `seq`) arrives."""

    def __init__(self):
        self.at = {}
        self.duplicates = 0
        self.lock = threading.Lock()
        arrivals = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                now = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seq = json.loads(body)["seq"]
                with arrivals.lock:
                    if seq in arrivals.at:
                        arrivals.duplicates += 1
                    else:
                        arrivals.at[seq] = now
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def report(phase, latencies_ms, extra=""):
    print(f"events_bench phase={phase} events={len(latencies_ms)} p50_ms={percentile(latencies_ms, 50):.1f} "
          f"p99_ms={percentile(latencies_ms, 99):.1f} max_ms={max(latencies_ms):.1f} "
          f"mean_ms={statistics.mean(latencies_ms):.1f}{extra}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--gap-ms", type=float, default=20.0)
    ap.add_argument("--store", default=None, help="a PostgreSQL URL (a database of its own); default SQLite")
    args = ap.parse_args()

    data = Path(tempfile.mkdtemp(prefix="events-bench-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLOTILLA_"))}
    env.update(HOME=str(data), RUST_LOG="warn", FLOTILLA_ROOT_ACCESS_KEY_ID=ACCESS_KEY,
               FLOTILLA_ROOT_SECRET_ACCESS_KEY=SECRET_KEY)
    cmd = [binary(), "server", "--data-dir", str(data / "data"), "--listen", f"127.0.0.1:{port}", "--no-aws-profile",
           "--dns-listen", "127.0.0.1:0"]
    if args.store:
        cmd += ["--store", args.store]
    log(f"starting {' '.join(cmd)}")
    server = subprocess.Popen(cmd, env=env, stdout=open(data / "server.log", "wb"), stderr=subprocess.STDOUT)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(endpoint + "/healthz", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit(f"events_bench.py: the server did not start; see {data / 'server.log'}")
                time.sleep(0.1)
        events = boto3.session.Session().client(
            "events", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY, config=Config(retries={"total_max_attempts": 1}))
        arrivals = Arrivals()
        conn = events.create_connection(Name="bench", AuthorizationType="API_KEY", AuthParameters={
            "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "bench"}})
        dest = events.create_api_destination(Name="bench", ConnectionArn=conn["ConnectionArn"],
                                             InvocationEndpoint=f"http://127.0.0.1:{arrivals.port}/in",
                                             HttpMethod="POST", InvocationRateLimitPerSecond=10_000)
        events.put_rule(Name="bench", EventPattern=json.dumps({"source": ["bench"]}))
        events.put_targets(Rule="bench", Targets=[{"Id": "api", "Arn": dest["ApiDestinationArn"],
                                                   "InputPath": "$.detail"}])
        # Warm up: one event through, so connections and caches exist.
        events.put_events(Entries=[{"Source": "bench", "DetailType": "warm", "Detail": json.dumps({"seq": -1})}])
        wait_until = time.monotonic() + 30
        while -1 not in arrivals.at and time.monotonic() < wait_until:
            time.sleep(0.01)

        # Paced.
        sent, put_ms = {}, []
        for i in range(args.events):
            start = time.monotonic()
            out = events.put_events(Entries=[{"Source": "bench", "DetailType": "paced", "Detail": json.dumps({"seq": i})}])
            put_ms.append((time.monotonic() - start) * 1000)
            assert out["FailedEntryCount"] == 0, out
            sent[i] = start
            time.sleep(args.gap_ms / 1000)
        wait_all(arrivals, sent)
        report("paced", [(arrivals.at[i] - sent[i]) * 1000 for i in sent])
        report("put_events_call", put_ms)

        # Burst: batches of 10, back to back.
        base = 1_000_000
        sent = {}
        first = time.monotonic()
        for b in range(0, args.events, 10):
            entries = [{"Source": "bench", "DetailType": "burst", "Detail": json.dumps({"seq": base + i})}
                       for i in range(b, min(b + 10, args.events))]
            start = time.monotonic()
            out = events.put_events(Entries=entries)
            assert out["FailedEntryCount"] == 0, out
            for e in entries:
                sent[json.loads(e["Detail"])["seq"]] = start
        wait_all(arrivals, sent)
        last = max(arrivals.at[s] for s in sent)
        report("burst", [(arrivals.at[s] - sent[s]) * 1000 for s in sent],
               f" events_per_s={len(sent) / (last - first):.0f}")
        print(f"events_bench duplicates={arrivals.duplicates} status=ok", flush=True)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(data, ignore_errors=True)


def wait_all(arrivals, sent, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with arrivals.lock:
            missing = [s for s in sent if s not in arrivals.at]
        if not missing:
            return
        time.sleep(0.01)
    sys.exit(f"events_bench.py: {len(missing)} events never arrived (first: {missing[:5]})")


if __name__ == "__main__":
    main()
