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

/// Ports nobody listens on (all held until chosen, so they differ).
fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// A `nats-server` on 127.0.0.1, killed when dropped.
struct Nats {
    child: Option<Child>,
    port: u16,
    args: Vec<String>,
}

impl Nats {
    /// A single server with JetStream storing into `store`.
    fn start(store: &Path) -> Nats {
        let port = free_port();
        let args = ["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"]
            .iter()
            .map(|s| s.to_string())
            .chain([store.to_str().unwrap().to_string()])
            .collect();
        Nats::spawn(port, args)
    }

    /// A server started with `args`, listening on `port`.
    fn spawn(port: u16, args: Vec<String>) -> Nats {
        let mut n = Nats {
            child: None,
            port,
            args,
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
            .args(&self.args)
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
    c.args(args);
    // JetStream refuses a stream larger than the disk space it may use
    // ("insufficient storage resources"): the default 10 GiB need not fit
    // on a test machine.
    if matches!(args.first(), Some(&"agent" | &"collect")) {
        c.args(["--stream-max-bytes", "512"]);
    }
    c.env("SOURCE_DATE_EPOCH", "1700000000")
        .env_remove("NETCAP_NATS_USER")
        .env_remove("NETCAP_NATS_PASSWORD");
    c
}

/// Runs `c` to its end, SIGKILLing it after `secs`: a process that hangs
/// fails the test instead of hanging it.
fn output_within(mut c: Command, secs: u64) -> Output {
    let what = format!("{c:?}");
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(o) => o.unwrap(),
        Err(_) => {
            let _ = Command::new("sh")
                .args(["-c", &format!("kill -KILL {pid}")])
                .status();
            panic!("{what} did not end within {secs} s");
        }
    }
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
    output_within(netcap_cmd(&args), 120)
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
    let o = output_within(netcap_cmd(&collect_args(url, out, extra)), 120);
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

/// The files in `dir`, by name, with their contents.
fn dir_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

/// `agent --files DIR` writes on the sensor the same files as `capture
/// --files DIR`, and its File records (Location included: both run with
/// the same relative DIR) reach the collector unchanged.
#[test]
fn agent_extracts_the_same_files_as_capture() {
    let tmp = tempfile::tempdir().unwrap();
    let nats = Nats::start(&tmp.path().join("js"));
    let p = pcap("mixed-web-tls-http-tcp-anomalies.pcap");
    let (cap_dir, agent_dir) = (tmp.path().join("capture"), tmp.path().join("agent"));
    std::fs::create_dir_all(&cap_dir).unwrap();
    std::fs::create_dir_all(&agent_dir).unwrap();
    let mut c = netcap_cmd(&[
        "capture",
        "-r",
        p.to_str().unwrap(),
        "-o",
        "out",
        "--quiet",
        "--no-side-outputs",
        "--files",
        "files",
    ]);
    c.current_dir(&cap_dir);
    let o = output_within(c, 120);
    assert!(o.status.success(), "capture: {}", stderr(&o));
    let want = raw_records(&cap_dir.join("out"));
    let mut a = netcap_cmd(&[
        "agent",
        "-r",
        p.to_str().unwrap(),
        "--nats",
        &nats.url(),
        "--sensor",
        "files-1",
        "-w",
        "2",
        "--files",
        "files",
    ]);
    a.current_dir(&agent_dir);
    let o = output_within(a, 120);
    assert!(o.status.success(), "agent: {}", stderr(&o));
    let files = dir_files(&cap_dir.join("files"));
    assert!(files.len() > 5, "a capture with many HTTP bodies");
    assert_eq!(dir_files(&agent_dir.join("files")), files);
    assert!(want["File"]
        .iter()
        .all(|r| r.windows(6).any(|w| w == b"files/")));
    let out = tmp.path().join("collected");
    collect(&nats.url(), &out, &[]);
    assert_same(&out, "files-1", &want);
}

/// A collector whose stream is deleted under it stops with a clear error
/// and a non-zero exit, instead of fetching nothing forever.
#[test]
fn collector_stops_when_its_stream_is_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let nats = Nats::start(&tmp.path().join("js"));
    let p = pcap("mixed-web-tls-http-tcp-anomalies.pcap");
    let o = agent(&nats.url(), "gone-1", &p, &[]);
    assert!(o.status.success(), "agent: {}", stderr(&o));
    let out = tmp.path().join("collected");
    let url = nats.url();
    let mut c = netcap_cmd(&collect_args(&url, &out, &["--idle-exit", "600"]));
    let child = c
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_for("the collector's first files", 60, || {
        out.join("gone-1").join(".netcap-collect.json").exists()
    });
    let deleted = js_api(nats.port, "$JS.API.STREAM.DELETE.NETCAP").unwrap();
    assert_eq!(deleted["success"], true, "{deleted}");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let o = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(o) => o.unwrap(),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("the collector did not stop within 30 s of its stream's deletion");
        }
    };
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("stream NETCAP was deleted"), "{err}");
}

