//! The layer walk through link types other than Ethernet (PPP, 802.11), LLC
//! and SNAP, and tunnels (GRE, VXLAN, Geneve, MPLS, PPPoE, IPsec). Inner
//! layers get records of their own, exactly like outer ones.

use super::{Walker, MAX_IP_DEPTH};
use crate::ethernet::{ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use crate::ipv6::{Extensions, EXT_AH};
use crate::{dot11, geneve, gre, ipsec, ipv6ext, llc, mpls, ppp, udp, vxlan};
use crate::{DecodeError, Outcome, RecordSink, UnknownLayer};
use netcap_schema::IPv6;

/// Most encapsulations (GRE, VXLAN, Geneve, MPLS stacks, PPPoE, AH) entered in
/// one packet: each level may hold a whole new stack of layers, so this bounds
/// the records of a packet and the walk's recursion.
pub const MAX_TUNNELS: usize = 8;

/// IP protocol numbers of this module.
const PROTO_GRE: u8 = 47;
const PROTO_ESP: u8 = 50;
const PROTO_AH: u8 = 51;

/// EtherTypes of this module.
const ETHERTYPE_TEB: u16 = 0x6558;
const ETHERTYPE_PPP: u16 = 0x880b;
const ETHERTYPE_MPLS: u16 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;

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
    /// Counts one more encapsulation of `layer`; past [`MAX_TUNNELS`] the walk
    /// ends with an error.
    fn enter(&mut self, layer: &'static str) -> Result<(), Outcome> {
        if self.tunnels >= MAX_TUNNELS {
            return Err(Outcome::Error(DecodeError::Invalid {
                layer,
                field: "nesting depth",
            }));
        }
        self.tunnels += 1;
        Ok(())
    }

    /// EtherTypes handled here (tunnels and PPP); others are unknown.
    pub(super) fn ether_type_more(&mut self, ether_type: u16, data: &[u8]) -> Outcome {
        match ether_type {
            t if t < 0x0600 => self.llc(data),
            ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => self.mpls(data),
            ppp::ETHERTYPE_PPPOE_DISCOVERY | ppp::ETHERTYPE_PPPOE_SESSION => {
                self.pppoe(ether_type, data)
            }
            ETHERTYPE_TEB => match self.enter("Ethernet") {
                Ok(()) => self.ethernet(data),
                Err(o) => o,
            },
            ETHERTYPE_PPP => self.ppp(data, false),
            other => Outcome::Unknown(UnknownLayer::EtherType(other)),
        }
    }

    /// An 802.2 LLC header, then SNAP when both SAPs are 0xAA.
    pub(super) fn llc(&mut self, data: &[u8]) -> Outcome {
        let view = view_or_return!(llc::LlcView::new(data));
        self.sink.emit(&llc::llc_record(&view, self.pkt));
        if !view.has_snap() {
            return Outcome::Unknown(UnknownLayer::LlcSap(view.dsap_byte()));
        }
        let snap = view_or_return!(llc::SnapView::new(view.payload()));
        self.sink.emit(&llc::snap_record(&snap, self.pkt));
        match snap.ether_type() {
            Some(t) if t >= 0x0600 => self.ether_type(t, snap.payload()),
            // Cisco's organisation code with protocol 0x2000: CDP.
            _ if snap.oui_u32() == 0x0000_000c && snap.protocol() == 0x2000 => {
                crate::cdp::decode(snap.payload(), self.pkt, self.sink)
            }
            _ => Outcome::Unknown(UnknownLayer::SnapProtocol(snap.oui_u32(), snap.protocol())),
        }
    }

    /// A PPP frame (link type, PPPoE session, GRE).
    pub(super) fn ppp(&mut self, data: &[u8], hdlc: bool) -> Outcome {
        let view = view_or_return!(ppp::PppView::new(data, hdlc));
        self.sink.emit(&ppp::ppp_record(&view, self.pkt));
        match view.protocol() {
            ppp::PPP_IPV4 => self.ipv4(view.payload(), 0),
            ppp::PPP_IPV6 => self.ipv6(view.payload(), 0),
            ppp::PPP_MPLS_UNICAST | ppp::PPP_MPLS_MULTICAST => self.mpls(view.payload()),
            other => Outcome::Unknown(UnknownLayer::PppProtocol(other)),
        }
    }

    /// A PPPoE header; session frames carry PPP without address and control.
    fn pppoe(&mut self, ether_type: u16, data: &[u8]) -> Outcome {
        let view = view_or_return!(ppp::PppoeView::new(data));
        self.sink.emit(&ppp::pppoe_record(&view, self.pkt));
        if ether_type == ppp::ETHERTYPE_PPPOE_DISCOVERY {
            return Outcome::Decoded;
        }
        if let Err(o) = self.enter("PPPoE") {
            return o;
        }
        self.ppp(view.payload(), false)
    }

    /// An MPLS label stack; after the bottom label the first nibble tells
    /// IPv4 from IPv6 (MPLS does not say what it carries).
    fn mpls(&mut self, mut data: &[u8]) -> Outcome {
        if let Err(o) = self.enter("MPLS") {
            return o;
        }
        for _ in 0..mpls::MAX_LABELS {
            let view = view_or_return!(mpls::MplsView::new(data));
            self.sink.emit(&mpls::record(&view, self.pkt));
            data = view.payload();
            if view.bottom() {
                return match data.first().map(|b| b >> 4) {
                    Some(4) => self.ipv4(data, 0),
                    Some(6) => self.ipv6(data, 0),
                    _ => Outcome::Unknown(UnknownLayer::EtherType(ETHERTYPE_MPLS)),
                };
            }
        }
        Outcome::Unknown(UnknownLayer::EtherType(ETHERTYPE_MPLS))
    }

    /// An 802.11 frame, after its radiotap header when `radiotap`.
    pub(super) fn dot11(&mut self, data: &[u8], radiotap: bool) -> Outcome {
        let (frame, fcs) = if radiotap {
            let rt = view_or_return!(dot11::RadioTapView::new(data));
            self.sink.emit(&dot11::radiotap_record(&rt, self.pkt));
            (
                rt.payload(),
                rt.fields().flags & dot11::RADIOTAP_FLAG_FCS != 0,
            )
        } else {
            (data, false)
        };
        let view = view_or_return!(dot11::Dot11View::new(frame, fcs));
        self.sink.emit(&dot11::record(&view, self.pkt));
        match view.llc_body() {
            Some(body) => self.llc(body),
            // Management and control frames, encrypted or empty data frames:
            // nothing more that Netcap decodes.
            None => Outcome::Decoded,
        }
    }

    /// IP protocols handled here: GRE, ESP and AH over IPv4.
    pub(super) fn ip_more(
        &mut self,
        protocol: u8,
        data: &[u8],
        wire_len: usize,
        depth: usize,
    ) -> Outcome {
        match protocol {
            PROTO_GRE => {
                let view = view_or_return!(gre::GreView::new(data));
                self.sink.emit(&gre::record(&view, self.pkt));
                if let Err(o) = self.enter("GRE") {
                    return o;
                }
                match view.protocol() {
                    ETHERTYPE_IPV4 if depth < MAX_IP_DEPTH => self.ipv4(view.payload(), depth),
                    ETHERTYPE_IPV6 if depth < MAX_IP_DEPTH => self.ipv6(view.payload(), depth),
                    // Below 0x0600 it is no EtherType (and no 802.3 length).
                    t if t < 0x0600 => Outcome::Unknown(UnknownLayer::EtherType(t)),
                    t => self.ether_type(t, view.payload()),
                }
            }
            PROTO_ESP => {
                let view = view_or_return!(ipsec::EspView::new(data));
                self.sink
                    .emit(&ipsec::esp_record(&view, wire_len, self.pkt));
                Outcome::Decoded
            }
            PROTO_AH => {
                let view = view_or_return!(ipsec::AhView::new(data));
                self.sink.emit(&ipsec::ah_record(&view, self.pkt));
                if let Err(o) = self.enter("IPSecAH") {
                    return o;
                }
                self.ip_payload(
                    view.next_header(),
                    view.payload(),
                    wire_len.saturating_sub(view.header_len()),
                    depth,
                )
            }
            other => Outcome::Unknown(UnknownLayer::IpProtocol(other)),
        }
    }

    /// VXLAN or Geneve in a UDP datagram, by port (destination first); `None`
    /// when the datagram is neither.
    pub(super) fn udp_tunnel(&mut self, view: &udp::UdpView<'_>) -> Option<Outcome> {
        let ports = [view.dst_port(), view.src_port()];
        if ports.contains(&vxlan::UDP_PORT) {
            let vx = match vxlan::VxlanView::new(view.payload()) {
                Ok(v) => v,
                Err(e) => return Some(Outcome::Error(e)),
            };
            self.sink.emit(&vxlan::record(&vx, self.pkt));
            return Some(match self.enter("VXLAN") {
                Ok(()) => self.ethernet(vx.payload()),
                Err(o) => o,
            });
        }
        if ports.contains(&geneve::UDP_PORT) {
            let gv = match geneve::GeneveView::new(view.payload()) {
                Ok(v) => v,
                Err(e) => return Some(Outcome::Error(e)),
            };
            self.sink.emit(&geneve::record(&gv, self.pkt));
            return Some(match self.enter("Geneve") {
                Ok(()) => match gv.protocol() {
                    ETHERTYPE_TEB => self.ethernet(gv.payload()),
                    t if t < 0x0600 => Outcome::Unknown(UnknownLayer::EtherType(t)),
                    t => self.ether_type(t, gv.payload()),
                },
                Err(o) => o,
            });
        }
        None
    }

    /// Records of single IPv6 extension headers: hop-by-hop options (the one
    /// the IPv6 record holds), fragment, and authentication headers.
    pub(super) fn ipv6_extension_records(&mut self, rec: &IPv6, ext: &Extensions<'_>) {
        if let Some(h) = &rec.hop_by_hop {
            self.sink.emit(h);
        }
        for h in &ext.headers {
            if let Some(f) = ipv6ext::fragment_record(h, self.pkt) {
                self.sink.emit(&f);
            } else if h.kind() == EXT_AH {
                if let Ok(ah) = ipsec::AhView::new(h.raw()) {
                    self.sink.emit(&ipsec::ah_record(&ah, self.pkt));
                }
            }
        }
    }
}
