//! Tests of the SSH parser: HASSH vectors, real handshakes from the capture
//! fixtures in `testdata/` (expected values from tshark 4.0 and
//! ssh-keygen, see `testdata/README.md`), and the parser contract (splits at
//! every offset, gaps, limits, hostile input).

use super::*;
use crate::parser::ConnMeta;

use crate::testkit::{fixture, meta as conn_meta, unhex};

type Engine = crate::testkit::Engine<SshParser>;

fn meta() -> ConnMeta {
    conn_meta("CSSH1", 22)
}

impl Engine {
    fn new() -> Engine {
        Engine::with(SshParser::default(), meta())
    }

    /// Feeds a segment; the SSH parser never fails.
    fn feed_ok(&mut self, dir: Dir, frame: u64, bytes: &[u8]) {
        self.feed(dir, frame, bytes);
        assert!(self.error.is_none(), "{:?}", self.error);
    }

    fn finish(&mut self) {
        self.finish_at(999);
    }

    fn ssh(&self) -> Vec<Ssh> {
        self.out
            .iter()
            .filter_map(|(_, r)| match r {
                StreamRecord::Ssh(s) => Some((**s).clone()),
                _ => None,
            })
            .collect()
    }

    /// The one SSH record.
    fn record(&self) -> Ssh {
        let v = self.ssh();
        assert_eq!(v.len(), 1, "{:?}", self.out);
        v.into_iter().next().unwrap()
    }

    fn anomalies(&self) -> Vec<String> {
        self.out
            .iter()
            .filter_map(|(_, r)| match r {
                StreamRecord::Anomaly(a) => Some(a.name.clone()),
                _ => None,
            })
            .collect()
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
            e.feed_ok(*dir, *frame, bytes);
        } else {
            for chunk in bytes.chunks(piece) {
                e.feed_ok(*dir, *frame, chunk);
            }
        }
    }
    e.finish();
    e
}

// ---- HASSH vectors (shared/reference/app-layer.md §4.5) ----

/// A KEXINIT payload with `lists` (the others empty).
fn kexinit(lists: &[&str]) -> Vec<u8> {
    let mut p = vec![KEXINIT];
    p.extend_from_slice(&[0x11; 16]);
    for i in 0..kex::LISTS {
        let l = lists.get(i).copied().unwrap_or("");
        p.extend_from_slice(&(l.len() as u32).to_be_bytes());
        p.extend_from_slice(l.as_bytes());
    }
    p.extend_from_slice(&[0, 0, 0, 0, 0]);
    p
}

/// A binary packet (no MAC) around `payload`, with 4 bytes of padding.
fn packet(payload: &[u8]) -> Vec<u8> {
    let mut p = ((payload.len() + 5) as u32).to_be_bytes().to_vec();
    p.push(4);
    p.extend_from_slice(payload);
    p.extend_from_slice(&[0; 4]);
    p
}

/// The HASSH of a client (or HASSHServer of a server) sending `hassh_input`
/// as its `kex;enc;mac;cmp` lists (the same lists both ways).
fn hassh_of(hassh_input: &str, client: bool) -> (String, String) {
    let l: Vec<&str> = hassh_input.split(';').collect();
    let k = KexInit::parse(&kexinit(&[
        l[0], "ssh-rsa", l[1], l[1], l[2], l[2], l[3], l[3],
    ]))
    .unwrap();
    let input = k.hassh_input(client);
    (kex::hassh(&input), String::from_utf8(input).unwrap())
}