/// A nats-server whose JetStream may store only 64 MB: the default stream
/// size (10 GiB) is lowered to what it can reserve, with a warning, and
/// batches flow; a size given by the operator that does not fit is refused
/// at once with a clear error instead of being retried forever.
#[test]
fn default_stream_size_fits_a_server_with_a_small_max_file_store() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = tmp.path().join("nats.conf");
    std::fs::write(
        &conf,
        format!(
            "listen: 127.0.0.1:{port}\njetstream {{ store_dir: {:?}, max_file_store: 64MB }}\n",
            tmp.path().join("js")
        ),
    )
    .unwrap();
    let nats = Nats::spawn(port, vec!["-c".into(), conf.to_str().unwrap().into()]);
    let url = nats.url();
    let out = tmp.path().join("collected");
    // Given, too large: refused, not retried.
    let mut c = netcap_cmd(&[]);
    c.args(collect_args(&url, &out, &["--stream-max-bytes", "200"]));
    let o = output_within(c, 30);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot reserve --stream-max-bytes 200 MiB"),
        "{err}"
    );
    // The default: lowered to what fits.
    let p = pcap("mixed-web-tls-http-tcp-anomalies.pcap");
    let want = captured(&p);
    let mut a = netcap_cmd(&[]);
    a.args([
        "agent",
        "-r",
        p.to_str().unwrap(),
        "--nats",
        &url,
        "--sensor",
        "small-1",
    ]);
    let o = output_within(a, 120);
    let err = stderr(&o);
    assert!(o.status.success(), "agent: {err}");
    assert!(err.contains("created it with --stream-max-bytes"), "{err}");
    let info = stream_info(port).unwrap();
    let max = info["config"]["max_bytes"].as_i64().unwrap();
    assert!(max > 0 && max <= 64 << 20, "{info}");
    let mut c = netcap_cmd(&[]);
    c.args(collect_args(&url, &out, &[]));
    let o = output_within(c, 120);
    assert!(o.status.success(), "collect: {}", stderr(&o));
    assert_same(&out, "small-1", &want);
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

// ---------------------------------------------------------------------------
// The test's own view of the servers: JetStream API requests over NATS's text
// protocol on a plain TCP socket, independent of the client under test.

