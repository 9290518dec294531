//! Tests of the TLS parser: fingerprint vectors, real handshakes from the
//! capture fixtures in `testdata/`, and the parser contract (splits, gaps,
//! violations, hostile input).

use super::*;
use crate::parser::ConnMeta;

use crate::testkit::{fixture, meta as conn_meta};

type Engine = crate::testkit::Engine<TlsParser>;

fn meta() -> ConnMeta {
    conn_meta("CTLS1", 443)
}

impl Engine {
    fn new() -> Engine {
        Engine::with(TlsParser::default(), meta())
    }

    fn finish(&mut self) {
        self.finish_at(0);
    }

    fn records(&self) -> Vec<StreamRecord> {
        self.out.iter().map(|(_, r)| r.clone()).collect()
    }
}

macro_rules! fixture {
    ($name:literal) => {
        fixture(include_str!(concat!("testdata/", $name, ".txt")))
    };
}

/// Runs a fixture through the engine, each segment cut into `piece`-byte
/// pieces (0: whole segments).
fn run(segs: &[(u64, Dir, Vec<u8>)], piece: usize) -> Engine {
    let mut e = Engine::new();
    for (frame, dir, bytes) in segs {
        if piece == 0 {
            e.feed(*dir, *frame, bytes);
        } else {
            for chunk in bytes.chunks(piece) {
                e.feed(*dir, *frame, chunk);
            }
        }
    }
    e.finish();
    assert!(e.error.is_none(), "{:?}", e.error);
    e
}

fn client_hellos(e: &Engine) -> Vec<TlsClientHello> {
    e.records()
        .into_iter()
        .filter_map(|r| match r {
            StreamRecord::TlsClientHello(c) => Some(*c),
            _ => None,
        })
        .collect()
}

fn server_hellos(e: &Engine) -> Vec<TlsServerHello> {
    e.records()
        .into_iter()
        .filter_map(|r| match r {
            StreamRecord::TlsServerHello(c) => Some(*c),
            _ => None,
        })
        .collect()
}

fn certs(e: &Engine) -> Vec<X509Certificate> {
    e.records()
        .into_iter()
        .filter_map(|r| match r {
            StreamRecord::X509(c) => Some(*c),
            _ => None,
        })
        .collect()
}

fn anomalies(e: &Engine) -> Vec<String> {
    e.records()
        .into_iter()
        .filter_map(|r| match r {
            StreamRecord::Anomaly(a) => Some(a.name),
            _ => None,
        })
        .collect()
}

// ---- fingerprint vectors (app-layer.md §4.5) ----

#[test]
fn ja3_vectors() {
    for (s, h) in [
        (
            "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0",
            "ada70206e40642a3e4461f35503241d5",
        ),
        (
            "769,4-5-10-9-100-98-3-6-19-18-99,,,",
            "de350869b8c85de67a350c8d186f11e6",
        ),
        (
            "771,4866-255,0-11-10-35-13-22-23-43-45-40,29-23-25-24,0-1-2",
            "0e870cb29dd59424064948532781a7f6",
        ),
        (
            "771,4865-4867,0-43-13-10-40,23,",
            "786468211b4d23f9b725987b0de9d090",
        ),
        // JA3S
        (
            "771,49199,65281-0-11-16-23",
            "5d79edf64e03689ff559a54e9d9487bc",
        ),
    ] {
        assert_eq!(ja3::md5_hex(s), h, "{s}");
    }
}

#[test]
fn ja3_string_drops_grease_and_keeps_empty_fields() {
    let ch = hello::ClientHello {
        version: 769,
        cipher_suites: vec![0x0a0a, 4, 5],
        extensions: vec![0xfafa],
        groups: vec![0x1a1a],
        ..Default::default()
    };
    assert_eq!(ja3::ja3_string(&ch), "769,4-5,,,");
}

fn hex_u16s(s: &str) -> Vec<u16> {
    s.split(',')
        .map(|v| u16::from_str_radix(v, 16).unwrap())
        .collect()
}

