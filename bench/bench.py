#!/usr/bin/env python3
"""Netcap benchmark against its peers, measured side by side in one run.

usage: bench/bench.py [--runs N] [--peers a,b,...] [--no-nfstream] [CAPTURE]
       bench/bench.py --attacks

Without CAPTURE it builds the standard workload once into bench-work/:
../shared/bench/ndpi_mix.pcap repeated 12 times, each copy shifted in time
(1,033,452 packets). It installs what it runs (tshark, tcpdump via
scripts/setup.sh --bench; NFStream from PyPI into bench-work/nfstream-venv).
Each tool runs N times (default 3), the tools alternating
within each round, and the table gives the median wall time, CPU time
(user+sys), packets/s, peak memory, output size, and each tool's wall time
divided by Netcap's. Times are ratios from one run on a shared machine:
compare rows, not absolute numbers between runs. After the table, the ratios
of the speed targets (tshark -T fields and NFStream against Netcap, Netcap's
CPU against "netcap no streams") are also taken within each round, where the
tools ran back to back, with their median.

Besides the default capture ("netcap") and one worker ("netcap -w 1"), rows
that split its cost: "netcap 1 core" is one worker pinned with taskset to one
core (so "1 core / netcap" is how the pipeline scales from one core to all);
"netcap zstd" writes .ncap.zst instead of .ncap.gz; "netcap parquet" writes
TYPE.parquet files (zstd); "netcap no compression"
writes plain .ncap; "netcap no flows" writes the packet records only.
"netcap agent -> NATS" publishes the same records to a NATS JetStream server
on the loopback (nats-server, started by the benchmark with file storage in
a temporary folder) until the last acknowledgement: its output column is the
bytes the server received from the agent (its /varz in_bytes: payloads,
headers and protocol), its peak memory the agent's. bench/nats_bench.sh adds
the collector side.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import socket
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench-work"
NETCAP = ROOT / "target" / "release" / "netcap"
NO_NFSTREAM = "--no-nfstream" in sys.argv

TSHARK_FIELDS = [
    "frame.number", "frame.time_epoch", "frame.len", "eth.src", "eth.dst", "ip.src", "ip.dst",
    "ip.proto", "ip.ttl", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport", "tcp.flags",
    "tcp.seq_raw", "tcp.ack_raw", "tcp.window_size_value", "udp.srcport", "udp.dstport",
]

# What the HTTP, TLSClientHello, TLSServerHello and X509Certificate records hold.
TSHARK_APP_FIELDS = [
    "frame.number", "http.request.method", "http.host", "http.request.uri", "http.user_agent",
    "http.response.code", "http.content_type", "http.content_length", "tls.handshake.extensions_server_name",
    "tls.handshake.ja3", "tls.handshake.ja3s", "x509af.serialNumber",
]


def dir_size(p: Path) -> int:
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


class Nats:
    """A nats-server with JetStream on the loopback for the agent's row."""

    def __init__(self, store: Path):
        def port() -> int:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                return s.getsockname()[1]
        self.port, self.monitor = port(), port()
        self.proc = subprocess.Popen(["nats-server", "-a", "127.0.0.1", "-p", str(self.port), "-m", str(self.monitor),
                                      "-js", "-sd", str(store)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                self.in_bytes()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("nats-server did not start")

    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def in_bytes(self) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor}/varz") as r:
            return json.load(r)["in_bytes"]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def tools(capture: Path, out: Path, nats=None):
    """(name, command, output path or None). `out` is a fresh folder per run."""
    cores = str(os.cpu_count() or 1)
    t = [
        ("netcap", [str(NETCAP), "capture", "-q", "-r", str(capture), "-o", str(out / "nc"), "-w", cores], out / "nc"),
        ("netcap -w 1", [str(NETCAP), "capture", "-q", "-r", str(capture), "-o", str(out / "nc1"), "-w", "1"], out / "nc1"),
        # The same capture as the first row, with .ncap.zst files instead of .ncap.gz.
        ("netcap zstd", [str(NETCAP), "capture", "-q", "-r", str(capture), "-o", str(out / "ncz"), "-w", cores,
                         "--compression", "zstd"], out / "ncz"),
        # The same records as TYPE.parquet files (zstd columns, docs/parquet.md).
        ("netcap parquet", [str(NETCAP), "capture", "-q", "-r", str(capture), "-o", str(out / "ncp"), "-w", cores,
                            "--format", "parquet"], out / "ncp"),
        ("netcap no compression", [str(NETCAP), "capture", "-q", "-r", str(capture), "-o", str(out / "ncn"),
                                   "-w", cores, "--compression", "none"], out / "ncn"),
        ("netcap no flows", [str(NETCAP), "capture", "-q", "-r", str(capture), "-o", str(out / "ncf"),
                             "-w", cores, "--no-flows"], out / "ncf"),
        # TCP stream reassembly and the stream parsers off: the first row's
        # CPU time should stay within 1.25x of this one.
        ("netcap no streams", [str(NETCAP), "capture", "-q", "-r", str(capture), "-o", str(out / "ncs"),
                               "-w", cores, "--no-streams"], out / "ncs"),
        # The application-layer anchor: tshark with its TCP reassembly
        # extracting the HTTP and TLS fields Netcap's stream records hold.
        ("tshark HTTP+TLS fields", ["sh", "-c", "tshark -n -o tcp.reassemble_out_of_order:TRUE -r '%s' "
                                    "-Y 'http.request || http.response || tls.handshake.type==1 || "
                                    "tls.handshake.type==2 || tls.handshake.type==11' -T fields %s "
                                    "-E header=y -E separator=, > '%s'"
                                    % (capture, " ".join("-e " + f for f in TSHARK_APP_FIELDS), out / "tshark-app.csv")],
         out / "tshark-app.csv"),
        ("tshark -T fields", ["sh", "-c", "tshark -n -r '%s' -T fields %s -E header=y -E separator=, > '%s'"
                              % (capture, " ".join("-e " + f for f in TSHARK_FIELDS), out / "tshark.csv")],
         out / "tshark.csv"),
        ("tshark -z conv,tcp", ["sh", "-c", "tshark -n -q -r '%s' -z conv,tcp > '%s'" % (capture, out / "conv.txt")],
         out / "conv.txt"),
        ("tcpdump read", ["tcpdump", "-nr", str(capture), "-w", "/dev/null"], None),
    ]
    if nats:
        # The first row's records into JetStream instead of files; its size
        # is measured on the server (see main).
        t.insert(1, ("netcap agent -> NATS", [str(NETCAP), "agent", "-q", "-r", str(capture), "-w", cores,
                                               "--nats", nats.url(), "--sensor", "bench",
                                               # within the server's disk allowance (default 10 GiB)
                                               "--stream-max-bytes", "2048"], None))
    if shutil.which("taskset"):
        t.insert(2, ("netcap 1 core", ["taskset", "-c", "0", str(NETCAP), "capture", "-q", "-r", str(capture),
                                       "-o", str(out / "nc1c"), "-w", "1"], out / "nc1c"))
    venv_py = WORK / "nfstream-venv" / "bin" / "python"
    if venv_py.exists() and not NO_NFSTREAM:
        script = ("import sys\nfrom nfstream import NFStreamer\n"
                  "NFStreamer(source=sys.argv[1], n_meters=1).to_csv(path=sys.argv[2])\n")
        t.append(("nfstream", [str(venv_py), "-c", script, str(capture), str(out / "nfstream.csv")],
                  out / "nfstream.csv"))
    return t


def measure(cmd, env):
    """Runs cmd under /usr/bin/time; returns (wall, cpu, max_rss_kb)."""
    fmt = "%e %U %S %M"
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        r = subprocess.run(["/usr/bin/time", "-o", tf.name, "-f", fmt] + cmd, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {r.stderr.strip()[-500:]}")
        wall, user, sys_, rss = tf.read().split()[-4:]
    return float(wall), float(user) + float(sys_), int(rss)


def count_packets(capture: Path) -> int:
    out = subprocess.run(["capinfos", "-c", "-M", str(capture)], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "Number of packets" in line:
            return int(line.split(":")[1].strip().replace(",", ""))
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("capture", nargs="?")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--peers", help="comma-separated subset of tool names to run")
    ap.add_argument("--no-nfstream", action="store_true",
                    help="skip NFStream (by default it is installed from PyPI into bench-work/nfstream-venv)")
    ap.add_argument("--attacks", action="store_true",
                    help="instead: peak memory of netcap on the hostile captures of bench/make_attacks.py")
    args = ap.parse_args()
    if args.attacks:
        attacks()
        return

    WORK.mkdir(exist_ok=True)
    subprocess.run(["bash", str(ROOT / "scripts" / "setup.sh"), "--bench"], check=True)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "netcap"], cwd=ROOT, check=True)
    if args.capture:
        capture = Path(args.capture).resolve()
    else:
        capture = WORK / "ndpi_mix_x12.pcap"
        if not capture.exists():
            subprocess.run([sys.executable, str(ROOT / "bench" / "make_workload.py"),
                            str(ROOT.parent / "shared" / "bench" / "ndpi_mix.pcap"), str(capture)], check=True)
    venv = WORK / "nfstream-venv"
    if not args.no_nfstream and not (venv / "bin" / "python").exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "nfstream"], check=True)
        except subprocess.CalledProcessError as e:
            shutil.rmtree(venv, ignore_errors=True)
            print(f"warning: NFStream could not be installed ({e}); measuring without it", file=sys.stderr)

    packets = count_packets(capture)
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    results = {}
    scratch = Path(tempfile.mkdtemp(prefix="netcap-bench-", dir=WORK))
    nats = None
    try:
        if shutil.which("nats-server") and (not args.peers or "netcap agent -> NATS" in args.peers.split(",")):
            nats = Nats(scratch / "nats")
        for _ in range(args.runs):
            out = scratch / "out"
            for name, cmd, output in tools(capture, out, nats):
                if args.peers and name not in args.peers.split(","):
                    continue
                if out.exists():
                    shutil.rmtree(out)
                out.mkdir(parents=True)
                before = nats.in_bytes() if nats and output is None and "agent" in name else None
                wall, cpu, rss = measure(cmd, env)
                size = dir_size(output) if output and output.exists() else 0
                if before is not None:
                    size = nats.in_bytes() - before
                results.setdefault(name, []).append((wall, cpu, rss, size))
    finally:
        if nats:
            nats.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    base = statistics.median(r[0] for r in results["netcap"]) if "netcap" in results else None
    cap_size = capture.stat().st_size
    print(f"capture: {capture} ({packets:,} packets, {cap_size / 1e6:.1f} MB), {args.runs} runs each, "
          f"{os.cpu_count()} cores")
    print(f"{'tool':<20} {'wall s':>8} {'CPU s':>8} {'packets/s':>11} {'peak MB':>8} {'output MB':>10} "
          f"{'output/capture':>15} {'time / netcap':>14}")
    for name, rs in results.items():
        wall = statistics.median(r[0] for r in rs)
        cpu = statistics.median(r[1] for r in rs)
        rss = max(r[2] for r in rs) / 1024
        size = rs[-1][3]
        ratio = f"{wall / base:.1f}x" if base else "-"
        print(f"{name:<20} {wall:>8.2f} {cpu:>8.2f} {packets / wall:>11,.0f} {rss:>8.0f} {size / 1e6:>10.1f} "
              f"{size / cap_size:>15.2f} {ratio:>14}")
    print_round_ratios(results)