#[test]
fn hassh_vectors() {
    // salesforce/hassh README: Cyberduck 6.7.1 (published hash).
    let cyberduck = "curve25519-sha256@libssh.org,diffie-hellman-group-exchange-sha256,ecdh-sha2-nistp521,ecdh-sha2-nistp384,ecdh-sha2-nistp256,diffie-hellman-group-exchange-sha1,diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,diffie-hellman-group14-sha256,diffie-hellman-group15-sha512,diffie-hellman-group16-sha512,diffie-hellman-group17-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256@ssh.com,diffie-hellman-group15-sha256,diffie-hellman-group15-sha256@ssh.com,diffie-hellman-group15-sha384@ssh.com,diffie-hellman-group16-sha256,diffie-hellman-group16-sha384@ssh.com,diffie-hellman-group16-sha512@ssh.com,diffie-hellman-group18-sha512@ssh.com;aes128-cbc,aes128-ctr,aes192-cbc,aes192-ctr,aes256-cbc,aes256-ctr,blowfish-cbc,blowfish-ctr,cast128-cbc,cast128-ctr,idea-cbc,idea-ctr,serpent128-cbc,serpent128-ctr,serpent192-cbc,serpent192-ctr,serpent256-cbc,serpent256-ctr,3des-cbc,3des-ctr,twofish128-cbc,twofish128-ctr,twofish192-cbc,twofish192-ctr,twofish256-cbc,twofish256-ctr,twofish-cbc,arcfour,arcfour128,arcfour256;hmac-sha1,hmac-sha1-96,hmac-md5,hmac-md5-96,hmac-sha2-256,hmac-sha2-512;zlib@openssh.com,zlib,none";
    let (h, s) = hassh_of(cyberduck, true);
    assert_eq!(h, "8a8ae540028bf433cd68356c1b9e8d5b");
    assert_eq!(s, cyberduck);
    // OISF/suricata rust/src/ssh/parser.rs tests: OpenSSH with ext-info-c.
    let openssh = "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,diffie-hellman-group14-sha1,ext-info-c;chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com;umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1;none,zlib@openssh.com,zlib";
    assert_eq!(
        hassh_of(openssh, true).0,
        "ec7378c1a92f5a8dde7e8b7a1ddf33d1"
    );
    // The README's OpenSSH_5.3 server (hash computed with Python's hashlib).
    let server = "diffie-hellman-group-exchange-sha256,diffie-hellman-group-exchange-sha1,diffie-hellman-group14-sha1,diffie-hellman-group1-sha1;aes128-ctr,aes192-ctr,aes256-ctr,arcfour256,arcfour128,aes128-cbc,3des-cbc,blowfish-cbc,cast128-cbc,aes192-cbc,aes256-cbc,arcfour,rijndael-cbc@lysator.liu.se;hmac-md5,hmac-sha1,umac-64@openssh.com,hmac-ripemd160,hmac-ripemd160@openssh.com,hmac-sha1-96,hmac-md5-96;none,zlib@openssh.com";
    assert_eq!(
        hassh_of(server, false).0,
        "b1c6c0d56317555b85c7005a3de29325"
    );
}

#[test]
fn hassh_takes_each_sides_own_direction() {
    // The client's hash uses the c2s lists, the server's the s2c lists
    // (the original Netcap used c2s for both).
    let k = KexInit::parse(&kexinit(&["k", "h", "e1", "e2", "m1", "m2", "c1", "c2"])).unwrap();
    assert_eq!(k.hassh_input(true), b"k;e1;m1;c1");
    assert_eq!(k.hassh_input(false), b"k;e2;m2;c2");
    // Empty lists stay empty fields.
    let k = KexInit::parse(&kexinit(&[])).unwrap();
    assert_eq!(k.hassh_input(true), b";;;");
    assert!(k.names(kex::KEX).is_empty());
}

#[test]
fn banners_split_per_rfc_4253() {
    let b = Banner::parse(b"SSH-2.0-OpenSSH_5.9p1 Debian-5ubuntu1");
    assert_eq!(
        (b.proto.as_str(), b.software.as_str(), b.comments.as_str()),
        ("2.0", "OpenSSH_5.9p1", "Debian-5ubuntu1")
    );
    assert_eq!(b.line, "SSH-2.0-OpenSSH_5.9p1 Debian-5ubuntu1");
    let b = Banner::parse(b"SSH-2.0-OpenSSH_7.9p1 Ubuntu-10 extra words");
    assert_eq!(b.software, "OpenSSH_7.9p1");
    assert_eq!(b.comments, "Ubuntu-10 extra words");
    // The software version may hold '-'; only the first one ends the protoversion.
    let b = Banner::parse(b"SSH-1.99-Cisco-1.25");
    assert_eq!(
        (b.proto.as_str(), b.software.as_str()),
        ("1.99", "Cisco-1.25")
    );
    assert!(!b.is_ssh1());
    assert!(Banner::parse(b"SSH-1.5-OpenSSH_2.1").is_ssh1());
    let b = Banner::parse(b"SSH-2.0");
    assert_eq!((b.proto.as_str(), b.software.as_str()), ("2.0", ""));
    let b = Banner::parse(b"SSH-2.0-\xff\xfe");
    assert_eq!(b.software, "\u{fffd}\u{fffd}");
}