#[test]
fn ja4_spec_vectors() {
    let ciphers =
        hex_u16s("002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9");
    assert_eq!(ja4::part_b(&ciphers), "8daaf6152771");
    // Order and GREASE do not matter for b.
    let mut shuffled: Vec<u16> = ciphers.iter().rev().copied().collect();
    shuffled.insert(3, 0x2a2a);
    assert_eq!(ja4::part_b(&shuffled), "8daaf6152771");
    let exts = hex_u16s("0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01");
    let sigs = hex_u16s("0403,0804,0401,0503,0805,0501,0806,0601");
    assert_eq!(ja4::part_c(&exts, &sigs), "e5627efa2ab1");
    // SNI, ALPN and GREASE are left out of c.
    let mut with = exts.clone();
    with.extend([0x0000, 0x0010, 0x3a3a]);
    assert_eq!(ja4::part_c(&with, &sigs), "e5627efa2ab1");
    assert_eq!(ja4::part_c(&exts, &[]), "6d807ffa2a79");
    // Empty lists: twelve zeros, not the hash of "".
    assert_eq!(ja4::part_b(&[]), "000000000000");
    assert_eq!(ja4::part_b(&[0x0a0a]), "000000000000");
    assert_eq!(ja4::part_c(&[0x0000, 0x0010], &[]), "000000000000");
}

#[test]
fn ja4_suricata_synthetic_vectors() {
    assert_eq!(ja4::part_b(&[0x1111, 0x0a20, 0xbada]), "f500716053f9");
    assert_eq!(
        ja4::part_c(&[0x0a0a, 0x0000, 0x0010, 0xface, 0x0121, 0x1234], &[0x6666]),
        "2debc8880bae"
    );
    assert_eq!(ja4::alpn_code(Some(b"h3-16")), "h6");
    assert_eq!(ja4::alpn_code(Some(b"b")), "bb");
    assert_eq!(ja4::alpn_code(Some(&[0xab])), "ab");
    assert_eq!(ja4::alpn_code(Some(&[0xab, 0xcd])), "ad");
    assert_eq!(ja4::alpn_code(Some(&[0x30, 0xab])), "3b");
    assert_eq!(ja4::alpn_code(Some(&[0x30, 0x31, 0xab, 0xcd])), "3d");
    assert_eq!(ja4::alpn_code(Some(&[0xba, 0xad])), "bd");
    assert_eq!(ja4::alpn_code(Some(b"")), "00");
    assert_eq!(ja4::alpn_code(None), "00");
    assert_eq!(ja4::alpn_code(Some(b"http/1.1")), "h1");
}

#[test]
fn ja4_counts_cap_at_99_and_version_from_supported_versions() {
    let ch = hello::ClientHello {
        version: 0x0303,
        cipher_suites: (1..200).collect(),
        extensions: (1..200).collect(),
        supported_versions: vec![0x7a7a, 0x0304, 0x0303],
        ..Default::default()
    };
    assert!(ja4::ja4(&ch).starts_with("t13i999900_"));
    let ch = hello::ClientHello {
        version: 0x0301,
        ..Default::default()
    };
    assert_eq!(ja4::ja4(&ch), "t10i000000_000000000000_000000000000");
}

// ---- captures ----

struct Expect {
    name: &'static str,
    segs: Vec<(u64, Dir, Vec<u8>)>,
    sni: &'static str,
    ja3: &'static str,
    ja3s: &'static str,
    ja4: &'static str,
    frames: (u64, u64),
    certs: usize,
}