/// Sends an empty request to `subject` and returns the JSON reply (`None`
/// when nothing answers within 3 seconds).
fn js_api(port: u16, subject: &str) -> Option<serde_json::Value> {
    use std::io::{BufRead, BufReader, Read};
    let s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    let mut r = BufReader::new(s.try_clone().ok()?);
    let mut w = s;
    let mut line = String::new();
    r.read_line(&mut line).ok()?; // INFO
    write!(
        w,
        "CONNECT {{\"verbose\":false,\"pedantic\":false}}\r\nSUB _INBOX.test 1\r\nPUB {subject} _INBOX.test 0\r\n\r\n"
    )
    .ok()?;
    loop {
        line.clear();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line.starts_with("PING") {
            w.write_all(b"PONG\r\n").ok()?;
        } else if let Some(rest) = line.strip_prefix("MSG ") {
            let len: usize = rest.split_whitespace().last()?.parse().ok()?;
            let mut buf = vec![0; len + 2];
            r.read_exact(&mut buf).ok()?;
            return serde_json::from_slice(&buf[..len]).ok();
        } else if line.starts_with("-ERR") {
            return None;
        }
    }
}

/// Stream NETCAP as JetStream describes it, once it answers without error.
fn stream_info(port: u16) -> Option<serde_json::Value> {
    js_api(port, "$JS.API.STREAM.INFO.NETCAP").filter(|v| v.get("error").is_none())
}

fn stream_messages(port: u16) -> u64 {
    stream_info(port)
        .and_then(|v| v["state"]["messages"].as_u64())
        .unwrap_or(0)
}

/// Polls `f` every 100 ms until it holds.
fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every record of every collected folder under `roots` for `sensor`, per
/// type, sorted: the multiset to compare when batches were spread over
/// several collectors.
fn union_sorted(roots: &[&Path], sensor: &str) -> Raw {
    let mut all = Raw::new();
    for root in roots {
        for (ty, recs) in raw_records(&root.join(sensor)) {
            all.entry(ty).or_default().extend(recs);
        }
    }
    for v in all.values_mut() {
        v.sort();
    }
    all
}

// ---------------------------------------------------------------------------
// Item 4: TLS, credentials and permissions.

/// A certificate authority, a server certificate for 127.0.0.1, a client
/// certificate, and a second, unrelated authority; made with the openssl
/// command (Debian package `openssl`).
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("openssl.cnf"),
            "[req]\ndistinguished_name = dn\n[dn]\n\
             [ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n\
             subjectKeyIdentifier = hash\n\
             [server]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
             extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1\n\
             [client]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
             extendedKeyUsage = clientAuth\nsubjectAltName = DNS:netcap-sensor\n",
        )
        .unwrap();
        let pki = Pki {
            dir: dir.to_path_buf(),
        };
        pki.authority("ca");
        pki.authority("other-ca");
        pki.leaf("server", "server", 2);
        pki.leaf("client", "client", 3);
        pki
    }

    fn openssl(&self, args: &[&str]) {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("openssl runs (scripts/setup.sh --test installs it)");
        assert!(
            o.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// A self-signed CA: NAME.pem, NAME-key.pem.
    fn authority(&self, name: &str) {
        let (cert, key) = (format!("{name}.pem"), format!("{name}-key.pem"));
        self.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &cert,
            "-days",
            "2",
            "-subj",
            &format!("/CN=netcap test {name}"),
            "-config",
            "openssl.cnf",
            "-extensions",
            "ca",
        ]);
    }

    /// A certificate signed by `ca`: NAME.pem, NAME-key.pem (PKCS#8).
    fn leaf(&self, name: &str, ext: &str, serial: u32) {
        let (cert, key, csr) = (
            format!("{name}.pem"),
            format!("{name}-key.pem"),
            format!("{name}.csr"),
        );
        self.openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &format!("/CN=netcap test {name}"),
            "-config",
            "openssl.cnf",
        ]);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-set_serial",
            &serial.to_string(),
            "-days",
            "2",
            "-out",
            &cert,
            "-extfile",
            "openssl.cnf",
            "-extensions",
            ext,
        ]);
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_string()
    }
}

/// The permissions of a sensor's user: publish its batches, read its
/// replies, and look up the stream (optional: without it the agent warns).
fn sensor_permissions(sensor: &str) -> String {
    format!(
        "{{ publish: {{ allow: [\"netcap.{sensor}.>\", \"$JS.API.STREAM.INFO.NETCAP\"] }}, \
         subscribe: {{ allow: [\"_INBOX.netcap.{sensor}.>\"] }} }}"
    )
}

