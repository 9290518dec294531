//! Mail messages (RFC 5322) and their MIME structure (RFC 2045, 2046),
//! parsed as they stream through, line by line: nothing of the message is
//! kept but the header values a [`Mail`] record holds and the state of the
//! part being decoded. Each leaf part is decoded (base64, quoted-printable)
//! into a [`Content`](crate::file::Content) and becomes a
//! [`File`](netcap_schema::File) record and a [`MailPart`] of the Mail.
//!
//! Line ends: a decoded text part keeps its lines' CRLF, except the one
//! before a boundary delimiter, which belongs to the delimiter (RFC 2046
//! section 5.1.1).
//!
//! A header-only transfer (POP3 `TOP n 0`, IMAP `BODY[HEADER]`,
//! `BODY[HEADER.FIELDS (...)]`, `RFC822.HEADER`) is a Mail too, flagged
//! `HeadersOnly` ([`MailBuilder::headers_only`]): its header values are
//! what the server sent, its body is unknown (no parts, no `BodyMD5`).
//!
//! Limits: header lines (unfolded) of [`MAX_HEADER`] bytes, header blocks
//! of [`MAX_HEADER_BLOCK`], [`MAX_PARTS`] parts, [`MAX_DEPTH`] nested
//! multiparts, [`MAX_RECEIVED`] Received headers: past them the record is
//! flagged (`HeadersTruncated`, `Truncated`) and the rest only counted.

use md5::{Digest, Md5};
use netcap_schema::{Mail, MailPart};

use crate::file::{self, header_param, media_type, Content, FileInfo};
use crate::parser::{Cx, Origin};
use crate::records::StreamRecord;

/// Longest header field kept (after unfolding); longer ones are cut.
pub const MAX_HEADER: usize = 8 * 1024;
/// Most header bytes of one entity looked at.
pub const MAX_HEADER_BLOCK: usize = 64 * 1024;
/// Most leaf parts per message; later ones are only counted.
pub const MAX_PARTS: usize = 256;
/// Most nested multiparts.
pub const MAX_DEPTH: usize = 16;
/// Most Received headers kept.
pub const MAX_RECEIVED: usize = 64;
/// Longest boundary (RFC 2046: 70).
const MAX_BOUNDARY: usize = 200;
/// Longest line carried over between raw chunks ([`MailBuilder::raw`]).
const MAX_LINE: usize = 16 * 1024;

/// Content-Transfer-Encoding of a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cte {
    Identity,
    Base64,
    QuotedPrintable,
}

/// Streaming base64: whitespace and characters outside the alphabet are
/// skipped (as decoders of mail do), padding ends a quantum.
#[derive(Debug, Default, Clone)]
struct B64 {
    acc: u32,
    n: u8,
}

impl B64 {
    fn feed(&mut self, line: &[u8], out: &mut Vec<u8>) {
        for &c in line {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' => {
                    self.flush(out);
                    continue;
                }
                _ => continue,
            };
            self.acc = (self.acc << 6) | u32::from(v);
            self.n += 1;
            if self.n == 4 {
                let [_, a, b, c] = self.acc.to_be_bytes();
                out.extend_from_slice(&[a, b, c]);
                self.acc = 0;
                self.n = 0;
            }
        }
    }

    /// A quantum ended early (padding, or the end of the part): its whole
    /// bytes are output.
    fn flush(&mut self, out: &mut Vec<u8>) {
        let bits = u32::from(self.n) * 6;
        let acc = self.acc << (24 - bits);
        let [_, a, b, _] = acc.to_be_bytes();
        match self.n {
            2 => out.push(a),
            3 => out.extend_from_slice(&[a, b]),
            _ => {}
        }
        self.acc = 0;
        self.n = 0;
    }
}

