"""The front door: SigV4, error shapes in each protocol (AWS JSON 1.0/1.1, the query
protocol's XML), request ids, limits, health and metrics. Requests are built with
botocore's own signers and sent as raw HTTP, or made by boto3 clients."""

import datetime
import http.client
import json
import urllib.request
import xml.etree.ElementTree as ET

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, ECS_TARGET, REGION, SECRET_KEY, cluster_arn, error_of, send, unique


def header(headers, name):
    return {k.lower(): v for k, v in headers.items()}.get(name.lower())


def test_signed_request_succeeds_with_request_id(server):
    status, headers, body = server.raw("ListClusters", {})
    assert status == 200
    assert cluster_arn("default") in json.loads(body)["clusterArns"]
    assert header(headers, "x-amzn-RequestId")


def test_boto3_sees_request_id_on_success_and_error(ecs):
    ok = ecs.list_clusters()
    assert ok["ResponseMetadata"]["RequestId"]
    with pytest.raises(ClientError) as e:
        ecs.delete_cluster(cluster=unique("missing"))
    assert e.value.response["Error"]["Code"] == "ClusterNotFoundException"
    assert e.value.response["ResponseMetadata"]["RequestId"]
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_error_shape(server):
    status, headers, body = server.raw("DeleteCluster", {"cluster": unique("missing")})
    assert status == 400
    doc = json.loads(body)
    assert doc["__type"] == "ClusterNotFoundException"
    assert isinstance(doc["message"], str) and doc["message"]
    assert header(headers, "x-amzn-RequestId")
    assert "json" in header(headers, "Content-Type")


def test_request_ids_are_unique(server):
    ids = {header(server.raw("ListClusters", {})[1], "x-amzn-RequestId") for _ in range(5)}
    assert len(ids) == 5


def test_unsigned_request_refused(server):
    status, headers, body = server.raw("ListClusters", {}, sign=False)
    assert status in (400, 403)
    assert error_of(body)[0] == "MissingAuthenticationTokenException"
    assert header(headers, "x-amzn-RequestId")


def test_wrong_secret_refused(server):
    ecs = server.client(secret_key="wrong-secret-key-0000000000000000000000")
    with pytest.raises(ClientError) as e:
        ecs.list_clusters()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    status, headers, body = server.raw("ListClusters", {}, secret_key="wrong")
    assert status == 400
    assert error_of(body)[0] == "InvalidSignatureException"
    assert header(headers, "x-amzn-RequestId")


def test_unknown_access_key_refused(server):
    ecs = server.client(access_key="AKIANOTAKNOWNKEY0000")
    with pytest.raises(ClientError) as e:
        ecs.list_clusters()
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_tampered_body_refused(server):
    req = botocore.awsrequest.AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=b'{"clusterName": "signed"}',
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"{ECS_TARGET}.CreateCluster"},
    )
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(ACCESS_KEY, SECRET_KEY), "ecs", REGION).add_auth(req)
    prepared = req.prepare()
    prepared.body = b'{"clusterName": "evil1"}'
    prepared.headers["Content-Length"] = str(len(prepared.body))
    status, _, body = send(prepared)
    assert status == 400
    assert error_of(body)[0] in ("InvalidSignatureException", "XAmzContentSHA256Mismatch")
    d = json.loads(server.raw("DescribeClusters", {"clusters": ["evil1"]})[2])
    assert d["clusters"] == []


def test_wrong_region_refused(server):
    req = botocore.awsrequest.AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=b"{}",
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"{ECS_TARGET}.ListClusters"},
    )
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(ACCESS_KEY, SECRET_KEY), "ecs", "eu-west-1").add_auth(req)
    status, _, body = send(req.prepare())
    assert status == 400
    assert error_of(body)[0] == "InvalidSignatureException"


@pytest.fixture
def clock(monkeypatch):
    """Shifts botocore's signing clock by the given timedelta."""

    def shift(delta):
        real = botocore.auth.get_current_datetime

        def shifted(*args, **kwargs):
            return real(*args, **kwargs) + delta

        monkeypatch.setattr(botocore.auth, "get_current_datetime", shifted)

    return shift


def test_request_signed_10_minutes_ago_is_expired(server, clock):
    clock(-datetime.timedelta(minutes=10))
    status, headers, body = server.raw("ListClusters", {})
    assert status == 400
    code, message = error_of(body)
    assert code == "InvalidSignatureException"
    assert "Signature expired" in message
    assert header(headers, "x-amzn-RequestId")


def test_request_signed_10_minutes_ahead_is_refused(server, clock):
    clock(datetime.timedelta(minutes=10))
    status, _, body = server.raw("ListClusters", {})
    assert status == 400
    code, message = error_of(body)
    assert code == "InvalidSignatureException"
    assert "not yet current" in message


def test_request_signed_2_minutes_ago_is_within_skew(server, clock):
    clock(-datetime.timedelta(minutes=2))
    status, _, body = server.raw("ListClusters", {})
    assert status == 200, body


