//! A small authoritative DNS server for Flotilla's load balancer zone
//! (`elb.flotilla.internal`): an `A` query for a load balancer's `DNSName` is answered
//! with its address; other names in the zone get NXDOMAIN, names outside it REFUSED.
//! UDP only, one question per query, as resolvers send them.

use crate::ElbService;
use crate::load_balancers::DNS_ZONE;
use crate::model::LoadBalancer;
use std::net::Ipv4Addr;
use tokio::net::UdpSocket;

const TTL_SECONDS: u32 = 60;
const NOERROR: u8 = 0;
const NXDOMAIN: u8 = 3;
const REFUSED: u8 = 5;

/// A parsed query: its id, flags, the question as sent, the name and the type.
struct Query<'a> {
    id: [u8; 2],
    flags: [u8; 2],
    question: &'a [u8],
    name: String,
    qtype: u16,
}

fn parse(packet: &[u8]) -> Option<Query<'_>> {
    if packet.len() < 12 || packet[2] & 0x80 != 0 || u16::from_be_bytes([packet[4], packet[5]]) != 1 {
        return None;
    }
    let mut labels = Vec::new();
    let mut i = 12;
    loop {
        let len = *packet.get(i)? as usize;
        i += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        labels.push(std::str::from_utf8(packet.get(i..i + len)?).ok()?.to_ascii_lowercase());
        i += len;
    }
    let qtype = u16::from_be_bytes([*packet.get(i)?, *packet.get(i + 1)?]);
    let end = i + 4;
    packet.get(end - 1)?;
    Some(Query {
        id: [packet[0], packet[1]],
        flags: [packet[2], packet[3]],
        question: &packet[12..end],
        name: labels.join("."),
        qtype,
    })
}

/// The answer packet for a query.
fn answer(q: &Query<'_>, rcode: u8, address: Option<Ipv4Addr>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&q.id);
    // QR, the query's opcode and RD, AA; RA off.
    out.push(0x80 | (q.flags[0] & 0x79) | 0x04);
    out.push(rcode);
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&u16::from(address.is_some()).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(q.question);
    if let Some(a) = address {
        out.extend_from_slice(&[0xC0, 0x0C]);
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&TTL_SECONDS.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&a.octets());
    }
    out
}

impl ElbService {
    /// The address of the load balancer named `dns_name`, if any.
    async fn resolve(&self, dns_name: &str) -> crate::error::Result<Option<Option<Ipv4Addr>>> {
        let mut after: Option<String> = None;
        loop {
            let batch: Vec<LoadBalancer> = self.store.list(after.as_deref(), 500).await?;
            if let Some(lb) = batch.iter().find(|lb| lb.dns_name.eq_ignore_ascii_case(dns_name)) {
                return Ok(Some(lb.address.as_deref().and_then(|a| a.parse().ok())));
            }
            if batch.len() < 500 {
                return Ok(None);
            }
            after = batch.last().map(|lb| lb.name.clone());
        }
    }

    /// Answers DNS queries on `socket` until `shutdown` completes.
    pub async fn serve_dns(&self, socket: UdpSocket, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut buf = [0u8; 512];
        loop {
            let (len, from) = tokio::select! {
                _ = &mut shutdown => return,
                received = socket.recv_from(&mut buf) => match received {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::debug!(error = %e, "receiving a DNS query failed");
                        continue;
                    }
                },
            };
            let Some(q) = parse(&buf[..len]) else { continue };
            let in_zone = q.name == DNS_ZONE || q.name.ends_with(&format!(".{DNS_ZONE}"));
            let reply = if !in_zone {
                answer(&q, REFUSED, None)
            } else {
                match self.resolve(&q.name).await {
                    Ok(Some(address)) if q.qtype == 1 => answer(&q, NOERROR, address),
                    Ok(Some(_)) => answer(&q, NOERROR, None),
                    Ok(None) => answer(&q, NXDOMAIN, None),
                    Err(e) => {
                        tracing::warn!(error = %e, "answering a DNS query failed");
                        continue;
                    }
                }
            };
            let _ = socket.send_to(&reply, from).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            p.push(label.len() as u8);
            p.extend_from_slice(label.as_bytes());
        }
        p.push(0);
        p.extend_from_slice(&qtype.to_be_bytes());
        p.extend_from_slice(&1u16.to_be_bytes());
        p
    }

    #[test]
    fn queries_are_read_and_answered() {
        let packet = query("Web-1.us-east-1.elb.flotilla.internal", 1);
        let q = parse(&packet).unwrap();
        assert_eq!(q.name, "web-1.us-east-1.elb.flotilla.internal");
        let a = answer(&q, NOERROR, Some(Ipv4Addr::new(127, 1, 0, 7)));
        assert_eq!(&a[..2], &[0x12, 0x34]);
        assert_eq!(a[2] & 0x80, 0x80, "a response");
        assert_eq!(a[3] & 0x0f, 0, "NOERROR");
        assert_eq!(u16::from_be_bytes([a[6], a[7]]), 1, "one answer");
        assert_eq!(&a[a.len() - 4..], &[127, 1, 0, 7]);
        let nx = answer(&q, NXDOMAIN, None);
        assert_eq!((nx[3] & 0x0f, u16::from_be_bytes([nx[6], nx[7]])), (3, 0));
        assert!(parse(&packet[..15]).is_none(), "a cut packet is ignored");
        assert!(parse(&a).is_none(), "a response is not a query");
    }
}
