//! Differential test against tshark: every field of Ethernet, ARP, Dot1Q, IPv4,
//! IPv6, ICMPv4, ICMPv6, TCP and UDP records, on every test capture, joined by
//! PacketNumber (tshark's frame.number). Any disagreement fails the test.
//!
//! Where tshark decodes more layers than Netcap (ICMP errors quote the offending
//! packet; tunnels Netcap does not decode yet), tshark has extra occurrences of a
//! field after ours: those are counted and reported, and ours must match the
//! first ones. A record Netcap writes that tshark lacks is a disagreement.
//!
//! Presence: on every frame where tshark shows one of these layers, Netcap must
//! have at least as many records of its type as tshark shows occurrences of
//! the layer (`COUNTS`), unless the frame is explained (`EXPLAINED`: ICMP
//! errors' quoted packets, tunnels Netcap does not decode, datagrams Netcap's
//! reassembly drops). The machinery is in `common/diff.rs`.
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

/// Whether `field` holds an EtherType (Some(true)) or an 802.3 length
/// (Some(false): below 0x600).
fn ethertype(m: &DynamicMessage, field: &str) -> Option<bool> {
    text(m, field).parse::<u32>().ok().map(|t| t >= 0x600)
}

/// An 802.1ad (S-tag) tag: tshark shows it under other field names.
fn s_tag(m: &DynamicMessage) -> bool {
    text(m, "TagProtocol") == "34984"
}

/// TCP option kinds. tshark lists every zero byte after an end-of-options
/// option as another one; Netcap keeps them as Padding.
fn tcp_option_kinds(m: &DynamicMessage) -> Vec<String> {
    let mut v = list_texts(m, "Options", "OptionType");
    if v.last().is_some_and(|k| k == "0") {
        let pad = text(m, "Padding");
        if !pad.is_empty() && pad.bytes().all(|b| b == b'0') {
            v.extend(std::iter::repeat_n("0".to_string(), pad.len() / 2));
        }
    }
    v
}