class JsonQueryAuth(botocore.auth.SigV4QueryAuth):
    """botocore's query-string signer, made for query-protocol services, moves a
    request body into the query string. For a JSON-protocol POST the body stays the
    body; the signature covers its SHA-256 (or UNSIGNED-PAYLOAD when asked)."""

    def __init__(self, *args, unsigned_payload=False, **kwargs):
        super().__init__(*args, **kwargs)
        self._unsigned_payload = unsigned_payload

    def _modify_request_before_signing(self, request):
        data, request.data = request.data, b""
        super()._modify_request_before_signing(request)
        request.data = data

    def payload(self, request):
        return "UNSIGNED-PAYLOAD" if self._unsigned_payload else super().payload(request)


def presigned(server, operation, body, expires=300, unsigned_payload=False):
    req = botocore.awsrequest.AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"{ECS_TARGET}.{operation}"},
    )
    creds = botocore.credentials.Credentials(ACCESS_KEY, SECRET_KEY)
    JsonQueryAuth(creds, "ecs", REGION, expires=expires, unsigned_payload=unsigned_payload).add_auth(req)
    prepared = req.prepare()
    assert "X-Amz-Signature=" in prepared.url and "Authorization" not in prepared.headers
    return prepared


def test_presigned_url_accepted(server):
    name = unique("presigned")
    status, _, body = send(presigned(server, "CreateCluster", {"clusterName": name}))
    assert status == 200, body
    assert json.loads(body)["cluster"]["clusterArn"] == cluster_arn(name)


def test_a_body_not_covered_by_the_signature_is_refused(server):
    """Signed over UNSIGNED-PAYLOAD, a JSON body could be swapped in transit: AWS's
    JSON services, and Flotilla, refuse it."""
    name = unique("unsigned")
    status, _, body = send(presigned(server, "CreateCluster", {"clusterName": name}, unsigned_payload=True))
    assert status == 400, body
    assert error_of(body)[0] == "IncompleteSignatureException"
    assert name not in [a.split("/")[-1] for a in server.client().list_clusters()["clusterArns"]]


def test_presigned_url_with_wrong_body_hash_refused(server):
    prepared = presigned(server, "CreateCluster", {"clusterName": "signed-name"})
    prepared.body = json.dumps({"clusterName": "other-name"}).encode()
    prepared.headers["Content-Length"] = str(len(prepared.body))
    status, _, body = send(prepared)
    assert status == 400
    assert error_of(body)[0] == "InvalidSignatureException"


def test_presigned_url_expired_refused(server, clock, monkeypatch):
    clock(-datetime.timedelta(minutes=10))
    name = unique("expired")
    status, headers, body = send(presigned(server, "CreateCluster", {"clusterName": name}, expires=60))
    assert status in (400, 403)
    code, _ = error_of(body)
    assert code in ("RequestExpired", "InvalidSignatureException", "AccessDeniedException")
    assert header(headers, "x-amzn-RequestId")
    monkeypatch.undo()  # sign the check with the real clock
    d = json.loads(server.raw("DescribeClusters", {"clusters": [name]})[2])
    assert d["clusters"] == []


@pytest.mark.parametrize("payload", [b"{not json", b"[1, 2", b'{"clusterName": 5}'])
def test_malformed_body_is_serialization_exception(server, payload):
    status, headers, body = server.raw("CreateCluster", payload)
    assert status == 400
    assert error_of(body)[0] == "SerializationException"
    assert header(headers, "x-amzn-RequestId")


def test_unknown_target_is_unknown_operation(server):
    for target in (f"{ECS_TARGET}.FlyToTheMoon", "NoSuchService_20990101.ListClusters", ECS_TARGET):
        status, headers, body = server.raw(body={}, target=target)
        assert status == 400, target
        assert error_of(body)[0] == "UnknownOperationException", target
        assert header(headers, "x-amzn-RequestId")


def test_missing_target_refused(server):
    status, _, body = server.raw(body={}, target=None)
    assert status == 400
    assert error_of(body)[0] == "UnknownOperationException"


def test_body_over_4_mib_is_413(server):
    big = json.dumps({"clusterName": "big", "tags": [{"key": "k", "value": "x" * (4 * 1024 * 1024)}]}).encode()
    assert len(big) > 4 * 1024 * 1024
    req = botocore.awsrequest.AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=big,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"{ECS_TARGET}.CreateCluster"},
    )
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(ACCESS_KEY, SECRET_KEY), "ecs", REGION).add_auth(req)
    prepared = req.prepare()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.putrequest("POST", "/", skip_accept_encoding=True)
        for k, v in prepared.headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        try:
            conn.send(big)
        except (BrokenPipeError, ConnectionResetError):
            pass  # The server may answer and close before reading the whole body.
        resp = conn.getresponse()
        status, headers, body = resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()
    assert status == 413
    assert error_of(body)[0] == "RequestEntityTooLargeException"
    assert header(headers, "x-amzn-RequestId")
    # The server still answers afterwards.
    assert server.raw("ListClusters", {})[0] == 200


