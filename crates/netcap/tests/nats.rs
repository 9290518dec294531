//! `netcap agent` → NATS JetStream → `netcap collect`, against real
//! `nats-server` processes on 127.0.0.1 (Debian package `nats-server`,
//! installed by `scripts/setup.sh --test`). The oracle is what
//! `netcap capture` writes from the same capture: the collected files must
//! hold the same records, byte for byte and in the same order, exactly once,
//! whatever was killed on the way.
#![cfg(feature = "nats")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use netcap_format::FileReader;

/// Records per type, as their protobuf bytes in file order.
type Raw = BTreeMap<String, Vec<Vec<u8>>>;

fn raw_records(dir: &Path) -> Raw {
    let mut out = Raw::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".ncap.gz") {
            continue;
        }
        let mut r = FileReader::open(&path).unwrap();
        let ty = r.record_type().record_name().to_string();
        let mut recs = Vec::new();
        while let Some(b) = r.next_raw().unwrap() {
            recs.push(b.to_vec());
        }
        out.insert(ty, recs);
    }
    out
}

fn total(r: &Raw) -> usize {
    r.values().map(Vec::len).sum()
}

/// The oracle: `netcap capture` of the same file.
fn captured(pcap: &Path) -> Raw {
    let dir = tempfile::tempdir().unwrap();
    common::capture(pcap, dir.path(), &["--quiet", "--no-side-outputs"]);
    raw_records(dir.path())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `nats-server` with JetStream on 127.0.0.1, killed when dropped.
struct Nats {
    child: Option<Child>,
    port: u16,
    store: PathBuf,
}

impl Nats {
    fn start(store: &Path) -> Nats {
        let mut n = Nats {
            child: None,
            port: free_port(),
            store: store.to_path_buf(),
        };
        n.restart();
        n
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on the same port and store.
    fn restart(&mut self) {
        let child = Command::new("nats-server")
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server runs (scripts/setup.sh --test installs it)");
        self.child = Some(child);
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "nats-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: no chance to flush anything.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

fn netcap_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_netcap"));
    c.args(args)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env_remove("NETCAP_NATS_USER")
        .env_remove("NETCAP_NATS_PASSWORD");
    c
}

fn agent(url: &str, sensor: &str, pcap: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "agent",
        "-r",
        pcap.to_str().unwrap(),
        "--nats",
        url,
        "--sensor",
        sensor,
    ];
    args.extend_from_slice(extra);
    netcap_cmd(&args).output().unwrap()
}

fn collect_args<'a>(url: &'a str, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "collect",
        "--nats",
        url,
        "-o",
        out.to_str().unwrap(),
        "--ack-wait",
        "2",
    ];
    args.extend_from_slice(extra);
    if !extra.contains(&"--idle-exit") {
        args.extend_from_slice(&["--idle-exit", "5"]);
    }
    args
}

fn collect(url: &str, out: &Path, extra: &[&str]) -> Output {
    let o = netcap_cmd(&collect_args(url, out, extra)).output().unwrap();
    assert!(o.status.success(), "collect: {}", stderr(&o));
    o
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// The number before `word` on the summary line starting with `label`.
fn count(text: &str, label: &str, word: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no line {label} in:\n{text}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let i = words
        .iter()
        .position(|w| w.trim_end_matches(',') == word)
        .unwrap_or_else(|| panic!("no {word} in {line}"));
    words[i - 1].parse().unwrap()
}

fn pcap(name: &str) -> PathBuf {
    common::pcaps_dir().join(name)
}

/// The collected records equal the captured ones, type for type, record for
/// record; the files name the sensor as input source and `dump` reads them.
fn assert_same(collected: &Path, sensor: &str, want: &Raw) {
    let got = raw_records(&collected.join(sensor));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "record types"
    );
    for (ty, recs) in want {
        let g = &got[ty];
        assert_eq!(g.len(), recs.len(), "{ty}: number of records");
        let first_diff = g.iter().zip(recs).position(|(a, b)| a != b);
        assert_eq!(first_diff, None, "{ty}: first different record");
    }
    for ty in got.keys() {
        let file = collected.join(sensor).join(format!("{ty}.ncap.gz"));
        let o = netcap_cmd(&["dump", "-r", file.to_str().unwrap(), "--header"])
            .output()
            .unwrap();
        assert!(o.status.success(), "dump --header {ty}: {}", stderr(&o));
        let header = String::from_utf8_lossy(&o.stdout);
        assert!(
            header.contains(sensor),
            "{ty}: header names the sensor: {header}"
        );
    }
}

