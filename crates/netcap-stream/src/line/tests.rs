//! Tests of the line protocols on streams extracted from real captures
//! (`testdata/README.md`), with the values tshark 4.0 shows for them as the
//! oracle, and on hand-made damaged input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use netcap_schema::{Credentials, Ftp, Imap, Pop3, Smtp};

use super::*;
use crate::parser::{ConnMeta, Probe, Protocol};
use crate::records::StreamRecord;

fn meta(port: u16) -> ConnMeta {
    ConnMeta {
        uid: "CLINE1".into(),
        client: ("10.0.0.1".parse().unwrap(), 40000),
        server: ("10.0.0.2".parse().unwrap(), port),
        files_max: 0,
    }
}

fn origin(n: u64) -> Origin {
    Origin {
        ts_ns: n as i64 * 1000,
        number: n,
    }
}

/// A test stream: (frame, direction, bytes).
type Stream = Vec<(u64, Dir, Vec<u8>)>;

fn load(name: &str) -> Stream {
    let path = format!(
        "{}/src/line/testdata/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let dir = if f[1] == "C" {
                Dir::ToServer
            } else {
                Dir::ToClient
            };
            let bytes = (0..f[2].len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&f[2][i..i + 2], 16).unwrap())
                .collect();
            (f[0].parse().unwrap(), dir, bytes)
        })
        .collect()
}

/// The engine's side of the contract, protocol switches included: keeps
/// each direction's unconsumed rest and calls again once `needed` is
/// reached; segments are given `chunk` bytes at a time.
struct Engine {
    meta: ConnMeta,
    parser: Box<dyn StreamParser>,
    out: Vec<(u64, StreamRecord)>,
    bufs: [(Vec<u8>, usize); 2],
    last: Origin,
}

impl Engine {
    fn new(proto: &Protocol, port: u16) -> Engine {
        Engine {
            meta: meta(port),
            parser: (proto.new)(),
            out: Vec::new(),
            bufs: Default::default(),
            last: origin(0),
        }
    }

    fn call(&mut self, dir: Dir) {
        let buf = std::mem::take(&mut self.bufs[dir.index()].0);
        let mut cx = Cx::new(&self.meta, self.last, &mut self.out);
        let r = self.parser.parse(dir, &buf, &mut cx).unwrap();
        assert!(r.consumed <= buf.len());
        if r.consumed < buf.len() {
            assert!(r.needed > buf.len() - r.consumed);
        }
        self.bufs[dir.index()] = (buf[r.consumed..].to_vec(), r.needed);
        if let Some(next) = self.parser.upgrade() {
            self.parser = next;
            for d in [Dir::ToServer, Dir::ToClient] {
                if !self.bufs[d.index()].0.is_empty() {
                    self.call(d);
                }
            }
        }
    }

    fn data(&mut self, dir: Dir, bytes: &[u8], o: Origin) {
        self.last = o;
        self.bufs[dir.index()].0.extend_from_slice(bytes);
        if self.bufs[dir.index()].0.len() >= self.bufs[dir.index()].1 {
            self.call(dir);
        }
    }

    fn gap(&mut self, dir: Dir, len: u64) {
        self.bufs[dir.index()] = Default::default();
        let mut cx = Cx::new(&self.meta, self.last, &mut self.out);
        self.parser.gap(dir, len, &mut cx);
    }

    fn finish(mut self) -> Vec<StreamRecord> {
        let mut cx = Cx::new(&self.meta, self.last, &mut self.out);
        self.parser.finish(&mut cx);
        self.out.into_iter().map(|(_, r)| r).collect()
    }
}

fn run(proto: &Protocol, port: u16, stream: &Stream, chunk: usize) -> Vec<StreamRecord> {
    let mut e = Engine::new(proto, port);
    for (n, dir, bytes) in stream {
        for c in bytes.chunks(chunk) {
            e.data(*dir, c, origin(*n));
        }
    }
    e.finish()
}

fn ftp(recs: &[StreamRecord]) -> Vec<&Ftp> {
    recs.iter()
        .filter_map(|r| match r {
            StreamRecord::Ftp(f) => Some(&**f),
            _ => None,
        })
        .collect()
}
fn smtp(recs: &[StreamRecord]) -> Vec<&Smtp> {
    recs.iter()
        .filter_map(|r| match r {
            StreamRecord::Smtp(f) => Some(&**f),
            _ => None,
        })
        .collect()
}
fn pop3(recs: &[StreamRecord]) -> Vec<&Pop3> {
    recs.iter()
        .filter_map(|r| match r {
            StreamRecord::Pop3(f) => Some(&**f),
            _ => None,
        })
        .collect()
}
fn imap(recs: &[StreamRecord]) -> Vec<&Imap> {
    recs.iter()
        .filter_map(|r| match r {
            StreamRecord::Imap(f) => Some(&**f),
            _ => None,
        })
        .collect()
}
fn creds(recs: &[StreamRecord]) -> Vec<&Credentials> {
    recs.iter()
        .filter_map(|r| match r {
            StreamRecord::Credentials(f) => Some(&**f),
            _ => None,
        })
        .collect()
}