// ---- real handshakes ----

const SPLIT_ALGORITHMS: &str = "diffie-hellman-group1-sha1;aes128-cbc,3des-cbc,aes192-cbc,aes256-cbc;hmac-sha1,hmac-sha1-96,hmac-md5,hmac-md5-96;none";

/// ssh-kexinit-split-segments-hassh.pcap: the client's KEXINIT comes in
/// 5 segments (frames 6, 8, 9, 10, 11).
fn check_split(r: &Ssh) {
    assert_eq!(r.packet_number, 4);
    assert_eq!(r.connection_uid, "CSSH1");
    assert_eq!(r.client_version, "SSH-1.99-Cisco-1.25");
    assert_eq!(r.client_proto_version, "1.99");
    assert_eq!(r.client_software, "Cisco-1.25");
    assert_eq!(r.server_version, "SSH-2.0-Cisco-1.25");
    assert_eq!(r.hassh, "3cc67862bceac0f334c62ad1b76895b4");
    assert_eq!(r.hassh_server, "3cc67862bceac0f334c62ad1b76895b4");
    assert_eq!(r.hassh_algorithms, SPLIT_ALGORITHMS);
    assert_eq!(r.hassh_server_algorithms, SPLIT_ALGORITHMS);
    let c = r.client_kex_init.as_ref().unwrap();
    assert_eq!(c.packet_number, 6);
    assert_eq!(unhex("f3cad290ecf47c47554c88cf3a722bb2"), c.cookie);
    assert_eq!(c.server_host_key_algorithms, ["ssh-rsa"]);
    assert!(c.languages_client_to_server.is_empty());
    let s = r.server_kex_init.as_ref().unwrap();
    assert_eq!(s.packet_number, 7);
    assert_eq!(unhex("eb3b3b7d5414465b41c0b8c4fd13aa25"), s.cookie);
    assert_eq!(r.kex_alg, "diffie-hellman-group1-sha1");
    assert_eq!(r.host_key_alg, "ssh-rsa");
    assert_eq!(r.cipher_client_to_server, "aes128-cbc");
    assert_eq!(r.cipher_server_to_client, "aes128-cbc");
    assert_eq!(r.mac_client_to_server, "hmac-sha1");
    assert_eq!(r.compression_server_to_client, "none");
    assert_eq!(r.host_key_type, "ssh-rsa");
    assert!(r.client_new_keys && r.server_new_keys && r.handshake_complete);
    // tshark: the tcp.len of each direction's frames after its NEWKEYS
    // (frames 16 and 17), retransmissions left out.
    assert_eq!(r.encrypted_bytes_client_to_server, 1032);
    assert_eq!(r.encrypted_bytes_server_to_client, 3116);
    assert!(!r.partial);
}