#[test]
fn agent_to_collector_equals_capture() {
    let tmp = tempfile::tempdir().unwrap();
    let nats = Nats::start(&tmp.path().join("js"));
    let p = pcap("mixed-web-tls-http-tcp-anomalies.pcap");
    let want = captured(&p);
    assert!(want.len() > 10, "a capture with many record types");
    // Small batches: many messages, several per type.
    let o = agent(&nats.url(), "web-1", &p, &["--batch-size", "16", "-w", "2"]);
    let err = stderr(&o);
    assert!(o.status.success(), "agent: {err}");
    assert_eq!(
        count(&err, "sent:", "records") as usize,
        total(&want),
        "{err}"
    );
    assert_eq!(count(&err, "dropped:", "batches"), 0, "{err}");
    let sent = count(&err, "sent:", "batches");
    assert!(sent > 2 * want.len() as u64, "{err}");

    let out = tmp.path().join("collected");
    let c = collect(&nats.url(), &out, &[]);
    let cerr = stderr(&c);
    assert_eq!(count(&cerr, "written:", "batches"), sent, "{cerr}");
    assert_same(&out, "web-1", &want);
    // The state file is beside the files.
    assert!(out.join("web-1").join(".netcap-collect.json").exists());

    // A second collector on the same durable consumer gets nothing new.
    let again = tmp.path().join("again");
    let c = collect(&nats.url(), &again, &["--idle-exit", "1"]);
    assert_eq!(count(&stderr(&c), "written:", "batches"), 0);
}

#[test]
fn collector_killed_mid_stream_loses_and_duplicates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let nats = Nats::start(&tmp.path().join("js"));
    let p = pcap("mixed-web-tls-http-tcp-anomalies.pcap");
    let want = captured(&p);
    let o = agent(&nats.url(), "s2", &p, &["--batch-size", "2"]);
    let err = stderr(&o);
    assert!(o.status.success(), "agent: {err}");
    let sent = count(&err, "sent:", "batches");
    assert!(sent > 300, "{err}");

    let out = tmp.path().join("collected");
    // Small fetches: many commits, so that the kill lands between two.
    let url = nats.url();
    let args = collect_args(&url, &out, &["--durable", "k", "--fetch", "16"]);
    let mut first = netcap_cmd(&args).stderr(Stdio::null()).spawn().unwrap();
    let state = out.join("s2").join(".netcap-collect.json");
    let start = Instant::now();
    while !state.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "nothing collected"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();

    let c = collect(&nats.url(), &out, &["--durable", "k"]);
    let cerr = stderr(&c);
    let second = count(&cerr, "written:", "batches");
    assert!(
        second > 0 && second < sent,
        "the kill landed mid-stream: {second} of {sent} batches after it\n{cerr}"
    );
    assert_same(&out, "s2", &want);
}

