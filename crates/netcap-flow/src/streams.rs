//! The TCP stream layer of a flow table: each TCP connection's streams live
//! in its [`Conn`], so they end with it and its Connection record can say
//! what they held.

use netcap_decode::TcpSegment;
use netcap_stream::conn::{Records, Segment};
use netcap_stream::reassembly::Budget;
use netcap_stream::{ConnMeta, ConnStreams, Dir, Origin, StreamConfig, StreamTotals};

use crate::conn::Conn;

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
}

impl StreamLayer {
    pub fn new(s: StreamSettings) -> StreamLayer {
        StreamLayer {
            cfg: s.cfg,
            budget: Budget::new(s.memory),
            out: Vec::new(),
            totals: StreamTotals::default(),
        }
    }

    /// Feeds a segment of `conn` (whose 5-tuple it has).
    pub fn segment(&mut self, conn: &mut Conn, seg: &TcpSegment<'_>, number: u64, ts_ns: i64) {
        let dir = if (seg.src, seg.src_port) == conn.client {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        if conn.streams.is_none() {
            conn.streams = Some(Box::new(ConnStreams::new(ConnMeta {
                uid: conn.uid(),
                client: conn.client,
                server: conn.server,
            })));
        }
        let Some(streams) = conn.streams.as_mut() else {
            return;
        };
        let s = Segment {
            dir,
            seq: seg.seq,
            ack: seg.ack,
            flags: seg.flags,
            payload: seg.payload,
            wire_len: seg.wire_len,
            origin: Origin { ts_ns, number },
        };
        streams.segment(&s, &self.cfg, &mut self.budget, &mut self.out);
    }

    /// Ends `conn`'s streams; their last records go to `out` with `key`.
    pub fn finish(&mut self, conn: &mut Conn, key: u64, out: &mut Records) {
        let Some(streams) = conn.streams.as_mut() else {
            return;
        };
        let last = Origin {
            ts_ns: conn.last_ts,
            number: conn.last_num,
        };
        streams.finish(last, key, &self.cfg, &mut self.budget, out);
        self.totals.add(&streams.counters(), streams.protocol());
        self.totals.peak_memory = self.totals.peak_memory.max(self.budget.peak as u64);
    }
}
