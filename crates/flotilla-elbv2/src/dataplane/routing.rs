//! Which action a request gets, as an Application Load Balancer decides it: rules in
//! priority order, the first whose every condition matches, else the listener's
//! default actions. Pure: table-tested without a server.

use crate::model::{Action, Condition, Listener, Rule};
use std::net::IpAddr;

/// What of a request rules look at.
#[derive(Debug, Clone, Default)]
pub struct RequestView<'a> {
    /// The Host header without its port.
    pub host: &'a str,
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    pub method: &'a str,
    /// (name, value) pairs; names compared case-insensitively.
    pub headers: Vec<(&'a str, &'a str)>,
    pub source: Option<IpAddr>,
}

/// `*` matches any run of characters (also none), `?` exactly one.
pub fn wildcard(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let norm =
        |s: &str| -> Vec<char> { if ignore_case { s.to_lowercase().chars().collect() } else { s.chars().collect() } };
    let (p, t) = (norm(pattern), norm(text));
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn in_cidr(ip: IpAddr, cidr: &str) -> bool {
    let Some((net, bits)) = cidr.split_once('/') else { return false };
    let Ok(bits) = bits.parse::<u32>() else { return false };
    match (ip, net.parse::<IpAddr>()) {
        (IpAddr::V4(ip), Ok(IpAddr::V4(net))) if bits <= 32 => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), Ok(IpAddr::V6(net))) if bits <= 128 => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// Whether one condition holds for the request.
pub fn matches(condition: &Condition, r: &RequestView<'_>) -> bool {
    match condition {
        Condition::HostHeader { values } => values.iter().any(|v| wildcard(v, r.host, true)),
        Condition::PathPattern { values } => values.iter().any(|v| wildcard(v, r.path, false)),
        Condition::HttpHeader { name, values } => r
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .any(|(_, value)| values.iter().any(|v| wildcard(v, value, true))),
        Condition::HttpRequestMethod { values } => values.iter().any(|v| v == r.method),
        Condition::QueryString { values } => {
            let params: Vec<(String, String)> = r
                .query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(k), decode(v))
                })
                .collect();
            values.iter().any(|(key, value)| {
                params
                    .iter()
                    .any(|(k, v)| key.as_ref().is_none_or(|key| wildcard(key, k, true)) && wildcard(value, v, true))
            })
        }
        Condition::SourceIp { values } => r.source.is_some_and(|ip| values.iter().any(|c| in_cidr(ip, c))),
    }
}

/// The actions for a request: the first matching rule's by priority, else the
/// listener's default actions.
pub fn route<'a>(listener: &'a Listener, rules: &'a [Rule], r: &RequestView<'_>) -> &'a [Action] {
    let mut ordered: Vec<&Rule> = rules.iter().collect();
    ordered.sort_by_key(|rule| rule.priority);
    ordered
        .into_iter()
        .find(|rule| rule.conditions.iter().all(|c| matches(c, r)))
        .map_or(&listener.default_actions[..], |rule| &rule.actions[..])
}

/// Fills a redirect's `#{…}` placeholders from the request.
pub fn redirect_location(template: (&str, &str, &str, &str, &str), r: &RequestView<'_>, listener_port: u16) -> String {
    let (protocol, host, port, path, query) = template;
    let fill = |s: &str| {
        s.replace("#{protocol}", "http")
            .replace("#{host}", r.host)
            .replace("#{port}", &listener_port.to_string())
            .replace("#{path}", r.path.trim_start_matches('/'))
            .replace("#{query}", r.query)
    };
    let (protocol, host, port, path, query) =
        (fill(protocol).to_lowercase(), fill(host), fill(port), fill(path), fill(query));
    let default_port = matches!((protocol.as_str(), port.as_str()), ("http", "80") | ("https", "443"));
    let mut out = format!("{protocol}://{host}");
    if !default_port {
        out.push(':');
        out.push_str(&port);
    }
    out.push_str(if path.starts_with('/') { &path } else { "/" });
    if !path.starts_with('/') {
        out.push_str(&path);
    }
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query);
    }
    out
}

#[cfg(test)]
mod tests;
