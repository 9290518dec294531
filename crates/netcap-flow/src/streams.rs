//! The TCP stream layer of a flow table: each TCP connection's streams live
//! in its [`Conn`], so they end with it and its Connection record can say
//! what they held.

use netcap_decode::TransportSegment;
use netcap_stream::conn::{flag, Records, Segment};
use netcap_stream::reassembly::Budget;
use netcap_stream::{ConnMeta, ConnStreams, Dir, Origin, StreamConfig, StreamTotals};

use crate::conn::Conn;
use crate::expect::{self, Expectations};

/// Stream settings of a flow table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSettings {
    /// Reassembly and parser limits.
    pub cfg: StreamConfig,
    /// Memory budget of this table's queues, bytes (0: no limit).
    pub memory: usize,
}

/// The stream state of one flow table.
#[derive(Debug)]
pub(crate) struct StreamLayer {
    pub cfg: StreamConfig,
    pub budget: Budget,
    /// Records emitted while packets are added, keyed by packet number.
    pub out: Records,
    pub totals: StreamTotals,
    /// Heap bytes of the streams of this table's connections (the sum of
    /// their last measurements).
    pub memory: usize,
    /// Connections holding stream state.
    pub open: u64,
    /// FTP data connections announced on this worker's control connections.
    pub expected: Expectations,
}

impl StreamLayer {
    pub fn new(s: StreamSettings) -> StreamLayer {
        StreamLayer {
            cfg: s.cfg,
            budget: Budget::new(s.memory),
            out: Vec::new(),
            totals: StreamTotals::default(),
            memory: 0,
            open: 0,
            expected: Expectations::default(),
        }
    }

    /// Feeds a segment of `conn` (whose 5-tuple it has; `ctx` is its key's
    /// tunnel context).
    pub fn segment(
        &mut self,
        conn: &mut Conn,
        seg: &TransportSegment<'_>,
        number: u64,
        ts_ns: i64,
        ctx: u64,
    ) {
        let dir = if (seg.src, seg.src_port) == conn.client {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        let origin = Origin { ts_ns, number };
        let syn = seg.flags & flag::SYN != 0;
        let (client, server, fresh) = (conn.client, conn.server, conn.streams().is_none());
        if fresh {
            // Streams are allocated with the first segment that carries data
            // or a FIN; until then a SYN's sequence number is all they need.
            if seg.wire_len == 0 && seg.flags & flag::FIN == 0 {
                if syn {
                    if let Some(s) = conn.ext_mut().syn.get_mut(dir.index()) {
                        *s = Some(seg.seq);
                    }
                }
                return;
            }
            let uid = conn.uid();
            let ext = conn.ext_mut();
            let meta = ConnMeta {
                uid,
                client,
                server,
                files_max: self.cfg.files_max,
            };
            // No lookup at all unless an FTP control connection of this
            // worker announced a data connection.
            let data = !self.expected.is_empty() && self.expected.take(ctx, client, server, ts_ns);
            let mut streams = Box::new(if data {
                ConnStreams::with_protocol(meta, &netcap_stream::ftp_data::PROTOCOL)
            } else {
                ConnStreams::new(meta)
            });
            for d in [Dir::ToServer, Dir::ToClient] {
                if let Some(isn) = ext.syn.get(d.index()).copied().flatten() {
                    let replay = Segment {
                        dir: d,
                        seq: isn,
                        ack: 0,
                        flags: flag::SYN,
                        payload: &[],
                        wire_len: 0,
                        origin,
                    };
                    streams.segment(&replay, &self.cfg, &mut self.budget, &mut self.out);
                }
            }
            ext.streams = Some(streams);
            self.open += 1;
        }
        let Some(ext) = conn.ext.as_mut() else {
            return;
        };
        let Some(streams) = ext.streams.as_mut() else {
            return;
        };
        let s = Segment {
            dir,
            seq: seg.seq,
            ack: seg.ack,
            flags: seg.flags,
            payload: seg.payload,
            wire_len: seg.wire_len,
            origin,
        };
        let emitted = self.out.len();
        streams.segment(&s, &self.cfg, &mut self.budget, &mut self.out);
        if self.out.len() > emitted && streams.protocol() == Some("FTP") {
            // The control connection's records of this segment: the data
            // endpoints it announced.
            for (_, r) in self.out.get(emitted..).unwrap_or_default() {
                if let netcap_stream::StreamRecord::Ftp(f) = r {
                    if let Some(end) = expect::announced(f) {
                        self.expected.announce(ctx, client.0, server.0, end, ts_ns);
                        self.totals.expected_dropped = self.expected.dropped;
                    }
                }
            }
        }
        let m = streams.memory();
        self.memory = self.memory.saturating_sub(ext.stream_memory) + m;
        ext.stream_memory = m;
    }

    /// Ends `conn`'s streams; their last records go to `out` with `key`.
    pub fn finish(&mut self, conn: &mut Conn, key: u64, out: &mut Records) {
        let Some(ext) = conn.ext.as_mut() else {
            return;
        };
        self.memory = self.memory.saturating_sub(ext.stream_memory);
        ext.stream_memory = 0;
        let Some(streams) = ext.streams.as_mut() else {
            return;
        };
        self.open = self.open.saturating_sub(1);
        let last = Origin {
            ts_ns: conn.last_ts,
            number: conn.last_num,
        };
        streams.finish(last, key, &self.cfg, &mut self.budget, out);
        self.totals.add(&streams.counters(), streams.protocol());
        self.totals.peak_memory = self.totals.peak_memory.max(self.budget.peak as u64);
    }
}
