//! IMAP4 (RFC 9051, RFC 3501): one [`Imap`] record per tagged command with
//! its tagged response (paired by tag: commands may run concurrently),
//! untagged responses counted. Literals (`{N}`, `{N+}`) are passed over
//! without being kept, except a small one in a command (a LOGIN user name or
//! password), which becomes a quoted string of the arguments. A FETCH
//! literal of a whole message or of its header block is parsed as it
//! passes into a [`Mail`](netcap_schema::Mail) (`fetch_item`). LOGIN and
//! AUTHENTICATE become [`Credentials`](netcap_schema::Credentials); after an
//! accepted STARTTLS the connection goes to TLS.

use std::collections::VecDeque;

use netcap_schema::Imap;

use super::creds::{Login, Sasl};
use super::{
    first_line, is_verb, split_word, text, Cmd, Common, Line, LineParser, LineProto, Reply, Then,
    MAX_LINE, MAX_QUEUE, MAX_TEXT,
};
use crate::mime::MailBuilder;
use crate::parser::{Cx, Dir, Probe, Protocol};
use crate::records::StreamRecord;

/// The IMAP stream protocol.
pub const PROTOCOL: Protocol = Protocol {
    name: "IMAP",
    ports: &[143],
    probe,
    new: || Box::<LineParser<ImapProto>>::default(),
};

/// A literal in a command at most this long is kept in the arguments.
const KEEP_LITERAL: u64 = 256;

/// Commands clients start with.
const CLIENT_FIRST: &[&str] = &[
    "CAPABILITY",
    "LOGIN",
    "AUTHENTICATE",
    "STARTTLS",
    "ID",
    "NOOP",
];

fn probe(dir: Dir, data: &[u8], hint: bool) -> Probe {
    let Some(line) = first_line(data) else {
        return if data.len() >= MAX_LINE {
            Probe::No
        } else {
            Probe::NeedMore
        };
    };
    match dir {
        Dir::ToClient => {
            let greeting = line.starts_with(b"* OK") || line.starts_with(b"* PREAUTH");
            if greeting || (hint && line.starts_with(b"* BYE")) {
                Probe::Yes
            } else {
                Probe::No
            }
        }
        Dir::ToServer => {
            let (tag, rest) = split_word(line);
            let tagged = !tag.is_empty()
                && tag
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b".-_".contains(b));
            if tagged
                && (CLIENT_FIRST.iter().any(|c| is_verb(rest, c)) || (hint && !rest.is_empty()))
            {
                Probe::Yes
            } else {
                Probe::No
            }
        }
    }
}

/// A command waiting for its tagged response.
#[derive(Debug, Clone, Default)]
struct Pending {
    cmd: Cmd,
    tag: String,
    untagged: i64,
    literal: i64,
    /// Mail records of the messages its responses carried (FETCH).
    mail_ids: Vec<String>,
}

/// Most Mail IDs listed on one IMAP record.
const MAX_MAIL_IDS: usize = 1024;

/// IMAP state of a connection.
#[derive(Debug, Default)]
pub(crate) struct ImapProto {
    queue: VecDeque<Pending>,
    greeted: bool,
    /// The client's next line continues the last command (after a literal).
    client_cont: bool,
    /// Bytes of the client literal being read that are kept (0: not kept).
    keep_left: u64,
    /// The server's next line continues an untagged response.
    server_cont: bool,
    sasl: Option<(String, Sasl)>,
    want_sasl: bool,
    starttls: Option<String>,
    tls: bool,
    partial: bool,
    /// The message of a FETCH literal being read, and its bytes to come.
    mail: Option<MailBuilder>,
    mail_left: u64,
    /// Mails and files of the connection so far (their IDs count on).
    mails: u64,
    files: u64,
}

