#!/usr/bin/env python3
"""Summarise a folder written by `netcap capture` with the netcap Python package.

    pip install './python[pandas]'          # from the repository root, in a venv
    netcap capture -r traffic.pcap -o out/
    python3 examples/python/summary.py out/

Shows the three ways to read records: the header and protobuf messages
(netcap.open), dicts with the values of `netcap dump --json`
(netcap.records(..., as_dict=True)) and pandas DataFrames (netcap.to_pandas).
"""
import sys
from pathlib import Path

import netcap

out = Path(sys.argv[1] if len(sys.argv) > 1 else "out")

# Headers and typed messages: count the records of every file.
for path in sorted(out.glob("*.ncap*")):
    with netcap.open(path) as f:
        n = sum(1 for _ in f)
        print(f"{f.type:<26} {n:>7} records  from {f.header.InputSource} (Netcap {f.header.Version})")

# Dicts: DNS questions, as `netcap dump --json` shows them.
dns = next(out.glob("DNS.ncap*"), None)
if dns:
    names = {q["Name"] for rec in netcap.records(dns, as_dict=True) for q in rec["Questions"]}
    print(f"\n{len(names)} DNS names asked, e.g. {', '.join(sorted(names)[:3])}")

# DataFrames: the busiest TCP destination ports and when the traffic ran.
frames = netcap.to_pandas(out)
if "TCP" in frames:
    tcp = frames["TCP"]
    print(f"\nTCP from {tcp.Timestamp.min()} to {tcp.Timestamp.max()}; top destination ports:")
    print(tcp.DstPort.value_counts().head(5).to_string())
