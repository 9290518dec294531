#!/usr/bin/env bash
# Builds Netcap and runs it on a capture shipped in the repository, then shows
# some of the records it wrote.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -p netcap --quiet
out=$(mktemp -d)
pcap=testdata/pcaps/mixed-lan-ftp-dhcp-dns-ipv6.pcap
target/release/netcap capture -r "$pcap" -o "$out"
ls -l "$out"
echo "--- netcap dump -r $out/TCP.ncap.gz --select Timestamp,SrcPort,DstPort,SYN,ACK,PayloadSize --table | head"
target/release/netcap dump -r "$out/TCP.ncap.gz" --select Timestamp,SrcPort,DstPort,SYN,ACK,PayloadSize --table | head
echo "--- netcap dump -r $out/IPv6.ncap.gz --header"
target/release/netcap dump -r "$out/IPv6.ncap.gz" --header
echo "--- netcap dump -r $out/Connection.ncap.gz --select SrcIP,SrcPort,DstIP,DstPort,TransportProto,ApplicationProto,NumPackets,Size,ConnState,History,EndReason --table | head"
target/release/netcap dump -r "$out/Connection.ncap.gz" --select SrcIP,SrcPort,DstIP,DstPort,TransportProto,ApplicationProto,NumPackets,Size,ConnState,History,EndReason --table | head
