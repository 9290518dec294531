//! Message bodies: framing (Content-Length, chunked, until the end of the
//! direction), content decoding (gzip, deflate) and hashing, all streamed.

use flate2::{Decompress, FlushDecompress, Status};

use crate::file::{Content, Digests};

/// Most decoded bytes hashed per content-encoded body: past it the body is
/// marked truncated and decoding stops (a small input can inflate a lot).
pub(super) const DECODE_MAX: u64 = 16 * 1024 * 1024;
/// Longest chunk-size or trailer line.
const CHUNK_LINE_MAX: usize = 8 * 1024;

/// How the end of a body is found.
#[derive(Debug)]
pub(super) enum Framing {
    /// Content-Length: bytes still to come.
    Length(u64),
    /// Chunked transfer coding.
    Chunked(Chunk),
    /// No length: the body ends with the direction.
    UntilEnd,
}

/// Where the chunked decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk: data bytes still to come.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines up to an empty line.
    Trailer,
}

/// What one [`Body::feed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Feed {
    /// Consumed that many bytes; the body goes on.
    Used(usize),
    /// Consumed that many bytes; the body is complete.
    Done(usize),
    /// Needs at least that many bytes (from the current position) to go on.
    Need(usize),
    /// The framing is broken at the current position (nothing consumed).
    Bad(&'static str),
}

/// A body being received.
#[derive(Debug)]
pub(super) struct Body {
    framing: Framing,
    sink: Box<Sink>,
}

impl Body {
    /// A body framed by `framing` whose content is coded with `coding`;
    /// `keep`: bytes of the content kept for extraction (0: none).
    pub(super) fn new(framing: Framing, coding: Coding, keep: u64) -> Body {
        Body {
            framing,
            sink: Box::new(Sink::new(coding, keep)),
        }
    }

    /// Heap bytes of the body's state: hashers, and the decompressor with
    /// its window when the content is decoded.
    pub(super) fn memory(&self) -> usize {
        let inflate = if self.sink.inflate.is_some() {
            std::mem::size_of::<Inflate>() + INFLATE_STATE
        } else {
            0
        };
        let kept =
            self.sink.raw.memory() + self.sink.inflate.as_ref().map_or(0, |i| i.content.memory());
        std::mem::size_of::<Sink>() + inflate + kept
    }

    /// Whether the body lasts until the end of the direction.
    pub(super) fn until_end(&self) -> bool {
        matches!(self.framing, Framing::UntilEnd)
    }

    /// Consumes the next piece of the body from `input` (not empty).
    pub(super) fn feed(&mut self, input: &[u8]) -> Feed {
        let sink = &mut self.sink;
        match &mut self.framing {
            Framing::Length(rem) => {
                let n = sink.data(input, rem);
                sink.wire += n as u64;
                if *rem == 0 {
                    Feed::Done(n)
                } else {
                    Feed::Used(n)
                }
            }
            Framing::UntilEnd => {
                let mut unbounded = u64::MAX;
                let n = sink.data(input, &mut unbounded);
                sink.wire += n as u64;
                Feed::Used(n)
            }
            Framing::Chunked(chunk) => match *chunk {
                Chunk::Size => match line(input) {
                    Line::Need => Feed::Need(input.len() + 1),
                    Line::TooLong => Feed::Bad("chunk-size line too long"),
                    Line::Found(text, n) => match chunk_size(text) {
                        None => Feed::Bad("invalid chunk size"),
                        Some(size) => {
                            sink.wire += n as u64;
                            *chunk = if size == 0 {
                                Chunk::Trailer
                            } else {
                                Chunk::Data(size)
                            };
                            Feed::Used(n)
                        }
                    },
                },
                Chunk::Data(mut rem) => {
                    let n = sink.data(input, &mut rem);
                    sink.wire += n as u64;
                    *chunk = if rem == 0 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(rem)
                    };
                    Feed::Used(n)
                }
                // A bare LF is accepted as the line end, as by most parsers.
                Chunk::DataEnd => match input {
                    [b'\r', b'\n', ..] | [b'\n', ..] => {
                        let n = if input.first() == Some(&b'\r') { 2 } else { 1 };
                        sink.wire += n as u64;
                        *chunk = Chunk::Size;
                        Feed::Used(n)
                    }
                    [b'\r'] => Feed::Need(2),
                    _ => Feed::Bad("chunk data not followed by CRLF"),
                },
                Chunk::Trailer => match line(input) {
                    Line::Need => Feed::Need(input.len() + 1),
                    Line::TooLong => Feed::Bad("trailer line too long"),
                    Line::Found(text, n) => {
                        sink.wire += n as u64;
                        if text.is_empty() {
                            Feed::Done(n)
                        } else {
                            Feed::Used(n)
                        }
                    }
                },
            },
        }
    }

    /// Skips `len` missing bytes when they surely are body data; false when
    /// the body cannot absorb them (the framing would be lost).
    pub(super) fn skip(&mut self, len: u64) -> bool {
        let rem = match &mut self.framing {
            Framing::Length(rem) | Framing::Chunked(Chunk::Data(rem)) if *rem >= len => rem,
            Framing::UntilEnd => {
                self.sink.missed(len);
                return true;
            }
            _ => return false,
        };
        *rem -= len;
        self.sink.missed(len);
        true
    }

    /// Ends the body (complete or not) and tells what was seen of it.
    pub(super) fn finish(self) -> BodyResult {
        self.sink.finish()
    }
}