#[test]
fn ftp_passive_session_matches_tshark() {
    let recs = run(&FTP, 21, &load("ftp-passive"), usize::MAX);
    let f = ftp(&recs);
    // tshark -Y ftp: frame, command, argument of each request; the response
    // code that ends it.
    let want: &[(u64, &str, &str, i32)] = &[
        (4, "", "", 220),
        (6, "USER", "alice", 331),
        (9, "PASS", "password", 230),
        (11, "TYPE", "I", 200),
        (13, "PASV", "", 227),
        (18, "STOR", "all-data-ipv4-passive-stor-appe.txt", 226),
        (27, "TYPE", "I", 200),
        (29, "PASV", "", 227),
        (34, "APPE", "all-data-ipv4-passive-stor-appe.txt", 226),
        (43, "TYPE", "I", 200),
        (45, "PASV", "", 227),
        (50, "STOU", "all-data-ipv4-passive-stou.txt", 226),
        (59, "TYPE", "A", 200),
        (61, "PASV", "", 227),
        (66, "LIST", "", 226),
        (75, "TYPE", "A", 200),
        (77, "PASV", "", 227),
        (82, "NLST", "", 226),
        (91, "TYPE", "A", 200),
        (93, "PASV", "", 227),
        (98, "MLSD", "", 226),
        (107, "TYPE", "I", 200),
        (109, "PASV", "", 227),
        (114, "RETR", "index.html", 226),
        (123, "QUIT", "", 221),
    ];
    let got: Vec<(u64, &str, &str, i32)> = f
        .iter()
        .map(|r| {
            (
                r.packet_number,
                r.command.as_str(),
                r.arguments.as_str(),
                r.reply_code,
            )
        })
        .collect();
    assert_eq!(got, want);
    // 227 "(172,23,0,2,82,16)": tshark's ftp.passive.ip and ftp.passive.port.
    assert_eq!(
        (f[4].data_ip.as_str(), f[4].data_port),
        ("172.23.0.2", 21008)
    );
    assert!(f[4].data_passive);
    // The STOR uses it: upload, preliminary 125 then 226.
    assert_eq!(
        (f[5].data_ip.as_str(), f[5].data_port),
        ("172.23.0.2", 21008)
    );
    assert_eq!(f[5].file_direction, "upload");
    assert_eq!(f[5].file_name, "all-data-ipv4-passive-stor-appe.txt");
    assert_eq!(f[5].info_code, 125);
    assert_eq!(f[23].file_direction, "download");
    assert_eq!(f[23].data_port, 82 * 256 + 13);
    assert_eq!(f[0].reply_text, "FTP Sandbox Ready.");
    let c = creds(&recs);
    assert_eq!(c.len(), 1);
    assert_eq!(
        (c[0].user.as_str(), c[0].password.as_str(), c[0].accepted),
        ("alice", "password", true)
    );
    assert_eq!((c[0].service.as_str(), c[0].reply.as_str()), ("FTP", "230"));
}

#[test]
fn ftp_eprt_and_epsv() {
    let recs = run(&FTP, 21, &load("ftp-ipv6"), usize::MAX);
    let f = ftp(&recs);
    let epsv = f.iter().find(|r| r.command == "EPSV").unwrap();
    // 229 "(|||21008|)": the server's own address.
    assert_eq!((epsv.data_ip.as_str(), epsv.data_port), ("10.0.0.2", 21008));
    let eprt = f.iter().find(|r| r.command == "EPRT").unwrap();
    let (ip, port) = ftp::parse_extended(eprt.arguments.as_bytes()).unwrap();
    assert_eq!(eprt.data_ip, ip.unwrap().to_string());
    assert_eq!(eprt.data_port, i32::from(port));
    assert!(eprt.arguments.starts_with("|2|fd00:10:16:1::3|"));
    assert!(!eprt.data_passive);
    // Client ports of the EPRT data connections (shared/pcaps/README.md).
    let ports: Vec<i32> = f
        .iter()
        .filter(|r| r.command == "EPRT")
        .map(|r| r.data_port)
        .collect();
    assert_eq!(ports, [40467, 40547, 36713, 42219, 39099, 46525, 37533]);
}

#[test]
fn ftp_endpoint_parsers() {
    assert_eq!(
        ftp::parse_host_port(b"10,0,0,1,4,1"),
        Some(("10.0.0.1".parse().unwrap(), 1025))
    );
    assert_eq!(ftp::parse_host_port(b"10,0,0,1,4"), None);
    assert_eq!(ftp::parse_host_port(b"10,0,0,256,4,1"), None);
    assert_eq!(ftp::parse_host_port(b"10,0,0,1,4,1,7"), None);
    assert_eq!(
        ftp::parse_extended(b"|1|132.235.1.2|6275|"),
        Some((Some("132.235.1.2".parse().unwrap()), 6275))
    );
    assert_eq!(ftp::parse_extended(b"|||6446|"), Some((None, 6446)));
    assert_eq!(ftp::parse_extended(b"|2|nonsense|1|"), None);
    assert_eq!(ftp::parse_extended(b""), None);
}

