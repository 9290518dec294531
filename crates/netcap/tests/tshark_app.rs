//! Differential test against tshark for the application-layer records (DNS,
//! DHCPv4, DHCPv6, NTP, SIP) on every test capture, joined by PacketNumber
//! (tshark's frame.number). Any unexplained disagreement fails the test.
//!
//! Per packet, the values of each tshark field are compared with the values
//! Netcap's records of that packet give, in order (a packet can hold several
//! DNS messages over TCP). Fields marked `prefix` may have more occurrences in
//! tshark (it also decodes messages nested in relays, quoted by ICMP errors or
//! inside tunnels Netcap does not decode); those are counted, not failures.
//! The machinery is in `common/diff.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::diff::*;
use common::*;
use netcap_schema::{DhcPv4, DhcPv6, Dns, Ntp, Sip};
use prost_reflect::DynamicMessage;

/// Values of one tshark field taken from one record.
struct Col {
    tshark: &'static str,
    norm: Norm,
    /// tshark's occurrences must equal ours (otherwise start with them).
    exact: bool,
    vals: Vec<String>,
}

fn col<T: ToString>(tshark: &'static str, norm: Norm, vals: impl IntoIterator<Item = T>) -> Col {
    Col {
        tshark,
        norm,
        exact: true,
        vals: vals.into_iter().map(|v| v.to_string()).collect(),
    }
}

/// A column where tshark may show more occurrences after ours.
fn pcol<T: ToString>(tshark: &'static str, norm: Norm, vals: impl IntoIterator<Item = T>) -> Col {
    Col {
        exact: false,
        ..col(tshark, norm, vals)
    }
}

fn one<T: ToString>(v: T) -> Vec<String> {
    vec![v.to_string()]
}

fn opt_str(v: &str) -> Vec<String> {
    if v.is_empty() {
        vec![]
    } else {
        one(v)
    }
}

