//! Line protocols: FTP, SMTP, POP3 and IMAP, one record per client command
//! with its reply, and the [`Credentials`](netcap_schema::Credentials) their
//! logins carry.
//!
//! One core serves the four: [`DirReader`] cuts a direction's bytes into
//! lines (CRLF or LF) under the parser contract, without buffering input
//! itself: an unfinished line stays with the engine (`Parsed::need`), a line
//! longer than [`MAX_LINE`] is cut there (flagged on the record, counted)
//! and the rest of it skipped; counted raw runs (IMAP `{N}` literals, SMTP
//! BDAT chunks) are passed over without being kept. [`LineParser`] drives a
//! protocol's [`LineProto`] with it, holds a direction back after a STARTTLS
//! command until the reply is seen, and then hands the connection to the TLS
//! parser ([`StreamParser::upgrade`]).
//!
//! Commands wait for their reply in a bounded queue ([`MAX_QUEUE`]):
//! pipelined SMTP commands and POP3 commands pair in order, IMAP commands by
//! tag. The server greeting (and any reply nothing asked for) is a record
//! with an empty command. A command without a reply is written at the end of
//! the connection with reply code 0 (empty status).

pub(crate) mod creds;
mod ftp;
mod imap;
mod pop3;
mod smtp;
#[cfg(test)]
mod tests;

pub(crate) use creds::Login;
pub use ftp::PROTOCOL as FTP;
pub use imap::PROTOCOL as IMAP;
pub use pop3::PROTOCOL as POP3;
pub use smtp::PROTOCOL as SMTP;

use crate::parser::{Cx, Dir, Origin, ParseError, Parsed, StreamParser};

/// Longest line kept (commands, replies); longer ones are cut to this and
/// the rest skipped. RFC 5321 allows 512 for commands and replies, RFC 959
/// no limit; Suricata's FTP default is 4 KiB.
pub const MAX_LINE: usize = 4096;
/// Commands waiting for their reply; when full, the oldest is written
/// without one.
pub const MAX_QUEUE: usize = 64;
/// Longest reply text kept (the lines of a multi-line reply joined).
pub const MAX_TEXT: usize = 1024;
/// Largest literal or SASL response kept as text (IMAP LOGIN user names and
/// passwords may be literals); larger ones are only counted.
pub const MAX_KEEP: usize = 1024;

/// One line of input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Line<'a> {
    /// The bytes, without CR LF (at most [`MAX_LINE`]).
    pub text: &'a [u8],
    /// Offset of its first byte in the call's input.
    pub start: usize,
    /// Longer than [`MAX_LINE`]: cut.
    pub cut: bool,
    /// Bytes of input it took, line end included (of a cut line: the part
    /// kept).
    pub wire: usize,
}

/// What the protocol wants after a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Then {
    /// Next line.
    Line,
    /// The next `n` bytes are raw (a literal, a chunk): passed to
    /// [`LineProto::raw`], then lines again.
    Raw(u64),
}

/// A direction's reading state.
#[derive(Debug, Default, Clone)]
pub(crate) struct DirReader {
    /// Raw bytes still to pass before the next line.
    raw: u64,
    /// The rest of a cut line (or of a line broken by a gap) is skipped up
    /// to its end.
    skip_line: bool,
    /// Lines cut at [`MAX_LINE`].
    pub cut_lines: u64,
}

