"""Amazon SQS with boto3 and the aws CLI against the real binary: send, receive and
delete; long polls woken by a send; visibility timeouts; redrive to a dead-letter
queue; FIFO order and deduplication; batches with per-entry failures; message
attribute digests computed here as AWS documents them; AWS's error codes; `kill -9`
right after SendMessage loses nothing; AWS/SQS metrics reach CloudWatch.

botocore (1.44) no longer checks MD5OfMessageBody / MD5OfMessageAttributes itself
(other SDKs, the Java and Go ones, do), so these tests compute the digests
independently and compare.
"""

import base64
import hashlib
import json
import struct
import threading
import time

import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, ACCOUNT, REGION, SECRET_KEY, unique, wait_for

# Bounds for a busy two-core machine; never the behaviour under test.
PROMPT = 5.0


@pytest.fixture(scope="module")
def sqs(server):
    return server.client("sqs")


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


def body_md5(body):
    return hashlib.md5(body.encode()).hexdigest()


def attributes_md5(attributes):
    """MD5OfMessageAttributes as AWS documents it: by name; each name, data type and
    value length-prefixed (4 bytes, big-endian), with a transport byte (1 string or
    number, 2 binary) before the value."""
    out = b""
    for name in sorted(attributes):
        value = attributes[name]
        data_type = value["DataType"]
        out += struct.pack(">I", len(name.encode())) + name.encode()
        out += struct.pack(">I", len(data_type.encode())) + data_type.encode()
        if data_type.startswith("Binary"):
            raw = value["BinaryValue"]
            out += b"\x02" + struct.pack(">I", len(raw)) + raw
        else:
            raw = value["StringValue"].encode()
            out += b"\x01" + struct.pack(">I", len(raw)) + raw
    return hashlib.md5(out).hexdigest()


def make_queue(sqs, prefix="q", fifo=False, **attributes):
    name = unique(prefix) + (".fifo" if fifo else "")
    attrs = {k: str(v) for k, v in attributes.items()}
    if fifo:
        attrs["FifoQueue"] = "true"
    return sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]


def receive(sqs, url, **kwargs):
    kwargs.setdefault("MessageSystemAttributeNames", ["All"])
    kwargs.setdefault("MessageAttributeNames", ["All"])
    return sqs.receive_message(QueueUrl=url, **kwargs).get("Messages", [])


def attribute(sqs, url, name):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[name])["Attributes"][name]


def test_send_receive_and_delete(sqs, server):
    name = unique("basic")
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40"})["QueueUrl"]
    assert url == f"{server.endpoint}/{ACCOUNT}/{name}"
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    assert url in sqs.list_queues(QueueNamePrefix=name)["QueueUrls"]
    assert sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40"})["QueueUrl"] == url

    body = "héllo 😀 <&>"
    sent = sqs.send_message(QueueUrl=url, MessageBody=body)
    assert sent["MD5OfMessageBody"] == body_md5(body)
    assert attribute(sqs, url, "ApproximateNumberOfMessages") == "1"

    (m,) = receive(sqs, url)
    assert m["Body"] == body and m["MessageId"] == sent["MessageId"]
    assert m["MD5OfBody"] == body_md5(body)
    assert m["Attributes"]["ApproximateReceiveCount"] == "1"
    assert abs(int(m["Attributes"]["SentTimestamp"]) / 1000 - time.time()) < 300
    assert m["Attributes"]["SenderId"] == ACCOUNT
    assert attribute(sqs, url, "ApproximateNumberOfMessagesNotVisible") == "1"
    assert receive(sqs, url) == [], "in flight for 40 s"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert attrs["QueueArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    assert attrs["VisibilityTimeout"] == "40"

    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=name)


