//! Live capture from a network interface through libpcap.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pcap::{Active, Capture, Device, Precision};

use crate::{PacketMeta, SourceError};

/// Pause after finding no packet, so that a quiet interface costs no CPU.
const IDLE_SLEEP: std::time::Duration = std::time::Duration::from_millis(10);

/// What a poll of a live capture gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    /// A packet.
    Packet(PacketMeta),
    /// No packet within the read timeout.
    Idle,
    /// Capture stopped.
    End,
}

/// How to open an interface.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Interface name (`eth0`, `lo`, `any`).
    pub interface: String,
    /// Bytes kept of each packet.
    pub snaplen: i32,
    /// Put the interface in promiscuous mode.
    pub promiscuous: bool,
    /// Kernel-side BPF filter (tcpdump syntax).
    pub bpf: Option<String>,
}

/// Packets from a live interface, until `stop` is set.
pub struct LiveCapture {
    cap: Capture<Active>,
    link_type: u32,
    stop: Arc<AtomicBool>,
    frames: u64,
}

impl std::fmt::Debug for LiveCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCapture")
            .field("link_type", &self.link_type)
            .finish()
    }
}

fn live_err(interface: &str, e: pcap::Error) -> SourceError {
    SourceError::Live {
        interface: interface.to_string(),
        reason: e.to_string(),
    }
}

impl LiveCapture {
    /// Opens the interface; reading stops at the first timeout after `stop` is set.
    pub fn open(opts: &LiveOptions, stop: Arc<AtomicBool>) -> Result<Self, SourceError> {
        let err = |e| live_err(&opts.interface, e);
        let mut cap = Capture::from_device(opts.interface.as_str())
            .map_err(err)?
            .snaplen(opts.snaplen)
            .promisc(opts.promiscuous)
            .precision(Precision::Nano)
            // Wake up regularly to notice `stop` even when no traffic arrives.
            .timeout(200)
            .buffer_size(16 << 20)
            .open()
            .map_err(err)?
            // libpcap's TPACKET_V3 reader can block forever on a quiet interface
            // despite the timeout: poll without blocking, so `stop` is always seen.
            .setnonblock()
            .map_err(err)?;
        if let Some(expr) = &opts.bpf {
            cap.filter(expr, true).map_err(|e| SourceError::Bpf {
                expr: expr.clone(),
                reason: e.to_string(),
            })?;
        }
        let link_type = (cap.get_datalink().0 as u32) & 0xffff;
        Ok(LiveCapture {
            cap,
            link_type,
            stop,
            frames: 0,
        })
    }

    /// The next packet (its bytes appended to `buf`), `Idle` when none arrived
    /// within the read timeout, `End` once `stop` is set.
    pub fn poll(&mut self, buf: &mut Vec<u8>) -> Result<Poll, SourceError> {
        {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(Poll::End);
            }
            match self.cap.next_packet() {
                Ok(p) => {
                    buf.extend_from_slice(p.data);
                    self.frames += 1;
                    // Nanosecond precision: tv_usec holds nanoseconds. The field
                    // widths of timeval differ between platforms.
                    #[allow(clippy::useless_conversion)]
                    let ts_ns = i64::from(p.header.ts.tv_sec)
                        .saturating_mul(1_000_000_000)
                        .saturating_add(i64::from(p.header.ts.tv_usec));
                    Ok(Poll::Packet(PacketMeta {
                        number: self.frames,
                        ts_ns,
                        link_type: self.link_type,
                        caplen: u32::try_from(p.data.len()).unwrap_or(u32::MAX),
                        orig_len: p.header.len,
                    }))
                }
                Err(pcap::Error::TimeoutExpired) => {
                    std::thread::sleep(IDLE_SLEEP);
                    Ok(Poll::Idle)
                }
                Err(pcap::Error::NoMorePackets) => Ok(Poll::End),
                Err(e) => Err(live_err("interface", e)),
            }
        }
    }

    /// Packets the kernel or libpcap dropped (buffer overflow), if known.
    pub fn dropped(&mut self) -> Option<u64> {
        self.cap
            .stats()
            .ok()
            .map(|s| u64::from(s.dropped) + u64::from(s.if_dropped))
    }
}

/// An interface that can be captured from.
#[derive(Debug, Clone)]
pub struct InterfaceInfo {
    /// Name to pass to `-i`.
    pub name: String,
    /// Description, if the system has one.
    pub description: String,
    /// Addresses, as text.
    pub addresses: Vec<String>,
    /// Whether the interface is up.
    pub up: bool,
    /// Whether it is a loopback interface.
    pub loopback: bool,
}

/// The interfaces libpcap can capture from.
pub fn interfaces() -> Result<Vec<InterfaceInfo>, SourceError> {
    let list = Device::list().map_err(|e| live_err("(listing interfaces)", e))?;
    Ok(list
        .into_iter()
        .map(|d| InterfaceInfo {
            up: d.flags.is_up(),
            loopback: d.flags.is_loopback(),
            addresses: d.addresses.iter().map(|a| a.addr.to_string()).collect(),
            description: d.desc.unwrap_or_default(),
            name: d.name,
        })
        .collect())
}

/// A compiled BPF filter for packets read from files (libpcap's compiler, so an
/// expression means what it means to tcpdump). One program per link type.
pub struct BpfFilter {
    expr: String,
    programs: Vec<(u32, pcap::BpfProgram)>,
}

impl std::fmt::Debug for BpfFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BpfFilter")
            .field("expr", &self.expr)
            .finish()
    }
}

impl BpfFilter {
    /// Checks the expression by compiling it for Ethernet.
    pub fn new(expr: &str) -> Result<Self, SourceError> {
        let mut f = BpfFilter {
            expr: expr.to_string(),
            programs: Vec::new(),
        };
        f.program(1)?;
        Ok(f)
    }

    fn program(&mut self, link_type: u32) -> Result<&pcap::BpfProgram, SourceError> {
        if !self.programs.iter().any(|(lt, _)| *lt == link_type) {
            let bpf_err = |e: pcap::Error| SourceError::Bpf {
                expr: self.expr.clone(),
                reason: e.to_string(),
            };
            let lt = i32::try_from(link_type).unwrap_or(0);
            let dead = Capture::dead(pcap::Linktype(lt)).map_err(bpf_err)?;
            let prog = dead.compile(&self.expr, true).map_err(bpf_err)?;
            self.programs.push((link_type, prog));
        }
        self.programs
            .iter()
            .find(|(lt, _)| *lt == link_type)
            .map(|(_, p)| p)
            .ok_or_else(|| SourceError::Bpf {
                expr: self.expr.clone(),
                reason: "not compiled".into(),
            })
    }

    /// Whether a packet of `link_type` passes the filter.
    pub fn matches(&mut self, link_type: u32, data: &[u8]) -> Result<bool, SourceError> {
        Ok(self.program(link_type)?.filter(data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bpf_matches_like_tcpdump() {
        let mut f = BpfFilter::new("udp port 53").unwrap();
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(&[
            0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        frame.extend_from_slice(&[0x30, 0x39, 0, 53, 0, 8, 0, 0]);
        assert!(f.matches(1, &frame).unwrap());
        frame[14 + 20 + 3] = 54;
        assert!(!f.matches(1, &frame).unwrap());
        assert!(matches!(
            BpfFilter::new("udp portt 53"),
            Err(SourceError::Bpf { .. })
        ));
    }
}
