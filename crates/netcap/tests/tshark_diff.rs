//! Differential test against tshark: every field of Ethernet, ARP, Dot1Q, IPv4,
//! IPv6, ICMPv4, ICMPv6, TCP and UDP records, on every test capture, joined by
//! PacketNumber (tshark's frame.number). Any disagreement fails the test.
//!
//! Where tshark decodes more layers than Netcap (ICMP errors quote the offending
//! packet; tunnels Netcap does not decode yet), tshark has extra occurrences of a
//! field after ours: those are counted and reported, and ours must match the
//! first ones. A record Netcap writes that tshark lacks is a disagreement.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use common::*;

/// How a tshark value is turned into the text Netcap shows.
#[derive(Clone, Copy)]
enum Norm {
    Same,
    Hex,
    Bool,
    Div4,
}

fn norm(n: Norm, v: &str) -> String {
    match n {
        Norm::Same => v.to_string(),
        Norm::Hex => v
            .strip_prefix("0x")
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .map_or_else(|| v.to_string(), |x| x.to_string()),
        Norm::Bool => match v {
            "1" | "True" => "true".into(),
            "0" | "False" => "false".into(),
            o => o.into(),
        },
        Norm::Div4 => v
            .parse::<u64>()
            .map_or_else(|_| v.to_string(), |x| (x / 4).to_string()),
    }
}

struct FieldMap {
    tshark: &'static str,
    ours: &'static str,
    norm: Norm,
}

const fn f(tshark: &'static str, ours: &'static str, norm: Norm) -> FieldMap {
    FieldMap { tshark, ours, norm }
}

