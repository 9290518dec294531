//! FTP control connections (RFC 959, RFC 2428): one [`Ftp`] record per
//! command with its final reply (a 1xx preliminary reply is kept as
//! `InfoCode`), the data endpoints PORT, EPRT, PASV and EPSV announce, the
//! file name and direction of transfer commands, and the USER/PASS login as
//! [`Credentials`](netcap_schema::Credentials).
//!
//! The data connection itself is another TCP connection, possibly on another
//! worker: it is not linked here. The record gives the announced endpoint
//! (`DataIP`, `DataPort`), on which the writer stage joins it
//! (`netcap_derive::ftp`, the FTPData records).

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};

use netcap_schema::Ftp;

use super::creds::Login;
use super::{
    add_text, contains_ci, first_line, is_verb, reply_code, Cmd, Common, Line, LineParser,
    LineProto, Reply, Then, MAX_QUEUE,
};
use crate::parser::{Cx, Dir, Probe, Protocol};
use crate::records::StreamRecord;

/// The FTP stream protocol.
pub const PROTOCOL: Protocol = Protocol {
    name: "FTP",
    ports: &[21, 2121],
    probe,
    new: || Box::<LineParser<FtpProto>>::default(),
};

/// Commands a client starts an FTP session with (USER apart). PASS is left
/// out: IRC clients start with it.
const CLIENT_FIRST: &[&str] = &["AUTH", "FEAT", "SYST", "OPTS", "CLNT", "HOST"];

fn probe(dir: Dir, data: &[u8], hint: bool) -> Probe {
    let Some(line) = first_line(data) else {
        return if data.len() >= super::MAX_LINE {
            Probe::No
        } else {
            Probe::NeedMore
        };
    };
    match dir {
        Dir::ToClient => {
            let code = line.get(..3).unwrap_or_default();
            let sep = line.get(3).copied();
            if !matches!(code, b"220" | b"120" | b"421") || !matches!(sep, Some(b' ' | b'-')) {
                return Probe::No;
            }
            if contains_ci(line, b"SMTP") || contains_ci(line, b"mail") {
                Probe::No
            } else if hint || contains_ci(line, b"FTP") {
                Probe::Yes
            } else {
                // "220 Welcome": the client's first command tells.
                Probe::NeedMore
            }
        }
        Dir::ToServer => {
            // "USER name": one word (IRC's USER has four parameters).
            let (verb, args) = super::split_word(line);
            let user = verb.eq_ignore_ascii_case(b"USER")
                && !args.trim_ascii().is_empty()
                && !args.trim_ascii().contains(&b' ');
            if user || CLIENT_FIRST.iter().any(|c| is_verb(line, c)) {
                Probe::Yes
            } else {
                Probe::No
            }
        }
    }
}

/// A command waiting for its reply.
#[derive(Debug, Clone, Default)]
struct Pending {
    cmd: Cmd,
    info: i32,
    data: Option<(IpAddr, u16, bool)>,
}

/// A multi-line reply being read.
#[derive(Debug, Default)]
struct Multi {
    code: i32,
    reply: Reply,
}

/// FTP state of a connection.
#[derive(Debug, Default)]
pub(crate) struct FtpProto {
    queue: VecDeque<Pending>,
    multi: Option<Multi>,
    user: String,
    /// The last endpoint announced, for the transfers that follow.
    data: Option<(IpAddr, u16, bool)>,
    login: Option<Login>,
    /// AUTH TLS/SSL sent: client bytes wait for its reply.
    auth_tls: bool,
    tls: bool,
    partial: bool,
}

/// `h1,h2,h3,h4,p1,p2` (PORT and the 227 reply).
fn host_port(s: &[u8]) -> Option<(IpAddr, u16)> {
    let mut n = [0u16; 6];
    let mut parts = s.split(|&b| b == b',');
    for v in &mut n {
        let p = std::str::from_utf8(parts.next()?.trim_ascii()).ok()?;
        *v = p.parse::<u8>().ok()?.into();
    }
    if parts.next().is_some() {
        return None;
    }
    let [a, b, c, d, p1, p2] = n;
    let ip = Ipv4Addr::new(a as u8, b as u8, c as u8, d as u8);
    Some((IpAddr::V4(ip), (p1 << 8) | p2))
}

/// `|af|addr|port|` of EPRT (and `|||port|` of the 229 reply).
fn extended(s: &[u8]) -> Option<(Option<IpAddr>, u16)> {
    let s = s.trim_ascii();
    let delim = *s.first()?;
    let mut parts = s.get(1..)?.split(|&b| b == delim);
    let _af = parts.next()?;
    let addr = std::str::from_utf8(parts.next()?).ok()?;
    let port = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let ip = if addr.is_empty() {
        None
    } else {
        Some(addr.parse().ok()?)
    };
    Some((ip, port))
}

