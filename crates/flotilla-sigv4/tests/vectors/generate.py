#!/usr/bin/env python3
"""Generate SigV4 cross-check vectors with botocore (a client nobody on the team wrote).

Run from anywhere:  python3 crates/flotilla-sigv4/tests/vectors/generate.py
It rewrites botocore_vectors.json next to this script. The clock is frozen by replacing
botocore.auth.get_current_datetime, so the output is deterministic for a given botocore.

Each vector records the request as it goes on the wire after signing (method, raw path,
raw query, headers in order including the Host the HTTP client adds, body) plus the
request before signing, so the Rust tests can both verify botocore's signature and check
that flotilla_sigv4::sign / presign reproduce it exactly.
"""

import base64
import datetime
import json
import os
from urllib.parse import urlsplit

import botocore
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

FROZEN = datetime.datetime(2026, 11, 22, 4, 15, 30)
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLE+token/with=chars"
ENDPOINT = "http://localhost:4566"

botocore.auth.get_current_datetime = lambda remove_tzinfo=True: FROZEN


def headers_list(request):
    return [[k, v] for k, v in request.headers.items()]


def wire_headers(request):
    """Headers as sent: the request's own plus Host as the HTTP client adds it."""
    out = headers_list(request)
    if not any(k.lower() == "host" for k, _ in out):
        out.insert(0, ["Host", botocore.auth._host_from_url(request.url)])
    return out


def make_request(method, path_and_query, headers, body):
    request = AWSRequest(method=method, url=ENDPOINT + path_and_query, data=body)
    for name, value in headers:
        # HTTPHeaders appends on assignment, so repeated names give repeated headers.
        request.headers[name] = value
    return request


def body_field(body):
    if isinstance(body, str):
        body = body.encode("utf-8")
    return base64.b64encode(body or b"").decode("ascii")


def header_vector(name, method, path_and_query, headers, body=b"", service="ecs",
                  region="us-east-1", token=None):
    request = make_request(method, path_and_query, headers, body)
    before = wire_headers(request)
    creds = Credentials(ACCESS_KEY, SECRET_KEY, token)
    botocore.auth.SigV4Auth(creds, service, region).add_auth(request)
    url = urlsplit(request.url)
    return {
        "name": name,
        "kind": "header",
        "service": service,
        "region": region,
        "session_token": token,
        "method": method,
        "path": url.path,
        "query": url.query,
        "headers_before_signing": before,
        "headers": wire_headers(request),
        "body_base64": body_field(body),
        "authorization": request.headers["Authorization"],
    }


def presign_vector(name, method, path_and_query, headers, expires, service="ecs",
                   region="us-east-1", token=None):
    request = make_request(method, path_and_query, headers, b"")
    before_url = urlsplit(request.url)
    before = wire_headers(request)
    creds = Credentials(ACCESS_KEY, SECRET_KEY, token)
    botocore.auth.SigV4QueryAuth(creds, service, region, expires=expires).add_auth(request)
    url = urlsplit(request.url)
    signature = [p.split("=", 1)[1] for p in url.query.split("&") if p.startswith("X-Amz-Signature=")][0]
    return {
        "name": name,
        "kind": "presigned",
        "service": service,
        "region": region,
        "session_token": token,
        "method": method,
        "path": url.path,
        "query_before_signing": before_url.query,
        "query": url.query,
        "expires": expires,
        "headers_before_signing": before,
        "headers": wire_headers(request),
        "body_base64": "",
        "signature": signature,
    }


JSON = "application/x-amz-json-1.1"
ECS = "AmazonEC2ContainerServiceV20141113"


