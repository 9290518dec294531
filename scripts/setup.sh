#!/usr/bin/env bash
# Installs what Netcap's build and tests need on a fresh Debian machine with the
# Rust toolchain: tshark (the reference decoder for the differential tests) and
# Python's protobuf package (for the example reader). Safe to run again.
set -euo pipefail
need_apt=()
command -v tshark >/dev/null 2>&1 || need_apt+=(tshark)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
