//! POP3 (RFC 1939, RFC 2449, RFC 5034): one [`Pop3`] record per command
//! with its `+OK`/`-ERR` status line; the body of a multi-line response
//! (CAPA, LIST and UIDL without argument, RETR, TOP, AUTH without argument)
//! is read up to its "." line and counted, not kept; the message of RETR
//! and the headers (and first lines) of TOP become a
//! [`Mail`](netcap_schema::Mail). USER/PASS, APOP and
//! AUTH logins become [`Credentials`](netcap_schema::Credentials); after an
//! accepted STLS the connection goes to TLS.

use std::collections::VecDeque;

use netcap_schema::Pop3;

use super::creds::{Login, Sasl};
use super::{
    first_line, is_verb, split_word, text, Cmd, Common, Line, LineParser, LineProto, Reply, Then,
    MAX_QUEUE, MAX_TEXT,
};
use crate::mime::MailBuilder;
use crate::parser::{Cx, Dir, Probe, Protocol};
use crate::records::StreamRecord;

/// The POP3 stream protocol.
pub const PROTOCOL: Protocol = Protocol {
    name: "POP3",
    ports: &[110],
    probe,
    new: || Box::<LineParser<Pop3Proto>>::default(),
};

/// Commands only POP3 clients send first (USER and AUTH are FTP's too: they
/// count with the port hint only).
const CLIENT_FIRST: &[&str] = &["CAPA", "APOP", "STLS", "STAT", "UIDL"];

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
            if line.starts_with(b"+OK") {
                Probe::Yes
            } else {
                Probe::No
            }
        }
        Dir::ToServer => {
            let pop = CLIENT_FIRST.iter().any(|c| is_verb(line, c));
            let shared = is_verb(line, "USER") || is_verb(line, "AUTH");
            if pop || (hint && shared) {
                Probe::Yes
            } else {
                Probe::No
            }
        }
    }
}

/// A command waiting for its response.
#[derive(Debug, Clone, Default)]
struct Pending {
    cmd: Cmd,
    status: &'static str,
    reply: Reply,
    lines: i64,
    bytes: i64,
    /// RETR: the Mail record of the message.
    mail_id: String,
}

/// POP3 state of a connection.
#[derive(Debug, Default)]
pub(crate) struct Pop3Proto {
    queue: VecDeque<Pending>,
    /// The command whose multi-line body is being read.
    multi: Option<Pending>,
    user: String,
    login: Option<Login>,
    sasl: Option<Sasl>,
    want_sasl: bool,
    stls: bool,
    tls: bool,
    partial: bool,
    /// The message of a RETR or TOP response being read.
    mail: Option<MailBuilder>,
    /// TOP's body line count: the message is whole only when fewer lines
    /// came (None: RETR, whole).
    top_lines: Option<u64>,
    /// Mails and files of the connection so far (their IDs count on).
    mails: u64,
    files: u64,
}

/// Whether a successful response to `verb args` has a multi-line body.
fn multi_line(verb: &str, args: &str) -> bool {
    match verb.to_ascii_uppercase().as_str() {
        "CAPA" | "RETR" | "TOP" => true,
        "LIST" | "UIDL" | "AUTH" => args.trim().is_empty(),
        _ => false,
    }
}

