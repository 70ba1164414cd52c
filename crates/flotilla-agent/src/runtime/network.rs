//! awsvpc task networking, as both runtimes share it: each awsvpc task gets a
//! network namespace of its own with a private IPv4 address, held by a *pause
//! container* the agent starts before the task's containers, which then join its
//! namespace (`container:<pause id>`) and reach each other on localhost.
//!
//! On Docker ([`super::awsvpc`]) the namespace, the veth pair, the bridge and the
//! address are Docker's own: the pause container is simply created on the bridge
//! network [`AWSVPC_NETWORK`] (subnet `AgentConfig::awsvpc_cidr`). Docker sets all of
//! that up atomically with the container and releases it when the container is
//! removed, so a crash of the agent leaks nothing the engine does not still track,
//! and no extra package or netlink code is needed. The simulated runtime hands out
//! fake addresses from the same CIDR ([`AddressPool`]) and no namespace.

use flotilla_domain::task::NetworkInterface;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// The Docker bridge network awsvpc tasks' pause containers are created on.
pub const AWSVPC_NETWORK: &str = "flotilla-awsvpc";
/// The image of pause containers (made by the agent, see [`super::pause_image`]).
pub const PAUSE_IMAGE: &str = "flotilla/pause:1";
/// The container name a pause container is labelled with (as ECS's agent does).
pub const PAUSE_CONTAINER_NAME: &str = "~internal~ecs~pause";
/// The default subnet of awsvpc task addresses.
pub const DEFAULT_AWSVPC_CIDR: &str = "10.222.0.0/16";

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("the awsvpc subnet '{0}' is not an IPv4 CIDR block of /8 to /30 (e.g. 10.222.0.0/16)")]
    BadCidr(String),
    #[error(
        "the awsvpc network mode needs a pause image, which this agent makes only for x86_64 and aarch64, not for {0}"
    )]
    UnsupportedArchitecture(String),
    #[error("creating Docker network {name} with subnet {cidr}: {reason}")]
    CreateNetwork { name: String, cidr: String, reason: String },
    #[error("importing the pause image {image}: {reason}")]
    PauseImage { image: String, reason: String },
    #[error("no free address left in {0}")]
    Exhausted(String),
}

/// What an awsvpc task's pause container is created with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PauseSpec {
    /// `ecs-FAMILY-REV-internalecspause-TASKID`.
    pub name: String,
    /// The task ARN and [`PAUSE_CONTAINER_NAME`] labels, and the agent's own.
    pub labels: BTreeMap<String, String>,
    /// The subnet of [`AWSVPC_NETWORK`], used when the network must be created.
    pub cidr: String,
    /// The task's cgroup, when it has task-level limits.
    pub cgroup_parent: Option<String>,
}

/// An IPv4 CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Cidr {
    /// Parses `a.b.c.d/n` (n from 8 to 30; host bits must be zero).
    pub fn parse(s: &str) -> Result<Self, NetworkError> {
        let bad = || NetworkError::BadCidr(s.to_string());
        let (addr, len) = s.trim().split_once('/').ok_or_else(bad)?;
        let network: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = len.parse().map_err(|_| bad())?;
        if !(8..=30).contains(&prefix) || u32::from(network) & !Self::mask(prefix) != 0 {
            return Err(bad());
        }
        Ok(Self { network, prefix })
    }

    fn mask(prefix: u8) -> u32 {
        u32::MAX << (32 - u32::from(prefix))
    }

    /// Addresses a task may get: all but the network, the gateway (the first host,
    /// as Docker gives its bridge) and the broadcast address.
    fn usable(&self) -> std::ops::RangeInclusive<u32> {
        let base = u32::from(self.network);
        let broadcast = base | !Self::mask(self.prefix);
        (base + 2)..=(broadcast - 1)
    }
}

impl std::fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The MAC address of a fake interface: `0a:58:` and the four bytes of its
/// address (locally administered, as CNI bridge plugins make them).
pub fn fake_mac(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("0a:58:{a:02x}:{b:02x}:{c:02x}:{d:02x}")
}