def test_message_attribute_digests_are_awss(sqs):
    url = make_queue(sqs, "digests")
    attributes = {
        "timestamp": {"DataType": "Number", "StringValue": "1493147359900"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\x02\xff"},
        "colour.custom": {"DataType": "String.custom", "StringValue": "bl\u00fc"},
        "other_encodings": {"DataType": "String", "StringValue": "T\u00fcst \U0001F600"},
    }
    sent = sqs.send_message(QueueUrl=url, MessageBody="derp", MessageAttributes=attributes,
                            MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String",
                                                                        "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793"}})
    assert sent["MD5OfMessageBody"] == "58fd9edd83341c29f1aebba81c31e257"
    assert sent["MD5OfMessageAttributes"] == attributes_md5(attributes)
    assert sent["MD5OfMessageSystemAttributes"] == attributes_md5(
        {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793"}})
    # The vector other implementations pin as AWS's.
    one = {"timestamp": {"DataType": "Number", "StringValue": "1493147359900"}}
    assert attributes_md5(one) == "235c5c510d26fb653d073faed50ae77c"

    (m,) = receive(sqs, url, VisibilityTimeout=0)
    assert m["MessageAttributes"] == attributes
    assert m["MD5OfMessageAttributes"] == attributes_md5(attributes)
    assert m["Attributes"]["AWSTraceHeader"].startswith("Root=1-")
    (m,) = receive(sqs, url, MessageAttributeNames=["timestamp"])
    assert m["MessageAttributes"] == one
    assert m["MD5OfMessageAttributes"] == "235c5c510d26fb653d073faed50ae77c"


def test_long_poll_returns_as_soon_as_a_message_arrives(sqs):
    url = make_queue(sqs, "poll")
    started = time.monotonic()
    assert receive(sqs, url, WaitTimeSeconds=2) == []
    waited = time.monotonic() - started
    assert 1.9 <= waited < 2 + PROMPT, waited

    result = {}

    def poll():
        t0 = time.monotonic()
        result["messages"] = receive(sqs, url, WaitTimeSeconds=20)
        result["returned"] = time.monotonic()
        result["waited"] = result["returned"] - t0

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(1.0)
    sent_at = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody="wake up")
    poller.join(timeout=25)
    assert not poller.is_alive()
    assert [m["Body"] for m in result["messages"]] == ["wake up"]
    assert result["returned"] - sent_at < PROMPT, f"woken {result['returned'] - sent_at:.2f}s after the send"
    assert result["waited"] >= 0.9


def test_visibility_timeout_brings_an_undeleted_message_back(sqs):
    url = make_queue(sqs, "vis")
    sqs.send_message(QueueUrl=url, MessageBody="retry me")
    (first,) = receive(sqs, url, VisibilityTimeout=1)
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    assert receive(sqs, url) == []
    (second,) = receive(sqs, url, WaitTimeSeconds=10)
    assert second["MessageId"] == first["MessageId"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    # Extended, then made visible at once.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=600)
    assert receive(sqs, url) == []
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=0)
    (third,) = receive(sqs, url)
    assert third["Attributes"]["ApproximateReceiveCount"] == "3"
    with pytest.raises(ClientError) as e:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=5)
    assert code_of(e) == "ReceiptHandleIsInvalid"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"])


def test_redrive_moves_a_message_to_the_dead_letter_queue(sqs):
    dlq = make_queue(sqs, "dlq")
    dlq_arn = attribute(sqs, dlq, "QueueArn")
    src = make_queue(sqs, "src", RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}))
    assert json.loads(attribute(sqs, src, "RedrivePolicy")) == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}
    sent = sqs.send_message(QueueUrl=src, MessageBody="poison")
    for n in (1, 2):
        (m,) = receive(sqs, src, VisibilityTimeout=0)
        assert m["Attributes"]["ApproximateReceiveCount"] == str(n)
    assert receive(sqs, src) == [], "received more than maxReceiveCount times: moved"
    (moved,) = receive(sqs, dlq, WaitTimeSeconds=5)
    assert moved["MessageId"] == sent["MessageId"] and moved["Body"] == "poison"
    assert moved["Attributes"]["DeadLetterQueueSourceArn"] == attribute(sqs, src, "QueueArn")
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq_arn + "-absent", "maxReceiveCount": 2})})
    assert code_of(e) == "InvalidParameterValue"


def test_fifo_keeps_order_within_a_group_and_deduplicates(sqs):
    url = make_queue(sqs, "jobs", fifo=True)
    sequence = []
    for i, group in enumerate("abaab"):
        sent = sqs.send_message(QueueUrl=url, MessageBody=f"{group}{i}", MessageGroupId=group,
                                MessageDeduplicationId=f"d{i}")
        sequence.append(int(sent["SequenceNumber"]))
    assert sequence == sorted(sequence) and len(set(sequence)) == 5
    dup = sqs.send_message(QueueUrl=url, MessageBody="again", MessageGroupId="a", MessageDeduplicationId="d0")
    assert int(dup["SequenceNumber"]) == sequence[0], "a duplicate is answered as the first"
    assert attribute(sqs, url, "ApproximateNumberOfMessages") == "5"

    got = receive(sqs, url, MaxNumberOfMessages=10)
    by_group = {}
    for m in got:
        by_group.setdefault(m["Attributes"]["MessageGroupId"], []).append(m["Body"])
    assert by_group == {"a": ["a0", "a2", "a3"], "b": ["b1", "b4"]}
    assert receive(sqs, url, MaxNumberOfMessages=10) == []
    # Return a's messages: they come back in order, before nothing else of a.
    for m in got:
        if m["Attributes"]["MessageGroupId"] == "a":
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    again = receive(sqs, url, MaxNumberOfMessages=10)
    assert [m["Body"] for m in again] == ["a0", "a2", "a3"]

    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="a")
    assert code_of(e) == "InvalidParameterValue"
    cbd = make_queue(sqs, "cbd", fifo=True, ContentBasedDeduplication="true")
    first = sqs.send_message(QueueUrl=cbd, MessageBody="same", MessageGroupId="g")
    second = sqs.send_message(QueueUrl=cbd, MessageBody="same", MessageGroupId="g")
    assert first["MessageId"] == second["MessageId"]
    assert attribute(sqs, cbd, "ApproximateNumberOfMessages") == "1"