def print_round_ratios(results: dict) -> None:
    """The ratios of the speed targets taken within each round (the tools of a
    round run one after the other, so a shared machine's load drifts less
    between them than between the medians of the table), then their median."""
    pairs = [
        ("tshark -T fields wall / netcap wall", "tshark -T fields", "netcap", 0),
        ("NFStream wall / netcap wall", "nfstream", "netcap", 0),
        ("netcap CPU / netcap no streams CPU", "netcap", "netcap no streams", 1),
    ]
    lines = []
    for label, a, b, col in pairs:
        if a not in results or b not in results:
            continue
        per_round = [x[col] / y[col] for x, y in zip(results[a], results[b]) if y[col] > 0]
        if per_round:
            rounds = " ".join(f"{r:.2f}" for r in per_round)
            lines.append(f"  {label:<38} {statistics.median(per_round):6.2f}   (rounds: {rounds})")
    if lines:
        print("ratios within each round, median:")
        print("\n".join(lines))


def attacks() -> None:
    """Peak memory and time of a default capture on each hostile capture."""
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "netcap"], cwd=ROOT, check=True)
    adir = WORK / "attacks"
    if not (adir / "halfopen-ooo-1m.pcap").exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "make_attacks.py"), str(adir)], check=True)
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    print(f"{'attack capture':<20} {'packets':>10} {'wall s':>8} {'peak MB':>8}  summary")
    for cap in sorted(adir.glob("*.pcap")):
        out = Path(tempfile.mkdtemp(prefix="netcap-attack-", dir=WORK))
        try:
            with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
                r = subprocess.run(["/usr/bin/time", "-o", tf.name, "-f", "%e %M", str(NETCAP), "capture", "-r",
                                    str(cap), "-o", str(out)], env=env, capture_output=True, text=True)
                wall, rss = tf.read().split()[-2:]
            lines = r.stderr.splitlines()
            packets = lines[0].split()[0] if lines else "?"
            notes = "; ".join(l.strip() for l in lines if l.strip().startswith(("errors", "dropped", "evicted", "TCP streams")))
            print(f"{cap.name:<20} {packets:>10} {float(wall):>8.2f} {int(rss) / 1024:>8.0f}  {notes}")
        finally:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
