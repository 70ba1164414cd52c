"""The container registry (issue 5) with real clients: `aws ecr get-login-password`
piped into `docker login`, docker push/pull, skopeo copy both ways, the ECR API
(describe/list images, tag immutability, lifecycle policies, repository deletion), the
`GET /v2/` challenge, concurrent pushes, `kill -9` of the server in the middle of a
push, and a task whose image the agent pulls from the registry by itself.

Everything runs against the real `flotilla up` binary on 127.0.0.1. Docker clients use
a temporary `DOCKER_CONFIG`, so the real `~/.docker` is never touched; every image a test
tags is removed by that tag at teardown.
"""

import json
import os
import shutil
import signal
import subprocess
import tarfile
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import (
    ACCESS_KEY,
    BUSYBOX_IMAGE,
    SECRET_KEY,
    containers_of_task,
    docker_engine_problem,
    docker_inspect,
    missing_part,
    unique,
    wait_for,
    wait_running,
)

SKOPEO = shutil.which("skopeo")
CMD_TIMEOUT = 180


# Clients --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def need_docker():
    problem = docker_engine_problem()
    if problem:
        missing_part(f"registry tests with real clients need Docker: {problem}")


@pytest.fixture(scope="module")
def need_skopeo(need_docker):
    if SKOPEO is None:
        missing_part("skopeo is not installed (apt-get install skopeo)")


