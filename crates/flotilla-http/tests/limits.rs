//! The listener's limits against real TCP clients on loopback.

use axum::Router;
use axum::routing::{get, post};
use flotilla_http::{Limits, serve};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn start(limits: Limits) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/echo",
            post(|body: axum::body::Body| async move {
                match axum::body::to_bytes(body, 1 << 20).await {
                    Ok(bytes) => (axum::http::StatusCode::OK, format!("{}", bytes.len())),
                    Err(e) => (axum::http::StatusCode::REQUEST_TIMEOUT, e.to_string()),
                }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                "ok\n"
            }),
        );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, app, limits, async move {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// Reads until the server closes (or resets) the connection, for at most `within`;
/// the bytes read, or None when it was still open then.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut out)).await {
        Ok(_) => Some(out),
        Err(_) => None,
    }
}

const GET: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

#[tokio::test]
async fn a_client_that_half_closes_after_its_request_gets_the_answer() {
    let (addr, _stop) = start(Limits::default()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The answer takes a while, so the half-close arrives before it.
    stream.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    stream.shutdown().await.unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(5)).await.expect("an answer");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200") && text.ends_with("ok\n"), "{text}");
}

#[tokio::test]
async fn silent_and_slow_clients_are_disconnected() {
    let limits = Limits { header_timeout: Duration::from_millis(300), ..Limits::default() };
    let (addr, _stop) = start(limits).await;
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHo").await.unwrap();
    let started = Instant::now();
    assert!(read_until_closed(&mut silent, Duration::from_secs(5)).await.is_some(), "silent client kept");
    assert!(read_until_closed(&mut slow, Duration::from_secs(5)).await.is_some(), "slow client kept");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn at_the_cap_a_newcomer_takes_the_longest_idle_place() {
    let limits = Limits { max_connections: 4, ..Limits::default() };
    let (addr, _stop) = start(limits).await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(addr).await.unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut newcomer = TcpStream::connect(addr).await.unwrap();
    newcomer.write_all(GET).await.unwrap();
    let answer = read_until_closed(&mut newcomer, Duration::from_secs(5)).await.expect("the newcomer is answered");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    let oldest = read_until_closed(&mut idle[0], Duration::from_secs(2)).await;
    assert_eq!(oldest.as_deref().map(<[u8]>::len), Some(0), "the longest-idle connection made room");
    for later in &mut idle[1..] {
        assert!(read_until_closed(later, Duration::from_millis(200)).await.is_none(), "only one made room");
    }
}

#[tokio::test]
async fn at_the_cap_with_every_connection_busy_a_newcomer_is_refused() {
    let limits = Limits { max_connections: 2, ..Limits::default() };
    let (addr, _stop) = start(limits).await;
    let mut busy = Vec::new();
    for _ in 0..2 {
        // A body still to come keeps the request, and its connection, busy.
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab").await.unwrap();
        busy.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut over = TcpStream::connect(addr).await.unwrap();
    let _ = over.write_all(GET).await;
    let answer = read_until_closed(&mut over, Duration::from_secs(3)).await;
    assert_eq!(answer.as_deref().map(<[u8]>::len), Some(0), "refused unanswered");
    // The busy ones finish and the server takes newcomers again.
    for s in &mut busy {
        s.write_all(b"cdefghij").await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut fresh = TcpStream::connect(addr).await.unwrap();
    fresh.write_all(GET).await.unwrap();
    let answer = read_until_closed(&mut fresh, Duration::from_secs(5)).await.expect("an answer after recovery");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn shutdown_stops_taking_connections() {
    let (addr, stop) = start(Limits::default()).await;
    let mut before = TcpStream::connect(addr).await.unwrap();
    before.write_all(GET).await.unwrap();
    assert!(read_until_closed(&mut before, Duration::from_secs(5)).await.is_some());
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(TcpStream::connect(addr).await.is_err(), "the listener is closed after shutdown");
}

#[tokio::test]
async fn shutdown_does_not_wait_for_idle_connections() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/healthz", get(|| async { "ok\n" }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = Limits { shutdown_grace: Duration::from_secs(5), ..Limits::default() };
    let server = tokio::spawn(serve(listener, app, limits, async move {
        let _ = stopped.await;
    }));
    // One connection that never sent a byte, one idle after a keep-alive answer.
    let _silent = TcpStream::connect(addr).await.unwrap();
    let mut kept = TcpStream::connect(addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 256];
    let _ = kept.read(&mut buf).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "shutdown took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_stalled_body_is_cut_off_and_a_steady_one_is_read() {
    let limits = Limits { body_idle_timeout: Duration::from_millis(300), ..Limits::default() };
    let (addr, _stop) = start(limits).await;
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab").await.unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut stalled, Duration::from_secs(5)).await.expect("the stalled client is cut off");
    assert!(started.elapsed() < Duration::from_secs(3));
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");

    // A body that keeps coming, slower in total than the idle limit, is read whole.
    let mut steady = TcpStream::connect(addr).await.unwrap();
    steady
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\n")
        .await
        .unwrap();
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        steady.write_all(b"x").await.unwrap();
    }
    let answer = read_until_closed(&mut steady, Duration::from_secs(5)).await.expect("an answer");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200") && text.ends_with("\r\n\r\n5"), "{text}");
}

#[tokio::test]
async fn an_oversized_head_is_refused() {
    let limits = Limits { max_header_bytes: 16 * 1024, ..Limits::default() };
    let (addr, _stop) = start(limits).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let big = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(64 * 1024));
    let _ = stream.write_all(big.as_bytes()).await;
    let answer = read_until_closed(&mut stream, Duration::from_secs(5)).await.expect("closed");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 431"), "{text}");
    // The server still answers.
    let mut ok = TcpStream::connect(addr).await.unwrap();
    ok.write_all(GET).await.unwrap();
    let answer = read_until_closed(&mut ok, Duration::from_secs(5)).await.expect("an answer");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
}
