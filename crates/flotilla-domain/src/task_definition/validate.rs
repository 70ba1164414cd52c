//! The checks RegisterTaskDefinition applies, and the defaults it fills in.
//!
//! Each rule follows ECS's documented task definition parameters; each refusal
//! names the field (and the container) it is about.

use super::document::*;
use super::fargate::{is_valid_fargate_size, parse_task_cpu, parse_task_memory};
use crate::arn::is_valid_name;
use crate::error::{Validated, ValidationError};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Most containers a task definition can have.
pub const MAX_CONTAINERS: usize = 10;
/// Most placement constraints a task can carry (task definition's and the call's together).
pub const MAX_PLACEMENT_CONSTRAINTS: usize = 10;
/// Longest cluster query language expression.
pub const MAX_EXPRESSION_LENGTH: usize = 2000;
/// The largest value of an ECS `Integer` field (a 32-bit signed integer on the wire):
/// container memory, overrides, instance resources.
pub const MAX_INTEGER: i64 = i32::MAX as i64;

/// The least memory Docker lets a container have.
const MIN_CONTAINER_MEMORY_MIB: i64 = 6;

/// A registration that passed every rule: the normalised document and what ECS
/// derives from it.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedTaskDefinition {
    pub spec: TaskDefinitionSpec,
    pub compatibilities: Vec<String>,
    pub requires_attributes: Vec<String>,
}

fn client(msg: impl Into<String>) -> ValidationError {
    ValidationError::client(msg)
}

/// Validates a RegisterTaskDefinition document and fills in ECS's defaults
/// (`essential`, port protocol, host ports in awsvpc and host modes, health check
/// timings, task-level cpu and memory in units).
pub fn normalize_and_validate(mut spec: TaskDefinitionSpec) -> Validated<ValidatedTaskDefinition> {
    if !is_valid_name(&spec.family) {
        return Err(client(format!(
            "family '{}' is invalid: a family is 1 to 255 letters, numbers, hyphens and underscores",
            spec.family
        )));
    }
    let n = spec.container_definitions.len();
    if n == 0 || n > MAX_CONTAINERS {
        return Err(client(format!(
            "containerDefinitions: a task definition needs 1 to {MAX_CONTAINERS} containers, {n} given"
        )));
    }
    let fargate = spec.requires_compatibilities.contains(&Compatibility::Fargate);
    let mode = spec.network_mode.unwrap_or(NetworkMode::Bridge);

    let task_cpu = match &spec.cpu {
        None => None,
        Some(v) => Some(parse_task_cpu(v).ok_or_else(|| {
            client(format!("cpu: task-level cpu '{v}' is invalid; give CPU units (\"1024\") or vCPUs (\"1 vCPU\")"))
        })?),
    };
    let task_memory = match &spec.memory {
        None => None,
        Some(v) => Some(parse_task_memory(v).ok_or_else(|| {
            client(format!("memory: task-level memory '{v}' is invalid; give MiB (\"2048\") or GB (\"2 GB\")"))
        })?),
    };
    if let Some(cpu) = task_cpu
        && !fargate
        && !(128..=196_608).contains(&cpu)
    {
        return Err(client(format!("cpu: task-level cpu {cpu} must be between 128 and 196608 CPU units")));
    }
    if let Some(mem) = task_memory
        && mem < MIN_CONTAINER_MEMORY_MIB
    {
        return Err(client(format!("memory: task-level memory {mem} MiB is below the minimum of 6 MiB")));
    }
    if let Some(mem) = task_memory
        && mem > MAX_INTEGER
    {
        return Err(client(format!(
            "memory: task-level memory {mem} MiB is more than the largest allowed, {MAX_INTEGER}"
        )));
    }
    spec.cpu = task_cpu.map(|c| c.to_string());
    spec.memory = task_memory.map(|m| m.to_string());

    validate_roles(&spec)?;
    let volume_names = validate_volumes(&spec.volumes)?;
    let container_names = validate_container_names(&spec.container_definitions)?;

    let mut host_ports: HashSet<(i64, TransportProtocol)> = HashSet::new();
    let (mut cpu_sum, mut mem_sum) = (0i64, 0i64);
    for c in &mut spec.container_definitions {
        validate_container(c, mode, task_memory.is_some(), &volume_names, &container_names)?;
        normalize_ports(c, mode, &mut host_ports)?;
        cpu_sum = cpu_sum.saturating_add(c.cpu);
        mem_sum = mem_sum.saturating_add(c.memory.or(c.memory_reservation).unwrap_or(0));
        if c.essential.is_none() {
            c.essential = Some(true);
        }
    }
    if !spec.container_definitions.iter().any(ContainerDefinition::is_essential) {
        return Err(client("containerDefinitions: at least one container must be essential"));
    }
    if let Some(cpu) = task_cpu
        && cpu_sum > cpu
    {
        return Err(client(format!(
            "containerDefinitions: the containers' cpu adds up to {cpu_sum} units, more than the task-level cpu of {cpu}"
        )));
    }
    if let Some(mem) = task_memory
        && mem_sum > mem
    {
        return Err(client(format!(
            "containerDefinitions: the containers' memory adds up to {mem_sum} MiB, more than the task-level memory of {mem} MiB"
        )));
    }
    validate_dependencies(&spec.container_definitions)?;
    validate_placement_constraints(&spec.placement_constraints)?;
    validate_task_options(&spec, &container_names)?;

    let fargate_problem = fargate_incompatibility(&spec, mode, task_cpu, task_memory);
    if fargate && let Some(problem) = &fargate_problem {
        return Err(client(problem.clone()));
    }
    let mut compatibilities = vec![Compatibility::Ec2.as_str().to_string()];
    if fargate_problem.is_none() {
        compatibilities.push(Compatibility::Fargate.as_str().to_string());
    }
    for c in &spec.requires_compatibilities {
        if !compatibilities.iter().any(|x| x == c.as_str()) {
            compatibilities.push(c.as_str().to_string());
        }
    }
    let requires_attributes = required_attributes(&spec, mode);
    Ok(ValidatedTaskDefinition { spec, compatibilities, requires_attributes })
}