/// A line of at most [`CHUNK_LINE_MAX`] bytes at the start of the input.
enum Line<'a> {
    /// The line without its line end, and its length with it.
    Found(&'a [u8], usize),
    /// No line end yet.
    Need,
    /// No line end within the limit.
    TooLong,
}

fn line(input: &[u8]) -> Line<'_> {
    let window = input.get(..CHUNK_LINE_MAX).unwrap_or(input);
    match window.iter().position(|&b| b == b'\n') {
        Some(i) => {
            let text = window.get(..i).unwrap_or_default();
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            Line::Found(text, i + 1)
        }
        None if input.len() >= CHUNK_LINE_MAX => Line::TooLong,
        None => Line::Need,
    }
}

/// The size of a chunk-size line (`1*HEXDIG [ chunk-ext ]`); None when
/// invalid or larger than u64.
pub(super) fn chunk_size(line: &[u8]) -> Option<u64> {
    let end = line.iter().position(|&b| b == b';').unwrap_or(line.len());
    let digits = line.get(..end)?.trim_ascii();
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        let d = u64::from(char::from(b).to_digit(16)?);
        acc.checked_mul(16)?.checked_add(d)
    })
}

/// Content coding of a body (Content-Encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Coding {
    /// None, or identity.
    Identity,
    /// gzip or x-gzip.
    Gzip,
    /// deflate: zlib-wrapped, or raw deflate as some servers send it.
    Deflate,
    /// Anything else (br, zstd, several codings): not decoded.
    Other,
}

impl Coding {
    /// The coding a Content-Encoding value names.
    pub(super) fn from_header(value: &[u8]) -> Coding {
        let v = value.trim_ascii();
        if v.is_empty() || v.eq_ignore_ascii_case(b"identity") {
            Coding::Identity
        } else if v.eq_ignore_ascii_case(b"gzip") || v.eq_ignore_ascii_case(b"x-gzip") {
            Coding::Gzip
        } else if v.eq_ignore_ascii_case(b"deflate") {
            Coding::Deflate
        } else {
            Coding::Other
        }
    }
}

/// What is known of a body once it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct BodyResult {
    /// Bytes on the wire (chunk framing included).
    pub wire_len: u64,
    /// Bytes after de-chunking.
    pub len: u64,
    /// Bytes hashed: after content decoding, or `len` when not decoded.
    pub decoded_len: u64,
    /// Lower-case hex digests; empty without a body.
    pub md5: String,
    pub sha256: String,
    /// The content as a file (decoded when the decoding succeeded).
    pub file: Digests,
    /// The content coding that was decoded ("gzip", "deflate"; empty: none).
    pub decoded_from: &'static str,
    /// Bytes never seen.
    pub missed: u64,
    /// The hashes are not of the whole decoded body.
    pub truncated: bool,
}

/// Counts and hashes the body bytes, raw and decoded.
#[derive(Debug)]
struct Sink {
    wire: u64,
    len: u64,
    missed: u64,
    /// The de-chunked bytes (kept for extraction only when not decoded).
    raw: Content,
    coding: Coding,
    inflate: Option<Box<Inflate>>,
}

impl Sink {
    fn new(coding: Coding, keep: u64) -> Sink {
        let (inflate, raw_keep) = match coding {
            Coding::Gzip | Coding::Deflate => (Some(Box::new(Inflate::new(coding, keep))), 0),
            Coding::Identity | Coding::Other => (None, keep),
        };
        Sink {
            wire: 0,
            len: 0,
            missed: 0,
            raw: Content::new(raw_keep),
            coding,
            inflate,
        }
    }

    /// Takes at most `*rem` bytes of `input` as body data; returns how many.
    fn data(&mut self, input: &[u8], rem: &mut u64) -> usize {
        let n = usize::try_from(*rem).map_or(input.len(), |r| r.min(input.len()));
        let data = input.get(..n).unwrap_or_default();
        *rem -= n as u64;
        self.len += n as u64;
        self.raw.update(data);
        if let Some(inflate) = &mut self.inflate {
            inflate.feed(data);
        }
        n
    }