fn expectations() -> Vec<Expect> {
    vec![
        Expect {
            name: "tls12-ja4-components-sni",
            segs: fixture!("tls12-ja4-components-sni"),
            sni: "dogfish",
            ja3: "871a754af286dfb70c1b53c6887c62e0",
            ja3s: "ec74a5c51106f0419184d0dd08fb05bc",
            ja4: "t12d280700_d943125447b4_3c5a66c06c35",
            frames: (4, 6),
            certs: 1,
        },
        Expect {
            name: "tls13-quic-ja4-ipv6 (TCP)",
            segs: fixture!("tls13-quic-ja4-ipv6-tcp"),
            sni: "cloudflare-quic.com",
            ja3: "cd08e31494f9531f560d64c695473da9",
            ja3s: "eb1d94daa7e0344597e756a1fb6e7054",
            ja4: "t13d1516h2_8daaf6152771_e5627efa2ab1",
            frames: (4, 6),
            certs: 0,
        },
        Expect {
            name: "tls12-client-certificate-auth",
            segs: fixture!("tls12-client-certificate-auth"),
            sni: "localhost",
            ja3: "2a26b1a62e40d25d4de3babc9d532f30",
            ja3s: "a9e3ed16ee3208291487c8d2aa2ad924",
            ja4: "t12d6707h2_2955a3196ffa_c83f907a73d3",
            frames: (5, 7),
            certs: 3,
        },
        Expect {
            name: "tcp-handshake-ack-with-data-retransmits-tls",
            segs: fixture!("tcp-handshake-ack-with-data-retransmits-tls"),
            sni: "raw.githubusercontent.com",
            ja3: "316193effb467e51d0301cabd36b69e0",
            ja3s: "098e26e2609212ac1bfac552fbe04127",
            ja4: "t12d620800_106a9de34958_ce8ec278e0aa",
            frames: (3, 5),
            certs: 2,
        },
        Expect {
            name: "6in4-tunnel-tls-http stream 1",
            segs: fixture!("6in4-tunnel-tls-http-s1"),
            sni: "www.facebook.com",
            ja3: "eb7cdd4e7dea7a11b3016c3c9acbd2a3",
            ja3s: "6806b8fe92d7d465715d771eb102ff04",
            ja4: "t12d1311s1_94beff773b37_06a4338d0495",
            frames: (25, 27),
            certs: 2,
        },
        Expect {
            name: "6in4-tunnel-tls-http stream 5",
            segs: fixture!("6in4-tunnel-tls-http-s5"),
            sni: "mail.tomasu.net",
            ja3: "812d8bce0f85487ba7834d36568ed586",
            ja3s: "389ed42c02ebecc32e73aa31def07e14",
            ja4: "t12d660800_05dad94a8930_ad3c3a211394",
            frames: (94, 96),
            certs: 4,
        },
        Expect {
            name: "tls12-handshake-certs stream 0",
            segs: fixture!("tls12-handshake-certs-s0"),
            sni: "",
            ja3: "308b0bd904abbef5e0034a1ff7a78920",
            ja3s: "ccc514751b175866924439bdbb5bba34",
            ja4: "t12i1810s1_27d4652c4487_06a4338d0495",
            frames: (9, 15),
            certs: 1,
        },
        Expect {
            name: "tls12-handshake-certs stream 4",
            segs: fixture!("tls12-handshake-certs-s4"),
            sni: "",
            ja3: "17f35db704ac47c259abb89f8387bbae",
            ja3s: "fbe78c619e7ea20046131294ad087f05",
            ja4: "t12i1810s1_27d4652c4487_f2efb249ca37",
            frames: (62, 89),
            certs: 0,
        },
        Expect {
            name: "tls13-ipv6 stream 0",
            segs: fixture!("tls13-ipv6-s0"),
            sni: "dns.google",
            ja3: "7a15285d4efc355608b304698cd7f9ab",
            ja3s: "eb1d94daa7e0344597e756a1fb6e7054",
            ja4: "t13d1911h2_9dc949149365_e7c285222651",
            frames: (4, 6),
            certs: 0,
        },
        Expect {
            name: "tls13-ipv6 stream 1",
            segs: fixture!("tls13-ipv6-s1"),
            sni: "ipv6.google.com",
            ja3: "e690df036922288311144cc96acf6515",
            ja3s: "907bf3ecef1c987c889946b737b43de8",
            ja4: "t13d3613h2_018971650b2c_e7e754ef087b",
            frames: (38, 40),
            certs: 0,
        },
        Expect {
            name: "rawip-tls13-alpn",
            segs: fixture!("rawip-tls13-alpn"),
            sni: "p130-contacts.icloud.com",
            ja3: "773906b0efdefa24a7f2b8eb6985bf37",
            ja3s: "9b340edddb1203ae20167d3089fa10af",
            ja4: "t13d2014h2_a09f3c656075_14788d8d241b",
            frames: (4, 6),
            certs: 2,
        },
    ]
}