def test_batches_report_per_entry_failures(sqs):
    url = make_queue(sqs, "batch")
    out = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "ok1", "MessageBody": "one"},
        {"Id": "bad", "MessageBody": "nul \u0000 here"},
        {"Id": "ok2", "MessageBody": "two", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "7"}}},
    ])
    assert sorted(e["Id"] for e in out["Successful"]) == ["ok1", "ok2"]
    ok2 = next(e for e in out["Successful"] if e["Id"] == "ok2")
    assert ok2["MD5OfMessageBody"] == body_md5("two")
    assert ok2["MD5OfMessageAttributes"] == attributes_md5({"n": {"DataType": "Number", "StringValue": "7"}})
    assert out["Failed"] == [{"Id": "bad", "SenderFault": True, "Code": "InvalidMessageContents",
                              "Message": out["Failed"][0]["Message"]}]

    for entries, code in [
        ([{"Id": f"e{i}", "MessageBody": "x"} for i in range(11)],
         "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"),
        ([{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}],
         "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
        ([{"Id": "no spaces", "MessageBody": "x"}], "AWS.SimpleQueueService.InvalidBatchEntryId"),
        ([{"Id": f"b{i}", "MessageBody": "x" * 100_000} for i in range(3)], "AWS.SimpleQueueService.BatchRequestTooLong"),
        ([], "AWS.SimpleQueueService.EmptyBatchRequest"),
    ]:
        with pytest.raises(ClientError) as e:
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert code_of(e) == code
    assert attribute(sqs, url, "ApproximateNumberOfMessages") == "2", "refused batches stored nothing"

    got = receive(sqs, url, MaxNumberOfMessages=10, VisibilityTimeout=60)
    assert len(got) == 2
    changed = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        *({"Id": f"c{i}", "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 120} for i, m in enumerate(got)),
        {"Id": "junk", "ReceiptHandle": "not-a-handle", "VisibilityTimeout": 5},
    ])
    assert len(changed["Successful"]) == 2 and changed["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
        *({"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)),
        {"Id": "junk", "ReceiptHandle": "not-a-handle"},
    ])
    assert sorted(e["Id"] for e in deleted["Successful"]) == ["d0", "d1"]
    assert [f["Id"] for f in deleted["Failed"]] == ["junk"]
    assert attribute(sqs, url, "ApproximateNumberOfMessagesNotVisible") == "0"


def test_errors_are_awss(sqs, server):
    missing = f"{server.endpoint}/{ACCOUNT}/{unique('absent')}"
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as e:
        sqs.send_message(QueueUrl=missing, MessageBody="x")
    assert code_of(e) == "AWS.SimpleQueueService.NonExistentQueue"
    assert e.value.response["Error"]["QueryErrorCode"] == "QueueDoesNotExist"

    url = make_queue(sqs, "errs", VisibilityTimeout=30)
    name = url.rsplit("/", 1)[1]
    with pytest.raises(sqs.exceptions.QueueNameExists) as e:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "31"})
    assert code_of(e) == "QueueAlreadyExists"
    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["NoSuchAttribute"])
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "43201", "DelaySeconds": "3"})
    assert code_of(e) == "InvalidAttributeValue"
    assert attribute(sqs, url, "DelaySeconds") == "0", "a refused change changes nothing"
    with pytest.raises(ClientError) as e:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    assert code_of(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 262_145)
    assert code_of(e) == "InvalidParameterValue"
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    sqs.purge_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress) as e:
        sqs.purge_queue(QueueUrl=url)
    assert code_of(e) == "AWS.SimpleQueueService.PurgeQueueInProgress"


