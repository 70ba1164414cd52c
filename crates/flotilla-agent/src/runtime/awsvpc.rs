//! awsvpc task networking on Docker: the bridge network [`AWSVPC_NETWORK`], the
//! pause image and the pause containers holding each task's network namespace.
//!
//! Why Docker's own networking rather than namespaces and veth pairs made by the
//! agent: Docker already creates the namespace, the veth pair, the bridge and the
//! address (its IPAM) atomically when the pause container is created, and releases
//! all of it when the container is removed. There is nothing the agent could leak
//! if it dies half-way (a restarted agent finds pause containers by their labels),
//! no iptables or netlink code to keep, and no extra package on the node. The
//! task's containers join with `NetworkMode: container:<pause id>`, so they share
//! one namespace and reach each other on localhost; Docker refuses published
//! ports, hostnames, DNS servers, extra hosts and links in that mode, so the
//! supervisor sets none. The node reaches task addresses through the bridge, and
//! tasks reach the metadata endpoint on the default bridge's gateway through the
//! host (Docker's isolation rules only drop traffic forwarded between bridges).

use super::network::{AWSVPC_NETWORK, Ipv4Cidr, NetworkError, PAUSE_IMAGE, PauseSpec};
use super::pause_image;
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::{CreateImageOptions, InspectContainerOptions, InspectNetworkOptions};
use flotilla_domain::task::NetworkInterface;
use futures_util::StreamExt;
use std::collections::HashMap;

/// The Linux name of the network's bridge (at most 15 characters).
const BRIDGE_NAME: &str = "flotilla-awsvpc";

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
}

/// The subnets of a network, as Docker reports them.
fn subnets(network: &bollard::models::NetworkInspect) -> Vec<String> {
    let configs = network.ipam.as_ref().and_then(|i| i.config.clone()).unwrap_or_default();
    configs.into_iter().filter_map(|c| c.subnet).collect()
}

/// Makes [`AWSVPC_NETWORK`] with subnet `cidr` unless it exists. An existing one
/// with another subnet is used as it is (with a warning): its tasks keep working.
pub async fn ensure_network(docker: &Docker, cidr: &Ipv4Cidr) -> Result<(), NetworkError> {
    let failed =
        |reason: String| NetworkError::CreateNetwork { name: AWSVPC_NETWORK.into(), cidr: cidr.to_string(), reason };
    match docker.inspect_network(AWSVPC_NETWORK, None::<InspectNetworkOptions>).await {
        Ok(network) => {
            let found = subnets(&network);
            if !found.contains(&cidr.to_string()) {
                tracing::warn!(network = AWSVPC_NETWORK, wanted = %cidr, ?found,
                    "the awsvpc network exists with another subnet; using it as it is");
            }
            return Ok(());
        }
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(failed(e.to_string())),
    }
    let request = NetworkCreateRequest {
        name: AWSVPC_NETWORK.into(),
        driver: Some("bridge".into()),
        ipam: Some(Ipam {
            driver: Some("default".into()),
            config: Some(vec![IpamConfig { subnet: Some(cidr.to_string()), ..Default::default() }]),
            options: None,
        }),
        options: Some(HashMap::from([("com.docker.network.bridge.name".to_string(), BRIDGE_NAME.to_string())])),
        labels: Some(HashMap::from([("flotilla.network".to_string(), "awsvpc".to_string())])),
        ..Default::default()
    };
    match docker.create_network(request).await {
        Ok(_) => {
            tracing::info!(network = AWSVPC_NETWORK, subnet = %cidr, "created the awsvpc network");
            Ok(())
        }
        // Another agent on this engine may be making it at the same moment: Docker
        // refuses the second network of a subnet ("Pool overlaps") as soon as the
        // first has its pool, a moment before the first answers by name.
        Err(e) => {
            for _ in 0..20 {
                if docker.inspect_network(AWSVPC_NETWORK, None::<InspectNetworkOptions>).await.is_ok() {
                    return Ok(());
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(failed(e.to_string()))
        }
    }
}

/// Imports [`PAUSE_IMAGE`] (as `docker import` does) unless it exists.
pub async fn ensure_pause_image(docker: &Docker, architecture: &str) -> Result<(), NetworkError> {
    let executable = pause_image::executable(architecture)
        .ok_or_else(|| NetworkError::UnsupportedArchitecture(architecture.into()))?;
    if docker.inspect_image(PAUSE_IMAGE).await.is_ok() {
        return Ok(());
    }
    let failed = |reason: String| NetworkError::PauseImage { image: PAUSE_IMAGE.into(), reason };
    let (repo, tag) = PAUSE_IMAGE.rsplit_once(':').unwrap_or((PAUSE_IMAGE, "latest"));
    let options = CreateImageOptions {
        from_src: Some("-".into()),
        repo: Some(repo.into()),
        tag: Some(tag.into()),
        message: Some("made by the flotilla agent".into()),
        changes: vec![r#"ENTRYPOINT ["/pause"]"#.into()],
        ..Default::default()
    };
    let body = bollard::body_full(pause_image::tar("pause", &executable).into());
    let mut stream = docker.create_image(Some(options), Some(body), None);
    while let Some(item) = stream.next().await {
        item.map_err(|e| failed(e.to_string()))?;
    }
    docker.inspect_image(PAUSE_IMAGE).await.map_err(|e| failed(format!("not there after the import: {e}")))?;
    tracing::info!(image = PAUSE_IMAGE, architecture, "imported the pause image");
    Ok(())
}

/// The pause container: the pause image on [`AWSVPC_NETWORK`], nothing else.
pub fn pause_body(spec: &PauseSpec) -> ContainerCreateBody {
    ContainerCreateBody {
        image: Some(PAUSE_IMAGE.into()),
        labels: Some(spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        host_config: Some(HostConfig {
            network_mode: Some(AWSVPC_NETWORK.into()),
            cgroup_parent: spec.cgroup_parent.clone(),
            // A few MiB; a ceiling keeps a mistake from costing the node.
            memory: Some(64 * 1024 * 1024),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The pause container's interface on [`AWSVPC_NETWORK`]; `None` when it does not
/// exist or has no address there (Docker releases it when the container stops).
pub async fn interface(docker: &Docker, id: &str) -> Result<Option<NetworkInterface>, bollard::errors::Error> {
    let c = match docker.inspect_container(id, None::<InspectContainerOptions>).await {
        Ok(c) => c,
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let endpoint = c.network_settings.and_then(|n| n.networks).and_then(|mut n| n.remove(AWSVPC_NETWORK));
    Ok(endpoint.and_then(|e| {
        let ip = e.ip_address.filter(|ip| !ip.is_empty())?;
        Some(NetworkInterface { private_ipv4_address: ip, mac_address: e.mac_address.unwrap_or_default() })
    }))
}