/// Fake addresses of one subnet for the simulated runtime: each one given out is
/// unique until released. The search starts at `start` (an offset into the
/// subnet) so separate simulated nodes sharing a subnet rarely collide.
#[derive(Debug)]
pub struct AddressPool {
    cidr: Ipv4Cidr,
    next: u32,
    taken: BTreeSet<u32>,
}

impl AddressPool {
    pub fn new(cidr: Ipv4Cidr, start: u32) -> Self {
        let usable = cidr.usable();
        let size = usable.end() - usable.start() + 1;
        Self { cidr, next: usable.start() + start % size, taken: BTreeSet::new() }
    }

    pub fn cidr(&self) -> Ipv4Cidr {
        self.cidr
    }

    /// A free address with its fake MAC.
    pub fn allocate(&mut self) -> Result<NetworkInterface, NetworkError> {
        let usable = self.cidr.usable();
        let size = usable.end() - usable.start() + 1;
        if self.taken.len() as u64 >= u64::from(size) {
            return Err(NetworkError::Exhausted(self.cidr.to_string()));
        }
        let mut candidate = self.next;
        while self.taken.contains(&candidate) {
            candidate = if candidate >= *usable.end() { *usable.start() } else { candidate + 1 };
        }
        self.taken.insert(candidate);
        self.next = if candidate >= *usable.end() { *usable.start() } else { candidate + 1 };
        let ip = Ipv4Addr::from(candidate);
        Ok(NetworkInterface { private_ipv4_address: ip.to_string(), mac_address: fake_mac(ip) })
    }

    /// Gives an address back; unknown ones are ignored.
    pub fn release(&mut self, ip: &str) {
        if let Ok(ip) = ip.parse::<Ipv4Addr>() {
            self.taken.remove(&u32::from(ip));
        }
    }

    pub fn in_use(&self) -> usize {
        self.taken.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_are_read_strictly() {
        let c = Ipv4Cidr::parse("10.222.0.0/16").unwrap();
        assert_eq!((c.network, c.prefix), (Ipv4Addr::new(10, 222, 0, 0), 16));
        assert_eq!(c.to_string(), "10.222.0.0/16");
        for bad in ["10.222.0.1/16", "10.222.0.0", "10.222.0.0/31", "10.0.0.0/7", "fd00::/64", "x/16", ""] {
            assert!(Ipv4Cidr::parse(bad).is_err(), "{bad}");
        }
        assert!(Ipv4Cidr::parse(DEFAULT_AWSVPC_CIDR).is_ok());
    }

    #[test]
    fn fake_macs_carry_the_address() {
        assert_eq!(fake_mac(Ipv4Addr::new(10, 222, 0, 2)), "0a:58:0a:de:00:02");
    }

    #[test]
    fn addresses_are_unique_until_released() {
        let mut pool = AddressPool::new(Ipv4Cidr::parse("10.1.2.0/29").unwrap(), 0);
        // .0 network, .1 gateway, .7 broadcast: five usable.
        let got: Vec<String> = (0..5).map(|_| pool.allocate().unwrap().private_ipv4_address).collect();
        assert_eq!(got, ["10.1.2.2", "10.1.2.3", "10.1.2.4", "10.1.2.5", "10.1.2.6"]);
        assert!(matches!(pool.allocate(), Err(NetworkError::Exhausted(_))));
        pool.release("10.1.2.4");
        let again = pool.allocate().unwrap();
        assert_eq!(again.private_ipv4_address, "10.1.2.4");
        assert_eq!(again.mac_address, "0a:58:0a:01:02:04");
        assert_eq!(pool.in_use(), 5);
    }

    #[test]
    fn the_search_starts_at_the_offset_and_wraps() {
        let mut pool = AddressPool::new(Ipv4Cidr::parse("10.1.2.0/29").unwrap(), 4);
        let got: Vec<String> = (0..3).map(|_| pool.allocate().unwrap().private_ipv4_address).collect();
        assert_eq!(got, ["10.1.2.6", "10.1.2.2", "10.1.2.3"]);
    }
}
