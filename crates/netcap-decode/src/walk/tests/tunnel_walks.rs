//! Walks through link types other than Ethernet, LLC/SNAP and tunnels: real
//! captures (expected values from tshark) and hand-made frames.

use super::*;
use crate::walk::tunnels::MAX_TUNNELS;
use netcap_schema::{
    Dot11, Geneve, Gre, IPv6Fragment, IpSecAh, IpSecEsp, Llc, Mpls, PpPoE, Ppp, RadioTap, Snap,
    Vxlan,
};

#[test]
fn vxlan_capture() {
    let frames = decode_file("vxlan-dns-ntp-ssh.pcap");
    let (out, c) = &frames[0];
    assert_eq!(*out, Outcome::Decoded);
    assert_eq!(
        c.names(),
        ["Ethernet", "IPv4", "UDP", "VXLAN", "Ethernet", "IPv4", "UDP", "NTP"]
    );
    let v = c.one::<Vxlan>();
    assert_eq!((v.flags, v.vni, v.valid_id_flag), (0x0800, 5_569_041, true));
    let ips = c.all::<IPv4>();
    assert_eq!(ips[1].src_ip, "172.31.0.238");
    assert!(frames.iter().all(|(o, _)| *o == Outcome::Decoded));
}

#[test]
fn geneve_capture() {
    let frames = decode_file("geneve.pcap");
    let (out, c) = &frames[0];
    assert_eq!(*out, Outcome::Decoded);
    assert_eq!(
        &c.names()[..6],
        ["Ethernet", "IPv4", "UDP", "Geneve", "Ethernet", "IPv4"]
    );
    let g = c.one::<Geneve>();
    assert_eq!((g.version, g.protocol, g.vni), (0, 0x6558, 10));
    assert_eq!(g.options.len(), 1);
    assert_eq!((g.options[0].class, g.options[0].length), (0, 4));
    assert_eq!(frames[1].1.one::<Geneve>().vni, 11);
}

#[test]
fn mpls_over_ppp_capture() {
    let frames = decode_file("mpls-traceroute-ppp.pcap");
    let (out, c) = &frames[0];
    assert_eq!(*out, Outcome::Decoded);
    assert_eq!(c.names(), ["PPP", "MPLS", "IPv4", "UDP"]);
    let p = c.one::<Ppp>();
    assert_eq!((p.address, p.control, p.protocol), (0xff, 3, 0x0281));
    let m = c.one::<Mpls>();
    assert_eq!(
        (m.mpls_label, m.traffic_class, m.stack_bottom, m.ttl),
        (100_704, 0, true, 1)
    );
    assert_eq!(c.one::<IPv4>().src_ip, "12.4.4.4");
    // The replies are plain IPv4 over PPP.
    assert_eq!(frames[1].1.names(), ["PPP", "IPv4", "ICMPv4"]);
}

