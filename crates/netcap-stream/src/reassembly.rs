//! One direction of a TCP connection put back in order.
//!
//! Sequence numbers are compared with RFC 1982 arithmetic (the signed 32-bit
//! difference), so a stream may wrap past 2^32; positions inside the stream
//! are 64-bit offsets from its first byte. In-order data is delivered at once
//! without a copy; a segment that starts beyond the next expected byte waits
//! in a queue, bounded per direction and by a budget shared by all the
//! connections of a worker. Data before the next expected byte was delivered
//! already: it is compared with the last bytes delivered (overlap with the
//! same or different data, counted) and dropped, so every byte is delivered
//! once. Overlaps inside the queue follow the [`OverlapPolicy`]: the first
//! data seen wins by default, like Zeek and the original Netcap.
//!
//! A hole becomes a gap (the parser is told how many bytes are missing) when
//! waiting cannot fill it any more: the queue reached its cap, the sender's
//! FIN was reached past it, or the connection ended. Gaps are not declared
//! from acknowledgements alone: captures reorder ACKs and data (the ACK of a
//! segment before the segment), and waiting costs only queue memory, which
//! is capped.

use std::collections::BTreeMap;

use crate::parser::Origin;

/// Which copy of bytes seen twice in the queue is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverlapPolicy {
    /// The bytes seen first (Zeek, the original Netcap, Suricata's "first").
    #[default]
    First,
    /// The bytes seen last (Suricata's "last"; what Linux does for a segment
    /// that starts at the same sequence number and ends later). Bytes already
    /// delivered are never replaced.
    Last,
}

/// Limits of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirLimits {
    /// Bytes delivered per direction; later bytes are only counted (0: none).
    pub depth: u64,
    /// Bytes waiting in the out-of-order queue of one direction.
    pub max_queue: usize,
    /// Overlap policy of the queue.
    pub policy: OverlapPolicy,
}

/// Last bytes delivered kept to compare retransmissions with.
pub const RECENT: usize = 1024;

/// Heap bytes of one B-tree node of the out-of-order queue (11 keys and
/// pieces, parent link and lengths), allocator overhead included.
const QUEUE_NODE: usize = 32 + 11 * (8 + std::mem::size_of::<Piece>());

/// Memory of queued segments (and recent bytes) shared by the connections of
/// one worker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budget {
    /// Bytes held now.
    pub used: usize,
    /// Most bytes held at once.
    pub peak: usize,
    /// Bytes allowed (0: no limit).
    pub limit: usize,
}

impl Budget {
    /// A budget of `limit` bytes (0: no limit).
    pub fn new(limit: usize) -> Budget {
        Budget {
            limit,
            ..Budget::default()
        }
    }

    fn fits(&self, n: usize) -> bool {
        self.limit == 0 || self.used.saturating_add(n) <= self.limit
    }

    fn take(&mut self, n: usize) {
        self.used = self.used.saturating_add(n);
        self.peak = self.peak.max(self.used);
    }

    fn give(&mut self, n: usize) {
        self.used = self.used.saturating_sub(n);
    }
}

/// Counters of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirCounters {
    /// Bytes delivered in order.
    pub delivered: u64,
    /// Bytes skipped as gaps (never seen, or dropped by a cap).
    pub missed: u64,
    /// Gaps declared.
    pub gaps: u64,
    /// Bytes seen again with the same data (retransmissions).
    pub overlap_same: u64,
    /// Bytes seen again with different data.
    pub overlap_diff: u64,
    /// Bytes of segments dropped to stay within the queue cap or the budget.
    pub dropped: u64,
    /// Bytes past the depth, counted but not delivered.
    pub past_depth: u64,
    /// Segments that were queued out of order.
    pub out_of_order: u64,
    /// Keep-alive probes ignored.
    pub keepalives: u64,
}

impl DirCounters {
    /// Adds `o`'s counts to these.
    pub fn add(&mut self, o: &DirCounters) {
        self.delivered += o.delivered;
        self.missed += o.missed;
        self.gaps += o.gaps;
        self.overlap_same += o.overlap_same;
        self.overlap_diff += o.overlap_diff;
        self.dropped += o.dropped;
        self.past_depth += o.past_depth;
        self.out_of_order += o.out_of_order;
        self.keepalives += o.keepalives;
    }
}

/// What the reassembler hands on, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Contiguous bytes, from the packet `origin`.
    Data {
        /// The bytes.
        data: &'a [u8],
        /// The packet they came from.
        origin: Origin,
    },
    /// `len` bytes are missing here.
    Gap {
        /// Missing bytes.
        len: u64,
    },
    /// The sender's FIN was reached: the direction is complete.
    Fin,
    /// The depth was reached: no more data will be delivered.
    Depth,
    /// Something worth an Anomaly record.
    Anomaly {
        /// Stable name (Zeek weird / Suricata event style).
        name: &'static str,
        /// Details.
        details: String,
    },
}

