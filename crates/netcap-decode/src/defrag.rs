//! IPv4 and IPv6 reassembly (RFC 791, RFC 8200 §4.5).
//!
//! [`Defragmenter`] is a pure state machine: it is fed fragments with their
//! capture time and answers whether the fragment was buffered, completed its
//! datagram, or was dropped. It keeps no clock of its own (time is the packet
//! time, never wall time) and uses no randomness that affects its answers, so
//! the same packets in the same order always give the same result.
//!
//! Resources are bounded: a datagram that stays incomplete for longer than
//! [`DefragConfig::timeout_ns`] is dropped, and when the buffered bytes or the
//! number of pending datagrams exceed their caps, the oldest pending datagrams
//! are dropped first. Overlapping fragments that carry the same bytes
//! (retransmissions) are accepted; overlapping fragments with different bytes
//! drop the whole datagram, as RFC 5722 asks for IPv6 and Linux does for IPv4,
//! since the receiver's reading of such a datagram is ambiguous.

use std::collections::{BTreeMap, HashMap};

use crate::util::{be16, be32, u8_at};

/// Largest datagram reassembled: the IPv4 Total Length and IPv6 Payload Length
/// fields are 16 bits.
pub const MAX_DATAGRAM: usize = 65_535;

/// Bytes counted against [`DefragConfig::max_bytes`] for each pending
/// datagram and each stored piece, on top of the data, so that floods of tiny
/// fragments are bounded too.
const DATAGRAM_COST: usize = 256;
const PIECE_COST: usize = 64;

/// Limits of the defragmenter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefragConfig {
    /// How long a datagram may stay incomplete, in nanoseconds of packet time
    /// after its first fragment (Linux's `ipfrag_time` is 30 s).
    pub timeout_ns: i64,
    /// Cap on buffered bytes (data plus bookkeeping) over all pending datagrams.
    pub max_bytes: usize,
    /// Cap on pending datagrams.
    pub max_datagrams: usize,
}

impl Default for DefragConfig {
    fn default() -> Self {
        DefragConfig {
            timeout_ns: 30_000_000_000,
            max_bytes: 64 << 20,
            max_datagrams: 16_384,
        }
    }
}

/// What identifies the fragments of one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragKey {
    /// Source address (IPv4 in the first 4 bytes).
    pub src: [u8; 16],
    /// Destination address (IPv4 in the first 4 bytes).
    pub dst: [u8; 16],
    /// Identification (16 bits for IPv4).
    pub id: u32,
    /// IPv4 protocol; 0 for IPv6, whose key is (src, dst, id) only: RFC 8200
    /// lets the fragments' Next Header differ and uses the first one's.
    pub protocol: u8,
    /// IPv6 rather than IPv4.
    pub v6: bool,
}

/// One fragment as the defragmenter needs it.
#[derive(Debug, Clone, Copy)]
pub struct Fragment<'a> {
    /// The datagram it belongs to.
    pub key: FragKey,
    /// Offset of `data` in the datagram's payload, in bytes.
    pub offset: usize,
    /// More fragments follow (MF flag / M flag).
    pub more: bool,
    /// Protocol of the payload (IPv4 protocol, IPv6 fragment Next Header).
    pub protocol: u8,
    /// Header bytes that count toward the 65,535-byte limit with the payload:
    /// the IPv4 header, or the IPv6 extension headers before the fragment header.
    pub overhead: usize,
    /// The fragment's data.
    pub data: &'a [u8],
}

/// Why fragments were dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The datagram stayed incomplete longer than the timeout.
    Timeout,
    /// A fragment overlapped received data with different bytes.
    Overlap,
    /// The memory or datagram cap was reached; the oldest datagram was dropped.
    Cap,
    /// The datagram would exceed 65,535 bytes.
    TooBig,
    /// An empty fragment, a non-last fragment whose length is not a multiple
    /// of 8, or fragments that disagree on where the datagram ends.
    Malformed,
}