#[test]
fn pppoe_and_gre_ppp_captures() {
    let frames = decode_file("pppoe-session.pcap");
    let (out, c) = &frames[0];
    assert_eq!(*out, Outcome::Unknown(UnknownLayer::PppProtocol(0xc021)));
    assert_eq!(c.names(), ["Ethernet", "PPPoE", "PPP"]);
    let e = c.one::<PpPoE>();
    assert_eq!(
        (e.version, e.r#type, e.code, e.session_id, e.length),
        (1, 1, 0, 0x17, 14)
    );

    let frames = decode_file("ipv4-frag-gre-ppp-udp.pcap");
    let (out, c) = &frames[0];
    assert_eq!(*out, Outcome::Decoded);
    assert_eq!(c.names(), ["Ethernet", "IPv4", "GRE", "PPP", "IPv4", "UDP"]);
    let g = c.one::<Gre>();
    assert_eq!((g.flags_and_version, g.protocol), (0, 0x880b));
    assert_eq!(c.one::<Ppp>().protocol, 0x21);
    assert_eq!(c.one::<Udp>().src_port, 11111);
    // Later fragments of the inner packet: no UDP.
    assert_eq!(
        frames[1].1.names(),
        ["Ethernet", "IPv4", "GRE", "PPP", "IPv4"]
    );
}

#[test]
fn llc_snap_and_gre_captures() {
    let frames = decode_file("lldp-cdp.pcap");
    let (out, c) = &frames[0];
    // CDP (Cisco's organisation code, protocol 0x2000) after LLC/SNAP.
    assert_eq!(*out, Outcome::Decoded);
    assert_eq!(
        c.names(),
        [
            "Ethernet",
            "LLC",
            "SNAP",
            "CiscoDiscovery",
            "CiscoDiscoveryInfo"
        ]
    );
    let l = c.one::<Llc>();
    assert_eq!(
        (l.dsap, l.ig, l.ssap, l.cr, l.control),
        (0xaa, false, 0xaa, false, 3)
    );
    let s = c.one::<Snap>();
    assert_eq!(
        (s.organizational_code, s.r#type),
        (vec![0, 0, 0x0c], 0x2000)
    );

    let frames = decode_file("gre-various-encaps.pcap");
    // Spanning tree over 802.3.
    let (out, c) = &frames[2];
    assert_eq!(*out, Outcome::Unknown(UnknownLayer::LlcSap(0x42)));
    assert_eq!(c.names(), ["Ethernet", "LLC"]);
    // GRE with a key, carrying Cisco metadata (not decoded).
    let (out, c) = &frames[24];
    assert_eq!(*out, Outcome::Unknown(UnknownLayer::EtherType(0x8909)));
    assert_eq!(c.names(), ["Ethernet", "Dot1Q", "IPv4", "GRE"]);
    let g = c.one::<Gre>();
    assert_eq!((g.key_present, g.key, g.protocol), (true, 0x28, 0x8909));
}

#[test]
fn ipsec_and_ipv6_fragment_captures() {
    let frames = decode_file("ipsec-esp.pcap");
    let (out, c) = &frames[1];
    assert_eq!(*out, Outcome::Decoded);
    assert_eq!(c.names(), ["Ethernet", "IPv4", "IPSecESP"]);
    let e = c.one::<IpSecEsp>();
    assert_eq!((e.spi, e.seq), (0x1234_5678, 2));

    let frames = decode_file("ospfv3-ipsec-ah.pcap");
    let (out, c) = &frames[0];
    assert_eq!(*out, Outcome::Decoded);
    assert_eq!(c.names(), ["Ethernet", "IPv6", "IPSecAH", "OSPFv3"]);
    let a = c.one::<IpSecAh>();
    assert_eq!((a.next_header, a.length, a.spi, a.seq), (89, 4, 0x100, 19));
    assert_eq!(
        a.authentication_data,
        [0x21, 0xd3, 0xa9, 0x5c, 0x5f, 0xfd, 0x4d, 0x18, 0x46, 0x22, 0xb9, 0xf8]
    );

    let frames = decode_file("ipv6-frag-hbh-icmpv6-nd-ra-mld.pcap");
    let with_frag: Vec<_> = frames
        .iter()
        .filter(|(_, c)| c.names().contains(&"IPv6Fragment"))
        .collect();
    assert_eq!(with_frag.len(), 54);
    let f = with_frag[0].1.one::<IPv6Fragment>();
    assert_eq!(f.next_header, 58);
}

#[test]
fn radiotap_capture() {
    let frames = decode_file("wlan-radiotap-mgmt.pcap");
    assert!(frames.iter().all(|(o, _)| *o == Outcome::Decoded));
    let (_, c) = &frames[0];
    assert_eq!(c.names(), ["RadioTap", "Dot11"]);
    let r = c.one::<RadioTap>();
    assert_eq!(
        (r.length, r.present, r.flags, r.channel_frequency),
        (89, 0x8000_486f, 0x10, 2412)
    );
    assert_eq!((r.dbm_antenna_signal, r.antenna), (-22, 1));
    let d = c.one::<Dot11>();
    assert_eq!((d.r#type, d.flags, d.duration_id), (4, 0, 0));
    assert_eq!(
        (d.address1.as_str(), d.address2.as_str()),
        ("ff:ff:ff:ff:ff:ff", "90:a4:de:c0:46:11")
    );
    assert_eq!((d.sequence_number, d.checksum), (1, 0x881c_ae07));
    // An ACK: one address, no sequence control.
    let d = frames[1].1.one::<Dot11>();
    assert_eq!((d.r#type, d.address2.as_str()), (0x1d, ""));
}

/// A GRE header with a key and a sequence number before `inner`.
fn gre_hdr(proto: u16, inner: &[u8]) -> Vec<u8> {
    let mut b = vec![0x30, 0x00];
    b.extend_from_slice(&proto.to_be_bytes());
    b.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 1]);
    b.extend_from_slice(inner);
    b
}

/// A UDP datagram to `port` carrying `payload`.
fn udp_to(port: u16, payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0x30, 0x39];
    b.extend_from_slice(&port.to_be_bytes());
    b.extend_from_slice(&u16::try_from(payload.len() + 8).unwrap().to_be_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(payload);
    b
}

/// An 802.11 data frame from the DS with an LLC/SNAP header and `ether_type`.
fn wlan_data(flags: u8, ether_type: u16, body: &[u8]) -> Vec<u8> {
    let mut b = vec![0x08, 0x02 | flags, 0x2c, 0];
    for a in 1..=3u8 {
        b.extend_from_slice(&[a; 6]);
    }
    b.extend_from_slice(&[0x10, 0]);
    b.extend_from_slice(&[0xaa, 0xaa, 3, 0, 0, 0]);
    b.extend_from_slice(&ether_type.to_be_bytes());
    b.extend_from_slice(body);
    b
}

fn arp_body() -> Vec<u8> {
    vec![
        0, 1, 8, 0, 6, 4, 0, 1, 1, 2, 3, 4, 5, 6, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2,
    ]
}

#[test]
fn hand_made_tunnels() {
    let udp = [0, 1, 0, 2, 0, 8, 0, 0];
    // GRE with key and sequence number carrying IPv4.
    let (out, c) = frame(
        228,
        &ipv4(47, 0, &[], &gre_hdr(0x0800, &ipv4(17, 0, &[], &udp))),
    );
    assert_eq!(
        (out, c.names()),
        (Outcome::Decoded, vec!["IPv4", "GRE", "IPv4", "UDP"])
    );
    let g = c.one::<Gre>();
    assert_eq!((g.key, g.seq, g.flags_and_version), (7, 1, 0x3000));
    // Transparent Ethernet bridging over GRE: an inner Ethernet frame.
    let mut inner = eth(0x0806);
    inner.extend(arp_body());
    let (out, c) = frame(228, &ipv4(47, 0, &[], &gre_hdr(0x6558, &inner)));
    assert_eq!(
        (out, c.names()),
        (Outcome::Decoded, vec!["IPv4", "GRE", "Ethernet", "ARP"])
    );
    // GRE with a protocol below 0x0600 is not 802.3.
    let (out, _) = frame(228, &ipv4(47, 0, &[], &gre_hdr(0x0001, &[0; 8])));
    assert_eq!(out, Outcome::Unknown(UnknownLayer::EtherType(1)));
    // Authentication header in IPv4, then TCP.
    let mut ah = vec![6, 4, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1];
    ah.extend_from_slice(&[0x11; 12]);
    ah.extend(tcp_seg(b"x"));
    let (out, c) = frame(228, &ipv4(51, 0, &[], &ah));
    assert_eq!(
        (out, c.names()),
        (Outcome::Decoded, vec!["IPv4", "IPSecAH", "TCP"])
    );
    assert_eq!(c.one::<Tcp>().payload_size, 1);
    // ESP: the walk ends there.
    let (out, c) = frame(
        228,
        &ipv4(50, 0, &[], &[0, 0, 1, 0, 0, 0, 0, 5, 9, 9, 9, 9]),
    );
    assert_eq!(
        (out, c.names()),
        (Outcome::Decoded, vec!["IPv4", "IPSecESP"])
    );
    assert_eq!(c.one::<IpSecEsp>().len_encrypted, 4);
    // Two MPLS labels, then IPv6 guessed from the first nibble.
    let mut b = eth(0x8847);
    b.extend_from_slice(&[0, 0x01, 0x00, 0x40, 0, 0x02, 0x01, 0x3f]);
    let mut v6 = ipv6_chain(0);
    v6[6] = 59;
    b.extend(v6);
    let (out, c) = frame(1, &b);
    assert_eq!(
        (out, c.names()),
        (Outcome::Decoded, vec!["Ethernet", "MPLS", "MPLS", "IPv6"])
    );
    let labels: Vec<_> = c
        .all::<Mpls>()
        .iter()
        .map(|m| (m.mpls_label, m.stack_bottom))
        .collect();
    assert_eq!(labels, [(16, false), (32, true)]);
    // MPLS carrying something that is not IP.
    let mut b = eth(0x8847);
    b.extend_from_slice(&[0, 0x01, 0x01, 0x40, 0, 0, 0, 0]);
    assert_eq!(
        frame(1, &b).0,
        Outcome::Unknown(UnknownLayer::EtherType(0x8847))
    );
    // Geneve with an IPv4 payload directly.
    let mut gv = vec![0, 0, 0x08, 0x00, 0, 0, 5, 0];
    gv.extend(ipv4(17, 0, &[], &udp));
    let (out, c) = frame(228, &ipv4(17, 0, &[], &udp_to(6081, &gv)));
    assert_eq!(
        (out, c.names()),
        (
            Outcome::Decoded,
            vec!["IPv4", "UDP", "Geneve", "IPv4", "UDP"]
        )
    );
    // PPPoE discovery: header only.
    let mut b = eth(0x8863);
    b.extend_from_slice(&[0x11, 0x09, 0, 0, 0, 0]);
    let (out, c) = frame(1, &b);
    assert_eq!(
        (out, c.names()),
        (Outcome::Decoded, vec!["Ethernet", "PPPoE"])
    );
    // PPP in HDLC framing (link type 50) carrying IPv6.
    let mut b = vec![0xff, 0x03, 0x00, 0x57];
    let mut v6 = ipv6_chain(0);
    v6[6] = 59;
    b.extend(v6);
    let (out, c) = frame(50, &b);
    assert_eq!((out, c.names()), (Outcome::Decoded, vec!["PPP", "IPv6"]));
}

#[test]
fn hand_made_802_11() {
    // Data frame → LLC/SNAP → ARP (link type 105, no radiotap, no FCS).
    let (out, c) = frame(105, &wlan_data(0, 0x0806, &arp_body()));
    assert_eq!(
        (out, c.names()),
        (Outcome::Decoded, vec!["Dot11", "LLC", "SNAP", "ARP"])
    );
    let d = c.one::<Dot11>();
    assert_eq!(
        (d.r#type, d.flags, d.duration_id, d.sequence_number),
        (0x20, 2, 44, 1)
    );
    assert_eq!(c.one::<Snap>().r#type, 0x0806);
    // Protected: only the MAC header.
    let (out, c) = frame(105, &wlan_data(0x40, 0x0806, &arp_body()));
    assert_eq!((out, c.names()), (Outcome::Decoded, vec!["Dot11"]));
    // Radiotap with the FCS flag: the last 4 bytes are not the body's.
    let mut b = vec![0, 0, 9, 0, 0x02, 0, 0, 0, 0x10];
    b.extend(wlan_data(
        0,
        0x0800,
        &ipv4(17, 0, &[], &[0, 1, 0, 2, 0, 8, 0, 0]),
    ));
    b.extend_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
    let (out, c) = frame(127, &b);
    assert_eq!(
        (out, c.names()),
        (
            Outcome::Decoded,
            vec!["RadioTap", "Dot11", "LLC", "SNAP", "IPv4", "UDP"]
        )
    );
    assert_eq!(c.one::<RadioTap>().flags, 0x10);
    assert_eq!(c.one::<Dot11>().checksum, 0xddcc_bbaa);
}

#[test]
fn nesting_is_bounded() {
    // VXLAN in VXLAN in ...: each level is a fresh Ethernet/IPv4/UDP stack, so
    // only the tunnel limit stops it.
    let mut p = eth(0x0806);
    p.extend(arp_body());
    for _ in 0..20 {
        let mut vx = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
        vx.extend(p);
        let mut outer = eth(0x0800);
        outer.extend(ipv4(17, 0, &[], &udp_to(4789, &vx)));
        p = outer;
    }
    let (out, c) = frame(1, &p);
    assert_eq!(
        out,
        Outcome::Error(DecodeError::Invalid {
            layer: "VXLAN",
            field: "nesting depth"
        })
    );
    assert_eq!(c.all::<Vxlan>().len(), MAX_TUNNELS + 1);
    // AH after AH after ...: bounded the same way.
    let mut p = tcp_seg(b"");
    for i in 0..20 {
        let next = if i == 0 { 6 } else { 51 };
        let mut ah = vec![next, 1, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1];
        ah.extend(p);
        p = ah;
    }
    let (out, c) = frame(228, &ipv4(51, 0, &[], &p));
    assert!(matches!(
        out,
        Outcome::Error(DecodeError::Invalid {
            layer: "IPSecAH",
            ..
        })
    ));
    assert_eq!(c.all::<IpSecAh>().len(), MAX_TUNNELS + 1);
}

#[test]
fn every_truncation_of_tunnel_frames() {
    let mut a = eth(0x0800);
    a.extend(ipv4(
        47,
        0,
        &[],
        &gre_hdr(0x86dd, &{
            let mut v6 = ipv6_chain(0);
            v6[6] = 59;
            v6[4..6].copy_from_slice(&0u16.to_be_bytes());
            v6.truncate(40);
            v6
        }),
    ));
    sweep(
        1,
        &a,
        &[("Ethernet", 14), ("IPv4", 34), ("GRE", 46), ("IPv6", 86)],
    );

    let b = wlan_data(0, 0x0800, &ipv4(17, 0, &[], &[0, 1, 0, 2, 0, 8, 0, 0]));
    sweep(
        105,
        &b,
        &[
            ("Dot11", 24),
            ("LLC", 27),
            ("SNAP", 32),
            ("IPv4", 52),
            ("UDP", 60),
        ],
    );

    let mut c = vec![0x00, 0x21];
    c.extend(ipv4(17, 0, &[], &[0, 1, 0, 2, 0, 8, 0, 0]));
    sweep(9, &c, &[("PPP", 2), ("IPv4", 22), ("UDP", 30)]);
}

#[test]
fn mutated_tunnel_frames_never_panic() {
    let mut seeds = Vec::new();
    seeds.push(ipv4(
        47,
        0,
        &[],
        &gre_hdr(0x0800, &ipv4(17, 0, &[], &[0, 1, 0, 2, 0, 8, 0, 0])),
    ));
    let mut gv = vec![0x01, 0xc0, 0x65, 0x58, 0, 0, 5, 0, 0, 1, 2, 1, 9, 9, 9, 9];
    gv.extend(eth(0x8847));
    gv.extend_from_slice(&[0, 0x01, 0x01, 0x40]);
    gv.extend(ipv4(
        51,
        0,
        &[],
        &[6, 1, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 1, 2, 3, 4],
    ));
    seeds.push(ipv4(17, 0, &[], &udp_to(6081, &gv)));
    seeds.push(wlan_data(
        0,
        0x8864,
        &[0x11, 0, 0, 1, 0, 4, 0x00, 0x21, 0x45, 0],
    ));
    let mut rt = vec![0, 0, 12, 0, 0x0e, 0, 0, 0, 0x10, 2, 0x6c, 0x09];
    rt.extend(wlan_data(0x80, 0x0800, &ipv4(6, 0, &[], &tcp_seg(b"x"))));
    seeds.push(rt);
    let mut decoded = 0;
    mutate_each(&seeds, 2000, 0x9e37_79b9_7f4a_7c15, |d| {
        for lt in [1, 9, 50, 105, 127, 228] {
            if frame(lt, d).0 == Outcome::Decoded {
                decoded += 1;
            }
        }
    });
    assert!(decoded > 500, "{decoded}");
}

#[test]
fn cooked_capture_protocols_below_0600() {
    // Linux cooked capture: protocol 4 is 802.2 LLC, 1 (Novell 802.3) is not decoded.
    let mut b = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0, 4];
    b.extend_from_slice(&[0x42, 0x42, 0x03, 0, 0]);
    let (out, c) = frame(113, &b);
    assert_eq!(
        (out, c.names()),
        (Outcome::Unknown(UnknownLayer::LlcSap(0x42)), vec!["LLC"])
    );
    b[15] = 1;
    let (out, c) = frame(113, &b);
    assert_eq!(
        (out, c.names()),
        (Outcome::Unknown(UnknownLayer::EtherType(1)), vec![])
    );
}