/// A queued piece of the stream.
#[derive(Debug)]
enum Piece {
    Data(Vec<u8>, Origin),
    /// Bytes known to be missing (beyond a snap length).
    Missing(u64),
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::Data(d, _) => d.len() as u64,
            Piece::Missing(n) => *n,
        }
    }

    fn memory(&self) -> usize {
        match self {
            Piece::Data(d, _) => d.len() + 64,
            Piece::Missing(_) => 64,
        }
    }
}

/// One direction of a TCP connection.
#[derive(Debug, Default)]
pub struct DirReassembler {
    /// Sequence number of stream offset 0, once known.
    base: Option<u32>,
    /// Next stream offset to deliver (delivered plus skipped bytes).
    offset: u64,
    /// Waiting pieces by stream offset; they never overlap each other and
    /// all start after `offset`.
    queue: BTreeMap<u64, Piece>,
    queued: usize,
    /// Stream offset of the FIN, once seen.
    fin: Option<u64>,
    fin_done: bool,
    depth_done: bool,
    /// The last bytes delivered, ending at `offset` (see [`RECENT`]).
    recent: Vec<u8>,
    /// Recent bytes are no longer kept (the budget ran out).
    no_recent: bool,
    /// Highest stream offset seen (end of the furthest segment).
    high: u64,
    /// Counters.
    pub counters: DirCounters,
    /// Anomalies reported once per direction.
    reported: u8,
}

const REPORTED_QUEUE_CAP: u8 = 1;
const REPORTED_PAST_FIN: u8 = 2;
const REPORTED_DEPTH: u8 = 4;

/// RFC 1982: the signed distance from `b` to `a`.
pub fn seq_diff(a: u32, b: u32) -> i64 {
    i64::from(a.wrapping_sub(b) as i32)
}

impl DirReassembler {
    /// A direction whose first byte is not known yet.
    pub fn new() -> DirReassembler {
        DirReassembler::default()
    }

    /// Whether the start of the stream is known.
    pub fn started(&self) -> bool {
        self.base.is_some()
    }

    /// Next stream offset to deliver.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes waiting in the queue.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// When `ack` (from the other side) acknowledges bytes beyond the last
    /// one this direction showed, how many. Only for a started direction and
    /// within a quarter of the sequence space (older or wild ACKs are not
    /// evidence of missed data).
    pub fn acked_beyond_seen(&self, ack: u32) -> Option<u64> {
        let at = self.offset_of(ack)?;
        let high = self.high.max(self.offset) as i64;
        let beyond = at - high;
        (beyond > 0 && beyond < 1 << 30).then_some(beyond as u64)
    }

    /// Whether the direction is complete (FIN reached) or past its depth.
    pub fn done(&self) -> bool {
        self.fin_done || self.depth_done
    }

    /// The sequence number of a stream offset (for tests and details).
    fn seq_of(&self, off: u64) -> u32 {
        self.base.unwrap_or(0).wrapping_add(off as u32)
    }

    /// Stream offset of sequence number `seq` (negative: before the start).
    fn offset_of(&self, seq: u32) -> Option<i64> {
        let base = self.base?;
        // Distance from the next expected byte keeps the comparison within
        // RFC 1982's half range on long streams.
        let next = base.wrapping_add(self.offset as u32);
        Some(self.offset as i64 + seq_diff(seq, next))
    }