/// One step of a direction's reader.
enum Step<'a> {
    Line(Line<'a>),
    Raw(&'a [u8], usize),
    /// An unfinished line: call again with at least this much input.
    Need(usize),
    /// Everything consumed.
    Done,
}

impl DirReader {
    /// The next item of `input` from `*pos`, advancing `*pos` past it.
    fn step<'a>(&mut self, input: &'a [u8], pos: &mut usize) -> Step<'a> {
        loop {
            let rest = input.get(*pos..).unwrap_or_default();
            if rest.is_empty() {
                return Step::Done;
            }
            if self.raw > 0 {
                let n = usize::try_from(self.raw)
                    .unwrap_or(usize::MAX)
                    .min(rest.len());
                self.raw -= n as u64;
                let start = *pos;
                *pos += n;
                return Step::Raw(rest.get(..n).unwrap_or_default(), start);
            }
            let window = rest.get(..rest.len().min(MAX_LINE + 1)).unwrap_or(rest);
            match window.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let start = *pos;
                    *pos += i + 1;
                    if self.skip_line {
                        self.skip_line = false;
                        continue;
                    }
                    let mut text = window.get(..i).unwrap_or_default();
                    if let Some(t) = text.strip_suffix(b"\r") {
                        text = t;
                    }
                    let cut = text.len() > MAX_LINE;
                    if cut {
                        self.cut_lines += 1;
                        text = text.get(..MAX_LINE).unwrap_or(text);
                    }
                    return Step::Line(Line {
                        text,
                        start,
                        cut,
                        wire: i + 1,
                    });
                }
                None if self.skip_line => *pos += window.len(),
                None if rest.len() > MAX_LINE => {
                    let start = *pos;
                    *pos += MAX_LINE;
                    self.skip_line = true;
                    self.cut_lines += 1;
                    let text = rest.get(..MAX_LINE).unwrap_or_default();
                    return Step::Line(Line {
                        text,
                        start,
                        cut: true,
                        wire: MAX_LINE,
                    });
                }
                None => return Step::Need(rest.len() + 1),
            }
        }
    }

    /// Bytes were lost: the line they were in is dropped up to its end, a
    /// raw run is over.
    fn gap(&mut self) {
        self.raw = 0;
        self.skip_line = true;
    }
}

/// What a line protocol does with the lines of a connection.
pub(crate) trait LineProto: Send + Default {
    /// Protocol name.
    const NAME: &'static str;
    /// A line of direction `dir`.
    fn line(&mut self, dir: Dir, line: &Line<'_>, cx: &mut Cx<'_>) -> Then;
    /// Raw bytes of direction `dir` announced by [`Then::Raw`].
    fn raw(&mut self, dir: Dir, data: &[u8], start: usize, cx: &mut Cx<'_>) {
        let _ = (dir, data, start, cx);
    }
    /// `len` bytes of `dir` are missing.
    fn gap(&mut self, dir: Dir, len: u64, cx: &mut Cx<'_>);
    /// Write everything pending.
    fn finish(&mut self, cx: &mut Cx<'_>);
    /// Heap bytes held.
    fn memory(&self) -> usize;
    /// Stop reading `dir` for now (after STARTTLS, until its reply).
    fn hold(&self, dir: Dir) -> bool {
        let _ = dir;
        false
    }
    /// TLS was accepted: the rest of the connection is TLS.
    fn tls(&self) -> bool {
        false
    }
}

/// A [`StreamParser`] made of a [`LineProto`] and a reader per direction.
#[derive(Default)]
pub(crate) struct LineParser<P> {
    proto: P,
    rd: [DirReader; 2],
    upgraded: bool,
}

impl<P: LineProto> StreamParser for LineParser<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }

    fn parse(&mut self, dir: Dir, input: &[u8], cx: &mut Cx<'_>) -> Result<Parsed, ParseError> {
        let mut pos = 0;
        loop {
            if self.proto.hold(dir) || self.proto.tls() {
                // The bytes stay with the engine: the TLS parser (or the
                // line parser, when STARTTLS was refused) gets them.
                return Ok(if pos < input.len() {
                    Parsed::need(pos, input.len() - pos + 1)
                } else {
                    Parsed::all(input)
                });
            }
            let Some(rd) = self.rd.get_mut(dir.index()) else {
                return Ok(Parsed::all(input));
            };
            match rd.step(input, &mut pos) {
                Step::Done => return Ok(Parsed::all(input)),
                Step::Need(n) => return Ok(Parsed::need(pos, n)),
                Step::Raw(data, start) => self.proto.raw(dir, data, start, cx),
                Step::Line(line) => {
                    if let Then::Raw(n) = self.proto.line(dir, &line, cx) {
                        if let Some(rd) = self.rd.get_mut(dir.index()) {
                            rd.raw = n;
                        }
                    }
                }
            }
        }
    }

    fn gap(&mut self, dir: Dir, len: u64, cx: &mut Cx<'_>) {
        if let Some(rd) = self.rd.get_mut(dir.index()) {
            rd.gap();
        }
        self.proto.gap(dir, len, cx);
    }

    fn finish(&mut self, cx: &mut Cx<'_>) {
        self.proto.finish(cx);
    }

