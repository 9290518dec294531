//! The contract between the reassembler and the stream parsers.
//!
//! A parser is fed each direction's bytes in order, as the reassembler
//! releases them. For every call it answers how many bytes it consumed and,
//! when it stopped in the middle of a message, how many bytes it needs in all
//! before it can go on ([`Parsed`]). The engine keeps the unconsumed tail and
//! hands it back, followed by the new bytes, once enough arrived: parsers
//! never buffer raw input themselves, and the engine's buffer is capped (a
//! message longer than the cap is cut, counted, and reported as a gap).
//!
//! Missing bytes (a hole that never filled, a cap, the end of the capture)
//! reach the parser as [`StreamParser::gap`]: it drops what it was in the
//! middle of and resynchronises on the next message it can recognise in the
//! bytes that follow. The end of a direction (FIN, RST, depth limit) and of
//! the connection are told too, so that unfinished exchanges are written.
//!
//! Records go through the [`Cx`], which knows the connection
//! ([`ConnMeta`]), maps input offsets to the packet each byte came from
//! ([`Cx::origin`]), and orders what is emitted.

use std::net::IpAddr;

use netcap_schema::Anomaly;

use crate::records::StreamRecord;

/// Direction of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Client to server.
    ToServer,
    /// Server to client.
    ToClient,
}

impl Dir {
    /// 0 for [`Dir::ToServer`], 1 for [`Dir::ToClient`].
    pub fn index(self) -> usize {
        match self {
            Dir::ToServer => 0,
            Dir::ToClient => 1,
        }
    }

    /// The other direction.
    pub fn other(self) -> Dir {
        match self {
            Dir::ToServer => Dir::ToClient,
            Dir::ToClient => Dir::ToServer,
        }
    }
}

/// The packet a byte came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Origin {
    /// Capture time, nanoseconds since the epoch.
    pub ts_ns: i64,
    /// Packet number (1-based).
    pub number: u64,
}

/// What every stream record says about its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnMeta {
    /// UID of the Connection record.
    pub uid: String,
    /// Client address and port.
    pub client: (IpAddr, u16),
    /// Server address and port.
    pub server: (IpAddr, u16),
    /// Extraction (`--files`): the content of each file up to this many
    /// bytes is kept and handed out with its File record (0: off).
    pub files_max: u64,
}

impl ConnMeta {
    /// Client address as records write it.
    pub fn client_ip(&self) -> String {
        netcap_decode::text::ip_text(self.client.0)
    }

    /// Server address as records write it.
    pub fn server_ip(&self) -> String {
        netcap_decode::text::ip_text(self.server.0)
    }

    /// Client port.
    pub fn client_port(&self) -> i32 {
        i32::from(self.client.1)
    }

    /// Server port.
    pub fn server_port(&self) -> i32 {
        i32::from(self.server.1)
    }
}

/// A parser's answer to one call of [`StreamParser::parse`].
///
/// `consumed <= input.len()`. When `consumed < input.len()`, the rest is given
/// again at the start of the next call, and `needed` is the least length of
/// that next input (unconsumed rest plus new bytes) worth a call: more than
/// the rest. When everything was consumed, `needed` is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    /// Bytes of the input used up.
    pub consumed: usize,
    /// Least input length for the next call when bytes are left over.
    pub needed: usize,
}

impl Parsed {
    /// All input consumed.
    pub fn all(input: &[u8]) -> Parsed {
        Parsed {
            consumed: input.len(),
            needed: 0,
        }
    }

    /// `consumed` bytes used; call again with at least `needed` bytes.
    pub fn need(consumed: usize, needed: usize) -> Parsed {
        Parsed { consumed, needed }
    }
}

/// Why a direction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The sender's FIN was reached: every byte before it was delivered.
    Fin,
    /// A RST ended the connection.
    Reset,
    /// The reassembly depth was reached: later bytes are only counted.
    Depth,
    /// The connection ended (timeout, end of capture, eviction) with the
    /// direction still open.
    Close,
}

/// A protocol violation after which the parser gives up on the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// A parser of one application protocol over a TCP connection (both
/// directions). One instance per connection.
pub trait StreamParser: Send {
    /// Protocol name as the Connection record's `Services` and
    /// `ApplicationProto` name it ("HTTP", "TLS", "DNS").
    fn name(&self) -> &'static str;

