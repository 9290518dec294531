//! Which packets belong to a labelled connection.
//!
//! Per-packet records (Ethernet, TCP, DNS over UDP, ...) carry only their
//! packet's number. A packet's connection is found from its own records: the
//! IPv4/IPv6 records give its addresses and protocol, the TCP/UDP/SCTP
//! records of the same packet number its ports. Record files are in packet
//! order (docs/file-format.md), so the five files are read side by side, one
//! packet at a time, in constant memory. An address record and a transport
//! record of the same protocol form a 5-tuple, looked up among the labelled
//! connections with the packet number inside the connection's
//! FirstPacketNumber..LastPacketNumber (the same 5-tuple may be reused by a
//! later connection). Tunnels give several address and transport records per
//! packet; each pairing is tried, and both the outer and the inner
//! connection can match. A protocol without ports (ICMP), or a non-first
//! IP fragment (its transport header is in the first one), matches on the
//! address pair and protocol alone.

use std::net::IpAddr;
use std::path::Path;

use foldhash::{HashMap, HashMapExt};
use netcap_format::FileReader;
use netcap_schema::Type;

use crate::interval::IntervalIndex;
use crate::wire::for_each_field;
use crate::{pair_key, rank, tuple_key, Attack, Inputs, LabelError, Labelled, PairKey, TupleKey};

/// What a record of a packet tells about its connection.
#[derive(Debug, Clone, Copy)]
enum Role {
    /// Addresses; the field holding the protocol of what follows.
    Ip { proto_field: &'static str },
    /// Ports of this protocol.
    Transport { proto: u8 },
}

/// The record types read, in this order.
const SOURCES: [(Type, Role); 5] = [
    (
        Type::NcIPv4,
        Role::Ip {
            proto_field: "Protocol",
        },
    ),
    (
        Type::NcIPv6,
        Role::Ip {
            proto_field: "UpperLayerProtocol",
        },
    ),
    (Type::NcTcp, Role::Transport { proto: 6 }),
    (Type::NcUdp, Role::Transport { proto: 17 }),
    (Type::NcSctp, Role::Transport { proto: 132 }),
];

/// One packet's record of a source.
#[derive(Debug, Clone, Copy)]
enum Part {
    Ip { src: IpAddr, dst: IpAddr, proto: u8 },
    Transport { proto: u8, src: u16, dst: u16 },
}

/// A record file read in packet order.
struct Stream {
    reader: FileReader,
    path: std::path::PathBuf,
    role: Role,
    /// Field numbers: PacketNumber, Src, Dst, protocol (addresses only).
    fields: [u32; 4],
    /// The next record, read ahead.
    head: Option<(u64, Option<Part>)>,
    last: u64,
}

impl Stream {
    fn open(path: &Path, ty: Type, role: Role) -> Result<Option<Stream>, LabelError> {
        let Some(d) = netcap_schema::message_descriptor(ty) else {
            return Ok(None);
        };
        let num = |n: &str| d.get_field_by_name(n).map_or(0, |f| f.number());
        let (src, dst, proto) = match role {
            Role::Ip { proto_field } => ("SrcIP", "DstIP", num(proto_field)),
            Role::Transport { .. } => ("SrcPort", "DstPort", 0),
        };
        let mut s = Stream {
            reader: FileReader::open(path)?,
            path: path.to_path_buf(),
            role,
            fields: [num("PacketNumber"), num(src), num(dst), proto],
            head: None,
            last: 0,
        };
        s.advance()?;
        Ok(Some(s))
    }