#[test]
fn nats_killed_mid_stream_agent_spools_and_resends() {
    let tmp = tempfile::tempdir().unwrap();
    let mut nats = Nats::start(&tmp.path().join("js"));
    let p = pcap("mixed-web-tls-http-tcp-anomalies.pcap");
    let want = captured(&p);
    let bytes = std::fs::read(&p).unwrap();
    // The agent reads the capture from a pipe the test fills in two halves.
    let fifo = tmp.path().join("capture.pcap");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let spool = tmp.path().join("spool");
    let url = nats.url();
    let agent = netcap_cmd(&[
        "agent",
        "-r",
        fifo.to_str().unwrap(),
        "--nats",
        &url,
        "--sensor",
        "s3",
        "--batch-size",
        "2",
        "--spool",
        spool.to_str().unwrap(),
        "--ack-timeout",
        "1",
        "--finish-timeout",
        "60",
    ])
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut pipe = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let half = bytes.len() * 2 / 3;
    pipe.write_all(&bytes[..half]).unwrap();
    pipe.flush().unwrap();
    // The first batches of packets are decoded and published meanwhile.
    std::thread::sleep(Duration::from_secs(3));
    nats.kill();
    pipe.write_all(&bytes[half..]).unwrap();
    drop(pipe);
    // The rest is spooled while the server is away.
    std::thread::sleep(Duration::from_secs(4));
    let spooled = std::fs::read_dir(&spool).unwrap().count();
    assert!(spooled > 0, "batches wait in the spool folder");
    nats.restart();
    let o = agent.wait_with_output().unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "agent: {err}");
    assert!(count(&err, "spooled:", "batches") > 0, "{err}");
    assert_eq!(count(&err, "dropped:", "batches"), 0, "{err}");
    assert_eq!(count(&err, "unsent:", "batches"), 0, "{err}");
    assert_eq!(
        count(&err, "sent:", "records") as usize,
        total(&want),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(&spool).unwrap().count(),
        0,
        "spool drained"
    );

    let out = tmp.path().join("collected");
    collect(&nats.url(), &out, &[]);
    assert_same(&out, "s3", &want);
}

#[test]
fn spool_over_its_cap_counts_drops_and_keeps_the_rest_for_the_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    let p = pcap("mixed-web-tls-http-tcp-anomalies.pcap");
    let want = captured(&p);
    // Nothing listens on this port: everything goes to the spool.
    let url = format!("nats://127.0.0.1:{}", free_port());
    let spool = tmp.path().join("spool");
    let o = agent(
        &url,
        "s4",
        &p,
        &[
            "--batch-size",
            "4",
            "--spool",
            spool.to_str().unwrap(),
            "--spool-max",
            "0.05",
            "--finish-timeout",
            "1",
        ],
    );
    let err = stderr(&o);
    // Records were lost: an error.
    assert_eq!(o.status.code(), Some(1), "{err}");
    let dropped = count(&err, "dropped:", "records");
    let left = count(&err, "unsent:", "records");
    assert!(dropped > 0 && left > 0, "{err}");
    assert_eq!((dropped + left) as usize, total(&want), "{err}");
    assert_eq!(count(&err, "sent:", "batches"), 0, "{err}");
    assert_eq!(
        count(&err, "spooled:", "batches"),
        count(&err, "unsent:", "batches"),
        "{err}"
    );
    let on_disk: u64 = std::fs::read_dir(&spool)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(
        on_disk <= 52_429 + 4096 * count(&err, "unsent:", "batches"),
        "{on_disk}"
    );

    // The next run, with NATS up, sends what was spooled first.
    let js = tmp.path().join("js");
    let nats = Nats::start(&js);
    let small = pcap("dhcp-eapol-lan.pcap");
    let o = agent(
        &nats.url(),
        "s4",
        &small,
        &["--spool", spool.to_str().unwrap()],
    );
    let err2 = stderr(&o);
    assert!(o.status.success(), "{err2}");
    let small_total = total(&captured(&small));
    assert_eq!(
        count(&err2, "sent:", "records") as usize,
        left as usize + small_total,
        "{err2}"
    );
    let out = tmp.path().join("collected");
    collect(&nats.url(), &out, &["--idle-exit", "3"]);
    let got = raw_records(&out.join("s4"));
    assert_eq!(total(&got), left as usize + small_total);
}
