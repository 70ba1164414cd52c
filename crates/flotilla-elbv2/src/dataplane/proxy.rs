//! The HTTP listener: a reverse proxy that routes each request by the listener's
//! rules and forwards it to a target of the chosen target group (its sticky target, or
//! one the group's routing algorithm picks among the healthy ones — every one when none
//! is healthy, failing open as ALB does — see `balancing`), or answers a fixed response
//! or a redirect. Errors keep ALB's meanings: 502 when a target cannot be reached or
//! answers badly, 503 when a group has no target, 504 when a target takes longer than
//! the idle timeout. A request counts as in flight to its target from its pick until
//! its answer has been sent in full (or the client is gone, or it failed).

use super::balancing::InFlight;
use super::routing::{RequestView, redirect_location, route};
use super::stats::Answer;
use super::{Group, Table};
use crate::model::{ActionKind, Protocol, RegisteredTarget, TargetGroup};
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub(crate) type Client = hyper_util::client::legacy::Client<HttpConnector, Body>;

/// A keep-alive connection pool to targets.
pub(crate) fn client() -> Client {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(Duration::from_secs(10)));
    connector.set_nodelay(true);
    hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build(connector)
}

pub(crate) fn router(table: Arc<RwLock<Arc<Table>>>, client: Client) -> axum::Router {
    axum::Router::new().fallback(move |req: Request<Body>| {
        let table = table.read().unwrap_or_else(|p| p.into_inner()).clone();
        let client = client.clone();
        async move { handle(&table, &client, req).await }
    })
}

/// An error page, as ALB answers one.
fn plain(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::from(format!(
        "<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center></body></html>\n"
    )));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    r
}

/// Picks a target group by weight (a request counter walks the weights).
/// A forward action's target group, by weight: its ARN and how the proxy sees it.
fn pick_group<'a>(table: &'a Table, groups: &'a [crate::model::WeightedTargetGroup]) -> Option<(&'a str, &'a Group)> {
    let found = |g: &'a crate::model::WeightedTargetGroup| {
        table.groups.get(&g.target_group_arn).map(|group| (g.target_group_arn.as_str(), group))
    };
    if let [only] = groups {
        return found(only);
    }
    let total: i64 = groups.iter().map(|g| g.weight.max(0)).sum();
    if total == 0 {
        return groups.first().and_then(found);
    }
    let n = rand_below(total as u64) as i64;
    let mut acc = 0;
    for g in groups {
        acc += g.weight.max(0);
        if n < acc {
            return found(g);
        }
    }
    None
}

/// The cookie that keeps a client on its target (ALB's name for it).
const STICKY_COOKIE: &str = "AWSALB";

fn encode_target(addr: SocketAddr) -> String {
    addr.to_string().bytes().map(|b| format!("{b:02x}")).collect()
}

/// The target a request's `AWSALB` cookie names, if it names one.
fn sticky_target(req: &Request<Body>) -> Option<SocketAddr> {
    let cookies = req.headers().get_all(header::COOKIE);
    let value = cookies.iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (name, value) = c.trim().split_once('=')?;
        (name == STICKY_COOKIE).then_some(value)
    })?;
    if value.len() % 2 != 0 || value.len() > 120 {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..value.len()).step_by(2).map(|i| u8::from_str_radix(value.get(i..i + 2)?, 16).ok()).collect();
    String::from_utf8(bytes?).ok()?.parse().ok()
}

/// A pseudo-random number below `bound` (weights need spread, not secrecy).
fn rand_below(bound: u64) -> u64 {
    let bytes = uuid::Uuid::new_v4();
    u64::from_le_bytes(bytes.as_bytes()[..8].try_into().unwrap_or_default()) % bound.max(1)
}

/// A target's response body that keeps its request counted in flight until the body
/// has been sent in full or dropped. The guard rides in the extensions of an
/// `http::Response` used as a body (http-body forwards a response's frames to its body),
/// so it is dropped exactly when the body is.
fn counted(body: Body, in_flight: InFlight) -> Body {
    let mut carrier = Response::new(body);
    carrier.extensions_mut().insert(Arc::new(in_flight));
    Body::new(carrier)
}

/// The target of a group for a TCP connection (see [`Group::pick`]).
pub(crate) fn pick_backend(group: &Group) -> Option<SocketAddr> {
    group.pick(Instant::now()).map(|b| b.addr)
}

/// Answers one request and counts it for the load balancer's metrics.
async fn handle(table: &Table, client: &Client, req: Request<Body>) -> Response<Body> {
    let (response, answer, group) = answer(table, client, req).await;
    table.traffic.request(&table.listener.load_balancer_arn, group.as_deref(), answer);
    response
}

