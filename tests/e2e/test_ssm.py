"""Systems Manager Parameter Store with boto3 against the real binary: String and
SecureString parameters (sealed at rest under the data directory's seal.key), versions,
history and labels, paths, DescribeParameters filters, deletion and AWS's refusals."""

import base64
import os
import stat

import pytest
from botocore.exceptions import ClientError

from conftest import unique


@pytest.fixture(scope="module")
def ssm(server):
    return server.client("ssm")


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_string_and_secure_string(ssm, server):
    base = "/" + unique("e2e")
    put = ssm.put_parameter(Name=f"{base}/url", Value="http://db:5432", Type="String", Description="the db")
    assert put == {"Version": 1, "Tier": "Standard", "ResponseMetadata": put["ResponseMetadata"]}
    got = ssm.get_parameter(Name=f"{base}/url")["Parameter"]
    assert got["Value"] == "http://db:5432"
    assert got["Type"] == "String"
    assert got["ARN"].startswith("arn:aws:ssm:us-east-1:") and got["ARN"].endswith(f":parameter{base}/url")
    assert got["LastModifiedDate"].year >= 2024

    ssm.put_parameter(Name=f"{base}/password", Value="hunter2", Type="SecureString")
    hidden = ssm.get_parameter(Name=f"{base}/password")["Parameter"]
    assert hidden["Type"] == "SecureString"
    assert hidden["Value"] != "hunter2"
    assert base64.b64decode(hidden["Value"])[0] == 1, "the sealed value, in base64"
    shown = ssm.get_parameter(Name=f"{base}/password", WithDecryption=True)["Parameter"]
    assert shown["Value"] == "hunter2"
    by_arn = ssm.get_parameter(Name=shown["ARN"], WithDecryption=True)["Parameter"]
    assert by_arn["Value"] == "hunter2"

    both = ssm.get_parameters(Names=[f"{base}/url", f"{base}/password", f"{base}/nope"], WithDecryption=True)
    assert sorted(p["Value"] for p in both["Parameters"]) == ["http://db:5432", "hunter2"]
    assert both["InvalidParameters"] == [f"{base}/nope"]

    key = server.data_dir / "seal.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert os.path.getsize(key) == 32
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [f"{base}/password"]}])
    assert described["Parameters"][0]["KeyId"] == "alias/aws/ssm"


def test_versions_history_and_labels(ssm):
    name = "/" + unique("v") + "/app"
    ssm.put_parameter(Name=name, Value="one", Type="String")
    assert ssm.put_parameter(Name=name, Value="two", Overwrite=True)["Version"] == 2
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name=name, Value="three", Type="String")
    assert code_of(e) == "ParameterAlreadyExists"

    labelled = ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["stable", "1bad"])
    assert labelled["InvalidLabels"] == ["1bad"]
    assert labelled["ParameterVersion"] == 1
    assert ssm.get_parameter(Name=f"{name}:stable")["Parameter"]["Value"] == "one"
    assert ssm.get_parameter(Name=f"{name}:2")["Parameter"]["Value"] == "two"
    assert ssm.get_parameter(Name=f"{name}:1")["Parameter"]["Selector"] == ":1"

    history = ssm.get_parameter_history(Name=name)["Parameters"]
    assert [(h["Version"], h["Value"], h["Labels"]) for h in history] == [(1, "one", ["stable"]), (2, "two", [])]
    # A label moves to the version it is put on (the latest when none is named).
    ssm.label_parameter_version(Name=name, Labels=["stable"])
    assert ssm.get_parameter(Name=f"{name}:stable")["Parameter"]["Version"] == 2

    with pytest.raises(ClientError) as e:
        ssm.get_parameter(Name=f"{name}:7")
    assert code_of(e) == "ParameterVersionNotFound"
    with pytest.raises(ClientError) as e:
        ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=[f"l{i}" for i in range(11)])
    assert code_of(e) in ("ValidationException", "ParamValidation")