/// Transfer commands and the direction of their data.
fn transfer(verb: &str) -> Option<&'static str> {
    match verb.to_ascii_uppercase().as_str() {
        "RETR" | "LIST" | "NLST" | "MLSD" => Some("download"),
        "STOR" | "STOU" | "APPE" => Some("upload"),
        _ => None,
    }
}

impl FtpProto {
    fn command(&mut self, line: &Line<'_>, cx: &mut Cx<'_>) {
        let mut cmd = Cmd::from_line(line, cx);
        cmd.partial = std::mem::take(&mut self.partial);
        let verb = cmd.verb.to_ascii_uppercase();
        let mut data = None;
        match verb.as_str() {
            "USER" => {
                self.user = cmd.args.clone();
                self.login = None;
            }
            "PASS" => {
                self.login = Some(Login {
                    origin: cmd.origin,
                    user: self.user.clone(),
                    password: cmd.args.clone(),
                    notes: "USER/PASS".into(),
                });
            }
            "PORT" => {
                data = host_port(cmd.args.as_bytes()).map(|(ip, p)| (ip, p, false));
                self.data = data;
            }
            "EPRT" => {
                data = extended(cmd.args.as_bytes()).and_then(|(ip, p)| Some((ip?, p, false)));
                self.data = data;
            }
            "AUTH"
                if is_verb(cmd.args.as_bytes(), "TLS") || is_verb(cmd.args.as_bytes(), "SSL") =>
            {
                self.auth_tls = true;
            }
            v if transfer(v).is_some() => data = self.data,
            _ => {}
        }
        if self.queue.len() >= MAX_QUEUE {
            if let Some(old) = self.queue.pop_front() {
                self.write(old, 0, Reply::default(), cx);
            }
        }
        self.queue.push_back(Pending { cmd, info: 0, data });
    }

    fn reply_line(&mut self, line: &Line<'_>, cx: &mut Cx<'_>) {
        let parsed = reply_code(line.text);
        let Some(m) = &mut self.multi else {
            let Some((code, last)) = parsed else {
                return; // Not a reply: ignored.
            };
            let mut reply = Reply {
                origin: cx.origin(line.start),
                truncated: line.cut,
                ..Reply::default()
            };
            add_text(&mut reply.text, line.text.get(4..).unwrap_or_default());
            if last {
                self.reply(code, reply, cx);
            } else {
                self.multi = Some(Multi { code, reply });
            }
            return;
        };
        m.reply.truncated |= line.cut;
        // The last line repeats the code followed by a space (RFC 959 4.2);
        // the lines between are text, code or not.
        match parsed {
            Some((code, true)) if code == m.code => {
                add_text(&mut m.reply.text, line.text.get(4..).unwrap_or_default());
                if let Some(m) = self.multi.take() {
                    self.reply(m.code, m.reply, cx);
                }
            }
            Some((code, false)) if code == m.code => {
                add_text(&mut m.reply.text, line.text.get(4..).unwrap_or_default())
            }
            _ => add_text(&mut m.reply.text, line.text),
        }
    }

    fn reply(&mut self, code: i32, reply: Reply, cx: &mut Cx<'_>) {
        let Some(mut p) = self.queue.pop_front() else {
            // The greeting, or a reply nothing asked for.
            self.write(Pending::default(), code, reply, cx);
            return;
        };
        if (100..200).contains(&code) {
            // Preliminary: the final reply follows.
            p.info = code;
            self.queue.push_front(p);
            return;
        }
        let verb = p.cmd.verb.to_ascii_uppercase();
        match verb.as_str() {
            "PASV" if code == 227 => {
                // "Entering Passive Mode (h1,h2,h3,h4,p1,p2)": the numbers
                // after the first digit of the text.
                let t = reply.text.as_bytes();
                let from = t.iter().position(u8::is_ascii_digit).unwrap_or(t.len());
                let rest = t.get(from..).unwrap_or_default();
                let end = rest
                    .iter()
                    .position(|b| !(b.is_ascii_digit() || *b == b',' || *b == b' '))
                    .unwrap_or(rest.len());
                if let Some((ip, port)) = rest.get(..end).and_then(host_port) {
                    p.data = Some((ip, port, true));
                    self.data = p.data;
                }
            }
            "EPSV" if code == 229 => {
                // "(|||port|)": the server's own address.
                let t = reply.text.as_bytes();
                let inner = t
                    .iter()
                    .position(|&b| b == b'(')
                    .and_then(|i| t.get(i + 1..))
                    .map(|r| r.split(|&b| b == b')').next().unwrap_or_default());
                if let Some((ip, port)) = inner.and_then(extended) {
                    p.data = Some((ip.unwrap_or(cx.meta.server.0), port, true));
                    self.data = p.data;
                }
            }
            "PASS" => {
                if let Some(l) = self.login.take() {
                    l.emit("FTP", &code.to_string(), (200..300).contains(&code), cx);
                }
            }
            "AUTH" if self.auth_tls => {
                self.auth_tls = false;
                if code == 234 {
                    self.tls = true;
                }
            }
            _ => {}
        }
        self.write(p, code, reply, cx);
    }