fn tables() -> Vec<Table> {
    use Norm::*;
    vec![
        table(
            "Ethernet",
            vec![f("eth.src", "SrcMAC", Same), f("eth.dst", "DstMAC", Same)],
        ),
        // 802.3 frames carry a length, shown by tshark as eth.len.
        table("Ethernet", vec![f("eth.type", "EthernetType", Hex)])
            .when(|m| ethertype(m, "EthernetType") == Some(true)),
        table(
            "Dot1Q",
            vec![
                f("vlan.priority", "Priority", Same),
                f("vlan.dei", "DropEligible", Bool),
                f("vlan.id", "VLANIdentifier", Same),
            ],
        )
        .when(|m| !s_tag(m)),
        table("Dot1Q", vec![f("vlan.etype", "Type", Hex)])
            .when(|m| !s_tag(m) && ethertype(m, "Type") == Some(true)),
        // An 802.3 length after the tag.
        table("Dot1Q", vec![f("vlan.len", "Type", Same)])
            .when(|m| !s_tag(m) && ethertype(m, "Type") == Some(false)),
        table(
            "Dot1Q",
            vec![
                f("ieee8021ad.priority", "Priority", Same),
                f("ieee8021ad.dei", "DropEligible", Bool),
                f("ieee8021ad.id", "VLANIdentifier", Same),
            ],
        )
        .when(s_tag),
        table(
            "ARP",
            vec![
                f("arp.hw.type", "AddrType", Same),
                f("arp.proto.type", "Protocol", Hex),
                f("arp.hw.size", "HwAddressSize", Same),
                f("arp.proto.size", "ProtAddressSize", Same),
                f("arp.opcode", "Operation", Same),
                f("arp.src.hw_mac", "SrcHwAddress", Same),
                f("arp.src.proto_ipv4", "SrcProtAddress", Same),
                f("arp.dst.hw_mac", "DstHwAddress", Same),
                f("arp.dst.proto_ipv4", "DstProtAddress", Same),
            ],
        ),
        table(
            "IPv4",
            vec![
                f("ip.version", "Version", Same),
                f("ip.hdr_len", "IHL", Div4),
                f("ip.dsfield", "TOS", Hex),
                f("ip.len", "Length", Same),
                f("ip.id", "Id", Hex),
                f("ip.flags", "Flags", Hex),
                f("ip.ttl", "TTL", Same),
                f("ip.proto", "Protocol", Same),
                f("ip.checksum", "Checksum", Hex),
                f("ip.src", "SrcIP", Same),
                l("ip.opt.type", "Options", "OptionType", Same)
                    .exact()
                    .alone(),
            ],
        ),
        // With a loose or strict source route (options 131, 137) tshark shows
        // the route's final hop as ip.dst; Netcap records the header field.
        table("IPv4", vec![f("ip.dst", "DstIP", Same)]).when(|m| {
            !list_texts(m, "Options", "OptionType")
                .iter()
                .any(|t| t == "131" || t == "137")
        }),
        table(
            "IPv6",
            vec![
                f("ipv6.version", "Version", Same),
                f("ipv6.tclass", "TrafficClass", Hex),
                f("ipv6.flow", "FlowLabel", Hex),
                f("ipv6.plen", "Length", Same),
                f("ipv6.nxt", "NextHeader", Same),
                f("ipv6.hlim", "HopLimit", Same),
                f("ipv6.src", "SrcIP", Same),
                f("ipv6.dst", "DstIP", Same),
            ],
        ),
        table(
            "ICMPv4",
            vec![
                f("icmp.type", "Type", Same),
                f("icmp.code", "Code", Same),
                f("icmp.checksum", "Checksum", Hex),
            ],
        ),
        table(
            "ICMPv6",
            vec![
                f("icmpv6.type", "Type", Same),
                f("icmpv6.code", "Code", Same),
                f("icmpv6.checksum", "Checksum", Hex),
            ],
        ),
        table(
            "TCP",
            vec![
                f("tcp.srcport", "SrcPort", Same),
                f("tcp.dstport", "DstPort", Same),
                f("tcp.seq_raw", "SeqNum", Same),
                f("tcp.ack_raw", "AckNum", Same),
                f("tcp.hdr_len", "DataOffset", Div4),
                f("tcp.flags.fin", "FIN", Bool),
                f("tcp.flags.syn", "SYN", Bool),
                f("tcp.flags.reset", "RST", Bool),
                f("tcp.flags.push", "PSH", Bool),
                f("tcp.flags.ack", "ACK", Bool),
                f("tcp.flags.urg", "URG", Bool),
                f("tcp.flags.ece", "ECE", Bool),
                f("tcp.flags.cwr", "CWR", Bool),
                f("tcp.flags.ae", "NS", Bool),
                f("tcp.window_size_value", "Window", Same),
                f("tcp.checksum", "Checksum", Hex),
                f("tcp.urgent_pointer", "Urgent", Same),
                f("tcp.len", "PayloadSize", Same),
                field(
                    "tcp.option_kind",
                    Ours::With("Options[].OptionType+Padding", tcp_option_kinds),
                    Same,
                )
                .exact()
                .alone(),
            ],
        ),
        table(
            "UDP",
            vec![
                f("udp.srcport", "SrcPort", Same),
                f("udp.dstport", "DstPort", Same),
                f("udp.length", "Length", Same),
                f("udp.checksum", "Checksum", Hex),
            ],
        ),
    ]
}

/// Where tshark shows one of these layers, Netcap must have at least as many
/// records of its type on the frame as tshark shows occurrences of the layer
/// (each field shows once per occurrence of the layer). IPv4 by `ip.ttl`:
/// tshark's IPv6 layer shows `ip.version` too.
const COUNTS: &[Count] = &[
    ("Ethernet", &["eth.src"]),
    ("Dot1Q", &["vlan.id", "ieee8021ad.id"]),
    ("ARP", &["arp.opcode"]),
    ("IPv4", &["ip.ttl"]),
    ("IPv6", &["ipv6.version"]),
    ("ICMPv4", &["icmp.type"]),
    ("ICMPv6", &["icmpv6.type"]),
    ("TCP", &["tcp.srcport"]),
    ("UDP", &["udp.srcport"]),
];

const IN_CMD: &str = "GRE carrying Cisco metadata (ip:gre:cmd:ip): Netcap does not decode \
                      Cisco metadata, so not the IPv4 packet inside it; tshark does";
