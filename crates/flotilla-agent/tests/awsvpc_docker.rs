//! awsvpc task networking against the real Docker engine: the agent's runtime makes
//! the `flotilla-awsvpc` network, the pause image and a pause container; busybox
//! containers join its namespace, talk over localhost, serve the host at the task's
//! own address and read the task metadata endpoint on the default bridge's gateway;
//! task-level limits hold them; teardown leaves no container, endpoint, address or
//! cgroup behind.
//!
//! A second test runs a whole awsvpc task through the agent's supervisor on Docker,
//! abandons it as a `kill -9` of the agent would, adopts it again and stops it.
//!
//! Without Docker the tests are skipped, unless `CI=true`: then it fails, so a broken
//! CI install cannot pass unnoticed. Every wait is bounded.

use bollard::Docker;
use bollard::models::{ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, NetworkingConfig};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, InspectContainerOptions, InspectNetworkOptions,
};
use flotilla_agent::client::ControlPlaneClient;
use flotilla_agent::metadata::{MetadataRegistry, router, token};
use flotilla_agent::registry_login::RegistryLogin;
use flotilla_agent::runtime::network::{AWSVPC_NETWORK, DEFAULT_AWSVPC_CIDR, Ipv4Cidr, PAUSE_CONTAINER_NAME};
use flotilla_agent::runtime::{
    AGENT_INSTANCE_LABEL, CONTAINER_NAME_LABEL, ContainerRuntime, ContainerSpec, DockerRuntime, PauseSpec,
    PullBehaviour, TASK_ARN_LABEL, TaskLimits, pause_image,
};
use flotilla_agent::state::{AgentState, SharedState, StateFile};
use flotilla_agent::supervisor::{
    Channels, ContainerSnapshot, Desired, Supervisor, SupervisorSettings, TaskContext, TaskSnapshot,
};
use flotilla_domain::task::{LaunchType, TaskStatus};
use futures_util::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A busybox-only image made from the host's busybox-static.
const IMAGE: &str = "flotilla-test/busybox-static:agent";
const INSTANCE: &str = "i-awsvpc-docker-test";

fn ci() -> bool {
    matches!(std::env::var("CI").map(|v| v.to_ascii_lowercase()).as_deref(), Ok("true" | "1"))
}

/// A part the test needs is missing: a failure under CI, else a skip.
fn missing(reason: &str) {
    assert!(!ci(), "CI=true: {reason}");
    eprintln!("skipping the awsvpc Docker test: {reason}");
}

async fn connect() -> Result<(DockerRuntime, Docker), String> {
    let attempt = async {
        let runtime = DockerRuntime::connect(PullBehaviour::PreferCached).await.map_err(|e| e.to_string())?;
        runtime.info().await.map_err(|e| e.to_string())?;
        let docker = Docker::connect_with_local_defaults().map_err(|e| e.to_string())?;
        let docker = docker.negotiate_version().await.map_err(|e| e.to_string())?;
        Ok::<_, String>((runtime, docker))
    };
    match tokio::time::timeout(Duration::from_secs(20), attempt).await {
        Ok(Ok(pair)) => Ok(pair),
        Ok(Err(e)) => Err(format!("the Docker engine is unreachable: {e}")),
        Err(_) => Err("the Docker engine did not answer within 20 s".into()),
    }
}

/// [`IMAGE`], imported from the host's busybox when missing.
async fn busybox_image(docker: &Docker) -> Result<(), String> {
    if docker.inspect_image(IMAGE).await.is_ok() {
        return Ok(());
    }
    let path = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .ok_or("busybox-static is not installed (apt-get install busybox-static)")?;
    let bytes = std::fs::read(path).map_err(|e| format!("reading {path}: {e}"))?;
    let (repo, tag) = IMAGE.rsplit_once(':').unwrap();
    let options = CreateImageOptions {
        from_src: Some("-".into()),
        repo: Some(repo.into()),
        tag: Some(tag.into()),
        changes: vec!["ENV PATH=/bin".into()],
        ..Default::default()
    };
    let body = bollard::body_full(pause_image::tar("bin/busybox", &bytes).into());
    let mut stream = docker.create_image(Some(options), Some(body), None);
    while let Some(item) = stream.next().await {
        item.map_err(|e| format!("importing {IMAGE}: {e}"))?;
    }
    Ok(())
}

