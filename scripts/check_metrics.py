#!/usr/bin/env python3
"""Prometheus scrapes a live Netcap capture on the loopback interface.

1. netcap captures `udp port U or tcp port T` on lo with --metrics on a free
   port (port 0: netcap prints the one it got) and --metrics-linger.
2. promtool lints one /metrics answer (the exposition format).
3. prometheus scrapes it every second (temporary config and storage).
4. N UDP datagrams go to port U; a TCP connection to port T exchanges a
   few bytes and stays open.
5. Through Prometheus' query API: the target is up, packets read >= N,
   UDP records == N (the datagrams sent), decoded packets >= N, two
   connections and one TCP stream open, their memory non-zero.
6. The TCP connection closes, netcap gets SIGINT, prints its summary and
   keeps serving the final values; once Prometheus scraped a sample with
   netcap_capture_running == 0, every final value queried at that time
   must equal the summary's (packets, bytes, outcomes, records per type,
   dropped), open connections and streams must be 0, and the output bytes
   the sizes of the files on disk.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

N_UDP = 300
LINGER = 6


def fail(msg):
    print(f"check_metrics: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, dict(r.headers), r.read().decode()


class Prometheus:
    def __init__(self, tmp, target):
        self.tmp = tmp
        cfg = os.path.join(tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: netcap\n    static_configs:\n"
                f"      - targets: ['{target}']\n"
            )
        # The port is free when chosen; another process may take it before
        # prometheus binds it: try again with another.
        for _ in range(5):
            self.port = free_port()
            self.log = open(os.path.join(tmp, f"prometheus-{self.port}.log"), "w")
            self.proc = subprocess.Popen(
                ["prometheus", f"--config.file={cfg}",
                 f"--storage.tsdb.path={os.path.join(tmp, 'tsdb')}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                stdout=self.log, stderr=subprocess.STDOUT)
            deadline = time.time() + 20
            while time.time() < deadline and self.proc.poll() is None:
                try:
                    if http_get(self.url("/-/ready"), 1)[0] == 200:
                        return
                except OSError:
                    pass
                time.sleep(0.2)
            self.stop()
        fail("prometheus did not start (see its logs in " + tmp + ")")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def query(self, q, at=None):
        """The instant vector of q, as {frozenset(labels): value}."""
        params = {"query": q}
        if at is not None:
            params["time"] = repr(at)
        status, _, body = http_get(self.url("/api/v1/query?" + urllib.parse.urlencode(params)))
        data = json.loads(body)
        if data.get("status") != "success":
            fail(f"query {q}: {body}")
        out = {}
        for r in data["data"]["result"]:
            labels = {k: v for k, v in r["metric"].items() if k not in ("__name__", "job", "instance")}
            out[frozenset(labels.items())] = float(r["value"][1])
        return out

    def scalar(self, q, at=None):
        v = self.query(q, at)
        if len(v) != 1:
            return None
        return next(iter(v.values()))

    def wait(self, what, cond, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if cond():
                return
            time.sleep(0.5)
        fail(f"timed out waiting until {what}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def parse_summary(err):
    """Packets, bytes, dropped, outcomes and records per type from netcap's summary."""
    s = {"records": {}}
    m = re.search(r"^(\d+) packets in ", err, re.M)
    s["packets"] = int(m.group(1)) if m else None
    for key, label in [("bytes", "bytes"), ("dropped", "dropped"), ("decoded", "decoded"),
                       ("partial", "partial"), ("unknown", "unknown"), ("error", "errors")]:
        m = re.search(rf"^  {label}\s+(\d+)", err, re.M)
        s[key] = int(m.group(1)) if m else 0
    lines = err.split("records written:\n", 1)[1].splitlines()
    for line in lines:
        m = re.match(r"^  (\S+)\s+(\d+)$", line)
        if not m:
            break
        s["records"][m.group(1)] = int(m.group(2))
    m = re.search(r"^output: (\d+) bytes in (\d+) files", err, re.M)
    s["output"] = int(m.group(1))
    return s