/// The permissions of the collectors' user: create or look up the stream
/// and its durable consumer, pull batches, acknowledge them.
const COLLECTOR_PERMISSIONS: &str = "{ publish: { allow: [\
    \"$JS.API.STREAM.INFO.NETCAP\", \"$JS.API.STREAM.CREATE.NETCAP\", \
    \"$JS.API.CONSUMER.INFO.NETCAP.*\", \"$JS.API.CONSUMER.CREATE.NETCAP.>\", \
    \"$JS.API.CONSUMER.MSG.NEXT.NETCAP.*\", \
    \"$JS.ACK.NETCAP.>\"] }, \
    subscribe: { allow: [\"_INBOX.netcap-collect.>\"] } }";

#[test]
fn tls_credentials_and_permissions() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::new(&tmp.path().join("pki"));
    // NKeys: one the server knows, one it does not.
    let known = nkeys::KeyPair::new_user();
    let unknown = nkeys::KeyPair::new_user();
    let seed_file = |name: &str, kp: &nkeys::KeyPair| {
        let p = tmp.path().join(name);
        std::fs::write(&p, kp.seed().unwrap()).unwrap();
        p.to_str().unwrap().to_string()
    };
    let known_seed = seed_file("nk-1.nk", &known);
    let unknown_seed = seed_file("stranger.nk", &unknown);

    let port = free_port();
    let conf = tmp.path().join("nats.conf");
    std::fs::write(
        &conf,
        format!(
            "listen: \"127.0.0.1:{port}\"\n\
             jetstream {{ store_dir: \"{js}\" }}\n\
             tls {{\n  cert_file: \"{cert}\"\n  key_file: \"{key}\"\n  ca_file: \"{ca}\"\n  verify: true\n  timeout: 5\n}}\n\
             authorization {{\n  users = [\n\
             {{ user: collector, password: \"collector-secret\", permissions: {COLLECTOR_PERMISSIONS} }}\n\
             {{ user: dmz-1, password: \"dmz-1-secret\", permissions: {dmz} }}\n\
             {{ user: lan-1, password: \"lan-1-secret\", permissions: {lan} }}\n\
             {{ user: old-1, password: \"old-1-secret\", permissions: {old} }}\n\
             {{ nkey: \"{nkey}\", permissions: {nk} }}\n  ]\n}}\n",
            js = tmp.path().join("js").display(),
            cert = pki.path("server.pem"),
            key = pki.path("server-key.pem"),
            ca = pki.path("ca.pem"),
            dmz = sensor_permissions("dmz-1"),
            lan = sensor_permissions("lan-1"),
            // The replies of every client: how configurations written for
            // other NATS clients often read.
            old = sensor_permissions("old-1").replace("_INBOX.netcap.old-1.>", "_INBOX.>"),
            nkey = known.public_key(),
            nk = sensor_permissions("nk-1"),
        ),
    )
    .unwrap();
    let _nats = Nats::spawn(port, vec!["-c".into(), conf.to_str().unwrap().into()]);
    let url = format!("nats://127.0.0.1:{port}");
    let (ca, cert, key) = (
        pki.path("ca.pem"),
        pki.path("client.pem"),
        pki.path("client-key.pem"),
    );
    let tls: Vec<&str> = vec![
        "--tls-ca",
        ca.as_str(),
        "--tls-cert",
        cert.as_str(),
        "--tls-key",
        key.as_str(),
    ];
    let p = pcap("dns-tcp-multirequest.pcap");
    let want = captured(&p);

    // Runs an agent with `user` (password from the environment, None: no
    // user) and extra arguments.
    let run_agent = |sensor: &str, user: Option<(&str, &str)>, extra: &[&str]| {
        let mut args = vec![
            "agent",
            "-r",
            p.to_str().unwrap(),
            "--nats",
            url.as_str(),
            "--sensor",
            sensor,
            "--ack-timeout",
            "2",
            "--finish-timeout",
            "10",
        ];
        args.extend_from_slice(extra);
        let mut c = netcap_cmd(&args);
        if let Some((u, pw)) = user {
            c.env("NETCAP_NATS_USER", u).env("NETCAP_NATS_PASSWORD", pw);
        }
        let start = Instant::now();
        let o = output_within(c, 60);
        (o, start.elapsed())
    };
    let collector = |out: &Path| {
        let mut args = collect_args(&url, out, &["--idle-exit", "2"]);
        args.extend_from_slice(&tls);
        let mut c = netcap_cmd(&args);
        c.env("NETCAP_NATS_USER", "collector")
            .env("NETCAP_NATS_PASSWORD", "collector-secret");
        let o = output_within(c, 60);
        assert!(o.status.success(), "collect: {}", stderr(&o));
        stderr(&o)
    };

    // The collector creates the stream with its narrow permissions.
    let out = tmp.path().join("collected");
    let cerr = collector(&out);
    assert_eq!(count(&cerr, "written:", "batches"), 0, "{cerr}");
    assert!(!cerr.contains("refused"), "{cerr}");

    // A sensor with its password, over mutual TLS, delivers its records;
    // it may look the stream up, so it has nothing to warn about.
    let (o, _) = run_agent("dmz-1", Some(("dmz-1", "dmz-1-secret")), &tls);
    let err = stderr(&o);
    assert!(o.status.success(), "dmz-1: {err}");
    assert!(!err.contains("warning"), "{err}");
    assert_eq!(
        count(&err, "sent:", "records") as usize,
        total(&want),
        "{err}"
    );
    // A sensor with an NKey seed file.
    let mut nk_args = tls.clone();
    nk_args.extend_from_slice(&["--nkey", known_seed.as_str()]);
    let (o, _) = run_agent("nk-1", None, &nk_args);
    let err = stderr(&o);
    assert!(o.status.success(), "nk-1: {err}");
    assert_eq!(
        count(&err, "sent:", "records") as usize,
        total(&want),
        "{err}"
    );

    // Refused at connection: wrong password, unknown user, unknown NKey.
    let mut stranger = tls.clone();
    stranger.extend_from_slice(&["--nkey", unknown_seed.as_str()]);
    for (what, user, extra) in [
        ("wrong password", Some(("dmz-1", "guess")), &tls),
        ("unknown user", Some(("intruder", "dmz-1-secret")), &tls),
        ("unknown NKey", None, &stranger),
        ("no credentials", None, &tls),
    ] {
        let (o, _) = run_agent("dmz-1", user, extra);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{what}: {err}");
        assert!(
            err.contains("refused the connection") && err.contains("authorization"),
            "{what}: a clear error: {err}"
        );
    }

    // TLS: a server certificate from another CA fails verification; so
    // does a client without a certificate (the server requires one).
    let other_ca = pki.path("other-ca.pem");
    let wrong_ca: Vec<&str> = vec![
        "--tls-ca",
        other_ca.as_str(),
        "--tls-cert",
        cert.as_str(),
        "--tls-key",
        key.as_str(),
    ];
    let no_cert: Vec<&str> = vec!["--tls-ca", ca.as_str()];
    for (what, extra) in [("wrong CA", &wrong_ca), ("no client certificate", &no_cert)] {
        let (o, took) = run_agent("dmz-1", Some(("dmz-1", "dmz-1-secret")), extra);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{what}: {err}");
        assert!(err.contains("refused the connection"), "{what}: {err}");
        assert!(took < Duration::from_secs(8), "{what}: refused at once");
    }

    // dmz-1's user sending as lan-1: refused by the server (the first thing
    // it refuses is the subscription to lan-1's inbox); old-1's user, whose
    // permissions let it read every inbox, sending as lan-1: the server
    // refuses the publications. Either way the agent stops at once with the
    // server's words.
    for (user, what) in [
        (
            ("dmz-1", "dmz-1-secret"),
            "Subscription to \"_INBOX.netcap.lan-1.",
        ),
        (("old-1", "old-1-secret"), "Publish to \"netcap.lan-1."),
    ] {
        let (o, took) = run_agent("lan-1", Some(user), &tls);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("NATS refused: Permissions Violation for {what}")),
            "{err}"
        );
        assert_eq!(count(&err, "sent:", "batches"), 0, "{err}");
        assert!(took < Duration::from_secs(15), "stopped at once: {took:?}");
    }

    // Only what the two legitimate sensors sent is in the stream.
    let cerr = collector(&out);
    assert!(cerr.contains("sensors: dmz-1, nk-1\n"), "{cerr}");
    assert_same(&out, "dmz-1", &want);
    assert_same(&out, "nk-1", &want);
    assert!(!out.join("lan-1").exists());
}