/// Calls `probe` until it gives something, at most `limit`.
async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `GET path` over HTTP/1.0, the whole answer; `None` on any failure.
async fn http_get(ip: Ipv4Addr, port: u16, path: &str) -> Option<String> {
    let fetch = async {
        let mut s = tokio::net::TcpStream::connect((ip, port)).await.ok()?;
        s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes()).await.ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.ok()?;
        Some(String::from_utf8_lossy(&out).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(3), fetch).await.ok().flatten()
}

struct Task {
    id: String,
    arn: String,
}

impl Task {
    fn labels(&self, name: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (TASK_ARN_LABEL.to_string(), self.arn.clone()),
            (CONTAINER_NAME_LABEL.to_string(), name.to_string()),
            (AGENT_INSTANCE_LABEL.to_string(), INSTANCE.to_string()),
        ])
    }

    fn docker_name(&self, name: &str) -> String {
        format!("ecs-awsvpctest-1-{name}-{}", self.id)
    }
}

/// Docker and the busybox image, or `None` when the test is to be skipped.
async fn engine() -> Option<(Arc<DockerRuntime>, Docker, Arc<Task>)> {
    let (runtime, docker) = match connect().await {
        Ok(pair) => pair,
        Err(reason) => {
            missing(&reason);
            return None;
        }
    };
    if let Err(reason) = tokio::time::timeout(Duration::from_secs(60), busybox_image(&docker))
        .await
        .unwrap_or_else(|_| Err("importing busybox took over 60 s".into()))
    {
        missing(&reason);
        return None;
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let task = Arc::new(Task { arn: format!("arn:aws:ecs:us-east-1:000000000000:task/awsvpc-test/{id}"), id });
    Some((Arc::new(runtime), docker, task))
}

/// Runs `scenario` for at most 300 s, then removes whatever of the task is left.
async fn bounded<F>(runtime: Arc<DockerRuntime>, task: Arc<Task>, scenario: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let mut scenario = tokio::spawn(scenario);
    let outcome = tokio::time::timeout(Duration::from_secs(300), &mut scenario).await;
    if outcome.is_err() {
        scenario.abort();
    }
    // Whatever happened, nothing of the task stays.
    for c in runtime.list_managed().await.unwrap_or_default().into_iter().filter(|c| c.task_arn == task.arn) {
        runtime.remove(&c.id).await.ok();
    }
    runtime.release_task_cgroup(&task.id).await;
    match outcome {
        Err(_) => panic!("the scenario took over 300 s"),
        Ok(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Ok(Err(e)) => panic!("the scenario was cancelled: {e}"),
        Ok(Ok(())) => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_awsvpc_task_runs_in_its_own_namespace_and_leaves_nothing_behind() {
    let Some((runtime, docker, task)) = engine().await else { return };
    bounded(runtime.clone(), task.clone(), scenario(runtime, docker, task)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_supervisor_runs_adopts_and_tears_down_an_awsvpc_task() {
    let Some((runtime, docker, task)) = engine().await else { return };
    bounded(runtime.clone(), task.clone(), supervised(runtime, docker, task)).await;
}

async fn scenario(rt: Arc<DockerRuntime>, docker: Docker, task: Arc<Task>) {
    // Task-level limits: 0.25 vCPU and 128 MiB for all the task's containers.
    let limits = TaskLimits { cpu_units: Some(256), memory_mib: Some(128) };
    let cgroup = rt.prepare_task_cgroup(&task.id, &limits).await;
    eprintln!("task cgroup: {cgroup:?}");

    // The pause container: the network and the pause image are made on the way.
    let pause = rt
        .create_pause(&PauseSpec {
            name: task.docker_name("internalecspause"),
            labels: task.labels(PAUSE_CONTAINER_NAME),
            cidr: DEFAULT_AWSVPC_CIDR.into(),
            cgroup_parent: cgroup.clone(),
        })
        .await
        .expect("creating the pause container");
    rt.start(&pause).await.expect("starting the pause container");
    let interface = rt.task_interface(&pause).await.unwrap().expect("the pause container has an address");
    let ip: Ipv4Addr = interface.private_ipv4_address.parse().expect("an IPv4 address");
    assert_eq!(interface.mac_address.split(':').count(), 6, "a MAC address: {interface:?}");
    let network = docker.inspect_network(AWSVPC_NETWORK, None::<InspectNetworkOptions>).await.unwrap();
    let subnet = network.ipam.and_then(|i| i.config).and_then(|c| c.into_iter().find_map(|c| c.subnet)).unwrap();
    let cidr = Ipv4Cidr::parse(&subnet).unwrap();
    let mask = u32::MAX << (32 - u32::from(cidr.prefix));
    assert_eq!(u32::from(ip) & mask, u32::from(cidr.network), "{ip} lies in {subnet}");
    eprintln!("task address {ip} ({}) on {AWSVPC_NETWORK} {subnet}", interface.mac_address);

    let container = |name: &str, script: &str| ContainerSpec {
        name: task.docker_name(name),
        image: IMAGE.into(),
        entry_point: vec!["/bin/busybox".into()],
        command: vec!["sh".into(), "-c".into(), script.into()],
        labels: task.labels(name),
        network_mode: format!("container:{pause}"),
        cgroup_parent: cgroup.clone(),
        cpu_shares: 2,
        ..ContainerSpec::default()
    };
    let run = |spec: ContainerSpec| {
        let rt = rt.clone();
        async move {
            let id = rt.create(&spec).await.unwrap_or_else(|e| panic!("creating {}: {e}", spec.name));
            rt.start(&id).await.unwrap_or_else(|e| panic!("starting {}: {e}", spec.name));
            id
        }
    };
    let exit_code = |id: String, limit: Duration| {
        let rt = rt.clone();
        async move {
            wait_for(&format!("container {id} to exit"), limit, || async {
                rt.inspect(&id).await.ok().flatten().and_then(|s| s.exit_code)
            })
            .await
        }
    };

    // Two containers of the task: one serves, the other reaches it on localhost.
    let web = run(container(
        "web",
        "/bin/busybox mkdir -p /www && echo hello-awsvpc > /www/index.html && exec /bin/busybox httpd -f -p 8080 -h /www",
    ))
    .await;
    let client = run(container(
        "client",
        "i=0; while [ $i -lt 150 ]; do \
           if printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc 127.0.0.1 8080 | /bin/busybox grep -q hello-awsvpc; \
           then echo reached; exit 0; fi; i=$((i+1)); /bin/busybox sleep 0.2; done; exit 1",
    ))
    .await;
    assert_eq!(exit_code(client.clone(), Duration::from_secs(60)).await, 0, "the client reached web over localhost");

    // The node reaches the task at its own address.
    let page = wait_for("the page at the task's address", Duration::from_secs(30), || http_get(ip, 8080, "/")).await;
    assert!(page.contains("hello-awsvpc"), "{page}");

    // The metadata endpoint, on the default bridge's gateway, from inside the task.
    let (script, server) = serve_metadata(&rt, &task, &interface).await;
    let meta = run(container("meta", &script)).await;
    assert_eq!(exit_code(meta.clone(), Duration::from_secs(30)).await, 0, "nc reached the endpoint");
    check_metadata(&rt, &meta, &interface).await;
    server.abort();

    // Task-level limits, where this host has task cgroups.
    let mut ids = vec![web.clone(), client, meta];
    if let Some(parent) = &cgroup {
        check_limits(&docker, &web, parent).await;
        // One container alone asking for more than the task's 128 MiB is killed.
        let hog = run(container("hog", "exec /bin/busybox dd if=/dev/zero of=/dev/null bs=200M count=1")).await;
        let code = exit_code(hog.clone(), Duration::from_secs(60)).await;
        assert_eq!(code, 137, "the task's memory limit killed the hog");
        ids.push(hog);
    } else {
        eprintln!("this host has no task cgroups: task-level limits not checked");
    }

    // Teardown as the supervisor does it: the containers stop, then the pause
    // container goes (and with it the address), then the cgroup.
    for id in &ids {
        rt.stop(id, Duration::from_secs(2)).await.unwrap();
    }
    rt.remove(&pause).await.unwrap();
    assert!(rt.release_task_cgroup(&task.id).await, "the task cgroup is removed");
    assert_eq!(rt.inspect(&pause).await.unwrap(), None, "the pause container is gone");
    let network = docker.inspect_network(AWSVPC_NETWORK, None::<InspectNetworkOptions>).await.unwrap();
    let endpoints = network.containers.unwrap_or_default();
    assert!(!endpoints.contains_key(&pause), "no endpoint of the pause container is left");
    let ours = endpoints.values().find(|e| e.ipv4_address.as_deref().is_some_and(|a| a.starts_with(&format!("{ip}/"))));
    assert!(ours.is_none(), "nothing on the network holds {ip}: {ours:?}");
    for root in ["/sys/fs/cgroup/flotilla", "/sys/fs/cgroup/cpu/flotilla", "/sys/fs/cgroup/memory/flotilla"] {
        let dir = std::path::Path::new(root).join(&task.id);
        assert!(!dir.exists(), "{} is removed", dir.display());
    }
    // The address is free again: a container may ask for exactly it.
    let probe = probe_address(&docker, &task, ip).await;
    assert_eq!(rt.task_interface(&probe).await.unwrap().map(|i| i.private_ipv4_address), Some(ip.to_string()));
    rt.remove(&probe).await.unwrap();

    // Later the agent's cleanup removes the stopped containers: nothing is left.
    for id in &ids {
        rt.remove(id).await.unwrap();
    }
    let left: Vec<_> = rt.list_managed().await.unwrap().into_iter().filter(|c| c.task_arn == task.arn).collect();
    assert!(left.is_empty(), "containers of the task are left: {left:?}");
}

/// Serves the agent's metadata router on the default bridge's gateway with the
/// task registered; returns the script a container of the task reads it with.
async fn serve_metadata(
    rt: &Arc<DockerRuntime>,
    task: &Task,
    interface: &flotilla_domain::task::NetworkInterface,
) -> (String, tokio::task::JoinHandle<()>) {
    let gateway = rt.gateway_ip().await.expect("the default bridge has a gateway");
    let listener = tokio::net::TcpListener::bind((gateway, 0)).await.expect("listening on the bridge gateway");
    let port = listener.local_addr().unwrap().port();
    let registry = MetadataRegistry::new("us-east-1a");
    let definition = serde_json::from_value(serde_json::json!({
        "family": "awsvpctest", "networkMode": "awsvpc", "cpu": "256", "memory": "128",
        "containerDefinitions": [{"name": "meta", "image": IMAGE}],
    }))
    .unwrap();
    let ctx = TaskContext {
        cluster: "awsvpc-test".into(),
        task_arn: task.arn.clone(),
        family: "awsvpctest".into(),
        revision: 1,
        definition,
        overrides: Default::default(),
        container_arns: BTreeMap::new(),
        launch_type: LaunchType::Fargate,
        ephemeral_storage_gib: None,
        metered: false,
    };
    let snapshot = TaskSnapshot {
        cluster: ctx.cluster.clone(),
        task: ctx.task_arn.clone(),
        status: TaskStatus::Running,
        reason: None,
        containers: vec![ContainerSnapshot {
            container_name: "meta".into(),
            status: TaskStatus::Running,
            runtime_id: None,
            exit_code: None,
            reason: None,
            health_status: None,
            network_bindings: Vec::new(),
            image_digest: None,
        }],
        pull_started_at: None,
        pull_stopped_at: None,
        execution_stopped_at: None,
        network_interface: Some(interface.clone()),
    };
    registry.update(&ctx, &snapshot, "RUNNING");
    let app = router(registry, rt.clone() as Arc<dyn ContainerRuntime>);
    let server = tokio::spawn(async move {
        flotilla_http::serve(listener, app, flotilla_http::Limits::default(), std::future::pending()).await.ok();
    });
    let path = format!("/v4/{}/task", token(&ctx, "meta"));
    let script = format!("printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 5 {gateway} {port}");
    (script, server)
}

/// What the container read: the task's metadata, with its awsvpc address.
async fn check_metadata(rt: &DockerRuntime, id: &str, interface: &flotilla_domain::task::NetworkInterface) {
    let mut lines = rt.logs(id, 0).await.unwrap();
    let mut out = String::new();
    let read = async {
        while let Some(l) = lines.recv().await {
            out.push_str(&l.text);
            out.push('\n');
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.expect("the container's output in time");
    eprintln!("task metadata read from inside the task:\n{out}");
    let body: serde_json::Value =
        serde_json::from_str(out.split("\n\n").last().unwrap_or_default().trim()).expect("a JSON answer");
    assert_eq!(body["LaunchType"], "FARGATE");
    assert_eq!(body["Cluster"], "arn:aws:ecs:us-east-1:000000000000:cluster/awsvpc-test");
    let networks = &body["Containers"][0]["Networks"][0];
    assert_eq!(networks["NetworkMode"], "awsvpc");
    assert_eq!(networks["IPv4Addresses"], serde_json::json!([interface.private_ipv4_address]));
}

/// The container is in the task cgroup, which carries the task's limits.
async fn check_limits(docker: &Docker, id: &str, parent: &str) {
    let c = docker.inspect_container(id, None::<InspectContainerOptions>).await.unwrap();
    let pid = c.state.and_then(|s| s.pid).expect("web runs");
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cgroups.contains(&format!("{parent}/")), "web is under {parent}:\n{cgroups}");
    let v2 = std::path::Path::new("/sys/fs/cgroup").join(parent.trim_start_matches('/'));
    let read = |p: std::path::PathBuf| std::fs::read_to_string(&p).map(|s| s.trim().to_string()).ok();
    if v2.join("cpu.max").exists() {
        assert_eq!(read(v2.join("cpu.max")).as_deref(), Some("25000 100000"));
        assert_eq!(read(v2.join("memory.max")).as_deref(), Some("134217728"));
    } else {
        let cpu = std::path::Path::new("/sys/fs/cgroup/cpu").join(parent.trim_start_matches('/'));
        let memory = std::path::Path::new("/sys/fs/cgroup/memory").join(parent.trim_start_matches('/'));
        assert_eq!(read(cpu.join("cpu.cfs_quota_us")).as_deref(), Some("25000"));
        assert_eq!(read(cpu.join("cpu.cfs_period_us")).as_deref(), Some("100000"));
        assert_eq!(read(memory.join("memory.limit_in_bytes")).as_deref(), Some("134217728"));
    }
}

/// A container on the awsvpc network asking for exactly `ip`: it starts only if
/// the address is free.
async fn probe_address(docker: &Docker, task: &Task, ip: Ipv4Addr) -> String {
    let endpoint = EndpointSettings {
        ipam_config: Some(EndpointIpamConfig { ipv4_address: Some(ip.to_string()), ..Default::default() }),
        ..Default::default()
    };
    let body = ContainerCreateBody {
        image: Some(flotilla_agent::runtime::network::PAUSE_IMAGE.into()),
        labels: Some(task.labels("probe").into_iter().collect::<HashMap<_, _>>()),
        host_config: Some(HostConfig { network_mode: Some(AWSVPC_NETWORK.into()), ..Default::default() }),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(AWSVPC_NETWORK.to_string(), endpoint)])),
        }),
        ..Default::default()
    };
    let options = CreateContainerOptions { name: Some(task.docker_name("probe")), ..Default::default() };
    let id = docker.create_container(Some(options), body).await.expect("creating the probe").id;
    docker
        .start_container(&id, None::<bollard::query_parameters::StartContainerOptions>)
        .await
        .unwrap_or_else(|e| panic!("the address {ip} is still taken: {e}"));
    id
}

fn settings() -> SupervisorSettings {
    let client = ControlPlaneClient::new(
        "http://127.0.0.1:9",
        flotilla_sigv4::Credentials::new("AKIDEXAMPLE", "not-used"),
        "us-east-1",
    )
    .unwrap();
    SupervisorSettings {
        default_stop_timeout: Duration::from_secs(2),
        region: "us-east-1".into(),
        metadata_base: None,
        registry: Arc::new(RegistryLogin::new(client.clone())),
        logs: None,
        awsvpc_cidr: DEFAULT_AWSVPC_CIDR.into(),
        agent_instance: INSTANCE.into(),
        control_plane: client,
        container_instance: "arn:aws:ecs:us-east-1:000000000000:container-instance/default/ci".into(),
        task_credentials: None,
    }
}

/// A supervisor of the task with its channels.
fn supervise(
    rt: &Arc<DockerRuntime>,
    state: &SharedState,
    ctx: &TaskContext,
    adopted: BTreeMap<String, String>,
) -> (
    tokio::task::JoinHandle<()>,
    tokio::sync::watch::Sender<Desired>,
    tokio::sync::mpsc::UnboundedReceiver<TaskSnapshot>,
) {
    let (desired, desired_rx) = tokio::sync::watch::channel(Desired::Running);
    let (publish, snapshots) = tokio::sync::mpsc::unbounded_channel();
    let supervisor = Supervisor::new(
        ctx.clone(),
        rt.clone() as Arc<dyn ContainerRuntime>,
        state.clone(),
        settings(),
        Channels { desired: desired_rx, publish },
        MetadataRegistry::new("us-east-1a"),
        adopted,
    );
    (tokio::spawn(supervisor.run()), desired, snapshots)
}

/// Snapshots until one of `status` (included), within 60 s.
async fn until(
    snapshots: &mut tokio::sync::mpsc::UnboundedReceiver<TaskSnapshot>,
    status: TaskStatus,
) -> Vec<TaskSnapshot> {
    let mut seen = Vec::new();
    let wait = async {
        while let Some(s) = snapshots.recv().await {
            let done = s.status == status;
            seen.push(s);
            if done {
                return true;
            }
        }
        false
    };
    let reached = tokio::time::timeout(Duration::from_secs(60), wait).await;
    assert!(
        matches!(reached, Ok(true)),
        "no {status:?} within 60 s; seen: {:?}",
        seen.iter().map(|s| s.status).collect::<Vec<_>>()
    );
    seen
}

async fn supervised(rt: Arc<DockerRuntime>, docker: Docker, task: Arc<Task>) {
    let definition = serde_json::from_value(serde_json::json!({
        "family": "awsvpcsup", "networkMode": "awsvpc", "cpu": "256", "memory": "256",
        "containerDefinitions": [
            {"name": "web", "image": IMAGE, "entryPoint": ["/bin/busybox"], "stopTimeout": 2,
             "command": ["sh", "-c", "/bin/busybox mkdir -p /www && echo supervised > /www/index.html && exec /bin/busybox httpd -f -p 8080 -h /www"],
             "portMappings": [{"containerPort": 8080}]},
            {"name": "sidecar", "image": IMAGE, "entryPoint": ["/bin/busybox"], "stopTimeout": 2, "essential": false,
             "command": ["sh", "-c", "while ! printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc 127.0.0.1 8080 | /bin/busybox grep -q supervised; do /bin/busybox sleep 0.2; done; echo ok > /tmp/reached; exec /bin/busybox sleep 3600"]},
        ],
    }))
    .unwrap();
    let ctx = TaskContext {
        cluster: "awsvpc-test".into(),
        task_arn: task.arn.clone(),
        family: "awsvpcsup".into(),
        revision: 1,
        definition,
        overrides: Default::default(),
        container_arns: BTreeMap::new(),
        launch_type: LaunchType::Fargate,
        ephemeral_storage_gib: Some(21),
        metered: false,
    };
    let dir = tempfile::tempdir().unwrap();
    let state = SharedState::new(AgentState::default(), StateFile::new(dir.path()));

    // The first run: PENDING carries the interface, the task serves the node.
    let (first, _desired, mut snapshots) = supervise(&rt, &state, &ctx, BTreeMap::new());
    let seen = until(&mut snapshots, TaskStatus::Running).await;
    assert_eq!(seen[0].status, TaskStatus::Pending);
    let interface = seen[0].network_interface.clone().expect("the first PENDING report carries the interface");
    let ip: Ipv4Addr = interface.private_ipv4_address.parse().unwrap();
    let page = wait_for("the task's page", Duration::from_secs(30), || http_get(ip, 8080, "/")).await;
    assert!(page.contains("supervised"), "{page}");
    let record = state.read(|s| s.tasks[&task.arn].clone());
    let pause = record.pause_container.clone().expect("the pause container is recorded");
    let web = record.containers["web"].clone();
    let c = docker.inspect_container(&web, None::<InspectContainerOptions>).await.unwrap();
    let host = c.host_config.unwrap();
    assert_eq!(host.network_mode.as_deref(), Some(format!("container:{pause}").as_str()));
    let cgroup = host.cgroup_parent.filter(|p| !p.is_empty());
    eprintln!("supervised task at {ip}, pause {pause}, cgroup {cgroup:?}");

    // The agent dies (kill -9): its supervisor is gone, the containers run on.
    first.abort();
    let _ = first.await;
    assert!(rt.inspect(&pause).await.unwrap().is_some_and(|s| s.running));

    // A new agent adopts the containers and the pause container, as its reconcile does.
    let record = state.read(|s| s.tasks[&task.arn].clone());
    let mut adopted = record.containers.clone();
    adopted.insert(PAUSE_CONTAINER_NAME.to_string(), record.pause_container.clone().unwrap());
    let (second, desired, mut snapshots) = supervise(&rt, &state, &ctx, adopted);
    let seen = until(&mut snapshots, TaskStatus::Running).await;
    assert_eq!(seen.last().unwrap().network_interface, Some(interface.clone()), "the same address");
    let after = state.read(|s| s.tasks[&task.arn].clone());
    assert_eq!((after.containers, after.pause_container), (record.containers, record.pause_container), "nothing new");

    // Stopped: DEPROVISIONING (pause container removed), then STOPPED.
    desired.send(Desired::Stopped).unwrap();
    let seen = until(&mut snapshots, TaskStatus::Stopped).await;
    let statuses: Vec<TaskStatus> = seen.iter().map(|s| s.status).collect();
    assert!(statuses.contains(&TaskStatus::Deprovisioning), "{statuses:?}");
    tokio::time::timeout(Duration::from_secs(30), second).await.expect("the supervisor ends").unwrap();
    assert_eq!(rt.inspect(&pause).await.unwrap(), None, "the pause container is removed before STOPPED");
    assert!(http_get(ip, 8080, "/").await.is_none(), "nothing answers at {ip} any more");
    let network = docker.inspect_network(AWSVPC_NETWORK, None::<InspectNetworkOptions>).await.unwrap();
    assert!(!network.containers.unwrap_or_default().contains_key(&pause), "no endpoint left");
    if let Some(parent) = cgroup {
        for root in ["/sys/fs/cgroup", "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/memory"] {
            let dir = std::path::Path::new(root).join(parent.trim_start_matches('/'));
            assert!(!dir.exists(), "{} is removed with the task", dir.display());
        }
    }
    // The stopped containers stay until the agent's cleanup removes them.
    for id in state.read(|s| s.tasks[&task.arn].containers.values().cloned().collect::<Vec<_>>()) {
        assert!(rt.inspect(&id).await.unwrap().is_some_and(|s| !s.running));
    }
}