def test_by_path_recursive_with_paging_and_describe_filters(ssm):
    base = "/" + unique("tree")
    names = [f"{base}/a", f"{base}/b", f"{base}/c/d", f"{base}/c/e/f", f"{base}/g"]
    for n in names:
        ssm.put_parameter(Name=n, Value=n, Type="SecureString" if n.endswith("/g") else "String")

    pages = ssm.get_paginator("get_parameters_by_path").paginate(
        Path=base, Recursive=True, WithDecryption=True, PaginationConfig={"PageSize": 2})
    found = []
    page_count = 0
    for page in pages:
        page_count += 1
        assert len(page["Parameters"]) <= 2
        found.extend((p["Name"], p["Value"]) for p in page["Parameters"])
    assert found == [(n, n) for n in names]
    assert page_count == 3

    one_level = ssm.get_parameters_by_path(Path=base)["Parameters"]
    assert [p["Name"] for p in one_level] == [f"{base}/a", f"{base}/b", f"{base}/g"]
    secure = ssm.get_parameters_by_path(Path=base, Recursive=True,
                                        ParameterFilters=[{"Key": "Type", "Values": ["SecureString"]}])
    assert [p["Name"] for p in secure["Parameters"]] == [f"{base}/g"]

    described = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": [f"{base}/c"]}])["Parameters"]
    assert [p["Name"] for p in described] == [f"{base}/c/d", f"{base}/c/e/f"]
    assert described[0]["Version"] == 1 and described[0]["Tier"] == "Standard"
    begins = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "BeginsWith", "Values": [base]},
                          {"Key": "Type", "Values": ["SecureString"]}])["Parameters"]
    assert [p["Name"] for p in begins] == [f"{base}/g"]

    with pytest.raises(ClientError) as e:
        ssm.describe_parameters(ParameterFilters=[{"Key": "Type", "Option": "Recursive", "Values": ["String"]}])
    assert code_of(e) == "InvalidFilterOption"
    with pytest.raises(ClientError) as e:
        ssm.get_parameters_by_path(Path=base, ParameterFilters=[{"Key": "Name", "Values": ["x"]}])
    assert code_of(e) == "InvalidFilterKey"


def test_tags_and_delete(ssm):
    base = "/" + unique("del")
    ssm.put_parameter(Name=f"{base}/x", Value="1", Type="String", Tags=[{"Key": "team", "Value": "red"}])
    ssm.put_parameter(Name=f"{base}/y", Value="2", Type="String")
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=f"{base}/x", Tags=[{"Key": "env", "Value": "dev"}])
    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId=f"{base}/x", TagKeys=["team"])
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=f"{base}/x")["TagList"]
    assert tags == [{"Key": "env", "Value": "dev"}]

    ssm.delete_parameter(Name=f"{base}/x")
    with pytest.raises(ClientError) as e:
        ssm.get_parameter(Name=f"{base}/x")
    assert code_of(e) == "ParameterNotFound"
    with pytest.raises(ClientError) as e:
        ssm.delete_parameter(Name=f"{base}/x")
    assert code_of(e) == "ParameterNotFound"
    out = ssm.delete_parameters(Names=[f"{base}/y", f"{base}/x"])
    assert out["DeletedParameters"] == [f"{base}/y"]
    assert out["InvalidParameters"] == [f"{base}/x"]


@pytest.mark.parametrize("kwargs, code", [
    ({"Name": "no/leading/slash", "Value": "v", "Type": "String"}, "ValidationException"),
    ({"Name": "/aws/reserved", "Value": "v", "Type": "String"}, "ValidationException"),
    ({"Name": "/bad name", "Value": "v", "Type": "String"}, "ValidationException"),
    ({"Name": "/" + "/".join("abcdefghijklmnop"), "Value": "v", "Type": "String"},
     "HierarchyLevelLimitExceededException"),
    ({"Name": "/big", "Value": "x" * 4097, "Type": "String"}, "ValidationException"),
    ({"Name": "/pattern", "Value": "abc", "Type": "String", "AllowedPattern": r"^\d+$"},
     "ParameterPatternMismatchException"),
    ({"Name": "/tagged", "Value": "v", "Type": "String", "Overwrite": True, "Tags": [{"Key": "a", "Value": "b"}]},
     "ValidationException"),
    ({"Name": "/untyped-" + "x", "Value": "v"}, "ValidationException"),
])
def test_bad_input_is_refused(ssm, kwargs, code):
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(**kwargs)
    assert code_of(e) == code


def test_secure_strings_open_after_a_restart(fresh_server):
    srv = fresh_server()
    srv.client("ssm").put_parameter(Name="/restart/pw", Value="s3cret", Type="SecureString")
    key = (srv.data_dir / "seal.key").read_bytes()
    srv.stop()
    srv.start()
    assert (srv.data_dir / "seal.key").read_bytes() == key, "the key is kept, not replaced"
    got = srv.client("ssm").get_parameter(Name="/restart/pw", WithDecryption=True)["Parameter"]
    assert got["Value"] == "s3cret"