def run(args, *, env=None, check=True, input=None, timeout=CMD_TIMEOUT):
    p = subprocess.run(args, env=env, input=input, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


class DockerClient:
    """The docker CLI with its own DOCKER_CONFIG (so its own credentials)."""

    def __init__(self, config_dir):
        self.config_dir = Path(config_dir)
        self.config_dir.mkdir(parents=True, exist_ok=True)

    def env(self):
        env = dict(os.environ)
        env["DOCKER_CONFIG"] = str(self.config_dir)
        return env

    def __call__(self, *args, check=True, timeout=CMD_TIMEOUT):
        return run(["docker", *args], env=self.env(), check=check, timeout=timeout)

    def popen(self, *args, stdout=subprocess.PIPE):
        return subprocess.Popen(["docker", *args], env=self.env(), stdout=stdout, stderr=subprocess.STDOUT, text=True)


class Registry:
    """One `flotilla up` server seen as an ECR registry: the aws CLI, docker clients
    logged in with `get-login-password`, skopeo."""

    def __init__(self, server, aws_cli, tmp_path):
        self.server = server
        self.aws_cli = aws_cli
        self.tmp_path = tmp_path
        self.clients = 0

    @property
    def host(self):
        return f"127.0.0.1:{self.server.port}"

    def ref(self, repo, tag):
        return f"{self.host}/{repo}:{tag}"

    def ecr(self, *args, check=True):
        env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
               "AWS_DEFAULT_REGION": "us-east-1"}
        return self.aws_cli(["ecr", *args, "--endpoint-url", self.server.endpoint, "--region", "us-east-1",
                             "--output", "json"], check=check, extra_env=env)

    def error_code(self, p):
        """The AWS error code the CLI printed (`An error occurred (Code) when ...`)."""
        assert p.returncode != 0, p.stdout
        text = p.stderr
        start = text.find("(")
        return text[start + 1:text.find(")", start)] if start >= 0 else text

    def create_repository(self, name=None, *args):
        name = name or unique("reg")
        self.ecr("create-repository", "--repository-name", name, *args)
        return name

    def password(self):
        p = self.ecr("get-login-password")
        password = p.stdout.strip()
        assert password, p.stdout
        return password

    def docker_login(self):
        """A new docker client logged in with
        `aws ecr get-login-password | docker login --username AWS --password-stdin HOST`."""
        self.clients += 1
        client = DockerClient(self.tmp_path / f"docker-config-{self.clients}")
        env = {**self.aws_cli.env(), "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
               "AWS_DEFAULT_REGION": "us-east-1"}
        aws = subprocess.Popen([self.aws_cli.exe, "ecr", "get-login-password", "--endpoint-url",
                                self.server.endpoint, "--region", "us-east-1"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        login = subprocess.run(["docker", "login", "--username", "AWS", "--password-stdin", self.host],
                               env=client.env(), stdin=aws.stdout, capture_output=True, text=True,
                               timeout=CMD_TIMEOUT)
        aws.stdout.close()
        aws_err = aws.stderr.read().decode(errors="replace")
        aws.stderr.close()
        assert aws.wait(timeout=CMD_TIMEOUT) == 0, f"aws ecr get-login-password failed: {aws_err}"
        assert login.returncode == 0, f"docker login failed:\n{login.stdout}\n{login.stderr}"
        assert "Login Succeeded" in login.stdout, login.stdout
        auths = json.loads((client.config_dir / "config.json").read_text()).get("auths", {})
        assert self.host in auths, auths
        return client

    def describe_images(self, repo, *args):
        return self.ecr("describe-images", "--repository-name", repo, *args).json["imageDetails"]

    def list_images(self, repo, *args):
        return self.ecr("list-images", "--repository-name", repo, *args).json["imageIds"]

    def skopeo(self, *args, check=True):
        return run([SKOPEO, "--insecure-policy", *args], check=check)


@pytest.fixture
def images():
    """Records local image references (tags) the test creates; `docker rmi -f`s them
    at teardown."""
    refs = []

    def track(*names):
        refs.extend(names)
        return names[0] if len(names) == 1 else names

    yield track
    if refs and shutil.which("docker"):
        run(["docker", "rmi", "-f", *refs], check=False)
        # Digest references (`repo@sha256:...`) left on images that lost the tag to
        # another image (a retag) or that other names still hold.
        repos = {r.rsplit(":", 1)[0] for r in refs}
        listed = run(["docker", "images", "--digests", "--format", "{{.Repository}}@{{.Digest}}"], check=False)
        digests = [line for line in listed.stdout.split()
                   if line.split("@", 1)[0] in repos and not line.endswith("@<none>")]
        if digests:
            run(["docker", "rmi", *digests], check=False)


@pytest.fixture
def registry(need_docker, docker_server, aws_cli, tmp_path):
    """The shared Docker-backed `flotilla up` as a registry."""
    return Registry(docker_server, aws_cli, tmp_path)


def make_image(ref, tmp_path, size=64 * 1024, seed=None):
    """A new single-layer image `ref` (docker import of a tarball holding `size` random
    bytes), so its blobs are unknown to the registry."""
    root = tmp_path / f"rootfs-{uuid.uuid4().hex[:8]}"
    root.mkdir()
    (root / "marker").write_text(seed or uuid.uuid4().hex)
    with open(root / "noise", "wb") as f:
        left = size
        while left > 0:
            n = min(left, 8 << 20)
            f.write(os.urandom(n))
            left -= n
    tar = root.with_suffix(".tar")
    with tarfile.open(tar, "w") as t:
        t.add(root / "marker", arcname="marker")
        t.add(root / "noise", arcname="noise")
    shutil.rmtree(root)
    run(["docker", "import", str(tar), ref])
    tar.unlink()
    return ref


def pushed_digest(push_output):
    """The manifest digest `docker push` printed (`...: digest: sha256:... size: N`)."""
    for line in push_output.splitlines():
        if "digest: sha256:" in line:
            return line.split("digest: ", 1)[1].split()[0]
    raise AssertionError(f"no digest in the push output:\n{push_output}")


# Authentication ---------------------------------------------------------------------

def test_unauthenticated_v2_gets_401_with_a_basic_challenge(server):
    for headers in ({}, {"Authorization": "Basic QVdTOm5vdC1hLXRva2Vu"}):  # AWS:not-a-token
        req = urllib.request.Request(server.endpoint + "/v2/", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=30)
        assert e.value.code == 401, headers
        challenge = e.value.headers.get("WWW-Authenticate", "")
        assert challenge.startswith("Basic "), challenge
        assert "realm=" in challenge, challenge
        assert e.value.headers.get("Docker-Distribution-API-Version") in (None, "registry/2.0")
        body = json.loads(e.value.read())
        assert body["errors"][0]["code"] == "UNAUTHORIZED", body


def test_docker_login_push_rmi_pull_and_the_ecr_api_sees_the_image(registry, images):
    repo = registry.create_repository()
    client = registry.docker_login()
    ref = images(registry.ref(repo, "v1"))
    client("tag", BUSYBOX_IMAGE, ref)
    image_id = client("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()
    digest = pushed_digest(client("push", ref).stdout)

    details = registry.describe_images(repo)
    assert len(details) == 1, details
    assert details[0]["imageDigest"] == digest
    assert details[0]["imageTags"] == ["v1"]
    assert details[0]["repositoryName"] == repo
    assert details[0]["imageSizeInBytes"] > 0
    assert details[0]["imageManifestMediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert registry.list_images(repo) == [{"imageDigest": digest, "imageTag": "v1"}]
    by_tag = registry.describe_images(repo, "--image-ids", "imageTag=v1")
    assert by_tag[0]["imageDigest"] == digest

    client("rmi", ref)
    assert client("image", "inspect", ref, check=False).returncode != 0
    client("pull", ref)
    assert client("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip() == image_id
    repo_digests = json.loads(client("image", "inspect", "--format", "{{json .RepoDigests}}", ref).stdout)
    assert f"{registry.host}/{repo}@{digest}" in repo_digests
    # By digest too.
    client("pull", f"{registry.host}/{repo}@{digest}")


def test_push_to_a_repository_that_does_not_exist_is_refused(registry, images):
    client = registry.docker_login()
    ref = images(registry.ref(unique("missing"), "v1"))
    client("tag", BUSYBOX_IMAGE, ref)
    p = client("push", ref, check=False)
    out = (p.stdout + p.stderr).lower()
    assert p.returncode != 0, out
    assert "name unknown" in out and "does not exist" in out, out


def test_docker_pull_without_login_is_refused(registry, images, tmp_path):
    repo = registry.create_repository()
    client = registry.docker_login()
    ref = images(registry.ref(repo, "v1"))
    client("tag", BUSYBOX_IMAGE, ref)
    client("push", ref)
    client("rmi", ref)
    anonymous = DockerClient(tmp_path / "anonymous")
    p = anonymous("pull", ref, check=False)
    assert p.returncode != 0, p.stdout
    assert "no basic auth credentials" in (p.stdout + p.stderr).lower() or "unauthorized" in (p.stdout + p.stderr).lower(), p


# skopeo -----------------------------------------------------------------------------

def test_skopeo_copy_both_ways(need_skopeo, registry, images, tmp_path):
    repo = registry.create_repository()
    copy_repo = registry.create_repository()
    password = registry.password()
    dest = ["--dest-tls-verify=false", "--dest-creds", f"AWS:{password}"]
    src = ["--src-tls-verify=false", "--src-creds", f"AWS:{password}"]

    # docker-daemon: -> registry
    registry.skopeo("copy", *dest, f"docker-daemon:{BUSYBOX_IMAGE}", f"docker://{registry.ref(repo, 'daemon')}")
    # docker-archive: -> registry
    archive = tmp_path / "busybox.tar"
    run(["docker", "save", "-o", str(archive), BUSYBOX_IMAGE])
    registry.skopeo("copy", *dest, f"docker-archive:{archive}", f"docker://{registry.ref(repo, 'archive')}")
    tags = {i.get("imageTag") for i in registry.list_images(repo)}
    assert {"daemon", "archive"} <= tags, tags

    # registry -> OCI layout
    layout = tmp_path / "layout"
    registry.skopeo("copy", *src, f"docker://{registry.ref(repo, 'daemon')}", f"oci:{layout}:v1")
    index = json.loads((layout / "index.json").read_text())
    assert len(index["manifests"]) == 1, index
    oci_digest = index["manifests"][0]["digest"]
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "v1"
    algo, hexd = oci_digest.split(":")
    manifest = json.loads((layout / "blobs" / algo / hexd).read_text())
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    for layer in manifest["layers"]:
        a, h = layer["digest"].split(":")
        assert (layout / "blobs" / a / h).stat().st_size == layer["size"]

    # OCI layout -> registry (another repository), kept as an OCI manifest
    registry.skopeo("copy", *dest, f"oci:{layout}:v1", f"docker://{registry.ref(copy_repo, 'v1')}")
    inspected = json.loads(registry.skopeo("inspect", "--tls-verify=false", "--creds", f"AWS:{password}",
                                           f"docker://{registry.ref(copy_repo, 'v1')}").stdout)
    assert inspected["Digest"] == oci_digest
    details = registry.describe_images(copy_repo)
    assert [(d["imageDigest"], d["imageTags"]) for d in details] == [(oci_digest, ["v1"])]
    assert details[0]["imageManifestMediaType"] == "application/vnd.oci.image.manifest.v1+json"

    # and docker pulls the OCI image skopeo pushed
    client = registry.docker_login()
    ref = images(registry.ref(copy_repo, "v1"))
    client("pull", ref)
    out = client("run", "--rm", "--network", "none", ref, "cat", "/www/index.html").stdout
    assert "hello from flotilla e2e" in out


# Tag immutability -------------------------------------------------------------------

def test_immutable_tag_cannot_be_overwritten(registry, images, tmp_path):
    repo = registry.create_repository()
    out = registry.ecr("put-image-tag-mutability", "--repository-name", repo,
                       "--image-tag-mutability", "IMMUTABLE").json
    assert out["imageTagMutability"] == "IMMUTABLE"
    described = registry.ecr("describe-repositories", "--repository-names", repo).json["repositories"][0]
    assert described["imageTagMutability"] == "IMMUTABLE"
    client = registry.docker_login()
    ref = images(registry.ref(repo, "v1"))
    client("tag", BUSYBOX_IMAGE, ref)
    first = pushed_digest(client("push", ref).stdout)

    # docker push of different content under the same tag is refused
    make_image(ref, tmp_path)
    p = client("push", ref, check=False)
    assert p.returncode != 0, f"an immutable tag was overwritten:\n{p.stdout}"
    assert "cannot be overwritten" in p.stderr or "immutable" in p.stderr.lower(), p.stderr
    assert registry.list_images(repo, "--filter", "tagStatus=TAGGED") == [{"imageDigest": first, "imageTag": "v1"}]

    # the aws CLI's PutImage of another manifest under the tag: ImageTagAlreadyExistsException
    other = images(registry.ref(repo, "v2"))
    client("tag", ref, other)
    second = pushed_digest(client("push", other).stdout)
    assert second != first
    got = registry.ecr("batch-get-image", "--repository-name", repo, "--image-ids", "imageTag=v2").json
    manifest = got["images"][0]["imageManifest"]
    p = registry.ecr("put-image", "--repository-name", repo, "--image-tag", "v1", "--image-manifest", manifest,
                     check=False)
    assert registry.error_code(p) == "ImageTagAlreadyExistsException", p.stderr
    tags = {i["imageTag"]: i["imageDigest"] for i in registry.list_images(repo, "--filter", "tagStatus=TAGGED")}
    assert tags == {"v1": first, "v2": second}

    # a new tag through PutImage is fine
    out = registry.ecr("put-image", "--repository-name", repo, "--image-tag", "v3", "--image-manifest",
                       manifest).json
    assert out["image"]["imageId"]["imageDigest"] == second


# Lifecycle policies -----------------------------------------------------------------

def test_lifecycle_policy_preview_and_expiry(need_docker, fresh_server, aws_cli, images, tmp_path):
    srv = fresh_server()
    registry = Registry(srv, aws_cli, tmp_path)
    repo = registry.create_repository()
    client = registry.docker_login()
    digests = {}
    for tag in ("t1", "t2", "t3"):
        ref = images(registry.ref(repo, tag))
        make_image(ref, tmp_path, size=1024)
        digests[tag] = pushed_digest(client("push", ref).stdout)
    pushed = {d["imageTags"][0]: d["imagePushedAt"] for d in registry.describe_images(repo)}
    assert pushed["t1"] <= pushed["t2"] <= pushed["t3"], pushed

    policy = {"rules": [{"rulePriority": 1, "description": "keep one",
                         "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
                         "action": {"type": "expire"}}]}
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    out = registry.ecr("put-lifecycle-policy", "--repository-name", repo,
                       "--lifecycle-policy-text", f"file://{path}").json
    assert out["repositoryName"] == repo
    got = registry.ecr("get-lifecycle-policy", "--repository-name", repo).json
    assert json.loads(got["lifecyclePolicyText"]) == policy

    preview = registry.ecr("get-lifecycle-policy-preview", "--repository-name", repo).json
    assert preview["status"] == "COMPLETE", preview
    results = preview["previewResults"]
    assert sorted(r["imageDigest"] for r in results) == sorted([digests["t1"], digests["t2"]]), results
    assert all(r["action"]["type"] == "EXPIRE" and r["appliedRulePriority"] == 1 for r in results), results
    assert sorted(t for r in results for t in r["imageTags"]) == ["t1", "t2"]
    assert preview["summary"]["expiringImageTotalCount"] == 2, preview
    # A preview deletes nothing.
    assert len(registry.list_images(repo)) == 3

    # The server applies lifecycle policies at start and every 10 minutes: a restart
    # (same data dir and port) runs them now.
    srv.restart()
    wait_for("the lifecycle policy to expire t1 and t2",
             lambda: [i.get("imageTag") for i in registry.list_images(repo)] == ["t3"], timeout=60)
    assert [d["imageDigest"] for d in registry.describe_images(repo)] == [digests["t3"]]
    # The expired images are gone from the OCI API too; the kept one still pulls.
    client("rmi", registry.ref(repo, "t1"), registry.ref(repo, "t3"))
    assert client("pull", registry.ref(repo, "t1"), check=False).returncode != 0
    client("pull", registry.ref(repo, "t3"))


# Repository deletion ----------------------------------------------------------------

def test_delete_repository_refused_while_not_empty_then_forced(registry, images):
    repo = registry.create_repository()
    client = registry.docker_login()
    ref = images(registry.ref(repo, "v1"))
    client("tag", BUSYBOX_IMAGE, ref)
    client("push", ref)

    p = registry.ecr("delete-repository", "--repository-name", repo, check=False)
    assert registry.error_code(p) == "RepositoryNotEmptyException", p.stderr
    assert len(registry.list_images(repo)) == 1

    out = registry.ecr("delete-repository", "--repository-name", repo, "--force").json
    assert out["repository"]["repositoryName"] == repo
    p = registry.ecr("describe-repositories", "--repository-names", repo, check=False)
    assert registry.error_code(p) == "RepositoryNotFoundException", p.stderr
    client("rmi", ref)
    p = client("pull", ref, check=False)
    assert p.returncode != 0, p.stdout


# Concurrency ------------------------------------------------------------------------

def test_two_docker_clients_push_the_same_image_at_once(registry, images, tmp_path):
    repo = registry.create_repository()
    a, b = registry.docker_login(), registry.docker_login()
    ref_a, ref_b = images(registry.ref(repo, "a"), registry.ref(repo, "b"))
    make_image(ref_a, tmp_path, size=8 << 20)
    a("tag", ref_a, ref_b)
    pa, pb = a.popen("push", ref_a), b.popen("push", ref_b)
    out_a, _ = pa.communicate(timeout=CMD_TIMEOUT)
    out_b, _ = pb.communicate(timeout=CMD_TIMEOUT)
    assert pa.returncode == 0, out_a
    assert pb.returncode == 0, out_b
    digest = pushed_digest(out_a)
    assert pushed_digest(out_b) == digest
    details = registry.describe_images(repo)
    assert len(details) == 1, details
    assert details[0]["imageDigest"] == digest
    assert sorted(details[0]["imageTags"]) == ["a", "b"]
    a("rmi", ref_a, ref_b)
    b("pull", ref_b)


# kill -9 in the middle of a push ----------------------------------------------------

def test_server_killed_during_a_push_then_push_again(need_docker, fresh_server, aws_cli, images, tmp_path):
    srv = fresh_server()
    registry = Registry(srv, aws_cli, tmp_path)
    repo = registry.create_repository()
    client = registry.docker_login()
    ref = images(registry.ref(repo, "big"))
    make_image(ref, tmp_path, size=80 << 20)
    image_id = client("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()
    uploads = srv.data_dir / "registry" / "uploads"

    def uploading():
        try:
            return sum(f.stat().st_size for f in uploads.rglob("*") if f.is_file()) > 1 << 20
        except OSError:
            return False

    pusher = client.popen("push", ref)
    output = []
    reader = threading.Thread(target=lambda: output.append(pusher.stdout.read()), daemon=True)
    reader.start()
    try:
        wait_for("the push to upload at least 1 MiB", lambda: uploading() or pusher.poll() is not None, timeout=120,
                 interval=0.05)
        killed_mid_push = pusher.poll() is None
        srv.kill9()
        # The docker daemon retries a failed layer upload with growing back-offs (about a
        # minute in all); give the client a moment to report the failure, then interrupt
        # it, which cancels the push in the daemon.
        try:
            pusher.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pusher.send_signal(signal.SIGINT)
            pusher.wait(timeout=30)
    finally:
        if pusher.poll() is None:
            pusher.kill()
            pusher.wait()
    reader.join(timeout=10)
    if killed_mid_push:
        assert pusher.returncode != 0, f"the push succeeded although the server was killed:\n{output}"

    srv.start(srv.port)  # same data dir, same port
    digest = pushed_digest(client("push", ref).stdout)
    assert [d["imageDigest"] for d in registry.describe_images(repo)] == [digest]
    client("rmi", ref)
    client("pull", ref)
    assert client("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip() == image_id
    assert killed_mid_push, "the push finished before the server could be killed (nothing was interrupted)"


# A task running an image from the registry ------------------------------------------

def test_task_runs_an_image_the_agent_pulled_from_the_registry(registry, images, decs, task_cleanup, tmp_path):
    repo = registry.create_repository()
    client = registry.docker_login()
    ref = images(registry.ref(repo, unique("run")))
    marker = uuid.uuid4().hex
    # busybox plus a layer of its own, so the agent really downloads something
    cid = client("create", BUSYBOX_IMAGE, "true").stdout.strip()
    try:
        (tmp_path / "marker").write_text(marker + "\n")
        client("cp", str(tmp_path / "marker"), f"{cid}:/marker")
        client("commit", cid, ref)
    finally:
        client("rm", "-f", cid, check=False)
    digest = pushed_digest(client("push", ref).stdout)
    # The agent prefers cached images: make sure this name is not present locally.
    client("rmi", ref)
    assert client("image", "inspect", ref, check=False).returncode != 0

    family = unique("regtask")
    td = decs.register_task_definition(family=family, containerDefinitions=[{
        "name": "app", "image": ref, "memory": 64, "essential": True,
        "command": ["sh", "-c", "cat /marker; trap 'exit 0' TERM; while true; do sleep 1; done"],
    }])["taskDefinition"]["taskDefinitionArn"]
    resp = decs.run_task(cluster="default", taskDefinition=td)
    for t in resp["tasks"]:
        task_cleanup(t["taskArn"], ecs=decs, cluster="default")
    assert resp["failures"] == [], resp["failures"]
    arn = resp["tasks"][0]["taskArn"]
    task = wait_running(decs, "default", arn)
    assert task["lastStatus"] == "RUNNING", task
    container = task["containers"][0]
    assert container["lastStatus"] == "RUNNING", container
    assert container.get("imageDigest") in (None, digest), container

    ids = containers_of_task(arn)
    assert len(ids) == 1, ids
    info = docker_inspect(ids[0])
    assert info["Config"]["Image"] == ref
    # the agent pulled it: the image is now present under the registry's name
    assert client("image", "inspect", ref, check=False).returncode == 0
    logs = wait_for("the marker in the container's output",
                    lambda: marker in client("logs", ids[0], check=False).stdout, timeout=60)
    assert logs