/// A record type and its fields in tshark. `filter` restricts which of our
/// records are compared (e.g. 802.1ad tags live under other tshark names).
struct TypeMap {
    record: &'static str,
    fields: Vec<FieldMap>,
    /// Repeated option kinds: (tshark field, our list field, sub-field),
    /// compared when the packet has exactly one record of the type.
    lists: Vec<(&'static str, &'static str, &'static str)>,
    filter: fn(&prost_reflect::DynamicMessage) -> bool,
}

fn any(_: &prost_reflect::DynamicMessage) -> bool {
    true
}

fn maps() -> Vec<TypeMap> {
    use Norm::*;
    vec![
        TypeMap {
            record: "Ethernet",
            fields: vec![f("eth.src", "SrcMAC", Same), f("eth.dst", "DstMAC", Same)],
            lists: vec![],
            filter: any,
        },
        TypeMap {
            record: "Ethernet",
            fields: vec![f("eth.type", "EthernetType", Hex)],
            lists: vec![],
            // 802.3 frames carry a length, shown by tshark as eth.len.
            filter: |m| {
                text(m, "EthernetType")
                    .parse::<u32>()
                    .is_ok_and(|t| t >= 0x600)
            },
        },
        TypeMap {
            record: "Dot1Q",
            fields: vec![
                f("vlan.priority", "Priority", Same),
                f("vlan.dei", "DropEligible", Bool),
                f("vlan.id", "VLANIdentifier", Same),
            ],
            lists: vec![],
            filter: |m| text(m, "TagProtocol") != "34984",
        },
        TypeMap {
            record: "Dot1Q",
            fields: vec![f("vlan.etype", "Type", Hex)],
            lists: vec![],
            filter: |m| {
                text(m, "TagProtocol") != "34984"
                    && text(m, "Type").parse::<u32>().is_ok_and(|t| t >= 0x600)
            },
        },
        TypeMap {
            // An 802.3 length after the tag.
            record: "Dot1Q",
            fields: vec![f("vlan.len", "Type", Same)],
            lists: vec![],
            filter: |m| {
                text(m, "TagProtocol") != "34984"
                    && text(m, "Type").parse::<u32>().is_ok_and(|t| t < 0x600)
            },
        },
        TypeMap {
            record: "Dot1Q",
            fields: vec![
                f("ieee8021ad.priority", "Priority", Same),
                f("ieee8021ad.dei", "DropEligible", Bool),
                f("ieee8021ad.id", "VLANIdentifier", Same),
            ],
            lists: vec![],
            filter: |m| text(m, "TagProtocol") == "34984",
        },
        TypeMap {
            record: "ARP",
            fields: vec![
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
            lists: vec![],
            filter: any,
        },
        TypeMap {
            record: "IPv4",
            fields: vec![
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
            ],
            lists: vec![("ip.opt.type", "Options", "OptionType")],
            filter: any,
        },
        TypeMap {
            // With a loose or strict source route (options 131, 137) tshark shows
            // the route's final hop as ip.dst; Netcap records the header field.
            record: "IPv4",
            fields: vec![f("ip.dst", "DstIP", Same)],
            lists: vec![],
            filter: |m| {
                !list_of(m, "Options", "OptionType")
                    .split(',')
                    .any(|t| t == "131" || t == "137")
            },
        },
        TypeMap {
            record: "IPv6",
            fields: vec![
                f("ipv6.version", "Version", Same),
                f("ipv6.tclass", "TrafficClass", Hex),
                f("ipv6.flow", "FlowLabel", Hex),
                f("ipv6.plen", "Length", Same),
                f("ipv6.nxt", "NextHeader", Same),
                f("ipv6.hlim", "HopLimit", Same),
                f("ipv6.src", "SrcIP", Same),
                f("ipv6.dst", "DstIP", Same),
            ],
            lists: vec![],
            filter: any,
        },
        TypeMap {
            record: "ICMPv4",
            fields: vec![
                f("icmp.type", "Type", Same),
                f("icmp.code", "Code", Same),
                f("icmp.checksum", "Checksum", Hex),
            ],
            lists: vec![],
            filter: any,
        },
        TypeMap {
            record: "ICMPv6",
            fields: vec![
                f("icmpv6.type", "Type", Same),
                f("icmpv6.code", "Code", Same),
                f("icmpv6.checksum", "Checksum", Hex),
            ],
            lists: vec![],
            filter: any,
        },
        TypeMap {
            record: "TCP",
            fields: vec![
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
            ],
            lists: vec![("tcp.option_kind", "Options", "OptionType")],
            filter: any,
        },
        TypeMap {
            record: "UDP",
            fields: vec![
                f("udp.srcport", "SrcPort", Same),
                f("udp.dstport", "DstPort", Same),
                f("udp.length", "Length", Same),
                f("udp.checksum", "Checksum", Hex),
            ],
            lists: vec![],
            filter: any,
        },
    ]
}

fn run_tshark(pcap: &std::path::Path, fields: &[&'static str]) -> Frames {
    // TCP (and DNS, SCTP) reassembly off: each record describes its own
    // packet. IP reassembly on, as in Netcap (see `ip_reassembly_prefs`).
    let mut prefs = vec![
        "tcp.relative_sequence_numbers:FALSE",
        "tcp.analyze_sequence_numbers:FALSE",
        "tcp.desegment_tcp_streams:FALSE",
    ];
    prefs.extend(ip_reassembly_prefs(pcap));
    tshark_fields(pcap, fields, &prefs)
}

#[derive(Default)]
struct Stats {
    fields_agree: u64,
    fields_differ: u64,
    extra_in_tshark: u64,
    packets: std::collections::BTreeSet<(String, u64)>,
}

#[test]
fn records_agree_with_tshark_field_by_field() {
    let maps = maps();
    let mut all_fields: Vec<&'static str> = maps
        .iter()
        .flat_map(|m| m.fields.iter().map(|f| f.tshark))
        .collect();
    all_fields.extend(maps.iter().flat_map(|m| m.lists.iter().map(|l| l.0)));
    all_fields.extend(["icmp.type", "icmpv6.type"]);
    all_fields.sort_unstable();
    all_fields.dedup();

    let mut stats: BTreeMap<&'static str, Stats> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut record_counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut extra_by_capture: BTreeMap<String, u64> = BTreeMap::new();
    let mut extra_before: BTreeMap<&'static str, u64> = BTreeMap::new();
    for pcap in all_pcaps() {
        let name = pcap.file_name().unwrap().to_string_lossy().to_string();
        let dir = tempfile::tempdir().unwrap();
        capture(&pcap, dir.path(), &["--no-compress", "--quiet"]);
        let records = load_records(dir.path());
        let frames = run_tshark(&pcap, &all_fields);

        for tm in &maps {
            let st = stats.entry(tm.record).or_default();
            let Some(recs) = records.get(tm.record) else {
                continue;
            };
            let mut by_packet: BTreeMap<u64, Vec<&prost_reflect::DynamicMessage>> = BTreeMap::new();
            for (n, m) in recs {
                if (tm.filter)(m) {
                    by_packet.entry(*n).or_default().push(m);
                }
            }
            for (n, ours) in &by_packet {
                st.packets.insert((name.clone(), *n));
                let empty = HashMap::new();
                let theirs = frames.get(n).unwrap_or(&empty);
                for fm in &tm.fields {
                    let tv = theirs.get(fm.tshark).cloned().unwrap_or_default();
                    if tv.len() < ours.len() {
                        st.fields_differ += ours.len() as u64;
                        failures.push(format!(
                            "{name} #{n} {}: Netcap has {} records, tshark {} occurrences of {}",
                            tm.record,
                            ours.len(),
                            tv.len(),
                            fm.tshark
                        ));
                        continue;
                    }
                    st.extra_in_tshark += (tv.len() - ours.len()) as u64;
                    for (m, t) in ours.iter().zip(&tv) {
                        let want = norm(fm.norm, t);
                        let got = text(m, fm.ours);
                        if want == got {
                            st.fields_agree += 1;
                        } else {
                            st.fields_differ += 1;
                            failures.push(format!(
                                "{name} #{n} {}.{}: netcap {got:?}, tshark {} {t:?}",
                                tm.record, fm.ours, fm.tshark
                            ));
                        }
                    }
                }
                if let [only] = ours.as_slice() {
                    for (tf, list, sub) in &tm.lists {
                        let want = theirs.get(*tf).map(|v| v.join(",")).unwrap_or_default();
                        let mut got = list_of(only, list, sub);
                        // tshark lists every zero byte after an end-of-options
                        // option as another one; Netcap keeps them as Padding.
                        if *tf == "tcp.option_kind" && (got.ends_with(",0") || got == "0") {
                            let pad = text(only, "Padding");
                            if !pad.is_empty() && pad.bytes().all(|b| b == b'0') {
                                got.push_str(&",0".repeat(pad.len() / 2));
                            }
                        }
                        if want == got {
                            st.fields_agree += 1;
                        } else {
                            st.fields_differ += 1;
                            failures.push(format!(
                                "{name} #{n} {}.{list}: netcap [{got}], tshark {tf} [{want}]",
                                tm.record
                            ));
                        }
                    }
                }
            }
        }
        for (rt, recs) in &records {
            *record_counts.entry(rt.clone()).or_default() += recs.len() as u64;
        }
        for tm in &maps {
            if let Some(st) = stats.get(tm.record) {
                let before = extra_before.get(tm.record).copied().unwrap_or_default();
                if st.extra_in_tshark > before {
                    *extra_by_capture.entry(name.clone()).or_default() +=
                        st.extra_in_tshark - before;
                }
            }
        }
        extra_before = stats.iter().map(|(k, s)| (*k, s.extra_in_tshark)).collect();
    }

    let mut report = String::from("record type   packets   records   fields agree   differ   extra tshark field occurrences\n");
    let mut merged: BTreeMap<&str, (u64, u64, u64, u64, u64)> = BTreeMap::new();
    for (k, s) in &stats {
        let e = merged.entry(k).or_default();
        e.0 = e.0.max(s.packets.len() as u64);
        e.1 = record_counts.get(*k).copied().unwrap_or_default();
        e.2 += s.fields_agree;
        e.3 += s.fields_differ;
        e.4 += s.extra_in_tshark;
    }
    for (k, (p, r, a, d, x)) in &merged {
        let _ = writeln!(report, "{k:<12} {p:>8} {r:>9} {a:>14} {d:>8} {x:>10}");
    }
    let _ = writeln!(
        report,
        "\nextra tshark occurrences (layers tshark decodes beyond Netcap) by capture:"
    );
    for (k, v) in &extra_by_capture {
        let _ = writeln!(report, "  {k:<50} {v:>8}");
    }
    println!("{report}");
    let _ = std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("tshark-agreement.txt"),
        format!("{report}\n{}", failures.join("\n")),
    );
    assert!(
        failures.is_empty(),
        "{} disagreements with tshark, first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        merged.values().map(|v| v.2).sum::<u64>() > 100_000,
        "too few fields compared: {report}"
    );
}
