//! Expected connections (Zeek's term): the data connections an FTP control
//! connection announced. The FTP parser writes an FTP record for each
//! accepted PORT or EPRT and each PASV or EPSV answered with 227 or 229,
//! with the endpoint (`DataIP`, `DataPort`) the data connection will be
//! opened to; the next TCP connection to that endpoint between the same two
//! hosts gets the FTP data parser from its first byte instead of the
//! content detection (`netcap_stream::ftp_data`).
//!
//! Packets are sharded by their outermost address pair, so a data
//! connection between the control connection's two hosts (in the same
//! tunnel, if any) is on the control connection's worker whatever
//! `--workers` is, and is seen after the announcement in packet order: the
//! table is the worker's own and needs no cross-thread step. A data
//! connection between other hosts (FXP, a NAT that rewrote the announced
//! address) is not recognised: a table shared by the workers could not make
//! that decision independent of their number. Such connections still get
//! their FTPData record (the writer joins them by endpoint).
//!
//! Bounded: at most [`MAX_EXPECTED`] announcements wait per worker (the
//! oldest is dropped and counted) and each expires [`EXPIRE_NS`] after it
//! was made.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use netcap_schema::Ftp;

/// Announcements waiting per worker.
pub const MAX_EXPECTED: usize = 4096;

/// An announcement is forgotten this long after it was made, in packet
/// time (Zeek's `FTP::data_channel` expectations last 5 minutes too).
pub const EXPIRE_NS: i64 = 300 * 1_000_000_000;

/// Address pair of a connection, lower first.
type Pair = (IpAddr, IpAddr);