#[test]
fn smtp_auth_login_matches_tshark() {
    let recs = run(&SMTP, 587, &load("smtp-auth-login"), usize::MAX);
    let s = smtp(&recs);
    let got: Vec<(&str, &str, i32)> = s
        .iter()
        .map(|r| (r.command.as_str(), r.arguments.as_str(), r.reply_code))
        .collect();
    // tshark smtp.req.command / smtp.req.parameter / smtp.response.code.
    assert_eq!(
        got,
        [
            ("", "", 220),
            ("EHLO", "Percival", 250),
            ("AUTH", "LOGIN", 235),
            ("MAIL", "FROM: <xxxxxx@xxxxx.co.uk>", 250),
            ("RCPT", "TO: <xxxxxx@xxxxx.co.uk>", 250),
            ("DATA", "", 250),
            ("QUIT", "", 221),
        ]
    );
    assert_eq!(s[2].info_code, 334);
    assert_eq!(s[5].info_code, 354);
    assert_eq!(
        s[1].reply_text,
        "smtp001.mail.xxx.xxxxx.com\nAUTH LOGIN PLAIN XYMCOOKIE\nPIPELINING\n8BITMIME"
    );
    // The message: 15160 bytes as tshark exports it (--export-objects imf)
    // plus the CR LF that ends its last line (RFC 5321 4.1.1.4).
    assert_eq!(s[5].message_bytes, 15162);
    // smtp.auth.username Z2FsdW50, smtp.auth.password VjF2MXRyMG4=.
    let c = creds(&recs);
    assert_eq!(c.len(), 1);
    assert_eq!(
        (c[0].user.as_str(), c[0].password.as_str()),
        ("galunt", "V1v1tr0n")
    );
    assert_eq!(
        (c[0].notes.as_str(), c[0].reply.as_str()),
        ("AUTH LOGIN", "235")
    );
    assert!(c[0].accepted);
}

#[test]
fn smtp_starttls_switches_to_tls() {
    let recs = run(&SMTP, 25, &load("smtp-starttls"), usize::MAX);
    let s = smtp(&recs);
    assert_eq!(s.len(), 3);
    assert_eq!(s[2].command, "STARTTLS");
    assert!(s[2].start_tls);
    // The hello that follows (app-layer.md: JA3 and JA4 of this capture).
    let hello = recs
        .iter()
        .find_map(|r| match r {
            StreamRecord::TlsClientHello(h) => Some(h),
            _ => None,
        })
        .expect("the TLS parser took over");
    assert_eq!(hello.ja3, "8708213741ab46424b1fbfcc9517ba07");
    assert_eq!(hello.ja4, "t13i901000_b064c20b0b05_b9249812b67b");
}

#[test]
fn pop3_xoauth2_matches_tshark() {
    let recs = run(&POP3, 110, &load("pop3-xoauth2"), usize::MAX);
    let p = pop3(&recs);
    let got: Vec<(&str, &str, &str)> = p
        .iter()
        .map(|r| (r.command.as_str(), r.arguments.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(
        got,
        // The capture starts after the greeting; the QUIT is not answered.
        [
            ("CAPA", "", "+OK"),
            ("AUTH", "XOAUTH2", "+OK"),
            ("STAT", "", "+OK"),
            ("LIST", "", "+OK"),
            ("UIDL", "", "+OK"),
            ("QUIT", "", ""),
        ]
    );
    assert_eq!(p[2].reply_text, "1 308661");
    assert_eq!(p[0].multi_line_count, 8);
    // Frame 12's line decodes to user=joe.speedboat^Aauth=Bearer AAAA...^A^A.
    let c = creds(&recs);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].user, "joe.speedboat");
    assert!(c[0].password.starts_with("AAAA"));
    assert_eq!(
        (c[0].notes.as_str(), c[0].reply.as_str()),
        ("AUTH XOAUTH2", "+OK")
    );
}

#[test]
fn imap_session_matches_tshark() {
    let recs = run(&IMAP, 143, &load("imap-session"), usize::MAX);
    let i = imap(&recs);
    assert_eq!((i[0].tag.as_str(), i[0].status.as_str()), ("*", "OK"));
    // imap.request_tag, imap.request.command, imap.response.status.
    let got: Vec<(&str, &str, &str)> = i[1..6]
        .iter()
        .map(|r| (r.tag.as_str(), r.command.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("a0000", "CAPABILITY", "OK"),
            ("a0001", "LOGIN", "OK"),
            ("a0002", "LIST", "OK"),
            ("a0003", "SELECT", "OK"),
            ("a0004", "FETCH", "OK"),
        ]
    );
    // The FETCH responses' literals are passed over, not parsed as lines.
    assert!(i[5].literal_bytes > 0);
    assert_eq!(i[5].untagged_count, 13);
    // imap.request.username "neulingern", imap.request.password XXXXXX.
    let c = creds(&recs);
    assert_eq!(c.len(), 1);
    assert_eq!(
        (c[0].user.as_str(), c[0].password.as_str()),
        ("neulingern", "XXXXXX")
    );
}