def test_body_just_under_limit_is_read(server):
    # A 3 MiB body is read and verified (then refused by ECS's own rules, not by size).
    payload = json.dumps({"clusterName": "x" * (3 * 1024 * 1024)}).encode()
    status, _, body = server.raw("CreateCluster", payload)
    assert status == 400
    assert error_of(body)[0] == "InvalidParameterException"


def test_healthz(server):
    with urllib.request.urlopen(server.endpoint + "/healthz", timeout=30) as r:
        assert r.status == 200
        assert r.read().decode().strip() == "ok"


def test_metrics_count_requests(server):
    server.raw("ListClusters", {})
    server.raw("ListClusters", {}, sign=False)
    with urllib.request.urlopen(server.endpoint + "/metrics", timeout=30) as r:
        assert r.status == 200
        assert r.headers.get_content_type() in ("text/plain", "application/openmetrics-text")
        text = r.read().decode()
    assert "# TYPE flotilla_api_requests_total counter" in text
    lines = [l for l in text.splitlines() if l.startswith("flotilla_api_requests_total{")]
    ok = [l for l in lines if 'operation="ListClusters"' in l and 'status="200"' in l]
    assert ok and float(ok[0].rsplit(" ", 1)[1]) >= 1
    assert any('status="400"' in l for l in lines)
    assert "flotilla_uptime_seconds" in text
    assert "# TYPE flotilla_api_request_duration_seconds histogram" in text
    assert 'flotilla_api_request_duration_seconds_bucket{operation="ListClusters",le="+Inf"}' in text
    for gauge in ('flotilla_ecs_tasks{status="RUNNING"}', "flotilla_ecs_connected_agents",
                  'flotilla_ecs_placements_total{result="placed"}', "flotilla_ecs_placement_duration_seconds_count",
                  'flotilla_registry_bytes_total{direction="pull"}'):
        assert gauge in text, gauge


def test_request_id_on_health_and_metrics(server):
    for path in ("/healthz", "/metrics"):
        with urllib.request.urlopen(server.endpoint + path, timeout=30) as r:
            assert r.headers.get("x-amzn-RequestId"), path


def test_operation_names_are_case_sensitive(server):
    status, _, body = server.raw("listclusters", {})
    assert status == 400
    assert error_of(body)[0] == "UnknownOperationException"


def test_credential_scoped_to_other_service_refused(server):
    req = botocore.awsrequest.AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=b"{}",
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"{ECS_TARGET}.ListClusters"},
    )
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(ACCESS_KEY, SECRET_KEY), "dynamodb", REGION).add_auth(req)
    status, _, body = send(req.prepare())
    assert status == 400
    assert error_of(body)[0] == "InvalidSignatureException"


def test_json_1_0_is_answered_in_json_1_0(server):
    status, headers, body = server.raw("ListClusters", {}, headers={"Content-Type": "application/x-amz-json-1.0"})
    assert status == 200
    assert header(headers, "Content-Type") == "application/x-amz-json-1.0"
    assert cluster_arn("default") in json.loads(body)["clusterArns"]


# A query-protocol service not served, and served ones' refusals: calls reach the
# front door, are verified, and come back as XML errors in AWS's query shape that
# botocore's QueryParser reads.
QUERY_CALLS = [
    ("rds", lambda c: c.describe_db_instances(), "InvalidAction"),
    ("sts", lambda c: c.assume_role(RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="no spaces"),
     "ValidationError"),
    ("iam", lambda c: c.create_user(UserName="no spaces"), "ValidationError"),
    ("elbv2", lambda c: c.describe_load_balancers(Names=["no-such-load-balancer"]), "LoadBalancerNotFound"),
]


@pytest.mark.parametrize("service, call, code", QUERY_CALLS, ids=[s for s, _, _ in QUERY_CALLS])
def test_query_protocol_call_gets_an_xml_error_boto3_parses(server, service, call, code):
    with pytest.raises(ClientError) as e:
        call(server.client(service))
    response = e.value.response
    assert response["Error"]["Code"] == code
    assert response["Error"]["Type"] == "Sender"
    assert response["Error"]["Message"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["ResponseMetadata"]["RequestId"]


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"secret_key": "wrong-secret-key-0000000000000000000000"}, "SignatureDoesNotMatch"),
        ({"access_key": "AKIANOTAKNOWNKEY0000"}, "InvalidClientTokenId"),
    ],
)
def test_query_protocol_auth_refusals_are_query_errors(server, kwargs, code):
    with pytest.raises(ClientError) as e:
        server.client("sts", **kwargs).get_caller_identity()
    assert e.value.response["Error"]["Code"] == code
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unsigned_form_request_is_refused_in_xml(server):
    status, headers, body = server.raw(
        body=b"Action=GetCallerIdentity&Version=2011-06-15",
        sign=False,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    assert status == 403
    assert header(headers, "Content-Type") == "text/xml"
    root = ET.fromstring(body)
    assert root.tag == "ErrorResponse"
    assert root.findtext("Error/Type") == "Sender"
    assert root.findtext("Error/Code") == "MissingAuthenticationToken"
    assert root.findtext("RequestId") == header(headers, "x-amzn-RequestId")