/// No secret is taken from the command line: there is no option for one,
/// and a server URL carrying credentials is refused before connecting.
#[test]
fn no_secret_in_process_arguments() {
    for cmd in ["agent", "collect"] {
        let o = netcap_cmd(&[cmd, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&o.stdout).to_lowercase();
        for secret in ["--password", "--user", "--token", "--seed", "--pass"] {
            assert!(!help.contains(secret), "{cmd} has {secret}");
        }
        assert!(
            help.contains("netcap_nats_password"),
            "{cmd} --help: {help}"
        );
        let o = netcap_cmd(&[cmd, "--nats", "nats://127.0.0.1:1", "--password", "x"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{cmd} --password is unknown");
    }
    let p = pcap("dns-tcp-multirequest.pcap");
    for url in [
        "nats://dmz-1:secret@127.0.0.1:1",
        "nats://127.0.0.1:2,tls://token@127.0.0.1:1",
    ] {
        let o = agent(url, "dmz-1", &p, &[]);
        let err = stderr(&o);
        assert!(!o.status.success(), "{err}");
        assert!(err.contains("no credentials in the URL"), "{err}");
        assert!(
            !err.contains("unreachable"),
            "refused before connecting: {err}"
        );
    }
}

// ---------------------------------------------------------------------------
// Item 3: a three-node cluster.

#[test]
fn cluster_of_three_loses_its_stream_leader_and_keeps_every_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let ports = free_ports(6);
    let (client, route) = (&ports[..3], &ports[3..]);
    let mut nodes: Vec<Nats> = (0..3)
        .map(|i| {
            let routes: Vec<String> = (0..3)
                .filter(|&j| j != i)
                .map(|j| format!("nats://127.0.0.1:{}", route[j]))
                .collect();
            let store = tmp.path().join(format!("n{i}"));
            let args = [
                "-a".to_string(),
                "127.0.0.1".into(),
                "-p".into(),
                client[i].to_string(),
                "-n".into(),
                format!("n{i}"),
                "-js".into(),
                "-sd".into(),
                store.to_str().unwrap().into(),
                "--cluster_name".into(),
                "netcap".into(),
                "--cluster".into(),
                format!("nats://127.0.0.1:{}", route[i]),
                "--routes".into(),
                routes.join(","),
            ];
            Nats::spawn(client[i], args.to_vec())
        })
        .collect();
    // JetStream answers once the cluster has elected its meta leader.
    wait_for("the JetStream meta leader", 60, || {
        js_api(client[0], "$JS.API.INFO").is_some_and(|v| v.get("error").is_none())
    });
    let urls = nodes.iter().map(Nats::url).collect::<Vec<_>>().join(",");

    let p = pcap("mixed-web-tls-http-tcp-anomalies.pcap");
    let want = captured(&p);
    let bytes = std::fs::read(&p).unwrap();
    let fifo = tmp.path().join("capture.pcap");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let spool = tmp.path().join("spool");
    let agent = netcap_cmd(&[
        "agent",
        "-r",
        fifo.to_str().unwrap(),
        "--nats",
        &urls,
        "--replicas",
        "3",
        "--sensor",
        "c1",
        "--batch-size",
        "2",
        "--spool",
        spool.to_str().unwrap(),
        "--ack-timeout",
        "2",
        "--finish-timeout",
        "90",
    ])
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut pipe = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let half = bytes.len() * 2 / 3;
    pipe.write_all(&bytes[..half]).unwrap();
    pipe.flush().unwrap();
    // Some batches are stored on the three nodes; then the stream's leader
    // (as JetStream names it) is SIGKILLed while the agent is publishing.
    wait_for("the first batches", 30, || stream_messages(client[0]) > 10);
    let info = stream_info(client[0]).unwrap();
    assert_eq!(info["config"]["num_replicas"], 3, "{info}");
    let leader = info["cluster"]["leader"].as_str().unwrap().to_string();
    let victim: usize = leader.trim_start_matches('n').parse().unwrap();
    nodes[victim].kill();
    pipe.write_all(&bytes[half..]).unwrap();
    drop(pipe);
    let o = agent.wait_with_output().unwrap();
    let err = stderr(&o);
    eprintln!("cluster: killed {leader}; agent:\n{err}");
    assert!(o.status.success(), "agent: {err}");
    assert_eq!(count(&err, "dropped:", "batches"), 0, "{err}");
    assert_eq!(count(&err, "unsent:", "batches"), 0, "{err}");
    assert_eq!(
        count(&err, "sent:", "records") as usize,
        total(&want),
        "{err}"
    );
    // A new leader on one of the two others.
    let alive = (0..3).find(|&i| i != victim).unwrap();
    let info = stream_info(client[alive]).unwrap();
    assert_ne!(info["cluster"]["leader"].as_str(), Some(leader.as_str()));

    // The collector, given all three URLs, gets every batch exactly once.
    let out = tmp.path().join("collected");
    let c = collect(&urls, &out, &["--replicas", "3"]);
    let cerr = stderr(&c);
    assert_eq!(
        count(&cerr, "written:", "batches"),
        count(&err, "sent:", "batches"),
        "{cerr}"
    );
    assert_same(&out, "c1", &want);
}

// ---------------------------------------------------------------------------
// Item 2: collectors sharing one durable consumer.

#[test]
fn two_collectors_share_one_durable_consumer() {
    let tmp = tempfile::tempdir().unwrap();
    let nats = Nats::start(&tmp.path().join("js"));
    let url = nats.url();
    let p = pcap("mixed-web-tls-http-tcp-anomalies.pcap");
    let want = captured(&p);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    // Both wait for batches before the agent sends any.
    let spawn = |out: &Path| {
        let args = collect_args(
            &url,
            out,
            &["--durable", "shared", "--fetch", "8", "--idle-exit", "6"],
        );
        netcap_cmd(&args).stderr(Stdio::piped()).spawn().unwrap()
    };
    let (ca, cb) = (spawn(&a), spawn(&b));
    let o = agent(&url, "s5", &p, &["--batch-size", "2"]);
    let err = stderr(&o);
    assert!(o.status.success(), "agent: {err}");
    let sent = count(&err, "sent:", "batches");
    let (oa, ob) = (
        ca.wait_with_output().unwrap(),
        cb.wait_with_output().unwrap(),
    );
    let (ea, eb) = (stderr(&oa), stderr(&ob));
    assert!(oa.status.success() && ob.status.success(), "{ea}\n{eb}");
    let (wa, wb) = (
        count(&ea, "written:", "batches"),
        count(&eb, "written:", "batches"),
    );
    eprintln!("two collectors: {wa} + {wb} of {sent} batches");
    assert!(wa > 0 && wb > 0, "both took a share: {wa} + {wb}");
    assert_eq!(wa + wb, sent, "every batch once");
    // Together: the records `capture` writes, each once.
    let mut want_sorted = want.clone();
    for v in want_sorted.values_mut() {
        v.sort();
    }
    let got = union_sorted(&[&a, &b], "s5");
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want_sorted.keys().collect::<Vec<_>>()
    );
    for (ty, recs) in &want_sorted {
        assert!(&got[ty] == recs, "{ty}: the union differs from capture");
    }
}

// ---------------------------------------------------------------------------
// Ctrl-C on a running agent.

/// Writes the capture's packets to `w` again and again (each copy an hour
/// later than the last) until the reader goes away; returns the copies.
fn replay_forever(pcap: &[u8], mut w: impl Write) -> usize {
    let (header, packets) = pcap.split_at(24);
    let le = header[..4] == [0xd4, 0xc3, 0xb2, 0xa1] || header[..4] == [0x4d, 0x3c, 0xb2, 0xa1];
    let u32_at = |b: &[u8], i: usize| {
        let a: [u8; 4] = b[i..i + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    if w.write_all(header).is_err() {
        return 0;
    }
    for copy in 0.. {
        let mut out = Vec::with_capacity(packets.len());
        let mut rest = packets;
        while rest.len() >= 16 {
            let len = u32_at(rest, 8) as usize;
            let ts = u32_at(rest, 0).wrapping_add(3600 * copy as u32);
            out.extend_from_slice(&if le {
                ts.to_le_bytes()
            } else {
                ts.to_be_bytes()
            });
            out.extend_from_slice(&rest[4..16 + len]);
            rest = &rest[16 + len..];
        }
        if w.write_all(&out).is_err() {
            return copy;
        }
    }
    unreachable!()
}

#[test]
fn ctrl_c_flushes_and_waits_for_the_acknowledgements() {
    let tmp = tempfile::tempdir().unwrap();
    let nats = Nats::start(&tmp.path().join("js"));
    let bytes = std::fs::read(pcap("mixed-web-tls-http-tcp-anomalies.pcap")).unwrap();
    // An endless capture through a pipe: only Ctrl-C ends it.
    let fifo = tmp.path().join("endless.pcap");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let url = nats.url();
    let agent = netcap_cmd(&[
        "agent",
        "-r",
        fifo.to_str().unwrap(),
        "--nats",
        &url,
        "--sensor",
        "s6",
        "--finish-timeout",
        "60",
    ])
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let pipe = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            replay_forever(&bytes, pipe)
        })
    };
    // Batches are arriving: Ctrl-C.
    wait_for("the first batches", 60, || stream_messages(nats.port) > 20);
    let status = Command::new("sh")
        .args(["-c", &format!("kill -INT {}", agent.id())])
        .status()
        .unwrap();
    assert!(status.success());
    let o = agent.wait_with_output().unwrap();
    let copies = writer.join().unwrap();
    let err = stderr(&o);
    eprintln!("ctrl-c after {copies} copies of the capture; agent:\n{err}");
    // Interrupted reading of a file: 130, nothing lost.
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert_eq!(count(&err, "dropped:", "batches"), 0, "{err}");
    assert_eq!(count(&err, "unsent:", "batches"), 0, "{err}");
    let sent = count(&err, "sent:", "records");
    assert!(sent > 0, "{err}");
    // What it reported as sent is in the stream, and in the collector.
    assert_eq!(
        stream_messages(nats.port),
        count(&err, "sent:", "batches") - count(&err, "sent:", "already")
    );
    let out = tmp.path().join("collected");
    let c = collect(&url, &out, &["--idle-exit", "2"]);
    let cerr = stderr(&c);
    assert_eq!(count(&cerr, "written:", "records"), sent, "{cerr}");
    assert_eq!(total(&raw_records(&out.join("s6"))) as u64, sent);
}
