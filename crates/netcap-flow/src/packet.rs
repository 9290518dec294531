//! What the flow table needs from a packet, read with the decoders' zero-copy views.

use std::net::IpAddr;

use netcap_decode::ethernet::{EthernetView, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use netcap_decode::ipv4::Ipv4View;
use netcap_decode::ipv6::Ipv6View;
use netcap_decode::link::{self, LinkNext};
use netcap_decode::tcp::TcpView;
use netcap_decode::udp::UdpView;
use netcap_decode::vlan::VlanView;

use crate::community::icmp_ports;

/// IP protocol numbers the flow table treats specially.
pub const PROTO_ICMP: u8 = 1;
/// TCP.
pub const PROTO_TCP: u8 = 6;
/// UDP.
pub const PROTO_UDP: u8 = 17;
/// ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;
/// SCTP.
pub const PROTO_SCTP: u8 = 132;

/// Most VLAN tags skipped before giving up (bounded loop on hostile input).
const MAX_VLAN_TAGS: usize = 8;

/// TCP header fields the statistics use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// Flag bits: FIN 0x001 … CWR 0x080, NS 0x100.
    pub flags: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Window field (unscaled).
    pub window: u16,
}

/// TCP flag bits as in [`TcpInfo::flags`].
pub mod flag {
    /// FIN.
    pub const FIN: u16 = 0x001;
    /// SYN.
    pub const SYN: u16 = 0x002;
    /// RST.
    pub const RST: u16 = 0x004;
    /// PSH.
    pub const PSH: u16 = 0x008;
    /// ACK.
    pub const ACK: u16 = 0x010;
    /// URG.
    pub const URG: u16 = 0x020;
    /// ECE.
    pub const ECE: u16 = 0x040;
    /// CWR.
    pub const CWR: u16 = 0x080;
    /// NS.
    pub const NS: u16 = 0x100;
    /// In the order of the records' flag counters.
    pub const ALL: [u16; 9] = [FIN, SYN, RST, PSH, ACK, URG, ECE, CWR, NS];
}

/// The network and transport part of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpInfo {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IP protocol of the transport (after IPv6 extension headers).
    pub proto: u8,
    /// Source port; for ICMP the message type (see [`icmp_ports`]); 0 when none.
    pub sport: u16,
    /// Destination port; for ICMP the paired type or the code.
    pub dport: u16,
    /// ICMP message without a reply type (Community ID's one-way flag).
    pub one_way: bool,
    /// Whether the protocol has ports (TCP, UDP, SCTP) or ICMP types in their place.
    pub has_ports: bool,
    /// Transport payload length on the wire.
    pub payload_len: u32,
    /// TCP header fields, for TCP segments whose header was captured.
    pub tcp: Option<TcpInfo>,
}

/// What the flow table needs from one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowPacket {
    /// 1-based packet number.
    pub number: u64,
    /// Capture time, nanoseconds.
    pub ts_ns: i64,
    /// Frame length on the wire.
    pub wire_len: u32,
    /// Link layer name.
    pub link: &'static str,
    /// Source and destination MAC (Ethernet only).
    pub macs: Option<([u8; 6], [u8; 6])>,
    /// Outermost VLAN identifier, 0 when untagged.
    pub vlan: u16,
    /// IP part, when the packet carries IPv4 or IPv6.
    pub ip: Option<IpInfo>,
    /// Application protocol the decoders found in this packet (set by the
    /// caller; `extract` leaves it `None`).
    pub app: Option<DecodedApp>,
}

/// Application protocols Netcap's decoders recognise, as a connection's
/// `ApplicationProto` names them (one byte in the connection state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodedApp {
    /// DNS, mDNS, LLMNR.
    Dns,
    /// DHCP for IPv4.
    Dhcp,
    /// DHCP for IPv6.
    Dhcpv6,
    /// NTP.
    Ntp,
    /// SIP.
    Sip,
    /// Modbus/TCP.
    Modbus,
}

impl DecodedApp {
    /// The application protocol of a record type, if it is one.
    pub fn of_type(t: netcap_schema::Type) -> Option<DecodedApp> {
        use netcap_schema::Type as T;
        Some(match t {
            T::NcDns => DecodedApp::Dns,
            T::NcDhcPv4 => DecodedApp::Dhcp,
            T::NcDhcPv6 => DecodedApp::Dhcpv6,
            T::NcNtp => DecodedApp::Ntp,
            T::NcSip => DecodedApp::Sip,
            T::NcModbus => DecodedApp::Modbus,
            _ => return None,
        })
    }

    /// The name written into records (as the port table names it).
    pub fn name(self) -> &'static str {
        match self {
            DecodedApp::Dns => "DNS",
            DecodedApp::Dhcp => "DHCP",
            DecodedApp::Dhcpv6 => "DHCPv6",
            DecodedApp::Ntp => "NTP",
            DecodedApp::Sip => "SIP",
            DecodedApp::Modbus => "Modbus",
        }
    }
}