const IN_TEREDO: &str = "IPv6 inside Teredo (ip:udp:teredo:ipv6, UDP port 3544): Netcap does \
                         not decode Teredo; tshark does";
const QUOTED: &str = "an ICMP error quoting the offending packet: tshark decodes the quoted \
                      headers as layers, Netcap does not decode quoted packets";

/// Frames where tshark shows more occurrences of a layer than Netcap has
/// records of its type, each explained.
const EXPLAINED: &[Explained] = &[
    Explained {
        capture: "fuzz-ipv6-next-header-oobr.pcap",
        record: "IPv6",
        tshark: "ipv6.version",
        frames: &[1],
        reason: "the IPv6 extension header chain is cut short by the capture: Netcap \
                 reports an IPv6 error and writes no IPv6 record; tshark shows the part \
                 that is there (as in tunnels_diff.rs)",
    },
    Explained {
        capture: "gre-various-encaps.pcap",
        record: "IPv4",
        tshark: "ip.ttl",
        frames: &[
            11, 16, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 41, 46, 64, 67, 70, 73, 87, 92,
        ],
        reason: IN_CMD,
    },
    Explained {
        capture: "gre-various-encaps.pcap",
        record: "ICMPv4",
        tshark: "icmp.type",
        frames: &[25, 26, 27, 28, 29, 30, 31, 32, 33, 34],
        reason: IN_CMD,
    },
    Explained {
        capture: "ip-fragments-dns-udp-icmp.pcap",
        record: "UDP",
        tshark: "udp.srcport",
        frames: &[17],
        reason: "frame 17 completes a datagram whose fragments overlap with conflicting \
                 bytes: Netcap drops it (see defrag.rs), tshark reassembles it anyway",
    },
    Explained {
        capture: "ipv6-frag-hbh-icmpv6-nd-ra-mld.pcap",
        record: "IPv6",
        tshark: "ipv6.version",
        frames: &[60],
        reason: QUOTED,
    },
    Explained {
        capture: "ipv6-frag-hbh-icmpv6-nd-ra-mld.pcap",
        record: "ICMPv6",
        tshark: "icmpv6.type",
        frames: &[59],
        reason: "frame 59 completes a 65,543-byte ICMPv6 echo request (a \"ping of \
                 death\"), over what an IPv6 Payload Length can describe: Netcap's \
                 reassembly drops it as too big (as in l3_tshark_diff.rs), tshark does not",
    },
    Explained {
        capture: "mixed-lan-ftp-dhcp-dns-ipv6.pcap",
        record: "IPv6",
        tshark: "ipv6.version",
        frames: &[91, 93, 536, 540, 959, 961],
        reason: IN_TEREDO,
    },
    Explained {
        capture: "mixed-lan-ftp-dhcp-dns-ipv6.pcap",
        record: "ICMPv6",
        tshark: "icmpv6.type",
        frames: &[91, 93, 536, 540, 959, 961],
        reason: IN_TEREDO,
    },
    Explained {
        capture: "mixed-lan-wireshark-samples.pcapng",
        record: "IPv6",
        tshark: "ipv6.version",
        frames: &[
            429, 485, 990, 1014, 1599, 1611, 2105, 2819, 3458, 4049, 4603, 5202, 5855,
        ],
        reason: IN_TEREDO,
    },
    Explained {
        capture: "mpls-traceroute-ppp.pcap",
        record: "IPv4",
        tshark: "ip.ttl",
        frames: &[2, 4, 6, 8, 10, 12, 14, 16, 18],
        reason: QUOTED,
    },
    Explained {
        capture: "mpls-traceroute-ppp.pcap",
        record: "UDP",
        tshark: "udp.srcport",
        frames: &[2, 4, 6, 8, 10, 12, 14, 16, 18],
        reason: QUOTED,
    },
];

#[test]
fn records_agree_with_tshark_field_by_field() {
    let stats = diff_test_counting(
        "tshark-agreement.txt",
        &tables(),
        &[],
        COUNTS,
        &[],
        EXPLAINED,
    );
    let values: u64 = stats.values().map(|s| s.values).sum();
    assert!(values > 100_000, "too few values compared: {values}");
}
