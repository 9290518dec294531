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
use crate::mime::MailBuilder;
use crate::parser::{Cx, Dir, Probe, Protocol};
use crate::records::StreamRecord;

/// Most RCPT TO addresses kept per transaction.
const MAX_RCPT: usize = 128;

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
    /// The Mail record of the message this command carried.
    mail_id: String,
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
    /// The transaction's envelope (MAIL FROM, RCPT TO).
    mail_from: String,
    rcpt: Vec<String>,
    /// The message being received (DATA, BDAT).
    mail: Option<MailBuilder>,
    /// BDAT: the chunk being read is the last.
    bdat_last: bool,
    bdat_left: u64,
    /// Mails and files of the connection so far (their IDs count on).
    mails: u64,
    files: u64,
}

/// The address of a MAIL FROM:<a> or RCPT TO:<a> argument (`<>` removed).
fn address(args: &str) -> String {
    let rest = args.split_once(':').map_or(args, |(_, r)| r).trim_start();
    let end = match rest.strip_prefix('<') {
        Some(r) => return r.split('>').next().unwrap_or_default().to_string(),
        None => rest.find(' ').unwrap_or(rest.len()),
    };
    rest.get(..end).unwrap_or_default().to_string()
}

impl SmtpProto {
    fn client_line(&mut self, line: &Line<'_>, cx: &mut Cx<'_>) -> Then {
        if self.in_data {
            if line.text == b"." {
                self.in_data = false;
                self.end_mail(true, cx);
            } else {
                if let Some(p) = self.queue.back_mut() {
                    p.message_bytes += line.wire as i64;
                }
                if let Some(m) = &mut self.mail {
                    // Dot-stuffing (RFC 5321 section 4.5.2).
                    let text = line.text.strip_prefix(b".").unwrap_or(line.text);
                    m.line(text, line.cut, cx);
                }
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
        let mut mail_id = String::new();
        match verb.as_str() {
            "DATA" => {
                self.in_data = true;
                self.start_mail(cmd.origin, cx);
                mail_id = self
                    .mail
                    .as_ref()
                    .map(|m| m.id().to_string())
                    .unwrap_or_default();
            }
            "BDAT" => {
                let mut words = cmd.args.split(' ');
                let n = words
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
                let last = words.any(|w| w.eq_ignore_ascii_case("LAST"));
                message_bytes = i64::try_from(n).unwrap_or(i64::MAX);
                then = Then::Raw(n);
                if self.mail.is_none() {
                    self.start_mail(cmd.origin, cx);
                }
                mail_id = self
                    .mail
                    .as_ref()
                    .map(|m| m.id().to_string())
                    .unwrap_or_default();
                self.bdat_last = last;
                self.bdat_left = n;
                if n == 0 && last {
                    self.end_mail(true, cx);
                }
            }
            "MAIL" => {
                self.mail_from = address(&cmd.args);
                self.rcpt.clear();
            }
            "RCPT" if self.rcpt.len() < MAX_RCPT => self.rcpt.push(address(&cmd.args)),
            "RSET" => {
                self.mail_from.clear();
                self.rcpt.clear();
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
            mail_id,
        });
        then
    }

    /// A message starts (DATA, the first BDAT) with the command at `origin`.
    fn start_mail(&mut self, origin: crate::parser::Origin, cx: &mut Cx<'_>) {
        self.mails += 1;
        let id = crate::file::mail_uid(&cx.meta.uid, self.mails);
        self.mail = Some(MailBuilder::new("SMTP", id, origin, true, self.files, cx));
    }

    /// The message ended (`complete`: its end was seen): its records are
    /// written and the transaction's envelope is over.
    fn end_mail(&mut self, complete: bool, cx: &mut Cx<'_>) {
        let Some(mut m) = self.mail.take() else {
            return;
        };
        m.envelope(&self.mail_from, &self.rcpt);
        self.files += m.files();
        m.finish(complete, cx);
        self.mail_from.clear();
        self.rcpt.clear();
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
            ("DATA", _) => {
                // Refused before the message (no 354), or its final reply.
                self.in_data = false;
                self.mail = None;
            }
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
            mail_id: p.mail_id,
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

    fn raw(&mut self, dir: Dir, data: &[u8], _start: usize, cx: &mut Cx<'_>) {
        if dir != Dir::ToServer {
            return;
        }
        if let Some(m) = &mut self.mail {
            m.raw(data, cx);
        }
        self.bdat_left = self.bdat_left.saturating_sub(data.len() as u64);
        if self.bdat_left == 0 && self.bdat_last {
            self.bdat_last = false;
            self.end_mail(true, cx);
        }
    }

    fn gap(&mut self, dir: Dir, _len: u64, cx: &mut Cx<'_>) {
        match dir {
            Dir::ToServer => {
                if let Some(m) = &mut self.mail {
                    m.gap();
                }
                self.bdat_left = 0;
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
        self.end_mail(false, cx);
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
            + self.mail.as_ref().map_or(0, MailBuilder::memory)
            + self.rcpt.iter().map(String::capacity).sum::<usize>()
    }

    fn hold(&self, dir: Dir) -> bool {
        dir == Dir::ToServer && self.starttls
    }

    fn tls(&self) -> bool {
        self.tls
    }
}