/// ssh-kex-newkeys.pcap: libssh client, OpenSSH 7.4 server with an
/// Ed25519 host key; the server's reply and NEWKEYS share frame 13.
fn check_newkeys(r: &Ssh) {
    assert_eq!(r.client_version, "SSH-2.0-libssh-0.7.2");
    assert_eq!(r.client_software, "libssh-0.7.2");
    assert_eq!(r.server_version, "SSH-2.0-OpenSSH_7.4");
    assert_eq!(r.server_software, "OpenSSH_7.4");
    assert_eq!(r.server_comments, "");
    assert_eq!(r.hassh, "c8c5fbf80b7b0a1b0e4de5e683f3c5ad");
    assert_eq!(r.hassh_server, "6832f1ce43d4397c2c0a3e2f8c94334e");
    assert_eq!(
        r.server_kex_init
            .as_ref()
            .unwrap()
            .server_host_key_algorithms,
        [
            "ssh-rsa",
            "rsa-sha2-512",
            "rsa-sha2-256",
            "ecdsa-sha2-nistp256",
            "ssh-ed25519"
        ]
    );
    // RFC 4253 §7.1 by hand on tshark's lists: the client's first that the
    // server also lists.
    assert_eq!(r.kex_alg, "curve25519-sha256@libssh.org");
    assert_eq!(r.host_key_alg, "ssh-ed25519");
    assert_eq!(r.cipher_client_to_server, "aes256-ctr");
    assert_eq!(r.mac_server_to_client, "hmac-sha2-256");
    assert_eq!(r.compression_client_to_server, "none");
    assert_eq!(r.host_key_type, "ssh-ed25519");
    // ssh-keygen -l -E sha256 on the key blob of frame 13.
    assert_eq!(
        r.host_key_fingerprint,
        "SHA256:urJIkyhEjcQECpCWIZ9scQ/91q1EqRBNsgFjHCYnNio"
    );
    assert!(r.handshake_complete);
    // tshark: 64 + 80 + 96 + 64 client bytes after frame 14, 64 + 96 + 96
    // server bytes after frame 13.
    assert_eq!(r.encrypted_bytes_client_to_server, 304);
    assert_eq!(r.encrypted_bytes_server_to_client, 256);
}

#[test]
fn captures_give_the_expected_record() {
    let e = run(&fixture!("ssh-kexinit-split-segments-hassh"), 0);
    check_split(&e.record());
    assert!(e.anomalies().is_empty(), "{:?}", e.anomalies());
    let e = run(&fixture!("ssh-kex-newkeys"), 0);
    check_newkeys(&e.record());
    assert!(e.anomalies().is_empty(), "{:?}", e.anomalies());
}

#[test]
fn one_byte_pieces_give_the_same_record() {
    for name in ["split", "newkeys"] {
        let segs = match name {
            "split" => fixture!("ssh-kexinit-split-segments-hassh"),
            _ => fixture!("ssh-kex-newkeys"),
        };
        let whole = run(&segs, 0).record();
        for piece in [1, 2, 3, 7] {
            assert_eq!(
                run(&segs, piece).record(),
                whole,
                "{name}, {piece}-byte pieces"
            );
        }
    }
}

#[test]
fn every_split_offset_gives_the_same_record() {
    // Each direction's bytes as one stream, cut in two at every offset.
    let segs = fixture!("ssh-kex-newkeys");
    let stream = |d: Dir| -> Vec<u8> {
        segs.iter()
            .filter(|s| s.1 == d)
            .flat_map(|s| s.2.clone())
            .collect()
    };
    let (c, s) = (stream(Dir::ToServer), stream(Dir::ToClient));
    let feed = |cut_c: usize, cut_s: usize| {
        let mut e = Engine::new();
        e.feed_ok(Dir::ToClient, 1, &s[..cut_s]);
        e.feed_ok(Dir::ToServer, 2, &c[..cut_c]);
        e.feed_ok(Dir::ToClient, 3, &s[cut_s..]);
        e.feed_ok(Dir::ToServer, 4, &c[cut_c..]);
        e.finish();
        e.record()
    };
    let whole = feed(c.len(), s.len());
    assert_eq!(whole.hassh, "c8c5fbf80b7b0a1b0e4de5e683f3c5ad");
    for cut in 0..=c.len() {
        let r = feed(cut, s.len());
        assert_eq!(
            (&r.hassh, r.encrypted_bytes_client_to_server),
            (&whole.hassh, 304),
            "client cut {cut}"
        );
    }
    for cut in 0..=s.len() {
        let r = feed(c.len(), cut);
        assert_eq!(
            (
                &r.hassh_server,
                &r.host_key_fingerprint,
                r.encrypted_bytes_server_to_client
            ),
            (&whole.hassh_server, &whole.host_key_fingerprint, 256),
            "server cut {cut}"
        );
    }
}

// ---- contract ----