def test_concurrent_receivers_get_each_message_once(sqs, server):
    url = make_queue(sqs, "crowd")
    for start in range(0, 100, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": f"m{i}"} for i in range(start, start + 10)])
    seen, lock = [], threading.Lock()

    def worker():
        client = server.client("sqs")
        while True:
            got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=3, VisibilityTimeout=120,
                                         WaitTimeSeconds=1).get("Messages", [])
            if not got:
                return
            with lock:
                seen.extend(m["Body"] for m in got)

    workers = [threading.Thread(target=worker) for _ in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert sorted(seen) == sorted(f"m{i}" for i in range(100))


def test_aws_cli_drives_a_queue(server, aws_cli):
    base = ["--endpoint-url", server.endpoint, "--region", REGION, "--output", "json"]
    env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    name = unique("cli")
    url = aws_cli([*base, "sqs", "create-queue", "--queue-name", name, "--attributes", "DelaySeconds=0"],
                  extra_env=env).json["QueueUrl"]
    sent = aws_cli([*base, "sqs", "send-message", "--queue-url", url, "--message-body", "from the cli",
                    "--message-attributes", '{"k": {"DataType": "String", "StringValue": "v"}}'], extra_env=env).json
    assert sent["MD5OfMessageBody"] == body_md5("from the cli")
    assert sent["MD5OfMessageAttributes"] == attributes_md5({"k": {"DataType": "String", "StringValue": "v"}})
    got = aws_cli([*base, "sqs", "receive-message", "--queue-url", url, "--attribute-names", "All",
                   "--message-attribute-names", "All", "--wait-time-seconds", "2"], extra_env=env).json
    (m,) = got["Messages"]
    assert m["Body"] == "from the cli" and m["MessageAttributes"]["k"]["StringValue"] == "v"
    aws_cli([*base, "sqs", "delete-message", "--queue-url", url, "--receipt-handle", m["ReceiptHandle"]],
            extra_env=env)
    attrs = aws_cli([*base, "sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All"],
                    extra_env=env).json["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert url in aws_cli([*base, "sqs", "list-queues", "--queue-name-prefix", name], extra_env=env).json["QueueUrls"]
    aws_cli([*base, "sqs", "delete-queue", "--queue-url", url], extra_env=env)
    p = aws_cli([*base, "sqs", "get-queue-url", "--queue-name", name], check=False, extra_env=env)
    assert p.returncode != 0
    assert "AWS.SimpleQueueService.NonExistentQueue" in p.stderr, p.stderr


def test_an_acknowledged_send_survives_kill_9(fresh_server):
    srv = fresh_server()
    sqs = srv.client("sqs")
    url = make_queue(sqs, "durable")
    fifo = make_queue(sqs, "durable", fifo=True)
    sent = {sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")["MessageId"] for i in range(20)}
    out = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"b{i}"} for i in range(10)])
    sent |= {e["MessageId"] for e in out["Successful"]}
    last = sqs.send_message(QueueUrl=fifo, MessageBody="f", MessageGroupId="g", MessageDeduplicationId="once")
    # Killed right after the last answer: no clean shutdown, no flush.
    srv.kill9()
    srv.start()
    sqs = srv.client("sqs")
    got = set()
    for _ in range(50):
        batch = receive(sqs, url, MaxNumberOfMessages=10, VisibilityTimeout=300)
        if not batch:
            break
        got |= {m["MessageId"] for m in batch}
    assert got == sent
    # The FIFO queue's deduplication and sequence numbers carry on.
    dup = sqs.send_message(QueueUrl=fifo, MessageBody="f", MessageGroupId="g", MessageDeduplicationId="once")
    assert dup["MessageId"] == last["MessageId"]
    nxt = sqs.send_message(QueueUrl=fifo, MessageBody="f2", MessageGroupId="g", MessageDeduplicationId="twice")
    assert int(nxt["SequenceNumber"]) > int(last["SequenceNumber"])


def test_queue_metrics_reach_cloudwatch(fresh_server):
    srv = fresh_server()
    sqs = srv.client("sqs")
    url = make_queue(sqs, "measured")
    name = url.rsplit("/", 1)[1]
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    # The metrics controller publishes when it starts, then every minute.
    srv.restart()
    cw = srv.client("cloudwatch")

    def visible():
        end = time.time() + 120
        points = cw.get_metric_statistics(
            Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
            Dimensions=[{"Name": "QueueName", "Value": name}], StartTime=end - 900, EndTime=end,
            Period=60, Statistics=["Maximum"])["Datapoints"]
        return [p["Maximum"] for p in points]

    assert max(wait_for("AWS/SQS metrics", visible, timeout=60)) == 3.0
    sent = cw.get_metric_statistics(
        Namespace="AWS/SQS", MetricName="NumberOfMessagesSent", Dimensions=[{"Name": "QueueName", "Value": name}],
        StartTime=time.time() - 900, EndTime=time.time() + 120, Period=60, Statistics=["Sum"])["Datapoints"]
    assert sum(p["Sum"] for p in sent) == 3.0
    listed = cw.list_metrics(Namespace="AWS/SQS", Dimensions=[{"Name": "QueueName", "Value": name}])["Metrics"]
    assert {m["MetricName"] for m in listed} >= {
        "ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed", "ApproximateAgeOfOldestMessage", "NumberOfMessagesSent",
        "NumberOfMessagesReceived", "NumberOfMessagesDeleted", "NumberOfEmptyReceives"}
