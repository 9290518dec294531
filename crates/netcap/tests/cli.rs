//! End-to-end tests of the `netcap` binary on the repository's captures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;

use common::*;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn output_is_byte_identical_whatever_the_number_of_workers() {
    for name in [
        "mixed-lan-wireshark-samples.pcapng",
        "mixed-web-tls-http-tcp-anomalies.pcap",
        "vxlan-dns-ntp-ssh.pcap",
        // IP reassembly runs in the reader, ahead of the workers.
        "ip-fragments-dns-udp-icmp.pcap",
    ] {
        let pcap = pcaps_dir().join(name);
        for codec in [&[][..], &["--no-compress"], &["--compression", "zstd"]] {
            let mut reference: Option<Vec<(String, Vec<u8>)>> = None;
            for workers in ["1", "2", "3"] {
                let dir = tempfile::tempdir().unwrap();
                let mut extra = vec!["--workers", workers, "--quiet"];
                extra.extend_from_slice(codec);
                capture(&pcap, dir.path(), &extra);
                let got = files(dir.path());
                assert!(got.len() >= 3, "{name}: too few files");
                match &reference {
                    None => reference = Some(got),
                    Some(r) => {
                        let names = |v: &[(String, Vec<u8>)]| {
                            v.iter().map(|f| f.0.clone()).collect::<Vec<_>>()
                        };
                        assert_eq!(names(r), names(&got), "{name} with {workers} workers");
                        for (a, b) in r.iter().zip(&got) {
                            assert!(
                                a.1 == b.1,
                                "{name} {codec:?}: {} differs between 1 and {workers} workers",
                                a.0
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn every_packet_is_accounted_for_and_no_file_is_empty() {
    for pcap in all_pcaps() {
        let dir = tempfile::tempdir().unwrap();
        let out = capture(&pcap, dir.path(), &["--no-compress"]);
        let err = stderr(&out);
        let num = |prefix: &str| -> u64 {
            err.lines()
                .find_map(|l| {
                    l.trim_start()
                        .strip_prefix(prefix)
                        .and_then(|r| r.split_whitespace().next())
                        .map(|n| n.parse::<u64>().unwrap())
                })
                .unwrap_or_else(|| panic!("{}: no {prefix:?} line in {err}", pcap.display()))
        };
        let packets: u64 = err
            .lines()
            .find(|l| l.contains(" packets in "))
            .and_then(|l| l.split_whitespace().next())
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            num("decoded ") + num("partial ") + num("unknown ") + num("errors "),
            packets,
            "{}: {err}",
            pcap.display()
        );
        // The side outputs hold exactly the packets not fully decoded.
        let side = |name: &str| -> u64 {
            let p = dir.path().join(name);
            if !p.exists() {
                return 0;
            }
            let o = std::process::Command::new("capinfos")
                .args(["-c", "-M"])
                .arg(&p)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&o.stdout).to_string();
            text.lines()
                .find_map(|l| {
                    l.split_once("Number of packets:")
                        .map(|(_, n)| n.trim().parse::<u64>().unwrap())
                })
                .unwrap_or_else(|| panic!("capinfos cannot read {name}: {text}"))
        };
        assert_eq!(
            side("unknown.pcap"),
            num("partial ") + num("unknown "),
            "{}",
            pcap.display()
        );
        assert_eq!(side("errors.pcap"), num("errors "), "{}", pcap.display());
        if num("errors ") > 0 {
            let log = std::fs::read_to_string(dir.path().join("errors.log")).unwrap();
            assert!(
                log.contains(&format!(
                    "summary: {} packets with decoding errors",
                    num("errors ")
                )),
                "{log}"
            );
            assert!(log.starts_with("packet "));
        }
        for (name, recs) in load_records(dir.path()) {
            assert!(!recs.is_empty(), "{}: empty {name} file", pcap.display());
            // Records made from packets are in packet order. Stream records
            // are written when their message completes and carry the number
            // of its first packet: they are in completion order, and so are
            // the Software records taken from them and the FTPData records
            // (written when the data connection and its command are seen).
            let stream = [
                "HTTP",
                "Software",
                "FTPData",
                "TLSClientHello",
                "TLSServerHello",
                "X509Certificate",
                "SSH",
                "Anomaly",
                "File",
                "Mail",
            ];
            if stream.contains(&name.as_str()) {
                continue;
            }
            let per_packet: Vec<u64> = recs
                .iter()
                .filter(|(_, m)| name != "DNS" || text(m, "ConnectionUID").is_empty())
                .map(|r| r.0)
                .collect();
            assert!(
                per_packet.windows(2).all(|w| w[0] <= w[1]),
                "{name} out of order"
            );
        }
    }
}

#[test]
fn packet_counts_match_tshark_frame_counts() {
    for name in [
        "mixed-lan-wireshark-samples.pcapng",
        "bigendian-nfs3.pcap",
        "pcapng-mixed-endian-sections-multi-if.pcapng",
    ] {
        let pcap = pcaps_dir().join(name);
        let dir = tempfile::tempdir().unwrap();
        capture(&pcap, dir.path(), &["--no-compress", "--quiet"]);
        let tshark = std::process::Command::new("tshark")
            .args(["-n", "-r"])
            .arg(&pcap)
            .args([
                "-T",
                "fields",
                "-e",
                "frame.number",
                "-e",
                "frame.time_epoch",
                "-Y",
                "eth",
            ])
            .output()
            .expect("tshark is installed");
        let expected: Vec<(u64, String)> = String::from_utf8_lossy(&tshark.stdout)
            .lines()
            .filter(|l| !l.ends_with('\t'))
            .map(|l| {
                let (n, t) = l.split_once('\t').unwrap();
                // tshark prints nanoseconds; records are shown to the microsecond.
                let (s, frac) = t.split_once('.').unwrap();
                (n.parse().unwrap(), format!("{s}.{}", &frac[..6]))
            })
            .collect();
        let recs = load_records(dir.path());
        let got: Vec<(u64, String)> = recs["Ethernet"]
            .iter()
            .map(|(n, m)| (*n, text(m, "Timestamp")))
            .collect();
        // SPB packets carry no timestamp; tshark shows none, we show 0.
        let got: Vec<_> = got.into_iter().filter(|g| g.1 != "0.000000").collect();
        let expected: Vec<_> = expected
            .into_iter()
            .filter(|e| got.iter().any(|g| g.0 == e.0))
            .collect();
        assert_eq!(got, expected, "{name}");
        assert!(!got.is_empty());
    }
}

#[test]
fn nanosecond_captures_keep_nanoseconds() {
    let pcap = pcaps_dir().join("nsec-sll-tcp-handshake.pcap");
    let dir = tempfile::tempdir().unwrap();
    capture(&pcap, dir.path(), &["--quiet"]);
    let tshark = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&pcap)
        .args(["-T", "fields", "-e", "frame.time_epoch"])
        .output()
        .unwrap();
    let want: Vec<String> = String::from_utf8_lossy(&tshark.stdout)
        .lines()
        .map(|l| l.replace('.', ""))
        .collect();
    let o = netcap(&[
        "dump",
        "-r",
        dir.path().join("TCP.ncap.gz").to_str().unwrap(),
        "--select",
        "Timestamp",
        "--utc",
    ]);
    let got: Vec<String> = stdout(&o).lines().skip(1).map(str::to_string).collect();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        // RFC 3339 with nanoseconds: the last nine digits are the fraction.
        let frac = &g[20..29];
        assert!(w.ends_with(frac), "{g} vs {w}");
        assert_ne!(&frac[6..], "000", "nanoseconds lost in {g}");
    }
}

#[test]
fn cut_input_warns_and_keeps_the_packets_before() {
    let dir = tempfile::tempdir().unwrap();
    let out = capture(
        &pcaps_dir().join("trunc-dns-snaplen-cut-short.pcap"),
        dir.path(),
        &["--no-compress"],
    );
    let err = stderr(&out);
    assert!(err.contains("warning: capture cut short"), "{err}");
    assert!(err.contains("after packet 1"), "{err}");
    let recs = load_records(dir.path());
    assert_eq!(recs["UDP"].len(), 1);

    let dir = tempfile::tempdir().unwrap();
    let out = capture(
        &pcaps_dir().join("malformed-record-length.pcap"),
        dir.path(),
        &["--no-compress"],
    );
    let err = stderr(&out);
    assert!(err.contains("warning:"), "{err}");
    assert_eq!(load_records(dir.path())["Ethernet"].len(), 6);
}

#[test]
fn bad_inputs_give_one_readable_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let missing = netcap(&[
        "capture",
        "-r",
        "/nonexistent/x.pcap",
        "-o",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(missing.status.code(), Some(1));
    let err = stderr(&missing);
    assert!(
        err.starts_with("netcap: error: cannot read /nonexistent/x.pcap"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);

    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let not_pcap = netcap(&[
        "capture",
        "-r",
        readme.to_str().unwrap(),
        "-o",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(not_pcap.status.code(), Some(1));
    assert!(
        stderr(&not_pcap).contains("not a pcap or pcapng capture"),
        "{}",
        stderr(&not_pcap)
    );

    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let pcap = pcaps_dir().join("qinq-8021ad-arp.pcap");
    let bad_out = netcap(&[
        "capture",
        "-r",
        pcap.to_str().unwrap(),
        "-o",
        file.join("sub").to_str().unwrap(),
    ]);
    assert_eq!(bad_out.status.code(), Some(1));
    assert!(
        stderr(&bad_out).contains("cannot create output folder"),
        "{}",
        stderr(&bad_out)
    );

    let not_ncap = netcap(&["dump", "-r", readme.to_str().unwrap()]);
    assert_eq!(not_ncap.status.code(), Some(1));
    assert!(
        stderr(&not_ncap).contains("not a Netcap record file"),
        "{}",
        stderr(&not_ncap)
    );
}

fn tcp_file(dir: &Path) -> String {
    capture(
        &pcaps_dir().join("tcp-syn-retransmit-ooo-http-vlan.pcap"),
        dir,
        &["--quiet"],
    );
    dir.join("TCP.ncap.gz").to_str().unwrap().to_string()
}

#[test]
fn dump_formats() {
    let dir = tempfile::tempdir().unwrap();
    let tcp = tcp_file(dir.path());

    let csv_out = stdout(&netcap(&["dump", "-r", &tcp]));
    let mut rdr = csv::Reader::from_reader(csv_out.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    assert_eq!(headers.get(0), Some("Timestamp"));
    // The record's own fields end with PacketNumber, then the labelling fields.
    let names: Vec<&str> = headers.iter().collect();
    assert_eq!(
        names[names.len() - 4..],
        ["PacketNumber", "Label", "Category", "Signature"]
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 254);
    // Options contain the separator and still form one column.
    let opt = headers.iter().position(|h| h == "Options").unwrap();
    assert!(rows[0].get(opt).unwrap().contains("),("), "{:?}", rows[0]);
    assert!(rows.iter().all(|r| r.len() == headers.len()));

    let tsv = stdout(&netcap(&[
        "dump",
        "-r",
        &tcp,
        "--select",
        "DstPort,SrcPort,Timestamp",
        "--tsv",
    ]));
    let mut lines = tsv.lines();
    assert_eq!(lines.next(), Some("DstPort\tSrcPort\tTimestamp"));
    let first: Vec<&str> = lines.next().unwrap().split('\t').collect();
    assert_eq!(first[0], "80");
    assert!(first[2].len() == "1420000000.000000".len() && first[2].as_bytes()[10] == b'.');

    let json = stdout(&netcap(&["dump", "-r", &tcp, "--json"]));
    let objs: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objs.len(), 254);
    assert!(objs[0]["Options"].is_array());
    assert_eq!(objs[0]["Options"][0]["OptionType"], 2);
    assert_eq!(objs[0]["SYN"], true);

    let st = stdout(&netcap(&["dump", "-r", &tcp, "--struct"]));
    assert!(st.starts_with("TCP {\n  Timestamp: "));
    assert!(st.contains("  Options:\n    -\n      OptionType: 2\n"));

    let table = stdout(&netcap(&[
        "dump",
        "-r",
        &tcp,
        "--table",
        "--select",
        "SrcPort,DstPort",
    ]));
    assert!(table.starts_with("SrcPort  DstPort\n"));

    let fields = stdout(&netcap(&["dump", "-r", &tcp, "--fields"]));
    assert!(fields.lines().any(|l| l == "Options\trepeated TCPOption"));

    let header = stdout(&netcap(&["dump", "-r", &tcp, "--header"]));
    assert!(header.contains("Type:             TCP"));
    assert!(header.contains(concat!("Version:          v", env!("CARGO_PKG_VERSION"))));
    assert!(header.contains("tcp-syn-retransmit-ooo-http-vlan.pcap"));
    assert!(
        header.contains("Created:          1700000000.000000"),
        "{header}"
    );

    let bad = netcap(&["dump", "-r", &tcp, "--select", "Timestamp,Nope"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("TCP has no field \"Nope\"; valid fields: Timestamp, SrcPort"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn dump_of_a_damaged_file_prints_what_it_can_and_says_how_much() {
    let dir = tempfile::tempdir().unwrap();
    capture(
        &pcaps_dir().join("tcp-syn-retransmit-ooo-http-vlan.pcap"),
        dir.path(),
        &["--quiet", "--no-compress"],
    );
    let full = std::fs::read(dir.path().join("TCP.ncap")).unwrap();
    let cut = dir.path().join("cut.ncap");
    std::fs::write(&cut, &full[..full.len() / 2]).unwrap();
    let o = netcap(&[
        "dump",
        "-r",
        cut.to_str().unwrap(),
        "--select",
        "PacketNumber",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let printed = stdout(&o).lines().count() - 1;
    assert!(printed > 10);
    assert!(
        stderr(&o).contains(&format!("truncated after {printed} records")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn help_has_examples() {
    for args in [
        vec!["--help"],
        vec!["capture", "--help"],
        vec!["dump", "--help"],
    ] {
        let o = netcap(&args);
        assert!(o.status.success());
        assert!(stdout(&o).contains("Examples:"), "{args:?}");
    }
    let types = stdout(&netcap(&["types"]));
    assert!(
        types
            .lines()
            .any(|l| l.starts_with("TCP") && l.contains("26")),
        "{types}"
    );
}

#[test]
fn include_and_exclude_choose_record_types() {
    let pcap = pcaps_dir().join("tcp-syn-retransmit-ooo-http-vlan.pcap");
    let dir = tempfile::tempdir().unwrap();
    capture(&pcap, dir.path(), &["--quiet", "--include", "TCP,ipv4"]);
    let names: Vec<String> = load_records(dir.path()).into_keys().collect();
    assert_eq!(names, vec!["IPv4".to_string(), "TCP".to_string()]);

    let dir = tempfile::tempdir().unwrap();
    capture(&pcap, dir.path(), &["--quiet", "--exclude", "Ethernet,TCP"]);
    let names: Vec<String> = load_records(dir.path()).into_keys().collect();
    // Connection, Flow and the layer flows: on by default (--no-flows turns them off).
    assert_eq!(
        names,
        [
            "Anomaly",
            "Connection",
            "Dot1Q",
            "File",
            "Flow",
            "HTTP",
            "IPv4",
            "LinkFlow",
            "NetworkFlow",
            "Service",
            "Software",
            "TransportFlow"
        ]
        .map(String::from)
        .to_vec()
    );

    let bad = netcap(&[
        "capture",
        "-r",
        pcap.to_str().unwrap(),
        "-o",
        dir.path().to_str().unwrap(),
        "--include",
        "TCP,Nope",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains(
            "unknown record type \"Nope\"; valid types: Flow, Connection, LinkFlow, NetworkFlow"
        ),
        "{}",
        stderr(&bad)
    );
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Live capture on the loopback interface (needs root, as in CI): traffic sent
/// to 127.0.0.1 is recorded, SIGTERM stops the capture cleanly, every file is
/// complete and the summary is printed.
#[test]
fn live_capture_on_loopback_stops_cleanly_on_sigterm() {
    if !is_root() {
        eprintln!("skipped: live capture needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = 40_000 + (std::process::id() % 20_000) as u16;
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_netcap"))
        .args([
            "capture",
            "-i",
            "lo",
            "--bpf",
            &format!("udp port {port}"),
            "-o",
        ])
        .arg(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..25u8 {
        sock.send_to(&[i; 10], ("127.0.0.1", port)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("25 packets in"), "{err}");
    let recs = load_records(dir.path());
    let udp = &recs["UDP"];
    assert_eq!(udp.len(), 25);
    assert_eq!(text(&udp[0].1, "DstPort"), port.to_string());
    assert_eq!(text(&udp[0].1, "PayloadSize"), "10");
    assert_eq!(
        udp.iter().map(|r| r.0).collect::<Vec<_>>(),
        (1..=25).collect::<Vec<u64>>()
    );
}

#[test]
fn bpf_filter_on_files_means_what_it_means_to_tcpdump() {
    let pcap = pcaps_dir().join("mixed-lan-wireshark-samples.pcapng");
    let dir = tempfile::tempdir().unwrap();
    let out = capture(
        &pcap,
        dir.path(),
        &["--bpf", "udp port 53 or arp", "--no-compress"],
    );
    // tshark cannot apply capture filters to files: compare with the display filter
    // that means the same.
    let tshark = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&pcap)
        .args([
            "-Y",
            "udp.port == 53 || arp",
            "-T",
            "fields",
            "-e",
            "frame.number",
        ])
        .output()
        .unwrap();
    let want: Vec<u64> = String::from_utf8_lossy(&tshark.stdout)
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let recs = load_records(dir.path());
    let got: Vec<u64> = recs["Ethernet"].iter().map(|r| r.0).collect();
    assert_eq!(got, want);
    assert!(
        stderr(&out).contains(&format!("filtered {:>10}", 5898 - want.len())),
        "{}",
        stderr(&out)
    );
}

#[test]
fn direct_csv_and_json_match_dump() {
    let pcap = pcaps_dir().join("ipv6-frag-hbh-icmpv6-nd-ra-mld.pcap");
    let ncap = tempfile::tempdir().unwrap();
    capture(&pcap, ncap.path(), &["--quiet"]);
    for (flag, ext, dump_flag) in [("--csv", "csv", None), ("--json", "json", Some("--json"))] {
        let dir = tempfile::tempdir().unwrap();
        capture(&pcap, dir.path(), &["--quiet", flag]);
        let mut compared = 0;
        for entry in std::fs::read_dir(ncap.path()).unwrap() {
            let p = entry.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let Some(ty) = name.strip_suffix(".ncap.gz") else {
                continue;
            };
            let mut args = vec!["dump", "-r", p.to_str().unwrap()];
            args.extend(dump_flag);
            let want = stdout(&netcap(&args));
            let got = std::fs::read_to_string(dir.path().join(format!("{ty}.{ext}"))).unwrap();
            assert_eq!(got, want, "{ty}.{ext}");
            compared += 1;
        }
        assert!(compared >= 3, "{flag}");
    }
}

/// A capture file made of `copies` back-to-back copies of a legacy test pcap.
fn big_capture(dir: &Path, copies: usize) -> std::path::PathBuf {
    let src = std::fs::read(pcaps_dir().join("mixed-web-tls-http-tcp-anomalies.pcap")).unwrap();
    let mut big = src.clone();
    for _ in 1..copies {
        big.extend_from_slice(&src[24..]);
    }
    let p = dir.join("big.pcap");
    std::fs::write(&p, big).unwrap();
    p
}

/// SIGINT in the middle of reading a file: the summary is printed, the exit
/// status is 130, and every file written is valid to its last record (gzip
/// and zstd streams properly ended).
#[test]
fn interrupted_capture_leaves_valid_files() {
    let dir = tempfile::tempdir().unwrap();
    let input = big_capture(dir.path(), 400);
    for (codec, ext) in [("gzip", ".ncap.gz"), ("zstd", ".ncap.zst")] {
        interrupted_capture(&input, &dir.path().join(codec), codec, ext);
    }
}

fn interrupted_capture(input: &Path, out: &Path, codec: &str, ext: &str) {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_netcap"))
        .args(["capture", "-w", "2", "--compression", codec, "-r"])
        .arg(input)
        .arg("-o")
        .arg(out)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    if o.status.code() == Some(0) {
        // The machine was fast enough to finish before the signal.
        assert!(err.contains("1255200 packets in"), "{err}");
        return;
    }
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    let packets: u64 = err
        .lines()
        .find(|l| l.contains(" packets in "))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(packets > 0 && packets < 1_255_200, "{err}");
    // Every file reads to its end without damage, and holds every packet read.
    let recs = load_records(out);
    assert_eq!(recs["Ethernet"].len() as u64, packets);
    assert!(out.join(format!("Ethernet{ext}")).exists());
}

/// A write failure (the output disk is full) is a clear error and a non-zero
/// exit. Needs root to mount a small tmpfs, as in CI.
#[test]
fn full_disk_is_a_clear_error() {
    if !is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = big_capture(dir.path(), 20);
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    for codec in ["none", "zstd"] {
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
            .arg(&mnt)
            .status()
            .unwrap();
        if !mounted.success() {
            eprintln!("skipped: cannot mount tmpfs here");
            return;
        }
        let o = netcap(&[
            "capture",
            "--compression",
            codec,
            "-r",
            input.to_str().unwrap(),
            "-o",
            mnt.to_str().unwrap(),
        ]);
        let _ = std::process::Command::new("umount").arg(&mnt).status();
        disk_full_error(&o);
    }
}

fn disk_full_error(o: &std::process::Output) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("netcap: error: writing ") && err.contains("No space left on device"),
        "{err}"
    );
    assert_eq!(
        err.lines()
            .filter(|l| l.starts_with("netcap: error"))
            .count(),
        1,
        "{err}"
    );
}

/// Every frame (header and records) of a record file, decompressed.
fn frames(path: &Path) -> Vec<Vec<u8>> {
    let mut r = netcap_format::FileReader::open(path).unwrap();
    let mut v = vec![prost_reflect::prost::Message::encode_to_vec(r.header())];
    while let Some(rec) = r.next_raw().unwrap() {
        v.push(rec.to_vec());
    }
    v
}

/// The same capture written with gzip, zstd and no compression: the same
/// files, each holding the same stream; `netcap dump` prints the same.
#[test]
fn zstd_files_hold_what_gzip_files_hold() {
    let pcap = pcaps_dir().join("mixed-lan-wireshark-samples.pcapng");
    let gz = tempfile::tempdir().unwrap();
    capture(&pcap, gz.path(), &["--quiet"]);
    let zst = tempfile::tempdir().unwrap();
    let out = capture(&pcap, zst.path(), &["--compression", "zstd"]);
    assert!(stderr(&out).contains("records written:"));
    let plain = tempfile::tempdir().unwrap();
    capture(&pcap, plain.path(), &["--quiet", "--compression", "none"]);

    let names = |dir: &Path, ext: &str| -> Vec<String> {
        let mut v: Vec<String> = files(dir)
            .into_iter()
            .filter_map(|(n, _)| n.strip_suffix(ext).map(str::to_string))
            .collect();
        v.sort();
        v
    };
    let types = names(gz.path(), ".ncap.gz");
    assert!(types.len() >= 10, "{types:?}");
    assert_eq!(names(zst.path(), ".ncap.zst"), types);
    assert_eq!(names(plain.path(), ".ncap"), types);
    // Only record files and the side outputs: no stray .ncap.gz next to the .zst.
    assert_eq!(files(zst.path()).len(), files(gz.path()).len());
    for ty in &types {
        let gz_file = gz.path().join(format!("{ty}.ncap.gz"));
        let zst_file = zst.path().join(format!("{ty}.ncap.zst"));
        let zst_bytes = std::fs::read(&zst_file).unwrap();
        assert_eq!(zst_bytes[..4], [0x28, 0xb5, 0x2f, 0xfd], "{ty}: zstd magic");
        let want = frames(&gz_file);
        assert_eq!(frames(&zst_file), want, "{ty}");
        // ... which is the uncompressed file, byte for byte.
        let plain_bytes = std::fs::read(plain.path().join(format!("{ty}.ncap"))).unwrap();
        let stream: Vec<u8> = want
            .iter()
            .flat_map(|f| {
                let mut framed = Vec::new();
                prost_reflect::prost::encoding::encode_varint(f.len() as u64, &mut framed);
                framed.extend_from_slice(f);
                framed
            })
            .collect();
        assert_eq!(stream, plain_bytes, "{ty}");
    }
    // netcap dump prints the same for both, in every format.
    for ty in ["TCP", "DNS", "Connection"] {
        for flags in [&[][..], &["--json"], &["--header"]] {
            let dump = |path: &Path| {
                let mut args = vec!["dump", "-r", path.to_str().unwrap()];
                args.extend_from_slice(flags);
                let o = netcap(&args);
                assert!(o.status.success(), "{}", stderr(&o));
                stdout(&o)
            };
            let want = dump(&gz.path().join(format!("{ty}.ncap.gz")));
            assert!(want.lines().count() > 1, "{ty} {flags:?}");
            assert_eq!(
                dump(&zst.path().join(format!("{ty}.ncap.zst"))),
                want,
                "{ty} {flags:?}"
            );
        }
    }
    // A higher level: smaller, same records.
    let zst9 = tempfile::tempdir().unwrap();
    capture(
        &pcap,
        zst9.path(),
        &[
            "--quiet",
            "--compression",
            "zstd",
            "--compression-level",
            "9",
        ],
    );
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    let tcp1 = zst.path().join("TCP.ncap.zst");
    let tcp9 = zst9.path().join("TCP.ncap.zst");
    assert!(size(&tcp9) < size(&tcp1));
    assert_eq!(frames(&tcp9), frames(&tcp1));
}

/// A .ncap.zst cut short: `netcap dump` prints the records of the complete
/// zstd blocks, then says how many; a clear error, no panic.
#[test]
fn dump_of_a_truncated_zstd_file() {
    let dir = tempfile::tempdir().unwrap();
    // 3 MB of TCP records: about 25 zstd blocks.
    capture(
        &big_capture(dir.path(), 20),
        dir.path(),
        &["--quiet", "--compression", "zstd", "--include", "TCP"],
    );
    let full = std::fs::read(dir.path().join("TCP.ncap.zst")).unwrap();
    for (name, len) in [("half", full.len() / 2), ("last", full.len() - 2)] {
        let cut = dir.path().join(format!("{name}.ncap.zst"));
        std::fs::write(&cut, &full[..len]).unwrap();
        let o = netcap(&[
            "dump",
            "-r",
            cut.to_str().unwrap(),
            "--select",
            "PacketNumber",
        ]);
        assert_eq!(o.status.code(), Some(1), "{name}");
        let err = stderr(&o);
        let printed = stdout(&o).lines().count() - 1;
        assert!(printed > 100, "{name}: {printed}");
        assert!(
            err.starts_with("netcap: error: ")
                && err.contains(&format!("truncated after {printed} records")),
            "{name}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    // Cut inside the first block: not even the header can be read.
    let cut = dir.path().join("head.ncap.zst");
    std::fs::write(&cut, &full[..100]).unwrap();
    let o = netcap(&["dump", "-r", cut.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not a Netcap record file (the file ends inside the header record)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn compression_options_are_checked_per_codec() {
    let pcap = pcaps_dir().join("qinq-8021ad-arp.pcap");
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "capture",
            "-q",
            "-r",
            pcap.to_str().unwrap(),
            "-o",
            dir.path().to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        netcap(&args)
    };
    for (extra, msg) in [
        (
            &["--compression", "zstd", "--compression-level", "20"][..],
            "zstd compression level must be -7 to 19, got 20",
        ),
        (
            &["--compression", "zstd", "--compression-level", "0"],
            "zstd has no compression level 0",
        ),
        (
            &["--compression-level", "10"],
            "gzip compression level must be 0 to 9, got 10",
        ),
        (
            &["--compression", "gzip", "--compression-level", "-1"],
            "gzip compression level must be 0 to 9, got -1",
        ),
        (
            &["--compression", "none", "--compression-level", "3"],
            "uncompressed output takes no compression level",
        ),
        (
            &["--no-compress", "--compression-level", "3"],
            "cannot be used with",
        ),
        (
            &["--no-compress", "--compression", "zstd"],
            "cannot be used with",
        ),
        (&["--csv", "--compression", "zstd"], "cannot be used with"),
        (
            &["--compression", "lz4"],
            "[possible values: gzip, zstd, none]",
        ),
    ] {
        let o = run(extra);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(msg), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    for (extra, file) in [
        (
            &["--compression", "zstd", "--compression-level", "-7"][..],
            "ARP.ncap.zst",
        ),
        (
            &["--compression", "zstd", "--compression-level", "19"],
            "ARP.ncap.zst",
        ),
        (&["--compression-level", "0"], "ARP.ncap.gz"),
        (&["--compression", "none"], "ARP.ncap"),
    ] {
        let o = run(extra);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        let recs = load_records(dir.path());
        assert_eq!(recs["ARP"].len(), 2, "{extra:?}");
        assert!(dir.path().join(file).exists(), "{extra:?}");
        for f in files(dir.path()) {
            std::fs::remove_file(dir.path().join(f.0)).unwrap();
        }
    }
}

/// Copies of a tunnel capture carried by other outer hosts, interleaved:
/// the same inner 5-tuples inside several outer address pairs, and tunnel
/// packets that start a direction of the outer and of the inner connection.
/// Inner connections must not depend on which worker owns which outer pair.
#[test]
fn tunnels_of_several_outer_hosts_do_not_depend_on_the_worker_count() {
    let src = std::fs::read(pcaps_dir().join("vxlan-dns-ntp-ssh.pcap")).unwrap();
    // Classic little-endian pcap with Ethernet frames.
    assert_eq!(&src[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
    assert_eq!(u32::from_le_bytes(src[20..24].try_into().unwrap()), 1);
    let mut frames = Vec::new();
    let mut at = 24;
    while at + 16 <= src.len() {
        let incl = u32::from_le_bytes(src[at + 8..at + 12].try_into().unwrap()) as usize;
        frames.push(&src[at..at + 16 + incl]);
        at += 16 + incl;
    }
    let mut out = src[..24].to_vec();
    for f in &frames {
        for copy in 0u8..6 {
            let mut f = f.to_vec();
            // Outer IPv4 source and destination, last octets (the decoders
            // do not check the header checksum).
            if f.len() > 16 + 34 && f[16 + 12..16 + 14] == [0x08, 0x00] {
                f[16 + 14 + 15] ^= copy * 17;
                f[16 + 14 + 19] ^= copy * 29;
            }
            out.extend_from_slice(&f);
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let pcap = tmp.path().join("vxlan-copies.pcap");
    std::fs::write(&pcap, out).unwrap();
    let mut reference: Option<Vec<(String, Vec<u8>)>> = None;
    for workers in ["1", "2", "3"] {
        let dir = tempfile::tempdir().unwrap();
        capture(
            &pcap,
            dir.path(),
            &["--workers", workers, "-q", "--no-compress"],
        );
        let got = files(dir.path());
        match &reference {
            None => {
                // Every copy's inner connections are there.
                let conns = load_records(dir.path());
                let tunnel = conns["Connection"]
                    .iter()
                    .filter(|(_, c)| text(c, "LinkProto") == "Tunnel")
                    .count();
                assert!(tunnel >= 6 && tunnel % 6 == 0, "{tunnel} inner connections");
                reference = Some(got);
            }
            Some(r) => {
                for (a, b) in r.iter().zip(&got) {
                    assert!(a.1 == b.1, "{} differs with {workers} workers", a.0);
                }
                assert_eq!(r.len(), got.len());
            }
        }
    }
}

/// Reads the number in the summary line starting with `prefix` (after spaces).
fn summary_field(err: &str, prefix: &str) -> u64 {
    err.lines()
        .find_map(|l| l.trim_start().strip_prefix(prefix))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {prefix:?} in {err}"))
        .parse()
        .unwrap()
}

/// `--metrics` on a file capture: while the server lingers after the end,
/// /metrics holds exactly the summary's numbers (packets, bytes, outcomes,
/// records per type, fragments) and the output bytes are the sizes of the
/// files written; the process then exits normally.
#[test]
fn metrics_after_a_file_capture_equal_the_summary() {
    use std::io::{BufRead, Read, Write};
    for name in [
        "mixed-lan-wireshark-samples.pcapng",
        "ip-fragments-dns-udp-icmp.pcap",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_netcap"))
            .args(["capture", "-w", "2", "--metrics", "127.0.0.1:0"])
            .args(["--metrics-linger", "5", "-r"])
            .arg(pcaps_dir().join(name))
            .arg("-o")
            .arg(dir.path())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let mut err = String::new();
        let mut addr = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(a) = line.strip_prefix("netcap: metrics at http://") {
                addr = Some(a.trim_end_matches("/metrics").to_string());
            }
            err.push_str(&line);
            err.push('\n');
            if line.starts_with("output: ") {
                break;
            }
        }
        let addr = addr.unwrap_or_else(|| panic!("no metrics address in {err}"));
        let mut conn = std::net::TcpStream::connect(&addr).unwrap();
        conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut resp = String::new();
        conn.read_to_string(&mut resp).unwrap();
        let (head, body) = resp.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
        assert!(
            head.contains("Content-Type: text/plain; version=0.0.4"),
            "{head}"
        );
        let metrics: std::collections::HashMap<&str, f64> = body
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                let (series, v) = l.rsplit_once(' ').unwrap();
                (series, v.parse().unwrap())
            })
            .collect();
        let m = |series: &str| -> u64 {
            *metrics
                .get(series)
                .unwrap_or_else(|| panic!("{name}: no {series} in {body}")) as u64
        };
        let packets: u64 = err
            .lines()
            .find(|l| l.contains(" packets in "))
            .and_then(|l| l.split_whitespace().next())
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(m("netcap_capture_running"), 0, "{name}");
        assert_eq!(m("netcap_packets_read_total"), packets, "{name}");
        assert_eq!(m("netcap_bytes_read_total"), summary_field(&err, "bytes "));
        for (outcome, label) in [
            ("decoded", "decoded "),
            ("partial", "partial "),
            ("unknown", "unknown "),
            ("error", "errors "),
        ] {
            assert_eq!(
                m(&format!(
                    "netcap_packets_processed_total{{outcome=\"{outcome}\"}}"
                )),
                summary_field(&err, label),
                "{name}: {outcome}"
            );
        }
        let records: Vec<(&str, u64)> = err
            .split("records written:\n")
            .nth(1)
            .unwrap()
            .lines()
            .take_while(|l| l.starts_with("  "))
            .map(|l| {
                let mut w = l.split_whitespace();
                (w.next().unwrap(), w.next().unwrap().parse().unwrap())
            })
            .collect();
        assert!(records.len() >= 5, "{name}: {err}");
        for (ty, n) in &records {
            assert_eq!(
                m(&format!("netcap_records_written_total{{type=\"{ty}\"}}")),
                *n,
                "{name}: {ty}"
            );
        }
        let series = metrics
            .keys()
            .filter(|k| k.starts_with("netcap_records_written_total{"))
            .count();
        assert_eq!(series, records.len(), "{name}");
        if let Some(frags) = err.lines().find_map(|l| l.strip_prefix("IP fragments ")) {
            let n: u64 = frags.split(':').next().unwrap().parse().unwrap();
            assert_eq!(m("netcap_ip_fragments_total"), n, "{name}");
            assert!(n > 0);
        }
        assert_eq!(m("netcap_connections_open"), 0);
        assert_eq!(m("netcap_streams_open"), 0);
        let status = child.wait().unwrap();
        assert!(status.success(), "{name}: {err}");
        let on_disk: u64 = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        assert_eq!(m("netcap_output_bytes_total"), on_disk, "{name}");
        assert_eq!(
            m("netcap_output_files"),
            std::fs::read_dir(dir.path()).unwrap().count() as u64
        );
    }
}

#[test]
fn metrics_on_a_busy_port_is_an_error_before_capturing() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let out = netcap(&[
        "capture",
        "-r",
        pcaps_dir().join("geneve.pcap").to_str().unwrap(),
        "-o",
        dir.path().to_str().unwrap(),
        "--metrics",
        &format!("127.0.0.1:{port}"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("cannot listen on 127.0.0.1:{port} for metrics")),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