/// The load balancer's own answer of `status`.
fn own(status: StatusCode) -> (Response<Body>, Answer, Option<String>) {
    (plain(status), Answer::LoadBalancer { status: status.as_u16() }, None)
}

/// Routes one request: the response, who answered it, and the target group it went to.
async fn answer(table: &Table, client: &Client, req: Request<Body>) -> (Response<Body>, Answer, Option<String>) {
    let peer = req.extensions().get::<flotilla_http::PeerAddr>().map(|p| p.0);
    let host_header =
        req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).or(req.uri().host()).unwrap_or("").to_string();
    let host =
        host_header.rsplit_once(':').filter(|(_, p)| p.parse::<u16>().is_ok()).map_or(host_header.as_str(), |(h, _)| h);
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let method = req.method().as_str().to_string();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let view = RequestView {
        host,
        path: &path,
        query: &query,
        method: &method,
        headers: headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
        source: peer.map(|p| p.ip()),
    };
    let port = table.listener.port as u16;
    let Some(action) = route(&table.listener, &table.rules, &view).first() else {
        return own(StatusCode::SERVICE_UNAVAILABLE);
    };
    match &action.kind {
        ActionKind::FixedResponse { status_code, content_type, message_body } => {
            let mut r = Response::new(Body::from(message_body.clone().unwrap_or_default()));
            *r.status_mut() =
                status_code.parse::<u16>().ok().and_then(|c| StatusCode::from_u16(c).ok()).unwrap_or(StatusCode::OK);
            if let Some(ct) = content_type.as_deref().and_then(|c| HeaderValue::from_str(c).ok()) {
                r.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            let status = r.status().as_u16();
            (r, Answer::LoadBalancer { status }, None)
        }
        ActionKind::Redirect { protocol, host, port: to_port, path, query, status_code } => {
            let location = redirect_location((protocol, host, to_port, path, query), &view, port);
            let mut r = Response::new(Body::empty());
            *r.status_mut() = if status_code == "HTTP_301" { StatusCode::MOVED_PERMANENTLY } else { StatusCode::FOUND };
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            let status = r.status().as_u16();
            (r, Answer::LoadBalancer { status }, None)
        }
        ActionKind::Forward { target_groups, .. } => {
            let Some((group_arn, group)) = pick_group(table, target_groups) else {
                return own(StatusCode::SERVICE_UNAVAILABLE);
            };
            // A sticky client goes back to its target while that target is still healthy.
            let none_healthy = group.backends.iter().all(|b| !b.healthy);
            let stuck = group
                .sticky_seconds
                .and(sticky_target(&req))
                .and_then(|addr| group.backends.iter().find(|b| b.addr == addr && (b.healthy || none_healthy)));
            let started = Instant::now();
            let Some(chosen) = stuck.or_else(|| group.pick(started)) else {
                let (r, a, _) = own(StatusCode::SERVICE_UNAVAILABLE);
                return (r, a, Some(group_arn.to_string()));
            };
            let in_flight = InFlight::start(&chosen.in_flight);
            let backend = chosen.addr;
            let (mut response, answer) = match forward(client, req, backend, peer, port, table.idle_timeout).await {
                Ok(r) => {
                    let answer =
                        Answer::Target { status: r.status().as_u16(), seconds: started.elapsed().as_secs_f64() };
                    (r.map(|body| counted(body, in_flight)), answer)
                }
                Err(r) => {
                    let status = r.status().as_u16();
                    (r, Answer::LoadBalancer { status })
                }
            };
            if let Some(seconds) = group.sticky_seconds
                && stuck.is_none()
                && let Ok(v) = HeaderValue::from_str(&format!(
                    "{STICKY_COOKIE}={}; Max-Age={seconds}; Path=/",
                    encode_target(backend)
                ))
            {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
            (response, answer, Some(group_arn.to_string()))
        }
    }
}

async fn forward(
    client: &Client,
    req: Request<Body>,
    backend: SocketAddr,
    peer: Option<SocketAddr>,
    port: u16,
    idle_timeout: Duration,
) -> Result<Response<Body>, Response<Body>> {
    let (mut parts, body) = req.into_parts();
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let Ok(uri) = format!("http://{backend}{path_and_query}").parse() else {
        return Err(plain(StatusCode::BAD_REQUEST));
    };
    parts.uri = uri;
    if let Some(peer) = peer {
        let forwarded = match parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(before) => format!("{before}, {}", peer.ip()),
            None => peer.ip().to_string(),
        };
        if let Ok(v) = HeaderValue::from_str(&forwarded) {
            parts.headers.insert("x-forwarded-for", v);
        }
    }
    parts.headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    if let Ok(v) = HeaderValue::from_str(&port.to_string()) {
        parts.headers.insert("x-forwarded-port", v);
    }
    for hop in ["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"] {
        parts.headers.remove(hop);
    }
    match tokio::time::timeout(idle_timeout, client.request(Request::from_parts(parts, body))).await {
        Ok(Ok(response)) => Ok(response.map(Body::new)),
        Ok(Err(e)) => {
            tracing::debug!(%backend, error = %e, "forwarding to a target failed");
            Err(plain(StatusCode::BAD_GATEWAY))
        }
        Err(_) => Err(plain(StatusCode::GATEWAY_TIMEOUT)),
    }
}