#[test]
fn captures_give_the_expected_fingerprints() {
    for x in expectations() {
        let e = run(&x.segs, 0);
        let ch = client_hellos(&e);
        let sh = server_hellos(&e);
        assert_eq!(ch.len(), 1, "{}", x.name);
        assert_eq!(sh.len(), 1, "{}", x.name);
        let (c, s) = (&ch[0], &sh[0]);
        assert_eq!(c.sni, x.sni, "{}", x.name);
        assert_eq!(c.ja3, x.ja3, "{}", x.name);
        assert_eq!(c.ja3, ja3::md5_hex(&c.ja3_string), "{}", x.name);
        assert_eq!(c.ja4, x.ja4, "{}", x.name);
        assert_eq!(s.ja3s, x.ja3s, "{}", x.name);
        assert_eq!(s.ja3s, ja3::md5_hex(&s.ja3s_string), "{}", x.name);
        assert_eq!((c.packet_number, s.packet_number), x.frames, "{}", x.name);
        assert_eq!(c.timestamp, x.frames.0 as i64 * 1_000, "{}", x.name);
        assert_eq!(certs(&e).len(), x.certs, "{}", x.name);
        assert!(anomalies(&e).is_empty(), "{}: {:?}", x.name, anomalies(&e));
        for rec in [&c.connection_uid, &s.connection_uid] {
            assert_eq!(rec, "CTLS1");
        }
        assert_eq!((c.src_ip.as_str(), c.src_port), ("10.0.0.1", 40000));
        assert_eq!((s.dst_ip.as_str(), s.dst_port), ("10.0.0.2", 443));
        assert!(c.src_mac.is_empty() && c.dst_mac.is_empty());
        assert_eq!((c.r#type, c.handshake_type), (22, 1), "{}", x.name);
        assert_eq!(c.random.len(), 32);
        assert_eq!(c.session_id_len as usize, c.session_id.len());
    }
}

#[test]
fn one_byte_pieces_give_the_same_records() {
    for x in expectations() {
        let whole = run(&x.segs, 0).records();
        let bytes = run(&x.segs, 1).records();
        assert_eq!(whole, bytes, "{}", x.name);
        let odd = run(&x.segs, 7).records();
        assert_eq!(whole, odd, "{}", x.name);
    }
}

#[test]
fn tls12_components_lists() {
    let e = run(&fixture!("tls12-ja4-components-sni"), 0);
    let c = &client_hellos(&e)[0];
    let s = &server_hellos(&e)[0];
    let ints = |s: &str| {
        s.split(',')
            .map(|v| v.parse::<i32>().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        c.cipher_suites,
        ints("49196,49200,159,52393,52392,52394,49195,49199,158,49188,49192,107,49187,49191,103,49162,49172,57,49161,49171,51,157,156,61,60,53,47,255")
    );
    assert_eq!(c.cipher_suite_len as usize, 2 * c.cipher_suites.len());
    assert_eq!(c.extensions, ints("0,11,10,35,22,23,13"));
    assert_eq!(
        c.signature_algs,
        ints("1027,1283,1539,2055,2056,2057,2058,2059,2052,2053,2054,1025,1281,1537,771,515,769,513,770,514,1026,1282,1538")
    );
    assert!(c.ticket_supported);
    assert!(c.alp_ns.is_empty());
    assert_eq!(c.handshake_version, 0x0303);
    assert_eq!(s.cipher_suite, 49200);
    assert_eq!(s.extensions, ints("65281,11,35,23"));
    assert_eq!(s.ja3s_string, "771,49200,65281-11-35-23");
    assert!(s.secure_renegotiation_supported && s.ticket_supported && s.ems);
    assert!(!s.hello_retry_request);
    assert_eq!(s.supported_version, 0);
}

#[test]
fn tls13_hellos() {
    let e = run(&fixture!("tls13-quic-ja4-ipv6-tcp"), 0);
    let c = &client_hellos(&e)[0];
    let s = &server_hellos(&e)[0];
    assert_eq!(c.alp_ns, ["h2", "http/1.1"]);
    assert!(c.supported_versions.contains(&0x0304));
    assert!(!c.key_share_groups.is_empty());
    assert_eq!(c.psk_modes, [1]);
    assert_eq!(s.supported_version, 0x0304);
    assert_eq!(s.version, 0x0303);
    assert_eq!(s.cipher_suite, 0x1301);
    assert_ne!(s.selected_group, 0);
    // Nothing readable after a TLS 1.3 ServerHello: no certificate, no anomaly.
    assert!(certs(&e).is_empty());
    assert!(e.parser.tls13);
}

// Expected names: `openssl x509 -subject -issuer -nameopt RFC2253`.

#[test]
fn alpn_both_sides() {
    let e = run(&fixture!("rawip-tls13-alpn"), 0);
    let c = &client_hellos(&e)[0];
    let s = &server_hellos(&e)[0];
    assert_eq!(c.alp_ns, ["h2", "http/1.1"]);
    assert_eq!(s.alpn_protocol, "http/1.1");
    assert!(c.oscp && s.ocsp_stapling);
    let certs = certs(&e);
    assert_eq!(
        certs[0].subject,
        "CN=p127-contacts.icloud.com,O=Apple Inc.,ST=California,C=US"
    );
    assert_eq!(
        certs[0].issuer,
        "C=US,O=Apple Inc.,OU=Certification Authority,CN=Apple IST CA 2 - G1"
    );
    assert_eq!(certs[0].sandns.len(), 16);
    assert!(certs[0]
        .sandns
        .iter()
        .any(|d| d == "p130-contacts.icloud.com"));
    assert_eq!(
        (certs[0].key_alg.as_str(), certs[0].key_length),
        ("ecdsa", 256)
    );
    assert_eq!(certs[0].curve, "prime256v1");
    assert_eq!(certs[0].sig_alg, "sha256WithRSAEncryption");
    // The Certificate message (frames 6-8) starts in a record that begins in
    // frame 6: the origin is there, not where tshark finishes reassembling.
    assert_eq!((certs[0].packet_number, certs[1].packet_number), (6, 6));
}

#[test]
fn client_certificate_auth() {
    let e = run(&fixture!("tls12-client-certificate-auth"), 0);
    let certs = certs(&e);
    assert_eq!(certs.len(), 3);
    let (a, b, c) = (&certs[0], &certs[1], &certs[2]);
    assert_eq!(
        (a.chain_index, a.client_cert, a.packet_number),
        (0, false, 7)
    );
    assert_eq!(a.serial, "00c7d4288b80e01e25");
    assert_eq!(a.length, 943);
    assert_eq!(a.version, 3);
    assert_eq!(
        a.subject,
        "CN=SampleServer,O=TLSClientAuthSampleServer,L=Budapest,ST=Budapest,C=HU"
    );
    assert_eq!(
        a.issuer,
        "CN=SampleRoot,O=TLSClientAuthSampleCA,L=Budapest,ST=Budapest,C=HU"
    );
    assert_eq!(
        (a.subject_cn.as_str(), a.issuer_cn.as_str()),
        ("SampleServer", "SampleRoot")
    );
    assert_eq!(a.sandns, ["localhost"]);
    assert_eq!(a.not_before, 1_523_739_327_000_000_000);
    assert_eq!(a.not_after, 1_526_331_327_000_000_000);
    assert_eq!(a.sha1, "0639f95dfe8153c49df0ac803e2d4207e896de09");
    assert_eq!(
        a.sha256,
        "d061196de0be0925d949192619eafe97746f245c1f775f9b3fbc3ec033d7d07a"
    );
    assert!(!a.ca && !a.self_signed);
    assert_eq!((b.chain_index, b.client_cert, b.length), (1, false, 905));
    assert_eq!(b.sha1, "d1787a539c31a7d41ed6b394226a8575a9185e06");
    assert!(b.ca && b.self_signed);
    assert_eq!(b.path_len, -1);
    assert_eq!(
        (c.chain_index, c.client_cert, c.packet_number),
        (0, true, 9)
    );
    assert_eq!(c.serial, "00c7d4288b80e01e27");
    assert_eq!(c.subject_cn, "SampleClientJane");
    assert_eq!(c.length, 912);
    assert_eq!(
        c.sha256,
        "a25ade469b6a611ba6668f46210b3b3f001b51b1d2bc9f0c152812b32c0c4b42"
    );
    assert_eq!((c.key_alg.as_str(), c.key_length), ("rsa", 2048));
    assert!(c.parse_error.is_empty());
    // Src/Dst stay client/server for the client's certificate too.
    assert_eq!((c.src_port, c.dst_port), (40000, 443));
}

#[test]
fn certificate_spread_over_segments() {
    // Frame 10's Certificate message is reassembled from frames 5, 7 and 10.
    let e = run(&fixture!("tcp-handshake-ack-with-data-retransmits-tls"), 0);
    let certs = certs(&e);
    assert_eq!(certs.len(), 2);
    assert_eq!((certs[0].length, certs[1].length), (1964, 1205));
    assert_eq!(certs[0].serial, "083a84592f77f2e7951bf887cedec966");
    assert_eq!(
        certs[0].sandns[..3],
        ["www.github.com", "*.github.com", "github.com"]
    );
    assert_eq!(
        certs[0].subject,
        "CN=www.github.com,O=GitHub\\, Inc.,L=San Francisco,ST=California,C=US"
    );
    assert_eq!(certs[0].sha1, "ccaa484866460e91532c9c7c232ab1744d299d33");
    assert_eq!(certs[1].path_len, 0);
    assert!(certs[1].ca);
    assert_eq!(certs[0].packet_number, 5);
}

#[test]
fn selks_and_facebook_and_comodo_chains() {
    let e = run(&fixture!("tls12-handshake-certs-s0"), 0);
    let c = &certs(&e)[0];
    assert_eq!(c.serial, "0097e647098eeac9b4");
    assert_eq!(c.issuer, "CN=SELKS,O=Stamus,L=Paris,ST=IDF,C=FR");
    assert_eq!(c.not_before, 1_423_764_447_000_000_000);
    assert!(c.self_signed && c.ca);
    assert_eq!(
        c.sha256,
        "a1384fd08fc279c929dc62253e9eed1330684bfe4d274b62e5b27e22999a1646"
    );

    let e = run(&fixture!("6in4-tunnel-tls-http-s1"), 0);
    let c = certs(&e);
    assert_eq!(c[0].subject_cn, "*.facebook.com");
    assert_eq!(c[0].issuer_cn, "DigiCert High Assurance CA-3");
    assert_eq!(c[0].sandns.len(), 13);
    assert_eq!(
        (c[0].key_alg.as_str(), c[0].curve.as_str()),
        ("ecdsa", "prime256v1")
    );
    assert_eq!(c[0].sig_alg, "sha1WithRSAEncryption");
    assert_eq!(c[0].sha1, "93c6fd1a8490bbf1b23b49a09b1f6f0b467a3141");
    assert_eq!((c[1].ca, c[1].path_len), (true, 0));

    let e = run(&fixture!("6in4-tunnel-tls-http-s5"), 0);
    let c = certs(&e);
    assert_eq!(c.len(), 4);
    assert_eq!(
        c.iter().map(|c| c.chain_index).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert_eq!(
        c[0].subject,
        "CN=mail.tomasu.net,OU=PositiveSSL,OU=Domain Control Validated"
    );
    assert_eq!(c[3].serial, "01");
    assert!(c[3].self_signed);
    assert_eq!(c[2].key_length, 4096);
    assert_eq!(
        c[2].sha256,
        "4f32d5dc00f715250abcc486511e37f501a899deb3bf7ea8adbbd3aef1c412da"
    );

    let e = run(&fixture!("tls12-ja4-components-sni"), 0);
    let c = &certs(&e)[0];
    assert_eq!(c.version, 1);
    assert_eq!(c.serial, "0091ba747bf28a9ae4");
    assert_eq!(c.subject, "emailAddress=support@cloudshark.org,CN=tls,O=CloudShark,L=Portsmouth,ST=New Hampshire,C=US");
    assert_eq!(c.key_length, 1024);
    assert_eq!(c.path_len, -1);
}

// ---- contract ----

/// A handshake record (ClientHello by default) of `body`.
fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type, 3, 3];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// The ClientHello handshake message of the first fixture (4-byte header included).
fn chrome_hello() -> Vec<u8> {
    let segs = fixture!("tls13-quic-ja4-ipv6-tcp");
    segs[0].2[5..].to_vec()
}

#[test]
fn probe_recognises_hellos() {
    let ch = record(22, &chrome_hello());
    assert_eq!(probe(Dir::ToServer, &ch, false), Probe::Yes);
    assert_eq!(probe(Dir::ToClient, &ch, false), Probe::No);
    assert_eq!(probe(Dir::ToServer, &ch[..5], false), Probe::NeedMore);
    assert_eq!(probe(Dir::ToServer, &ch[..6], false), Probe::Yes);
    assert_eq!(probe(Dir::ToServer, b"GET / HTTP/1.1\r\n", true), Probe::No);
    assert_eq!(probe(Dir::ToServer, &[22, 3, 1, 0, 0, 1], true), Probe::No);
    assert_eq!(probe(Dir::ToServer, &[22, 3, 5, 0, 9, 1], true), Probe::No);
    let segs = fixture!("tls12-ja4-components-sni");
    let sh = &segs[1].2;
    assert_eq!(probe(Dir::ToClient, sh, false), Probe::Yes);
    // A server alert before the ServerHello.
    let mut alerted = vec![21, 3, 3, 0, 2, 1, 0];
    alerted.extend_from_slice(sh);
    assert_eq!(probe(Dir::ToClient, &alerted, false), Probe::Yes);
    assert_eq!(probe(Dir::ToClient, &alerted[..9], false), Probe::NeedMore);
    assert_eq!(
        probe(Dir::ToClient, &[21, 3, 3, 0, 9, 1, 0, 22, 3, 3], false),
        Probe::No
    );
}

#[test]
fn hello_split_over_records_takes_the_first_records_origin() {
    let msg = chrome_hello();
    let (a, b) = msg.split_at(100);
    let mut e = Engine::new();
    e.feed(Dir::ToServer, 1, &record(22, a));
    assert!(client_hellos(&e).is_empty());
    e.feed(Dir::ToServer, 2, &record(22, b));
    let c = client_hellos(&e);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].packet_number, 1);
    assert_eq!(c[0].message_len, 100);
    assert_eq!(c[0].ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
}

#[test]
fn two_messages_in_one_record_and_a_third_spanning() {
    let msg = chrome_hello();
    let mut body = msg.clone();
    body.extend_from_slice(&msg);
    body.extend_from_slice(&msg[..10]);
    let mut e = Engine::new();
    e.feed(Dir::ToServer, 3, &record(22, &body));
    e.feed(Dir::ToServer, 4, &record(22, &msg[10..]));
    let c = client_hellos(&e);
    assert_eq!(
        c.iter().map(|c| c.packet_number).collect::<Vec<_>>(),
        [3, 3, 3]
    );
}

#[test]
fn record_header_split_over_packets_keeps_origin() {
    let r = record(22, &chrome_hello());
    let mut e = Engine::new();
    e.feed(Dir::ToServer, 7, &r[..3]);
    e.feed(Dir::ToServer, 8, &r[3..300]);
    e.feed(Dir::ToServer, 9, &r[300..]);
    assert_eq!(client_hellos(&e)[0].packet_number, 7);
}

#[test]
fn violation_stops_the_parser() {
    let mut e = Engine::new();
    e.feed(Dir::ToServer, 1, &record(22, &chrome_hello()));
    e.feed(Dir::ToServer, 2, &[99, 3, 3, 0, 1, 0]);
    assert!(e.error.is_some());
    let mut e = Engine::new();
    e.feed(Dir::ToServer, 1, &[23, 9, 9, 0, 1, 0]);
    assert!(e.error.is_some());
    let mut e = Engine::new();
    e.feed(Dir::ToServer, 1, &[23, 3, 3, 0xff, 0xff]);
    assert!(e.error.is_some());
}

#[test]
fn gap_resynchronises_on_a_record_or_gives_up() {
    let msg = chrome_hello();
    let mut e = Engine::new();
    e.feed(Dir::ToServer, 1, &record(22, &msg[..50]));
    e.gap(Dir::ToServer, 2);
    // The rest of the message is lost: the next record starts a new hello.
    e.feed(Dir::ToServer, 3, &record(22, &msg));
    assert_eq!(client_hellos(&e).len(), 1);
    assert_eq!(client_hellos(&e)[0].packet_number, 3);

    let mut e = Engine::new();
    e.gap(Dir::ToServer, 1);
    e.feed(Dir::ToServer, 2, b"garbage that is no TLS record");
    e.feed(Dir::ToServer, 3, &record(22, &msg));
    assert!(e.error.is_none());
    assert!(client_hellos(&e).is_empty());
    // A new gap gives a new chance.
    e.gap(Dir::ToServer, 4);
    e.feed(Dir::ToServer, 5, &record(22, &msg));
    assert_eq!(client_hellos(&e).len(), 1);
}

#[test]
fn change_cipher_spec_hides_later_handshakes() {
    let mut e = Engine::new();
    e.feed(Dir::ToServer, 1, &record(20, &[1]));
    e.feed(Dir::ToServer, 2, &record(22, &chrome_hello()));
    assert!(client_hellos(&e).is_empty());
    assert!(e.error.is_none());
}

#[test]
fn encrypted_record_bodies_are_passed_over_not_buffered() {
    let mut app = record(23, &[0xaa; 3000]);
    app.extend_from_slice(&record(21, &[1, 0]));
    let mut e = Engine::new();
    // The body comes in pieces: each is consumed at once, nothing waits.
    for (i, piece) in app.chunks(700).enumerate() {
        e.feed(Dir::ToServer, i as u64 + 1, piece);
        assert!(e.pending[0].buf.is_empty(), "piece {i} buffered");
    }
    // The skip is exact: the alert after the body is read as a record, and
    // a bad header after it is still a violation.
    e.feed(Dir::ToServer, 9, &[99, 3, 3, 0, 1, 0]);
    assert!(e.error.is_some());
    // A gap ends a pending skip: the hello after it is read.
    let mut e = Engine::new();
    e.feed(Dir::ToServer, 1, &app[..100]);
    e.gap(Dir::ToServer, 2);
    e.feed(Dir::ToServer, 3, &record(22, &chrome_hello()));
    assert_eq!(client_hellos(&e).len(), 1);
    assert!(e.error.is_none());
}

#[test]
fn too_long_handshake_is_skipped() {
    // A Certificate message announcing 300000 bytes, then a real hello.
    let mut e = Engine::new();
    let total = 300_000usize;
    let mut first = vec![11, 0x04, 0x93, 0xe0];
    first.resize(16_000, 0);
    e.feed(Dir::ToServer, 1, &record(22, &first));
    assert_eq!(anomalies(&e), ["tls_handshake_too_long"]);
    let mut left = total + 4 - first.len();
    let mut frame = 2;
    while left > 0 {
        let n = left.min(16_000);
        e.feed(Dir::ToServer, frame, &record(22, &vec![0; n]));
        left -= n;
        frame += 1;
    }
    e.feed(Dir::ToServer, frame, &record(22, &chrome_hello()));
    assert_eq!(client_hellos(&e).len(), 1);
    assert_eq!(client_hellos(&e)[0].packet_number, frame);
}

#[test]
fn truncated_handshake_at_finish() {
    let mut e = Engine::new();
    e.feed(Dir::ToServer, 1, &record(22, &chrome_hello()[..40]));
    e.finish();
    assert_eq!(anomalies(&e), ["tls_truncated_handshake"]);
}

#[test]
fn hello_retry_request_keeps_reading_the_second_client_hello() {
    let mut body = vec![3, 3];
    body.extend_from_slice(&hello::HRR_RANDOM);
    body.push(0); // session id
    body.extend_from_slice(&[0x13, 0x01, 0]); // cipher, compression
                                              // supported_versions 0x0304, key_share group x25519
    let exts = [0, 43, 0, 2, 3, 4, 0, 51, 0, 2, 0, 29];
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut msg = vec![2, 0, 0, body.len() as u8];
    msg.extend_from_slice(&body);
    let mut e = Engine::new();
    e.feed(Dir::ToServer, 1, &record(22, &chrome_hello()));
    e.feed(Dir::ToClient, 2, &record(22, &msg));
    e.feed(Dir::ToServer, 3, &record(22, &chrome_hello()));
    let s = server_hellos(&e);
    assert!(s[0].hello_retry_request);
    assert_eq!(s[0].selected_group, 29);
    assert_eq!(s[0].supported_version, 0x0304);
    assert_eq!(client_hellos(&e).len(), 2);
    assert!(!e.parser.tls13);
}

/// xorshift64*: deterministic noise without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn hostile_input_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let all: Vec<_> = expectations().into_iter().map(|x| x.segs).collect();
    for round in 0..400 {
        let segs = &all[round % all.len()];
        let mut e = Engine::new();
        for (frame, dir, bytes) in segs {
            let mut b = bytes.clone();
            match rng.below(4) {
                0 => {
                    for _ in 0..1 + rng.below(8) {
                        let i = rng.below(b.len());
                        if let Some(x) = b.get_mut(i) {
                            *x = rng.next() as u8;
                        }
                    }
                }
                1 => b.truncate(rng.below(b.len())),
                2 if rng.below(3) == 0 => e.gap(*dir, *frame),
                _ => {}
            }
            for chunk in b.chunks(1 + rng.below(700)) {
                e.feed(*dir, *frame, chunk);
            }
        }
        e.finish();
    }
    // Pure noise, both directions, with and without a valid header first.
    for _ in 0..300 {
        let mut e = Engine::new();
        for i in 0..20 {
            let mut b: Vec<u8> = (0..rng.below(3000)).map(|_| rng.next() as u8).collect();
            if i == 0 {
                b.splice(0..0, [22, 3, 3]);
            }
            let dir = if rng.below(2) == 0 {
                Dir::ToServer
            } else {
                Dir::ToClient
            };
            e.feed(dir, i, &b);
        }
        e.finish();
    }
}

#[test]
fn hello_decoders_survive_every_truncation() {
    let msg = chrome_hello();
    for n in 0..msg.len() {
        let _ = hello::client_hello(msg.get(4..n).unwrap_or_default());
        let _ = hello::server_hello(msg.get(4..n).unwrap_or_default());
    }
    let der = fixture!("tls12-client-certificate-auth")[1].2.clone();
    for n in (0..der.len()).step_by(7) {
        let mut rec = X509Certificate::default();
        x509::fill(&mut rec, der.get(n..).unwrap_or_default());
    }
}