fn link_name(link_type: u32) -> &'static str {
    match link_type {
        link::LINKTYPE_ETHERNET => "Ethernet",
        link::LINKTYPE_NULL | link::LINKTYPE_LOOP => "Null",
        link::LINKTYPE_LINUX_SLL => "LinuxSLL",
        link::LINKTYPE_LINUX_SLL2 => "LinuxSLL2",
        link::LINKTYPE_RAW
        | link::LINKTYPE_RAW_12
        | link::LINKTYPE_RAW_14
        | link::LINKTYPE_IPV4
        | link::LINKTYPE_IPV6 => "RawIP",
        _ => "Unknown",
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes(s.try_into().ok()?))
}

impl FlowPacket {
    /// Reads a packet; `None` only when not even the link layer is usable.
    pub fn extract(
        number: u64,
        ts_ns: i64,
        link_type: u32,
        orig_len: u32,
        data: &[u8],
    ) -> Option<FlowPacket> {
        let mut p = FlowPacket {
            app: None,
            number,
            ts_ns,
            wire_len: orig_len,
            link: link_name(link_type),
            macs: None,
            vlan: 0,
            ip: None,
        };
        let (mut ether_type, mut payload) = match link::classify(link_type, data).ok()? {
            LinkNext::Ethernet(frame) => {
                let eth = EthernetView::new(frame).ok()?;
                p.macs = Some((eth.src(), eth.dst()));
                (eth.ether_type(), eth.payload())
            }
            LinkNext::Network {
                ether_type,
                payload,
            } => (ether_type, payload),
            LinkNext::Ppp { frame, .. } => ppp_network(frame)?,
            // 802.11 flows need the data-frame addresses and LLC/SNAP: not yet.
            LinkNext::Dot11 { .. } | LinkNext::UnknownFamily(_) | LinkNext::Unsupported => {
                return None
            }
        };
        for _ in 0..MAX_VLAN_TAGS {
            if !matches!(ether_type, 0x8100 | 0x88a8 | 0x9100) {
                break;
            }
            let Ok(tag) = VlanView::new(payload) else {
                return Some(p);
            };
            if p.vlan == 0 {
                p.vlan = tag.vlan_id();
            }
            ether_type = tag.ether_type();
            payload = tag.payload();
        }
        p.ip = match ether_type {
            ETHERTYPE_IPV4 => ipv4(payload),
            ETHERTYPE_IPV6 => ipv6(payload),
            _ => None,
        };
        Some(p)
    }
}

fn ipv4(buf: &[u8]) -> Option<IpInfo> {
    let v = Ipv4View::new(buf).ok()?;
    let src = IpAddr::V4(v.src_addr());
    let dst = IpAddr::V4(v.dst_addr());
    if v.is_later_fragment() {
        // No transport header: the fragment counts in the portless flow of its
        // address pair and protocol (see docs/flows.md).
        return Some(portless(src, dst, v.protocol(), v.payload_size()));
    }
    Some(transport(
        src,
        dst,
        false,
        v.protocol(),
        v.payload(),
        v.payload_size(),
    ))
}