/// What happened to a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Stored; its datagram is still incomplete.
    Buffered,
    /// It completed its datagram, whose payload (`len` bytes) was appended to
    /// the output buffer.
    Complete {
        /// Protocol of the payload (from the first fragment).
        protocol: u8,
        /// Length of the payload.
        len: usize,
    },
    /// It was dropped, with the datagram it belonged to.
    Dropped(DropReason),
    /// Not a fragment (offset 0, no more fragments: an IPv6 atomic fragment):
    /// decode it as it is. It does not touch pending datagrams (RFC 6946).
    Whole,
}

/// Counters of the defragmenter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefragStats {
    /// Fragments handed to the defragmenter (atomic fragments excluded).
    pub fragments: u64,
    /// Datagrams reassembled.
    pub reassembled: u64,
    /// Datagrams dropped because they stayed incomplete too long.
    pub timeout: u64,
    /// Datagrams dropped for conflicting overlapping fragments.
    pub overlap: u64,
    /// Datagrams dropped, oldest first, to stay under the caps.
    pub cap: u64,
    /// Datagrams dropped for exceeding 65,535 bytes.
    pub too_big: u64,
    /// Malformed fragments dropped (with their datagram, if one was pending).
    pub malformed: u64,
    /// Datagrams still incomplete at the end of the input.
    pub incomplete: u64,
}

impl DefragStats {
    /// Datagrams (or lone fragments) dropped, all reasons together.
    pub fn dropped(&self) -> u64 {
        self.timeout + self.overlap + self.cap + self.too_big + self.malformed
    }

    /// Adds `other` to these counters.
    pub fn merge(&mut self, other: &DefragStats) {
        self.fragments += other.fragments;
        self.reassembled += other.reassembled;
        self.timeout += other.timeout;
        self.overlap += other.overlap;
        self.cap += other.cap;
        self.too_big += other.too_big;
        self.malformed += other.malformed;
        self.incomplete += other.incomplete;
    }
}

/// Received bytes of a datagram at `start`.
#[derive(Debug)]
struct Piece {
    start: usize,
    data: Vec<u8>,
}

impl Piece {
    fn end(&self) -> usize {
        self.start + self.data.len()
    }
}

/// A datagram being reassembled.
#[derive(Debug)]
struct Pending {
    /// Creation order, for oldest-first eviction.
    seq: u64,
    deadline_ns: i64,
    /// Protocol from the fragment at offset 0, once seen.
    protocol: Option<u8>,
    /// Payload length, once the last fragment was seen.
    total: Option<usize>,
    /// Largest end of any fragment so far.
    max_end: usize,
    /// Bytes received, without duplicates.
    received: usize,
    /// Sorted by start, not overlapping.
    pieces: Vec<Piece>,
    /// Bytes charged against the memory cap.
    cost: usize,
}

/// The reassembly state machine (see the module documentation).
#[derive(Debug)]
pub struct Defragmenter {
    cfg: DefragConfig,
    /// Keys are attacker-controlled: a seeded hash (foldhash, several times
    /// cheaper than the default SipHash for these small keys).
    pending: HashMap<FragKey, Pending, foldhash::fast::RandomState>,
    /// Pending datagrams by creation order (the oldest first).
    order: BTreeMap<u64, FragKey>,
    next_seq: u64,
    bytes: usize,
    /// Latest packet time seen, so that time never goes backwards.
    now_ns: i64,
    stats: DefragStats,
}

impl Defragmenter {
    /// A defragmenter with limits `cfg`.
    pub fn new(cfg: DefragConfig) -> Self {
        Defragmenter {
            cfg,
            pending: HashMap::default(),
            order: BTreeMap::new(),
            next_seq: 0,
            bytes: 0,
            now_ns: i64::MIN,
            stats: DefragStats::default(),
        }
    }

    /// Counters so far (`incomplete` counts the datagrams pending now).
    pub fn stats(&self) -> DefragStats {
        DefragStats {
            incomplete: self.pending.len() as u64,
            ..self.stats
        }
    }

    /// Bytes buffered now (data plus bookkeeping).
    pub fn buffered_bytes(&self) -> usize {
        self.bytes
    }

