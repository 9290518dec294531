#!/usr/bin/env python3
"""Generates Suricata eve.json alerts for `netcap label`'s benchmark.

usage: bench/make_alerts.py CAPTURE_OUTPUT_DIR N > eve.json

Reads the Connection records of a `netcap capture` output folder (through
`netcap dump`) and writes N alert lines (event_type "alert", Suricata's
field names and timestamp format) for randomly chosen connections, at a
random time inside each, in a random direction: 90% match one connection,
half of the chosen connections get a second alert (another signature and
severity: a conflict), and 10% are moved a day later so that they match
nothing. Deterministic (seeded). Used for the labelling measurement in
docs/labelling.md:

  netcap capture -r w12.pcap -o cap/
  bench/make_alerts.py cap/ 100000 > eve.json
  /usr/bin/time -v netcap label -r cap/ -o labelled/ --alerts eve.json
"""
import datetime
import json
import random
import subprocess
import sys
from pathlib import Path

NETCAP = Path(__file__).resolve().parent.parent / "target" / "release" / "netcap"


def main():
    folder, n = Path(sys.argv[1]), int(sys.argv[2])
    conn = next(p for p in folder.iterdir() if p.name.startswith("Connection.ncap"))
    fields = "SrcIP,SrcPort,DstIP,DstPort,TransportProto,TimestampFirst,TimestampLast"
    out = subprocess.run([str(NETCAP), "dump", "-r", str(conn), "--tsv", "--select", fields],
                         check=True, capture_output=True, text=True).stdout
    conns = [l.split("\t") for l in out.splitlines()[1:]]
    conns = [c for c in conns if c[4] in ("TCP", "UDP")]
    rng = random.Random(13)
    tz = datetime.timezone(datetime.timedelta(hours=1))
    written = 0
    while written < n:
        src, sport, dst, dport, proto, first, last = rng.choice(conns)
        t = rng.uniform(float(first), float(last))
        if rng.random() < 0.1:
            t += 86400
        alerts = 2 if rng.random() < 0.5 else 1
        for k in range(min(alerts, n - written)):
            if rng.random() < 0.5:
                src, sport, dst, dport = dst, dport, src, sport
            sev = rng.randint(1, 3)
            ts = datetime.datetime.fromtimestamp(t, tz).strftime("%Y-%m-%dT%H:%M:%S.%f%z")
            print(json.dumps({
                "timestamp": ts, "flow_id": rng.getrandbits(50), "in_iface": "eth0",
                "event_type": "alert", "src_ip": src, "src_port": int(sport),
                "dest_ip": dst, "dest_port": int(dport), "proto": proto,
                "alert": {"action": "allowed", "gid": 1, "signature_id": 2000000 + sev * 10 + k,
                          "rev": 1, "signature": f"BENCH signature {sev}.{k}",
                          "category": ["Attempted Administrator Privilege Gain",
                                       "Potentially Bad Traffic", "Misc activity"][sev - 1],
                          "severity": sev}}, separators=(",", ":")))
            written += 1


if __name__ == "__main__":
    main()
