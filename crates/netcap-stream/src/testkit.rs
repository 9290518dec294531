//! Test support shared by the parsers' tests: an emulation of the engine
//! that checks the parser contract, and the fixture format (one segment per
//! line: frame, `C` or `S`, payload in hex).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use crate::parser::{ConnMeta, Cx, Dir, Origin, ParseError, StreamParser};
use crate::records::StreamRecord;

/// Bytes of a hex string.
pub(crate) fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// The packet of fixture frame `frame` (time: a microsecond per frame).
pub(crate) fn origin(frame: u64) -> Origin {
    Origin {
        ts_ns: frame as i64 * 1_000,
        number: frame,
    }
}

/// A connection from 10.0.0.1:40000 to 10.0.0.2:`port`.
pub(crate) fn meta(uid: &str, port: u16) -> ConnMeta {
    ConnMeta {
        uid: uid.into(),
        client: ("10.0.0.1".parse().unwrap(), 40000),
        server: ("10.0.0.2".parse().unwrap(), port),
        files_max: 0,
    }
}

/// Segments of a fixture: (frame, direction, payload).
pub(crate) fn fixture(text: &str) -> Vec<(u64, Dir, Vec<u8>)> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut f = l.split(' ');
            let frame = f.next().unwrap().parse().unwrap();
            let dir = match f.next().unwrap() {
                "C" => Dir::ToServer,
                _ => Dir::ToClient,
            };
            (frame, dir, unhex(f.next().unwrap()))
        })
        .collect()
}

/// One direction's unconsumed bytes, as the engine keeps them.
#[derive(Default)]
pub(crate) struct Pending {
    pub(crate) buf: Vec<u8>,
    runs: Vec<(usize, Origin)>,
    needed: usize,
}

/// Emulates the engine: keeps the unconsumed rest with its origins, calls
/// the parser once enough bytes are there, checks the contract. After a
/// parse error it stops feeding and keeps the error.
pub(crate) struct Engine<P> {
    pub parser: P,
    pub meta: ConnMeta,
    pub out: Vec<(u64, StreamRecord)>,
    pub pending: [Pending; 2],
    pub error: Option<ParseError>,
}

impl<P: StreamParser> Engine<P> {
    /// An engine around `parser` on connection `meta`.
    pub fn with(parser: P, meta: ConnMeta) -> Self {
        Engine {
            parser,
            meta,
            out: Vec::new(),
            pending: Default::default(),
            error: None,
        }
    }

    /// Feeds a segment of `dir` from frame `frame`.
    pub fn feed(&mut self, dir: Dir, frame: u64, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let p = &mut self.pending[dir.index()];
        p.runs.push((p.buf.len(), origin(frame)));
        p.buf.extend_from_slice(bytes);
        if p.buf.len() < p.needed {
            return;
        }
        let mut cx = Cx::new(&self.meta, origin(frame), &mut self.out);
        cx.runs = &p.runs;
        match self.parser.parse(dir, &p.buf, &mut cx) {
            Ok(r) => {
                assert!(r.consumed <= p.buf.len());
                let rest = p.buf.len() - r.consumed;
                if rest > 0 {
                    assert!(r.needed > rest, "needed {} rest {rest}", r.needed);
                }
                let o = cx.origin(r.consumed);
                p.buf.drain(..r.consumed);
                p.runs.retain(|(s, _)| *s > r.consumed);
                for run in &mut p.runs {
                    run.0 -= r.consumed;
                }
                p.runs.insert(0, (0, o));
                if p.buf.is_empty() {
                    p.runs.clear();
                    p.needed = 0;
                } else {
                    p.needed = r.needed;
                }
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// A gap of 10 bytes in `dir` at frame `frame`.
    pub fn gap(&mut self, dir: Dir, frame: u64) {
        self.pending[dir.index()] = Pending::default();
        let mut cx = Cx::new(&self.meta, origin(frame), &mut self.out);
        self.parser.gap(dir, 10, &mut cx);
    }

    /// The end of the connection, at frame `frame`.
    pub fn finish_at(&mut self, frame: u64) {
        let mut cx = Cx::new(&self.meta, origin(frame), &mut self.out);
        self.parser.finish(&mut cx);
    }
}