fn pair(a: IpAddr, b: IpAddr) -> Pair {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// Where a data connection is expected: tunnel context, address, port.
type Endpoint = (u64, IpAddr, u16);

#[derive(Debug, Clone, Copy)]
struct Expected {
    /// The control connection's address pair.
    pair: Pair,
    /// Time of the announcement.
    ts_ns: i64,
    /// Announcement number (tells a replaced entry from the one queued).
    seq: u64,
}

/// One worker's expected data connections.
#[derive(Debug, Default)]
pub(crate) struct Expectations {
    by_endpoint: HashMap<Endpoint, Expected>,
    /// Announcements oldest first, to drop when full.
    order: VecDeque<(u64, Endpoint)>,
    seq: u64,
    /// Announcements dropped because the table was full.
    pub dropped: u64,
    /// Data connections recognised.
    pub matched: u64,
}

/// The data endpoint an FTP record announces, if it announces one: PORT
/// or EPRT accepted (2xx), PASV answered 227, EPSV answered 229.
pub(crate) fn announced(f: &Ftp) -> Option<(IpAddr, u16)> {
    let port = u16::try_from(f.data_port).ok().filter(|p| *p != 0)?;
    // A transfer command repeats the last endpoint: not an announcement.
    if !f.file_direction.is_empty() {
        return None;
    }
    let ok = match f.command.to_ascii_uppercase().as_str() {
        "PORT" | "EPRT" => (200..300).contains(&f.reply_code),
        "PASV" => f.reply_code == 227,
        "EPSV" => f.reply_code == 229,
        _ => false,
    };
    if !ok {
        return None;
    }
    let ip: IpAddr = f.data_ip.parse().ok()?;
    Some((ip, port))
}

impl Expectations {
    /// Whether nothing waits (the common case: no lookup at all).
    pub fn is_empty(&self) -> bool {
        self.by_endpoint.is_empty()
    }

    /// The control connection between `a` and `b` (in tunnel context `ctx`)
    /// announced `endpoint` at `ts_ns`.
    pub fn announce(
        &mut self,
        ctx: u64,
        a: IpAddr,
        b: IpAddr,
        endpoint: (IpAddr, u16),
        ts_ns: i64,
    ) {
        let key = (ctx, endpoint.0, endpoint.1);
        self.seq += 1;
        let e = Expected {
            pair: pair(a, b),
            ts_ns,
            seq: self.seq,
        };
        // A new announcement of the same endpoint replaces the older one.
        self.by_endpoint.insert(key, e);
        self.order.push_back((e.seq, key));
        while self.by_endpoint.len() > MAX_EXPECTED || self.order.len() > 2 * MAX_EXPECTED {
            let Some((seq, k)) = self.order.pop_front() else {
                break;
            };
            if self.by_endpoint.get(&k).is_some_and(|x| x.seq == seq) {
                self.by_endpoint.remove(&k);
                self.dropped += 1;
            }
        }
    }

    /// Whether the connection from `client` to `server` (context `ctx`),
    /// whose first byte comes at `ts_ns`, is an announced data connection;
    /// its announcement is used up.
    pub fn take(
        &mut self,
        ctx: u64,
        client: (IpAddr, u16),
        server: (IpAddr, u16),
        ts_ns: i64,
    ) -> bool {
        let p = pair(client.0, server.0);
        // The endpoint is the side that was connected to; a connection
        // picked up mid-stream may have its roles guessed the other way.
        for end in [server, client] {
            let key = (ctx, end.0, end.1);
            let Some(e) = self.by_endpoint.get(&key).copied() else {
                continue;
            };
            if ts_ns.saturating_sub(e.ts_ns) > EXPIRE_NS {
                self.by_endpoint.remove(&key);
                continue;
            }
            if e.pair != p {
                continue;
            }
            self.by_endpoint.remove(&key);
            self.matched += 1;
            return true;
        }
        // Expired entries are also let go here, in announcement order.
        while let Some(&(seq, k)) = self.order.front() {
            match self.by_endpoint.get(&k) {
                Some(e) if e.seq == seq && ts_ns.saturating_sub(e.ts_ns) <= EXPIRE_NS => break,
                Some(e) if e.seq == seq => {
                    self.by_endpoint.remove(&k);
                }
                _ => {}
            }
            self.order.pop_front();
        }
        false
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn ftp(cmd: &str, code: i32, data_ip: &str, port: i32) -> Ftp {
        Ftp {
            command: cmd.into(),
            reply_code: code,
            data_ip: data_ip.into(),
            data_port: port,
            ..Ftp::default()
        }
    }

    #[test]
    fn only_accepted_announcements_count() {
        assert_eq!(
            announced(&ftp("PORT", 200, "10.0.0.1", 5001)),
            Some((ip("10.0.0.1"), 5001))
        );
        assert_eq!(
            announced(&ftp("epsv", 229, "fd00::2", 40000)),
            Some((ip("fd00::2"), 40000))
        );
        assert_eq!(announced(&ftp("PORT", 500, "10.0.0.1", 5001)), None);
        assert_eq!(announced(&ftp("PASV", 0, "10.0.0.1", 5001)), None);
        assert_eq!(announced(&ftp("PASV", 227, "10.0.0.1", 0)), None);
        assert_eq!(announced(&ftp("PASV", 227, "10.0.0.1", 70000)), None);
        assert_eq!(announced(&ftp("PASV", 227, "not an address", 21)), None);
        let mut retr = ftp("RETR", 226, "10.0.0.1", 5001);
        retr.file_direction = "download".into();
        assert_eq!(announced(&retr), None);
    }

    #[test]
    fn a_data_connection_between_the_control_hosts_matches_once() {
        let (c, s) = (ip("10.0.0.1"), ip("10.0.0.2"));
        let mut x = Expectations::default();
        assert!(x.is_empty());
        x.announce(0, c, s, (s, 40000), 10);
        // Another host, another tunnel context, another port: no.
        assert!(!x.take(0, (ip("10.0.0.9"), 999), (s, 40000), 20));
        assert!(!x.take(7, (c, 999), (s, 40000), 20));
        assert!(!x.take(0, (c, 999), (s, 40001), 20));
        assert!(x.take(0, (c, 999), (s, 40000), 20));
        assert!(!x.take(0, (c, 1000), (s, 40000), 30), "used up");
        // Active mode: the server connects to the client's endpoint; roles
        // guessed the other way still match.
        x.announce(0, c, s, (c, 5001), 40);
        assert!(x.take(0, (c, 5001), (s, 20), 50));
        assert_eq!(x.matched, 2);
    }

    #[test]
    fn announcements_expire_and_are_bounded() {
        let (c, s) = (ip("10.0.0.1"), ip("10.0.0.2"));
        let mut x = Expectations::default();
        x.announce(0, c, s, (s, 1), 0);
        assert!(!x.take(0, (c, 9), (s, 1), EXPIRE_NS + 1));
        assert!(x.is_empty(), "expired entries are let go");
        for port in 0..(MAX_EXPECTED as u16 + 10) {
            x.announce(0, c, s, (s, port.wrapping_add(1)), 0);
        }
        assert_eq!(x.by_endpoint.len(), MAX_EXPECTED);
        assert_eq!(x.dropped, 10);
        // The oldest went first.
        assert!(!x.take(0, (c, 9), (s, 1), 1));
        assert!(x.take(0, (c, 9), (s, MAX_EXPECTED as u16 + 10), 1));
        // Re-announcing one endpoint over and over keeps the queue bounded.
        for _ in 0..(3 * MAX_EXPECTED) {
            x.announce(0, c, s, (s, 7), 0);
        }
        assert!(x.order.len() <= 2 * MAX_EXPECTED + 1);
    }
}
