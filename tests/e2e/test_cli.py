"""`flotilla up` and the `aws` CLI: the written profile, other profiles kept, clean
shutdown on SIGTERM, and credentials that persist."""

import configparser
import json

from conftest import ACCESS_KEY, SECRET_KEY, cluster_arn, td_arn


def profile_env(aws_cli):
    return {"AWS_CONFIG_FILE": str(aws_cli.config), "AWS_SHARED_CREDENTIALS_FILE": str(aws_cli.credentials)}


def read_ini(path):
    p = configparser.ConfigParser(interpolation=None)
    p.read(path)
    return p


def seed_other_profiles(aws_cli):
    aws_cli.config.parent.mkdir(parents=True, exist_ok=True)
    aws_cli.config.write_text(
        "[default]\nregion = eu-west-1\noutput = text\n\n[profile work]\nregion = ap-south-1\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = default\n"
    )
    aws_cli.credentials.write_text(
        "[default]\naws_access_key_id = AKIADEFAULTPROFILE01\naws_secret_access_key = defaultsecret\n"
    )


def test_up_writes_profile_and_aws_cli_works(fresh_server, aws_cli):
    seed_other_profiles(aws_cli)
    srv = fresh_server(aws_profile=True, extra_env=profile_env(aws_cli))

    config = read_ini(aws_cli.config)
    assert config["profile flotilla"]["endpoint_url"] == srv.endpoint
    assert config["profile flotilla"]["region"] == "us-east-1"
    creds = read_ini(aws_cli.credentials)
    assert creds["flotilla"]["aws_access_key_id"]
    assert creds["flotilla"]["aws_secret_access_key"]
    # Other profiles are kept as they were.
    assert config["default"]["region"] == "eu-west-1"
    assert config["default"]["output"] == "text"
    assert config["profile work"]["role_arn"] == "arn:aws:iam::123456789012:role/x"
    assert creds["default"]["aws_access_key_id"] == "AKIADEFAULTPROFILE01"
    assert creds["default"]["aws_secret_access_key"] == "defaultsecret"

    out = aws_cli(["--profile", "flotilla", "ecs", "create-cluster", "--cluster-name", "demo"]).json
    assert out["cluster"]["clusterArn"] == cluster_arn("demo")
    assert out["cluster"]["status"] == "ACTIVE"
    listed = aws_cli(["--profile", "flotilla", "ecs", "list-clusters"]).json
    assert sorted(listed["clusterArns"]) == sorted([cluster_arn("default"), cluster_arn("demo")])

    # The CLI's own paginated calls and errors work too.
    p = aws_cli(["--profile", "flotilla", "ecs", "describe-task-definition", "--task-definition", "nope"], check=False)
    assert p.returncode != 0
    assert "ClientException" in p.stderr


def test_cli_register_and_describe_task_definition(fresh_server, aws_cli, tmp_path):
    fresh_server(aws_profile=True, extra_env=profile_env(aws_cli))
    doc = {
        "family": "web",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "512",
        "memory": "1 GB",
        "containerDefinitions": [
            {
                "name": "web",
                "image": "nginx",
                "portMappings": [{"containerPort": 80}],
                "environment": [{"name": "A", "value": "1"}],
            }
        ],
    }
    path = tmp_path / "td.json"
    path.write_text(json.dumps(doc))
    out = aws_cli(["--profile", "flotilla", "ecs", "register-task-definition", "--cli-input-json", f"file://{path}"]).json
    td = out["taskDefinition"]
    assert td["taskDefinitionArn"] == td_arn("web", 1)
    assert (td["cpu"], td["memory"]) == ("512", "1024")
    described = aws_cli(["--profile", "flotilla", "ecs", "describe-task-definition", "--task-definition", "web:1"]).json
    assert described["taskDefinition"]["containerDefinitions"][0]["environment"] == [{"name": "A", "value": "1"}]
    families = aws_cli(["--profile", "flotilla", "ecs", "list-task-definition-families"]).json
    assert families["families"] == ["web"]


