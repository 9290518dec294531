//! A small HTTP/1.1 server for `GET /metrics`, on one background thread.
//!
//! One request per connection, answered with `Connection: close`, one
//! connection at a time: a scrape is a few kilobytes and Prometheus scrapes
//! a target once per interval. A client gets [`REQUEST_TIMEOUT`] in all to
//! send its request head (at most [`MAX_REQUEST`] bytes) and
//! [`WRITE_TIMEOUT`] per write, so a slow or silent client delays the next
//! scrape by at most that, and cannot hold the server.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::text::CONTENT_TYPE;

/// Longest request head read (request line and headers).
pub const MAX_REQUEST: usize = 8 * 1024;
/// Time a client has to send its whole request head.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Time allowed for each write of the response.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The address could not be bound (in use, not local, no permission).
    #[error("cannot listen on {addr} for metrics: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// A bound metrics server; [`MetricsServer::serve`] answers requests.
#[derive(Debug)]
pub struct MetricsServer {
    listener: TcpListener,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

/// Stops a [`MetricsServer`] from another thread.
#[derive(Debug, Clone)]
pub struct StopHandle {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl StopHandle {
    /// Makes [`MetricsServer::serve`] return once the request in progress,
    /// if any, is answered.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept with a connection of our own.
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
    }
}

impl MetricsServer {
    /// Listens on `addr` (port 0: any free port, see [`MetricsServer::local_addr`]).
    pub fn bind(addr: SocketAddr) -> Result<MetricsServer, ServerError> {
        let listener =
            TcpListener::bind(addr).map_err(|source| ServerError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
        Ok(MetricsServer {
            listener,
            addr,
            stop: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The address listened on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle that stops [`MetricsServer::serve`].
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            addr: self.addr,
            stop: Arc::clone(&self.stop),
        }
    }

    /// Answers requests until stopped: `GET /metrics` (or `HEAD`) with
    /// `render()`, any other path 404, any other method 405, a malformed or
    /// too long request 400 or 431.
    pub fn serve(&self, render: impl Fn() -> String) {
        for conn in self.listener.incoming() {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            // A failed accept (out of descriptors, a reset connection) is
            // the client's loss, not the server's end.
            let Ok(stream) = conn else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            let _ = handle(stream, &render);
        }
    }
}

/// The response to a request head.
fn respond(head: &[u8], render: &dyn Fn() -> String) -> (u16, &'static str, String, bool) {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let text = |s: &str| s.to_string();
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) | Err(_) => {
            return (400, "Bad Request", text("bad request\n"), false)
        }
    }
    let method = req.method.unwrap_or_default();
    let path = req.path.unwrap_or_default();
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return (
            405,
            "Method Not Allowed",
            text("only GET and HEAD\n"),
            head_only,
        );
    }
    // The query string does not matter (Prometheus sends none by default).
    let path = path.split('?').next().unwrap_or_default();
    if path != "/metrics" {
        return (
            404,
            "Not Found",
            text("not found: metrics are at /metrics\n"),
            head_only,
        );
    }
    (200, "OK", render(), head_only)
}

/// Reads one request head and answers it.
fn handle(mut stream: TcpStream, render: &dyn Fn() -> String) -> std::io::Result<()> {
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let complete = loop {
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            break true;
        }
        if buf.len() >= MAX_REQUEST {
            break false;
        }
        // The timeout left of the whole request, not per read: a client
        // sending a byte at a time must not hold the server for long.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        stream.set_read_timeout(Some(left))?;
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            // Closed before a whole request (also the stop handle's wake-up).
            return Ok(());
        }
        let take = n.min(MAX_REQUEST - buf.len());
        buf.extend_from_slice(chunk.get(..take).unwrap_or_default());
    };
    let (code, reason, body, head_only) = if complete {
        respond(&buf, render)
    } else {
        (
            431,
            "Request Header Fields Too Large",
            "request too large\n".to_string(),
            false,
        )
    };
    let content_type = if code == 200 {
        CONTENT_TYPE
    } else {
        "text/plain; charset=utf-8"
    };
    let mut response = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if code == 405 {
        response.push_str("Allow: GET, HEAD\r\n");
    }
    response.push_str("\r\n");
    if !head_only {
        response.push_str(&body);
    }
    stream.write_all(response.as_bytes())?;
    stream.flush()?;
    let _ = stream.shutdown(Shutdown::Write);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    /// Runs a server answering `body` while `f` talks to it.
    fn with_server(f: impl FnOnce(SocketAddr)) {
        let server = MetricsServer::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = server.local_addr();
        let stop = server.stop_handle();
        std::thread::scope(|s| {
            let t = s.spawn(|| server.serve(|| "m_total 1\n".to_string()));
            f(addr);
            stop.stop();
            t.join().unwrap();
        });
    }

    fn request(addr: SocketAddr, raw: &[u8]) -> String {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(raw).unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn answers_metrics_and_404() {
        with_server(|addr| {
            let ok = request(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
            assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
            assert!(ok.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
            assert!(ok.contains("\r\nContent-Length: 10\r\n"));
            assert!(ok.ends_with("\r\n\r\nm_total 1\n"), "{ok}");
            let q = request(addr, b"GET /metrics?x=1 HTTP/1.0\r\n\r\n");
            assert!(q.starts_with("HTTP/1.1 200 OK\r\n"), "{q}");
            let head = request(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
            assert!(
                head.ends_with("Content-Length: 10\r\nConnection: close\r\n\r\n"),
                "{head}"
            );
            let nf = request(addr, b"GET / HTTP/1.1\r\n\r\n");
            assert!(nf.starts_with("HTTP/1.1 404 Not Found\r\n"), "{nf}");
            let post = request(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
            assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
            assert!(post.contains("\r\nAllow: GET, HEAD\r\n"));
            let bad = request(addr, b"\x00\x01garbage\r\n\r\n");
            assert!(bad.starts_with("HTTP/1.1 400 "), "{bad}");
            let long = [b"GET /metrics HTTP/1.1\r\nX: ".as_slice(), &[b'a'; 9000]].concat();
            let big = request(addr, &long);
            assert!(big.starts_with("HTTP/1.1 431 "), "{big}");
        });
    }

    #[test]
    fn a_silent_client_does_not_hold_the_server() {
        with_server(|addr| {
            // Connects and sends half a request, then nothing.
            let mut slow = TcpStream::connect(addr).unwrap();
            slow.write_all(b"GET /met").unwrap();
            let start = Instant::now();
            let ok = request(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
            assert!(ok.starts_with("HTTP/1.1 200 OK"), "{ok}");
            let waited = start.elapsed();
            assert!(
                waited < REQUEST_TIMEOUT + Duration::from_secs(2),
                "{waited:?}"
            );
            // The slow client was dropped without an answer.
            slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut rest = Vec::new();
            let _ = slow.read_to_end(&mut rest);
            assert!(rest.is_empty());
        });
    }

    #[test]
    fn binding_a_used_port_is_an_error() {
        let a = MetricsServer::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let err = MetricsServer::bind(a.local_addr()).unwrap_err();
        assert!(
            err.to_string().starts_with("cannot listen on 127.0.0.1:"),
            "{err}"
        );
    }
}
