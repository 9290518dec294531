//! The layer walk: link → VLAN tags → network → transport → application.
//!
//! Each step wraps the next bytes in its protocol's view, emits the record and
//! chooses the next decoder from the protocol field. A failing layer ends the
//! walk with an error, after the records of the outer layers were emitted.

use crate::ethernet::{
    EthernetView, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_QINQ,
    ETHERTYPE_QINQ_OLD, ETHERTYPE_RARP, ETHERTYPE_VLAN,
};
use crate::link::{classify, LinkNext};
use crate::{app, arp, ethernet, icmpv4, icmpv6, ipv4, ipv6, tcp, udp, vlan};
use crate::{ctp, eapol, icmpv6nd, igmp, lldp, modbus, ospf, sctp, vrrp};
use crate::{DecodeError, DecodeOptions, Outcome, PacketInfo, RecordSink, UnknownLayer};

mod tunnels;

/// Most VLAN tags decoded in one frame; a further tag is reported unknown.
pub const MAX_VLAN_TAGS: usize = 8;

/// Most IP headers (tunnels included) decoded in one packet.
pub const MAX_IP_DEPTH: usize = 8;

/// IP protocol numbers the walk dispatches on.
mod proto {
    pub const ICMPV4: u8 = 1;
    pub const IGMP: u8 = 2;
    pub const OSPF: u8 = 89;
    pub const VRRP: u8 = 112;
    pub const SCTP: u8 = 132;
    pub const IPV4: u8 = 4;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6: u8 = 41;
    pub const ICMPV6: u8 = 58;
    pub const NO_NEXT_HEADER: u8 = 59;
}

/// Records of the layers almost every packet has, kept from packet to packet
/// so that their strings and option lists are refilled instead of allocated
/// anew (several allocations per packet otherwise).
#[derive(Debug, Default)]
struct RecordCache {
    ethernet: netcap_schema::Ethernet,
    ipv4: netcap_schema::IPv4,
    ipv6: netcap_schema::IPv6,
    tcp: netcap_schema::Tcp,
}

/// Decodes packets one after another, reusing the memory of the records it
/// builds: what a long-running worker should use. The free functions
/// [`decode_packet`] and [`decode_packet_defrag`] do the same for one packet.
#[derive(Debug, Default)]
pub struct PacketDecoder {
    cache: RecordCache,
}

impl PacketDecoder {
    /// A decoder with empty record buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one packet as [`decode_packet_defrag`] does.
    pub fn decode<S: RecordSink>(
        &mut self,
        pkt: &PacketInfo<'_>,
        opts: &DecodeOptions,
        defragged: Defragged<'_>,
        sink: &mut S,
    ) -> Outcome {
        let mut walker = self.walker(pkt, opts, sink, defragged != Defragged::No);
        let outcome = walker.link();
        let Defragged::Reassembled { protocol, payload } = defragged else {
            return outcome;
        };
        // Only when the walk met the IP header the fragment was found in.
        if walker.outer_fragment {
            return outcome;
        }
        let inner = walker.reassembled(protocol, payload);
        match outcome {
            Outcome::Decoded => inner,
            other => other,
        }
    }

    /// The walk of one packet, with this decoder's record buffers.
    fn walker<'w, 'p, S>(
        &'w mut self,
        pkt: &'w PacketInfo<'p>,
        opts: &'w DecodeOptions,
        sink: &'w mut S,
        outer_fragment: bool,
    ) -> Walker<'w, 'p, S> {
        Walker {
            pkt,
            opts,
            sink,
            cache: &mut self.cache,
            tunnels: 0,
            outer_fragment,
            addrs: None,
            ip_headers: 0,
        }
    }
}

/// Decodes one packet, emitting its records into `sink` outer layer first.
pub fn decode_packet<S: RecordSink>(
    pkt: &PacketInfo<'_>,
    opts: &DecodeOptions,
    sink: &mut S,
) -> Outcome {
    decode_packet_defrag(pkt, opts, Defragged::No, sink)
}

/// What IP reassembly did with a packet's outermost IP header (the one
/// [`crate::flowkey::outer_ip`] finds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defragged<'a> {
    /// Not a fragment, or reassembly is off: decode the packet as it is.
    No,
    /// A fragment taken by the defragmenter that did not complete a datagram:
    /// its payload is part of a datagram, decoded (if ever) with the fragment
    /// that completes it, as tshark does.
    Taken,
    /// The fragment that completed a datagram: after the packet's own layers,
    /// the reassembled payload is decoded as `protocol`.
    Reassembled {
        /// IP protocol (IPv6 Next Header) of the payload.
        protocol: u8,
        /// The reassembled payload.
        payload: &'a [u8],
    },
}

/// Decodes one packet like [`decode_packet`], knowing what reassembly did
/// with it: a fragment's own payload is not decoded, and a completed
/// datagram's payload is decoded after the packet's layers, with its number.
pub fn decode_packet_defrag<S: RecordSink>(
    pkt: &PacketInfo<'_>,
    opts: &DecodeOptions,
    defragged: Defragged<'_>,
    sink: &mut S,
) -> Outcome {
    PacketDecoder::new().decode(pkt, opts, defragged, sink)
}

/// Decodes a reassembled IP payload of protocol `protocol` (UDP, TCP, ICMP,
/// tunnels, ... and the application layers above), emitting its records with
/// `pkt`'s number and time. `pkt.data` is not decoded.
pub fn decode_reassembled<S: RecordSink>(
    pkt: &PacketInfo<'_>,
    opts: &DecodeOptions,
    protocol: u8,
    payload: &[u8],
    sink: &mut S,
) -> Outcome {
    PacketDecoder::new()
        .walker(pkt, opts, sink, false)
        .reassembled(protocol, payload)
}

/// State of one packet's walk.
struct Walker<'w, 'p, S> {
    pkt: &'w PacketInfo<'p>,
    opts: &'w DecodeOptions,
    sink: &'w mut S,
    cache: &'w mut RecordCache,
    /// Encapsulations entered so far (see [`MAX_TUNNELS`]).
    tunnels: usize,
    /// The first IP header met is a fragment the defragmenter took: its
    /// payload is not decoded. Cleared when that header is met.
    outer_fragment: bool,
    /// Addresses of the IP header whose payload is being decoded.
    addrs: Option<(std::net::IpAddr, std::net::IpAddr)>,
    /// IP headers met so far (tunnels through Ethernet included, which
    /// restart the `depth` of the IP walk).
    ip_headers: usize,
}

/// Turns a view constructor's result into the view or the walk's end.
macro_rules! view_or_return {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Outcome::Error(e),
        }
    };
}

