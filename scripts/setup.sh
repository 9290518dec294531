#!/usr/bin/env bash
# Installs what Netcap needs on a fresh Debian machine with the Rust toolchain.
#   scripts/setup.sh          build dependencies: libpcap-dev (live capture, BPF)
#   scripts/setup.sh --test   also tshark (the reference decoder of the
#                             differential tests), capinfos, python3-venv
#                             (the Python package's check), nats-server
#                             and openssl (the agent/collector tests on NATS
#                             JetStream, with TLS certificates made by the test),
#                             prometheus (scripts/check_metrics.sh) and
#                             file (libmagic, the oracle of sniffed types)
#   scripts/setup.sh --bench  also tcpdump, python3-venv and nats-server (bench/bench.py)
# Safe to run again: installs only what is missing.
set -euo pipefail
need=()
[ -e /usr/include/pcap.h ] || [ -e /usr/include/pcap/pcap.h ] || need+=(libpcap-dev)
if [ "${1:-}" = "--test" ] || [ "${1:-}" = "--bench" ]; then
  command -v tshark >/dev/null 2>&1 || need+=(tshark)
  command -v capinfos >/dev/null 2>&1 || need+=(wireshark-common)
  python3 -c "import ensurepip" >/dev/null 2>&1 || need+=(python3-venv)
fi
if [ "${1:-}" = "--test" ]; then
  command -v nats-server >/dev/null 2>&1 || need+=(nats-server)
  # The NATS TLS tests make their certificates with the openssl command.
  command -v openssl >/dev/null 2>&1 || need+=(openssl)
  # crates/netcap/tests/files.rs: libmagic's `file --mime-type` is the oracle
  # of the File records' sniffed types.
  command -v file >/dev/null 2>&1 || need+=(file)
  # scripts/check_metrics.sh: a real Prometheus server scrapes a live capture.
  command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
fi
if [ "${1:-}" = "--bench" ]; then
  command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
  # bench.py's "netcap agent -> NATS" row.
  command -v nats-server >/dev/null 2>&1 || need+=(nats-server)
  [ -x /usr/bin/time ] || need+=(time)
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