/// One health check of a target: an HTTP request of the check's path whose status
/// the matcher accepts, or a TCP connection. On failure, ELBv2's reason and a description.
pub(crate) async fn probe(
    client: &Client,
    tg: &TargetGroup,
    t: &RegisteredTarget,
    address: Option<std::net::Ipv4Addr>,
) -> Result<(), (&'static str, String)> {
    let h = &tg.health_check;
    let Some(ip) = address else {
        return Err(("Target.InvalidState", "Target is in the stopped or terminated state".into()));
    };
    let port = if h.port == "traffic-port" { t.port as u16 } else { h.port.parse().unwrap_or(t.port as u16) };
    let addr = SocketAddr::from((ip, port));
    let timeout = Duration::from_secs(h.timeout_seconds.max(1) as u64);
    match h.protocol {
        Protocol::Tcp => match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(("Target.FailedHealthChecks", format!("Health checks failed: {e}"))),
            Err(_) => Err(("Target.Timeout", "Request timed out".into())),
        },
        Protocol::Http => {
            let path = h.path.as_deref().unwrap_or("/");
            let Ok(uri) = format!("http://{addr}{path}").parse::<axum::http::Uri>() else {
                return Err(("Target.FailedHealthChecks", "bad health check path".into()));
            };
            let mut req = Request::new(Body::empty());
            *req.uri_mut() = uri;
            req.headers_mut().insert(header::USER_AGENT, HeaderValue::from_static("ELB-HealthChecker/2.0"));
            match tokio::time::timeout(timeout, client.request(req)).await {
                Ok(Ok(response)) => {
                    let code = response.status().as_u16();
                    if matcher_accepts(h.matcher.as_deref().unwrap_or("200"), code) {
                        Ok(())
                    } else {
                        Err(("Target.ResponseCodeMismatch", format!("Health checks failed with these codes: [{code}]")))
                    }
                }
                Ok(Err(_)) => Err(("Target.FailedHealthChecks", "Health checks failed".into())),
                Err(_) => Err(("Target.Timeout", "Request timed out".into())),
            }
        }
    }
}

fn matcher_accepts(matcher: &str, code: u16) -> bool {
    matcher.split(',').any(|part| match part.split_once('-') {
        Some((a, b)) => matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if (a..=b).contains(&code)),
        None => part.parse::<u16>() == Ok(code),
    })
}

#[cfg(test)]
mod tests {
    use super::{Body, InFlight, counted, matcher_accepts};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_request_stays_in_flight_until_its_answer_is_sent_or_dropped() {
        let counter = Arc::new(AtomicUsize::new(0));
        let body = counted(Body::from("hello"), InFlight::start(&counter));
        assert_eq!(counter.load(Ordering::Relaxed), 1, "counted while the answer is on its way");
        let bytes = axum::body::to_bytes(body, 1024).await.expect("the body");
        assert_eq!(&bytes[..], b"hello", "the body passes through unchanged");
        assert_eq!(counter.load(Ordering::Relaxed), 0, "released once sent in full");

        let body = counted(Body::from("never read"), InFlight::start(&counter));
        assert_eq!(counter.load(Ordering::Relaxed), 1);
        drop(body);
        assert_eq!(counter.load(Ordering::Relaxed), 0, "released when the client is gone");
    }

    #[test]
    fn matchers() {
        assert!(matcher_accepts("200", 200));
        assert!(!matcher_accepts("200", 204));
        assert!(matcher_accepts("200,204", 204));
        assert!(matcher_accepts("200-299", 250));
        assert!(!matcher_accepts("200-299", 300));
    }
}