impl<S: RecordSink> Walker<'_, '_, S> {
    /// Decodes the packet from its link layer on.
    fn link(&mut self) -> Outcome {
        let pkt = self.pkt;
        match classify(pkt.link_type, pkt.data) {
            Ok(LinkNext::Ethernet(frame)) => self.ethernet(frame),
            Ok(LinkNext::Ppp { frame, hdlc }) => self.ppp(frame, hdlc),
            Ok(LinkNext::Dot11 { frame, radiotap }) => self.dot11(frame, radiotap),
            // Below 0x0600 a cooked capture's protocol is no EtherType; only 4
            // (802.2 LLC frames) has a decoder.
            Ok(LinkNext::Network { ether_type, .. }) if ether_type < 0x0600 && ether_type != 4 => {
                Outcome::Unknown(UnknownLayer::EtherType(ether_type))
            }
            Ok(LinkNext::Network {
                ether_type,
                payload,
            }) => self.ether_type(ether_type, payload),
            // A family that is not IP has no EtherType; report the family number
            // there, since that is the protocol identifier the frame carries.
            Ok(LinkNext::UnknownFamily(f)) => Outcome::Unknown(UnknownLayer::EtherType(
                u16::try_from(f).unwrap_or(u16::MAX),
            )),
            Ok(LinkNext::Unsupported) => Outcome::Unknown(UnknownLayer::LinkType(pkt.link_type)),
            Err(e) => Outcome::Error(e),
        }
    }

    /// Decodes a reassembled payload as if it followed an IP header. An IPv6
    /// payload may start with extension headers that came after the fragment
    /// header (destination options): they are skipped.
    fn reassembled(&mut self, mut protocol: u8, mut data: &[u8]) -> Outcome {
        for _ in 0..ipv6::MAX_EXTENSION_HEADERS {
            if !matches!(
                protocol,
                ipv6::EXT_HOP_BY_HOP | ipv6::EXT_ROUTING | ipv6::EXT_DEST_OPTS
            ) {
                break;
            }
            let h = view_or_return!(ipv6::ExtHeaderView::new(protocol, data));
            protocol = h.next_header();
            data = h.payload();
        }
        self.ip_payload(protocol, data, data.len(), 1)
    }

    fn ethernet(&mut self, frame: &[u8]) -> Outcome {
        let view = view_or_return!(EthernetView::new(frame));
        let rec = &mut self.cache.ethernet;
        ethernet::fill_record(rec, &view, self.pkt, self.opts);
        self.sink.emit(rec);
        self.ether_type(view.ether_type(), view.payload())
    }

    /// Decodes `data` announced by `ether_type`, first peeling VLAN tags.
    fn ether_type(&mut self, mut ether_type: u16, mut data: &[u8]) -> Outcome {
        let mut tags = 0usize;
        loop {
            match ether_type {
                ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => {
                    if tags >= MAX_VLAN_TAGS {
                        return Outcome::Unknown(UnknownLayer::EtherType(ether_type));
                    }
                    let view = view_or_return!(vlan::VlanView::new(data));
                    self.sink.emit(&vlan::record(&view, ether_type, self.pkt));
                    tags += 1;
                    ether_type = view.ether_type();
                    data = view.payload();
                }
                ETHERTYPE_ARP | ETHERTYPE_RARP => {
                    let view = view_or_return!(arp::ArpView::new(data));
                    self.sink.emit(&arp::record(&view, self.pkt));
                    return Outcome::Decoded;
                }
                lldp::ETHERTYPE_LLDP => return lldp::decode(data, self.pkt, self.sink),
                eapol::ETHERTYPE_EAPOL => return eapol::decode(data, self.pkt, self.sink),
                ctp::ETHERTYPE_CTP => return ctp::decode(data, self.pkt, self.sink),
                ETHERTYPE_IPV4 => return self.ipv4(data, 0),
                ETHERTYPE_IPV6 => return self.ipv6(data, 0),
                other => return self.ether_type_more(other, data),
            }
        }
    }

    /// Decodes an IPv4 packet that is the `depth`-th IP header (0 = outermost).
    fn ipv4(&mut self, data: &[u8], depth: usize) -> Outcome {
        let taken = std::mem::take(&mut self.outer_fragment);
        let view = view_or_return!(ipv4::Ipv4View::new(data));
        let rec = &mut self.cache.ipv4;
        ipv4::fill_record(rec, &view, self.pkt, self.opts);
        self.sink.emit(rec);
        self.addrs = Some((view.src_addr().into(), view.dst_addr().into()));
        self.ip_headers += 1;
        if view.is_later_fragment() || taken {
            // The transport header is in the first fragment; these bytes are
            // the middle of its payload.
            return Outcome::Decoded;
        }
        let outcome = self.ip_payload(
            view.protocol(),
            view.payload(),
            view.payload_size(),
            depth + 1,
        );
        match outcome {
            // A first fragment too short for the whole transport header (the
            // rest is in the next fragment) is not damaged: tshark, too, only
            // reports it as a fragment.
            Outcome::Error(DecodeError::Truncated { .. })
                if view.flags() & 1 == 1 && view.payload().len() >= view.payload_size() =>
            {
                Outcome::Decoded
            }
            other => other,
        }
    }

    /// Decodes an IPv6 packet that is the `depth`-th IP header (0 = outermost).
    fn ipv6(&mut self, data: &[u8], depth: usize) -> Outcome {
        let taken = std::mem::take(&mut self.outer_fragment);
        let view = view_or_return!(ipv6::Ipv6View::new(data));
        let ext = view_or_return!(view.extensions());
        let mut rec = std::mem::take(&mut self.cache.ipv6);
        ipv6::fill_record(&mut rec, &view, &ext, self.pkt, self.opts);
        self.sink.emit(&rec);
        self.addrs = Some((view.src_addr().into(), view.dst_addr().into()));
        self.ip_headers += 1;
        self.ipv6_extension_records(&rec, &ext);
        self.cache.ipv6 = rec;
        if ext.later_fragment || taken {
            return Outcome::Decoded;
        }
        self.ip_payload(ext.upper_protocol, ext.payload, ext.payload_size, depth + 1)
    }