    /// Parses `input`, the next contiguous bytes of direction `dir` (after the
    /// unconsumed rest of the previous call). An error stops the parser for
    /// the connection; the engine records it as an anomaly.
    fn parse(&mut self, dir: Dir, input: &[u8], cx: &mut Cx<'_>) -> Result<Parsed, ParseError>;

    /// `len` bytes of `dir` are missing before the next input; any unconsumed
    /// rest of the previous call was dropped with them.
    fn gap(&mut self, dir: Dir, len: u64, cx: &mut Cx<'_>);

    /// Direction `dir` will get no more bytes. Called once per direction at
    /// most; [`StreamParser::finish`] follows at the connection's end.
    fn end(&mut self, dir: Dir, why: End, cx: &mut Cx<'_>) {
        let _ = (dir, why, cx);
    }

    /// The connection ended: write what is still pending (a request without
    /// response, a message cut short).
    fn finish(&mut self, cx: &mut Cx<'_>);

    /// Heap bytes the parser holds (an estimate, allocator overhead
    /// included): the connection's memory counts it against the flow
    /// table's budget, so it must grow with whatever the parser buffers.
    fn memory(&self) -> usize;

    /// Asked after every call: the parser the rest of the connection goes
    /// to, once the protocol switched (SMTP, POP3, IMAP or FTP after an
    /// accepted STARTTLS: TLS). Bytes this parser left unconsumed, in both
    /// directions, are given to the new one.
    fn upgrade(&mut self) -> Option<Box<dyn StreamParser>> {
        None
    }

    /// Units (lines, headers) this parser cut at its limits so far, for the
    /// summary.
    fn cut_units(&self) -> u64 {
        0
    }
}

/// How a parser sees its connection during a call: the connection's facts,
/// the origin of each input byte, and the records it emits.
pub struct Cx<'a> {
    /// The connection.
    pub meta: &'a ConnMeta,
    /// Origins of the input of the current call: (input offset where the run
    /// starts, packet). Sorted by offset; the first run starts at 0.
    pub(crate) runs: &'a [(usize, Origin)],
    /// The packet being processed (or, at the connection's end, its last packet).
    pub now: Origin,
    /// Key that orders the records emitted now (see [`crate::conn`]).
    pub(crate) key: u64,
    pub(crate) out: &'a mut Vec<(u64, StreamRecord)>,
}

impl<'a> Cx<'a> {
    /// A context for tests and tools that drive a parser directly: every
    /// byte comes from `now`, records are appended to `out` keyed by
    /// `now.number`.
    pub fn new(meta: &'a ConnMeta, now: Origin, out: &'a mut Vec<(u64, StreamRecord)>) -> Cx<'a> {
        Cx::at(meta, now, now.number, out)
    }

    /// A context for the engine's calls without input (gaps, ends,
    /// anomalies): records keyed by `key`.
    pub(crate) fn at(
        meta: &'a ConnMeta,
        now: Origin,
        key: u64,
        out: &'a mut Vec<(u64, StreamRecord)>,
    ) -> Cx<'a> {
        Cx {
            meta,
            runs: &[],
            now,
            key,
            out,
        }
    }

    /// The packet that carried byte `offset` of the current input (the
    /// current packet when unknown).
    pub fn origin(&self, offset: usize) -> Origin {
        let i = self.runs.partition_point(|(start, _)| *start <= offset);
        match i.checked_sub(1).and_then(|i| self.runs.get(i)) {
            Some((_, o)) => *o,
            None => self.now,
        }
    }

    /// Emits a record.
    pub fn emit(&mut self, rec: StreamRecord) {
        self.out.push((self.key, rec));
    }

    /// Emits an Anomaly record seen now in direction `dir`.
    pub fn anomaly(&mut self, dir: Dir, source: &str, name: &str, details: String) {
        let m = self.meta;
        let rec = Anomaly {
            timestamp: self.now.ts_ns,
            packet_number: self.now.number,
            connection_uid: m.uid.clone(),
            src_ip: m.client_ip(),
            src_port: m.client_port(),
            dst_ip: m.server_ip(),
            dst_port: m.server_port(),
            name: name.to_string(),
            source: source.to_string(),
            to_server: dir == Dir::ToServer,
            details,
            ..Default::default()
        };
        self.emit(StreamRecord::Anomaly(Box::new(rec)));
    }
}

/// Whether bytes look like the start of a protocol's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// They do.
    Yes,
    /// They do not.
    No,
    /// Too few bytes to tell.
    NeedMore,
}

/// A stream protocol: how to recognise it and how to make its parser.
#[derive(Clone, Copy)]
pub struct Protocol {
    /// Name, as [`StreamParser::name`].
    pub name: &'static str,
    /// Server ports where this protocol is tried first (a hint, not a rule).
    pub ports: &'static [u16],
    /// Recognises the first bytes of a direction. `port_hint` is true when
    /// the server port is one of `ports` (a probe may accept weaker
    /// evidence then, e.g. DNS, which has no magic bytes).
    pub probe: fn(dir: Dir, data: &[u8], port_hint: bool) -> Probe,
    /// A parser for a new connection.
    pub new: fn() -> Box<dyn StreamParser>,
}

impl std::fmt::Debug for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Protocol")
            .field("name", &self.name)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_maps_offsets_to_runs() {
        let meta = ConnMeta {
            uid: "C1".into(),
            client: ("10.0.0.1".parse().unwrap(), 1),
            server: ("10.0.0.2".parse().unwrap(), 2),
            files_max: 0,
        };
        let mut out = Vec::new();
        let o = |n| Origin {
            ts_ns: n as i64 * 10,
            number: n,
        };
        let runs = [(0, o(1)), (5, o(2)), (9, o(4))];
        let mut cx = Cx::new(&meta, o(7), &mut out);
        cx.runs = &runs;
        assert_eq!(cx.origin(0), o(1));
        assert_eq!(cx.origin(4), o(1));
        assert_eq!(cx.origin(5), o(2));
        assert_eq!(cx.origin(8), o(2));
        assert_eq!(cx.origin(100), o(4));
        cx.runs = &[];
        assert_eq!(cx.origin(3), o(7));
    }
}