#[test]
fn probe_recognises_banners() {
    for d in [Dir::ToServer, Dir::ToClient] {
        assert_eq!(probe(d, b"SSH-2.0-OpenSSH_7.4\r\n", false), Probe::Yes);
        assert_eq!(probe(d, b"SSH-1.99-Cisco", false), Probe::Yes);
        assert_eq!(probe(d, b"SS", false), Probe::NeedMore);
        assert_eq!(probe(d, b"SSH-", false), Probe::NeedMore);
        assert_eq!(probe(d, b"SSH-x", false), Probe::No);
        assert_eq!(probe(d, b"GET / HTTP/1.1\r\n", false), Probe::No);
        assert_eq!(probe(d, b"", false), Probe::NeedMore);
    }
    // Lines before the server's banner, on an SSH port only.
    let pre = b"Welcome\r\nto the host\r\nSSH-2.0-X\r\n";
    assert_eq!(probe(Dir::ToClient, pre, true), Probe::Yes);
    assert_eq!(probe(Dir::ToClient, &pre[..12], true), Probe::NeedMore);
    assert_eq!(probe(Dir::ToClient, pre, false), Probe::No);
    assert_eq!(probe(Dir::ToServer, pre, true), Probe::No);
    assert_eq!(probe(Dir::ToClient, b"Hi\r\n\x16\x03\x01", true), Probe::No);
    assert_eq!(probe(Dir::ToClient, &[b'a'; MAX_LINE], true), Probe::No);
}

#[test]
fn lines_before_the_banner_are_skipped() {
    let mut e = Engine::new();
    e.feed_ok(Dir::ToClient, 1, b"Welcome\r\n");
    e.feed_ok(Dir::ToClient, 2, b"SSH-2.0-srv note\r\n");
    e.feed_ok(Dir::ToServer, 3, b"SSH-2.0-cli\n");
    e.finish();
    let r = e.record();
    assert_eq!(r.packet_number, 1);
    assert_eq!(r.server_version, "SSH-2.0-srv note");
    assert_eq!(r.server_comments, "note");
    assert_eq!(r.client_version, "SSH-2.0-cli");
    assert!(!r.handshake_complete && !r.partial);
    assert!(r.client_kex_init.is_none());
}

#[test]
fn line_limits() {
    let mut e = Engine::new();
    e.feed_ok(Dir::ToClient, 1, &vec![b'a'; MAX_LINE + 5]);
    e.feed_ok(Dir::ToServer, 2, b"SSH-2.0-cli\r\n");
    e.finish();
    assert_eq!(e.anomalies(), ["ssh_line_too_long"]);
    let r = e.record();
    assert!(r.partial);
    assert_eq!(r.server_version, "");
    // A line of MAX_LINE - 1 bytes and its LF is fine.
    let mut e = Engine::new();
    let mut long = vec![b'a'; MAX_LINE - 1];
    long.push(b'\n');
    e.feed_ok(Dir::ToClient, 1, &long);
    e.feed_ok(Dir::ToClient, 1, b"SSH-2.0-srv\r\n");
    e.finish();
    assert_eq!(e.record().server_version, "SSH-2.0-srv");
    // Too many lines.
    let mut e = Engine::new();
    for _ in 0..=MAX_LINES {
        e.feed_ok(Dir::ToClient, 1, b"x\r\n");
    }
    e.finish();
    assert_eq!(e.anomalies(), ["ssh_no_banner"]);
}

#[test]
fn oversized_and_malformed_packets_stop_the_direction() {
    let mut e = Engine::new();
    e.feed_ok(Dir::ToServer, 1, b"SSH-2.0-cli\r\n");
    let mut big = ((MAX_PACKET + 1) as u32).to_be_bytes().to_vec();
    big.push(4);
    e.feed_ok(Dir::ToServer, 2, &big);
    // Later bytes of the direction are not read.
    e.feed_ok(Dir::ToServer, 3, &packet(&kexinit(&["k"])));
    e.finish();
    assert_eq!(e.anomalies(), ["ssh_packet_too_long"]);
    let r = e.record();
    assert!(r.partial && r.client_kex_init.is_none());
    assert_eq!(r.client_version, "SSH-2.0-cli");

    let mut e = Engine::new();
    e.feed_ok(Dir::ToServer, 1, b"SSH-2.0-cli\r\n\x00\x00\x00\x08\x08");
    e.finish();
    assert_eq!(e.anomalies(), ["ssh_bad_padding"]);

    // A KEXINIT whose list runs past the packet.
    let mut k = kexinit(&["kex"]);
    k[17..21].copy_from_slice(&1000u32.to_be_bytes());
    let mut e = Engine::new();
    e.feed_ok(Dir::ToServer, 1, b"SSH-2.0-cli\r\n");
    e.feed_ok(Dir::ToServer, 2, &packet(&k));
    e.finish();
    assert_eq!(e.anomalies(), ["ssh_bad_kexinit"]);
    assert!(e.record().partial);
}