    /// Decodes the payload of an IP packet. `wire_len` is its length on the
    /// wire; `depth` the number of IP headers already decoded.
    fn ip_payload(&mut self, protocol: u8, data: &[u8], wire_len: usize, depth: usize) -> Outcome {
        match protocol {
            proto::TCP => {
                let view = view_or_return!(tcp::TcpView::new(data));
                let rec = &mut self.cache.tcp;
                tcp::fill_record(rec, &view, wire_len, self.pkt, self.opts);
                self.sink.emit(rec);
                let (sp, dp, payload) = (view.src_port(), view.dst_port(), view.payload());
                if let Some((src, dst)) = self.addrs {
                    self.sink.transport_segment(&crate::TransportSegment {
                        proto: proto::TCP,
                        src,
                        dst,
                        src_port: sp,
                        dst_port: dp,
                        seq: view.seq(),
                        ack: view.ack_num(),
                        flags: view.flags(),
                        window: view.window(),
                        payload,
                        wire_len: u32::try_from(wire_len.saturating_sub(view.header_len()))
                            .unwrap_or(u32::MAX),
                        depth: self.ip_headers.saturating_sub(1),
                    });
                }
                if let Some(o) = modbus::on_tcp(sp, dp, payload, self.pkt, self.sink) {
                    return o;
                }
                if self.opts.tcp_streams && app::tcp_is_dns(sp, dp) {
                    return Outcome::Decoded;
                }
                app::tcp(sp, dp, payload, self.pkt, self.sink)
            }
            proto::UDP => {
                let view = view_or_return!(udp::UdpView::new(data));
                self.sink.emit(&udp::record(&view, self.pkt, self.opts));
                if let Some((src, dst)) = self.addrs {
                    self.sink.transport_segment(&crate::TransportSegment {
                        proto: proto::UDP,
                        src,
                        dst,
                        src_port: view.src_port(),
                        dst_port: view.dst_port(),
                        seq: 0,
                        ack: 0,
                        flags: 0,
                        window: 0,
                        payload: &[],
                        wire_len: u32::try_from(wire_len.saturating_sub(8)).unwrap_or(u32::MAX),
                        depth: self.ip_headers.saturating_sub(1),
                    });
                }
                if let Some(o) = self.udp_tunnel(&view) {
                    return o;
                }
                app::udp(
                    view.src_port(),
                    view.dst_port(),
                    view.payload(),
                    self.pkt,
                    self.sink,
                )
            }
            proto::ICMPV4 => {
                let view = view_or_return!(icmpv4::Icmpv4View::new(data));
                self.sink.emit(&icmpv4::record(&view, self.pkt));
                Outcome::Decoded
            }
            proto::ICMPV6 => {
                let view = view_or_return!(icmpv6::Icmpv6View::new(data));
                self.sink.emit(&icmpv6::record(&view, self.pkt));
                match icmpv6nd::emit(&view, self.pkt, self.sink) {
                    Ok(()) => Outcome::Decoded,
                    Err(e) => Outcome::Error(e),
                }
            }
            proto::SCTP => {
                let view = view_or_return!(sctp::SctpView::new(data));
                self.sink.emit(&sctp::record(&view, self.pkt));
                Outcome::Decoded
            }
            proto::OSPF => ospf::decode(data, self.pkt, self.sink),
            proto::VRRP => {
                let view = view_or_return!(vrrp::VrrpView::new(data));
                self.sink.emit(&vrrp::record(&view, self.pkt));
                Outcome::Decoded
            }
            proto::IGMP => {
                let view = view_or_return!(igmp::IgmpView::new(data, wire_len));
                self.sink.emit(&igmp::record(&view, self.pkt));
                Outcome::Decoded
            }
            proto::IPV4 if depth < MAX_IP_DEPTH => self.ipv4(data, depth),
            proto::IPV6 if depth < MAX_IP_DEPTH => self.ipv6(data, depth),
            proto::NO_NEXT_HEADER => Outcome::Decoded,
            other => self.ip_more(other, data, wire_len, depth),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    mod tunnel_walks;
    use crate::DecodeError;
    use netcap_schema::{Arp, Dot1Q, Ethernet, IPv4, IPv6, IcmPv4, IcmPv6, Record, Tcp, Udp};

    /// Collects records as (type name, protobuf bytes), in emission order.
    #[derive(Default)]
    struct Collect(Vec<(&'static str, Vec<u8>)>);

    impl RecordSink for Collect {
        fn emit<R: Record>(&mut self, rec: &R) {
            self.0.push((R::NAME, rec.encode_to_vec()));
        }
    }

    impl Collect {
        fn names(&self) -> Vec<&'static str> {
            self.0.iter().map(|(n, _)| *n).collect()
        }

        fn all<R: Record>(&self) -> Vec<R> {
            self.0
                .iter()
                .filter(|(n, _)| *n == R::NAME)
                .map(|(_, b)| R::decode(b.as_slice()).unwrap())
                .collect()
        }

        fn one<R: Record>(&self) -> R {
            let mut v = self.all::<R>();
            assert_eq!(v.len(), 1, "{}", R::NAME);
            v.remove(0)
        }
    }

    /// One packet of a capture file.
    struct Frame {
        ts_ns: i64,
        orig_len: u32,
        data: Vec<u8>,
    }

    /// Reads a legacy pcap file (either byte order, micro- or nanosecond).
    fn read_pcap(name: &str) -> (u32, Vec<Frame>) {
        let path = if name.starts_with('/') {
            name.to_owned()
        } else {
            format!("{}/../../testdata/pcaps/{name}", env!("CARGO_MANIFEST_DIR"))
        };
        let b = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let magic = [b[0], b[1], b[2], b[3]];
        let (le, nanos) = match magic {
            [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
            [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
            [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
            [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
            m => panic!("not a pcap file: {m:x?}"),
        };
        let u32_at = |off: usize| {
            let a: [u8; 4] = b[off..off + 4].try_into().unwrap();
            if le {
                u32::from_le_bytes(a)
            } else {
                u32::from_be_bytes(a)
            }
        };
        let link_type = u32_at(20) & 0x0fff_ffff;
        let mut frames = Vec::new();
        let mut off = 24;
        while off + 16 <= b.len() {
            let (sec, frac, incl, orig) = (
                u32_at(off),
                u32_at(off + 4),
                u32_at(off + 8),
                u32_at(off + 12),
            );
            let start = off + 16;
            let end = start + incl as usize;
            let frac_ns = if nanos {
                i64::from(frac)
            } else {
                i64::from(frac) * 1000
            };
            frames.push(Frame {
                ts_ns: i64::from(sec) * 1_000_000_000 + frac_ns,
                orig_len: orig,
                data: b[start..end].to_vec(),
            });
            off = end;
        }
        (link_type, frames)
    }

    fn decode(link_type: u32, number: u64, f: &Frame, entropy: bool) -> (Outcome, Collect) {
        let pkt = PacketInfo {
            number,
            ts_ns: f.ts_ns,
            link_type,
            orig_len: f.orig_len,
            data: &f.data,
        };
        let mut sink = Collect::default();
        let out = decode_packet(
            &pkt,
            &DecodeOptions {
                entropy,
                ..DecodeOptions::default()
            },
            &mut sink,
        );
        (out, sink)
    }

    /// Decodes every packet of a capture; index 0 is frame 1.
    fn decode_file(name: &str) -> Vec<(Outcome, Collect)> {
        let (lt, frames) = read_pcap(name);
        frames
            .iter()
            .enumerate()
            .map(|(i, f)| decode(lt, i as u64 + 1, f, false))
            .collect()
    }

    fn ip_of(s: &str) -> Vec<u8> {
        s.parse::<std::net::IpAddr>()
            .map(|a| match a {
                std::net::IpAddr::V4(a) => a.octets().to_vec(),
                std::net::IpAddr::V6(a) => a.octets().to_vec(),
            })
            .unwrap()
    }

    /// An Ethernet header with `ether_type`.
    fn eth(ether_type: u16) -> Vec<u8> {
        let mut b = vec![0x02, 0, 0, 0, 0, 0x01, 0x00, 0x1b, 0x21, 0x3c, 0x9d, 0xf8];
        b.extend_from_slice(&ether_type.to_be_bytes());
        b
    }

    /// An IPv4 header (with `options`) carrying `payload` of protocol `proto`.
    fn ipv4(proto: u8, frag: u16, options: &[u8], payload: &[u8]) -> Vec<u8> {
        let hl = 20 + options.len();
        let total = u16::try_from(hl + payload.len()).unwrap();
        let mut b = vec![
            0x40 | u8::try_from(hl / 4).unwrap(),
            0,
            0,
            0,
            0xab,
            0xcd,
            0,
            0,
            64,
            proto,
            0,
            0,
        ];
        b[2..4].copy_from_slice(&total.to_be_bytes());
        b[6..8].copy_from_slice(&frag.to_be_bytes());
        b.extend(ip_of("192.0.2.1"));
        b.extend(ip_of("198.51.100.7"));
        b.extend_from_slice(options);
        b.extend_from_slice(payload);
        b
    }

    /// A PSH/ACK/NS TCP segment 1234 → 80 with MSS, NOP, window scale, SACK permitted, EOL.
    fn tcp_seg(payload: &[u8]) -> Vec<u8> {
        let mut b = vec![
            0x04, 0xd2, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x81, 0x18, 0x10, 0x00, 0, 0, 0, 0,
        ];
        b.extend_from_slice(&[2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 0, 0]);
        b.extend_from_slice(payload);
        b
    }

    /// An IPv6 header with hop-by-hop, routing and fragment headers before a
    /// UDP datagram.
    fn ipv6_chain(frag_offset: u16) -> Vec<u8> {
        let udp = [0x30, 0x39, 0x00, 0x50, 0, 11, 0x12, 0x34, b'a', b'b', b'c'];
        let mut b = vec![0x60, 0, 0, 0, 0, 24 + 11, 0, 255];
        b.extend(ip_of("2001:db8::1"));
        b.extend(ip_of("2001:db8::2"));
        b.extend_from_slice(&[43, 0, 5, 2, 0, 0, 1, 0]); // HBH: router alert, PadN
        b.extend_from_slice(&[44, 0, 0, 0, 0, 0, 0, 0]); // routing
        b.extend_from_slice(&[17, 0]); // fragment
        b.extend_from_slice(&(frag_offset << 3 | 1).to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 42]);
        b.extend_from_slice(&udp);
        b
    }

    fn frame(link_type: u32, data: &[u8]) -> (Outcome, Collect) {
        let f = Frame {
            ts_ns: 1_700_000_000_123_456_789,
            orig_len: u32::try_from(data.len()).unwrap(),
            data: data.to_vec(),
        };
        decode(link_type, 77, &f, false)
    }

    #[test]
    fn rarp_frames_get_arp_records() {
        let mut b = eth(0x8035);
        // Ethernet/IPv4, operation 3 (reverse request), sender = target MAC.
        b.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 3, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
        b.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
        let (out, c) = frame(1, &b);
        assert_eq!(out, Outcome::Decoded);
        let a: Arp = c.one();
        assert_eq!(a.operation, 3);
        assert_eq!(a.src_hw_address, "02:00:00:00:00:01");
    }

    #[test]
    fn vlan_ipv4_options_tcp() {
        let mut b = eth(0x8100);
        b.extend_from_slice(&[0x20, 0x64, 0x08, 0x00]); // PCP 1, VID 100
        b.extend(ipv4(6, 0x4000, &[7, 7, 4, 0, 0, 0, 0, 1], &tcp_seg(b"GET")));
        let (out, c) = frame(1, &b);
        assert_eq!(out, Outcome::Decoded);
        assert_eq!(c.names(), ["Ethernet", "Dot1Q", "IPv4", "TCP"]);
        let e = c.one::<Ethernet>();
        assert_eq!(
            (e.src_mac.as_str(), e.dst_mac.as_str()),
            ("00:1b:21:3c:9d:f8", "02:00:00:00:00:01")
        );
        assert_eq!((e.ethernet_type, e.payload_size), (0x8100, 4 + 28 + 32 + 3));
        let v = c.one::<Dot1Q>();
        assert_eq!(
            (v.priority, v.vlan_identifier, v.r#type, v.tag_protocol),
            (1, 100, 0x0800, 0x8100)
        );
        let ip = c.one::<IPv4>();
        assert_eq!(
            (ip.ihl, ip.length, ip.flags, ip.protocol, ip.payload_size),
            (7, 63, 2, 6, 35)
        );
        assert_eq!(ip.options.len(), 2);
        assert_eq!(
            (ip.options[0].option_type, ip.options[0].option_length),
            (7, 7)
        );
        assert_eq!(ip.options[0].option_data, vec![4, 0, 0, 0, 0]);
        assert_eq!(ip.options[1].option_type, 1);
        let t = c.one::<Tcp>();
        assert_eq!(
            (t.src_port, t.dst_port, t.data_offset, t.payload_size),
            (1234, 80, 8, 3)
        );
        assert!(t.psh && t.ack && t.ns && !t.syn);
        let kinds: Vec<_> = t.options.iter().map(|o| o.option_type).collect();
        assert_eq!(kinds, [2, 1, 3, 4, 0]);
        assert_eq!(t.padding, vec![0]);
        for (ts, n) in [
            (e.timestamp, e.packet_number),
            (v.timestamp, v.packet_number),
            (t.timestamp, t.packet_number),
        ] {
            assert_eq!((ts, n), (1_700_000_000_123_456_789, 77));
        }
        // Without --entropy nothing is computed, with it the payload counts.
        assert_eq!(t.payload_entropy, 0.0);
        let f = Frame {
            ts_ns: 0,
            orig_len: 0,
            data: b.clone(),
        };
        let (_, c) = decode(1, 1, &f, true);
        assert!((c.one::<Tcp>().payload_entropy - crate::entropy::shannon(b"GET")).abs() < 1e-12);
        assert!(c.one::<IPv4>().payload_entropy > 0.0);
    }

    #[test]
    fn ipv6_extension_chain_udp() {
        let mut b = eth(0x86dd);
        b.extend(ipv6_chain(0));
        let (out, c) = frame(1, &b);
        assert_eq!(out, Outcome::Decoded);
        assert_eq!(
            c.names(),
            ["Ethernet", "IPv6", "IPv6HopByHop", "IPv6Fragment", "UDP"]
        );
        let ip = c.one::<IPv6>();
        assert_eq!(
            (
                ip.next_header,
                ip.upper_layer_protocol,
                ip.length,
                ip.payload_size
            ),
            (0, 17, 35, 11)
        );
        let kinds: Vec<_> = ip
            .extension_headers
            .iter()
            .map(|h| (h.r#type, h.next_header, h.length))
            .collect();
        assert_eq!(kinds, [(0, 43, 8), (43, 44, 8), (44, 17, 8)]);
        let hbh = ip.hop_by_hop.unwrap();
        assert_eq!(hbh.options.len(), 2);
        assert_eq!(
            (
                hbh.options[0].option_type,
                hbh.options[0].option_data.clone()
            ),
            (5, vec![0, 0])
        );
        let u = c.one::<Udp>();
        assert_eq!(
            (u.src_port, u.dst_port, u.length, u.checksum, u.payload_size),
            (12345, 80, 11, 0x1234, 3)
        );

        // A later fragment: IPv6 only.
        let mut b = eth(0x86dd);
        b.extend(ipv6_chain(3));
        let (out, c) = frame(1, &b);
        assert_eq!(out, Outcome::Decoded);
        assert_eq!(
            c.names(),
            ["Ethernet", "IPv6", "IPv6HopByHop", "IPv6Fragment"]
        );
        assert_eq!(c.one::<IPv6>().upper_layer_protocol, 17);
    }

    #[test]
    fn defragged_fragments() {
        let decode = |data: &[u8], d: Defragged<'_>| {
            let pkt = PacketInfo {
                number: 9,
                ts_ns: 1,
                link_type: 1,
                orig_len: 0,
                data,
            };
            let mut sink = Collect::default();
            let out = decode_packet_defrag(&pkt, &DecodeOptions::default(), d, &mut sink);
            (out, sink)
        };
        let mut first = eth(0x0800);
        first.extend(ipv4(6, 0x2000, &[], &tcp_seg(b"")));
        // Taken: the first fragment's transport header is left for later.
        let (out, c) = decode(&first, Defragged::Taken);
        assert_eq!(
            (out, c.names()),
            (Outcome::Decoded, vec!["Ethernet", "IPv4"])
        );
        // Completing: its own layers, then the reassembled datagram's.
        let seg = tcp_seg(b"hello");
        let done = Defragged::Reassembled {
            protocol: 6,
            payload: &seg,
        };
        let (out, c) = decode(&first, done);
        assert_eq!(out, Outcome::Decoded);
        assert_eq!(c.names(), ["Ethernet", "IPv4", "TCP"]);
        assert_eq!(c.one::<Tcp>().payload_size, 5);
        // A reassembled payload that is not a valid header is an error.
        let bad = Defragged::Reassembled {
            protocol: 17,
            payload: &[1, 2],
        };
        assert!(matches!(decode(&first, bad).0, Outcome::Error(_)));
        // Without an IP header (the walk never met the fragment), the
        // payload is not decoded.
        let mut arp = eth(0x0806);
        arp.extend_from_slice(&[0; 28]);
        let (_, c) = decode(&arp, done);
        assert!(!c.names().contains(&"TCP"));
        // IPv6 destination options before the upper layer are skipped.
        let mut dst_opts = vec![6, 0, 1, 4, 0, 0, 0, 0];
        dst_opts.extend_from_slice(&seg);
        let pkt = PacketInfo {
            number: 3,
            ts_ns: 1,
            link_type: 101,
            orig_len: 0,
            data: &[],
        };
        let mut sink = Collect::default();
        let out = decode_reassembled(&pkt, &DecodeOptions::default(), 60, &dst_opts, &mut sink);
        assert_eq!((out, sink.names()), (Outcome::Decoded, vec!["TCP"]));
    }

    #[test]
    fn fragments_tunnels_and_icmp() {
        // First fragment (MF, offset 0): the transport header is there.
        let (out, c) = frame(228, &ipv4(6, 0x2000, &[], &tcp_seg(b"")));
        assert_eq!((out, c.names()), (Outcome::Decoded, vec!["IPv4", "TCP"]));
        // Later fragment: no transport record even though the bytes look like TCP.
        let (out, c) = frame(228, &ipv4(6, 0x2001, &[], &tcp_seg(b"")));
        assert_eq!((out, c.names()), (Outcome::Decoded, vec!["IPv4"]));
        assert_eq!(c.one::<IPv4>().frag_offset, 1);
        // A first fragment that ends inside the TCP header is a fragment, not
        // an error; without MF the same bytes are a truncated header.
        let cut = &tcp_seg(b"")[..16];
        let (out, c) = frame(228, &ipv4(6, 0x2000, &[], cut));
        assert_eq!((out, c.names()), (Outcome::Decoded, vec!["IPv4"]));
        let (out, _) = frame(228, &ipv4(6, 0, &[], cut));
        assert!(
            matches!(
                out,
                Outcome::Error(DecodeError::Truncated { layer: "TCP", .. })
            ),
            "{out:?}"
        );
        // 6in4.
        let mut v6 = ipv6_chain(0);
        v6[6] = 58; // straight to ICMPv6
        v6[4..6].copy_from_slice(&8u16.to_be_bytes());
        v6.truncate(40);
        v6.extend_from_slice(&[128, 0, 0xaa, 0xbb, 0, 1, 0, 2]);
        let (out, c) = frame(101, &ipv4(41, 0, &[], &v6));
        assert_eq!(
            (out, c.names()),
            (
                Outcome::Decoded,
                vec!["IPv4", "IPv6", "ICMPv6", "ICMPv6Echo"]
            )
        );
        assert_eq!(c.one::<IcmPv6>().type_code, 0x8000);
        // IPv4 in IPv4 nested beyond the depth limit.
        let mut p = ipv4(17, 0, &[], &[0, 1, 0, 2, 0, 8, 0, 0]);
        for _ in 0..9 {
            p = ipv4(4, 0, &[], &p);
        }
        let (out, c) = frame(228, &p);
        assert_eq!(out, Outcome::Unknown(UnknownLayer::IpProtocol(4)));
        assert_eq!(c.all::<IPv4>().len(), MAX_IP_DEPTH);
        // ICMP error: the quoted IPv4/UDP packet is not decoded.
        let quoted = ipv4(17, 0, &[], &[0, 1, 0, 2, 0, 8, 0, 0]);
        let mut icmp = vec![3, 3, 0x12, 0x34, 0, 0, 0, 0];
        icmp.extend(quoted);
        let (out, c) = frame(228, &ipv4(1, 0, &[], &icmp));
        assert_eq!((out, c.names()), (Outcome::Decoded, vec!["IPv4", "ICMPv4"]));
        let r = c.one::<IcmPv4>();
        assert_eq!(
            (r.type_code, r.checksum, r.id, r.seq),
            (0x0303, 0x1234, 0, 0)
        );
        // No next header, unknown protocol.
        let mut v6 = ipv6_chain(0);
        v6[6] = 59;
        assert_eq!(frame(229, &v6).0, Outcome::Decoded);
        let (out, c) = frame(228, &ipv4(253, 0, &[], &[0; 8]));
        assert_eq!(
            (out, c.names()),
            (
                Outcome::Unknown(UnknownLayer::IpProtocol(253)),
                vec!["IPv4"]
            )
        );
    }

    #[test]
    fn unknown_layers_and_limits() {
        let (out, c) = frame(147, &[0; 40]);
        assert_eq!(
            (out, c.names()),
            (Outcome::Unknown(UnknownLayer::LinkType(147)), vec![])
        );
        let mut b = eth(0x0026); // 802.3 length
        b.extend_from_slice(&[0x42; 38]);
        let (out, c) = frame(1, &b);
        assert_eq!(
            (out, c.names()),
            (
                Outcome::Unknown(UnknownLayer::LlcSap(0x42)),
                vec!["Ethernet", "LLC"]
            )
        );
        // Nine stacked tags: eight are decoded.
        let mut b = eth(0x88a8);
        for _ in 0..9 {
            b.extend_from_slice(&[0, 5, 0x81, 0x00]);
        }
        b.extend_from_slice(&[0; 30]);
        let (out, c) = frame(1, &b);
        assert_eq!(out, Outcome::Unknown(UnknownLayer::EtherType(0x8100)));
        let tags = c.all::<Dot1Q>();
        assert_eq!(tags.len(), MAX_VLAN_TAGS);
        assert_eq!(
            (
                tags[0].tag_protocol,
                tags[1].tag_protocol,
                tags[0].vlan_identifier
            ),
            (0x88a8, 0x8100, 5)
        );
        // Loopback with an address family that is not IP.
        let (out, c) = frame(0, &[17, 0, 0, 0, 1, 2, 3]);
        assert_eq!(
            (out, c.names()),
            (Outcome::Unknown(UnknownLayer::EtherType(17)), vec![])
        );
        // A failing layer after decoded ones.
        let mut b = eth(0x0800);
        b.extend_from_slice(&[0x55; 30]);
        let (out, c) = frame(1, &b);
        assert_eq!(
            out,
            Outcome::Error(DecodeError::Invalid {
                layer: "IPv4",
                field: "Version"
            })
        );
        assert_eq!(c.names(), ["Ethernet"]);
    }

    /// Record names of `layers`, once per run of equal names (link layers
    /// other than Ethernet have no record).
    fn dedup(layers: &[(&'static str, usize)]) -> Vec<&'static str> {
        let mut v: Vec<_> = layers
            .iter()
            .map(|l| l.0)
            .filter(|l| *l != "LinuxSLL")
            .collect();
        v.dedup();
        v
    }

    /// Decodes every prefix of `data` (as if cut by a snap length) and checks
    /// that the walk ends in an error of the layer the cut falls into, after
    /// the records of the layers before it. `layers` lists (layer, end offset).
    fn sweep(link_type: u32, data: &[u8], layers: &[(&'static str, usize)]) {
        let f = Frame {
            ts_ns: 1,
            orig_len: u32::try_from(data.len()).unwrap(),
            data: Vec::new(),
        };
        for n in 0..=data.len() {
            let cut = Frame {
                data: data[..n].to_vec(),
                ..f
            };
            let (out, c) = decode(link_type, 1, &cut, true);
            match layers.iter().position(|&(_, end)| n < end) {
                Some(i) => {
                    let Outcome::Error(e) = out else {
                        panic!("cut at {n}: {out:?}")
                    };
                    assert_eq!(e.layer(), layers[i].0, "cut at {n}: {e}");
                    let mut before = dedup(&layers[..i]);
                    before.retain(|l| *l != layers[i].0);
                    assert_eq!(c.names(), before, "cut at {n}");
                }
                None => {
                    assert_eq!(out, Outcome::Decoded, "cut at {n}");
                    assert_eq!(c.names(), dedup(layers));
                }
            }
        }
    }

    #[test]
    fn every_truncation_of_some_frames() {
        let mut a = eth(0x8100);
        a.extend_from_slice(&[0x20, 0x64, 0x08, 0x00]);
        a.extend(ipv4(
            6,
            0x4000,
            &[7, 7, 4, 0, 0, 0, 0, 1],
            &tcp_seg(b"GET / HTTP/1.1"),
        ));
        sweep(
            1,
            &a,
            &[("Ethernet", 14), ("Dot1Q", 18), ("IPv4", 46), ("TCP", 78)],
        );

        let mut b = eth(0x86dd);
        b.extend(ipv6_chain(0));
        // The IPv6 record needs its extension headers: a cut inside them is an
        // IPv6 error, with no IPv6 record.
        sweep(
            1,
            &b,
            &[
                ("Ethernet", 14),
                ("IPv6", 54),
                ("IPv6", 78),
                ("IPv6HopByHop", 78),
                ("IPv6Fragment", 78),
                ("UDP", 86),
            ],
        );

        let mut c = eth(0x0806);
        c.extend_from_slice(&[
            0, 1, 8, 0, 6, 4, 0, 2, 1, 2, 3, 4, 5, 6, 10, 0, 0, 1, 6, 5, 4, 3, 2, 1, 10, 0, 0, 2,
        ]);
        c.extend_from_slice(&[0; 18]); // Ethernet padding
        sweep(1, &c, &[("Ethernet", 14), ("ARP", 42)]);

        let mut d = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
        d.extend(ipv4(17, 0, &[], &[0, 1, 0, 2, 0, 10, 0, 0, 0xff, 0xfe]));
        sweep(113, &d, &[("LinuxSLL", 16), ("IPv4", 36), ("UDP", 44)]);
    }

    #[test]
    fn mutated_frames_never_panic() {
        // Deterministic byte flips of valid frames under every link type; the
        // debug build also checks that no arithmetic overflows.
        let mut seeds = Vec::new();
        let mut a = eth(0x8100);
        a.extend_from_slice(&[0x20, 0x64, 0x08, 0x00]);
        a.extend(ipv4(6, 0, &[7, 7, 4, 0, 0, 0, 0, 1], &tcp_seg(b"GET")));
        seeds.push(a);
        let mut b = eth(0x86dd);
        b.extend(ipv6_chain(0));
        seeds.push(b);
        seeds.push(ipv4(
            4,
            0,
            &[],
            &ipv4(1, 0, &[148, 4, 0, 0], &[8, 0, 0, 0, 0, 1, 0, 2]),
        ));
        let mut decoded = 0;
        mutate_each(&seeds, 3000, 0x2545_f491_4f6c_dd1d, |d| {
            for lt in [0, 1, 12, 101, 113, 228, 229, 276] {
                let (out, c) = frame(lt, d);
                if out == Outcome::Decoded {
                    decoded += 1;
                    // A finished walk ends past the link layer.
                    let last = c.names().last().copied();
                    assert!(
                        !matches!(last, None | Some("Ethernet" | "Dot1Q")),
                        "{last:?}"
                    );
                }
            }
        });
        assert!(decoded > 1000, "{decoded}");
    }

    /// Deterministic mutations of each (non-empty) seed frame, `rounds` times:
    /// one to four bytes overwritten, then a cut at a random length.
    pub(super) fn mutate_each(
        seeds: &[Vec<u8>],
        rounds: usize,
        mut state: u64,
        mut f: impl FnMut(&[u8]),
    ) {
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for seed in seeds {
            for _ in 0..rounds {
                let mut d = seed.clone();
                for _ in 0..(next() % 4 + 1) {
                    let i = (next() % d.len() as u64) as usize;
                    d[i] = (next() & 0xff) as u8;
                }
                d.truncate((next() % (d.len() as u64 + 1)) as usize);
                f(&d);
            }
        }
    }

    #[test]
    fn ipv4_options_capture() {
        // Expected values from `tshark -T fields -e ip.opt.type -e ip.opt.len`
        // and the hex dump of each frame.
        let frames = decode_file("ipv4-options-all-types.pcap");
        assert_eq!(frames.len(), 8);
        /// (type, length) of each option, and the padding.
        type Expect = (&'static [(i32, i32)], &'static [u8]);
        let expect: [Expect; 8] = [
            (&[(7, 3), (0, 1)], &[]),
            (&[(131, 11), (0, 1)], &[]),
            (&[(0, 1)], &[0, 0, 0]),
            (&[(1, 1), (0, 1)], &[0, 0]),
            (&[(68, 8)], &[]),
            (&[(130, 11), (0, 1)], &[]),
            (&[(137, 11), (0, 1)], &[]),
            (&[(136, 4)], &[]),
        ];
        for ((out, c), (opts, pad)) in frames.iter().zip(expect) {
            assert_eq!(*out, Outcome::Decoded);
            assert_eq!(c.names(), ["IPv4", "TCP"]);
            let ip = c.one::<IPv4>();
            let got: Vec<_> = ip
                .options
                .iter()
                .map(|o| (o.option_type, o.option_length))
                .collect();
            assert_eq!(got, opts);
            assert_eq!(ip.padding, pad);
            assert_eq!(
                (ip.src_ip.as_str(), ip.dst_ip.as_str()),
                ("9.10.11.12", "13.14.15.16")
            );
            let t = c.one::<Tcp>();
            assert_eq!((t.src_port, t.dst_port, t.payload_size), (20, 80, 0));
        }
        let ip = frames[1].1.one::<IPv4>();
        assert_eq!(ip.options[0].option_data, vec![4, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!((ip.ihl, ip.length, ip.checksum), (8, 52, 0xac74));
    }

    #[test]
    fn ipv6_extension_capture() {
        let frames = decode_file("ipv6-ext-hbh-routing-dstopts-vlan.pcap");
        let (out, c) = &frames[0];
        assert_eq!(*out, Outcome::Decoded);
        assert_eq!(
            c.names(),
            ["Ethernet", "Dot1Q", "IPv6", "IPv6HopByHop", "UDP"]
        );
        assert_eq!(c.one::<Dot1Q>().vlan_identifier, 6);
        let ip = c.one::<IPv6>();
        assert_eq!((ip.src_ip.as_str(), ip.dst_ip.as_str()), ("::1", "::1"));
        assert_eq!(
            (
                ip.length,
                ip.next_header,
                ip.hop_limit,
                ip.upper_layer_protocol,
                ip.payload_size
            ),
            (32, 0, 64, 17, 8)
        );
        let kinds: Vec<_> = ip
            .extension_headers
            .iter()
            .map(|h| (h.r#type, h.next_header, h.length))
            .collect();
        assert_eq!(kinds, [(0, 60, 8), (60, 43, 8), (43, 17, 8)]);
        let hbh = ip.hop_by_hop.unwrap();
        assert_eq!(hbh.options.len(), 1);
        assert_eq!(
            (hbh.options[0].option_type, hbh.options[0].option_length),
            (1, 4)
        );
        let u = c.one::<Udp>();
        assert_eq!(
            (u.src_port, u.dst_port, u.length, u.checksum, u.payload_size),
            (53, 80, 8, 0xff57, 0)
        );
    }

    #[test]
    fn stacked_vlan_and_qinq_captures() {
        let frames = decode_file("vlan-stacked-0-to-3-tags-icmp.pcap");
        let (out, c) = &frames[0];
        assert_eq!(*out, Outcome::Decoded);
        assert_eq!(
            c.names(),
            ["Ethernet", "Dot1Q", "Dot1Q", "Dot1Q", "IPv4", "ICMPv4"]
        );
        let ids: Vec<_> = c
            .all::<Dot1Q>()
            .iter()
            .map(|t| (t.vlan_identifier, t.r#type))
            .collect();
        assert_eq!(ids, [(200, 0x8100), (300, 0x8100), (400, 0x0800)]);
        let e = c.one::<Ethernet>();
        assert_eq!(
            (e.src_mac.as_str(), e.dst_mac.as_str(), e.payload_size),
            ("11:11:11:11:11:11", "22:22:22:22:22:22", 40)
        );
        let i = c.one::<IcmPv4>();
        assert_eq!(
            (i.r#type, i.code, i.checksum, i.id, i.seq),
            (8, 0, 0xf7ff, 0, 0)
        );
        let (_, c) = &frames[1];
        assert_eq!(c.names(), ["Ethernet", "IPv4", "ICMPv4"]);
        assert_eq!(c.one::<IcmPv4>().checksum, 0xffff);

        let frames = decode_file("qinq-8021ad-arp.pcap");
        let (out, c) = &frames[0];
        assert_eq!(*out, Outcome::Decoded);
        let tags: Vec<_> = c
            .all::<Dot1Q>()
            .iter()
            .map(|t| (t.tag_protocol, t.vlan_identifier, t.r#type))
            .collect();
        assert_eq!(tags, [(0x88a8, 200, 0x8100), (0x8100, 2001, 0x0806)]);
        let a = c.one::<Arp>();
        assert_eq!((a.addr_type, a.protocol, a.operation), (1, 0x0800, 1));
        assert_eq!(
            (a.src_hw_address.as_str(), a.src_prot_address.as_str()),
            ("00:20:d2:5a:fb:3f", "172.21.79.97")
        );
        assert_eq!(
            (a.dst_hw_address.as_str(), a.dst_prot_address.as_str()),
            ("00:00:00:00:00:00", "172.21.79.100")
        );
        let a = frames[1].1.one::<Arp>();
        assert_eq!(
            (
                a.operation,
                a.src_prot_address.as_str(),
                a.dst_hw_address.as_str()
            ),
            (2, "172.21.79.100", "00:20:d2:5a:fb:3f")
        );
    }

    #[test]
    fn linux_cooked_captures() {
        let frames = decode_file("nsec-sll-tcp-handshake.pcap");
        // tshark: seq_raw, ack_raw, flags, window, checksum per frame.
        let expect = [
            (
                1_418_145_369_924_505_488,
                "131.155.215.69",
                46656,
                797_190_859,
                0,
                0x002,
                27200,
                0x50c4,
            ),
            (
                1_418_145_370_052_027_262,
                "137.116.81.94",
                80,
                3_078_856_592,
                797_190_860,
                0x012,
                8192,
                0x8648,
            ),
            (
                1_418_145_370_052_115_157,
                "131.155.215.69",
                46656,
                797_190_860,
                3_078_856_593,
                0x010,
                213,
                0xd40c,
            ),
        ];
        for ((out, c), (ts, src, sport, seq, ack, flags, win, sum)) in frames.iter().zip(expect) {
            assert_eq!(*out, Outcome::Decoded);
            assert_eq!(c.names(), ["IPv4", "TCP"]);
            let ip = c.one::<IPv4>();
            assert_eq!((ip.timestamp, ip.src_ip.as_str(), ip.flags), (ts, src, 2));
            let t = c.one::<Tcp>();
            assert_eq!(
                (t.timestamp, t.src_port, t.seq_num, t.ack_num),
                (ts, sport, seq, ack)
            );
            assert_eq!(
                (
                    u8::from(t.syn) << 1 | u8::from(t.ack) << 4,
                    t.window,
                    t.checksum
                ),
                (flags, win, sum)
            );
        }
        let t = frames[0].1.one::<Tcp>();
        let kinds: Vec<_> = t.options.iter().map(|o| o.option_type).collect();
        assert_eq!(kinds, [2, 4, 8, 1, 3]);

        let frames = decode_file("sll2-http-gro-large-frames.pcap");
        assert_eq!(frames.len(), 159);
        assert!(frames.iter().all(|(o, _)| *o == Outcome::Decoded));
        // Frame 8 is a 7312-byte GRO frame: ip.len 7292, tcp.len 7240.
        let (_, c) = &frames[7];
        let ip = c.one::<IPv4>();
        assert_eq!(
            (ip.length, ip.id, ip.src_ip.as_str()),
            (7292, 0x88b7, "192.168.1.21")
        );
        let t = c.one::<Tcp>();
        assert_eq!(
            (
                t.src_port,
                t.dst_port,
                t.seq_num,
                t.data_offset * 4,
                t.payload_size
            ),
            (80, 56478, 845_479_314, 32, 7240)
        );
    }

    #[test]
    fn loopback_and_raw_ip_captures() {
        let frames = decode_file("null-loopback-http-range.pcap");
        assert_eq!(frames.len(), 614);
        assert!(frames
            .iter()
            .all(|(o, c)| *o == Outcome::Decoded && c.names() == ["IPv4", "TCP"]));
        let t = frames[4].1.one::<Tcp>();
        assert_eq!(
            (t.src_port, t.dst_port, t.payload_size, t.data_offset, t.psh),
            (55229, 8000, 115, 8, true)
        );
        assert_eq!(frames[4].1.one::<IPv4>().length, 167);

        let frames = decode_file("rawip-tls13-alpn.pcap");
        assert_eq!(frames.len(), 28);
        assert!(frames.iter().all(|(o, _)| *o == Outcome::Decoded));
        let (_, c) = &frames[3];
        let ip = c.one::<IPv4>();
        assert_eq!(
            (ip.src_ip.as_str(), ip.dst_ip.as_str(), ip.length, ip.ttl),
            ("10.84.1.49", "17.248.236.64", 569, 63)
        );
        let t = c.one::<Tcp>();
        assert_eq!(
            (t.src_port, t.dst_port, t.payload_size, t.seq_num),
            (55349, 443, 517, 2_238_959_561)
        );
        // The SYN: tshark lists kinds 2,1,3,1,1,8,4,0,0 — it shows each zero
        // byte as an EOL, Netcap stops at the first and keeps the rest as Padding.
        let t = frames[0].1.one::<Tcp>();
        let kinds: Vec<_> = t.options.iter().map(|o| o.option_type).collect();
        assert_eq!(kinds, [2, 1, 3, 1, 1, 8, 4, 0]);
        assert_eq!(t.padding, vec![0]);
    }

    #[test]
    fn vlan_tcp_capture() {
        let frames = decode_file("tcp-syn-retransmit-ooo-http-vlan.pcap");
        assert_eq!(frames.len(), 254);
        assert!(frames.iter().all(|(o, _)| *o == Outcome::Decoded));
        let (_, c) = &frames[0];
        assert_eq!(c.names(), ["Ethernet", "Dot1Q", "IPv4", "TCP"]);
        assert_eq!(c.one::<Ethernet>().src_mac, "00:50:56:01:12:70");
        assert_eq!(c.one::<Dot1Q>().vlan_identifier, 3136);
        let t = c.one::<Tcp>();
        assert_eq!(
            (t.src_port, t.dst_port, t.seq_num, t.syn),
            (33372, 80, 2_627_594_568, true)
        );
        // Frame 3 (the SYN-ACK) has no tag.
        assert_eq!(frames[2].1.names(), ["Ethernet", "IPv4", "TCP"]);
    }

    /// Prints the decoded fields of a capture as TSV, one line per frame, in
    /// the column order of `tshark -T fields -E occurrence=a -E aggregator=,
    /// -e frame.number -e eth.src -e eth.dst -e eth.type -e vlan.id ...` (see
    /// `cols` below), for a field-by-field comparison with tshark:
    /// `NETCAP_DUMP=/path/file.pcap cargo test -p netcap-decode dump -- --ignored --nocapture`.
    #[test]
    #[ignore = "manual comparison with tshark"]
    fn dump() {
        let Ok(name) = std::env::var("NETCAP_DUMP") else {
            return;
        };
        fn j<T: ToString>(v: impl IntoIterator<Item = T>) -> String {
            v.into_iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(",")
        }
        for (i, (out, c)) in decode_file(&name).iter().enumerate() {
            let eth = c.all::<Ethernet>();
            let vl = c.all::<Dot1Q>();
            let v4 = c.all::<IPv4>();
            let v6 = c.all::<IPv6>();
            let tcp = c.all::<Tcp>();
            let udp = c.all::<Udp>();
            let i4 = c.all::<IcmPv4>();
            let i6 = c.all::<IcmPv6>();
            let arp = c.all::<Arp>();
            let tcp_flags = |t: &Tcp| {
                [t.fin, t.syn, t.rst, t.psh, t.ack, t.urg, t.ece, t.cwr, t.ns]
                    .iter()
                    .enumerate()
                    .map(|(b, &f)| u32::from(f) << b)
                    .sum::<u32>()
            };
            let cols = [
                (i + 1).to_string(),
                j(eth.iter().map(|e| e.src_mac.clone())),
                j(eth.iter().map(|e| e.dst_mac.clone())),
                j(eth.iter().map(|e| e.ethernet_type)),
                j(vl.iter().map(|v| v.vlan_identifier)),
                j(vl.iter().map(|v| v.priority)),
                j(vl.iter().map(|v| u8::from(v.drop_eligible))),
                j(vl.iter().map(|v| v.r#type)),
                j(v4.iter().map(|r| r.src_ip.clone())),
                j(v4.iter().map(|r| r.dst_ip.clone())),
                j(v4.iter().map(|r| r.ihl * 4)),
                j(v4.iter().map(|r| r.tos)),
                j(v4.iter().map(|r| r.length)),
                j(v4.iter().map(|r| r.id)),
                j(v4.iter().map(|r| r.flags)),
                j(v4.iter().map(|r| r.frag_offset)),
                j(v4.iter().map(|r| r.ttl)),
                j(v4.iter().map(|r| r.protocol)),
                j(v4.iter().map(|r| r.checksum)),
                j(v4.iter()
                    .flat_map(|r| r.options.iter().map(|o| o.option_type))),
                j(v6.iter().map(|r| r.src_ip.clone())),
                j(v6.iter().map(|r| r.dst_ip.clone())),
                j(v6.iter().map(|r| r.traffic_class)),
                j(v6.iter().map(|r| r.flow_label)),
                j(v6.iter().map(|r| r.length)),
                j(v6.iter().map(|r| r.next_header)),
                j(v6.iter().map(|r| r.hop_limit)),
                j(tcp.iter().map(|t| t.src_port)),
                j(tcp.iter().map(|t| t.dst_port)),
                j(tcp.iter().map(|t| t.seq_num)),
                j(tcp.iter().map(|t| t.ack_num)),
                j(tcp.iter().map(|t| t.data_offset * 4)),
                j(tcp.iter().map(tcp_flags)),
                j(tcp.iter().map(|t| t.window)),
                j(tcp.iter().map(|t| t.checksum)),
                j(tcp.iter().map(|t| t.urgent)),
                j(tcp.iter().map(|t| t.payload_size)),
                j(tcp
                    .iter()
                    .flat_map(|t| t.options.iter().map(|o| o.option_type))),
                j(udp.iter().map(|u| u.src_port)),
                j(udp.iter().map(|u| u.dst_port)),
                j(udp.iter().map(|u| u.length)),
                j(udp.iter().map(|u| u.checksum)),
                j(i4.iter().map(|r| r.r#type)),
                j(i4.iter().map(|r| r.code)),
                j(i4.iter().map(|r| r.checksum)),
                j(i6.iter().map(|r| r.r#type)),
                j(i6.iter().map(|r| r.code)),
                j(i6.iter().map(|r| r.checksum)),
                j(arp.iter().map(|a| a.operation)),
                j(arp.iter().map(|a| a.src_hw_address.clone())),
                j(arp.iter().map(|a| a.src_prot_address.clone())),
                j(arp.iter().map(|a| a.dst_hw_address.clone())),
                j(arp.iter().map(|a| a.dst_prot_address.clone())),
                format!("{out:?}"),
            ];
            println!("{}", cols.join("\t"));
        }
    }
}