    /// Reads the next record into `head`.
    fn advance(&mut self) -> Result<(), LabelError> {
        let [pn, sf, df, pf] = self.fields;
        let role = self.role;
        let Some(raw) = self.reader.next_raw()? else {
            self.head = None;
            return Ok(());
        };
        let (mut p, mut src, mut dst, mut proto) = (0u64, None, None, 0u64);
        let (mut sport, mut dport) = (0u64, 0u64);
        let ok = for_each_field(raw, |n, v| {
            if n == pn {
                p = v.int().unwrap_or(0);
            } else if n == sf {
                src = v.text().and_then(|t| t.parse::<IpAddr>().ok());
                sport = v.int().unwrap_or(0);
            } else if n == df {
                dst = v.text().and_then(|t| t.parse::<IpAddr>().ok());
                dport = v.int().unwrap_or(0);
            } else if n == pf {
                proto = v.int().unwrap_or(0);
            }
        });
        if ok.is_none() {
            return Err(LabelError::Records(format!(
                "{}: record {} is malformed",
                self.path.display(),
                self.reader.records_read()
            )));
        }
        if p < self.last {
            return Err(LabelError::Records(format!(
                "{}: records are not in packet order (packet {p} after {}); \
                 label the files netcap capture wrote",
                self.path.display(),
                self.last
            )));
        }
        self.last = p;
        let part = match role {
            Role::Ip { .. } => match (src, dst, u8::try_from(proto)) {
                (Some(src), Some(dst), Ok(proto)) => Some(Part::Ip { src, dst, proto }),
                _ => None,
            },
            Role::Transport { proto } => match (u16::try_from(sport), u16::try_from(dport)) {
                (Ok(src), Ok(dst)) => Some(Part::Transport { proto, src, dst }),
                _ => None,
            },
        };
        self.head = Some((p, part));
        Ok(())
    }
}

/// Packet number → the attack labelling the packet (the best ranked when
/// the packet belongs to several labelled connections).
pub(crate) fn label_packets(
    inputs: &Inputs,
    labelled: &Labelled,
    attacks: &[Attack],
) -> Result<HashMap<u64, u32>, LabelError> {
    let mut out = HashMap::new();
    if labelled.conns.is_empty() {
        return Ok(out);
    }
    let mut exact: HashMap<TupleKey, IntervalIndex<u32>> = HashMap::new();
    let mut pairs: HashMap<PairKey, IntervalIndex<u32>> = HashMap::new();
    for (c, &w) in labelled.conns.iter().zip(&labelled.winner) {
        let (first, last) = (c.first_pkt as i64, c.last_pkt as i64);
        exact
            .entry(tuple_key(c.proto, c.client, c.server))
            .or_default()
            .push(first, last, w);
        pairs
            .entry(pair_key(c.proto, c.client.0, c.server.0))
            .or_default()
            .push(first, last, w);
    }
    exact.values_mut().for_each(IntervalIndex::build);
    pairs.values_mut().for_each(IntervalIndex::build);

    let mut streams = Vec::new();
    for (ty, role) in SOURCES {
        if let Some(path) = inputs.file(ty) {
            if let Some(s) = Stream::open(path, ty, role)? {
                streams.push(s);
            }
        }
    }
    let mut ips = Vec::new();
    let mut transports = Vec::new();
    while let Some(p) = streams.iter().filter_map(|s| s.head.map(|h| h.0)).min() {
        ips.clear();
        transports.clear();
        for s in &mut streams {
            while let Some((q, part)) = s.head {
                if q != p {
                    break;
                }
                match part {
                    Some(Part::Ip { src, dst, proto }) => ips.push((src, dst, proto)),
                    Some(Part::Transport { proto, src, dst }) => transports.push((proto, src, dst)),
                    None => {}
                }
                s.advance()?;
            }
        }
        let mut best: Option<u32> = None;
        let mut take = |_: i64, _: i64, &w: &u32| {
            if best.is_none_or(|b| rank(attacks, w) < rank(attacks, b)) {
                best = Some(w);
            }
        };
        let pi = p as i64;
        for &(src, dst, proto) in &ips {
            let mut paired = false;
            for &(tp, sport, dport) in &transports {
                if tp != proto {
                    continue;
                }
                paired = true;
                if let Some(list) = exact.get(&tuple_key(proto, (src, sport), (dst, dport))) {
                    list.overlapping(pi, pi, &mut take);
                }
            }
            if !paired {
                if let Some(list) = pairs.get(&pair_key(proto, src, dst)) {
                    list.overlapping(pi, pi, &mut take);
                }
            }
        }
        if let Some(w) = best {
            out.insert(p, w);
        }
    }
    Ok(out)
}