/// Every stream, fed one byte at a time, gives the same records.
#[test]
fn byte_by_byte_gives_the_same_records() {
    for (name, proto, port) in [
        ("ftp-passive", &FTP, 21),
        ("ftp-ipv6", &FTP, 21),
        ("smtp-auth-login", &SMTP, 587),
        ("smtp-starttls", &SMTP, 25),
        ("pop3-xoauth2", &POP3, 110),
        ("imap-session", &IMAP, 143),
    ] {
        let s = load(name);
        let whole = run(proto, port, &s, usize::MAX);
        assert_eq!(run(proto, port, &s, 1), whole, "{name}");
        assert_eq!(run(proto, port, &s, 7), whole, "{name}");
    }
}

fn hand(proto: &Protocol, port: u16, evs: &[(Dir, &[u8])]) -> Vec<StreamRecord> {
    let s: Stream = evs
        .iter()
        .enumerate()
        .map(|(i, (d, b))| (i as u64 + 1, *d, b.to_vec()))
        .collect();
    run(proto, port, &s, usize::MAX)
}

const C: Dir = Dir::ToServer;
const S: Dir = Dir::ToClient;

#[test]
fn smtp_pipelining_pairs_in_order_and_auth_plain() {
    let recs = hand(
        &SMTP,
        25,
        &[
            (S, b"220 mx ESMTP\r\n"),
            (C, b"EHLO a\r\n"),
            (S, b"250-mx\r\n250 PIPELINING\r\n"),
            // authzid empty, authcid "user", password "pass word".
            (C, b"AUTH PLAIN AHVzZXIAcGFzcyB3b3Jk\r\n"),
            (S, b"535 5.7.8 no\r\n"),
            (
                C,
                b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\n",
            ),
            (S, b"250 ok\r\n250 ok\r\n550 no such user\r\n354 go\r\n"),
            (C, b"Subject: x\r\n\r\n..dot\r\n.\r\n"),
            (S, b"250 queued\r\n"),
            (C, b"QUIT\r\n"),
        ],
    );
    let s = smtp(&recs);
    let got: Vec<(&str, i32)> = s
        .iter()
        .map(|r| (r.command.as_str(), r.reply_code))
        .collect();
    assert_eq!(
        got,
        [
            ("", 220),
            ("EHLO", 250),
            ("AUTH", 535),
            ("MAIL", 250),
            ("RCPT", 250),
            ("RCPT", 550),
            ("DATA", 250),
            ("QUIT", 0),
        ]
    );
    assert_eq!(s[6].message_bytes, 12 + 2 + 7);
    let c = creds(&recs);
    assert_eq!(
        (c[0].user.as_str(), c[0].password.as_str()),
        ("user", "pass word")
    );
    assert!(!c[0].accepted);
    assert_eq!(c[0].notes, "AUTH PLAIN");
}

#[test]
fn long_lines_are_cut_and_flagged() {
    let mut long = b"USER ".to_vec();
    long.extend(std::iter::repeat_n(b'a', 3 * MAX_LINE));
    long.extend_from_slice(b"\r\nPASS x\r\n");
    let recs = hand(
        &FTP,
        21,
        &[
            (S, b"220 FTP\r\n"),
            (C, &long),
            (S, b"331 ok\r\n230 in\r\n"),
        ],
    );
    let f = ftp(&recs);
    assert_eq!(f.len(), 3);
    assert!(f[1].truncated);
    assert_eq!(f[1].arguments.len(), MAX_LINE - 5);
    assert_eq!((f[2].command.as_str(), f[2].reply_code), ("PASS", 230));
    assert!(!f[2].truncated);
    let mut p = LineParser::<ftp::FtpProto>::default();
    let m = meta(21);
    let mut out = Vec::new();
    let mut cx = Cx::new(&m, origin(1), &mut out);
    p.parse(C, &long, &mut cx).unwrap();
    assert_eq!(p.cut_units(), 1);
    // The parser asks for no more than a line.
    let r = p.parse(C, &[b'b'; 100], &mut cx).unwrap();
    assert_eq!((r.consumed, r.needed), (0, 101));
}

