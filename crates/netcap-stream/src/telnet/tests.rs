//! Tests of the Telnet parser on hand-made sessions shaped like the real
//! one in `testdata/streams/telnet-login-failed-line-and-char-mode.pcap`
//! (whose records `crates/netcap/tests/streams.rs` compares with tshark).

use super::*;
use crate::testkit::meta as conn_meta;
use netcap_schema::Credentials;

type Engine = crate::testkit::Engine<TelnetParser>;

fn engine() -> Engine {
    Engine::with(TelnetParser::default(), conn_meta("CTEL1", 23))
}

impl Engine {
    fn record(&self) -> Telnet {
        let v: Vec<Telnet> = self
            .out
            .iter()
            .filter_map(|(_, r)| match r {
                StreamRecord::Telnet(t) => Some((**t).clone()),
                _ => None,
            })
            .collect();
        assert_eq!(v.len(), 1, "{:?}", self.out);
        v.into_iter().next().unwrap()
    }

    fn creds(&self) -> Vec<Credentials> {
        self.out
            .iter()
            .filter_map(|(_, r)| match r {
                StreamRecord::Credentials(c) => Some((**c).clone()),
                _ => None,
            })
            .collect()
    }
}

const S: Dir = Dir::ToClient;
const C: Dir = Dir::ToServer;

/// The failed then successful login of the capture, with the client typing
/// character by character (and erasing one).
fn session() -> Vec<(Dir, Vec<u8>)> {
    let mut v: Vec<(Dir, Vec<u8>)> = vec![
        (S, vec![255, 253, 24, 255, 253, 32, 255, 251, 1]),
        (C, vec![255, 251, 24, 255, 252, 32, 255, 253, 1]),
        (S, vec![255, 250, 24, 1, 255, 240]),
        (C, b"\xff\xfa\x18\x00XTERM\xff\xf0".to_vec()),
        // NAWS 80x255: the 255 is doubled inside the subnegotiation.
        (C, vec![255, 250, 31, 0, 80, 0, 255, 255, 255, 240]),
        (
            S,
            b"\r\nLinux 6.1 (localhost) (pts/1)\r\n\r\nvm login: ".to_vec(),
        ),
    ];
    for &b in b"rooz\x7ft\r\0" {
        v.push((C, vec![b]));
        if b != 0 && b != b'\r' {
            v.push((S, vec![b]));
        }
    }
    v.push((S, b"\r\nPassword: ".to_vec()));
    v.push((C, b"guess\r\0".to_vec()));
    v.push((S, b"\r\n".to_vec()));
    v.push((S, b"\r\nLogin incorrect\r\nvm login: ".to_vec()));
    v.push((C, b"demo\r\n".to_vec()));
    v.push((S, b"demo\r\nPassword: ".to_vec()));
    v.push((C, b"Tr0ub4dor&3\r\n".to_vec()));
    v.push((S, b"\r\nLinux vm 6.1 x86_64\r\n$ ".to_vec()));
    v.push((C, b"uname -s\r\n".to_vec()));
    v.push((S, b"uname -s\r\nLinux\r\n$ ".to_vec()));
    v
}

fn run(parts: &[(Dir, Vec<u8>)]) -> Engine {
    let numbered: Vec<(Dir, u64, Vec<u8>)> = parts
        .iter()
        .enumerate()
        .map(|(i, (d, b))| (*d, i as u64 + 1, b.clone()))
        .collect();
    run_numbered(&numbered)
}

fn run_numbered(parts: &[(Dir, u64, Vec<u8>)]) -> Engine {
    let mut e = engine();
    for (d, frame, b) in parts {
        e.feed(*d, *frame, b);
    }
    e.finish_at(999);
    e
}

#[test]
fn negotiation_terminal_and_window() {
    let t = run(&session()).record();
    assert_eq!(
        t.server_options,
        ["DO TERMINAL-TYPE", "DO TERMINAL-SPEED", "WILL ECHO"]
    );
    assert_eq!(
        t.client_options,
        ["WILL TERMINAL-TYPE", "WONT TERMINAL-SPEED", "DO ECHO"]
    );
    assert_eq!(t.terminal_type, "XTERM");
    assert_eq!((t.window_width, t.window_height), (80, 255));
    assert_eq!(t.packet_number, 1);
    assert_eq!(t.connection_uid, "CTEL1");
}

#[test]
fn lines_per_direction_with_erasing_applied() {
    let t = run(&session()).record();
    assert_eq!(
        t.client_lines,
        ["root", "guess", "demo", "Tr0ub4dor&3", "uname -s"]
    );
    assert_eq!(
        t.server_lines,
        [
            "",
            "Linux 6.1 (localhost) (pts/1)",
            "",
            "vm login: rooz\u{7f}t",
            "Password: ",
            "",
            "Login incorrect",
            "vm login: demo",
            "Password: ",
            "Linux vm 6.1 x86_64",
            "$ uname -s",
            "Linux",
            "$ ",
        ]
    );
    assert!(!t.truncated && !t.partial);
}