/// What the literal a FETCH response line announces holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Item {
    /// A whole message: `BODY[]` (with an optional `<origin>`), `RFC822`.
    Message,
    /// Its header block only: `BODY[HEADER]`, `BODY[HEADER.FIELDS (...)]`,
    /// `BODY[HEADER.FIELDS.NOT (...)]`, `RFC822.HEADER`.
    Header,
    /// Anything else: `BODY[TEXT]`, `RFC822.TEXT`, a part (`BODY[1]`,
    /// `BODY[1.MIME]`, `BODY[2.HEADER]`), a non-FETCH literal. Passed over:
    /// a body without its headers is no message, and a part's content is
    /// still transfer-encoded with its encoding in another response
    /// (BODYSTRUCTURE), so it is neither a Mail nor a File.
    Other,
}

/// The FETCH item whose literal a server line announces (the text before
/// its final `{N}`).
pub(super) fn fetch_item(line: &[u8]) -> Item {
    let Some(open) = line.iter().rposition(|&b| b == b'{') else {
        return Item::Other;
    };
    let item = line.get(..open).unwrap_or_default().trim_ascii_end();
    // A partial fetch's `<origin>`.
    let item = match item.strip_suffix(b">") {
        Some(i) => match i.iter().rposition(|&b| b == b'<') {
            Some(lt) => i.get(..lt).unwrap_or_default(),
            None => return Item::Other,
        },
        None => item,
    };
    // `w` ends the item, as a word of its own.
    let ends = |w: &[u8]| {
        item.len() >= w.len()
            && item
                .get(item.len() - w.len()..)
                .is_some_and(|t| t.eq_ignore_ascii_case(w))
            && matches!(
                item.get(item.len().wrapping_sub(w.len() + 1)),
                None | Some(b' ' | b'(')
            )
    };
    if ends(b"RFC822") {
        return Item::Message;
    }
    if ends(b"RFC822.HEADER") {
        return Item::Header;
    }
    // BODY[section]: the section holds no '[' (RFC 9051 section 6.4.5).
    let Some(inner) = item.strip_suffix(b"]") else {
        return Item::Other;
    };
    let Some(lb) = inner.iter().rposition(|&b| b == b'[') else {
        return Item::Other;
    };
    let (name, section) = (
        inner.get(..lb).unwrap_or_default(),
        inner.get(lb + 1..).unwrap_or_default(),
    );
    let body = [b"BODY".as_slice(), b"BODY.PEEK"].iter().any(|w| {
        name.len() >= w.len()
            && name
                .get(name.len() - w.len()..)
                .is_some_and(|t| t.eq_ignore_ascii_case(w))
            && matches!(
                name.get(name.len().wrapping_sub(w.len() + 1)),
                None | Some(b' ' | b'(')
            )
    });
    if !body {
        return Item::Other;
    }
    let upper = section.to_ascii_uppercase();
    if upper.is_empty() {
        Item::Message
    } else if upper == b"HEADER" || upper.starts_with(b"HEADER.FIELDS") {
        Item::Header
    } else {
        Item::Other
    }
}

/// `{N}` or `{N+}` at the end of a line: N.
fn literal(line: &[u8]) -> Option<u64> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let n = inner.get(open + 1..)?;
    let n = n.strip_suffix(b"+").unwrap_or(n);
    if n.is_empty() || n.len() > 19 || !n.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(n).ok()?.parse().ok()
}

/// The first two astrings of LOGIN's arguments (atoms or quoted strings).
fn astrings(args: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter().copied().peekable();
    while out.len() < 2 {
        while it.peek() == Some(&b' ') {
            it.next();
        }
        let Some(&c) = it.peek() else { break };
        let mut v = Vec::new();
        if c == b'"' {
            it.next();
            while let Some(b) = it.next() {
                match b {
                    b'\\' => v.extend(it.next()),
                    b'"' => break,
                    _ => v.push(b),
                }
            }
        } else {
            while let Some(&b) = it.peek() {
                if b == b' ' {
                    break;
                }
                v.push(b);
                it.next();
            }
        }
        out.push(text(&v));
    }
    out
}