    fn write(&self, p: Pending, code: i32, reply: Reply, cx: &mut Cx<'_>) {
        let at = if p.cmd.verb.is_empty() {
            reply.origin
        } else {
            p.cmd.origin
        };
        let c = Common::of(cx, at);
        let direction = transfer(&p.cmd.verb);
        let (ip, port, passive) = p
            .data
            .map_or((String::new(), 0, false), |(ip, port, pasv)| {
                (netcap_decode::text::ip_text(ip), i32::from(port), pasv)
            });
        let start_tls = p.cmd.verb.eq_ignore_ascii_case("AUTH") && code == 234;
        let rec = Ftp {
            timestamp: c.timestamp,
            packet_number: c.packet_number,
            connection_uid: c.connection_uid,
            src_ip: c.src_ip,
            src_port: c.src_port,
            dst_ip: c.dst_ip,
            dst_port: c.dst_port,
            file_name: if direction.is_some() {
                p.cmd.args.clone()
            } else {
                String::new()
            },
            file_direction: direction.unwrap_or_default().to_string(),
            command: p.cmd.verb,
            arguments: p.cmd.args,
            reply_code: code,
            reply_text: reply.text,
            info_code: p.info,
            data_ip: ip,
            data_port: port,
            data_passive: passive,
            user: self.user.clone(),
            start_tls,
            reply_timestamp: reply.origin.ts_ns,
            reply_packet_number: reply.origin.number,
            partial: p.cmd.partial,
            truncated: p.cmd.truncated || reply.truncated,
            ..Default::default()
        };
        cx.emit(StreamRecord::Ftp(Box::new(rec)));
    }
}

impl LineProto for FtpProto {
    const NAME: &'static str = "FTP";

    fn line(&mut self, dir: Dir, line: &Line<'_>, cx: &mut Cx<'_>) -> Then {
        match dir {
            Dir::ToServer => {
                if !line.text.trim_ascii().is_empty() {
                    self.command(line, cx);
                }
            }
            Dir::ToClient => self.reply_line(line, cx),
        }
        Then::Line
    }

    fn gap(&mut self, dir: Dir, _len: u64, cx: &mut Cx<'_>) {
        match dir {
            Dir::ToServer => self.partial = true,
            Dir::ToClient => {
                // Replies were lost: which command they answered is unknown.
                self.multi = None;
                while let Some(mut p) = self.queue.pop_front() {
                    p.cmd.partial = true;
                    self.write(p, 0, Reply::default(), cx);
                }
                self.login = None;
            }
        }
    }

    fn finish(&mut self, cx: &mut Cx<'_>) {
        if let Some(m) = self.multi.take() {
            self.reply(m.code, m.reply, cx);
        }
        while let Some(p) = self.queue.pop_front() {
            if p.cmd.verb.eq_ignore_ascii_case("PASS") {
                if let Some(l) = self.login.take() {
                    l.emit("FTP", "", false, cx);
                }
            }
            self.write(p, 0, Reply::default(), cx);
        }
    }

    fn memory(&self) -> usize {
        self.queue.capacity() * std::mem::size_of::<Pending>()
            + self.queue.iter().map(|p| p.cmd.memory()).sum::<usize>()
            + self.multi.as_ref().map_or(0, |m| m.reply.memory())
            + self.user.capacity()
            + self.login.as_ref().map_or(0, Login::memory)
    }

    fn hold(&self, dir: Dir) -> bool {
        dir == Dir::ToServer && self.auth_tls
    }

    fn tls(&self) -> bool {
        self.tls
    }
}

#[cfg(test)]
pub(crate) fn parse_host_port(s: &[u8]) -> Option<(IpAddr, u16)> {
    host_port(s)
}

#[cfg(test)]
pub(crate) fn parse_extended(s: &[u8]) -> Option<(Option<IpAddr>, u16)> {
    extended(s)
}
