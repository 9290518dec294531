//! One bidirectional connection: its state while open and its record once ended.

use std::net::IpAddr;

use netcap_schema::Connection;

use crate::community::{community_id, sha1};
use crate::packet::{
    flag, FlowPacket, IpInfo, PROTO_ICMP, PROTO_ICMPV6, PROTO_SCTP, PROTO_TCP, PROTO_UDP,
};
use crate::stats::Running;

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EndReason {
    /// Both sides sent FIN, then the linger time passed.
    Fin,
    /// A side sent RST, then the linger time passed.
    Rst,
    /// No packet for the idle timeout.
    IdleTimeout,
    /// Open for longer than the active timeout.
    ActiveTimeout,
    /// Still open when the input ended.
    EndOfCapture,
    /// Written early because the flow table was over its cap.
    Evicted,
}

impl EndReason {
    /// The text written into records.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Fin => "fin",
            EndReason::Rst => "rst",
            EndReason::IdleTimeout => "idle-timeout",
            EndReason::ActiveTimeout => "active-timeout",
            EndReason::EndOfCapture => "end-of-capture",
            EndReason::Evicted => "evicted",
        }
    }
}

/// Canonical (direction-free) identity of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnKey {
    lo: (IpAddr, u16),
    hi: (IpAddr, u16),
    proto: u8,
}

impl ConnKey {
    /// The key of a packet's IP part.
    pub fn of(ip: &IpInfo) -> ConnKey {
        let a = (ip.src, ip.sport);
        let b = (ip.dst, ip.dport);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        ConnKey {
            lo,
            hi,
            proto: ip.proto,
        }
    }
}

/// Counters of one direction.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dir {
    pub packets: u64,
    pub bytes: u64,
    pub payload: u64,
    pub flags: [u64; 9],
    pub size: Running,
    pub iat: Running,
    pub last_ts: Option<i64>,
    pub first_ts: i64,
    pub first_num: u64,
    pub last_num: u64,
    /// (source, destination) MAC of the direction's first packet.
    pub mac: Option<([u8; 6], [u8; 6])>,
}

/// An open connection.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
    pub proto: u8,
    pub v6: bool,
    pub one_way: bool,
    pub has_ports: bool,
    pub link: &'static str,
    pub vlan: u16,
    pub first_ts: i64,
    pub last_ts: i64,
    pub first_num: u64,
    pub last_num: u64,
    /// Index 0: client to server.
    pub dir: [Dir; 2],
    pub size: Running,
    pub iat: Running,
    pub fin: [bool; 2],
    pub rst: bool,
    /// Packet time at which the connection closed (both FINs or an RST).
    pub closed_at: Option<i64>,
}

fn elapsed(from: i64, to: i64) -> i64 {
    to.saturating_sub(from)
}

impl Conn {
    /// Opens a connection with its first packet. `client` carries the
    /// orientation over when a connection is split by the active timeout.
    pub fn new(p: &FlowPacket, ip: &IpInfo, client: Option<(IpAddr, u16)>) -> Conn {
        let sender = (ip.src, ip.sport);
        let receiver = (ip.dst, ip.dport);
        let syn_ack = ip
            .tcp
            .is_some_and(|t| t.flags & (flag::SYN | flag::ACK) == flag::SYN | flag::ACK);
        // The first packet's sender is the client, unless it answers a SYN.
        let (client, server) = match client {
            Some(c) if c == receiver => (receiver, sender),
            Some(_) => (sender, receiver),
            None if syn_ack => (receiver, sender),
            None => (sender, receiver),
        };
        Conn {
            client,
            server,
            proto: ip.proto,
            v6: ip.src.is_ipv6(),
            one_way: ip.one_way,
            has_ports: ip.has_ports,
            link: p.link,
            vlan: p.vlan,
            first_ts: p.ts_ns,
            last_ts: p.ts_ns,
            first_num: p.number,
            last_num: p.number,
            dir: Default::default(),
            size: Running::default(),
            iat: Running::default(),
            fin: [false; 2],
            rst: false,
            closed_at: None,
        }
    }

    /// Why the connection must end before `p` is added to it, if it must.
    pub fn ends_before(
        &self,
        p: &FlowPacket,
        ip: &IpInfo,
        cfg: &crate::FlowConfig,
    ) -> Option<EndReason> {
        if let Some(at) = self.closed_at {
            let new_syn = ip
                .tcp
                .is_some_and(|t| t.flags & (flag::SYN | flag::ACK) == flag::SYN);
            if new_syn || elapsed(at, p.ts_ns) > cfg.linger_ns {
                return Some(self.close_reason());
            }
        }
        if elapsed(self.last_ts, p.ts_ns) > cfg.idle_timeout_ns {
            return Some(EndReason::IdleTimeout);
        }
        if elapsed(self.first_ts, p.ts_ns) > cfg.active_timeout_ns {
            return Some(EndReason::ActiveTimeout);
        }
        None
    }