impl ImapProto {
    fn client_line(&mut self, line: &Line<'_>, cx: &mut Cx<'_>) -> Then {
        if self.want_sasl {
            self.want_sasl = false;
            if let Some((_, s)) = &mut self.sasl {
                s.response(line.text);
            }
            return Then::Line;
        }
        let lit = literal(line.text);
        if std::mem::take(&mut self.client_cont) {
            if let Some(p) = self.queue.back_mut() {
                let room = MAX_LINE.saturating_sub(p.cmd.args.len());
                let t = line.text;
                p.cmd
                    .args
                    .push_str(&text(t.get(..t.len().min(room)).unwrap_or_default()));
                p.cmd.truncated |= line.cut || room < t.len();
                return self.start_literal(lit);
            }
            return Then::Line;
        }
        if line.text.trim_ascii().is_empty() {
            return Then::Line;
        }
        if line.text.eq_ignore_ascii_case(b"DONE") {
            return Then::Line; // Ends IDLE.
        }
        let (tag, rest) = split_word(line.text);
        let mut cmd = Cmd::from_line(
            &Line {
                text: rest,
                start: line.start,
                cut: line.cut,
                wire: line.wire,
            },
            cx,
        );
        cmd.partial = std::mem::take(&mut self.partial);
        let tag = text(tag);
        match cmd.verb.to_ascii_uppercase().as_str() {
            "AUTHENTICATE" => {
                self.sasl = Some((tag.clone(), Sasl::start(cmd.args.as_bytes(), cmd.origin)));
            }
            "STARTTLS" => self.starttls = Some(tag.clone()),
            _ => {}
        }
        if self.queue.len() >= MAX_QUEUE {
            if let Some(old) = self.queue.pop_front() {
                self.write(old, "", Reply::default(), cx);
            }
        }
        self.queue.push_back(Pending {
            cmd,
            tag,
            ..Pending::default()
        });
        self.start_literal(lit)
    }

    /// A literal of `n` bytes follows the current client line.
    fn start_literal(&mut self, n: Option<u64>) -> Then {
        let Some(n) = n else {
            return Then::Line;
        };
        self.client_cont = true;
        if let Some(p) = self.queue.back_mut() {
            p.literal += i64::try_from(n).unwrap_or(i64::MAX);
            if n <= KEEP_LITERAL {
                // The "{N}" marker gives way to the content, quoted.
                if let Some(i) = p.cmd.args.rfind('{') {
                    p.cmd.args.truncate(i);
                }
                p.cmd.args.push('"');
                self.keep_left = n;
                if n == 0 {
                    p.cmd.args.push('"');
                }
            }
        }
        Then::Raw(n)
    }

    fn client_raw(&mut self, data: &[u8]) {
        if self.keep_left == 0 {
            return;
        }
        let n = data
            .len()
            .min(usize::try_from(self.keep_left).unwrap_or(usize::MAX));
        self.keep_left -= n as u64;
        if let Some(p) = self.queue.back_mut() {
            for &b in data.get(..n).unwrap_or_default() {
                if b == b'"' || b == b'\\' {
                    p.cmd.args.push('\\');
                }
                p.cmd.args.push(char::from(b));
            }
            if self.keep_left == 0 {
                p.cmd.args.push('"');
            }
        }
    }