    /// Datagrams pending now.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The ports of the pending datagram `key` from its fragment at offset 0,
    /// once seen (TCP, UDP, DCCP, SCTP, UDP-Lite put them in their first four
    /// bytes): its later fragments then count in its connection.
    pub fn ports(&self, key: &FragKey) -> Option<(u16, u16)> {
        let p = self.pending.get(key)?;
        if !matches!(p.protocol?, 6 | 17 | 33 | 132 | 136) {
            return None;
        }
        let first = p.pieces.first().filter(|pc| pc.start == 0)?;
        match first.data.get(..4)? {
            &[a, b, c, d] => Some((u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]))),
            _ => None,
        }
    }

    /// Adds `frag`, captured at `ts_ns`. When it completes its datagram, the
    /// reassembled payload is appended to `out`.
    pub fn push(&mut self, ts_ns: i64, frag: &Fragment<'_>, out: &mut Vec<u8>) -> Verdict {
        if frag.offset == 0 && !frag.more {
            return Verdict::Whole;
        }
        self.stats.fragments += 1;
        self.now_ns = self.now_ns.max(ts_ns);
        self.expire();
        let verdict = self.insert(frag, out);
        if let Verdict::Dropped(reason) = verdict {
            self.drop_key(&frag.key);
            self.count(reason);
        }
        verdict
    }

    /// Drops the datagrams whose deadline passed.
    fn expire(&mut self) {
        while let Some((_, key)) = self.order.first_key_value() {
            let key = *key;
            let Some(p) = self.pending.get(&key) else {
                // Cannot happen (see `drop_key`); never loop on it.
                self.order.pop_first();
                continue;
            };
            if p.deadline_ns >= self.now_ns {
                break;
            }
            self.drop_key(&key);
            self.count(DropReason::Timeout);
        }
    }

    fn count(&mut self, reason: DropReason) {
        let c = match reason {
            DropReason::Timeout => &mut self.stats.timeout,
            DropReason::Overlap => &mut self.stats.overlap,
            DropReason::Cap => &mut self.stats.cap,
            DropReason::TooBig => &mut self.stats.too_big,
            DropReason::Malformed => &mut self.stats.malformed,
        };
        *c += 1;
    }

    fn drop_key(&mut self, key: &FragKey) {
        // `pending` and `order` change together, so a key absent from one is
        // absent from the other.
        if let Some(p) = self.pending.remove(key) {
            self.order.remove(&p.seq);
            self.bytes = self.bytes.saturating_sub(p.cost);
        }
    }

    fn insert(&mut self, frag: &Fragment<'_>, out: &mut Vec<u8>) -> Verdict {
        let len = frag.data.len();
        if len == 0 || (frag.more && len % 8 != 0) {
            return Verdict::Dropped(DropReason::Malformed);
        }
        let Some(end) = frag.offset.checked_add(len) else {
            return Verdict::Dropped(DropReason::TooBig);
        };
        if end.saturating_add(frag.overhead) > MAX_DATAGRAM {
            return Verdict::Dropped(DropReason::TooBig);
        }
        let deadline_ns = self.now_ns.saturating_add(self.cfg.timeout_ns);
        let seq = self.next_seq;
        let p = self.pending.entry(frag.key).or_insert_with(|| Pending {
            seq,
            deadline_ns,
            protocol: None,
            total: None,
            max_end: 0,
            received: 0,
            pieces: Vec::new(),
            cost: DATAGRAM_COST,
        });
        if p.seq == seq {
            self.next_seq += 1;
            self.order.insert(seq, frag.key);
            self.bytes = self.bytes.saturating_add(DATAGRAM_COST);
        }
        // Where the datagram ends must be consistent over all fragments.
        if frag.more {
            if p.total.is_some_and(|t| end > t) {
                return Verdict::Dropped(DropReason::Malformed);
            }
        } else {
            if p.total.is_some_and(|t| t != end) || p.max_end > end {
                return Verdict::Dropped(DropReason::Malformed);
            }
            p.total = Some(end);
        }
        let added = match add_data(&mut p.pieces, frag.offset, frag.data) {
            Ok(added) => added,
            Err(()) => return Verdict::Dropped(DropReason::Overlap),
        };
        p.max_end = p.max_end.max(end);
        if frag.offset == 0 {
            p.protocol = Some(frag.protocol);
        }
        p.received += added.bytes;
        let cost = added.bytes + added.pieces * PIECE_COST;
        p.cost += cost;
        self.bytes = self.bytes.saturating_add(cost);
        if p.total == Some(p.received) {
            let protocol = p.protocol.unwrap_or(frag.protocol);
            let start = out.len();
            for piece in &p.pieces {
                out.extend_from_slice(&piece.data);
            }
            let len = out.len() - start;
            self.drop_key(&frag.key);
            self.stats.reassembled += 1;
            return Verdict::Complete { protocol, len };
        }
        self.enforce_caps(&frag.key)
    }

    /// Drops the oldest datagrams while over a cap; `Dropped(Cap)` when the
    /// datagram `current` was among them.
    fn enforce_caps(&mut self, current: &FragKey) -> Verdict {
        let mut verdict = Verdict::Buffered;
        while self.bytes > self.cfg.max_bytes || self.pending.len() > self.cfg.max_datagrams {
            let Some((_, key)) = self.order.first_key_value() else {
                break;
            };
            let key = *key;
            if !self.pending.contains_key(&key) {
                self.order.pop_first();
                continue;
            }
            self.drop_key(&key);
            if key == *current {
                // Counted by `push`, like every dropped verdict.
                verdict = Verdict::Dropped(DropReason::Cap);
            } else {
                self.stats.cap += 1;
            }
        }
        verdict
    }

    /// Ends the input: the pending datagrams are counted as incomplete and
    /// dropped; returns the final counters.
    pub fn finish(&mut self) -> DefragStats {
        let stats = self.stats();
        self.stats = stats;
        self.stats.incomplete = 0;
        self.pending.clear();
        self.order.clear();
        self.bytes = 0;
        stats
    }
}