#[test]
fn imap_literals_are_skipped_and_small_ones_kept() {
    let recs = hand(
        &IMAP,
        143,
        &[
            (S, b"* OK ready\r\n"),
            (C, b"a1 LOGIN {4}\r\n"),
            (S, b"+ go\r\n"),
            (C, b"us\"r {6+}\r\np\\ss w\r\n"),
            (S, b"a1 OK done\r\n"),
            (C, b"a2 FETCH 1 BODY[]\r\n"),
            // A literal holding what looks like a tagged response.
            (S, b"* 1 FETCH (BODY[] {14}\r\na2 OK fooled\r\n)\r\n"),
            (S, b"a2 OK FETCH done\r\n"),
            (C, b"a3 APPEND box {100000}\r\n"),
        ],
    );
    let i = imap(&recs);
    assert_eq!(i[1].arguments, r#""us\"r" "p\\ss w""#);
    let c = creds(&recs);
    assert_eq!(
        (c[0].user.as_str(), c[0].password.as_str()),
        ("us\"r", "p\\ss w")
    );
    assert_eq!(i[2].reply_text, "FETCH done");
    assert_eq!(i[2].literal_bytes, 14);
    assert_eq!(i[2].untagged_count, 1);
    // The big literal is only counted; the command is written at the end.
    assert_eq!(i[3].arguments, "box {100000}");
    assert_eq!(i[3].literal_bytes, 100000);
    assert_eq!(i[3].status, "");
}

#[test]
fn gaps_flag_the_exchanges_and_parsing_recovers() {
    let mut e = Engine::new(&POP3, 110);
    e.data(S, b"+OK hi\r\n", origin(1));
    e.data(C, b"USER bob\r\n", origin(2));
    e.gap(S, 100);
    e.data(S, b"K\r\n", origin(3));
    e.data(C, b"STAT\r\n", origin(4));
    e.data(S, b"+OK 1 2\r\n", origin(5));
    let recs = e.finish();
    let p = pop3(&recs);
    let got: Vec<(&str, &str, bool)> = p
        .iter()
        .map(|r| (r.command.as_str(), r.status.as_str(), r.partial))
        .collect();
    assert_eq!(
        got,
        [
            ("", "+OK", false),
            ("USER", "", true),
            ("STAT", "+OK", false)
        ]
    );
}

#[test]
fn garbage_and_empty_input_do_not_panic() {
    for proto in [&FTP, &SMTP, &POP3, &IMAP] {
        let junk: Vec<u8> = (0..20000u32).map(|i| (i * 7919 % 251) as u8).collect();
        let recs = hand(
            proto,
            1,
            &[
                (S, &junk),
                (C, &junk),
                (C, b"\r\n\n\r"),
                (S, b"{99999999999999999999}\r\n"),
            ],
        );
        let _ = recs;
    }
}

#[test]
fn probes() {
    let p = |pr: &Protocol, d, b: &[u8], h| (pr.probe)(d, b, h);
    assert_eq!(p(&FTP, S, b"220 FTP Sandbox Ready.\r\n", false), Probe::Yes);
    assert_eq!(p(&FTP, S, b"220 mx ESMTP Postfix\r\n", false), Probe::No);
    assert_eq!(p(&SMTP, S, b"220 mx ESMTP Postfix\r\n", false), Probe::Yes);
    assert_eq!(p(&FTP, S, b"220 Welcome\r\n", false), Probe::NeedMore);
    assert_eq!(p(&SMTP, S, b"220 Welcome\r\n", false), Probe::NeedMore);
    assert_eq!(p(&FTP, C, b"USER alice\r\n", false), Probe::Yes);
    // IRC's registration is not FTP.
    assert_eq!(
        p(&FTP, C, b"USER guest 0 * :Real Name\r\n", false),
        Probe::No
    );
    assert_eq!(p(&FTP, C, b"PASS secret\r\n", false), Probe::No);
    assert_eq!(p(&SMTP, C, b"EHLO x\r\n", false), Probe::Yes);
    assert_eq!(p(&POP3, S, b"+OK POP3 ready\r\n", false), Probe::Yes);
    assert_eq!(p(&POP3, C, b"USER bob\r\n", false), Probe::No);
    assert_eq!(p(&POP3, C, b"USER bob\r\n", true), Probe::Yes);
    assert_eq!(p(&IMAP, S, b"* OK IMAP4rev1\r\n", false), Probe::Yes);
    assert_eq!(p(&IMAP, C, b"a1 CAPABILITY\r\n", false), Probe::Yes);
    assert_eq!(p(&IMAP, C, b"GET / HTTP/1.1\r\n", false), Probe::No);
    assert_eq!(p(&FTP, S, b"220 FTP", false), Probe::NeedMore);
}

#[test]
fn http_basic_and_digest_credentials() {
    use crate::http::head_credentials;
    // RFC 7617's example: Aladdin / open sesame.
    assert_eq!(
        head_credentials(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
        Some(("Basic", "Aladdin".to_string(), "open sesame".to_string()))
    );
    assert_eq!(
        head_credentials(b"Digest username=\"Mufasa\", realm=\"r\", response=\"6629fae49393a05397450978507c4ef1\""),
        Some((
            "Digest",
            "Mufasa".to_string(),
            "6629fae49393a05397450978507c4ef1".to_string()
        ))
    );
    assert_eq!(head_credentials(b"Bearer abc"), None);
    assert_eq!(head_credentials(b"Basic"), None);
}

fn mails(recs: &[StreamRecord]) -> Vec<&netcap_schema::Mail> {
    recs.iter()
        .filter_map(|r| match r {
            StreamRecord::Mail(m) => Some(&**m),
            _ => None,
        })
        .collect()
}

fn files(recs: &[StreamRecord]) -> Vec<&netcap_schema::File> {
    recs.iter()
        .filter_map(|r| match r {
            StreamRecord::File(f) => Some(&f.rec),
            _ => None,
        })
        .collect()
}

/// The message of SMTP DATA: headers as tshark's IMF dissector shows them
/// (`imf.from`, `imf.subject`, ...), the parts as Python's `email` decodes
/// the message tshark exports (`--export-objects imf`), the links between
/// the records; the same whatever the segment sizes.
#[test]
fn smtp_data_is_a_mail_with_its_parts_as_files() {
    let stream = load("smtp-auth-login");
    let recs = run(&SMTP, 587, &stream, usize::MAX);
    let m = mails(&recs);
    assert_eq!(m.len(), 1);
    let m = m[0];
    assert_eq!(m.subject, SMTP_SUBJECT);
    assert_eq!(m.from, SMTP_FROM);
    assert_eq!(m.id, "CLINE1.M1");
    assert_eq!(m.origin, "SMTP");
    assert_eq!(m.envelope_from, "xxxxxx@xxxxx.co.uk");
    assert_eq!(m.envelope_to, "xxxxxx@xxxxx.co.uk");
    assert!(m.has_attachments);
    assert_eq!(m.attachment_names, ["winmail.dat"]);
    assert!(!m.truncated);
    // The 15160 bytes tshark exports, and the CR LF of the last line.
    assert_eq!(m.size, 15162);
    let s = smtp(&recs);
    assert_eq!(s[5].mail_id, m.id);
    let f = files(&recs);
    let parts: Vec<(&str, &str)> = m
        .parts
        .iter()
        .map(|p| (p.content_type.as_str(), p.sha256.as_str()))
        .collect();
    assert_eq!(parts, SMTP_PARTS);
    assert_eq!(f.len(), m.parts.iter().filter(|p| p.length > 0).count());
    for f in &f {
        assert_eq!(f.mail_id, m.id);
        assert_eq!(f.source, "SMTP");
        assert!(f.to_server);
        assert_eq!(f.packet_number, s[5].packet_number);
    }
    for chunk in [1, 7, 100] {
        assert_eq!(run(&SMTP, 587, &stream, chunk), recs, "chunk {chunk}");
    }
}

/// IMAP FETCH literals of whole messages are Mails; the FETCH lists them.
#[test]
fn imap_fetch_literals_are_mails() {
    let recs = run(&IMAP, 143, &load("imap-session"), usize::MAX);
    let m = mails(&recs);
    let i = imap(&recs);
    let ids: Vec<&str> = m.iter().map(|m| m.id.as_str()).collect();
    let listed: Vec<&str> = i
        .iter()
        .flat_map(|r| r.mail_i_ds.iter().map(String::as_str))
        .collect();
    assert_eq!(ids, listed);
    for m in &m {
        assert_eq!(m.origin, "IMAP");
    }
    assert_eq!(run(&IMAP, 143, &load("imap-session"), 5), recs);
}

/// POP3 RETR: the response body, dot-stuffing removed, is a Mail; so are
/// the headers of `TOP n 0`, flagged HeadersOnly, with no part or File.
#[test]
fn pop3_retr_is_a_mail() {
    let evs: &[(Dir, &[u8])] = &[
        (Dir::ToClient, b"+OK ready\r\n"),
        (Dir::ToServer, b"RETR 1\r\n"),
        (
            Dir::ToClient,
            b"+OK 60 octets\r\nSubject: hi\r\nFrom: a@b\r\n\r\n..dot\r\nbody\r\n.\r\n",
        ),
        (Dir::ToServer, b"TOP 1 0\r\n"),
        (Dir::ToClient, b"+OK\r\nSubject: hi\r\n\r\n.\r\n"),
    ];
    let recs = hand(&POP3, 110, evs);
    let m = mails(&recs);
    assert_eq!(m.len(), 2);
    assert_eq!((m[0].subject.as_str(), m[0].from.as_str()), ("hi", "a@b"));
    assert!(!m[0].headers_only);
    let f = files(&recs);
    assert_eq!(f.len(), 1);
    // sha256 of ".dot\r\nbody\r\n" (printf '.dot\r\nbody\r\n' | sha256sum).
    assert_eq!(f[0].sha256, POP3_BODY_SHA256);
    assert!(!f[0].to_server);
    let p = pop3(&recs);
    assert_eq!(p[1].mail_id, m[0].id);
    assert_eq!(p[2].mail_id, m[1].id);
    assert_eq!(m[1].subject, "hi");
    assert!(m[1].headers_only && !m[1].truncated);
    assert!(m[1].parts.is_empty() && m[1].body_md5.is_empty());
}

/// The FETCH items of server lines that announce a literal.
#[test]
fn imap_fetch_items() {
    use super::imap::{fetch_item, Item};
    for (line, want) in [
        (&b"* 1 FETCH (BODY[] {10}"[..], Item::Message),
        (b"* 1 FETCH (FLAGS (\\Seen) body[]<0> {10}", Item::Message),
        (b"* 1 FETCH (RFC822 {10}", Item::Message),
        (
            b"* 1 FETCH (UID 4 RFC822.SIZE 9 BODY[HEADER] {10}",
            Item::Header,
        ),
        (b"* 1 FETCH (BODY.PEEK[HEADER] {10}", Item::Header),
        (b"* 1 FETCH (RFC822.HEADER {10}", Item::Header),
        (
            b"* 1 FETCH (BODY[HEADER.FIELDS (FROM SUBJECT)] {10}",
            Item::Header,
        ),
        (
            b"* 1 FETCH (BODY[HEADER.FIELDS.NOT (X-A)] {10}",
            Item::Header,
        ),
        (b"* 1 FETCH (BODY[TEXT] {10}", Item::Other),
        (b"* 1 FETCH (RFC822.TEXT {10}", Item::Other),
        (b"* 1 FETCH (BODY[1] {10}", Item::Other),
        (b"* 1 FETCH (BODY[1.MIME] {10}", Item::Other),
        (b"* 1 FETCH (BODY[2.HEADER] {10}", Item::Other),
        (b"* 1 FETCH (XBODY[HEADER] {10}", Item::Other),
        (b"* 1 FETCH (XRFC822 {10}", Item::Other),
        (b"* LIST () \"/\" {10}", Item::Other),
        (b"* 1 FETCH (BODY[HEADER]> {10}", Item::Other),
        (b"{10}", Item::Other),
        (b"]", Item::Other),
        (b"", Item::Other),
    ] {
        assert_eq!(fetch_item(line), want, "{}", String::from_utf8_lossy(line));
    }
}

/// Every segment of `stream` cut in two at every byte gives the records of
/// the whole stream.
fn every_split_point(proto: &Protocol, port: u16, stream: &Stream) {
    let whole = run(proto, port, stream, usize::MAX);
    for j in 0..stream.len() {
        for i in 1..stream[j].2.len() {
            let mut e = Engine::new(proto, port);
            for (k, (n, dir, bytes)) in stream.iter().enumerate() {
                if k == j {
                    e.data(*dir, &bytes[..i], origin(*n));
                    e.data(*dir, &bytes[i..], origin(*n));
                } else {
                    e.data(*dir, bytes, origin(*n));
                }
            }
            assert_eq!(e.finish(), whole, "segment {j} split at {i}");
        }
    }
}

/// Header fields of a Mail, as tshark's IMF dissector names them.
fn heads(m: &netcap_schema::Mail) -> [&str; 6] {
    [
        m.from.as_str(),
        m.to.as_str(),
        m.subject.as_str(),
        m.date.as_str(),
        m.message_id.as_str(),
        m.in_reply_to.as_str(),
    ]
}

// tshark -Y imf -T fields -e imf.from -e imf.to -e imf.subject -e imf.date
// -e imf.message_id -e imf.in_reply_to on
// testdata/streams/pop3-top-imap-header-fetch-dovecot.pcap (frames 50, 53,
// 56; 59 and 68 show the same), folded lines unfolded.
const DOVECOT_HEADS: [[&str; 6]; 3] = [
    [
        "Alice Example <alice@example.org>",
        "Analyst <analyst@example.net>",
        "Quarterly report with the figures for the board meeting next week, please read before Monday",
        "Mon, 07 Dec 2026 09:15:00 +0000",
        "<report-1@example.org>",
        "",
    ],
    [
        "Bob <bob@example.com>",
        "analyst@example.net",
        "Lunch",
        "Mon, 07 Dec 2026 11:02:00 +0000",
        "<lunch-2@example.com>",
        "<report-1@example.org>",
    ],
    [
        "Carol =?utf-8?q?M=C3=BCller?= <carol@example.net>",
        "analyst@example.net",
        "=?utf-8?q?Gr=C3=BC=C3=9Fe?=",
        "Tue, 08 Dec 2026 08:00:00 +0100",
        "<gruesse-3@example.net>",
        "",
    ],
];

// Python's email (get_payload(decode=True), CRLF line ends) on the messages
// the capture's script put in the mailbox (testdata/streams/pop3-imap-dovecot/
// mkmail.py): the text part of message 2 and of message 3.
const DOVECOT_BOB_TEXT: &str = "9ae3482e21e3b88441a7c0276a0f10ae0d93eddd5d48fcb6312cb341d5ef947a";
const DOVECOT_CAROL_TEXT: &str = "3df76f9d60c833544ec41ecfe4d54f7011586274e1d7fd671549b7cebc03a572";

/// IMAP header-only FETCH items (BODY[HEADER], BODY.PEEK[HEADER],
/// RFC822.HEADER, BODY.PEEK[HEADER.FIELDS (...)]) are header-only Mails
/// with tshark's IMF values; BODY[TEXT] and parts are not Mails; BODY[]
/// gives whole ones; the same at every split point.
#[test]
fn imap_header_fetches_are_header_only_mails() {
    let stream = load("imap-dovecot");
    let recs = run(&IMAP, 143, &stream, usize::MAX);
    let m = mails(&recs);
    let got: Vec<([&str; 6], bool)> = m.iter().map(|m| (heads(m), m.headers_only)).collect();
    let [a, b, c] = DOVECOT_HEADS;
    // HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID): no In-Reply-To (as
    // tshark's frame 59 shows).
    let mut b_fields = b;
    b_fields[5] = "";
    assert_eq!(
        got,
        [
            (a, true),
            (b, true),
            (c, true),
            (a, true),
            (b_fields, true),
            (c, true),
            (b, false),
            (c, false),
        ]
    );
    for m in &m[..6] {
        assert!(m.parts.is_empty() && m.body_md5.is_empty() && !m.truncated);
        assert!(!m.has_attachments);
    }
    // BODY[HEADER] of message 1: the literal's 412 bytes.
    assert_eq!(m[0].size, 412);
    assert_eq!(m[0].content_type, "multipart/mixed");
    assert_eq!(m[1].x_mailer, "Mutt/2.2.9");
    assert!(!m[6].truncated && !m[7].truncated);
    let f = files(&recs);
    let got: Vec<(&str, &str)> = f
        .iter()
        .map(|f| (f.sha256.as_str(), f.mail_id.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (DOVECOT_BOB_TEXT, m[6].id.as_str()),
            (DOVECOT_CAROL_TEXT, m[7].id.as_str())
        ]
    );
    // Each FETCH lists its Mails: 1, 1, 1, 3, none (TEXT), none (parts), 2.
    let i = imap(&recs);
    let listed: Vec<usize> = i
        .iter()
        .filter(|r| r.command == "FETCH")
        .map(|r| r.mail_i_ds.len())
        .collect();
    assert_eq!(listed, [1, 1, 1, 3, 0, 0, 2]);
    // The literals of BODY[TEXT] and the parts are still counted.
    let text = i.iter().find(|r| r.arguments.contains("TEXT")).unwrap();
    assert_eq!(text.literal_bytes, 3210);
    every_split_point(&IMAP, 143, &stream);
}

/// POP3 TOP n 0 is a header-only Mail; TOP n k is a Mail of the headers
/// and k body lines, Truncated when k lines came (the body may go on),
/// whole when fewer came; the same at every split point.
#[test]
fn pop3_top_is_a_mail_of_the_headers() {
    let stream = load("pop3-dovecot");
    let recs = run(&POP3, 110, &stream, usize::MAX);
    let m = mails(&recs);
    let got: Vec<([&str; 6], bool, bool)> = m
        .iter()
        .map(|m| (heads(m), m.headers_only, m.truncated))
        .collect();
    let [a, b, c] = DOVECOT_HEADS;
    assert_eq!(
        got,
        [
            (a, true, false),  // TOP 1 0
            (b, false, true),  // TOP 2 3: 3 of its 11 lines
            (c, true, false),  // TOP 3 0
            (c, false, false), // TOP 3 50: the whole message
            (b, false, false), // RETR 2
        ]
    );
    assert!(m[0].parts.is_empty() && m[0].body_md5.is_empty());
    let f = files(&recs);
    let got: Vec<(&str, bool, &str)> = f
        .iter()
        .map(|f| (f.sha256.as_str(), f.truncated, f.mail_id.as_str()))
        .collect();
    assert_eq!(
        got[1..],
        [
            (DOVECOT_CAROL_TEXT, false, m[3].id.as_str()),
            (DOVECOT_BOB_TEXT, false, m[4].id.as_str()),
        ]
    );
    // TOP 2 3: the first three lines of the text part, cut.
    assert_eq!((got[0].1, got[0].2), (true, m[1].id.as_str()));
    assert_eq!(
        m[1].parts[0].length,
        3 * "line 1 of a plain text body\r\n".len() as i64
    );
    let p = pop3(&recs);
    let ids: Vec<&str> = p
        .iter()
        .filter(|r| r.command == "TOP" || r.command == "RETR")
        .map(|r| r.mail_id.as_str())
        .collect();
    let want: Vec<&str> = m.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, want);
    every_split_point(&POP3, 110, &stream);
}

const POP3_BODY_SHA256: &str = "7b3e079432a7db1f64210257bb01b64b0ba9f597010e778aa3b485d44443d278";

// tshark -Y imf -T fields -e imf.from -e imf.subject on
// smtp-auth-login-tnef-attachment.pcap.
const SMTP_FROM: &str = "\"Xxxxxx xxxx\" <xxxxxx@xxxxx.co.uk>";
const SMTP_SUBJECT: &str = "Testing testing 1 2 3 (Multiple attachments)";
// Python's email on the message tshark exports (--export-objects imf):
// each leaf part's type and the SHA-256 of its decoded payload.
const SMTP_PARTS: [(&str, &str); 2] = [
    (
        "text/plain",
        "04917b3121522985c692d664f1fc5e56dabe3fecd1608b904ae674a1a3c54d2b",
    ),
    (
        "application/ms-tnef",
        "0235ec19e487390740b923cb74f210355c7b19864f73978262106650eff6ca24",
    ),
];