    /// Why the connection ends at flow clock `clock`, if it does.
    pub fn ends_at(&self, clock: i64, cfg: &crate::FlowConfig) -> Option<EndReason> {
        if let Some(at) = self.closed_at {
            if elapsed(at, clock) > cfg.linger_ns {
                return Some(self.close_reason());
            }
        }
        if elapsed(self.last_ts, clock) > cfg.idle_timeout_ns {
            return Some(EndReason::IdleTimeout);
        }
        if elapsed(self.first_ts, clock) > cfg.active_timeout_ns {
            return Some(EndReason::ActiveTimeout);
        }
        None
    }

    fn close_reason(&self) -> EndReason {
        if self.rst {
            EndReason::Rst
        } else {
            EndReason::Fin
        }
    }

    /// Adds a packet of this connection.
    pub fn add(&mut self, p: &FlowPacket, ip: &IpInfo) {
        let d = usize::from((ip.src, ip.sport) != self.client || (ip.dst, ip.dport) != self.server);
        let ts = p.ts_ns;
        if self.size.count() > 0 {
            // Time going backwards in the capture counts as no time passing.
            self.iat.add(elapsed(self.last_ts, ts).max(0) as f64);
        }
        self.size.add(f64::from(p.wire_len));
        self.last_ts = self.last_ts.max(ts);
        self.last_num = p.number;
        let Some(dir) = self.dir.get_mut(d) else {
            return;
        };
        if let Some(prev) = dir.last_ts {
            dir.iat.add(elapsed(prev, ts).max(0) as f64);
        } else {
            dir.first_ts = ts;
            dir.first_num = p.number;
            dir.mac = p.macs;
        }
        dir.last_ts = Some(dir.last_ts.map_or(ts, |l| l.max(ts)));
        dir.last_num = p.number;
        dir.packets += 1;
        dir.bytes += u64::from(p.wire_len);
        dir.payload += u64::from(ip.payload_len);
        dir.size.add(f64::from(p.wire_len));
        if let Some(t) = ip.tcp {
            for (count, bit) in dir.flags.iter_mut().zip(flag::ALL) {
                if t.flags & bit != 0 {
                    *count += 1;
                }
            }
            if t.flags & flag::RST != 0 {
                self.rst = true;
            }
            if t.flags & flag::FIN != 0 {
                if let Some(f) = self.fin.get_mut(d) {
                    *f = true;
                }
            }
            if self.closed_at.is_none() && (self.rst || self.fin == [true, true]) {
                self.closed_at = Some(ts);
            }
        }
    }

    /// Builds the record. `written_ts`/`written_num`: flow clock and last packet read.
    pub fn record(&self, reason: EndReason, written_ts: i64, written_num: u64) -> Connection {
        let [c2s, s2c] = &self.dir;
        let total = |f: fn(&Dir) -> u64| to_i64(f(c2s).saturating_add(f(s2c)));
        let ports = self.has_ports.then_some((self.client.1, self.server.1));
        let mut r = Connection {
            timestamp: written_ts,
            timestamp_first: self.first_ts,
            link_proto: self.link.to_string(),
            network_proto: if self.v6 { "IPv6" } else { "IPv4" }.to_string(),
            transport_proto: transport_name(self.proto),
            application_proto: app_proto(self.proto, self.client.1, self.server.1).to_string(),
            src_mac: mac_text(c2s.mac.map(|m| m.0).or(s2c.mac.map(|m| m.1))),
            dst_mac: mac_text(c2s.mac.map(|m| m.1).or(s2c.mac.map(|m| m.0))),
            src_ip: self.client.0.to_string(),
            src_port: i32::from(self.client.1),
            dst_ip: self.server.0.to_string(),
            dst_port: i32::from(self.server.1),
            size: total(|d| d.bytes),
            app_payload_size: total(|d| d.payload),
            num_packets: total(|d| d.packets),
            uid: self.uid(),
            duration: elapsed(self.first_ts, self.last_ts),
            timestamp_last: self.last_ts,
            packet_number: written_num,
            first_packet_number: self.first_num,
            last_packet_number: self.last_num,
            community_id: community_id(
                0,
                self.client.0,
                self.server.0,
                self.proto,
                ports,
                self.one_way,
            ),
            end_reason: reason.as_str().to_string(),
            vlan: i32::from(self.vlan),
            num_packets_client_to_server: to_i64(c2s.packets),
            num_packets_server_to_client: to_i64(s2c.packets),
            bytes_client_to_server: to_i64(c2s.bytes),
            bytes_server_to_client: to_i64(s2c.bytes),
            payload_bytes_client_to_server: to_i64(c2s.payload),
            payload_bytes_server_to_client: to_i64(s2c.payload),
            ..Default::default()
        };
        let f = |d: &Dir, i: usize| to_i64(d.flags.get(i).copied().unwrap_or(0));
        let both = |i: usize| f(c2s, i).saturating_add(f(s2c, i));
        r.num_fin_flags = both(0);
        r.num_syn_flags = both(1);
        r.num_rst_flags = both(2);
        r.num_psh_flags = both(3);
        r.num_ack_flags = both(4);
        r.num_urg_flags = both(5);
        r.num_ece_flags = both(6);
        r.num_cwr_flags = both(7);
        r.num_ns_flags = both(8);
        r.num_fin_flags_client_to_server = f(c2s, 0);
        r.num_syn_flags_client_to_server = f(c2s, 1);
        r.num_rst_flags_client_to_server = f(c2s, 2);
        r.num_psh_flags_client_to_server = f(c2s, 3);
        r.num_ack_flags_client_to_server = f(c2s, 4);
        r.num_urg_flags_client_to_server = f(c2s, 5);
        r.num_ece_flags_client_to_server = f(c2s, 6);
        r.num_cwr_flags_client_to_server = f(c2s, 7);
        r.num_ns_flags_client_to_server = f(c2s, 8);
        r.num_fin_flags_server_to_client = f(s2c, 0);
        r.num_syn_flags_server_to_client = f(s2c, 1);
        r.num_rst_flags_server_to_client = f(s2c, 2);
        r.num_psh_flags_server_to_client = f(s2c, 3);
        r.num_ack_flags_server_to_client = f(s2c, 4);
        r.num_urg_flags_server_to_client = f(s2c, 5);
        r.num_ece_flags_server_to_client = f(s2c, 6);
        r.num_cwr_flags_server_to_client = f(s2c, 7);
        r.num_ns_flags_server_to_client = f(s2c, 8);
        r
    }