fn validate_roles(spec: &TaskDefinitionSpec) -> Validated {
    for (field, arn) in [("taskRoleArn", &spec.task_role_arn), ("executionRoleArn", &spec.execution_role_arn)] {
        if let Some(arn) = arn
            && !(arn.starts_with("arn:aws:iam::") && arn.contains(":role/"))
        {
            return Err(client(format!("{field}: '{arn}' is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")));
        }
    }
    Ok(())
}

fn validate_volumes(volumes: &[Volume]) -> Validated<HashSet<String>> {
    let mut names = HashSet::new();
    for (i, v) in volumes.iter().enumerate() {
        let name = v.name.as_deref().unwrap_or("");
        if !is_valid_name(name) {
            return Err(client(format!(
                "volumes[{i}].name '{name}' is invalid: volume names are 1 to 255 letters, numbers, hyphens and underscores"
            )));
        }
        if !names.insert(name.to_string()) {
            return Err(client(format!("volumes: the volume name '{name}' is used more than once")));
        }
        let kinds = [
            v.host.is_some(),
            v.docker_volume_configuration.is_some(),
            v.efs_volume_configuration.is_some(),
            v.fsx_windows_file_server_volume_configuration.is_some(),
            v.s3files_volume_configuration.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() > 1 {
            return Err(client(format!("volumes[{i}] '{name}': give only one kind of volume configuration")));
        }
        if let Some(d) = &v.docker_volume_configuration
            && d.autoprovision == Some(true)
            && d.scope != Some(VolumeScope::Shared)
        {
            return Err(client(format!(
                "volumes[{i}] '{name}': dockerVolumeConfiguration.autoprovision is only allowed with scope 'shared'"
            )));
        }
        if let Some(h) = &v.host
            && let Some(p) = &h.source_path
            && !p.starts_with('/')
        {
            return Err(client(format!("volumes[{i}] '{name}': host.sourcePath '{p}' must be an absolute path")));
        }
        if let Some(e) = &v.efs_volume_configuration
            && e.file_system_id.is_empty()
        {
            return Err(client(format!("volumes[{i}] '{name}': efsVolumeConfiguration.fileSystemId is required")));
        }
    }
    Ok(names)
}

fn validate_container_names(containers: &[ContainerDefinition]) -> Validated<HashSet<String>> {
    let mut names = HashSet::new();
    for (i, c) in containers.iter().enumerate() {
        if !is_valid_name(&c.name) {
            return Err(client(format!(
                "containerDefinitions[{i}].name '{}' is invalid: container names are 1 to 255 letters, numbers, hyphens and underscores",
                c.name
            )));
        }
        if !names.insert(c.name.clone()) {
            return Err(client(format!(
                "containerDefinitions: the container name '{}' is used more than once",
                c.name
            )));
        }
    }
    Ok(names)
}

fn validate_container(
    c: &mut ContainerDefinition,
    mode: NetworkMode,
    task_memory: bool,
    volumes: &HashSet<String>,
    containers: &HashSet<String>,
) -> Validated {
    let name = c.name.clone();
    let field = |f: &str| format!("container '{name}': {f}");
    if c.image.trim().is_empty() {
        return Err(client(format!("{} is required", field("image"))));
    }
    if c.image.len() > 255 || c.image.chars().any(char::is_whitespace) {
        return Err(client(format!("{} '{}' is not a valid image reference", field("image"), c.image)));
    }
    if !(0..=196_608).contains(&c.cpu) {
        return Err(client(format!("{} {} must be between 0 and 196608 CPU units", field("cpu"), c.cpu)));
    }
    for (f, v) in [("memory", c.memory), ("memoryReservation", c.memory_reservation)] {
        if let Some(v) = v
            && v < MIN_CONTAINER_MEMORY_MIB
        {
            return Err(client(format!("{} {v} MiB is below the minimum of 6 MiB", field(f))));
        }
        if let Some(v) = v
            && v > MAX_INTEGER
        {
            return Err(client(format!("{} {v} MiB is more than the largest allowed, {MAX_INTEGER}", field(f))));
        }
    }
    if let (Some(hard), Some(soft)) = (c.memory, c.memory_reservation)
        && soft > hard
    {
        return Err(client(format!("{} {soft} MiB must not exceed memory {hard} MiB", field("memoryReservation"))));
    }
    if !task_memory && c.memory.is_none() && c.memory_reservation.is_none() {
        return Err(client(format!(
            "container '{name}': at least one of 'memory' or 'memoryReservation' must be given when the task has no task-level memory"
        )));
    }
    if !c.links.is_empty() && mode != NetworkMode::Bridge {
        return Err(client(format!("{} are only supported in the bridge network mode", field("links"))));
    }
    for link in &c.links {
        let target = link.split(':').next().unwrap_or("");
        if !containers.contains(target) || target == name {
            return Err(client(format!("{} '{link}' does not name another container of the task", field("links"))));
        }
    }
    for (i, m) in c.mount_points.iter().enumerate() {
        let src = m.source_volume.as_deref().unwrap_or("");
        if !volumes.contains(src) {
            return Err(client(format!(
                "{}: sourceVolume '{src}' is not a volume of the task definition",
                field(&format!("mountPoints[{i}]"))
            )));
        }
        match m.container_path.as_deref() {
            Some(p) if p.starts_with('/') => {}
            other => {
                return Err(client(format!(
                    "{}: containerPath '{}' must be an absolute path",
                    field(&format!("mountPoints[{i}]")),
                    other.unwrap_or("")
                )));
            }
        }
    }
    for (i, v) in c.volumes_from.iter().enumerate() {
        let src = v.source_container.as_deref().unwrap_or("");
        if !containers.contains(src) || src == name {
            return Err(client(format!(
                "{}: sourceContainer '{src}' does not name another container of the task",
                field(&format!("volumesFrom[{i}]"))
            )));
        }
    }
    for (i, e) in c.environment.iter().enumerate() {
        if e.name.as_deref().unwrap_or("").is_empty() {
            return Err(client(format!("{} needs a name", field(&format!("environment[{i}]")))));
        }
    }
    let mut secret_names = HashSet::new();
    for s in &c.secrets {
        if s.name.is_empty() || s.value_from.is_empty() {
            return Err(client(format!("{} need both name and valueFrom", field("secrets"))));
        }
        if !secret_names.insert(&s.name) {
            return Err(client(format!("{} the name '{}' is used more than once", field("secrets:"), s.name)));
        }
    }
    if let Some(h) = &mut c.health_check {
        validate_health_check(h).map_err(|m| client(format!("{}: {m}", field("healthCheck"))))?;
    }
    let mut ulimit_names = HashSet::new();
    for u in &c.ulimits {
        if u.soft_limit > u.hard_limit {
            return Err(client(format!(
                "{} '{}': softLimit {} exceeds hardLimit {}",
                field("ulimits"),
                u.name.as_str(),
                u.soft_limit,
                u.hard_limit
            )));
        }
        if !ulimit_names.insert(u.name) {
            return Err(client(format!("{} '{}' is given more than once", field("ulimits"), u.name.as_str())));
        }
    }
    for (f, v) in [("startTimeout", c.start_timeout), ("stopTimeout", c.stop_timeout)] {
        if let Some(v) = v
            && v < 0
        {
            return Err(client(format!("{} {v} must not be negative", field(f))));
        }
    }
    for r in &c.resource_requirements {
        if r.resource_type == ResourceType::Gpu && r.value.parse::<u32>().map(|g| g == 0).unwrap_or(true) {
            return Err(client(format!(
                "{} GPU value '{}' must be a positive whole number",
                field("resourceRequirements"),
                r.value
            )));
        }
    }
    for (i, h) in c.extra_hosts.iter().enumerate() {
        if h.hostname.is_empty() || h.ip_address.parse::<std::net::IpAddr>().is_err() {
            return Err(client(format!(
                "{}: needs a hostname and a valid ipAddress, got '{}'",
                field(&format!("extraHosts[{i}]")),
                h.ip_address
            )));
        }
    }
    if let Some(l) = &c.log_configuration
        && l.log_driver == LogDriver::Awslogs
        && !l.options.contains_key("awslogs-group")
    {
        return Err(client(format!(
            "{} the awslogs driver needs the option 'awslogs-group'",
            field("logConfiguration:")
        )));
    }
    Ok(())
}

fn validate_health_check(h: &mut HealthCheck) -> Result<(), String> {
    match h.command.first().map(String::as_str) {
        Some("CMD") | Some("CMD-SHELL") if h.command.len() > 1 => {}
        Some("NONE") if h.command.len() == 1 => {}
        _ => return Err("command must start with CMD or CMD-SHELL followed by the command, or be [\"NONE\"]".into()),
    }
    for (f, v, lo, hi, default) in [
        ("interval", &mut h.interval, 5, 300, Some(30)),
        ("timeout", &mut h.timeout, 2, 120, Some(5)),
        ("retries", &mut h.retries, 1, 10, Some(3)),
        ("startPeriod", &mut h.start_period, 0, 300, None),
    ] {
        match *v {
            Some(x) if !(lo..=hi).contains(&x) => return Err(format!("{f} {x} must be between {lo} and {hi}")),
            None => *v = default,
            _ => {}
        }
    }
    Ok(())
}

fn normalize_ports(
    c: &mut ContainerDefinition,
    mode: NetworkMode,
    host_ports: &mut HashSet<(i64, TransportProtocol)>,
) -> Validated {
    let name = c.name.clone();
    let mut port_names = HashSet::new();
    for (i, p) in c.port_mappings.iter_mut().enumerate() {
        let at = format!("container '{name}': portMappings[{i}]");
        let protocol = *p.protocol.get_or_insert(TransportProtocol::Tcp);
        if mode == NetworkMode::None {
            return Err(client(format!("{at}: port mappings are not allowed in the none network mode")));
        }
        match (&p.container_port, &p.container_port_range) {
            (Some(_), Some(_)) => {
                return Err(client(format!("{at}: give containerPort or containerPortRange, not both")));
            }
            (None, None) => return Err(client(format!("{at}: containerPort is required"))),
            (None, Some(range)) => {
                let (lo, hi) = parse_port_range(range).ok_or_else(|| {
                    client(format!(
                        "{at}: containerPortRange '{range}' must be 'start-end' with 1 <= start < end <= 65535"
                    ))
                })?;
                if p.host_port.is_some() {
                    return Err(client(format!("{at}: hostPort cannot be given with containerPortRange")));
                }
                if hi - lo >= 10_000 {
                    return Err(client(format!("{at}: containerPortRange '{range}' spans more than 10000 ports")));
                }
            }
            (Some(cp), None) => {
                let cp = *cp;
                if !(1..=65535).contains(&cp) {
                    return Err(client(format!("{at}: containerPort {cp} must be between 1 and 65535")));
                }
                if let Some(hp) = p.host_port
                    && !(0..=65535).contains(&hp)
                {
                    return Err(client(format!("{at}: hostPort {hp} must be between 0 and 65535")));
                }
                if matches!(mode, NetworkMode::Awsvpc | NetworkMode::Host) {
                    match p.host_port {
                        Some(hp) if hp != cp && hp != 0 => {
                            return Err(client(format!(
                                "{at}: in the {} network mode hostPort ({hp}) must equal containerPort ({cp}) or be left out",
                                mode.as_str()
                            )));
                        }
                        _ => p.host_port = Some(cp),
                    }
                }
                if let Some(hp) = p.host_port
                    && hp != 0
                    && !host_ports.insert((hp, protocol))
                {
                    return Err(client(format!(
                        "{at}: host port {hp}/{} is used by more than one port mapping of the task",
                        protocol.as_str()
                    )));
                }
            }
        }
        if let Some(n) = &p.name
            && !port_names.insert(n.clone())
        {
            return Err(client(format!("{at}: the port mapping name '{n}' is used more than once")));
        }
        if p.app_protocol.is_some() && p.name.is_none() {
            return Err(client(format!("{at}: appProtocol needs the port mapping to have a name")));
        }
    }
    Ok(())
}

fn parse_port_range(s: &str) -> Option<(i64, i64)> {
    let (a, b) = s.split_once('-')?;
    let (a, b) = (a.trim().parse::<i64>().ok()?, b.trim().parse::<i64>().ok()?);
    (1 <= a && a < b && b <= 65535).then_some((a, b))
}

fn validate_dependencies(containers: &[ContainerDefinition]) -> Validated {
    let by_name: HashMap<&str, &ContainerDefinition> = containers.iter().map(|c| (c.name.as_str(), c)).collect();
    for c in containers {
        for d in &c.depends_on {
            let Some(target) = by_name.get(d.container_name.as_str()) else {
                return Err(client(format!(
                    "container '{}': dependsOn names '{}', which is not a container of the task",
                    c.name, d.container_name
                )));
            };
            if d.container_name == c.name {
                return Err(client(format!("container '{}': dependsOn cannot name the container itself", c.name)));
            }
            if d.condition == ContainerCondition::Healthy && target.health_check.is_none() {
                return Err(client(format!(
                    "container '{}': dependsOn '{}' with condition HEALTHY needs '{}' to have a healthCheck",
                    c.name, d.container_name, d.container_name
                )));
            }
            if matches!(d.condition, ContainerCondition::Complete | ContainerCondition::Success)
                && target.is_essential()
            {
                return Err(client(format!(
                    "container '{}': dependsOn '{}' with condition {} needs '{}' to be non-essential",
                    c.name,
                    d.container_name,
                    d.condition.as_str(),
                    d.container_name
                )));
            }
        }
    }
    // Refuse cycles: repeatedly remove containers whose dependencies are all removed.
    let mut remaining: BTreeSet<&str> = by_name.keys().copied().collect();
    loop {
        let ready: Vec<&str> = remaining
            .iter()
            .copied()
            .filter(|n| by_name[n].depends_on.iter().all(|d| !remaining.contains(d.container_name.as_str())))
            .collect();
        if ready.is_empty() {
            break;
        }
        for r in ready {
            remaining.remove(r);
        }
    }
    if let Some(first) = remaining.first() {
        return Err(client(format!("containerDefinitions: dependsOn forms a cycle through container '{first}'")));
    }
    Ok(())
}

fn validate_placement_constraints(constraints: &[TaskDefinitionPlacementConstraint]) -> Validated {
    if constraints.len() > MAX_PLACEMENT_CONSTRAINTS {
        return Err(client(format!(
            "placementConstraints: at most {MAX_PLACEMENT_CONSTRAINTS} constraints are allowed, {} given",
            constraints.len()
        )));
    }
    for (i, c) in constraints.iter().enumerate() {
        let expr = c.expression.as_deref().unwrap_or("");
        if c.constraint_type.is_none() {
            return Err(client(format!("placementConstraints[{i}].type is required (memberOf)")));
        }
        if expr.trim().is_empty() {
            return Err(client(format!("placementConstraints[{i}].expression is required for memberOf")));
        }
        if expr.len() > MAX_EXPRESSION_LENGTH {
            return Err(client(format!(
                "placementConstraints[{i}].expression is {} characters long, the limit is {MAX_EXPRESSION_LENGTH}",
                expr.len()
            )));
        }
    }
    Ok(())
}

fn validate_task_options(spec: &TaskDefinitionSpec, containers: &HashSet<String>) -> Validated {
    if let Some(e) = &spec.ephemeral_storage
        && !(21..=200).contains(&e.size_in_gib)
    {
        return Err(client(format!("ephemeralStorage.sizeInGiB {} must be between 21 and 200", e.size_in_gib)));
    }
    if let Some(p) = &spec.proxy_configuration {
        if !containers.contains(&p.container_name) {
            return Err(client(format!(
                "proxyConfiguration.containerName '{}' is not a container of the task",
                p.container_name
            )));
        }
        if spec.network_mode != Some(NetworkMode::Awsvpc) {
            return Err(client("proxyConfiguration needs the awsvpc network mode"));
        }
    }
    for (i, a) in spec.inference_accelerators.iter().enumerate() {
        if a.device_name.is_empty() || a.device_type.is_empty() {
            return Err(client(format!("inferenceAccelerators[{i}] needs deviceName and deviceType")));
        }
    }
    Ok(())
}

/// Why a task definition cannot run on Fargate, or `None` if it can.
fn fargate_incompatibility(
    spec: &TaskDefinitionSpec,
    mode: NetworkMode,
    cpu: Option<i64>,
    memory: Option<i64>,
) -> Option<String> {
    if mode != NetworkMode::Awsvpc {
        return Some("Fargate only supports network mode 'awsvpc'.".into());
    }
    let Some(cpu) = cpu else {
        return Some("Fargate requires that 'cpu' be defined at the task level.".into());
    };
    let Some(memory) = memory else {
        return Some("Fargate requires that 'memory' be defined at the task level.".into());
    };
    if !is_valid_fargate_size(cpu, memory) {
        return Some(format!(
            "No Fargate configuration exists for given values: {cpu} CPU, {memory} memory. See the Amazon ECS documentation for the valid values."
        ));
    }
    if spec.pid_mode == Some(PidMode::Host) || spec.ipc_mode.is_some() {
        return Some("Fargate does not support ipcMode or pidMode 'host'".into());
    }
    for v in &spec.volumes {
        if v.host.as_ref().is_some_and(|h| h.source_path.is_some()) {
            return Some(format!(
                "volume '{}': Fargate does not support host.sourcePath",
                v.name.as_deref().unwrap_or("")
            ));
        }
        if v.docker_volume_configuration.is_some() {
            return Some(format!(
                "volume '{}': Fargate does not support dockerVolumeConfiguration",
                v.name.as_deref().unwrap_or("")
            ));
        }
    }
    for c in &spec.container_definitions {
        if c.privileged == Some(true) {
            return Some(format!("container '{}': Fargate does not support privileged containers", c.name));
        }
        if c.stop_timeout.is_some_and(|t| t > 120) || c.start_timeout.is_some_and(|t| t > 120) {
            return Some(format!(
                "container '{}': on Fargate startTimeout and stopTimeout are at most 120 seconds",
                c.name
            ));
        }
        if c.resource_requirements.iter().any(|r| r.resource_type == ResourceType::Gpu) {
            return Some(format!("container '{}': Fargate does not support GPUs", c.name));
        }
        if c.log_configuration.as_ref().is_some_and(|l| l.log_driver == LogDriver::Awslogs)
            && spec.execution_role_arn.is_none()
        {
            return Some(format!(
                "container '{}': the awslogs log driver on Fargate needs an executionRoleArn",
                c.name
            ));
        }
    }
    None
}

/// The agent capabilities ECS records in `requiresAttributes` for the features used.
fn required_attributes(spec: &TaskDefinitionSpec, mode: NetworkMode) -> Vec<String> {
    let mut attrs = BTreeSet::new();
    let mut add = |a: &str| {
        attrs.insert(a.to_string());
    };
    if spec.task_role_arn.is_some() {
        add("com.amazonaws.ecs.capability.task-iam-role");
    }
    if mode == NetworkMode::Awsvpc {
        add("ecs.capability.task-eni");
    }
    if spec.volumes.iter().any(|v| v.efs_volume_configuration.is_some()) {
        add("ecs.capability.efsAuth");
    }
    for c in &spec.container_definitions {
        if c.health_check.is_some() {
            add("ecs.capability.container-health-check");
            add("com.amazonaws.ecs.capability.docker-remote-api.1.24");
        }
        if !c.depends_on.is_empty() {
            add("ecs.capability.container-ordering");
        }
        if c.memory_reservation.is_some() {
            add("com.amazonaws.ecs.capability.docker-remote-api.1.21");
        }
        if !c.docker_labels.is_empty() || !c.ulimits.is_empty() {
            add("com.amazonaws.ecs.capability.docker-remote-api.1.18");
        }
        if let Some(l) = &c.log_configuration {
            add(&format!("com.amazonaws.ecs.capability.logging-driver.{}", l.log_driver.as_str()));
            if l.log_driver == LogDriver::Awslogs {
                add("com.amazonaws.ecs.capability.docker-remote-api.1.19");
            }
        }
        for s in &c.secrets {
            if s.value_from.contains(":secretsmanager:") {
                add("ecs.capability.secrets.asm.environment-variables");
            } else {
                add("ecs.capability.secrets.ssm.environment-variables");
            }
        }
        if c.repository_credentials.is_some() {
            add("com.amazonaws.ecs.capability.private-registry-authentication.secretsmanager");
        }
        if !c.environment_files.is_empty() {
            add("ecs.capability.env-files.s3");
        }
    }
    let awslogs = spec
        .container_definitions
        .iter()
        .any(|c| c.log_configuration.as_ref().is_some_and(|l| l.log_driver == LogDriver::Awslogs));
    if spec.execution_role_arn.is_some() && awslogs {
        add("ecs.capability.execution-role-awslogs");
    }
    attrs.into_iter().collect()
}

#[cfg(test)]
mod tests;
