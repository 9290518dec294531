//! SMTP (RFC 5321): one [`Smtp`] record per command with its final reply,
//! pipelined commands (RFC 2920) paired in order. DATA's record carries the
//! 354 as `InfoCode` and the reply to the end of the message as its reply,
//! with the size of the message; BDAT chunks (RFC 3030) are counted. AUTH
//! (RFC 4954) logins become [`Credentials`](netcap_schema::Credentials);
//! after an accepted STARTTLS (RFC 3207) the connection goes to TLS.

use std::collections::VecDeque;

use netcap_schema::Smtp;

use super::creds::Sasl;
use super::{
    add_text, contains_ci, first_line, is_verb, reply_code, Cmd, Common, Line, LineParser,
    LineProto, Reply, Then, MAX_QUEUE,
};
use crate::parser::{Cx, Dir, Probe, Protocol};
use crate::records::StreamRecord;

/// The SMTP stream protocol.
pub const PROTOCOL: Protocol = Protocol {
    name: "SMTP",
    ports: &[25, 587, 2525],
    probe,
    new: || Box::<LineParser<SmtpProto>>::default(),
};

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
            if !matches!(line.get(..4), Some(b"220 " | b"220-" | b"554 " | b"421 ")) {
                return Probe::No;
            }
            if hint || contains_ci(line, b"SMTP") || contains_ci(line, b"mail") {
                Probe::Yes
            } else if contains_ci(line, b"FTP") {
                Probe::No
            } else {
                Probe::NeedMore
            }
        }
        Dir::ToServer => {
            if is_verb(line, "EHLO") || is_verb(line, "HELO") || is_verb(line, "LHLO") {
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
    message_bytes: i64,
}

/// SMTP state of a connection.
#[derive(Debug, Default)]
pub(crate) struct SmtpProto {
    queue: VecDeque<Pending>,
    /// A multi-line reply being read: its code and text.
    multi: Option<(i32, Reply)>,
    /// The client sends a message (after DATA) up to the "." line.
    in_data: bool,
    /// The running AUTH exchange; `want` when a 334 asked for a response.
    sasl: Option<Sasl>,
    want_sasl: bool,
    /// STARTTLS sent: client bytes wait for its reply.
    starttls: bool,
    tls: bool,
    partial: bool,
}

impl SmtpProto {
    fn client_line(&mut self, line: &Line<'_>, cx: &mut Cx<'_>) -> Then {
        if self.in_data {
            if line.text == b"." {
                self.in_data = false;
            } else if let Some(p) = self.queue.back_mut() {
                p.message_bytes += line.wire as i64;
            }
            return Then::Line;
        }
        if self.want_sasl {
            self.want_sasl = false;
            if let Some(s) = &mut self.sasl {
                s.response(line.text);
            }
            return Then::Line;
        }
        if line.text.trim_ascii().is_empty() {
            return Then::Line;
        }
        let mut cmd = Cmd::from_line(line, cx);
        cmd.partial = std::mem::take(&mut self.partial);
        let verb = cmd.verb.to_ascii_uppercase();
        let mut then = Then::Line;
        let mut message_bytes = 0;
        match verb.as_str() {
            "DATA" => self.in_data = true,
            "BDAT" => {
                let n = cmd
                    .args
                    .split(' ')
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
                message_bytes = i64::try_from(n).unwrap_or(i64::MAX);
                then = Then::Raw(n);
            }
            "AUTH" => self.sasl = Some(Sasl::start(cmd.args.as_bytes(), cmd.origin)),
            "STARTTLS" => self.starttls = true,
            _ => {}
        }
        if self.queue.len() >= MAX_QUEUE {
            if let Some(old) = self.queue.pop_front() {
                self.write(old, 0, Reply::default(), cx);
            }
        }
        self.queue.push_back(Pending {
            cmd,
            info: 0,
            message_bytes,
        });
        then
    }

    fn reply_line(&mut self, line: &Line<'_>, cx: &mut Cx<'_>) {
        let parsed = reply_code(line.text);
        let rest = line.text.get(4..).unwrap_or_default();
        match (&mut self.multi, parsed) {
            (None, None) => {}
            (None, Some((code, last))) => {
                let mut reply = Reply {
                    origin: cx.origin(line.start),
                    truncated: line.cut,
                    ..Reply::default()
                };
                add_text(&mut reply.text, rest);
                if last {
                    self.reply(code, reply, cx);
                } else {
                    self.multi = Some((code, reply));
                }
            }
            (Some((_, r)), parsed) => {
                r.truncated |= line.cut;
                add_text(&mut r.text, if parsed.is_some() { rest } else { line.text });
                if matches!(parsed, Some((_, true))) {
                    if let Some((code, r)) = self.multi.take() {
                        self.reply(code, r, cx);
                    }
                }
            }
        }
    }

    fn reply(&mut self, code: i32, reply: Reply, cx: &mut Cx<'_>) {
        let Some(mut p) = self.queue.pop_front() else {
            self.write(Pending::default(), code, reply, cx);
            return;
        };
        let verb = p.cmd.verb.to_ascii_uppercase();
        match (verb.as_str(), code) {
            ("DATA", 354) | ("AUTH", 334) => {
                // Intermediate: the final reply follows the message or the
                // SASL exchange.
                p.info = code;
                self.want_sasl = verb == "AUTH";
                self.queue.push_front(p);
                return;
            }
            ("DATA", _) => self.in_data = false,
            ("AUTH", _) => {
                self.want_sasl = false;
                if let Some(s) = self.sasl.take() {
                    if s.found {
                        let ok = (200..300).contains(&code);
                        s.login.emit("SMTP", &code.to_string(), ok, cx);
                    }
                }
            }
            ("STARTTLS", _) => {
                self.starttls = false;
                self.tls = code == 220;
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
        let start_tls = p.cmd.verb.eq_ignore_ascii_case("STARTTLS") && code == 220;
        let rec = Smtp {
            timestamp: c.timestamp,
            packet_number: c.packet_number,
            connection_uid: c.connection_uid,
            src_ip: c.src_ip,
            src_port: c.src_port,
            dst_ip: c.dst_ip,
            dst_port: c.dst_port,
            command: p.cmd.verb,
            arguments: p.cmd.args,
            reply_code: code,
            reply_text: reply.text,
            info_code: p.info,
            message_bytes: p.message_bytes,
            start_tls,
            reply_timestamp: reply.origin.ts_ns,
            reply_packet_number: reply.origin.number,
            partial: p.cmd.partial,
            truncated: p.cmd.truncated || reply.truncated,
            ..Default::default()
        };
        cx.emit(StreamRecord::Smtp(Box::new(rec)));
    }
}

impl LineProto for SmtpProto {
    const NAME: &'static str = "SMTP";

    fn line(&mut self, dir: Dir, line: &Line<'_>, cx: &mut Cx<'_>) -> Then {
        match dir {
            Dir::ToServer => self.client_line(line, cx),
            Dir::ToClient => {
                self.reply_line(line, cx);
                Then::Line
            }
        }
    }

    fn gap(&mut self, dir: Dir, _len: u64, cx: &mut Cx<'_>) {
        match dir {
            Dir::ToServer => {
                self.partial = true;
                self.want_sasl = false;
                if let Some(p) = self.queue.back_mut() {
                    p.cmd.partial = true;
                }
            }
            Dir::ToClient => {
                self.multi = None;
                self.want_sasl = false;
                self.sasl = None;
                while let Some(mut p) = self.queue.pop_front() {
                    p.cmd.partial = true;
                    self.write(p, 0, Reply::default(), cx);
                }
            }
        }
    }

    fn finish(&mut self, cx: &mut Cx<'_>) {
        if let Some((code, r)) = self.multi.take() {
            self.reply(code, r, cx);
        }
        if let Some(s) = self.sasl.take() {
            if s.found {
                s.login.emit("SMTP", "", false, cx);
            }
        }
        while let Some(p) = self.queue.pop_front() {
            self.write(p, 0, Reply::default(), cx);
        }
    }

    fn memory(&self) -> usize {
        self.queue.capacity() * std::mem::size_of::<Pending>()
            + self.queue.iter().map(|p| p.cmd.memory()).sum::<usize>()
            + self.multi.as_ref().map_or(0, |(_, r)| r.memory())
            + self.sasl.as_ref().map_or(0, Sasl::memory)
    }

    fn hold(&self, dir: Dir) -> bool {
        dir == Dir::ToServer && self.starttls
    }

    fn tls(&self) -> bool {
        self.tls
    }
}
