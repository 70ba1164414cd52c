//! IP addresses and `cidr` ranges, read as event-ruler reads them.
//!
//! A string is taken for an address only when it looks like one: four dot-separated
//! decimal numbers (IPv4; leading zeros allowed, each at most 255) or hexadecimal
//! digits and colons with at least one colon (IPv6, no embedded IPv4). A plain string
//! in a pattern that is an address matches the same address however an event writes
//! it (`::1` and `0:0:0:0:0:0:0:1`). A `cidr` range matches addresses of its own
//! family; like event-ruler, it refuses `/32` for IPv4 and `/128` for IPv6 (an exact
//! address says that).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether the text has an address's shape (event-ruler's two regular expressions).
fn looks_like_ip(text: &str) -> bool {
    looks_like_ipv4(text) || looks_like_ipv6(text)
}

fn looks_like_ipv4(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 4 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn looks_like_ipv6(text: &str) -> bool {
    text.contains(':') && text.bytes().all(|b| b == b':' || b.is_ascii_hexdigit())
}

/// The address a string stands for, if it has an address's shape and is one.
pub(crate) fn parse_ip(text: &str) -> Option<IpAddr> {
    if looks_like_ipv4(text) {
        let mut octets = [0u8; 4];
        for (octet, part) in octets.iter_mut().zip(text.split('.')) {
            let digits = part.trim_start_matches('0');
            if digits.len() > 3 {
                return None;
            }
            *octet = if digits.is_empty() { 0 } else { digits.parse().ok()? };
        }
        Some(IpAddr::V4(Ipv4Addr::from(octets)))
    } else if looks_like_ipv6(text) {
        text.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        None
    }
}

/// An address range from a `cidr` pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    network: IpAddr,
    prefix_len: u8,
}

impl Cidr {
    /// Parses `address/bits`, refusing as event-ruler does (its messages).
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let Some((address, bits)) = text.split_once('/').filter(|(_, bits)| !bits.contains('/')) else {
            return Err("Malformed CIDR, one '/' required".into());
        };
        let bits: i64 = bits.parse().map_err(|_| "Malformed CIDR, mask bits must be an integer".to_string())?;
        if bits < 0 {
            return Err("Malformed CIDR, mask bits must not be negative".into());
        }
        let network = if looks_like_ip(address) {
            parse_ip(address).ok_or_else(|| format!("Invalid IP address: {address}"))?
        } else {
            return Err(format!("Nonstandard IP address: {address}"));
        };
        match network {
            IpAddr::V4(_) if bits > 31 => Err("IPv4 mask bits must be < 32".into()),
            IpAddr::V6(_) if bits > 127 => Err("IPv6 mask bits must be < 128".into()),
            // Checked just above: at most 127.
            _ => Ok(Cidr { network, prefix_len: u8::try_from(bits).unwrap_or(0) }),
        }
    }

    /// Whether the address is in the range (an address of the other family never is).
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                same_prefix(u128::from(network.to_bits()), u128::from(address.to_bits()), 32, self.prefix_len)
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                same_prefix(network.to_bits(), address.to_bits(), 128, self.prefix_len)
            }
            _ => false,
        }
    }
}

/// Whether two `width`-bit numbers agree on their first `prefix_len` bits.
fn same_prefix(a: u128, b: u128, width: u32, prefix_len: u8) -> bool {
    let host_bits = width - u32::from(prefix_len);
    host_bits >= 128 || (a >> host_bits) == (b >> host_bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses_like_event_ruler() {
        assert_eq!(parse_ip("10.0.0.1"), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(parse_ip("010.000.0.01"), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(parse_ip("0:0:0:0:0:0:0:1"), parse_ip("::1"));
        for text in ["256.0.0.1", "1.2.3", "1.2.3.4.5", "example.com", "::ffff:1.2.3.4", "1:2:3", ""] {
            assert_eq!(parse_ip(text), None, "{text}");
        }
    }

    #[test]
    fn cidr_ranges() {
        let net = Cidr::parse("10.0.0.0/24").unwrap();
        assert!(net.contains("10.0.0.255".parse().unwrap()));
        assert!(!net.contains("10.0.1.0".parse().unwrap()));
        assert!(!net.contains("::a00:1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("255.255.255.255".parse().unwrap()));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
        for (text, reason) in [
            ("10.0.0.0", "one '/' required"),
            ("10.0.0.0/8/8", "one '/' required"),
            ("10.0.0.0/x", "must be an integer"),
            ("10.0.0.0/-1", "must not be negative"),
            ("10.0.0.0/32", "IPv4 mask bits must be < 32"),
            ("::/128", "IPv6 mask bits must be < 128"),
            ("300.0.0.0/8", "Invalid IP address: 300.0.0.0"),
            ("host/8", "Nonstandard IP address: host"),
        ] {
            let error = Cidr::parse(text).unwrap_err();
            assert!(error.contains(reason), "{text}: {error}");
        }
    }
}