fn ipv6(buf: &[u8]) -> Option<IpInfo> {
    let v = Ipv6View::new(buf).ok()?;
    let src = IpAddr::V6(v.src_addr());
    let dst = IpAddr::V6(v.dst_addr());
    match v.extensions() {
        Ok(ext) if ext.later_fragment => {
            Some(portless(src, dst, ext.upper_protocol, ext.payload_size))
        }
        Ok(ext) => Some(transport(
            src,
            dst,
            true,
            ext.upper_protocol,
            ext.payload,
            ext.payload_size,
        )),
        Err(_) => Some(portless(
            src,
            dst,
            v.next_header(),
            usize::from(v.payload_len()),
        )),
    }
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn portless(src: IpAddr, dst: IpAddr, proto: u8, size: usize) -> IpInfo {
    IpInfo {
        src,
        dst,
        proto,
        sport: 0,
        dport: 0,
        one_way: false,
        has_ports: false,
        payload_len: clamp_u32(size),
        tcp: None,
    }
}

fn transport(src: IpAddr, dst: IpAddr, v6: bool, proto: u8, seg: &[u8], size: usize) -> IpInfo {
    let mut info = portless(src, dst, proto, size);
    match proto {
        PROTO_TCP => {
            if let Ok(t) = TcpView::new(seg) {
                let mut flags = 0u16;
                for (on, bit) in [
                    (t.fin(), flag::FIN),
                    (t.syn(), flag::SYN),
                    (t.rst(), flag::RST),
                    (t.psh(), flag::PSH),
                    (t.ack(), flag::ACK),
                    (t.urg(), flag::URG),
                    (t.ece(), flag::ECE),
                    (t.cwr(), flag::CWR),
                    (t.ns(), flag::NS),
                ] {
                    if on {
                        flags |= bit;
                    }
                }
                info.tcp = Some(TcpInfo {
                    flags,
                    seq: t.seq(),
                    ack: t.ack_num(),
                    window: t.window(),
                });
                info.payload_len = clamp_u32(size.saturating_sub(t.header_len()));
            } else {
                info.payload_len = 0;
            }
            set_ports(&mut info, seg);
        }
        PROTO_UDP => {
            if let Ok(u) = UdpView::new(seg) {
                info.payload_len = clamp_u32(size.saturating_sub(u.header_len()));
            } else {
                info.payload_len = 0;
            }
            set_ports(&mut info, seg);
        }
        PROTO_SCTP => {
            info.payload_len = clamp_u32(size.saturating_sub(12));
            set_ports(&mut info, seg);
        }
        PROTO_ICMP | PROTO_ICMPV6 if (proto == PROTO_ICMPV6) == v6 => {
            if let (Some(&ty), Some(&code)) = (seg.first(), seg.get(1)) {
                let (s, d, one_way) = icmp_ports(v6, ty, code);
                info.sport = s;
                info.dport = d;
                info.one_way = one_way;
                info.has_ports = true;
                info.payload_len = clamp_u32(size.saturating_sub(8));
            }
        }
        _ => {}
    }
    info
}

/// Ports from the first four bytes, even when the rest of the header is cut
/// off, so that a truncated segment stays in its connection.
fn set_ports(info: &mut IpInfo, seg: &[u8]) {
    if let (Some(s), Some(d)) = (be16(seg, 0), be16(seg, 2)) {
        info.sport = s;
        info.dport = d;
        info.has_ports = true;
    }
}

/// The network packet inside a PPP frame (optional HDLC address/control bytes,
/// one- or two-byte protocol field), as an EtherType and its bytes.
fn ppp_network(frame: &[u8]) -> Option<(u16, &[u8])> {
    let f = frame.strip_prefix(&[0xff, 0x03]).unwrap_or(frame);
    let (proto, rest) = match f.first() {
        // An odd first byte is a compressed one-byte protocol field.
        Some(&b) if b & 1 == 1 => (u16::from(b), f.get(1..)?),
        _ => (u16::from_be_bytes([*f.first()?, *f.get(1)?]), f.get(2..)?),
    };
    match proto {
        0x0021 => Some((0x0800, rest)),
        0x0057 => Some((0x86dd, rest)),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn ppp_protocols() {
        assert_eq!(
            ppp_network(&[0xff, 0x03, 0x00, 0x21, 0x45]),
            Some((0x0800, &[0x45][..]))
        );
        assert_eq!(ppp_network(&[0x57, 0x60]), Some((0x86dd, &[0x60][..])));
        assert_eq!(ppp_network(&[0xc0, 0x21, 1]), None);
        assert_eq!(ppp_network(&[0xff, 0x03, 0x00]), None);
        assert_eq!(ppp_network(&[]), None);
    }

    /// An Ethernet/IPv4/TCP frame with `payload` bytes of data.
    pub fn tcp_frame(
        src: [u8; 4],
        dst: [u8; 4],
        sp: u16,
        dp: u16,
        flags: u8,
        seq: u32,
        payload: usize,
    ) -> Vec<u8> {
        let mut f = vec![0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00];
        let total = (20 + 20 + payload) as u16;
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&sp.to_be_bytes());
        f.extend_from_slice(&dp.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&0u32.to_be_bytes());
        f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend(std::iter::repeat_n(0xaa, payload));
        f
    }

    /// An Ethernet/IPv4/UDP frame.
    pub fn udp_frame(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, payload: usize) -> Vec<u8> {
        let mut f = vec![0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00];
        let total = (20 + 8 + payload) as u16;
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0, 64, 17, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&sp.to_be_bytes());
        f.extend_from_slice(&dp.to_be_bytes());
        f.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend(std::iter::repeat_n(0xbb, payload));
        f
    }

    #[test]
    fn extracts_tcp() {
        let f = tcp_frame([10, 0, 0, 1], [10, 0, 0, 2], 1234, 80, 0x12, 7, 5);
        let p = FlowPacket::extract(3, 9, 1, f.len() as u32, &f).unwrap();
        assert_eq!(p.link, "Ethernet");
        assert_eq!(p.macs, Some(([0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 2])));
        let ip = p.ip.unwrap();
        assert_eq!(
            (ip.sport, ip.dport, ip.proto, ip.payload_len),
            (1234, 80, 6, 5)
        );
        let t = ip.tcp.unwrap();
        assert_eq!(t.flags, flag::SYN | flag::ACK);
        assert_eq!(t.seq, 7);
    }

    #[test]
    fn raw_ip_and_truncation_never_panic() {
        let f = udp_frame([10, 0, 0, 1], [10, 0, 0, 2], 53, 5353, 4);
        let p = FlowPacket::extract(1, 0, 101, 100, &f[14..]).unwrap();
        assert_eq!(p.link, "RawIP");
        assert_eq!(p.ip.unwrap().payload_len, 4);
        for n in 0..f.len() {
            let _ = FlowPacket::extract(1, 0, 1, n as u32, &f[..n]);
            let _ = FlowPacket::extract(1, 0, 101, n as u32, &f[14..n.max(14)]);
        }
        // Ports survive a cut right after them.
        let p = FlowPacket::extract(1, 0, 1, 100, &f[..14 + 20 + 4]).unwrap();
        assert_eq!(p.ip.unwrap().sport, 53);
    }
}
