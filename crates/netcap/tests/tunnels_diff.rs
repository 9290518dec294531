//! Differential test against tshark for the link-layer and tunnel records:
//! LLC, SNAP, IPv6Fragment, IPv6HopByHop, IPSecAH, IPSecESP, GRE, VXLAN,
//! Geneve, MPLS, PPP, PPPoE, Dot11 and RadioTap, on every test capture, joined
//! by PacketNumber (tshark's frame.number), field by field. Any disagreement
//! fails the test.
//!
//! As in `tshark_diff.rs`, tshark may have more occurrences of a field than
//! Netcap has records (it decodes layers Netcap does not, e.g. a GRE header
//! inside Cisco metadata inside GRE): those are counted and reported, and ours
//! must match the first ones. A record Netcap writes where tshark has no
//! occurrence of a compared field is a disagreement, and so is a frame where
//! tshark shows one of these layers and Netcap has no record of it (`PRESENCE`),
//! unless explained (`EXPLAINED`). The machinery is in `common/diff.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::diff::*;
use common::*;
use prost_reflect::DynamicMessage;

fn is(m: &DynamicMessage, field: &str, v: &str) -> bool {
    text(m, field) == v
}

/// Whether the RadioTap present word has `bit`.
fn present(m: &DynamicMessage, bit: u32) -> bool {
    text(m, "Present")
        .parse::<u32>()
        .is_ok_and(|p| p & bit != 0)
}

fn tables() -> Vec<Table> {
    use Norm::*;
    vec![
        table(
            "LLC",
            vec![
                f("llc.dsap", "DSAP", Sap),
                f("llc.dsap.ig", "IG", Bool),
                f("llc.ssap", "SSAP", Sap),
                f("llc.ssap.cr", "CR", Bool),
                f("llc.control", "Control", Hex),
            ],
        ),
        table("SNAP", vec![f("llc.oui", "OrganizationalCode", Oui)]),
        table("SNAP", vec![f("llc.type", "Type", Hex)])
            .when(|m| is(m, "OrganizationalCode", "000000")),
        table("SNAP", vec![f("llc.cisco_pid", "Type", Hex)])
            .when(|m| is(m, "OrganizationalCode", "00000c")),
        table(
            "IPv6Fragment",
            vec![
                f("ipv6.fraghdr.nxt", "NextHeader", Same),
                f("ipv6.fraghdr.reserved_octet", "Reserved1", Hex),
                f("ipv6.fraghdr.offset", "FragmentOffset", Same),
                f("ipv6.fraghdr.reserved_bits", "Reserved2", Same),
                f("ipv6.fraghdr.more", "MoreFragments", Bool),
                f("ipv6.fraghdr.ident", "Identification", Hex),
            ],
        ),
        // tshark lists the options of every options header; Netcap's record
        // holds those of the hop-by-hop header, so this is compared only
        // when there is no destination options header.
        table(
            "IPv6HopByHop",
            vec![l("ipv6.opt.type", "Options", "OptionType", Hex)
                .exact()
                .alone()],
        )
        .on_frames(|fr| !fr.contains_key("ipv6.dstopts.nxt")),
        table(
            "IPSecAH",
            vec![
                f("ah.next_header", "NextHeader", Same),
                f("ah.length", "Length", Same),
                f("ah.reserved", "Reserved", BareHex),
                f("ah.spi", "SPI", Hex),
                f("ah.sequence", "Seq", Same),
                f("ah.icv", "AuthenticationData", Same),
            ],
        ),
        table(
            "IPSecESP",
            vec![f("esp.spi", "SPI", Hex), f("esp.sequence", "Seq", Same)],
        ),
        table(
            "GRE",
            vec![
                f("gre.flags_and_version", "FlagsAndVersion", Hex),
                f("gre.flags.checksum", "ChecksumPresent", Bool),
                f("gre.flags.routing", "RoutingPresent", Bool),
                f("gre.flags.key", "KeyPresent", Bool),
                f("gre.flags.sequence_number", "SeqPresent", Bool),
                f("gre.flags.strict_source_route", "StrictSourceRoute", Bool),
                f("gre.flags.recursion_control", "RecursionControl", Same),
                f("gre.flags.version", "Version", Same),
                f("gre.proto", "Protocol", Hex),
            ],
        ),
        table(
            "GRE",
            vec![
                f("gre.checksum", "Checksum", Hex),
                f("gre.offset", "Offset", Same),
            ],
        )
        .when(|m| is(m, "ChecksumPresent", "true") || is(m, "RoutingPresent", "true")),
        table("GRE", vec![f("gre.key", "Key", Hex)])
            .when(|m| is(m, "KeyPresent", "true") && is(m, "Version", "0")),
        table("GRE", vec![f("gre.sequence_number", "Seq", Same)])
            .when(|m| is(m, "SeqPresent", "true")),
        table("GRE", vec![f("gre.ack_number", "Ack", Same)])
            .when(|m| is(m, "AckPresent", "true") && is(m, "Version", "1")),
        table(
            "VXLAN",
            vec![f("vxlan.flags", "Flags", Hex), f("vxlan.vni", "VNI", Same)],
        ),
        table(
            "Geneve",
            vec![
                f("geneve.version", "Version", Same),
                f("geneve.flags.oam", "OAMPacket", Bool),
                f("geneve.flags.critical", "CriticalOption", Bool),
                f("geneve.proto_type", "Protocol", Hex),
                f("geneve.vni", "VNI", Hex),
                l("geneve.option.class", "Options", "Class", Hex)
                    .exact()
                    .alone(),
            ],
        ),
        table(
            "MPLS",
            vec![
                f("mpls.label", "MPLSLabel", Same),
                f("mpls.exp", "TrafficClass", Same),
                f("mpls.bottom", "StackBottom", Bool),
                f("mpls.ttl", "TTL", Same),
            ],
        ),
        table("PPP", vec![f("ppp.protocol", "Protocol", Hex)]),
        table(
            "PPP",
            vec![
                f("ppp.address", "Address", Hex),
                f("ppp.control", "Control", Hex),
            ],
        )
        .when(|m| !is(m, "Address", "0")),
        table(
            "PPPoE",
            vec![
                f("pppoe.version", "Version", Same),
                f("pppoe.type", "Type", Same),
                f("pppoe.code", "Code", Hex),
                f("pppoe.session_id", "SessionId", Hex),
                f("pppoe.payload_length", "Length", Same),
            ],
        ),
        table(
            "Dot11",
            vec![
                f("wlan.fc.type_subtype", "Type", Hex),
                f("wlan.flags", "Flags", Hex),
                f("wlan.ra", "Address1", Same),
            ],
        ),
        table("Dot11", vec![f("wlan.duration", "DurationID", Same)]).when(|m| {
            text(m, "DurationID")
                .parse::<u32>()
                .is_ok_and(|d| d < 0x8000)
        }),
        table("Dot11", vec![f("wlan.ta", "Address2", Same)]).when(|m| !is(m, "Address2", "")),
        // Management frames: address 3 is the BSS id.
        table(
            "Dot11",
            vec![
                f("wlan.bssid", "Address3", Same),
                f("wlan.seq", "SequenceNumber", Same),
                f("wlan.frag", "FragmentNumber", Same),
            ],
        )
        .when(|m| text(m, "Type").parse::<u32>().is_ok_and(|t| t < 0x10)),
        table("Dot11", vec![f("wlan.fcs", "Checksum", Hex)]).when(|m| !is(m, "Checksum", "0")),
        table(
            "RadioTap",
            vec![
                f("radiotap.version", "Version", Same),
                f("radiotap.length", "Length", Same),
                f("radiotap.present.word", "Present", Hex),
            ],
        ),
        table("RadioTap", vec![f("radiotap.flags", "Flags", Hex)]).when(|m| present(m, 2)),
        table(
            "RadioTap",
            vec![f("radiotap.channel.freq", "ChannelFrequency", Same)],
        )
        .when(|m| present(m, 8)),
        table(
            "RadioTap",
            vec![f("radiotap.dbm_antsignal", "DBMAntennaSignal", Same)],
        )
        .when(|m| present(m, 0x20)),
        table("RadioTap", vec![f("radiotap.antenna", "Antenna", Same)]).when(|m| present(m, 0x800)),
    ]
}

