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
//! occurrence of a compared field is a disagreement.
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
use prost_reflect::DynamicMessage;

/// How a tshark value is turned into the text Netcap shows.
#[derive(Clone, Copy)]
enum Norm {
    /// As is.
    Same,
    /// `0x`-prefixed hex to decimal.
    Hex,
    /// Hex without prefix (tshark's bytes fields) to decimal.
    BareHex,
    /// 1/0 or True/False to true/false.
    Bool,
    /// A SAP byte without its low (I/G or C/R) bit: Netcap keeps that bit apart.
    Sap,
    /// An OUI number to Netcap's 3-byte hex.
    Oui,
}

fn norm(n: Norm, v: &str) -> String {
    let hex = |h: &str| u64::from_str_radix(h, 16).ok();
    match n {
        Norm::Same => v.to_string(),
        Norm::Hex => v
            .strip_prefix("0x")
            .and_then(hex)
            .map_or_else(|| v.to_string(), |x| x.to_string()),
        Norm::BareHex => hex(v).map_or_else(|| v.to_string(), |x| x.to_string()),
        Norm::Bool => match v {
            "1" | "True" => "true".into(),
            "0" | "False" => "false".into(),
            o => o.into(),
        },
        Norm::Sap => v
            .strip_prefix("0x")
            .and_then(hex)
            .map_or_else(|| v.to_string(), |x| (x & 0xfe).to_string()),
        Norm::Oui => v
            .parse::<u32>()
            .map_or_else(|_| v.to_string(), |x| format!("{x:06x}")),
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

/// A record type and its fields in tshark; `filter` restricts which of our
/// records are compared (fields tshark shows only when present).
struct TypeMap {
    record: &'static str,
    fields: Vec<FieldMap>,
    /// (tshark field, our repeated field, sub-field), compared joined when
    /// the packet has exactly one record of the type.
    lists: Vec<(&'static str, &'static str, &'static str)>,
    filter: fn(&DynamicMessage) -> bool,
}

fn any(_: &DynamicMessage) -> bool {
    true
}

fn is(m: &DynamicMessage, field: &str, v: &str) -> bool {
    text(m, field) == v
}

fn maps() -> Vec<TypeMap> {
    use Norm::*;
    let t = |record, fields, filter| TypeMap {
        record,
        fields,
        lists: vec![],
        filter,
    };
    vec![
        t(
            "LLC",
            vec![
                f("llc.dsap", "DSAP", Sap),
                f("llc.dsap.ig", "IG", Bool),
                f("llc.ssap", "SSAP", Sap),
                f("llc.ssap.cr", "CR", Bool),
                f("llc.control", "Control", Hex),
            ],
            any,
        ),
        t("SNAP", vec![f("llc.oui", "OrganizationalCode", Oui)], any),
        t("SNAP", vec![f("llc.type", "Type", Hex)], |m| {
            is(m, "OrganizationalCode", "000000")
        }),
        t("SNAP", vec![f("llc.cisco_pid", "Type", Hex)], |m| {
            is(m, "OrganizationalCode", "00000c")
        }),
        t(
            "IPv6Fragment",
            vec![
                f("ipv6.fraghdr.nxt", "NextHeader", Same),
                f("ipv6.fraghdr.reserved_octet", "Reserved1", Hex),
                f("ipv6.fraghdr.offset", "FragmentOffset", Same),
                f("ipv6.fraghdr.reserved_bits", "Reserved2", Same),
                f("ipv6.fraghdr.more", "MoreFragments", Bool),
                f("ipv6.fraghdr.ident", "Identification", Hex),
            ],
            any,
        ),
        TypeMap {
            record: "IPv6HopByHop",
            fields: vec![],
            // tshark lists the options of every options header; Netcap's record
            // holds those of the hop-by-hop header, so this is compared only
            // when there is no destination options header.
            lists: vec![("ipv6.opt.type", "Options", "OptionType")],
            filter: any,
        },
        t(
            "IPSecAH",
            vec![
                f("ah.next_header", "NextHeader", Same),
                f("ah.length", "Length", Same),
                f("ah.reserved", "Reserved", BareHex),
                f("ah.spi", "SPI", Hex),
                f("ah.sequence", "Seq", Same),
                f("ah.icv", "AuthenticationData", Same),
            ],
            any,
        ),
        t(
            "IPSecESP",
            vec![f("esp.spi", "SPI", Hex), f("esp.sequence", "Seq", Same)],
            any,
        ),
        t(
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
            any,
        ),
        t(
            "GRE",
            vec![
                f("gre.checksum", "Checksum", Hex),
                f("gre.offset", "Offset", Same),
            ],
            |m| is(m, "ChecksumPresent", "true") || is(m, "RoutingPresent", "true"),
        ),
        t("GRE", vec![f("gre.key", "Key", Hex)], |m| {
            is(m, "KeyPresent", "true") && is(m, "Version", "0")
        }),
        t("GRE", vec![f("gre.sequence_number", "Seq", Same)], |m| {
            is(m, "SeqPresent", "true")
        }),
        t("GRE", vec![f("gre.ack_number", "Ack", Same)], |m| {
            is(m, "AckPresent", "true") && is(m, "Version", "1")
        }),
        t(
            "VXLAN",
            vec![f("vxlan.flags", "Flags", Hex), f("vxlan.vni", "VNI", Same)],
            any,
        ),
        TypeMap {
            record: "Geneve",
            fields: vec![
                f("geneve.version", "Version", Same),
                f("geneve.flags.oam", "OAMPacket", Bool),
                f("geneve.flags.critical", "CriticalOption", Bool),
                f("geneve.proto_type", "Protocol", Hex),
                f("geneve.vni", "VNI", Hex),
            ],
            lists: vec![("geneve.option.class", "Options", "Class")],
            filter: any,
        },
        t(
            "MPLS",
            vec![
                f("mpls.label", "Label", Same),
                f("mpls.exp", "TrafficClass", Same),
                f("mpls.bottom", "StackBottom", Bool),
                f("mpls.ttl", "TTL", Same),
            ],
            any,
        ),
        t("PPP", vec![f("ppp.protocol", "Protocol", Hex)], any),
        t(
            "PPP",
            vec![
                f("ppp.address", "Address", Hex),
                f("ppp.control", "Control", Hex),
            ],
            |m| !is(m, "Address", "0"),
        ),
        t(
            "PPPoE",
            vec![
                f("pppoe.version", "Version", Same),
                f("pppoe.type", "Type", Same),
                f("pppoe.code", "Code", Hex),
                f("pppoe.session_id", "SessionId", Hex),
                f("pppoe.payload_length", "Length", Same),
            ],
            any,
        ),
        t(
            "Dot11",
            vec![
                f("wlan.fc.type_subtype", "Type", Hex),
                f("wlan.flags", "Flags", Hex),
                f("wlan.ra", "Address1", Same),
            ],
            any,
        ),
        t("Dot11", vec![f("wlan.duration", "DurationID", Same)], |m| {
            text(m, "DurationID")
                .parse::<u32>()
                .is_ok_and(|d| d < 0x8000)
        }),
        t("Dot11", vec![f("wlan.ta", "Address2", Same)], |m| {
            !is(m, "Address2", "")
        }),
        t(
            "Dot11",
            vec![
                f("wlan.bssid", "Address3", Same),
                f("wlan.seq", "SequenceNumber", Same),
                f("wlan.frag", "FragmentNumber", Same),
            ],
            // Management frames: address 3 is the BSS id.
            |m| text(m, "Type").parse::<u32>().is_ok_and(|t| t < 0x10),
        ),
        t("Dot11", vec![f("wlan.fcs", "Checksum", Hex)], |m| {
            !is(m, "Checksum", "0")
        }),
        t(
            "RadioTap",
            vec![
                f("radiotap.version", "Version", Same),
                f("radiotap.length", "Length", Same),
                f("radiotap.present.word", "Present", Hex),
            ],
            any,
        ),
        t("RadioTap", vec![f("radiotap.flags", "Flags", Hex)], |m| {
            text(m, "Present").parse::<u32>().is_ok_and(|p| p & 2 != 0)
        }),
        t(
            "RadioTap",
            vec![f("radiotap.channel.freq", "ChannelFrequency", Same)],
            |m| text(m, "Present").parse::<u32>().is_ok_and(|p| p & 8 != 0),
        ),
        t(
            "RadioTap",
            vec![f("radiotap.dbm_antsignal", "DBMAntennaSignal", Same)],
            |m| {
                text(m, "Present")
                    .parse::<u32>()
                    .is_ok_and(|p| p & 0x20 != 0)
            },
        ),
        t(
            "RadioTap",
            vec![f("radiotap.antenna", "Antenna", Same)],
            |m| {
                text(m, "Present")
                    .parse::<u32>()
                    .is_ok_and(|p| p & 0x800 != 0)
            },
        ),
    ]
}

/// Packets where tshark shows a layer and Netcap has no record of it, each
/// explained: (record type, capture, packets).
const EXPLAINED_MISSES: &[(&str, &str, u64)] = &[
    // Frame 60 is an ICMPv6 parameter problem message quoting a fragment;
    // tshark decodes the quoted packet, Netcap does not decode quoted packets
    // (as for every ICMP error, see tshark_diff.rs).
    ("IPv6Fragment", "ipv6-frag-hbh-icmpv6-nd-ra-mld.pcap", 1),
    // The IPv6 extension header chain is cut short by the capture: Netcap
    // reports an IPv6 error and writes no IPv6 record, so no hop-by-hop record
    // either; tshark shows the part that is there.
    ("IPv6HopByHop", "fuzz-ipv6-next-header-oobr.pcap", 1),
];

fn run_tshark(pcap: &std::path::Path, fields: &[&'static str]) -> Frames {
    // TCP (and DNS, SCTP) reassembly off: each record describes its own
    // packet. IP reassembly on, as in Netcap (see `ip_reassembly_prefs`).
    let mut prefs = vec!["tcp.desegment_tcp_streams:FALSE"];
    prefs.extend(ip_reassembly_prefs(pcap));
    tshark_fields(pcap, fields, &prefs)
}

#[derive(Default)]
struct Stats {
    fields_agree: u64,
    fields_differ: u64,
    extra_in_tshark: u64,
    /// Packets where tshark shows the layer and Netcap has no record of it.
    missed: BTreeMap<String, u64>,
    packets: std::collections::BTreeSet<(String, u64)>,
}

#[test]
fn link_and_tunnel_records_agree_with_tshark() {
    let maps = maps();
    let mut all_fields: Vec<&'static str> = maps
        .iter()
        .flat_map(|m| m.fields.iter().map(|f| f.tshark))
        .collect();
    all_fields.extend(maps.iter().flat_map(|m| m.lists.iter().map(|l| l.0)));
    all_fields.extend(["ipv6.dstopts.nxt", "ipv6.hopopts.nxt"]);
    all_fields.sort_unstable();
    all_fields.dedup();

    let mut stats: BTreeMap<&'static str, Stats> = BTreeMap::new();
    let mut record_counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut failures = Vec::new();
    for pcap in all_pcaps() {
        let name = pcap.file_name().unwrap().to_string_lossy().to_string();
        let dir = tempfile::tempdir().unwrap();
        capture(&pcap, dir.path(), &["--no-compress", "--quiet"]);
        let records = load_records(dir.path());
        let frames = run_tshark(&pcap, &all_fields);
        let mut types: Vec<&str> = maps.iter().map(|tm| tm.record).collect();
        types.dedup();
        for rt in types {
            let n = records.get(rt).map_or(0, Vec::len);
            *record_counts.entry(rt.to_string()).or_default() += n as u64;
        }
        for tm in &maps {
            let st = stats.entry(tm.record).or_default();
            let recs = records.get(tm.record).map_or(&[][..], Vec::as_slice);
            // Packets with the layer in tshark only (first map of a type).
            if maps
                .iter()
                .find(|m| m.record == tm.record)
                .is_some_and(|m| std::ptr::eq(m, tm))
            {
                // IPv6HopByHop compares no single field; its header's next header shows it.
                let probe = tm.fields.first().map_or("ipv6.hopopts.nxt", |f| f.tshark);
                let have: std::collections::HashSet<u64> = recs.iter().map(|r| r.0).collect();
                for (n, fields) in &frames {
                    if fields.contains_key(probe) && !have.contains(n) {
                        *st.missed.entry(name.clone()).or_default() += 1;
                    }
                }
            }
            let mut by_packet: BTreeMap<u64, Vec<&DynamicMessage>> = BTreeMap::new();
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
                        if *tf == "ipv6.opt.type" && theirs.contains_key("ipv6.dstopts.nxt") {
                            continue;
                        }
                        let want = theirs
                            .get(*tf)
                            .map(|v| {
                                v.iter()
                                    .map(|x| norm(Norm::Hex, x))
                                    .collect::<Vec<_>>()
                                    .join(",")
                            })
                            .unwrap_or_default();
                        let got = list_of(only, list, sub);
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
    }

    let mut merged: BTreeMap<&str, (u64, u64, u64, u64)> = BTreeMap::new();
    for (k, s) in &stats {
        let e = merged.entry(k).or_default();
        e.0 = e.0.max(s.packets.len() as u64);
        e.1 += s.fields_agree;
        e.2 += s.fields_differ;
        e.3 += s.extra_in_tshark;
    }
    let mut report = String::from(
        "record type     packets   records   fields agree   differ   extra tshark occurrences\n",
    );
    for (k, (p, a, d, x)) in &merged {
        let r = record_counts.get(*k).copied().unwrap_or_default();
        let _ = writeln!(report, "{k:<14} {p:>8} {r:>9} {a:>14} {d:>8} {x:>10}");
    }
    let _ = writeln!(
        report,
        "\npackets where tshark shows the layer and Netcap writes no record of it:"
    );
    for (k, s) in &stats {
        for (cap, n) in &s.missed {
            let _ = writeln!(report, "  {k:<14} {cap:<45} {n:>6}");
            if !EXPLAINED_MISSES.contains(&(k, cap.as_str(), *n)) {
                failures.push(format!(
                    "{cap}: {n} packets with {k} in tshark and no {k} record (unexplained)"
                ));
            }
        }
    }
    for (k, cap, n) in EXPLAINED_MISSES {
        if stats.get(k).and_then(|s| s.missed.get(*cap)) != Some(n) {
            failures.push(format!("explained miss no longer seen: {k} {cap} {n}"));
        }
    }
    println!("{report}");
    let _ = std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("tunnels-agreement.txt"),
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
    for tm in &maps {
        assert!(
            merged.get(tm.record).is_some_and(|v| v.1 > 0),
            "no {} field compared: {report}",
            tm.record
        );
    }
}