    /// A SYN (or SYN-ACK) with sequence number `seq`: the stream starts at
    /// `seq + 1`. A different one after data was delivered is reported and
    /// ignored.
    pub fn syn(&mut self, seq: u32, emit: &mut dyn FnMut(Event<'_>)) {
        let start = seq.wrapping_add(1);
        match self.base {
            None => self.base = Some(start),
            Some(b) if b == start => {}
            Some(_) if self.offset == 0 && self.queue.is_empty() && self.high == 0 => {
                emit(Event::Anomaly {
                    name: "syn_seq_jump",
                    details: format!("new initial sequence number {seq} before any data"),
                });
                self.base = Some(start);
            }
            Some(b) => emit(Event::Anomaly {
                name: "syn_inside_connection",
                details: format!(
                    "SYN with sequence number {seq}, stream started at {}",
                    b.wrapping_sub(1)
                ),
            }),
        }
    }

    /// A segment (not its SYN flag: call [`DirReassembler::syn`] first).
    /// `wire_len` is the payload length on the wire, `data` what was
    /// captured of it (a snap length may cut it). `fin`: the segment
    /// carries FIN.
    #[allow(clippy::too_many_arguments)]
    pub fn segment(
        &mut self,
        seq: u32,
        data: &[u8],
        wire_len: u32,
        fin: bool,
        origin: Origin,
        limits: &DirLimits,
        budget: &mut Budget,
        emit: &mut dyn FnMut(Event<'_>),
    ) {
        let wire = u64::from(wire_len).max(data.len() as u64);
        if self.base.is_none() {
            // Picked up mid-stream: the stream starts here.
            self.base = Some(seq);
        }
        let Some(start) = self.offset_of(seq) else {
            return;
        };
        let end = start.saturating_add(wire as i64);
        if fin {
            let at = end.max(0) as u64;
            match self.fin {
                None => self.fin = Some(at),
                Some(f) if f != at && self.reported & REPORTED_PAST_FIN == 0 => {
                    self.reported |= REPORTED_PAST_FIN;
                    emit(Event::Anomaly {
                        name: "fin_advanced_last_seq",
                        details: format!("FIN at stream offset {at}, earlier FIN at {f}"),
                    });
                }
                Some(_) => {}
            }
        }
        if wire == 0 && end == self.offset as i64 - 1 {
            // A keep-alive without its byte.
            self.counters.keepalives += 1;
        }
        if wire > 0 {
            self.high = self.high.max(end.max(0) as u64);
            self.insert(start, data, wire, origin, limits, budget, emit);
        }
        self.drain(limits, budget, emit);
    }

    #[allow(clippy::too_many_arguments)]
    fn insert(
        &mut self,
        start: i64,
        data: &[u8],
        wire: u64,
        origin: Origin,
        limits: &DirLimits,
        budget: &mut Budget,
        emit: &mut dyn FnMut(Event<'_>),
    ) {
        let offset = self.offset as i64;
        let end = start.saturating_add(wire as i64);
        // A keep-alive: one byte (or none) just below the next expected one.
        if wire <= 1 && end == offset && start < offset {
            self.counters.keepalives += 1;
            return;
        }
        // Bytes past the FIN are not part of the stream.
        let end = match self.fin {
            Some(f) if end > f as i64 => {
                if self.reported & REPORTED_PAST_FIN == 0 {
                    self.reported |= REPORTED_PAST_FIN;
                    emit(Event::Anomaly {
                        name: "data_after_fin",
                        details: format!("{} bytes past the FIN", end - f as i64),
                    });
                }
                (f as i64).max(start)
            }
            _ => end,
        };
        if end <= start {
            return;
        }
        // The part before the next expected byte was delivered already.
        if start < offset {
            let old_end = end.min(offset);
            let skip = (old_end - start) as usize;
            self.compare_old(
                start,
                data.get(..skip.min(data.len())).unwrap_or_default(),
                old_end,
                emit,
            );
            if end <= offset {
                return;
            }
            let data = data.get(skip.min(data.len())..).unwrap_or_default();
            return self.insert_new(
                offset as u64,
                data,
                (end - offset) as u64,
                origin,
                limits,
                budget,
                emit,
            );
        }
        self.insert_new(
            start as u64,
            data,
            (end - start) as u64,
            origin,
            limits,
            budget,
            emit,
        );
    }

    /// Compares bytes `[start, end)` before the next expected offset with
    /// the recent bytes delivered, and counts the overlap.
    fn compare_old(&mut self, start: i64, data: &[u8], end: i64, emit: &mut dyn FnMut(Event<'_>)) {
        let total = (end - start) as u64;
        let recent_start = self.offset as i64 - self.recent.len() as i64;
        let mut diff = 0u64;
        for (i, b) in data.iter().enumerate() {
            let pos = start + i as i64;
            if pos < recent_start {
                continue;
            }
            if let Some(old) = self.recent.get((pos - recent_start) as usize) {
                if old != b {
                    diff += 1;
                }
            }
        }
        self.counters.overlap_same += total - diff;
        self.counters.overlap_diff += diff;
        if diff > 0 {
            emit(Event::Anomaly {
                name: "overlap_different_data",
                details: format!(
                    "{diff} of {total} bytes at stream offset {start} (seq {}) differ from the data delivered; the first data was kept",
                    self.seq_of(start.max(0) as u64)
                ),
            });
        }
    }

    /// Inserts `[start, start+wire)` (at or after the next expected byte):
    /// delivered at once when it is next and nothing waits before it, else
    /// queued around what is queued already.
    #[allow(clippy::too_many_arguments)]
    fn insert_new(
        &mut self,
        start: u64,
        data: &[u8],
        wire: u64,
        origin: Origin,
        limits: &DirLimits,
        budget: &mut Budget,
        emit: &mut dyn FnMut(Event<'_>),
    ) {
        let end = start + wire;
        let captured = (data.len() as u64).min(wire);
        let data = data.get(..captured as usize).unwrap_or_default();
        let overlaps_queue = self
            .queue
            .range(..end)
            .next_back()
            .is_some_and(|(s, p)| s + p.len() > start);
        if start == self.offset && !overlaps_queue {
            // The common case: in order, nothing queued in the way.
            if captured > 0 {
                self.deliver(data, origin, limits, budget, emit);
            }
            if captured < wire {
                self.skip(wire - captured, emit);
            }
            return;
        }
        // Split the new bytes around the queued pieces they overlap. Queued
        // pieces are disjoint and sorted, so these are the one that starts
        // before `start` (if it reaches past it) and those starting in
        // `[start, end)`: found by two range lookups per step instead of a
        // scan of the whole queue, which a long queue would make quadratic.
        let mut pos = start;
        let straddling = self
            .queue
            .range(..start)
            .next_back()
            .map(|(s, p)| (*s, *s + p.len()))
            .filter(|&(_, qe)| qe > start);
        let mut next = straddling;
        while let Some((qs, qe)) = next.take().or_else(|| {
            self.queue
                .range(pos..end)
                .next()
                .map(|(s, p)| (*s, *s + p.len()))
        }) {
            if qs > pos {
                self.queue_piece(pos, qs.min(end), start, data, origin, limits, budget, emit);
            }
            let (os, oe) = (qs.max(start), qe.min(end));
            if oe > os {
                self.overlap_queued(qs, os, oe, start, data, limits.policy, emit);
            }
            // A queue limit may have skipped past this point (the bytes up
            // to `offset` were declared a gap): never queue behind `offset`.
            pos = pos.max(qe).max(self.offset);
            if pos >= end {
                break;
            }
        }
        if pos < end {
            self.queue_piece(pos, end, start, data, origin, limits, budget, emit);
        }
    }

    /// Compares the new bytes `[os, oe)` with the queued piece at `qs`.
    #[allow(clippy::too_many_arguments)]
    fn overlap_queued(
        &mut self,
        qs: u64,
        os: u64,
        oe: u64,
        start: u64,
        data: &[u8],
        policy: OverlapPolicy,
        emit: &mut dyn FnMut(Event<'_>),
    ) {
        let len = oe - os;
        let new = data.get((os - start) as usize..((oe - start) as usize).min(data.len()));
        let (mut diff, mut compared) = (0u64, 0u64);
        if let (Some(Piece::Data(old, _)), Some(new)) = (self.queue.get_mut(&qs), new) {
            let from = (os - qs) as usize;
            if let Some(old) = old.get_mut(from..from + new.len()) {
                compared = new.len() as u64;
                diff = old.iter().zip(new).filter(|(a, b)| a != b).count() as u64;
                if diff > 0 && policy == OverlapPolicy::Last {
                    old.copy_from_slice(new);
                }
            }
        }
        self.counters.overlap_same += len - diff;
        self.counters.overlap_diff += diff;
        if diff > 0 {
            emit(Event::Anomaly {
                name: "overlap_different_data",
                details: format!(
                    "{diff} of {compared} queued bytes at stream offset {os} differ; {} data kept",
                    match policy {
                        OverlapPolicy::First => "the first",
                        OverlapPolicy::Last => "the last",
                    }
                ),
            });
        }
    }

    /// Queues the new bytes `[from, to)` of a segment starting at `start`.
    #[allow(clippy::too_many_arguments)]
    fn queue_piece(
        &mut self,
        from: u64,
        to: u64,
        start: u64,
        data: &[u8],
        origin: Origin,
        limits: &DirLimits,
        budget: &mut Budget,
        emit: &mut dyn FnMut(Event<'_>),
    ) {
        let lo = ((from - start) as usize).min(data.len());
        let hi = ((to - start) as usize).min(data.len());
        let bytes = data.get(lo..hi).unwrap_or_default();
        let mut pieces = Vec::with_capacity(2);
        if !bytes.is_empty() {
            pieces.push((from, Piece::Data(bytes.to_vec(), origin)));
        }
        let missing_from = from + bytes.len() as u64;
        if missing_from < to {
            pieces.push((missing_from, Piece::Missing(to - missing_from)));
        }
        for (at, piece) in pieces {
            if at < self.offset {
                // The skip for the data before this missing part went past
                // it (the whole hole was declared a gap).
                continue;
            }
            let mem = piece.memory();
            if self.queued + mem > limits.max_queue || !budget.fits(mem) {
                // Waiting costs more than allowed: what is missing before
                // the queue will not come in time. Skip to the queue's
                // first piece and deliver what waits, then try again.
                if !self.queue.is_empty() {
                    if self.reported & REPORTED_QUEUE_CAP == 0 {
                        self.reported |= REPORTED_QUEUE_CAP;
                        emit(Event::Anomaly {
                            name: "reassembly_queue_limit",
                            details: format!(
                                "{} bytes waiting behind a hole at stream offset {}",
                                self.queued, self.offset
                            ),
                        });
                    }
                    self.skip_to_queue(limits, budget, emit);
                }
                if at < self.offset {
                    // The skip went past this piece's start.
                    continue;
                }
                if self.queued + mem > limits.max_queue || !budget.fits(mem) {
                    self.counters.dropped += piece.len();
                    continue;
                }
            }
            if at == self.offset && self.queue.is_empty() {
                match piece {
                    Piece::Data(d, o) => self.deliver(&d, o, limits, budget, emit),
                    Piece::Missing(n) => self.skip(n, emit),
                }
                continue;
            }
            self.counters.out_of_order += 1;
            self.queued += mem;
            budget.take(mem);
            self.queue.insert(at, piece);
        }
    }

    /// Declares the hole before the first queued piece a gap and delivers
    /// the queue up to its next hole.
    fn skip_to_queue(
        &mut self,
        limits: &DirLimits,
        budget: &mut Budget,
        emit: &mut dyn FnMut(Event<'_>),
    ) {
        if let Some((&first, _)) = self.queue.first_key_value() {
            if first > self.offset {
                let n = first - self.offset;
                self.skip(n, emit);
            }
        }
        self.drain(limits, budget, emit);
    }

    /// Delivers queued pieces that have become next, then the FIN.
    fn drain(&mut self, limits: &DirLimits, budget: &mut Budget, emit: &mut dyn FnMut(Event<'_>)) {
        while let Some(entry) = self.queue.first_entry() {
            if *entry.key() > self.offset {
                break;
            }
            let (at, piece) = entry.remove_entry();
            let mem = piece.memory();
            self.queued -= mem;
            budget.give(mem);
            // Pieces never overlap and all start at or after `offset`.
            debug_assert_eq!(at, self.offset);
            match piece {
                Piece::Data(d, o) => self.deliver(&d, o, limits, budget, emit),
                Piece::Missing(n) => self.skip(n, emit),
            }
        }
        if let Some(f) = self.fin {
            if !self.fin_done && self.offset >= f && self.queue.is_empty() {
                self.fin_done = true;
                emit(Event::Fin);
            }
        }
    }

    /// Hands `data` (starting at `offset`) on, up to the depth.
    fn deliver(
        &mut self,
        data: &[u8],
        origin: Origin,
        limits: &DirLimits,
        budget: &mut Budget,
        emit: &mut dyn FnMut(Event<'_>),
    ) {
        let room = if limits.depth == 0 {
            data.len() as u64
        } else {
            limits.depth.saturating_sub(self.counters.delivered)
        };
        let take = (data.len() as u64).min(room) as usize;
        let (now, past) = data.split_at(take);
        if !now.is_empty() {
            emit(Event::Data { data: now, origin });
            self.counters.delivered += now.len() as u64;
            self.remember(now, budget);
        }
        self.offset += data.len() as u64;
        if !past.is_empty() {
            self.counters.past_depth += past.len() as u64;
            if self.reported & REPORTED_DEPTH == 0 {
                self.reported |= REPORTED_DEPTH;
                self.depth_done = true;
                emit(Event::Depth);
            }
        }
    }

    /// Keeps the last [`RECENT`] bytes delivered, while the budget allows.
    /// The buffer grows with what was delivered (doubling, up to [`RECENT`]):
    /// most connections carry a few hundred bytes.
    fn remember(&mut self, data: &[u8], budget: &mut Budget) {
        if self.no_recent {
            return;
        }
        let want = (self.recent.len() + data.len()).min(RECENT);
        let cap = self.recent.capacity();
        if want > cap {
            let target = want.max((2 * cap).min(RECENT));
            if !budget.fits(target - cap) {
                budget.give(cap);
                self.recent = Vec::new();
                self.no_recent = true;
                return;
            }
            self.recent.reserve_exact(target - self.recent.len());
            budget.take(self.recent.capacity().saturating_sub(cap));
        }
        if data.len() >= RECENT {
            self.recent.clear();
            self.recent
                .extend_from_slice(data.get(data.len() - RECENT..).unwrap_or_default());
        } else {
            let over = (self.recent.len() + data.len()).saturating_sub(RECENT);
            self.recent.drain(..over);
            self.recent.extend_from_slice(data);
        }
    }

    /// Skips `n` missing bytes at `offset`.
    fn skip(&mut self, n: u64, emit: &mut dyn FnMut(Event<'_>)) {
        if n == 0 {
            return;
        }
        self.offset += n;
        self.recent.clear();
        if self.depth_done {
            self.counters.past_depth += n;
            return;
        }
        self.counters.missed += n;
        self.counters.gaps += 1;
        emit(Event::Gap { len: n });
    }

    /// The connection ends: holes become gaps, the queue is delivered, and
    /// the bytes up to a FIN seen beyond it are declared missing.
    pub fn flush(
        &mut self,
        limits: &DirLimits,
        budget: &mut Budget,
        emit: &mut dyn FnMut(Event<'_>),
    ) {
        while !self.queue.is_empty() {
            self.skip_to_queue(limits, budget, emit);
        }
        if let Some(f) = self.fin {
            if f > self.offset {
                let n = f - self.offset;
                self.skip(n, emit);
            }
        }
        self.drain(limits, budget, emit);
        self.release(budget);
    }

    /// Heap bytes this direction holds: queued pieces with their tree nodes
    /// and the recent bytes.
    pub fn memory(&self) -> usize {
        let nodes = if self.queue.is_empty() {
            0
        } else {
            // A leaf holds up to 11 pieces; count them two-thirds full.
            self.queue.len().div_ceil(7) * QUEUE_NODE
        };
        self.queued + nodes + self.recent.capacity()
    }

    /// Frees what the direction holds (the connection ended).
    pub fn release(&mut self, budget: &mut Budget) {
        budget.give(self.queued);
        self.queued = 0;
        self.queue.clear();
        budget.give(self.recent.capacity());
        self.recent = Vec::new();
        self.no_recent = true;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// The stream as the parser would see it: data, `[gap n]`, `[fin]`.
    #[derive(Default)]
    struct Seen {
        text: Vec<u8>,
        anomalies: Vec<&'static str>,
    }

    impl Seen {
        fn push(&mut self, e: Event<'_>) {
            match e {
                Event::Data { data, .. } => self.text.extend_from_slice(data),
                Event::Gap { len } => self
                    .text
                    .extend_from_slice(format!("[gap {len}]").as_bytes()),
                Event::Fin => self.text.extend_from_slice(b"[fin]"),
                Event::Depth => self.text.extend_from_slice(b"[depth]"),
                Event::Anomaly { name, .. } => self.anomalies.push(name),
            }
        }
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.text).into_owned()
        }
    }

    const LIMITS: DirLimits = DirLimits {
        depth: 0,
        max_queue: 1 << 20,
        policy: OverlapPolicy::First,
    };

    struct T {
        r: DirReassembler,
        b: Budget,
        s: Seen,
        l: DirLimits,
    }

    impl T {
        fn new() -> T {
            T::with(LIMITS)
        }
        fn with(l: DirLimits) -> T {
            T {
                r: DirReassembler::new(),
                b: Budget::new(0),
                s: Seen::default(),
                l,
            }
        }
        fn syn(&mut self, seq: u32) {
            let s = &mut self.s;
            self.r.syn(seq, &mut |e| s.push(e));
        }
        fn seg(&mut self, seq: u32, data: &[u8]) {
            self.seg_full(seq, data, data.len() as u32, false);
        }
        fn fin(&mut self, seq: u32, data: &[u8]) {
            self.seg_full(seq, data, data.len() as u32, true);
        }
        fn seg_full(&mut self, seq: u32, data: &[u8], wire: u32, fin: bool) {
            let s = &mut self.s;
            self.r.segment(
                seq,
                data,
                wire,
                fin,
                Origin::default(),
                &self.l,
                &mut self.b,
                &mut |e| s.push(e),
            );
        }
        fn flush(&mut self) {
            let s = &mut self.s;
            self.r.flush(&self.l, &mut self.b, &mut |e| s.push(e));
        }
    }

    #[test]
    fn in_order_with_handshake_and_fin() {
        let mut t = T::new();
        t.syn(1000);
        t.seg(1001, b"hello ");
        t.seg(1007, b"world");
        t.fin(1012, b"");
        assert_eq!(t.s.text(), "hello world[fin]");
        assert_eq!(t.r.counters.delivered, 11);
    }

    #[test]
    fn sequence_wraparound() {
        let mut t = T::new();
        t.syn(u32::MAX - 100);
        let a = vec![b'a'; 60];
        let b = vec![b'b'; 60];
        t.seg(u32::MAX - 99, &a);
        // Starts 60 bytes later: wraps past 2^32.
        t.seg((u32::MAX - 99).wrapping_add(60), &b);
        t.fin((u32::MAX - 99).wrapping_add(120), b"");
        assert_eq!(t.r.counters.delivered, 120);
        assert!(t.s.text().ends_with("bbbb[fin]"));
    }

    #[test]
    fn out_of_order_is_queued_and_released() {
        let mut t = T::new();
        t.syn(0);
        t.seg(6, b"world");
        t.seg(11, b"!");
        assert_eq!(t.s.text(), "");
        assert_eq!(t.r.counters.out_of_order, 2);
        t.seg(1, b"hello");
        assert_eq!(t.s.text(), "helloworld!");
        assert_eq!(t.r.queued(), 0);
    }

    #[test]
    fn retransmission_delivered_once() {
        let mut t = T::new();
        t.syn(0);
        t.seg(1, b"abcd");
        t.seg(1, b"abcd");
        t.seg(3, b"cdef");
        assert_eq!(t.s.text(), "abcdef");
        assert_eq!(t.r.counters.overlap_same, 6);
        assert_eq!(t.r.counters.overlap_diff, 0);
    }

    #[test]
    fn conflicting_retransmission_keeps_first_and_is_counted() {
        // tcp-overlap-conflicting-data.pcap: "GOOD" then "EVIL" at the same seq.
        let mut t = T::new();
        t.syn(0);
        t.seg(1, b"GOOD");
        t.seg(1, b"EVIL");
        assert_eq!(t.s.text(), "GOOD");
        assert_eq!(t.r.counters.overlap_diff, 4);
        assert_eq!(t.s.anomalies, vec!["overlap_different_data"]);
        // tcp-partial-overlap-conflicting-data.pcap: "XXX" at seq 2.
        let mut t = T::new();
        t.syn(0);
        t.seg(1, b"GOOD");
        t.seg(2, b"XXX");
        assert_eq!(t.s.text(), "GOOD");
        assert_eq!(t.r.counters.overlap_diff, 3);
    }

    #[test]
    fn overlaps_inside_the_queue_follow_the_policy() {
        for (policy, want) in [
            (OverlapPolicy::First, "xGOODyy"),
            (OverlapPolicy::Last, "xEVILyy"),
        ] {
            let mut t = T::with(DirLimits { policy, ..LIMITS });
            t.syn(0);
            t.seg(2, b"GOOD");
            t.seg(2, b"EVILyy");
            t.seg(1, b"x");
            assert_eq!(t.s.text(), want, "{policy:?}");
            assert_eq!(t.r.counters.overlap_diff, 4);
        }
    }

    #[test]
    fn segment_spanning_queued_pieces_fills_around_them() {
        let mut t = T::new();
        t.syn(0);
        t.seg(3, b"CD");
        t.seg(7, b"GH");
        t.seg(2, b"bcdefghij");
        t.seg(1, b"a");
        assert_eq!(t.s.text(), "abCDefGHij");
        assert_eq!(t.r.counters.overlap_same, 0);
        assert_eq!(t.r.counters.overlap_diff, 4);
    }

    #[test]
    fn random_overlaps_keep_the_first_byte_seen() {
        // Against a model: each stream byte is the first value any segment
        // carried for it. Segments start anywhere (inside queued pieces,
        // across several, behind what was delivered), some with data that
        // differs from the stream; a last segment covers everything.
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        for _ in 0..200 {
            const N: usize = 300;
            let truth: Vec<u8> = (0..N).map(|i| b'a' + (i % 26) as u8).collect();
            let mut model: Vec<Option<u8>> = vec![None; N];
            let mut t = T::new();
            t.syn(0);
            for _ in 0..40 {
                let start = next(N as u64) as usize;
                let len = (1 + next(50) as usize).min(N - start);
                let evil = next(4) == 0;
                let data: Vec<u8> = truth[start..start + len]
                    .iter()
                    .map(|&b| if evil { b.to_ascii_uppercase() } else { b })
                    .collect();
                for (i, &b) in data.iter().enumerate() {
                    model[start + i].get_or_insert(b);
                }
                t.seg(1 + start as u32, &data);
            }
            t.seg(1, &truth);
            let want: Vec<u8> = model
                .iter()
                .zip(&truth)
                .map(|(m, &b)| m.unwrap_or(b))
                .collect();
            assert_eq!(t.s.text(), String::from_utf8(want).unwrap());
            assert_eq!(t.r.queued(), 0);
        }
    }

    #[test]
    fn hole_becomes_gap_at_the_end() {
        // tcp-gap-missing-segment.pcap: "VERY" at 1, "DATA" at 9.
        let mut t = T::new();
        t.syn(0);
        t.seg(1, b"VERY");
        t.seg(9, b"DATA");
        assert_eq!(t.s.text(), "VERY");
        t.flush();
        assert_eq!(t.s.text(), "VERY[gap 4]DATA");
        assert_eq!(t.r.counters.missed, 4);
        assert_eq!(t.r.counters.gaps, 1);
    }

    #[test]
    fn hole_before_fin_is_a_gap_at_once_when_fin_arrives() {
        let mut t = T::new();
        t.syn(0);
        t.seg(1, b"ab");
        t.fin(5, b"ef");
        assert_eq!(t.s.text(), "ab");
        t.seg(3, b"cd");
        assert_eq!(t.s.text(), "abcdef[fin]");
        let mut t = T::new();
        t.syn(0);
        t.seg(1, b"ab");
        t.fin(5, b"ef");
        t.flush();
        assert_eq!(t.s.text(), "ab[gap 2]ef[fin]");
    }

    #[test]
    fn midstream_pickup_starts_at_first_segment() {
        let mut t = T::new();
        t.seg(5000, b"HTTP/1.1 200 OK\r\n");
        t.seg(5017, b"\r\n");
        assert_eq!(t.s.text(), "HTTP/1.1 200 OK\r\n\r\n");
    }

    #[test]
    fn keepalive_is_ignored() {
        let mut t = T::new();
        t.syn(0);
        t.seg(1, b"abc");
        t.seg(3, b"c");
        t.seg(3, b"");
        assert_eq!(t.s.text(), "abc");
        assert_eq!(t.r.counters.keepalives, 2);
        assert_eq!(t.r.counters.overlap_same, 0);
    }

    #[test]
    fn syn_retransmit_with_new_isn_before_data_rebases() {
        let mut t = T::new();
        t.syn(100);
        t.syn(5000);
        t.seg(5001, b"x");
        assert_eq!(t.s.text(), "x");
        assert_eq!(t.s.anomalies, vec!["syn_seq_jump"]);
        t.syn(9000);
        assert_eq!(t.s.anomalies, vec!["syn_seq_jump", "syn_inside_connection"]);
    }

    #[test]
    fn snaplen_cut_payload_leaves_a_gap() {
        let mut t = T::new();
        t.syn(0);
        t.seg_full(1, b"abc", 10, false);
        t.seg(11, b"k");
        assert_eq!(t.s.text(), "abc[gap 7]k");
    }

    #[test]
    fn data_after_fin_is_dropped() {
        let mut t = T::new();
        t.syn(0);
        t.fin(1, b"ab");
        t.seg(3, b"zz");
        assert_eq!(t.s.text(), "ab[fin]");
        assert_eq!(t.s.anomalies, vec!["data_after_fin"]);
    }

    #[test]
    fn depth_limits_delivery() {
        let mut t = T::with(DirLimits { depth: 5, ..LIMITS });
        t.syn(0);
        t.seg(1, b"abc");
        t.seg(4, b"defg");
        t.seg(8, b"hij");
        assert_eq!(t.s.text(), "abcde[depth]");
        assert_eq!(t.r.counters.past_depth, 5);
        assert!(t.r.done());
    }

    #[test]
    fn queue_cap_turns_the_hole_into_a_gap() {
        let mut t = T::with(DirLimits {
            max_queue: 200,
            ..LIMITS
        });
        t.syn(0);
        t.seg(1, b"a");
        // Hole at 2..11; then more than the cap waits behind it.
        t.seg(11, &[b'x'; 100]);
        t.seg(111, &[b'y'; 100]);
        assert!(t.s.text().starts_with("a[gap 9]"), "{}", t.s.text());
        assert_eq!(t.r.counters.delivered, 201);
        assert_eq!(t.s.anomalies, vec!["reassembly_queue_limit"]);
    }

    #[test]
    fn a_queue_skip_past_a_cut_segment_drops_its_missing_part_too() {
        // Found by the reassembly fuzz target: the data of a segment cut by
        // a snap length hit the queue cap, the skip went past the segment,
        // and its uncaptured part was still queued behind the next expected
        // byte, so the stream lost its place (later data was taken for old).
        let mut t = T::with(DirLimits {
            max_queue: 200,
            ..LIMITS
        });
        t.syn(0);
        t.seg(1, b"a");
        t.seg(111, &[b'x'; 100]);
        // 50 of 60 bytes captured, in the hole, over the cap.
        t.seg_full(20, &[b'c'; 50], 60, false);
        t.seg(211, b"zz");
        let want = format!("a[gap 109]{}zz", "x".repeat(100));
        assert_eq!(t.s.text(), want);
        assert_eq!(t.r.counters.delivered, 103);
        t.flush();
        assert!(t.r.queue.is_empty());
    }

    #[test]
    fn budget_is_shared_and_returned() {
        let mut t = T::new();
        t.b = Budget::new(150);
        t.syn(0);
        t.seg(1, b"a");
        t.seg(10, &[b'q'; 50]);
        // One recent byte, one queued piece and its overhead.
        assert_eq!(t.b.used, 1 + 50 + 64);
        // Over the budget: the hole is given up.
        t.seg(100, &[b'r'; 50]);
        assert!(t.s.text().starts_with("a[gap 8]"));
        t.flush();
        assert_eq!(t.b.used, 0);
        assert!(t.b.peak <= t.b.limit);
    }

    #[test]
    fn any_order_gives_the_same_stream() {
        // Segments of "abcdefghijklmnop" with overlaps, in many orders.
        let text = b"abcdefghijklmnopqrstuvwxyz";
        let segs: Vec<(u32, &[u8])> = vec![
            (1, &text[0..5]),
            (4, &text[3..9]),
            (9, &text[8..9]),
            (10, &text[9..20]),
            (15, &text[14..26]),
        ];
        let mut rng = 12345u64;
        for _ in 0..200 {
            let mut order: Vec<usize> = (0..segs.len()).collect();
            for i in (1..order.len()).rev() {
                rng = rng
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                order.swap(i, (rng >> 33) as usize % (i + 1));
            }
            let mut t = T::new();
            t.syn(0);
            for &i in &order {
                t.seg(segs[i].0, segs[i].1);
            }
            t.flush();
            assert_eq!(t.s.text().as_bytes(), text, "order {order:?}");
            assert_eq!(t.r.counters.overlap_diff, 0);
        }
    }
}