#[test]
fn ssh1_banner_stops_reading() {
    let mut e = Engine::new();
    e.feed_ok(Dir::ToServer, 1, b"SSH-1.5-old\n");
    e.feed_ok(Dir::ToServer, 2, &packet(&kexinit(&["k"])));
    e.finish();
    let r = e.record();
    assert_eq!(r.client_proto_version, "1.5");
    assert!(r.client_kex_init.is_none() && e.anomalies().is_empty());
}

#[test]
fn gaps() {
    let k = packet(&kexinit(&[
        "kex", "hk", "enc", "enc", "mac", "mac", "none", "none",
    ]));
    // In the banner: the direction is lost.
    let mut e = Engine::new();
    e.feed_ok(Dir::ToServer, 1, b"SSH-2.");
    e.gap(Dir::ToServer, 2);
    e.feed_ok(Dir::ToServer, 3, b"0-cli\r\n");
    e.finish();
    let r = e.record();
    assert!(r.partial);
    assert_eq!(r.client_version, "");
    // Between packets: a plausible packet after the gap is read.
    let mut e = Engine::new();
    e.feed_ok(Dir::ToServer, 1, b"SSH-2.0-cli\r\n");
    e.gap(Dir::ToServer, 2);
    e.feed_ok(Dir::ToServer, 3, &k[..3]);
    e.feed_ok(Dir::ToServer, 4, &k[3..]);
    e.finish();
    let r = e.record();
    assert!(r.partial);
    assert_eq!(r.hassh_algorithms, "kex;enc;mac;none");
    assert_eq!(r.client_kex_init.unwrap().packet_number, 3);
    // Garbage after the gap: lost.
    let mut e = Engine::new();
    e.feed_ok(Dir::ToServer, 1, b"SSH-2.0-cli\r\n");
    e.gap(Dir::ToServer, 2);
    e.feed_ok(Dir::ToServer, 3, &[0xff; 40]);
    e.feed_ok(Dir::ToServer, 4, &k);
    e.finish();
    assert!(e.record().client_kex_init.is_none());
    // After NEWKEYS: still counted, not partial.
    let mut e = Engine::new();
    e.feed_ok(Dir::ToServer, 1, b"SSH-2.0-cli\r\n");
    e.feed_ok(Dir::ToServer, 2, &packet(&[NEWKEYS]));
    e.feed_ok(Dir::ToServer, 3, &[1; 50]);
    e.gap(Dir::ToServer, 4);
    e.feed_ok(Dir::ToServer, 5, &[1; 30]);
    e.finish();
    let r = e.record();
    assert!(r.client_new_keys && !r.handshake_complete && !r.partial);
    assert_eq!(r.encrypted_bytes_client_to_server, 80);
}