def main():
    netcap = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="netcap-metrics-")
    out_dir = os.path.join(tmp, "out")
    udp_port = free_port(socket.SOCK_DGRAM)
    tcp_server = socket.socket()
    tcp_server.bind(("127.0.0.1", 0))
    tcp_server.listen(1)
    tcp_port = tcp_server.getsockname()[1]
    err_path = os.path.join(tmp, "netcap.err")
    err_file = open(err_path, "w")
    proc = subprocess.Popen(
        [netcap, "capture", "-i", "lo", "--bpf", f"udp port {udp_port} or tcp port {tcp_port}",
         "-o", out_dir, "-w", "2", "--metrics", "127.0.0.1:0",
         "--metrics-linger", str(LINGER)],
        stderr=err_file)
    prom = None
    try:
        addr = None
        deadline = time.time() + 10
        while addr is None and time.time() < deadline:
            m = re.search(r"metrics at http://([0-9.:]+)/metrics", open(err_path).read())
            addr = m.group(1) if m else None
            time.sleep(0.1)
        if addr is None:
            fail("netcap printed no metrics address: " + open(err_path).read())
        metrics_url = f"http://{addr}/metrics"

        # The interface is open once the capture runs.
        def direct(name):
            _, _, body = http_get(metrics_url)
            m = re.search(rf"^{name} (\S+)$", body, re.M)
            return float(m.group(1)) if m else None
        deadline = time.time() + 10
        while direct("netcap_capture_running") != 1:
            if time.time() > deadline:
                fail("netcap_capture_running never became 1")
            time.sleep(0.1)
        status, headers, body = http_get(metrics_url)
        if status != 200 or not headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"):
            fail(f"/metrics answered {status} {headers}")
        lint = subprocess.run(["promtool", "check", "metrics"], input=body, text=True,
                              capture_output=True)
        if lint.returncode != 0:
            fail(f"promtool check metrics: {lint.stdout}{lint.stderr}")
        try:
            urllib.request.urlopen(f"http://{addr}/other", timeout=5)
            fail("/other did not answer 404")
        except urllib.error.HTTPError as e:
            if e.code != 404:
                fail(f"/other answered {e.code}")

        prom = Prometheus(tmp, addr)
        prom.wait("Prometheus scraped netcap (up == 1)",
                  lambda: prom.scalar('up{job="netcap"}') == 1)

        # Known traffic: N UDP datagrams (to a bound socket: no ICMP
        # unreachable), and a TCP exchange kept open.
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.bind(("127.0.0.1", udp_port))
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(N_UDP):
            tx.sendto(bytes([i % 256]) * 20, ("127.0.0.1", udp_port))
            if i % 50 == 0:
                time.sleep(0.01)
        client = socket.create_connection(("127.0.0.1", tcp_port))
        conn, _ = tcp_server.accept()
        client.sendall(b"hello netcap\n")
        conn.recv(100)
        conn.sendall(b"hello prometheus\n")
        client.recv(100)

        prom.wait(f"UDP records == {N_UDP} in Prometheus",
                  lambda: prom.scalar('netcap_records_written_total{type="UDP"}') == N_UDP)
        prom.wait("a TCP stream is open in Prometheus",
                  lambda: (prom.scalar("netcap_streams_open") or 0) >= 1)
        checks = {
            "netcap_packets_read_total": lambda v: v >= N_UDP,
            'netcap_packets_processed_total{outcome="decoded"}': lambda v: v >= N_UDP,
            "netcap_bytes_read_total": lambda v: v >= N_UDP * (14 + 20 + 8 + 20),
            "netcap_connections_open": lambda v: v == 2,
            "netcap_streams_open": lambda v: v == 1,
            'netcap_memory_bytes{part="connections"}': lambda v: v > 0,
            'netcap_memory_bytes{part="streams"}': lambda v: v > 0,
            "netcap_packets_dropped_total": lambda v: v == 0,
            "netcap_capture_running": lambda v: v == 1,
            'rate(netcap_packets_read_total[10s])': lambda v: v > 0,
        }
        for q, ok in checks.items():
            v = prom.scalar(q)
            if v is None or not ok(v):
                fail(f"{q} = {v} while capturing")
            print(f"check_metrics: while capturing: {q} = {v:g}")

        client.close()
        conn.close()
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        deadline = time.time() + 20
        while "\noutput: " not in open(err_path).read():
            if time.time() > deadline or proc.poll() is not None:
                fail("no summary after SIGINT: " + open(err_path).read())
            time.sleep(0.1)
        summary = parse_summary(open(err_path).read())
        # The first evaluation time at which Prometheus has a final sample
        # (later ones go stale once netcap stopped serving).
        final_at = []

        def final_seen():
            at = time.time()
            if prom.scalar("netcap_capture_running", at) == 0:
                final_at.append(at)
                return True
            return False
        prom.wait("Prometheus scraped the final values (netcap_capture_running == 0)", final_seen)
        at = final_at[0]
        on_disk = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
        want = {
            "netcap_packets_read_total": summary["packets"],
            "netcap_bytes_read_total": summary["bytes"],
            "netcap_packets_dropped_total": summary["dropped"],
            'netcap_packets_processed_total{outcome="decoded"}': summary["decoded"],
            'netcap_packets_processed_total{outcome="partial"}': summary["partial"],
            'netcap_packets_processed_total{outcome="unknown"}': summary["unknown"],
            'netcap_packets_processed_total{outcome="error"}': summary["error"],
            "netcap_output_bytes_total": on_disk,
            "netcap_connections_open": 0,
            "netcap_streams_open": 0,
            'netcap_memory_bytes{part="streams"}': 0,
        }
        if summary["output"] != on_disk:
            fail(f"summary says {summary['output']} output bytes, the files hold {on_disk}")
        for q, w in want.items():
            v = prom.scalar(q, at)
            if v != w:
                fail(f"final {q} = {v}, want {w}")
        got = {dict(k)["type"]: int(v)
               for k, v in prom.query("netcap_records_written_total", at).items()}
        if got != summary["records"]:
            fail(f"final records per type {got}, summary {summary['records']}")
        if got.get("UDP") != N_UDP or got.get("Connection") != 2:
            fail(f"records {got}: want {N_UDP} UDP and 2 Connection")
        print(f"check_metrics: final values equal the summary: {summary['packets']} packets, "
              f"{len(got)} record types, {on_disk} output bytes")
        rc = proc.wait(LINGER + 20)
        if rc != 0:
            fail(f"netcap exited with {rc}: {open(err_path).read()}")
        print("check_metrics: ok")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if prom is not None:
            prom.stop()
        err_file.close()


if __name__ == "__main__":
    main()