fn dns_cols(m: &DynamicMessage, llmnr: bool) -> Vec<Col> {
    use Norm::*;
    let r: Dns = m.transcode_to().unwrap();
    let rrs: Vec<_> = r
        .answers
        .iter()
        .chain(&r.authorities)
        .chain(&r.additionals)
        .collect();
    let not_opt = || rrs.iter().filter(|x| x.r#type != 41);
    let resp = |v: String| if r.qr { vec![v] } else { vec![] };
    let mut v = vec![
        pcol("dns.id", HexOrDec, one(r.id)),
        pcol("dns.flags.response", Bool, one(r.qr)),
        pcol("dns.flags.opcode", Same, one(r.op_code)),
        pcol("dns.flags.truncated", Bool, one(r.tc)),
        // The rcode is shown by tshark for responses only.
        pcol("dns.flags.rcode", Same, resp(r.response_code.to_string())),
    ];
    if llmnr {
        // LLMNR (RFC 4795) names the AA bit C (conflict) and the RD bit T
        // (tentative), and has no RA, Z, AD or CD.
        v.extend([
            pcol("dns.flags.conflict", Same, one(u8::from(r.aa))),
            pcol("dns.flags.tentative", Same, one(u8::from(r.rd))),
        ]);
    } else {
        v.extend([
            // AA and RA are shown by tshark for responses only, and AD in a
            // query only when set.
            pcol("dns.flags.authoritative", Bool, resp(r.aa.to_string())),
            pcol("dns.flags.recdesired", Bool, one(r.rd)),
            pcol("dns.flags.recavail", Bool, resp(r.ra.to_string())),
            // Z holds tshark's z, authenticated and checkdisable bits.
            pcol("dns.flags.z", Same, one(r.z >> 2 & 1)),
            pcol(
                "dns.flags.authenticated",
                Same,
                if r.qr || r.z & 2 != 0 {
                    one(r.z >> 1 & 1)
                } else {
                    vec![]
                },
            ),
            pcol("dns.flags.checkdisable", Same, one(r.z & 1)),
        ]);
    }
    v.extend([
        pcol("dns.count.queries", Same, one(r.qd_count)),
        pcol("dns.count.answers", Same, one(r.an_count)),
        pcol("dns.count.auth_rr", Same, one(r.ns_count)),
        pcol("dns.count.add_rr", Same, one(r.ar_count)),
        pcol(
            "dns.qry.name",
            Same,
            r.questions.iter().map(|q| q.name.clone()),
        ),
        pcol("dns.qry.type", Same, r.questions.iter().map(|q| q.r#type)),
        pcol(
            "dns.qry.class",
            Class,
            r.questions.iter().map(|q| q.class & 0x7fff),
        ),
        pcol("dns.resp.name", Same, rrs.iter().map(|x| x.name.clone())),
        pcol("dns.resp.type", Same, rrs.iter().map(|x| x.r#type)),
        pcol("dns.resp.class", Class, not_opt().map(|x| x.class & 0x7fff)),
        pcol("dns.resp.ttl", Same, not_opt().map(|x| x.ttl)),
        pcol("dns.resp.len", Same, rrs.iter().map(|x| x.data_length)),
        pcol(
            "dns.rr.udp_payload_size",
            HexOrDec,
            rrs.iter().filter(|x| x.r#type == 41).map(|x| x.class),
        ),
        pcol(
            "dns.a",
            Same,
            rrs.iter().filter(|x| x.r#type == 1).map(|x| x.ip.clone()),
        ),
        pcol(
            "dns.aaaa",
            Same,
            rrs.iter().filter(|x| x.r#type == 28).map(|x| x.ip.clone()),
        ),
        pcol(
            "dns.cname",
            Same,
            rrs.iter()
                .filter(|x| x.r#type == 5)
                .map(|x| x.cname.clone()),
        ),
        pcol(
            "dns.ns",
            Same,
            rrs.iter().filter(|x| x.r#type == 2).map(|x| x.ns.clone()),
        ),
        pcol(
            "dns.ptr.domain_name",
            Same,
            rrs.iter().filter(|x| x.r#type == 12).map(|x| x.ptr.clone()),
        ),
        pcol(
            "dns.mx.mail_exchange",
            Same,
            rrs.iter()
                .filter_map(|x| x.mx.as_ref())
                .map(|x| x.name.clone()),
        ),
        pcol(
            "dns.mx.preference",
            Same,
            rrs.iter()
                .filter_map(|x| x.mx.as_ref())
                .map(|x| x.preference),
        ),
        pcol(
            "dns.srv.port",
            Same,
            rrs.iter().filter_map(|x| x.srv.as_ref()).map(|x| x.port),
        ),
        pcol(
            "dns.srv.priority",
            Same,
            rrs.iter()
                .filter_map(|x| x.srv.as_ref())
                .map(|x| x.priority),
        ),
        pcol(
            "dns.srv.weight",
            Same,
            rrs.iter().filter_map(|x| x.srv.as_ref()).map(|x| x.weight),
        ),
        pcol(
            "dns.txt",
            Same,
            rrs.iter()
                .filter(|x| x.r#type == 16)
                .flat_map(|x| x.tx_ts.clone()),
        ),
        pcol(
            "dns.soa.mname",
            Same,
            rrs.iter()
                .filter_map(|x| x.soa.as_ref())
                .map(|x| x.m_name.clone()),
        ),
        pcol(
            "dns.soa.rname",
            Same,
            rrs.iter()
                .filter_map(|x| x.soa.as_ref())
                .map(|x| x.r_name.clone()),
        ),
        pcol(
            "dns.soa.serial_number",
            Same,
            rrs.iter().filter_map(|x| x.soa.as_ref()).map(|x| x.serial),
        ),
        pcol(
            "dns.opt.code",
            Same,
            rrs.iter().flat_map(|x| x.opt.iter().map(|o| o.code)),
        ),
    ]);
    v
}

fn dhcpv4_cols(m: &DynamicMessage, _: bool) -> Vec<Col> {
    use Norm::*;
    let r: DhcPv4 = m.transcode_to().unwrap();
    let opt = |t: i32| r.options.iter().filter(move |o| o.r#type == t);
    let mac = if r.hardware_type == 1 && r.hardware_len == 6 {
        one(&r.client_hw_addr)
    } else {
        vec![]
    };
    vec![
        col("dhcp.type", Same, one(r.operation)),
        // tshark also shows the hardware type of a client-ID option.
        pcol("dhcp.hw.type", HexOrDec, one(r.hardware_type)),
        col("dhcp.hw.len", Same, one(r.hardware_len)),
        col("dhcp.hops", Same, one(r.hardware_opts)),
        col("dhcp.id", HexOrDec, one(r.xid)),
        // tshark reads secs little-endian when the low byte is 0 (a Windows
        // client bug); Netcap keeps the field as sent (big-endian).
        col(
            "dhcp.secs",
            Same,
            one(if r.secs > 0xff && r.secs & 0xff == 0 {
                r.secs >> 8
            } else {
                r.secs
            }),
        ),
        col("dhcp.flags", HexOrDec, one(r.flags)),
        col("dhcp.ip.client", Same, one(&r.client_ip)),
        col("dhcp.ip.your", Same, one(&r.your_client_ip)),
        col("dhcp.ip.server", Same, one(&r.next_server_ip)),
        col("dhcp.ip.relay", Same, one(&r.relay_agent_ip)),
        // tshark also shows the MAC inside a client-ID option of type 1.
        pcol("dhcp.hw.mac_addr", Same, mac),
        // tshark has other fields for an empty sname / file.
        col("dhcp.server", Same, opt_str(&r.server_name)),
        col("dhcp.file", Same, opt_str(&r.file)),
        col(
            "dhcp.option.type",
            DhcpEnd,
            r.options.iter().map(|o| o.r#type),
        ),
        col(
            "dhcp.option.length",
            Same,
            r.options
                .iter()
                .filter(|o| o.r#type != 255)
                .map(|o| o.length),
        ),
        col("dhcp.option.dhcp", Same, opt(53).map(|_| r.message_type)),
        col(
            "dhcp.option.request_list_item",
            Same,
            r.parameter_request_list.clone(),
        ),
        col(
            "dhcp.option.hostname",
            Same,
            opt(12).map(|_| r.hostname.clone()),
        ),
        col(
            "dhcp.option.vendor_class_id",
            Same,
            opt(60).map(|_| r.vendor_class_id.clone()),
        ),
        col(
            "dhcp.option.requested_ip_address",
            Same,
            opt(50).map(|_| r.requested_ip.clone()),
        ),
        col(
            "dhcp.option.dhcp_server_id",
            Same,
            opt(54).map(|_| r.server_id.clone()),
        ),
        col(
            "dhcp.option.ip_address_lease_time",
            Same,
            opt(51).map(|_| r.lease_time),
        ),
    ]
}

fn dhcpv6_cols(m: &DynamicMessage, _: bool) -> Vec<Col> {
    use Norm::*;
    let r: DhcPv6 = m.transcode_to().unwrap();
    let relay = r.msg_type == 12 || r.msg_type == 13;
    // tshark goes on into the message carried by a relay: everything after
    // the relay header may have further occurrences.
    let mut v = vec![pcol("dhcpv6.msgtype", Same, one(r.msg_type))];
    if relay {
        v.extend([
            pcol("dhcpv6.hopcount", Same, one(r.hop_count)),
            pcol("dhcpv6.linkaddr", Same, one(&r.link_addr)),
            pcol("dhcpv6.peeraddr", Same, one(&r.peer_addr)),
        ]);
        return v;
    }
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    // tshark lists the options nested in IA_NA, IA_TA and IA_PD after their
    // container; Netcap keeps the top-level ones (the nested ones are in Data).
    let mut nested = Vec::new();
    for o in &r.options {
        nested.push((o.code, o.length));
        let skip = match o.code {
            3 | 25 => 12,
            4 => 4,
            _ => continue,
        };
        let mut d = o.data.get(skip..).unwrap_or_default();
        while d.len() >= 4 {
            let len = usize::from(u16::from_be_bytes([d[2], d[3]]));
            nested.push((i32::from(u16::from_be_bytes([d[0], d[1]])), len as i32));
            d = d.get(4 + len..).unwrap_or_default();
        }
    }
    v.extend([
        col("dhcpv6.xid", HexOrDec, one(r.transaction_id)),
        col("dhcpv6.option.type", Same, nested.iter().map(|o| o.0)),
        col("dhcpv6.option.length", Same, nested.iter().map(|o| o.1)),
        col(
            "dhcpv6.duid.bytes",
            Same,
            r.options
                .iter()
                .filter(|o| o.code == 1 || o.code == 2)
                .map(|o| hex(&o.data)),
        ),
        col(
            "dhcpv6.iaid",
            Same,
            r.ianaiai_ds.iter().map(|i| format!("{i:08x}")),
        ),
        col(
            "dhcpv6.requested_option_code",
            Same,
            r.requested_options.clone(),
        ),
        col("dhcpv6.client_domain", Same, opt_str(&r.fqdn)),
        // tshark shows milliseconds; the option holds hundredths of a second.
        col(
            "dhcpv6.elapsed_time",
            Same,
            r.options
                .iter()
                .filter(|o| o.code == 8)
                .map(|_| r.elapsed_time * 10),
        ),
    ]);
    v
}

/// An NTP 32.32 timestamp as tshark prints it ("Oct  1, 2017 18:49:14.185888730 UTC").
fn ntp_time(t: u64) -> Option<String> {
    if t == 0 {
        return Some("NULL".into());
    }
    let secs = i64::try_from(t >> 32).ok()? - 2_208_988_800;
    if secs < 0 {
        return None; // another NTP era: not compared
    }
    let frac = (t & 0xffff_ffff) as f64;
    let nanos = (frac / 4_294_967_296.0 * 1e9) as u64; // tshark truncates
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const M: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    Some(format!(
        "{} {day:>2}, {year} {:02}:{:02}:{:02}.{nanos:09} UTC",
        M[(month - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    ))
}

fn ntp_cols(m: &DynamicMessage, _: bool) -> Vec<Col> {
    use Norm::*;
    let r: Ntp = m.transcode_to().unwrap();
    let mut v = vec![
        col("ntp.flags.li", Same, one(r.leap_indicator)),
        col("ntp.flags.vn", Same, one(r.version)),
        col("ntp.flags.mode", Same, one(r.mode)),
        col("ntp.stratum", Same, one(r.stratum)),
        col("ntp.ppoll", I8, one(r.poll)),
        col("ntp.precision", I8, one(r.precision)),
        col("ntp.rootdelay", Fixed16, one(r.root_delay)),
        col("ntp.rootdispersion", Fixed16, one(r.root_dispersion)),
        col("ntp.refid", RefId, one(r.reference_id)),
    ];
    for (f, t) in [
        ("ntp.reftime", r.reference_timestamp),
        ("ntp.org", r.origin_timestamp),
        ("ntp.rec", r.receive_timestamp),
        ("ntp.xmt", r.transmit_timestamp),
    ] {
        if let Some(s) = ntp_time(t) {
            v.push(col(f, Same, one(s)));
        }
    }
    v
}

fn sip_cols(m: &DynamicMessage, _: bool) -> Vec<Col> {
    use Norm::*;
    let r: Sip = m.transcode_to().unwrap();
    vec![
        col("sip.Method", Same, opt_str(&r.method)),
        col("sip.r-uri", Same, opt_str(&r.request_uri)),
        col(
            "sip.Status-Code",
            Same,
            if r.is_response {
                one(r.status_code)
            } else {
                vec![]
            },
        ),
        col("sip.Call-ID", Same, opt_str(&r.call_id)),
        col("sip.CSeq", Same, opt_str(&r.c_seq)),
        col("sip.From", Same, opt_str(&r.from)),
        col("sip.To", Same, opt_str(&r.to)),
        col("sip.Via", Same, r.via.clone()),
        col("sip.User-Agent", Same, opt_str(&r.user_agent)),
        col("sip.Contact", Same, opt_str(&r.contact)),
        col("sip.Content-Type", Same, opt_str(&r.content_type)),
    ]
}

/// Extracts the columns of a record; the flag says the packet is LLMNR.
type Extract = fn(&DynamicMessage, bool) -> Vec<Col>;

const TYPES: &[(&str, Extract)] = &[
    ("DNS", dns_cols),
    ("DHCPv4", dhcpv4_cols),
    ("DHCPv6", dhcpv6_cols),
    ("NTP", ntp_cols),
    ("SIP", sip_cols),
];

#[test]
fn app_records_agree_with_tshark() {
    // The field list comes from the extractors run on empty records.
    let mut fields: Vec<&str> = Vec::new();
    for (name, ex) in TYPES {
        let desc = netcap_schema::descriptor_pool()
            .get_message_by_name(&format!("netcap.{name}"))
            .unwrap();
        for llmnr in [false, true] {
            fields.extend(
                ex(&DynamicMessage::new(desc.clone()), llmnr)
                    .iter()
                    .map(|c| c.tshark),
            );
        }
    }
    fields.extend(["ntp.reftime", "ntp.org", "ntp.rec", "ntp.xmt", "dhcpv6.xid"]);
    fields.extend([
        "dhcpv6.option.type",
        "dhcpv6.option.length",
        "dhcpv6.duid.bytes",
        "dhcpv6.iaid",
        "dhcpv6.requested_option_code",
        "dhcpv6.client_domain",
        "dhcpv6.elapsed_time",
    ]);

    let mut diff = Diff::new(TYPES.iter().map(|t| t.0));
    let empty = Frame::new();
    for pcap in all_pcaps() {
        let name = pcap_name(&pcap);
        let records = records_of(&pcap);
        if !TYPES.iter().any(|(t, _)| records.contains_key(*t)) {
            continue;
        }
        let frames = tshark_frames(&pcap, &fields);
        let llmnr: BTreeSet<u64> = records
            .get("UDP")
            .into_iter()
            .flatten()
            .filter(|(_, m)| text(m, "SrcPort") == "5355" || text(m, "DstPort") == "5355")
            .map(|(n, _)| *n)
            .collect();
        for (ty, ex) in TYPES {
            let Some(recs) = records.get(*ty) else {
                continue;
            };
            diff.records(ty, recs.len() as u64);
            // Per packet: the columns of its records, values in record order.
            let mut by_packet: BTreeMap<u64, Vec<Col>> = BTreeMap::new();
            for (n, m) in recs {
                let cols = by_packet.entry(*n).or_default();
                for c in ex(m, llmnr.contains(n)) {
                    match cols.iter_mut().find(|x| x.tshark == c.tshark) {
                        Some(x) => x.vals.extend(c.vals),
                        None => cols.push(c),
                    }
                }
            }
            for (n, cols) in by_packet {
                let frame = frames.get(&n).unwrap_or(&empty);
                for c in cols {
                    let check = Check {
                        record: ty,
                        ours: "",
                        tshark: c.tshark,
                        norm: c.norm,
                        exact: c.exact,
                    };
                    diff.check(&name, n, &check, &c.vals, frame);
                }
            }
        }
    }
    let stats = diff.finish("tshark-app-agreement.txt", &[]);
    for (ty, _) in TYPES {
        let s = &stats[*ty];
        assert!(
            s.records > 0 && s.values > 10 * s.packets.len() as u64 / 2,
            "{ty}: too few values compared"
        );
    }
}

/// The records of `ty` in `capture`, typed, with their packet numbers.
fn typed<T: netcap_schema::Record>(capture: &str, ty: &str) -> Vec<(u64, T)> {
    let dir = tempfile::tempdir().unwrap();
    capture_file(capture, dir.path());
    load_records(dir.path())
        .remove(ty)
        .unwrap_or_default()
        .into_iter()
        .map(|(n, m)| (n, m.transcode_to().unwrap()))
        .collect()
}

fn capture_file(name: &str, out: &std::path::Path) {
    capture(&pcaps_dir().join(name), out, &["--no-compress", "--quiet"]);
}

fn at<T>(v: &[(u64, T)], n: u64) -> &T {
    &v.iter().find(|(p, _)| *p == n).unwrap().1
}

/// Values checked by hand against `tshark -V` on the same frames.
#[test]
fn app_records_of_known_frames() {
    let dns: Vec<(u64, Dns)> = typed("dns-udp-record-types.pcap", "DNS");
    assert_eq!(dns.len(), 14);
    let r = at(&dns, 2);
    assert_eq!(
        (r.id, r.qr, r.rd, r.ra, r.an_count),
        (0x5e03, true, true, true, 3)
    );
    let a: Vec<_> = r
        .answers
        .iter()
        .map(|x| (x.r#type, x.ip.as_str(), x.cname.as_str()))
        .collect();
    assert_eq!(
        a,
        [
            (5, "", "suricata-ids.org"),
            (1, "192.0.78.24", ""),
            (1, "192.0.78.25", "")
        ]
    );
    assert_eq!(r.additionals[0].name, "<Root>");
    let r = at(&dns, 14);
    let mx: Vec<_> = r.answers.iter().map(|x| x.mx.clone().unwrap()).collect();
    assert_eq!(mx.len(), 5);
    assert_eq!(mx[0].name, "alt2.aspmx.l.google.com");
    assert_eq!(r.answers[0].ttl, 14399);
    let soa = at(&dns, 6).authorities[0].soa.clone().unwrap();
    assert_eq!(
        (soa.m_name.as_str(), soa.r_name.as_str(), soa.serial),
        (
            "ns1.wordpress.com",
            "hostmaster.wordpress.com",
            2_005_071_858
        )
    );

    // SSHFP (44) and RRSIG (46) are kept as raw data.
    let dns: Vec<(u64, Dns)> = typed("dns-dnssec-sshfp-edns.pcap", "DNS");
    let r = at(&dns, 2);
    assert_eq!((r.answers[0].r#type, r.answers[0].data_length), (44, 22));
    assert_eq!(r.answers[0].data[..2], [1, 1]);
    assert_eq!(r.answers[1].r#type, 46);

    // DNS over TCP: several whole messages in one segment.
    let dns: Vec<(u64, Dns)> = typed("dns-tcp-multirequest.pcap", "DNS");
    assert_eq!(dns.iter().filter(|(n, _)| *n == 4).count(), 20);

    let v4: Vec<(u64, DhcPv4)> = typed("dhcpv4-dhcpv6-options.pcap", "DHCPv4");
    let r = at(&v4, 6);
    assert_eq!((r.operation, r.xid, r.message_type), (1, 0x796a_827d, 1));
    assert_eq!(r.client_hw_addr, "00:00:44:01:00:00");
    assert_eq!(r.vendor_class_id, "Arista");
    assert_eq!(
        r.parameter_request_list,
        [26, 1, 28, 3, 15, 6, 7, 12, 143, 121]
    );
    let codes: Vec<_> = r.options.iter().map(|o| o.r#type).collect();
    assert_eq!(codes, [53, 55, 60, 61, 255]);
    assert_eq!(at(&v4, 7).message_type, 2);

    let v6: Vec<(u64, DhcPv6)> = typed("dhcpv4-dhcpv6-options.pcap", "DHCPv6");
    let r = at(&v6, 1);
    assert_eq!(
        (r.msg_type, r.transaction_id, r.elapsed_time),
        (1, 0x6a_ebe6, 703)
    );
    assert_eq!(r.client_duid, "0001000129d08193000001010000");
    assert_eq!(
        (r.ianaiai_ds.clone(), r.requested_options.clone()),
        (vec![0x0101_0000], vec![136, 24, 23])
    );
    assert_eq!(at(&v6, 3).server_duid, "0001000129d0819cce0db48a3384");

    let ntp: Vec<(u64, Ntp)> = typed("mixed-lan-wireshark-samples.pcapng", "NTP");
    let r = at(&ntp, 247);
    assert_eq!((r.version, r.mode, r.stratum, r.precision), (4, 4, 1, -29));
    assert_eq!(r.reference_id.to_be_bytes(), *b"ACTS");
    assert_eq!(r.origin_timestamp, at(&ntp, 246).transmit_timestamp);

    let sip: Vec<(u64, Sip)> = typed("sip-rtp-mixed-lan.pcap", "SIP");
    let r = at(&sip, 19);
    assert_eq!(
        (r.method.as_str(), r.request_uri.as_str()),
        ("REGISTER", "sip:sip.cybercity.dk")
    );
    assert_eq!((r.c_seq.as_str(), r.content_length), ("68 REGISTER", 0));
    assert_eq!(r.user_agent, "Nero SIPPS IP Phone Version 2.0.51.16");
    assert_eq!(r.call_id, "578222729-4665d775@578222732-4665d772");
    let r = at(&sip, 20);
    assert!(r.is_response);
    assert_eq!(r.status_code, 401);
}