/// Where tshark shows one of these layers, Netcap must have its record.
const PRESENCE: &[Presence] = &[
    ("LLC", "llc.dsap", ""),
    ("SNAP", "llc.oui", ""),
    ("IPv6Fragment", "ipv6.fraghdr.nxt", ""),
    ("IPv6HopByHop", "ipv6.hopopts.nxt", ""),
    ("IPSecAH", "ah.next_header", ""),
    ("IPSecESP", "esp.spi", ""),
    ("GRE", "gre.flags_and_version", ""),
    ("VXLAN", "vxlan.flags", ""),
    ("Geneve", "geneve.version", ""),
    ("MPLS", "mpls.label", ""),
    ("PPP", "ppp.protocol", ""),
    ("PPPoE", "pppoe.version", ""),
    ("Dot11", "wlan.fc.type_subtype", ""),
    ("RadioTap", "radiotap.version", ""),
];

/// Frames where tshark shows a layer and Netcap has no record of it, each
/// explained.
const EXPLAINED: &[Explained] = &[
    Explained {
        capture: "ipv6-frag-hbh-icmpv6-nd-ra-mld.pcap",
        record: "IPv6Fragment",
        tshark: "ipv6.fraghdr.nxt",
        frames: &[60],
        reason: "an ICMPv6 parameter problem message quoting a fragment: tshark decodes \
                 the quoted packet, Netcap does not decode quoted packets (as for every \
                 ICMP error, see tshark_diff.rs)",
    },
    Explained {
        capture: "fuzz-ipv6-next-header-oobr.pcap",
        record: "IPv6HopByHop",
        tshark: "ipv6.hopopts.nxt",
        frames: &[1],
        reason: "the IPv6 extension header chain is cut short by the capture: Netcap \
                 reports an IPv6 error and writes no IPv6 record, so no hop-by-hop record \
                 either; tshark shows the part that is there",
    },
];

#[test]
fn link_and_tunnel_records_agree_with_tshark() {
    diff_test(
        "tunnels-agreement.txt",
        &tables(),
        PRESENCE,
        &["ipv6.dstopts.nxt"],
        EXPLAINED,
    );
}