#[test]
fn failed_then_accepted_login() {
    let e = run(&session());
    let c = e.creds();
    assert_eq!(c.len(), 2, "{c:?}");
    assert_eq!(
        (c[0].user.as_str(), c[0].password.as_str()),
        ("root", "guess")
    );
    assert!(!c[0].accepted);
    assert_eq!(c[0].reply, "Login incorrect");
    assert_eq!(c[0].service, "Telnet");
    assert_eq!(
        (c[1].user.as_str(), c[1].password.as_str()),
        ("demo", "Tr0ub4dor&3")
    );
    assert!(c[1].accepted);
    assert_eq!(c[1].reply, "Linux vm 6.1 x86_64");
    let t = e.record();
    assert_eq!(t.user, "demo");
    assert!(t.login_accepted);
}

#[test]
fn any_split_gives_the_same_records() {
    let whole = run(&session()).out;
    // Every part cut in two at every offset, and byte by byte.
    let parts: Vec<(Dir, u64, Vec<u8>)> = session()
        .into_iter()
        .enumerate()
        .map(|(i, (d, b))| (d, i as u64 + 1, b))
        .collect();
    for (k, (d, frame, b)) in parts.iter().enumerate() {
        for cut in 1..b.len() {
            // Both halves from the same packet: the records must not change.
            let mut v = parts.clone();
            v[k] = (*d, *frame, b[..cut].to_vec());
            v.insert(k + 1, (*d, *frame, b[cut..].to_vec()));
            let got = run_numbered(&v).out;
            assert_eq!(
                got.iter().map(|(_, r)| r).collect::<Vec<_>>(),
                whole.iter().map(|(_, r)| r).collect::<Vec<_>>(),
                "part {k} cut at {cut}"
            );
        }
    }
}

#[test]
fn unanswered_login_is_not_accepted() {
    let e = run(&[
        (S, b"login: ".to_vec()),
        (C, b"admin\r\n".to_vec()),
        (S, b"admin\r\nPassword: ".to_vec()),
        (C, b"admin\r\n".to_vec()),
    ]);
    let c = e.creds();
    assert_eq!(c.len(), 1);
    assert!(!c[0].accepted);
    assert_eq!(c[0].reply, "");
    assert!(!e.record().login_accepted);
}

#[test]
fn limits_cut_and_flag() {
    let long = vec![b'a'; MAX_LINE + 10];
    let mut many = Vec::new();
    for _ in 0..MAX_LINES + 5 {
        many.extend_from_slice(b"x\r\n");
    }
    let mut neg = Vec::new();
    for _ in 0..MAX_OPTIONS + 3 {
        neg.extend_from_slice(&[255, 253, 1]);
    }
    let sub: Vec<u8> = [255, 250, 24, 0]
        .into_iter()
        .chain(std::iter::repeat_n(b'A', MAX_SUB * 2))
        .chain([255, 240])
        .collect();
    let e = run(&[(C, long), (S, many), (S, neg), (C, sub)]);
    let t = e.record();
    assert!(t.truncated);
    assert_eq!(t.client_lines.len(), 1);
    assert_eq!(t.client_lines[0].len(), MAX_LINE);
    assert_eq!(t.server_lines.len(), MAX_LINES);
    assert_eq!(t.server_options.len(), MAX_OPTIONS);
    assert_eq!(t.terminal_type.len(), MAX_SUB - 2);
    assert!(e.parser.memory() < 4 * MAX_LINES * 64 + 64 * 1024);
}

#[test]
fn gap_drops_the_cut_line_and_flags_partial() {
    let mut e = engine();
    e.feed(C, 1, b"ls -l /e");
    e.gap(C, 2);
    e.feed(C, 3, b"tc\r\nid\r\n");
    e.finish_at(9);
    let t = e.record();
    assert!(t.partial);
    assert_eq!(t.client_lines, ["tc", "id"]);
}

#[test]
fn probe_needs_a_negotiation_or_text_on_a_telnet_port() {
    assert_eq!(probe(S, &[255, 253, 24], false), Probe::Yes);
    assert_eq!(probe(C, &[255, 250], false), Probe::Yes);
    assert_eq!(probe(S, &[255], false), Probe::NeedMore);
    assert_eq!(probe(S, &[255, 1], true), Probe::No);
    assert_eq!(probe(S, b"login: ", false), Probe::No);
    assert_eq!(probe(S, b"\r\nBusyBox login: ", true), Probe::Yes);
    assert_eq!(probe(S, &[0x16, 3, 1], true), Probe::No);
}

#[test]
fn hostile_bytes_never_fail() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..200 {
        let mut e = engine();
        for k in 0..20 {
            let mut b = vec![(seed >> 3) as u8];
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            for _ in 0..(seed % 64) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Mostly command bytes, to reach every state.
                b.push(if seed % 3 == 0 {
                    255
                } else {
                    (seed >> 8) as u8
                });
            }
            e.feed(if k % 2 == 0 { C } else { S }, k, &b);
        }
        e.finish_at(99);
        assert!(e.error.is_none(), "round {round}");
        e.record();
    }
}