def test_sigterm_stops_cleanly_and_restart_keeps_state(fresh_server, aws_cli):
    srv = fresh_server(aws_profile=True, extra_env=profile_env(aws_cli))
    aws_cli(["--profile", "flotilla", "ecs", "create-cluster", "--cluster-name", "kept"])
    assert srv.terminate() == 0
    srv.start()
    listed = aws_cli(["--profile", "flotilla", "ecs", "list-clusters"]).json
    assert sorted(listed["clusterArns"]) == sorted([cluster_arn("default"), cluster_arn("kept")])
    # Restarting rewrites the profile in place, not a second copy of it.
    text = aws_cli.config.read_text()
    assert text.count("[profile flotilla]") == 1
    assert aws_cli.credentials.read_text().count("[flotilla]") == 1


def test_generated_credentials_persist_across_restarts(fresh_server, aws_cli):
    srv = fresh_server(aws_profile=True, credentials=False, extra_env=profile_env(aws_cli))
    saved = json.loads((srv.data_dir / "root-credentials.json").read_text())
    assert (srv.data_dir / "root-credentials.json").stat().st_mode & 0o077 == 0
    creds = read_ini(aws_cli.credentials)["flotilla"]
    key_id, secret = creds["aws_access_key_id"], creds["aws_secret_access_key"]
    assert key_id and secret
    assert key_id in json.dumps(saved) and secret in json.dumps(saved)
    aws_cli(["--profile", "flotilla", "ecs", "create-cluster", "--cluster-name", "before"])

    assert srv.terminate() == 0
    srv.start()
    assert json.loads((srv.data_dir / "root-credentials.json").read_text()) == saved
    creds = read_ini(aws_cli.credentials)["flotilla"]
    assert (creds["aws_access_key_id"], creds["aws_secret_access_key"]) == (key_id, secret)
    listed = aws_cli(["--profile", "flotilla", "ecs", "list-clusters"]).json
    assert cluster_arn("before") in listed["clusterArns"]
    # boto3 with the same generated pair works too, a different secret does not.
    assert cluster_arn("before") in srv.client(access_key=key_id, secret_key=secret).list_clusters()["clusterArns"]


def test_env_credentials_override_generated_ones(fresh_server, aws_cli):
    srv = fresh_server(aws_profile=True, extra_env=profile_env(aws_cli))
    creds = read_ini(aws_cli.credentials)["flotilla"]
    assert (creds["aws_access_key_id"], creds["aws_secret_access_key"]) == (ACCESS_KEY, SECRET_KEY)
    assert srv.client().list_clusters()["clusterArns"] == [cluster_arn("default")]


def test_no_aws_profile_writes_nothing(fresh_server, aws_cli):
    fresh_server(aws_profile=False, extra_env=profile_env(aws_cli))
    assert not aws_cli.config.exists()
    assert not aws_cli.credentials.exists()


def test_cli_with_endpoint_url_and_env_credentials(fresh_server, aws_cli):
    srv = fresh_server()
    common = ["--endpoint-url", srv.endpoint, "--region", "us-east-1", "--output", "json"]
    env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    containers = json.dumps([{"name": "a", "image": "busybox", "memory": 16}])
    for revision in range(1, 6):
        out = aws_cli(
            [*common, "ecs", "register-task-definition", "--family", "cli", "--container-definitions", containers],
            extra_env=env,
        ).json
        assert out["taskDefinition"]["revision"] == revision
    # The CLI follows nextToken itself: a page size of 2 still lists all five.
    out = aws_cli([*common, "ecs", "list-task-definitions", "--family-prefix", "cli", "--page-size", "2"], extra_env=env).json
    assert out["taskDefinitionArns"] == [td_arn("cli", r) for r in range(1, 6)]