/// Quoted-printable (RFC 2045 section 6.7) of one line: returns whether
/// the line ended with a soft line break. Malformed escapes are kept as
/// they are (as Python's `quopri` does); trailing white space is removed.
fn qp_line(line: &[u8], out: &mut Vec<u8>) -> bool {
    let line = trim_end_ws(line);
    let (line, soft) = match line.strip_suffix(b"=") {
        Some(l) => (l, true),
        None => (line, false),
    };
    let hex = |c: u8| char::from(c).to_digit(16);
    let mut i = 0;
    while let Some(&c) = line.get(i) {
        if c == b'=' {
            if let (Some(h), Some(l)) = (
                line.get(i + 1).and_then(|&c| hex(c)),
                line.get(i + 2).and_then(|&c| hex(c)),
            ) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    soft
}

fn trim_end_ws(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .rposition(|&c| c != b' ' && c != b'\t')
        .map_or(0, |i| i + 1);
    b.get(..n).unwrap_or_default()
}

/// The headers of an entity that shape its content.
#[derive(Debug, Default, Clone)]
struct EntityHeaders {
    content_type: String,
    disposition: String,
    cte: String,
}

/// A leaf part being decoded.
#[derive(Debug)]
struct Part {
    meta: MailPart,
    cte: Cte,
    b64: B64,
    /// The previous line's CRLF, held until the next line shows it is
    /// content (not the one before a boundary).
    newline: bool,
    content: Content,
    buf: Vec<u8>,
}

/// Where the message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Header lines of an entity (the message itself when `top`).
    Headers { top: bool },
    /// The body of a leaf part.
    Leaf,
    /// Between a multipart's start and its first boundary, or after its
    /// close delimiter: lines are skipped.
    Skip,
}

/// A mail message being parsed.
#[derive(Debug)]
pub struct MailBuilder {
    rec: Mail,
    origin: Origin,
    to_server: bool,
    keep: u64,
    state: State,
    /// The header field being unfolded.
    field: Vec<u8>,
    block: usize,
    entity: EntityHeaders,
    /// Open multipart boundaries, outermost first.
    boundaries: Vec<Vec<u8>>,
    part: Option<Part>,
    parts: usize,
    body_md5: Option<Md5>,
    /// Lines after the message's header block.
    body_lines: u64,
    /// Bytes of a raw chunk's last, unfinished line.
    carry: Vec<u8>,
    carry_cut: bool,
    /// Files emitted for this message so far, and the connection's count
    /// before it (their UIDs go on from there).
    files_base: u64,
    files: u64,
}

impl MailBuilder {
    /// A message carried by `source` ("SMTP", "POP3", "IMAP") in the
    /// command at `origin`, with the ID `id`; `to_server`: sent by the
    /// client. `files_base`: files of the connection before this message.
    pub fn new(
        source: &str,
        id: String,
        origin: Origin,
        to_server: bool,
        files_base: u64,
        cx: &Cx<'_>,
    ) -> MailBuilder {
        let m = cx.meta;
        let rec = Mail {
            timestamp: origin.ts_ns,
            packet_number: origin.number,
            connection_uid: m.uid.clone(),
            client_ip: m.client_ip(),
            server_ip: m.server_ip(),
            client_port: m.client_port(),
            server_port: m.server_port(),
            id,
            origin: source.to_string(),
            ..Mail::default()
        };
        MailBuilder {
            rec,
            origin,
            to_server,
            keep: m.files_max,
            state: State::Headers { top: true },
            field: Vec::new(),
            block: 0,
            entity: EntityHeaders::default(),
            boundaries: Vec::new(),
            part: None,
            parts: 0,
            body_md5: None,
            body_lines: 0,
            carry: Vec::new(),
            carry_cut: false,
            files_base,
            files: 0,
        }
    }

    /// The message's ID.
    pub fn id(&self) -> &str {
        &self.rec.id
    }

    /// Files emitted for it so far.
    pub fn files(&self) -> u64 {
        self.files
    }

    /// Only the header block is transferred (POP3 `TOP n 0`, IMAP
    /// `BODY[HEADER]` and the like): the record says so, and whatever
    /// follows the header block is counted, not parsed.
    pub fn headers_only(&mut self) {
        self.rec.headers_only = true;
    }

    /// Lines seen after the message's header block (POP3 TOP compares
    /// them with the count it asked for).
    pub fn body_lines(&self) -> u64 {
        self.body_lines
    }

    /// Sets the SMTP envelope.
    pub fn envelope(&mut self, from: &str, to: &[String]) {
        self.rec.envelope_from = from.to_string();
        self.rec.envelope_to = to.join(", ");
    }

    /// Heap bytes held.
    pub fn memory(&self) -> usize {
        std::mem::size_of::<Self>()
            + prost::Message::encoded_len(&self.rec)
            + self.field.capacity()
            + self.carry.capacity()
            + self.boundaries.iter().map(Vec::capacity).sum::<usize>()
            + self
                .part
                .as_ref()
                .map_or(0, |p| p.content.memory() + p.buf.capacity())
    }

    /// Bytes were lost: the message is not whole.
    pub fn gap(&mut self) {
        self.rec.truncated = true;
        if let Some(p) = &mut self.part {
            p.meta.truncated = true;
        }
        self.carry.clear();
    }

    /// Raw bytes of the message (an IMAP literal), cut into lines here.
    pub fn raw(&mut self, mut data: &[u8], cx: &mut Cx<'_>) {
        while let Some(i) = data.iter().position(|&b| b == b'\n') {
            let (head, rest) = data.split_at(i);
            data = rest.get(1..).unwrap_or_default();
            if self.carry.is_empty() {
                let l = head.strip_suffix(b"\r").unwrap_or(head);
                self.line(l, false, cx);
            } else {
                let room = MAX_LINE.saturating_sub(self.carry.len());
                self.carry_cut |= head.len() > room;
                self.carry
                    .extend_from_slice(head.get(..room.min(head.len())).unwrap_or_default());
                let mut l = std::mem::take(&mut self.carry);
                if l.last() == Some(&b'\r') {
                    l.pop();
                }
                let cut = std::mem::take(&mut self.carry_cut);
                self.line(&l, cut, cx);
                l.clear();
                self.carry = l;
            }
        }
        let room = MAX_LINE.saturating_sub(self.carry.len());
        self.carry_cut |= data.len() > room;
        self.carry
            .extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
    }

    /// One line of the message (without its line end; dot-stuffing already
    /// removed); `cut`: the line was longer than the reader's limit.
    pub fn line(&mut self, text: &[u8], cut: bool, cx: &mut Cx<'_>) {
        let wire = text.len() as i64 + 2;
        self.rec.size = self.rec.size.saturating_add(wire);
        if cut {
            self.rec.truncated = true;
            if let Some(p) = &mut self.part {
                p.meta.truncated = true;
            }
        }
        if let Some(h) = &mut self.body_md5 {
            h.update(text);
            h.update(b"\r\n");
        }
        if self.state != (State::Headers { top: true }) {
            self.body_lines = self.body_lines.saturating_add(1);
        }
        match self.state {
            State::Headers { top } => self.header_line(text, top),
            State::Leaf | State::Skip => {
                if let Some(depth) = self.boundary(text) {
                    self.delimiter(text, depth, cx);
                } else if self.state == State::Leaf {
                    if let Some(p) = &mut self.part {
                        leaf_line(p, text);
                    }
                }
            }
        }
    }

    /// The open boundary a line is a delimiter of (its index in the stack).
    fn boundary(&self, text: &[u8]) -> Option<usize> {
        let rest = text.strip_prefix(b"--")?;
        // The innermost first: an outer boundary closes the inner ones.
        self.boundaries.iter().rposition(|b| {
            rest.starts_with(b) && {
                let after = rest.get(b.len()..).unwrap_or_default();
                let after = after.strip_prefix(b"--").unwrap_or(after);
                after.iter().all(|&c| c == b' ' || c == b'\t')
            }
        })
    }

    /// A boundary delimiter of multipart `depth`: the current part ends;
    /// a close delimiter ends the multipart, a delimiter starts its next
    /// part.
    fn delimiter(&mut self, text: &[u8], depth: usize, cx: &mut Cx<'_>) {
        self.end_part(false, cx);
        let close = self
            .boundaries
            .get(depth)
            .and_then(|b| text.get(2 + b.len()..))
            .is_some_and(|r| r.starts_with(b"--"));
        self.boundaries.truncate(depth + 1);
        if close {
            self.boundaries.truncate(depth);
            self.state = State::Skip;
        } else {
            self.entity = EntityHeaders::default();
            self.block = 0;
            self.state = State::Headers { top: false };
        }
    }

    fn header_line(&mut self, text: &[u8], top: bool) {
        if text.is_empty() {
            self.end_field(top);
            self.start_body(top);
            return;
        }
        self.block = self.block.saturating_add(text.len() + 2);
        if self.block > MAX_HEADER_BLOCK {
            self.rec.headers_truncated = true;
            return;
        }
        if matches!(text.first(), Some(b' ' | b'\t')) && !self.field.is_empty() {
            // Unfolding removes the line break only (RFC 5322 section 2.2.3).
            let room = MAX_HEADER.saturating_sub(self.field.len());
            if text.len() > room {
                self.rec.headers_truncated = true;
            }
            self.field
                .extend_from_slice(text.get(..room.min(text.len())).unwrap_or_default());
            return;
        }
        self.end_field(top);
        if text.len() > MAX_HEADER {
            self.rec.headers_truncated = true;
        }
        self.field
            .extend_from_slice(text.get(..MAX_HEADER.min(text.len())).unwrap_or_default());
    }

    /// The header field being unfolded is complete.
    fn end_field(&mut self, top: bool) {
        if self.field.is_empty() {
            return;
        }
        let field = std::mem::take(&mut self.field);
        let Some(colon) = field.iter().position(|&b| b == b':') else {
            self.field = field;
            self.field.clear();
            return;
        };
        let name = String::from_utf8_lossy(field.get(..colon).unwrap_or_default());
        let name = name.trim().to_ascii_lowercase();
        let value = String::from_utf8_lossy(field.get(colon + 1..).unwrap_or_default())
            .trim()
            .to_string();
        match name.as_str() {
            "content-type" => self.entity.content_type.clone_from(&value),
            "content-disposition" => self.entity.disposition.clone_from(&value),
            "content-transfer-encoding" => self.entity.cte.clone_from(&value),
            _ => {}
        }
        if top {
            let r = &mut self.rec;
            let slot = match name.as_str() {
                "return-path" => Some(&mut r.return_path),
                "from" => Some(&mut r.from),
                "to" => Some(&mut r.to),
                "cc" => Some(&mut r.cc),
                "subject" => Some(&mut r.subject),
                "date" => Some(&mut r.date),
                "message-id" => Some(&mut r.message_id),
                "references" => Some(&mut r.references),
                "in-reply-to" => Some(&mut r.in_reply_to),
                "content-language" => Some(&mut r.content_language),
                "x-originating-ip" => Some(&mut r.x_originating_ip),
                "delivery-date" => Some(&mut r.delivery_date),
                "x-mailer" => Some(&mut r.x_mailer),
                "user-agent" if r.x_mailer.is_empty() => Some(&mut r.x_mailer),
                "received" => {
                    if r.received.len() < MAX_RECEIVED {
                        r.received.push(value.clone());
                    } else {
                        r.headers_truncated = true;
                    }
                    None
                }
                _ => None,
            };
            // The first occurrence counts (a repeated From is an anomaly).
            if let Some(s) = slot {
                if s.is_empty() {
                    *s = value;
                }
            }
        }
        let mut field = field;
        field.clear();
        self.field = field;
    }

    /// The blank line after an entity's headers.
    fn start_body(&mut self, top: bool) {
        let e = std::mem::take(&mut self.entity);
        if top {
            self.rec.content_type = media_type(&e.content_type);
            if self.rec.headers_only {
                // Not the body (if anything follows, the server sent more
                // than asked): counted in Size only.
                self.state = State::Skip;
                return;
            }
            self.body_md5 = Some(Md5::new());
        }
        let ctype = if e.content_type.is_empty() {
            String::new()
        } else {
            media_type(&e.content_type)
        };
        if ctype.starts_with("multipart/") {
            match header_param(&e.content_type, "boundary") {
                Some(b) if !b.is_empty() && b.len() <= MAX_BOUNDARY => {
                    if self.boundaries.len() < MAX_DEPTH {
                        self.boundaries.push(b.into_bytes());
                        self.state = State::Skip;
                        return;
                    }
                    self.rec.truncated = true;
                }
                _ => {}
            }
        }
        if self.parts >= MAX_PARTS {
            self.rec.truncated = true;
            self.state = State::Skip;
            return;
        }
        self.parts += 1;
        let cte_l = e.cte.trim().to_ascii_lowercase();
        let cte = match cte_l.as_str() {
            "base64" => Cte::Base64,
            "quoted-printable" => Cte::QuotedPrintable,
            _ => Cte::Identity,
        };
        let disposition = media_type(&e.disposition);
        let filename = header_param(&e.disposition, "filename")
            .or_else(|| header_param(&e.content_type, "name"))
            .unwrap_or_default();
        let meta = MailPart {
            index: i32::try_from(self.parts).unwrap_or(i32::MAX),
            content_type: if ctype.is_empty() {
                "text/plain".to_string()
            } else {
                ctype
            },
            charset: header_param(&e.content_type, "charset").unwrap_or_default(),
            disposition,
            filename,
            transfer_encoding: e.cte.trim().to_string(),
            ..MailPart::default()
        };
        self.part = Some(Part {
            meta,
            cte,
            b64: B64::default(),
            newline: false,
            content: Content::new(self.keep),
            buf: Vec::new(),
        });
        self.state = State::Leaf;
    }

    /// Ends the current leaf part: its File record is written and it joins
    /// the Mail's parts. `at_end`: the message ended (the last line's CRLF
    /// is content then).
    fn end_part(&mut self, at_end: bool, cx: &mut Cx<'_>) {
        let Some(mut p) = self.part.take() else {
            return;
        };
        if at_end && p.newline && p.cte != Cte::Base64 {
            p.content.update(b"\r\n");
        }
        if p.cte == Cte::Base64 {
            p.buf.clear();
            p.b64.flush(&mut p.buf);
            p.content.update(&p.buf);
        }
        let d = p.content.finish();
        let mut meta = p.meta;
        meta.length = i64::try_from(d.len).unwrap_or(i64::MAX);
        meta.md5.clone_from(&d.md5);
        meta.sha256.clone_from(&d.sha256);
        let attachment = !meta.filename.is_empty() || meta.disposition == "attachment";
        self.rec.has_attachments |= attachment;
        if !meta.filename.is_empty() {
            self.rec.attachment_names.push(meta.filename.clone());
        }
        if d.len > 0 {
            self.files += 1;
            let uid = file::file_uid(&cx.meta.uid, self.files_base + self.files);
            meta.file_uid.clone_from(&uid);
            let info = FileInfo {
                origin: self.origin,
                source: match self.rec.origin.as_str() {
                    "SMTP" => "SMTP",
                    "POP3" => "POP3",
                    _ => "IMAP",
                },
                uid,
                mail_id: self.rec.id.clone(),
                name: meta.filename.clone(),
                content_type: meta.content_type.clone(),
                to_server: self.to_server,
                total: -1,
                truncated: meta.truncated,
                depth: meta.index,
                encoding: match p.cte {
                    Cte::Base64 => "base64",
                    Cte::QuotedPrintable => "quoted-printable",
                    Cte::Identity => "",
                }
                .to_string(),
                ..FileInfo::default()
            };
            info.emit(d, cx);
        }
        self.rec.parts.push(meta);
    }

    /// The message ended (`complete`: its end marker was seen): the open
    /// part is written, then the Mail record.
    pub fn finish(mut self, complete: bool, cx: &mut Cx<'_>) {
        if !self.carry.is_empty() {
            let l = std::mem::take(&mut self.carry);
            let cut = self.carry_cut;
            self.line(&l, cut, cx);
        }
        if let State::Headers { top } = self.state {
            self.end_field(top);
            if top {
                self.rec.content_type = media_type(&self.entity.content_type);
            }
        }
        if !complete {
            self.rec.truncated = true;
            if let Some(p) = &mut self.part {
                p.meta.truncated = true;
            }
        }
        self.end_part(true, cx);
        if let Some(h) = self.body_md5.take() {
            self.rec.body_md5 = netcap_decode::text::hex(&h.finalize());
        }
        cx.emit(StreamRecord::Mail(Box::new(self.rec)));
    }
}

/// A body line of a leaf part.
fn leaf_line(p: &mut Part, text: &[u8]) {
    p.buf.clear();
    match p.cte {
        Cte::Base64 => p.b64.feed(text, &mut p.buf),
        Cte::QuotedPrintable => {
            if p.newline {
                p.buf.extend_from_slice(b"\r\n");
            }
            p.newline = !qp_line(text, &mut p.buf);
        }
        Cte::Identity => {
            if p.newline {
                p.buf.extend_from_slice(b"\r\n");
            }
            p.buf.extend_from_slice(text);
            p.newline = true;
        }
    }
    p.content.update(&p.buf);
}

#[cfg(test)]
mod tests;