/// The body line count of `TOP msg n`: n (0 when it is missing or not a
/// number: RFC 1939 requires it, a server that answers without it sends
/// the headers).
fn top_lines(args: &str) -> u64 {
    args.split_ascii_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

impl Pop3Proto {
    fn client_line(&mut self, line: &Line<'_>, cx: &mut Cx<'_>) {
        if self.want_sasl {
            self.want_sasl = false;
            if let Some(s) = &mut self.sasl {
                s.response(line.text);
            }
            return;
        }
        if line.text.trim_ascii().is_empty() {
            return;
        }
        let mut cmd = Cmd::from_line(line, cx);
        cmd.partial = std::mem::take(&mut self.partial);
        match cmd.verb.to_ascii_uppercase().as_str() {
            "USER" => self.user = cmd.args.clone(),
            "PASS" => {
                self.login = Some(Login {
                    origin: cmd.origin,
                    user: self.user.clone(),
                    password: cmd.args.clone(),
                    notes: "USER/PASS".into(),
                })
            }
            "APOP" => {
                let (name, digest) = split_word(cmd.args.as_bytes());
                self.login = Some(Login {
                    origin: cmd.origin,
                    user: text(name),
                    password: text(digest.trim_ascii()),
                    notes: "APOP".into(),
                });
            }
            "AUTH" if !cmd.args.trim().is_empty() => {
                self.sasl = Some(Sasl::start(cmd.args.as_bytes(), cmd.origin));
            }
            "STLS" => self.stls = true,
            _ => {}
        }
        if self.queue.len() >= MAX_QUEUE {
            if let Some(old) = self.queue.pop_front() {
                self.write(old, cx);
            }
        }
        self.queue.push_back(Pending {
            cmd,
            ..Pending::default()
        });
    }

    fn server_line(&mut self, line: &Line<'_>, cx: &mut Cx<'_>) {
        if let Some(m) = &mut self.multi {
            if line.text == b"." {
                if let Some(mail) = self.mail.take() {
                    self.files += mail.files();
                    // TOP n k sends at most k body lines: k of them may
                    // be a cut message (fewer: the whole body came).
                    let whole = self
                        .top_lines
                        .take()
                        .is_none_or(|k| k == 0 || mail.body_lines() < k);
                    mail.finish(whole, cx);
                }
                if let Some(m) = self.multi.take() {
                    self.write(m, cx);
                }
            } else {
                if let Some(mail) = &mut self.mail {
                    let text = line.text.strip_prefix(b".").unwrap_or(line.text);
                    mail.line(text, line.cut, cx);
                }
                m.lines += 1;
                // Dot-stuffing and the line end are not the content's.
                let stuffed = usize::from(line.text.first() == Some(&b'.'));
                m.bytes += line.text.len().saturating_sub(stuffed) as i64;
            }
            return;
        }
        let (status, rest) = if let Some(r) = line.text.strip_prefix(b"+OK") {
            ("+OK", r)
        } else if let Some(r) = line.text.strip_prefix(b"-ERR") {
            ("-ERR", r)
        } else if let Some(r) = line.text.strip_prefix(b"+") {
            // A SASL challenge: the client's next line answers it.
            if self.sasl.is_some() {
                self.want_sasl = true;
            }
            let _ = r;
            return;
        } else {
            return;
        };
        let rest = rest.strip_prefix(b" ").unwrap_or(rest);
        let reply = Reply {
            origin: cx.origin(line.start),
            text: text(rest.get(..rest.len().min(MAX_TEXT)).unwrap_or_default()),
            truncated: line.cut,
        };
        let Some(mut p) = self.queue.pop_front() else {
            // The greeting, or a response nothing asked for.
            let p = Pending {
                status,
                reply,
                ..Pending::default()
            };
            self.write(p, cx);
            return;
        };
        p.status = status;
        p.reply = reply;
        let ok = status == "+OK";
        match p.cmd.verb.to_ascii_uppercase().as_str() {
            "PASS" | "APOP" => {
                if let Some(l) = self.login.take() {
                    l.emit("POP3", status, ok, cx);
                }
            }
            "AUTH" => {
                self.want_sasl = false;
                if let Some(s) = self.sasl.take() {
                    if s.found {
                        s.login.emit("POP3", status, ok, cx);
                    }
                }
            }
            "STLS" => {
                self.stls = false;
                self.tls = ok;
            }
            _ => {}
        }
        if ok && multi_line(&p.cmd.verb, &p.cmd.args) {
            let top = p
                .cmd
                .verb
                .eq_ignore_ascii_case("TOP")
                .then(|| top_lines(&p.cmd.args));
            if p.cmd.verb.eq_ignore_ascii_case("RETR") || top.is_some() {
                self.mails += 1;
                let id = crate::file::mail_uid(&cx.meta.uid, self.mails);
                p.mail_id.clone_from(&id);
                let mut mail = MailBuilder::new("POP3", id, p.cmd.origin, false, self.files, cx);
                self.top_lines = top;
                if top == Some(0) {
                    mail.headers_only();
                }
                self.mail = Some(mail);
            }
            self.multi = Some(p);
        } else {
            self.write(p, cx);
        }
    }

    fn write(&self, p: Pending, cx: &mut Cx<'_>) {
        let at = if p.cmd.verb.is_empty() {
            p.reply.origin
        } else {
            p.cmd.origin
        };
        let c = Common::of(cx, at);
        let start_tls = p.cmd.verb.eq_ignore_ascii_case("STLS") && p.status == "+OK";
        let rec = Pop3 {
            timestamp: c.timestamp,
            packet_number: c.packet_number,
            connection_uid: c.connection_uid,
            src_ip: c.src_ip,
            src_port: c.src_port,
            dst_ip: c.dst_ip,
            dst_port: c.dst_port,
            command: p.cmd.verb,
            arguments: p.cmd.args,
            status: p.status.to_string(),
            reply_text: p.reply.text,
            multi_line_count: p.lines,
            multi_line_bytes: p.bytes,
            start_tls,
            mail_id: p.mail_id,
            reply_timestamp: p.reply.origin.ts_ns,
            reply_packet_number: p.reply.origin.number,
            partial: p.cmd.partial,
            truncated: p.cmd.truncated || p.reply.truncated,
            ..Default::default()
        };
        cx.emit(StreamRecord::Pop3(Box::new(rec)));
    }
}

impl LineProto for Pop3Proto {
    const NAME: &'static str = "POP3";

    fn line(&mut self, dir: Dir, line: &Line<'_>, cx: &mut Cx<'_>) -> Then {
        match dir {
            Dir::ToServer => self.client_line(line, cx),
            Dir::ToClient => self.server_line(line, cx),
        }
        Then::Line
    }

    fn gap(&mut self, dir: Dir, _len: u64, cx: &mut Cx<'_>) {
        match dir {
            Dir::ToServer => {
                self.partial = true;
                self.want_sasl = false;
            }
            Dir::ToClient => {
                // Inside a multi-line body the "." line still ends it; a
                // lost status line leaves the pairing unknown.
                if let Some(m) = &mut self.multi {
                    m.cmd.partial = true;
                    if let Some(mail) = &mut self.mail {
                        mail.gap();
                    }
                    return;
                }
                self.want_sasl = false;
                self.sasl = None;
                self.login = None;
                while let Some(mut p) = self.queue.pop_front() {
                    p.cmd.partial = true;
                    self.write(p, cx);
                }
            }
        }
    }

    fn finish(&mut self, cx: &mut Cx<'_>) {
        self.top_lines = None;
        if let Some(mail) = self.mail.take() {
            mail.finish(false, cx);
        }
        if let Some(mut m) = self.multi.take() {
            m.cmd.partial = true;
            self.write(m, cx);
        }
        if let Some(l) = self.login.take() {
            l.emit("POP3", "", false, cx);
        }
        if let Some(s) = self.sasl.take() {
            if s.found {
                s.login.emit("POP3", "", false, cx);
            }
        }
        while let Some(p) = self.queue.pop_front() {
            self.write(p, cx);
        }
    }

    fn memory(&self) -> usize {
        self.queue.capacity() * std::mem::size_of::<Pending>()
            + self
                .queue
                .iter()
                .chain(self.multi.as_ref())
                .map(|p| p.cmd.memory() + p.reply.memory())
                .sum::<usize>()
            + self.user.capacity()
            + self.login.as_ref().map_or(0, Login::memory)
            + self.sasl.as_ref().map_or(0, Sasl::memory)
            + self.mail.as_ref().map_or(0, MailBuilder::memory)
    }

    fn hold(&self, dir: Dir) -> bool {
        dir == Dir::ToServer && self.stls
    }

    fn tls(&self) -> bool {
        self.tls
    }
}