    fn server_line(&mut self, line: &Line<'_>, cx: &mut Cx<'_>) -> Then {
        let lit = literal(line.text);
        let item = match lit {
            Some(_) => fetch_item(line.text),
            None => Item::Other,
        };
        let origin = cx.origin(line.start);
        let server_literal = |this: &mut Self, cx: &mut Cx<'_>| match lit {
            Some(n) => {
                this.server_cont = true;
                if let Some(p) = this.queue.front_mut() {
                    p.literal += i64::try_from(n).unwrap_or(i64::MAX);
                }
                if item != Item::Other && n > 0 {
                    this.start_mail(n, item == Item::Header, origin, cx);
                }
                Then::Raw(n)
            }
            None => Then::Line,
        };
        if std::mem::take(&mut self.server_cont) {
            return server_literal(self, cx);
        }
        if let Some(rest) = line.text.strip_prefix(b"* ") {
            let (word, more) = split_word(rest);
            let greeting = word.eq_ignore_ascii_case(b"OK")
                || word.eq_ignore_ascii_case(b"PREAUTH")
                || word.eq_ignore_ascii_case(b"BYE");
            if !self.greeted && self.queue.is_empty() && greeting {
                self.greeted = true;
                let reply = Reply {
                    origin: cx.origin(line.start),
                    text: text(more.get(..more.len().min(MAX_TEXT)).unwrap_or_default()),
                    truncated: line.cut,
                };
                let p = Pending {
                    tag: "*".into(),
                    ..Pending::default()
                };
                self.write(p, &text(word).to_ascii_uppercase(), reply, cx);
                return server_literal(self, cx);
            }
            self.greeted = true;
            if let Some(p) = self.queue.front_mut() {
                p.untagged += 1;
            }
            return server_literal(self, cx);
        }
        if line.text.first() == Some(&b'+') {
            // A continuation request: for AUTHENTICATE, a SASL challenge.
            if self.sasl.is_some() {
                self.want_sasl = true;
            }
            return Then::Line;
        }
        let (tag, rest) = split_word(line.text);
        let (status, more) = split_word(rest);
        let Some(i) = self.queue.iter().position(|p| p.tag.as_bytes() == tag) else {
            return server_literal(self, cx);
        };
        let Some(p) = self.queue.remove(i) else {
            return Then::Line;
        };
        self.greeted = true;
        let status = text(status).to_ascii_uppercase();
        let ok = status == "OK";
        let reply = Reply {
            origin: cx.origin(line.start),
            text: text(more.get(..more.len().min(MAX_TEXT)).unwrap_or_default()),
            truncated: line.cut,
        };
        match p.cmd.verb.to_ascii_uppercase().as_str() {
            "LOGIN" => {
                let mut a = astrings(p.cmd.args.as_bytes()).into_iter();
                let login = Login {
                    origin: p.cmd.origin,
                    user: a.next().unwrap_or_default(),
                    password: a.next().unwrap_or_default(),
                    notes: "LOGIN".into(),
                };
                login.emit("IMAP", &status, ok, cx);
            }
            "AUTHENTICATE" => {
                self.want_sasl = false;
                if let Some((t, s)) = self.sasl.take() {
                    if t == p.tag && s.found {
                        s.login.emit("IMAP", &status, ok, cx);
                    }
                }
            }
            "STARTTLS" => {
                self.starttls = None;
                self.tls = ok;
            }
            _ => {}
        }
        self.write(p, &status, reply, cx);
        server_literal(self, cx)
    }

    /// A FETCH literal of `n` bytes is a message (`headers`: its header
    /// block only): its Mail goes to the running FETCH (the oldest command
    /// when none is).
    fn start_mail(
        &mut self,
        n: u64,
        headers: bool,
        origin: crate::parser::Origin,
        cx: &mut Cx<'_>,
    ) {
        self.end_mail(false, cx);
        self.mails += 1;
        let id = crate::file::mail_uid(&cx.meta.uid, self.mails);
        let fetch = |p: &Pending| {
            let v = p.cmd.verb.to_ascii_uppercase();
            v == "FETCH" || (v == "UID" && super::is_verb(p.cmd.args.as_bytes(), "FETCH"))
        };
        let i = self.queue.iter().position(fetch).unwrap_or(0);
        let at = match self.queue.get_mut(i) {
            Some(p) => {
                if p.mail_ids.len() < MAX_MAIL_IDS {
                    p.mail_ids.push(id.clone());
                }
                p.cmd.origin
            }
            None => origin,
        };
        let mut mail = MailBuilder::new("IMAP", id, at, false, self.files, cx);
        if headers {
            mail.headers_only();
        }
        self.mail = Some(mail);
        self.mail_left = n;
    }

    fn end_mail(&mut self, complete: bool, cx: &mut Cx<'_>) {
        if let Some(m) = self.mail.take() {
            self.files += m.files();
            m.finish(complete, cx);
        }
        self.mail_left = 0;
    }

    fn write(&self, p: Pending, status: &str, reply: Reply, cx: &mut Cx<'_>) {
        let at = if p.cmd.verb.is_empty() {
            reply.origin
        } else {
            p.cmd.origin
        };
        let c = Common::of(cx, at);
        let start_tls = p.cmd.verb.eq_ignore_ascii_case("STARTTLS") && status == "OK";
        let rec = Imap {
            timestamp: c.timestamp,
            packet_number: c.packet_number,
            connection_uid: c.connection_uid,
            src_ip: c.src_ip,
            src_port: c.src_port,
            dst_ip: c.dst_ip,
            dst_port: c.dst_port,
            command: p.cmd.verb,
            arguments: p.cmd.args,
            tag: p.tag,
            status: status.to_string(),
            reply_text: reply.text,
            untagged_count: p.untagged,
            literal_bytes: p.literal,
            start_tls,
            mail_i_ds: p.mail_ids,
            reply_timestamp: reply.origin.ts_ns,
            reply_packet_number: reply.origin.number,
            partial: p.cmd.partial,
            truncated: p.cmd.truncated || reply.truncated,
            ..Default::default()
        };
        cx.emit(StreamRecord::Imap(Box::new(rec)));
    }
}