#[test]
fn group_exchange_takes_the_host_key_from_message_33() {
    let gex = "diffie-hellman-group-exchange-sha256";
    let key = |msg: u8, name: &str| {
        let mut blob = (name.len() as u32).to_be_bytes().to_vec();
        blob.extend_from_slice(name.as_bytes());
        blob.extend_from_slice(&[0, 0, 0, 1, 7]);
        let mut p = vec![msg];
        p.extend_from_slice(&(blob.len() as u32).to_be_bytes());
        p.extend_from_slice(&blob);
        packet(&p)
    };
    let mut e = Engine::new();
    e.feed_ok(Dir::ToServer, 1, b"SSH-2.0-cli\r\n");
    e.feed_ok(Dir::ToClient, 2, b"SSH-2.0-srv\r\n");
    e.feed_ok(Dir::ToServer, 3, &packet(&kexinit(&[gex, "ssh-rsa"])));
    e.feed_ok(Dir::ToClient, 4, &packet(&kexinit(&[gex, "ssh-rsa"])));
    // The group (message 31) looks like a key here but is not one.
    e.feed_ok(Dir::ToClient, 5, &key(31, "not-a-key"));
    e.feed_ok(Dir::ToClient, 6, &key(33, "ssh-rsa"));
    e.finish();
    let r = e.record();
    assert_eq!(r.kex_alg, gex);
    assert_eq!(r.host_key_type, "ssh-rsa");
    assert!(r.host_key_fingerprint.starts_with("SHA256:"));
    assert_eq!(r.host_key_fingerprint.len(), 7 + 43);
}

#[test]
fn no_common_algorithm_negotiates_nothing() {
    let mut e = Engine::new();
    e.feed_ok(Dir::ToServer, 1, b"SSH-2.0-cli\r\n");
    e.feed_ok(Dir::ToClient, 2, b"SSH-2.0-srv\r\n");
    e.feed_ok(Dir::ToServer, 3, &packet(&kexinit(&["a,b", "x", "c1,c2"])));
    e.feed_ok(
        Dir::ToClient,
        4,
        &packet(&kexinit(&["c,b,a", "y", "c3,c2"])),
    );
    e.finish();
    let r = e.record();
    assert_eq!(r.kex_alg, "a");
    assert_eq!(r.host_key_alg, "");
    assert_eq!(r.cipher_client_to_server, "c2");
    assert_eq!(r.cipher_server_to_client, "");
}

#[test]
fn one_record_per_connection_and_memory_counts_the_state() {
    let mut e = Engine::new();
    assert_eq!(e.parser.memory(), 0);
    e.feed_ok(Dir::ToServer, 1, b"SSH-2.0-cli\r\n");
    let m1 = e.parser.memory();
    assert!(m1 >= "SSH-2.0-cli".len());
    e.feed_ok(Dir::ToServer, 2, &packet(&kexinit(&[&"k,".repeat(500)])));
    assert!(e.parser.memory() >= m1 + 1000);
    e.finish();
    e.finish();
    assert_eq!(e.ssh().len(), 1);
    // Nothing seen, nothing written.
    let mut e = Engine::new();
    e.finish();
    assert!(e.ssh().is_empty());
}

#[test]
fn kexinit_survives_every_truncation() {
    let segs = fixture!("ssh-kex-newkeys");
    // Frame 9: the client's KEXINIT packet; its payload from byte 5.
    let pkt = &segs.iter().find(|s| s.0 == 9).unwrap().2;
    let pad = usize::from(pkt[4]);
    let payload = &pkt[5..pkt.len() - pad];
    assert!(KexInit::parse(payload).is_some());
    for n in 0..payload.len() {
        let _ = KexInit::parse(&payload[..n]);
        let _ = kex::host_key(&payload[..n]);
    }
    assert!(KexInit::parse(&payload[..payload.len() - 6]).is_none());
}

/// A small deterministic generator (no dependency on a random crate).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn hostile_input_never_panics() {
    let segs = fixture!("ssh-kexinit-split-segments-hassh");
    let mut rng = Lcg(7);
    for round in 0..300 {
        let mut e = Engine::new();
        for (frame, dir, bytes) in &segs {
            let mut b = bytes.clone();
            // Flip a few bytes, cut some, drop some segments, add gaps.
            for _ in 0..rng.below(4) {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
            if rng.below(10) == 0 {
                b.truncate(rng.below(b.len()));
            }
            if rng.below(15) == 0 {
                e.gap(*dir, *frame);
                continue;
            }
            let piece = 1 + rng.below(if round % 2 == 0 { 8 } else { 2000 });
            for chunk in b.chunks(piece) {
                e.feed_ok(*dir, *frame, chunk);
            }
        }
        e.finish();
        assert!(e.ssh().len() <= 1);
    }
}