    /// "C" + 16 hex digits of SHA-1 over the client/server 5-tuple and the
    /// first timestamp: the same on every run over the same input.
    fn uid(&self) -> String {
        let mut buf = Vec::with_capacity(48);
        for (ip, port) in [self.client, self.server] {
            match ip {
                IpAddr::V4(a) => buf.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => buf.extend_from_slice(&a.octets()),
            }
            buf.extend_from_slice(&port.to_be_bytes());
        }
        buf.push(self.proto);
        buf.extend_from_slice(&self.first_ts.to_be_bytes());
        let h = sha1(&buf);
        let mut s = String::from("C");
        for b in h.iter().take(8) {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn mac_text(m: Option<[u8; 6]>) -> String {
    m.map(|m| {
        m.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    })
    .unwrap_or_default()
}

/// Name of an IP protocol.
pub fn transport_name(proto: u8) -> String {
    match proto {
        PROTO_TCP => "TCP".into(),
        PROTO_UDP => "UDP".into(),
        PROTO_ICMP => "ICMPv4".into(),
        PROTO_ICMPV6 => "ICMPv6".into(),
        PROTO_SCTP => "SCTP".into(),
        p => format!("IP protocol {p}"),
    }
}

/// Application protocol guessed from well-known ports (server port first).
pub fn app_proto(proto: u8, client_port: u16, server_port: u16) -> &'static str {
    let by_port = |p: u16| -> &'static str {
        match (proto, p) {
            (PROTO_TCP, 20 | 21) => "FTP",
            (PROTO_TCP, 22) => "SSH",
            (PROTO_TCP, 23) => "Telnet",
            (PROTO_TCP, 25 | 587) => "SMTP",
            (_, 53) => "DNS",
            (PROTO_UDP, 67 | 68) => "DHCP",
            (PROTO_UDP, 69) => "TFTP",
            (PROTO_TCP, 80 | 8080) => "HTTP",
            (PROTO_TCP, 110) => "POP3",
            (PROTO_UDP, 123) => "NTP",
            (_, 137..=139) => "NetBIOS",
            (PROTO_TCP, 143) => "IMAP",
            (PROTO_UDP, 161 | 162) => "SNMP",
            (PROTO_TCP, 179) => "BGP",
            (PROTO_TCP, 389) => "LDAP",
            (PROTO_TCP, 443 | 8443) => "TLS",
            (PROTO_UDP, 443) => "QUIC",
            (PROTO_TCP, 445) => "SMB",
            (PROTO_TCP, 502) => "Modbus",
            (PROTO_UDP, 514) => "Syslog",
            (PROTO_UDP, 546 | 547) => "DHCPv6",
            (PROTO_TCP, 993) => "IMAPS",
            (PROTO_TCP, 995) => "POP3S",
            (PROTO_UDP, 1900) => "SSDP",
            (PROTO_TCP, 2049) | (PROTO_UDP, 2049) => "NFS",
            (PROTO_TCP, 3306) => "MySQL",
            (PROTO_TCP, 3389) => "RDP",
            (PROTO_UDP, 4789) => "VXLAN",
            (_, 5060) => "SIP",
            (PROTO_UDP, 5353) => "MDNS",
            (PROTO_UDP, 5355) => "LLMNR",
            (PROTO_TCP, 5432) => "PostgreSQL",
            (PROTO_UDP, 6081) => "Geneve",
            _ => "",
        }
    };
    match by_port(server_port) {
        "" => by_port(client_port),
        s => s,
    }
}
