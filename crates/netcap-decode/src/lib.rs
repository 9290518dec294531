//! Netcap's protocol decoders.
//!
//! Each protocol has its own module with a typed, zero-copy view over the packet
//! bytes (checked lengths, no `unsafe`, no panics on any input) and a function
//! that turns the view into its audit record. Decoders know nothing about output
//! formats: they hand records to a [`RecordSink`].
//!
//! The entry point is [`decode_packet`], which dispatches on the link type and
//! walks the layers (link → VLAN tags → network → transport → application);
//! a long-running worker uses a [`PacketDecoder`], which does the same and
//! reuses the memory of the records of the common layers from packet to packet.
#![forbid(unsafe_code)]

mod app;
pub mod arp;
pub mod cdp;
pub mod ctp;
pub mod defrag;
pub mod dhcpv4;
pub mod dhcpv6;
pub mod dns;
pub mod dot11;
pub mod eapol;
pub mod entropy;
pub mod ethernet;
pub mod flowkey;
pub mod geneve;
pub mod gre;
pub mod icmpv4;
pub mod icmpv6;
pub mod icmpv6nd;
pub mod igmp;
pub mod ipsec;
pub mod ipv4;
pub mod ipv6;
pub mod ipv6ext;
#[cfg(test)]
mod l3test;
pub mod link;
pub mod llc;
pub mod lldp;
pub mod modbus;
pub mod mpls;
pub mod ntp;
pub mod ospf;
pub mod ppp;
pub mod sctp;
pub mod sip;
pub mod tcp;
pub mod udp;
mod util;
pub mod vlan;
pub mod vrrp;
pub mod vxlan;
mod walk;

pub use flowkey::{flow_hash, FlowKey};
pub use walk::{decode_packet, decode_packet_defrag, decode_reassembled, Defragged, PacketDecoder};
/// Address and byte text in the notation of the records (shared with the flow records).
pub mod text {
    pub use crate::util::{
        colon_hex, colon_hex_into, hex, hex_into, ip_text, ipv4_text, ipv4_text_into,
    };
}

use netcap_schema::Record;

/// One captured packet as the decoders see it.
#[derive(Debug, Clone, Copy)]
pub struct PacketInfo<'a> {
    /// 1-based position of the packet in the input (tshark's `frame.number`).
    pub number: u64,
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// Link type of the interface the packet was captured on (LINKTYPE_* value).
    pub link_type: u32,
    /// Length of the packet on the wire (may exceed `data.len()` with a snap length).
    pub orig_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

/// Options that change what decoders compute.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeOptions {
    /// Compute `PayloadEntropy` (a pass over every payload).
    pub entropy: bool,
    /// TCP streams are reassembled and parsed elsewhere (the stream layer):
    /// do not decode DNS from single TCP segments, which would write its
    /// messages twice.
    pub tcp_streams: bool,
}

/// A TCP segment or UDP datagram the walk reached, at any depth (inside
/// tunnels too) and in reassembled IP datagrams: what connection tracking
/// and the stream layer need.
#[derive(Debug, Clone, Copy)]
pub struct TransportSegment<'a> {
    /// IP protocol: 6 (TCP) or 17 (UDP).
    pub proto: u8,
    /// Source address of the IP header that carries the segment.
    pub src: std::net::IpAddr,
    /// Destination address.
    pub dst: std::net::IpAddr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number (TCP; 0 for UDP).
    pub seq: u32,
    /// Acknowledgment number (TCP).
    pub ack: u32,
    /// TCP flags: FIN 0x001, SYN 0x002, RST 0x004, PSH 0x008, ACK 0x010, URG
    /// 0x020, ECE 0x040, CWR 0x080, NS 0x100.
    pub flags: u16,
    /// Window field.
    pub window: u16,
    /// Captured payload.
    pub payload: &'a [u8],
    /// Payload length on the wire (more than `payload.len()` when a snap
    /// length cut the packet).
    pub wire_len: u32,
    /// IP headers outside the one carrying the segment (0: outermost).
    pub depth: usize,
}

/// Where decoders put their records.
pub trait RecordSink {
    /// Accepts one record of packet `packet`.
    fn emit<R: Record>(&mut self, rec: &R);

    /// Sees a TCP segment or UDP datagram (called after its record is
    /// emitted). The default ignores it.
    fn transport_segment(&mut self, seg: &TransportSegment<'_>) {
        let _ = seg;
    }
}

/// How far decoding of one packet got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Every layer was decoded (any remaining bytes are an application payload).
    Decoded,
    /// A layer that Netcap does not decode was reached; the layers before it were decoded.
    Unknown(UnknownLayer),
    /// A layer failed to decode; the layers before it were decoded.
    Error(DecodeError),
}

/// A layer that no decoder handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnknownLayer {
    /// A link type without a decoder.
    LinkType(u32),
    /// An EtherType without a decoder.
    EtherType(u16),
    /// An IP protocol number without a decoder.
    IpProtocol(u8),
    /// A PPP protocol number without a decoder.
    PppProtocol(u16),
    /// An LLC destination SAP without a decoder (the whole DSAP byte).
    LlcSap(u8),
    /// A SNAP organisation code and protocol identifier without a decoder.
    SnapProtocol(u32, u16),
}

impl std::fmt::Display for UnknownLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnknownLayer::LinkType(v) => write!(f, "link type {v}"),
            // Values below 0x0600 are 802.3 lengths: aggregate them.
            UnknownLayer::EtherType(v) if *v < 0x0600 => write!(f, "802.3 frame (LLC)"),
            UnknownLayer::EtherType(v) => write!(f, "EtherType 0x{v:04x}"),
            UnknownLayer::IpProtocol(v) => write!(f, "IP protocol {v}"),
            UnknownLayer::PppProtocol(v) => write!(f, "PPP protocol 0x{v:04x}"),
            UnknownLayer::LlcSap(v) => write!(f, "LLC SAP 0x{v:02x}"),
            UnknownLayer::SnapProtocol(oui, pid) => {
                write!(f, "SNAP OUI {oui:06x} protocol 0x{pid:04x}")
            }
        }
    }
}

/// Why a layer could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DecodeError {
    /// The captured bytes end before the layer's header does.
    #[error("{layer}: truncated header ({have} of {need} bytes)")]
    Truncated {
        /// Record type name of the layer.
        layer: &'static str,
        /// Bytes required.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// A header field holds a value that makes the header unusable.
    #[error("{layer}: invalid {field}")]
    Invalid {
        /// Record type name of the layer.
        layer: &'static str,
        /// Which field is wrong.
        field: &'static str,
    },
}

impl DecodeError {
    /// Record type name of the layer that failed.
    pub fn layer(&self) -> &'static str {
        match self {
            DecodeError::Truncated { layer, .. } | DecodeError::Invalid { layer, .. } => layer,
        }
    }
}

/// Checks that `data` holds at least `need` bytes for `layer`.
pub(crate) fn need(layer: &'static str, data: &[u8], need: usize) -> Result<(), DecodeError> {
    if data.len() < need {
        Err(DecodeError::Truncated {
            layer,
            need,
            have: data.len(),
        })
    } else {
        Ok(())
    }
}