    fn missed(&mut self, len: u64) {
        self.missed = self.missed.saturating_add(len);
        // The decoder cannot go on over missing bytes.
        if let Some(inflate) = &mut self.inflate {
            inflate.state = InflateState::Failed;
        }
    }

    fn finish(self) -> BodyResult {
        let mut r = BodyResult {
            wire_len: self.wire,
            len: self.len,
            decoded_len: self.len,
            missed: self.missed,
            truncated: self.missed > 0,
            ..BodyResult::default()
        };
        if self.len == 0 {
            return r;
        }
        let decoded = match self.inflate {
            Some(inflate) => inflate.finish(),
            None => None,
        };
        let file = match decoded {
            Some((content, capped)) => {
                r.truncated |= capped;
                r.decoded_from = match self.coding {
                    Coding::Gzip => "gzip",
                    _ => "deflate",
                };
                content.finish()
            }
            None => {
                // Not decoded (failed, cut, unknown coding): the de-chunked bytes.
                r.truncated |= self.coding != Coding::Identity;
                self.raw.finish()
            }
        };
        r.decoded_len = file.len;
        r.md5.clone_from(&file.md5);
        r.sha256.clone_from(&file.sha256);
        r.file = file;
        r
    }
}

/// Streaming inflater (gzip, zlib or raw deflate) into the decoded hashers.
/// Heap of a running decompressor: the 32 KiB window and zlib-rs's state.
const INFLATE_STATE: usize = 48 << 10;

struct Inflate {
    state: InflateState,
    out: u64,
    content: Content,
}

enum InflateState {
    /// deflate: the first two bytes tell zlib from raw deflate.
    Sniff([u8; 2], usize),
    Run(Decompress),
    /// The stream ended (trailing bytes are ignored).
    Ended,
    /// [`DECODE_MAX`] reached.
    Capped,
    Failed,
}

impl std::fmt::Debug for Inflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflate").field("out", &self.out).finish()
    }
}

impl Inflate {
    fn new(coding: Coding, keep: u64) -> Inflate {
        let state = match coding {
            // 15: the largest window, as gzip streams use.
            Coding::Gzip => InflateState::Run(Decompress::new_gzip(15)),
            _ => InflateState::Sniff([0; 2], 0),
        };
        Inflate {
            state,
            out: 0,
            content: Content::new(keep),
        }
    }

    fn feed(&mut self, mut data: &[u8]) {
        if let InflateState::Sniff(buf, n) = &mut self.state {
            while *n < 2 {
                let Some((&b, rest)) = data.split_first() else {
                    return;
                };
                if let Some(slot) = buf.get_mut(*n) {
                    *slot = b;
                }
                *n += 1;
                data = rest;
            }
            let head = *buf;
            // RFC 1950: CM = 8 and the header is a multiple of 31.
            let zlib = head[0] & 0x0f == 8 && u16::from_be_bytes(head) % 31 == 0;
            self.state = InflateState::Run(Decompress::new(zlib));
            self.inflate(&head);
        }
        self.inflate(data);
    }

    fn inflate(&mut self, mut data: &[u8]) {
        let InflateState::Run(d) = &mut self.state else {
            return;
        };
        let mut buf = [0u8; 16 * 1024];
        loop {
            let (in0, out0) = (d.total_in(), d.total_out());
            let status = d.decompress(data, &mut buf, FlushDecompress::None);
            let used = usize::try_from(d.total_in() - in0).unwrap_or(usize::MAX);
            let made = usize::try_from(d.total_out() - out0).unwrap_or(0);
            let room = usize::try_from(DECODE_MAX - self.out).unwrap_or(usize::MAX);
            let out = buf.get(..made.min(room)).unwrap_or_default();
            self.content.update(out);
            self.out += out.len() as u64;
            data = data.get(used..).unwrap_or_default();
            match status {
                Err(_) => {
                    self.state = InflateState::Failed;
                    return;
                }
                Ok(_) if made > room => {
                    self.state = InflateState::Capped;
                    return;
                }
                Ok(Status::StreamEnd) => {
                    self.state = InflateState::Ended;
                    return;
                }
                Ok(_) if (used == 0 && made == 0) || (data.is_empty() && made < buf.len()) => {
                    return;
                }
                Ok(_) => {}
            }
        }
    }

    /// The decoded content and whether capped; None when the stream did
    /// not decode to its end (broken, cut by a gap, or incomplete).
    fn finish(self) -> Option<(Content, bool)> {
        match self.state {
            InflateState::Ended => Some((self.content, false)),
            InflateState::Capped => Some((self.content, true)),
            _ => None,
        }
    }
}