impl LineProto for ImapProto {
    const NAME: &'static str = "IMAP";

    fn line(&mut self, dir: Dir, line: &Line<'_>, cx: &mut Cx<'_>) -> Then {
        match dir {
            Dir::ToServer => self.client_line(line, cx),
            Dir::ToClient => self.server_line(line, cx),
        }
    }

    fn raw(&mut self, dir: Dir, data: &[u8], _start: usize, cx: &mut Cx<'_>) {
        if dir == Dir::ToServer {
            self.client_raw(data);
        } else if let Some(m) = &mut self.mail {
            m.raw(data, cx);
            self.mail_left = self.mail_left.saturating_sub(data.len() as u64);
            if self.mail_left == 0 {
                self.end_mail(true, cx);
            }
        }
    }

    fn gap(&mut self, dir: Dir, _len: u64, cx: &mut Cx<'_>) {
        match dir {
            Dir::ToServer => {
                self.partial = true;
                self.client_cont = false;
                self.want_sasl = false;
                if self.keep_left > 0 {
                    self.keep_left = 0;
                    if let Some(p) = self.queue.back_mut() {
                        p.cmd.args.push('"');
                        p.cmd.partial = true;
                    }
                }
            }
            Dir::ToClient => {
                // Tagged responses may still come: pairing by tag survives.
                self.server_cont = false;
                if let Some(m) = &mut self.mail {
                    m.gap();
                }
                self.end_mail(false, cx);
                for p in &mut self.queue {
                    p.cmd.partial = true;
                }
            }
        }
    }

    fn finish(&mut self, cx: &mut Cx<'_>) {
        self.end_mail(false, cx);
        if let Some((_, s)) = self.sasl.take() {
            if s.found {
                s.login.emit("IMAP", "", false, cx);
            }
        }
        while let Some(p) = self.queue.pop_front() {
            if p.cmd.verb.eq_ignore_ascii_case("LOGIN") {
                let mut a = astrings(p.cmd.args.as_bytes()).into_iter();
                Login {
                    origin: p.cmd.origin,
                    user: a.next().unwrap_or_default(),
                    password: a.next().unwrap_or_default(),
                    notes: "LOGIN".into(),
                }
                .emit("IMAP", "", false, cx);
            }
            self.write(p, "", Reply::default(), cx);
        }
    }

    fn memory(&self) -> usize {
        self.queue.capacity() * std::mem::size_of::<Pending>()
            + self
                .queue
                .iter()
                .map(|p| p.cmd.memory() + p.tag.capacity())
                .sum::<usize>()
            + self
                .sasl
                .as_ref()
                .map_or(0, |(t, s)| t.capacity() + s.memory())
            + self.starttls.as_ref().map_or(0, String::capacity)
            + self.mail.as_ref().map_or(0, MailBuilder::memory)
    }

    fn hold(&self, dir: Dir) -> bool {
        dir == Dir::ToServer && self.starttls.is_some()
    }

    fn tls(&self) -> bool {
        self.tls
    }
}
