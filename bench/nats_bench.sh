#!/usr/bin/env bash
# Agent -> NATS JetStream -> collector on the loopback, against the same
# capture written to local files (docs/sensors.md, "Measurements").
#   bench/nats_bench.sh [CAPTURE]   (default: bench-work/ndpi_mix_x12.pcap, see bench/bench.py)
# Prints wall/CPU time and peak memory of `capture`, `agent` and `collect`,
# and the bytes NATS received from the agent and sent to the collector
# (the server's /varz counters: payloads plus headers and protocol).
set -euo pipefail
cd "$(dirname "$0")/.."
CAP=${1:-bench-work/ndpi_mix_x12.pcap}
[ -e "$CAP" ] || { echo "no capture $CAP (bench/bench.py builds the standard workload)" >&2; exit 1; }
NC=target/release/netcap
W=$(mktemp -d); trap 'kill $NPID 2>/dev/null || true; rm -rf "$W"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P=$(port); M=$(port)
nats-server -a 127.0.0.1 -p "$P" -m "$M" -js -sd "$W/js" >"$W/nats.log" 2>&1 & NPID=$!
sleep 1
varz() { python3 -c "import json,urllib.request; v=json.load(urllib.request.urlopen('http://127.0.0.1:$M/varz')); print(v['in_bytes'], v['out_bytes'])"; }
t() { /usr/bin/time -f "%e s wall, %U+%S s CPU, %M KB peak" "$@"; }
echo "== capture to local files"; t $NC capture -q -r "$CAP" -o "$W/files" 2>&1 | tail -1
du -sb "$W/files" | awk '{print $1" bytes of .ncap.gz"}'
read -r in0 out0 < <(varz)
echo "== agent"; t $NC agent -r "$CAP" --nats "nats://127.0.0.1:$P" --sensor bench 2>&1 | grep -E "^sent|^spooled|^dropped|wall"
read -r in1 out1 < <(varz)
echo "== collect"; t $NC collect -q --nats "nats://127.0.0.1:$P" -o "$W/coll" --idle-exit 2 2>&1 | tail -1
read -r in2 out2 < <(varz)
du -sb "$W/coll" | awk '{print $1" bytes collected"}'
echo "NATS in from the agent: $((in1-in0)) bytes; out to the collector: $((out2-out1)) bytes"