def vectors():
    v = []
    v.append(header_vector(
        "post-json-describe-clusters", "POST", "/",
        [("Content-Type", JSON), ("X-Amz-Target", f"{ECS}.DescribeClusters")],
        b'{"clusters": ["default"]}'))
    v.append(header_vector(
        "post-json-run-task-with-session-token", "POST", "/",
        [("Content-Type", JSON), ("X-Amz-Target", f"{ECS}.RunTask")],
        '{"taskDefinition": "web:1", "overrides": {"containerOverrides": [{"name": "é"}]}}'.encode(),
        token=SESSION_TOKEN))
    v.append(header_vector(
        "post-json-other-region-and-service", "POST", "/",
        [("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", "DynamoDB_20120810.ListTables")],
        b"{}", service="dynamodb", region="eu-west-3"))
    v.append(header_vector(
        "post-empty-body", "POST", "/",
        [("Content-Type", JSON), ("X-Amz-Target", f"{ECS}.ListClusters")], b""))
    v.append(header_vector(
        "post-query-protocol-form", "POST", "/",
        [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
        b"Action=DescribeLoadBalancers&Version=2015-12-01", service="elasticloadbalancing"))
    v.append(header_vector("get-root", "GET", "/", []))
    v.append(header_vector("get-path-with-encoded-space", "GET", "/my%20path/file%20name.txt", []))
    v.append(header_vector("get-path-unicode", "GET", "/caf%C3%A9/%E2%82%AC", []))
    v.append(header_vector("get-path-dot-segments", "GET", "/a/./b/../c/..", []))
    v.append(header_vector("get-path-dotdot-above-root", "GET", "/../../x", []))
    v.append(header_vector("get-path-double-slashes", "GET", "//a//b///", []))
    v.append(header_vector("get-path-trailing-slash", "GET", "/v2/repo/tags/", []))
    v.append(header_vector("get-path-reserved-chars", "GET", "/a%3Ab%40c%2Bd%3De%2Ff", []))
    v.append(header_vector("get-path-tilde-and-unreserved", "GET", "/~user/a-b_c.d", []))
    v.append(header_vector("get-query-simple", "GET", "/?Action=ListUsers&Version=2010-05-08", []))
    v.append(header_vector("get-query-unsorted", "GET", "/?zeta=1&alpha=2&Mid=3", []))
    v.append(header_vector("get-query-repeated-keys", "GET", "/?k=b&k=a&k=c&a=1", []))
    v.append(header_vector("get-query-reserved-encoded", "GET",
                           "/?q=a%20b%2Bc%26d%3De&path=%2Fx%2Fy&star=%2A", []))
    v.append(header_vector("get-query-unicode", "GET", "/?name=%C3%A9t%C3%A9&%E2%82%AC=euro", []))
    v.append(header_vector("get-query-key-without-value", "GET", "/?flag&x=1&empty=", []))
    v.append(header_vector("get-query-tilde", "GET", "/?t=~a~", []))
    v.append(header_vector(
        "get-header-extra-whitespace", "GET", "/",
        [("X-Amz-Meta-Spaced", "   a   b \t  c   "), ("X-Custom", "\tvalue\t")]))
    v.append(header_vector(
        "get-header-multiple-values", "GET", "/",
        [("X-Multi", "one"), ("X-Multi", "  two   three "), ("X-Multi", "four")]))
    v.append(header_vector(
        "get-header-mixed-case-names", "GET", "/",
        [("X-CamelCase-Header", "Value"), ("my-header1", "value1")]))
    v.append(header_vector(
        "get-user-agent-not-signed", "GET", "/",
        [("User-Agent", "aws-cli/2.0 botocore/1"), ("X-Amzn-Trace-Id", "Root=1-abc")]))
    v.append(header_vector(
        "put-binary-body", "PUT", "/blob", [("Content-Type", "application/octet-stream")],
        bytes(range(256))))

    v.append(presign_vector("presign-get-root", "GET", "/", [], 900))
    v.append(presign_vector("presign-get-with-query", "GET",
                            "/?Action=GetCallerIdentity&Version=2011-06-15", [], 60,
                            service="sts"))
    v.append(presign_vector("presign-get-path-and-reserved-query", "GET",
                            "/my%20dir/../obj?key=a%20b%2Fc&z=%C3%A9", [], 3600))
    v.append(presign_vector("presign-get-max-expiry", "GET", "/x", [], 604800))
    v.append(presign_vector("presign-get-session-token", "GET", "/", [], 300,
                            token=SESSION_TOKEN))
    v.append(presign_vector("presign-get-extra-signed-header", "GET", "/",
                            [("X-Amz-Meta-Tag", "  t   1 ")], 120))
    return v


def main():
    out = {
        "generator": "botocore " + botocore.__version__,
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
        "signed_at": FROZEN.strftime("%Y%m%dT%H%M%SZ"),
        "vectors": vectors(),
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "botocore_vectors.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(out['vectors'])} vectors to {path}")


if __name__ == "__main__":
    main()
