//! `optout serve` against slow and malformed clients (issue 21): a request head that takes
//! too long is closed, a client address holds a bounded number of open connections, and the
//! connections in all are bounded, so slow connections from one client never keep
//! `/healthz` from answering another; a request head hyper cannot read (two different
//! `Content-Length` values) gets the documented JSON error body.
//!
//! Every connection is on loopback; another client is another loopback address
//! (127.0.0.2).

#[path = "support/serve.rs"]
mod serve;

use serve::Service;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn address(service: &Service) -> SocketAddr {
    service
        .base
        .strip_prefix("http://")
        .unwrap()
        .parse()
        .unwrap()
}

/// A connection from `from` (a loopback address) to `to`.
fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::from((from, 0)))
        .expect("bind a loopback source address");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stream = runtime.block_on(socket.connect(to)).unwrap();
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
}

/// A connection that has sent the start of a request head and no end.
fn slow(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let mut stream = connect_from(from, to);
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: optout\r\n")
        .unwrap();
    stream
}

/// Whether the server has closed `stream` (without answering: no bytes come).
fn closed(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut buf = [0; 256];
    let result = { stream }.read(&mut buf);
    stream.set_nonblocking(false).unwrap();
    match result {
        Ok(0) => true,
        Ok(n) => panic!("an answer: {:?}", String::from_utf8_lossy(&buf[..n])),
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
        Err(e) => panic!("{e}"),
    }
}

/// `GET /healthz` on a new connection from `from`: the answer's status line and the time it
/// took, or `None` when the connection was closed without one.
fn healthz(from: [u8; 4], to: SocketAddr) -> Option<(String, Duration)> {
    let started = Instant::now();
    let mut stream = connect_from(from, to);
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let request = b"GET /healthz HTTP/1.1\r\nHost: optout\r\nConnection: close\r\n\r\n";
    if stream.write_all(request).is_err() {
        return None;
    }
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => return None,
        Err(e) => panic!("{e}"),
    }
    let text = String::from_utf8_lossy(&answer);
    let status = text.lines().next()?.to_owned();
    Some((status, started.elapsed()))
}

/// Polls until `count(streams)` is `want`, for up to 20 s; the last count.
fn settle(streams: &[TcpStream], want: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n = streams.iter().filter(|s| closed(s)).count();
        if n == want || Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn slow_connections_from_one_client_are_bounded_and_healthz_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    // The defaults: 128 connections per client address, a 10 s header timeout.
    let service = Service::start(&dir.path().join("store"), &[], &[]);
    let to = address(&service);
    let started = Instant::now();
    let mut streams: Vec<TcpStream> = (0..160).map(|_| slow([127, 0, 0, 1], to)).collect();
    // The 32 past the client's 128 are closed at once, unanswered.
    assert_eq!(settle(&streams, 32), 32, "connections closed");
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "closed by the header timeout, not by the limit: {:?}",
        started.elapsed()
    );
    // One more from that client is closed too; another client is answered at once.
    assert_eq!(healthz([127, 0, 0, 1], to), None);
    let (status, took) = healthz([127, 0, 0, 2], to).expect("an answer to another client");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(took < Duration::from_secs(3), "{took:?}");
    // A connection closed gives its place back.
    let open = streams.iter().position(|s| !closed(s)).unwrap();
    drop(streams.remove(open));
    let deadline = Instant::now() + Duration::from_secs(10);
    let again = loop {
        if let Some(answer) = healthz([127, 0, 0, 1], to) {
            break Some(answer);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(again.expect("a place given back").0, "HTTP/1.1 200 OK");
    drop(streams);
    assert!(service.stop().success());
}

#[test]
fn connections_in_all_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(
        &dir.path().join("store"),
        &[
            "--max-connections",
            "12",
            "--max-connections-per-client",
            "8",
        ],
        &[],
    );
    let to = address(&service);
    let mut streams: Vec<TcpStream> = (0..10).map(|_| slow([127, 0, 0, 1], to)).collect();
    streams.extend((0..6).map(|_| slow([127, 0, 0, 3], to)));
    // 127.0.0.1 keeps 8 of its 10; 127.0.0.3 gets the 4 places left of 12.
    assert_eq!(settle(&streams, 4), 4, "connections closed");
    assert!(streams[..8].iter().all(|s| !closed(s)));
    assert!(streams[8..10].iter().all(closed));
    assert!(streams[10..14].iter().all(|s| !closed(s)));
    assert!(streams[14..].iter().all(closed));
    assert_eq!(healthz([127, 0, 0, 2], to), None, "a 13th connection");
    drop(streams);
    assert!(service.stop().success());
}

#[test]
fn a_slow_request_head_is_closed_after_the_header_read_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(
        &dir.path().join("store"),
        &["--header-read-timeout", "2s"],
        &[],
    );
    let to = address(&service);
    let started = Instant::now();
    let mut stream = slow([127, 0, 0, 1], to);
    // A header line every 300 ms, as slowloris sends them; the head never ends.
    let closed_after = loop {
        std::thread::sleep(Duration::from_millis(300));
        let wrote = stream.write_all(b"X-Slow: 1\r\n").is_ok();
        if !wrote || closed(&stream) {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "still open after 20 s"
        );
    };
    assert!(
        closed_after >= Duration::from_millis(1900),
        "closed early: {closed_after:?}"
    );
    // A prompt request on a new connection is answered as ever.
    let (status, _) = healthz([127, 0, 0, 1], to).unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(service.stop().success());
}

/// A raw request; the answer's status code, headers (lower-case names) and body.
fn raw(to: SocketAddr, request: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut stream = connect_from([127, 0, 0, 1], to);
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head: {:?}", String::from_utf8_lossy(&answer)));
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (name, value) = l.split_once(':').unwrap();
            (name.to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    (status, headers, answer[split + 4..].to_vec())
}

#[test]
fn a_request_head_hyper_cannot_read_gets_the_json_error_body() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("store"), &[], &[]);
    let to = address(&service);
    let body = r#"{"urls": ["https://a.example/"]}"#;
    let two_lengths = format!(
        "POST /v1/check HTTP/1.1\r\nHost: optout\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len(),
        body.len() + 1
    );
    for request in [
        two_lengths.as_str(),
        "GET /healthz HTTP/1.1\r\nHost: optout\r\nBad Header: x\r\n\r\n",
        "GET /healthz HTTP/9.9\r\nHost: optout\r\n\r\n",
    ] {
        let (status, headers, body) = raw(to, request.as_bytes());
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(status, 400, "{request:?}");
        assert_eq!(
            header("content-type"),
            Some("application/json"),
            "{request:?}"
        );
        assert_eq!(
            header("content-length"),
            Some(body.len().to_string().as_str())
        );
        let code = serve::error_code(
            status,
            &reqwest::header::HeaderMap::from_iter([(
                reqwest::header::CONTENT_TYPE,
                reqwest::header::HeaderValue::from_static("application/json"),
            )]),
            &body,
        );
        assert_eq!(code, "bad-request", "{request:?}");
    }
    // The same request with one length is answered.
    let one_length = format!(
        "POST /v1/check HTTP/1.1\r\nHost: optout\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (status, _, answer) = raw(to, one_length.as_bytes());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    assert!(service.stop().success());
}