    fn memory(&self) -> usize {
        self.proto.memory()
    }

    fn upgrade(&mut self) -> Option<Box<dyn StreamParser>> {
        if self.proto.tls() && !self.upgraded {
            self.upgraded = true;
            return Some((crate::tls::PROTOCOL.new)());
        }
        None
    }

    fn cut_units(&self) -> u64 {
        self.rd.iter().map(|r| r.cut_lines).sum()
    }
}

/// Text of bytes as records hold it (invalid UTF-8 replaced).
pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The first word of a line and the rest after one run of spaces.
pub(crate) fn split_word(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|&b| b == b' ') {
        Some(i) => {
            let rest = line.get(i + 1..).unwrap_or_default();
            (line.get(..i).unwrap_or_default(), rest)
        }
        None => (line, &[]),
    }
}

/// Appends a reply line's text to `acc`, lines joined by "\n", at most
/// [`MAX_TEXT`] bytes.
pub(crate) fn add_text(acc: &mut String, line: &[u8]) {
    if acc.len() >= MAX_TEXT {
        return;
    }
    if !acc.is_empty() {
        acc.push('\n');
    }
    let room = MAX_TEXT.saturating_sub(acc.len());
    let t = String::from_utf8_lossy(line.get(..line.len().min(room)).unwrap_or_default());
    acc.push_str(&t);
}

/// Whether `b` starts with `word` (ASCII case-insensitive) followed by the
/// end or a space.
pub(crate) fn is_verb(b: &[u8], word: &str) -> bool {
    let (w, _) = split_word(b);
    w.eq_ignore_ascii_case(word.as_bytes())
}

/// The parts of a pending command the four protocols share.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cmd {
    pub origin: Origin,
    pub verb: String,
    pub args: String,
    pub truncated: bool,
    pub partial: bool,
}

impl Cmd {
    /// A command from a line (`verb SP args`).
    pub fn from_line(line: &Line<'_>, cx: &Cx<'_>) -> Cmd {
        let (verb, args) = split_word(line.text);
        Cmd {
            origin: cx.origin(line.start),
            verb: text(verb),
            args: text(args),
            truncated: line.cut,
            partial: false,
        }
    }

    /// Heap bytes.
    pub fn memory(&self) -> usize {
        self.verb.capacity() + self.args.capacity()
    }
}

/// The reply side of an exchange.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reply {
    pub origin: Origin,
    pub text: String,
    pub truncated: bool,
}

impl Reply {
    pub fn memory(&self) -> usize {
        self.text.capacity()
    }
}

/// The common fields of the four records, in the order the messages
/// declare them.
pub(crate) struct Common {
    pub timestamp: i64,
    pub packet_number: u64,
    pub connection_uid: String,
    pub src_ip: String,
    pub src_port: i32,
    pub dst_ip: String,
    pub dst_port: i32,
}

impl Common {
    pub fn of(cx: &Cx<'_>, at: Origin) -> Common {
        let m = cx.meta;
        Common {
            timestamp: at.ts_ns,
            packet_number: at.number,
            connection_uid: m.uid.clone(),
            src_ip: m.client_ip(),
            src_port: m.client_port(),
            dst_ip: m.server_ip(),
            dst_port: m.server_port(),
        }
    }
}

/// Probe helper: the first line of `data` (without CR LF) when complete, or
/// what is there when no line end is in the first [`MAX_LINE`] bytes.
pub(crate) fn first_line(data: &[u8]) -> Option<&[u8]> {
    let w = data.get(..data.len().min(MAX_LINE)).unwrap_or(data);
    let i = w.iter().position(|&b| b == b'\n')?;
    let l = w.get(..i).unwrap_or_default();
    Some(l.strip_suffix(b"\r").unwrap_or(l))
}

/// Whether `hay` contains `needle`, ASCII case-insensitive.
pub(crate) fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// The reply code of a line: three digits then ' ' (last line) or '-'.
pub(crate) fn reply_code(line: &[u8]) -> Option<(i32, bool)> {
    let d = line.get(..3)?;
    if !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = d
        .iter()
        .fold(0i32, |a, &b| a * 10 + i32::from(b.saturating_sub(b'0')));
    match line.get(3) {
        None | Some(b' ') => Some((code, true)),
        Some(b'-') => Some((code, false)),
        _ => None,
    }
}