/// Bytes and pieces added to a datagram by one fragment.
struct Added {
    bytes: usize,
    pieces: usize,
}

/// Stores the parts of `data` (at `offset`) not received yet; `Err` when a
/// part that was received differs.
fn add_data(pieces: &mut Vec<Piece>, offset: usize, data: &[u8]) -> Result<Added, ()> {
    let end = offset + data.len();
    let first = pieces.partition_point(|p| p.end() <= offset);
    let mut gaps = Vec::new();
    let mut cursor = offset;
    for p in pieces.iter().skip(first).take_while(|p| p.start < end) {
        if p.start > cursor {
            gaps.push((cursor, p.start));
        }
        let (a, b) = (p.start.max(offset), p.end().min(end));
        let ours = data.get(a - offset..b - offset).ok_or(())?;
        let theirs = p.data.get(a - p.start..b - p.start).ok_or(())?;
        if ours != theirs {
            return Err(());
        }
        cursor = cursor.max(p.end());
    }
    if cursor < end {
        gaps.push((cursor, end));
    }
    let mut added = Added {
        bytes: 0,
        pieces: gaps.len(),
    };
    for (a, b) in gaps {
        let bytes = data.get(a - offset..b - offset).ok_or(())?;
        let at = pieces.partition_point(|p| p.start < a);
        pieces.insert(
            at,
            Piece {
                start: a,
                data: bytes.to_vec(),
            },
        );
        added.bytes += b - a;
    }
    Ok(added)
}

/// IPv6 extension headers that may precede a fragment header.
const V6_HOP_BY_HOP: u8 = 0;
const V6_ROUTING: u8 = 43;
const V6_FRAGMENT: u8 = 44;
const V6_DEST_OPTS: u8 = 60;

/// The fragment carried by the IP packet at the start of `ip`, if it is one
/// whose bytes are all captured. Not a fragment, an IPv6 atomic fragment, a
/// damaged header or a fragment cut by the snap length: `None` (such packets
/// are decoded as they are, like tshark does).
pub fn ip_fragment(ip: &[u8]) -> Option<Fragment<'_>> {
    match ip.first()? >> 4 {
        4 => ipv4_fragment(ip),
        6 => ipv6_fragment(ip),
        _ => None,
    }
}

fn ipv4_fragment(ip: &[u8]) -> Option<Fragment<'_>> {
    let flags_offset = u16::from_be_bytes(ip.get(6..8)?.try_into().ok()?);
    // The common case, not fragmented, costs this one test.
    if flags_offset & 0x3fff == 0 {
        return None;
    }
    let header_len = usize::from(ip.first()? & 0x0f) * 4;
    let total = usize::from(be16(ip, 2));
    if header_len < 20 || total < header_len || ip.len() < header_len {
        return None;
    }
    let data = ip.get(header_len..total)?;
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.get_mut(..4)?.copy_from_slice(ip.get(12..16)?);
    dst.get_mut(..4)?.copy_from_slice(ip.get(16..20)?);
    let protocol = u8_at(ip, 9);
    Some(Fragment {
        key: FragKey {
            src,
            dst,
            id: u32::from(be16(ip, 4)),
            protocol,
            v6: false,
        },
        offset: usize::from(flags_offset & 0x1fff) * 8,
        more: flags_offset & 0x2000 != 0,
        protocol,
        overhead: header_len,
        data,
    })
}

fn ipv6_fragment(ip: &[u8]) -> Option<Fragment<'_>> {
    let mut next = *ip.get(6)?;
    // Most packets: no extension header that can precede a fragment header.
    if !matches!(
        next,
        V6_HOP_BY_HOP | V6_ROUTING | V6_FRAGMENT | V6_DEST_OPTS
    ) {
        return None;
    }
    let payload_len = usize::from(be16(ip, 4));
    if payload_len == 0 {
        // Jumbogram: no fragments.
        return None;
    }
    let end = 40usize.checked_add(payload_len)?;
    let mut at = 40usize;
    for _ in 0..crate::ipv6::MAX_EXTENSION_HEADERS {
        match next {
            V6_FRAGMENT => {
                let h = ip.get(at..at.checked_add(8)?)?;
                let word = be16(h, 2);
                let offset = usize::from(word >> 3) * 8;
                let more = word & 1 != 0;
                if offset == 0 && !more {
                    return None;
                }
                let mut src = [0u8; 16];
                let mut dst = [0u8; 16];
                src.copy_from_slice(ip.get(8..24)?);
                dst.copy_from_slice(ip.get(24..40)?);
                return Some(Fragment {
                    key: FragKey {
                        src,
                        dst,
                        id: be32(h, 4),
                        protocol: 0,
                        v6: true,
                    },
                    offset,
                    more,
                    protocol: u8_at(h, 0),
                    overhead: at - 40,
                    data: ip.get(at + 8..end)?,
                });
            }
            V6_HOP_BY_HOP | V6_ROUTING | V6_DEST_OPTS => {
                let len = (usize::from(*ip.get(at + 1)?) + 1) * 8;
                next = *ip.get(at)?;
                at = at.checked_add(len)?;
                if at > end {
                    return None;
                }
            }
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u32) -> FragKey {
        FragKey {
            src: [1; 16],
            dst: [2; 16],
            id,
            protocol: 17,
            v6: false,
        }
    }

    fn frag(id: u32, offset: usize, more: bool, data: &[u8]) -> Fragment<'_> {
        Fragment {
            key: key(id),
            offset,
            more,
            protocol: 17,
            overhead: 20,
            data,
        }
    }

    /// A payload whose bytes differ from one position to the next.
    fn payload(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn complete(len: usize) -> Verdict {
        Verdict::Complete { protocol: 17, len }
    }

    #[test]
    fn in_order() {
        let p = payload(40);
        let mut d = Defragmenter::new(DefragConfig::default());
        let mut out = Vec::new();
        assert_eq!(
            d.push(0, &frag(1, 0, true, &p[..16]), &mut out),
            Verdict::Buffered
        );
        assert_eq!(
            d.push(1, &frag(1, 16, true, &p[16..32]), &mut out),
            Verdict::Buffered
        );
        assert_eq!(
            d.push(2, &frag(1, 32, false, &p[32..]), &mut out),
            complete(40)
        );
        assert_eq!(out, p);
        let s = d.stats();
        assert_eq!(
            (s.fragments, s.reassembled, s.dropped(), s.incomplete),
            (3, 1, 0, 0)
        );
        assert_eq!((d.pending(), d.buffered_bytes()), (0, 0));
    }

    #[test]
    fn out_of_order_and_duplicates() {
        let p = payload(48);
        let mut d = Defragmenter::new(DefragConfig::default());
        let mut out = vec![0xee];
        assert_eq!(
            d.push(0, &frag(1, 40, false, &p[40..]), &mut out),
            Verdict::Buffered
        );
        assert_eq!(
            d.push(0, &frag(1, 16, true, &p[16..40]), &mut out),
            Verdict::Buffered
        );
        // Exact duplicate, then a retransmission overlapping two pieces with
        // the same bytes: both accepted, nothing counted twice.
        assert_eq!(
            d.push(0, &frag(1, 16, true, &p[16..40]), &mut out),
            Verdict::Buffered
        );
        assert_eq!(
            d.push(0, &frag(1, 8, true, &p[8..24]), &mut out),
            Verdict::Buffered
        );
        assert_eq!(
            d.push(0, &frag(1, 0, true, &p[..16]), &mut out),
            complete(48)
        );
        // Appended after what the buffer held.
        assert_eq!(out[0], 0xee);
        assert_eq!(&out[1..], &p[..]);
        assert_eq!(d.stats().reassembled, 1);
    }

    #[test]
    fn overlapping_identical_spanning_everything() {
        let p = payload(32);
        let mut d = Defragmenter::new(DefragConfig::default());
        let mut out = Vec::new();
        d.push(0, &frag(1, 8, true, &p[8..16]), &mut out);
        d.push(0, &frag(1, 24, false, &p[24..]), &mut out);
        // One fragment covering holes on both sides of received pieces.
        assert_eq!(
            d.push(0, &frag(1, 0, true, &p[..32 - 8]), &mut out),
            complete(32)
        );
        assert_eq!(out, p);
    }

    #[test]
    fn overlapping_conflicting_drops_the_datagram() {
        let p = payload(32);
        let mut q = p.clone();
        q[10] ^= 0xff;
        let mut d = Defragmenter::new(DefragConfig::default());
        let mut out = Vec::new();
        d.push(0, &frag(1, 0, true, &p[..16]), &mut out);
        assert_eq!(
            d.push(0, &frag(1, 8, true, &q[8..24]), &mut out),
            Verdict::Dropped(DropReason::Overlap)
        );
        assert_eq!((d.pending(), d.buffered_bytes()), (0, 0));
        // The rest of the datagram starts a new one, which never completes.
        assert_eq!(
            d.push(0, &frag(1, 16, false, &p[16..]), &mut out),
            Verdict::Buffered
        );
        assert!(out.is_empty());
        let s = d.stats();
        assert_eq!((s.overlap, s.reassembled, s.incomplete), (1, 0, 1));
    }

    #[test]
    fn missing_last_fragment_times_out() {
        let cfg = DefragConfig {
            timeout_ns: 30,
            ..DefragConfig::default()
        };
        let p = payload(64);
        let mut d = Defragmenter::new(cfg);
        let mut out = Vec::new();
        d.push(100, &frag(1, 0, true, &p[..16]), &mut out);
        d.push(110, &frag(2, 0, true, &p[..16]), &mut out);
        // At exactly the deadline it is still pending.
        d.push(130, &frag(1, 16, true, &p[16..32]), &mut out);
        assert_eq!(d.stats().timeout, 0);
        // Time going backwards does not revive anything or expire early.
        d.push(50, &frag(3, 0, true, &p[..16]), &mut out);
        assert_eq!(d.stats().timeout, 0);
        // Datagram 1 expires; its late last fragment starts a new datagram.
        assert_eq!(
            d.push(131, &frag(1, 32, false, &p[32..]), &mut out),
            Verdict::Buffered
        );
        let s = d.stats();
        assert_eq!((s.timeout, s.reassembled, s.incomplete), (1, 0, 3));
        let end = d.finish();
        assert_eq!((end.timeout, end.incomplete), (1, 3));
        assert_eq!(d.pending(), 0);
        assert_eq!(d.stats().incomplete, 0);
    }

    #[test]
    fn cap_evicts_the_oldest_first() {
        let cfg = DefragConfig {
            max_datagrams: 3,
            ..DefragConfig::default()
        };
        let p = payload(16);
        let mut d = Defragmenter::new(cfg);
        let mut out = Vec::new();
        for id in 1..=5 {
            assert_eq!(
                d.push(0, &frag(id, 0, true, &p[..8]), &mut out),
                Verdict::Buffered
            );
        }
        assert_eq!((d.pending(), d.stats().cap), (3, 2));
        // 1 and 2 were dropped: their last fragment does not complete them.
        assert_eq!(
            d.push(0, &frag(1, 8, false, &p[8..]), &mut out),
            Verdict::Buffered
        );
        assert_eq!(d.stats().cap, 3); // that new datagram evicted 3
        assert_eq!(
            d.push(0, &frag(4, 8, false, &p[8..]), &mut out),
            complete(16)
        );
        assert_eq!(
            d.push(0, &frag(5, 8, false, &p[8..]), &mut out),
            complete(16)
        );

        // Byte cap: a datagram alone over the cap drops itself.
        let small = DefragConfig {
            max_bytes: DATAGRAM_COST + PIECE_COST + 100,
            ..DefragConfig::default()
        };
        let big = payload(200);
        let mut d = Defragmenter::new(small);
        assert_eq!(
            d.push(0, &frag(1, 0, true, &big[..64]), &mut out),
            Verdict::Buffered
        );
        // The second datagram evicts the first and fits.
        assert_eq!(
            d.push(0, &frag(2, 0, true, &big[..64]), &mut out),
            Verdict::Buffered
        );
        assert_eq!((d.stats().cap, d.pending()), (1, 1));
        // A datagram alone over the cap evicts the older one, then itself.
        assert_eq!(
            d.push(0, &frag(3, 0, true, &big[..192]), &mut out),
            Verdict::Dropped(DropReason::Cap)
        );
        assert_eq!((d.stats().cap, d.pending(), d.buffered_bytes()), (3, 0, 0));
    }

    #[test]
    fn malformed_and_too_big() {
        let p = payload(64);
        let mut d = Defragmenter::new(DefragConfig::default());
        let mut out = Vec::new();
        let drop = |r| Verdict::Dropped(r);
        // Zero length, and a non-last fragment not a multiple of 8 long.
        assert_eq!(
            d.push(0, &frag(1, 8, true, &[]), &mut out),
            drop(DropReason::Malformed)
        );
        assert_eq!(
            d.push(0, &frag(1, 0, true, &p[..9]), &mut out),
            drop(DropReason::Malformed)
        );
        // Last fragment before data already received past it.
        d.push(0, &frag(2, 32, true, &p[..8]), &mut out);
        assert_eq!(
            d.push(0, &frag(2, 8, false, &p[..8]), &mut out),
            drop(DropReason::Malformed)
        );
        // Two last fragments that disagree; a fragment past the end.
        d.push(0, &frag(3, 8, false, &p[..8]), &mut out);
        assert_eq!(
            d.push(0, &frag(3, 8, false, &p[..16]), &mut out),
            drop(DropReason::Malformed)
        );
        d.push(0, &frag(4, 8, false, &p[..8]), &mut out);
        assert_eq!(
            d.push(0, &frag(4, 16, true, &p[..8]), &mut out),
            drop(DropReason::Malformed)
        );
        // Offset 8191 * 8 plus data beyond 65,535 with the header; usize overflow.
        assert_eq!(
            d.push(0, &frag(5, 65_528, false, &p[..8]), &mut out),
            drop(DropReason::TooBig)
        );
        assert_eq!(
            d.push(0, &frag(6, usize::MAX, false, &p[..8]), &mut out),
            drop(DropReason::TooBig)
        );
        // The largest datagram that fits is accepted.
        let last = 65_535 - 20 - 65_512;
        assert_eq!(
            d.push(0, &frag(7, 65_512, false, &p[..last]), &mut out),
            Verdict::Buffered
        );
        let s = d.stats();
        assert_eq!((s.malformed, s.too_big, s.reassembled), (5, 2, 0));
        assert_eq!(s.incomplete, 1);
        assert!(out.is_empty());
    }

    #[test]
    fn atomic_fragment_is_whole_and_leaves_pending_alone() {
        let p = payload(16);
        let mut d = Defragmenter::new(DefragConfig::default());
        let mut out = Vec::new();
        d.push(0, &frag(1, 0, true, &p[..8]), &mut out);
        assert_eq!(d.push(0, &frag(1, 0, false, &p), &mut out), Verdict::Whole);
        assert_eq!((d.pending(), d.stats().fragments), (1, 1));
        assert_eq!(
            d.push(0, &frag(1, 8, false, &p[8..]), &mut out),
            complete(16)
        );
    }

    /// IPv4 header with `flags_offset` and payload `data`.
    fn v4(flags_offset: u16, data: &[u8]) -> Vec<u8> {
        let total = (20 + data.len()) as u16;
        let mut b = vec![
            0x45, 0, 0, 0, 0x12, 0x34, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        b[2..4].copy_from_slice(&total.to_be_bytes());
        b[6..8].copy_from_slice(&flags_offset.to_be_bytes());
        b.extend_from_slice(data);
        b
    }

    /// IPv6 packet: a hop-by-hop header, then a fragment header, then `data`.
    fn v6(offset_more: u16, data: &[u8]) -> Vec<u8> {
        let plen = (8 + 8 + data.len()) as u16;
        let mut b = vec![0x60, 0, 0, 0];
        b.extend_from_slice(&plen.to_be_bytes());
        b.extend_from_slice(&[0, 64]);
        b.extend_from_slice(&[0x20; 16]);
        b.extend_from_slice(&[0x30; 16]);
        b.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
        b.extend_from_slice(&[17, 0]);
        b.extend_from_slice(&offset_more.to_be_bytes());
        b.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn parses_ipv4_fragments() {
        assert!(ip_fragment(&v4(0x4000, &[1, 2, 3])).is_none());
        let b = v4(0x2003, &[9; 16]);
        let f = ip_fragment(&b).unwrap();
        assert_eq!(
            (f.offset, f.more, f.protocol, f.overhead),
            (24, true, 17, 20)
        );
        assert_eq!((f.key.id, f.key.protocol, f.key.v6), (0x1234, 17, false));
        assert_eq!(&f.key.src[..4], &[10, 0, 0, 1]);
        assert_eq!(f.data, &[9; 16]);
        // Cut by the snap length: left to the decoder.
        assert!(ip_fragment(&b[..b.len() - 1]).is_none());
        // Ethernet padding after Total Length is not data.
        let mut padded = v4(0x0001, &[7; 8]);
        padded.extend_from_slice(&[0; 6]);
        assert_eq!(ip_fragment(&padded).unwrap().data, &[7; 8]);
        for n in 0..b.len() {
            let _ = ip_fragment(&b[..n]);
        }
    }

    #[test]
    fn parses_ipv6_fragments() {
        let b = v6(0x0011, &[5; 8]);
        let f = ip_fragment(&b).unwrap();
        assert_eq!(
            (f.offset, f.more, f.protocol, f.overhead),
            (16, true, 17, 8)
        );
        assert_eq!((f.key.id, f.key.protocol, f.key.v6), (0xdead_beef, 0, true));
        assert_eq!(f.data, &[5; 8]);
        // Atomic fragment.
        assert!(ip_fragment(&v6(0, &[5; 8])).is_none());
        for n in 0..b.len() {
            let _ = ip_fragment(&b[..n]);
        }
    }
}
