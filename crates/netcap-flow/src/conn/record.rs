//! The records of an ended connection: its Connection record and its Flow
//! records (one per direction), refilled into reused buffers.

use std::net::IpAddr;

use netcap_schema::{Connection, Flow};

use netcap_decode::text::{colon_hex_into, ip_text, ipv4_text_into};

use super::{elapsed, Conn, Dir, EndReason, TcpConn, TcpDir};
use crate::community::{community_id, short_uid};
use crate::packet::{DecodedApp, PROTO_ICMP, PROTO_ICMPV6, PROTO_SCTP, PROTO_TCP, PROTO_UDP};
use crate::stats::Running;

impl Conn {
    /// Builds the record. `written_ts`/`written_num`: flow clock and last packet read.
    pub fn record(&self, reason: EndReason, written_ts: i64, written_num: u64) -> Connection {
        let mut r = Connection::default();
        self.record_into(reason, written_ts, written_num, &mut r);
        r
    }

    /// [`Conn::record`] into `r`, reusing the buffers of its texts: the
    /// table builds one record per ended connection, and their allocations
    /// showed in profiles.
    pub fn record_into(
        &self,
        reason: EndReason,
        written_ts: i64,
        written_num: u64,
        r: &mut Connection,
    ) {
        let Connection {
            link_proto,
            network_proto,
            transport_proto,
            application_proto,
            src_mac,
            dst_mac,
            src_ip,
            dst_ip,
            end_reason,
            conn_state,
            tunnel_parent,
            ..
        } = std::mem::take(r);
        let empty = Dir::default();
        let [c2s, s2c] = &self.dir;
        let (c2s, s2c) = (
            c2s.as_deref().unwrap_or(&empty),
            s2c.as_deref().unwrap_or(&empty),
        );
        let total = |f: fn(&Dir) -> u64| to_i64(f(c2s).saturating_add(f(s2c)));
        let ports = self.has_ports.then_some((self.client.1, self.server.1));
        let app = self
            .streams()
            .and_then(|s| s.protocol())
            .or(self.app.map(DecodedApp::name))
            .unwrap_or_else(|| app_proto(self.proto, self.client.1, self.server.1));
        *r = Connection {
            timestamp: written_ts,
            timestamp_first: self.first_ts,
            link_proto: refill(link_proto, self.link),
            network_proto: refill(network_proto, if self.v6 { "IPv6" } else { "IPv4" }),
            transport_proto: transport_name_into(transport_proto, self.proto),
            application_proto: refill(application_proto, app),
            src_mac: mac_text_into(src_mac, c2s.mac.map(|m| m.0).or(s2c.mac.map(|m| m.1))),
            dst_mac: mac_text_into(dst_mac, c2s.mac.map(|m| m.1).or(s2c.mac.map(|m| m.0))),
            src_ip: ip_text_into(src_ip, self.client.0),
            src_port: i32::from(self.client.1),
            dst_ip: ip_text_into(dst_ip, self.server.0),
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
            end_reason: refill(end_reason, reason.as_str()),
            vlan: i32::from(self.vlan),
            num_packets_client_to_server: to_i64(c2s.packets),
            num_packets_server_to_client: to_i64(s2c.packets),
            bytes_client_to_server: to_i64(c2s.bytes),
            bytes_server_to_client: to_i64(s2c.bytes),
            payload_bytes_client_to_server: to_i64(c2s.payload),
            payload_bytes_server_to_client: to_i64(s2c.payload),
            ..Default::default()
        };
        let f = |d: &Dir, i: usize| d.flag(i);
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
        self.fill_stats(r, conn_state);
        r.tunnel_parent = refill(tunnel_parent, self.tunnel_parent().unwrap_or_default());
        if let Some(st) = self.streams() {
            let c = st.counters();
            let [a, b] = &c.dirs;
            r.missed_bytes_client_to_server = to_i64(a.missed);
            r.missed_bytes_server_to_client = to_i64(b.missed);
            r.overlap_bytes_client_to_server = to_i64(a.overlap_same);
            r.overlap_bytes_server_to_client = to_i64(b.overlap_same);
            r.overlap_diff_bytes_client_to_server = to_i64(a.overlap_diff);
            r.overlap_diff_bytes_server_to_client = to_i64(b.overlap_diff);
            r.stream_bytes_client_to_server = to_i64(a.delivered);
            r.stream_bytes_server_to_client = to_i64(b.delivered);
            r.services = st.services();
        }
    }

    /// The records of the connection's directions that carried packets
    /// (client to server first), each with the key it is merged by: the first
    /// packet number of that direction, unique to it.
    pub fn flow_records(&self, conn: &Connection) -> Vec<(u64, Flow)> {
        let mut pool = Vec::new();
        let mut keys = Vec::with_capacity(2);
        self.flows_into(conn, &mut pool, &mut keys);
        keys.into_iter().map(|(k, _)| k).zip(pool).collect()
    }

    /// [`Conn::flow_records`] into `pool`: each direction's record refills
    /// the entry at the index pushed to `keys` with its key (entries beyond
    /// the ones in use are reused, their text buffers kept).
    pub fn flows_into(
        &self,
        conn: &Connection,
        pool: &mut Vec<Flow>,
        keys: &mut Vec<(u64, usize)>,
    ) {
        for (i, d) in self.dir.iter().enumerate() {
            let Some(d) = d.as_deref() else {
                continue;
            };
            let from_client = i == 0;
            let (src, dst) = if from_client {
                (self.client, self.server)
            } else {
                (self.server, self.client)
            };
            // The connection's record has the address texts already.
            let (src_ip, dst_ip) = if from_client {
                (&conn.src_ip, &conn.dst_ip)
            } else {
                (&conn.dst_ip, &conn.src_ip)
            };
            let at = keys.len();
            if pool.len() <= at {
                pool.resize_with(at + 1, Flow::default);
            }
            let Some(slot) = pool.get_mut(at) else {
                continue;
            };
            keys.push((d.first_num, at));
            let Flow {
                link_proto,
                network_proto,
                transport_proto,
                application_proto,
                src_mac,
                dst_mac,
                src_ip: src_ip_buf,
                dst_ip: dst_ip_buf,
                mut uid,
                connection_uid,
                end_reason,
                ..
            } = std::mem::take(slot);
            // "F" + the connection UID without its "C" + the direction digit.
            uid.clear();
            uid.push('F');
            uid.push_str(conn.uid.get(1..).unwrap_or_default());
            uid.push(if from_client { '0' } else { '1' });
            let flag = |k: usize| d.flag(k);
            let last_ts = d.last_ts;
            *slot = Flow {
                timestamp: conn.timestamp,
                timestamp_first: d.first_ts,
                link_proto: refill(link_proto, &conn.link_proto),
                network_proto: refill(network_proto, &conn.network_proto),
                transport_proto: refill(transport_proto, &conn.transport_proto),
                application_proto: refill(application_proto, &conn.application_proto),
                src_mac: mac_text_into(src_mac, d.mac.map(|m| m.0)),
                dst_mac: mac_text_into(dst_mac, d.mac.map(|m| m.1)),
                src_ip: refill(src_ip_buf, src_ip),
                src_port: i32::from(src.1),
                dst_ip: refill(dst_ip_buf, dst_ip),
                dst_port: i32::from(dst.1),
                size: to_i64(d.bytes),
                app_payload_size: to_i64(d.payload),
                num_packets: to_i64(d.packets),
                uid,
                duration: elapsed(d.first_ts, last_ts),
                timestamp_last: last_ts,
                packet_number: conn.packet_number,
                first_packet_number: d.first_num,
                last_packet_number: d.last_num,
                connection_uid: refill(connection_uid, &conn.uid),
                from_client,
                end_reason: refill(end_reason, &conn.end_reason),
                num_fin_flags: flag(0),
                num_syn_flags: flag(1),
                num_rst_flags: flag(2),
                num_psh_flags: flag(3),
                num_ack_flags: flag(4),
                num_urg_flags: flag(5),
                num_ece_flags: flag(6),
                num_cwr_flags: flag(7),
                num_ns_flags: flag(8),
                packet_size_min: d.size.min(),
                packet_size_max: d.size.max(),
                packet_size_mean: d.size.mean(),
                packet_size_std: d.size.stddev(),
                iat_min: d.iat.min(),
                iat_max: d.iat.max(),
                iat_mean: d.iat.mean(),
                iat_std: d.iat.stddev(),
                ..Default::default()
            };
        }
    }

    /// The statistics of `r`; `conn_state`: a buffer for its text.
    fn fill_stats(&self, r: &mut Connection, conn_state: String) {
        let empty = Dir::default();
        let [c2s, s2c] = &self.dir;
        let (c2s, s2c) = (
            c2s.as_deref().unwrap_or(&empty),
            s2c.as_deref().unwrap_or(&empty),
        );
        let no_tcp = TcpDir::default();
        let (c2s_tcp, s2c_tcp) = (
            c2s.tcp.as_deref().unwrap_or(&no_tcp),
            s2c.tcp.as_deref().unwrap_or(&no_tcp),
        );
        let no_conn = TcpConn::default();
        let tcp = self.tcp.as_deref().unwrap_or(&no_conn);
        let st = |x: &Running| [x.min(), x.max(), x.mean(), x.stddev()];
        [
            r.packet_size_min,
            r.packet_size_max,
            r.packet_size_mean,
            r.packet_size_std,
        ] = st(&self.size);
        [
            r.packet_size_min_client_to_server,
            r.packet_size_max_client_to_server,
            r.packet_size_mean_client_to_server,
            r.packet_size_std_client_to_server,
        ] = st(&c2s.size);
        [
            r.packet_size_min_server_to_client,
            r.packet_size_max_server_to_client,
            r.packet_size_mean_server_to_client,
            r.packet_size_std_server_to_client,
        ] = st(&s2c.size);
        [r.iat_min, r.iat_max, r.iat_mean, r.iat_std] = st(&self.iat);
        [
            r.iat_min_client_to_server,
            r.iat_max_client_to_server,
            r.iat_mean_client_to_server,
            r.iat_std_client_to_server,
        ] = st(&c2s.iat);
        [
            r.iat_min_server_to_client,
            r.iat_max_server_to_client,
            r.iat_mean_server_to_client,
            r.iat_std_server_to_client,
        ] = st(&s2c.iat);
        r.first_packet_sizes = self
            .first
            .iter()
            .map(|f| i32::try_from(f.wire_len()).unwrap_or(i32::MAX))
            .collect();
        r.first_packet_directions = self.first.iter().map(|f| f.to_server()).collect();
        r.first_packet_ia_ts = self.first.iter().map(|f| f.gap()).collect();
        r.init_window_client_to_server = c2s_tcp.init_window.map_or(0, i32::from);
        r.init_window_server_to_client = s2c_tcp.init_window.map_or(0, i32::from);
        let w = |x: &Running| [x.min(), x.max(), x.mean()];
        [
            r.window_min_client_to_server,
            r.window_max_client_to_server,
            r.window_mean_client_to_server,
        ] = w(&c2s_tcp.window);
        [
            r.window_min_server_to_client,
            r.window_max_server_to_client,
            r.window_mean_server_to_client,
        ] = w(&s2c_tcp.window);
        r.mean_window_size = tcp.window_all.mean();
        r.retransmissions_client_to_server = to_i64(c2s_tcp.retransmissions);
        r.retransmissions_server_to_client = to_i64(s2c_tcp.retransmissions);
        r.out_of_order_client_to_server = to_i64(c2s_tcp.out_of_order);
        r.out_of_order_server_to_client = to_i64(s2c_tcp.out_of_order);
        r.zero_windows_client_to_server = to_i64(c2s_tcp.zero_windows);
        r.zero_windows_server_to_client = to_i64(s2c_tcp.zero_windows);
        r.duplicate_ac_ks_client_to_server = to_i64(c2s_tcp.dup_acks);
        r.duplicate_ac_ks_server_to_client = to_i64(s2c_tcp.dup_acks);
        r.handshake_rtt = tcp.rtt.unwrap_or(0);
        r.conn_state = refill(conn_state, self.conn_state());
        r.history = self.history.text();
        // The last active period ends with the last packet.
        let [mut active, idle] = self.periods.as_deref().copied().unwrap_or_default();
        active.add(elapsed(self.active_start, self.last_ts).max(0) as f64);
        [r.active_min, r.active_max, r.active_mean, r.active_std] = st(&active);
        [r.idle_min, r.idle_max, r.idle_mean, r.idle_std] = st(&idle);
        let mut bulk = [c2s.bulk.clone(), s2c.bulk.clone()];
        for b in &mut bulk {
            b.close();
        }
        let [bc, bs] = &bulk;
        r.bulk_transfers_client_to_server = to_i64(bc.transfers);
        r.bulk_packets_client_to_server = to_i64(bc.packets);
        r.bulk_bytes_client_to_server = to_i64(bc.bytes);
        r.bulk_transfers_server_to_client = to_i64(bs.transfers);
        r.bulk_packets_server_to_client = to_i64(bs.packets);
        r.bulk_bytes_server_to_client = to_i64(bs.bytes);
    }

    /// Zeek's conn_state from the flags each side sent.
    fn conn_state(&self) -> &'static str {
        let empty = Dir::default();
        let [c, s] = &self.dir;
        let (c, s) = (
            c.as_deref().unwrap_or(&empty),
            s.as_deref().unwrap_or(&empty),
        );
        let has = |d: &Dir, letter: usize| d.history & (1 << letter) != 0;
        if self.proto != PROTO_TCP {
            return match (c.packets > 0, s.packets > 0) {
                (true, true) => "SF",
                (true, false) => "S0",
                (false, true) => "SHR",
                (false, false) => "OTH",
            };
        }
        let (syn, synack) = (has(c, 0), has(s, 1));
        let (c_fin, s_fin, c_rst, s_rst) = (has(c, 4), has(s, 4), has(c, 5), has(s, 5));
        match (syn, synack) {
            (true, false) if s_rst => "REJ",
            (true, false) if c_rst => "RSTOS0",
            (true, false) if c_fin => "SH",
            (true, false) if s.packets == 0 => "S0",
            (false, true) if s_rst => "RSTRH",
            (false, true) if s_fin => "SHR",
            (true, true) if c_rst => "RSTO",
            (true, true) if s_rst => "RSTR",
            (true, true) if c_fin && s_fin => "SF",
            (true, true) if c_fin => "S2",
            (true, true) if s_fin => "S3",
            (true, true) => "S1",
            _ => "OTH",
        }
    }

    /// "C" + 16 hex digits of SHA-1 over the client/server 5-tuple and the
    /// first timestamp: the same on every run over the same input.
    pub(crate) fn uid(&self) -> String {
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
        short_uid('C', &buf)
    }
}

pub(super) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn mac_text(m: Option<[u8; 6]>) -> String {
    mac_text_into(String::new(), m)
}

/// `text` in `buf`'s allocation.
fn refill(mut buf: String, text: &str) -> String {
    buf.clear();
    buf.push_str(text);
    buf
}

/// [`mac_text`] in `buf`'s allocation.
fn mac_text_into(mut buf: String, m: Option<[u8; 6]>) -> String {
    match m {
        Some(m) => colon_hex_into(&mut buf, &m),
        None => buf.clear(),
    }
    buf
}

/// An address's text in `buf`'s allocation.
fn ip_text_into(mut buf: String, a: IpAddr) -> String {
    match a {
        IpAddr::V4(v4) => ipv4_text_into(&mut buf, v4.octets()),
        IpAddr::V6(_) => buf = ip_text(a),
    }
    buf
}

/// [`transport_name`] in `buf`'s allocation.
fn transport_name_into(buf: String, proto: u8) -> String {
    match proto {
        PROTO_TCP => refill(buf, "TCP"),
        PROTO_UDP => refill(buf, "UDP"),
        PROTO_ICMP => refill(buf, "ICMPv4"),
        PROTO_ICMPV6 => refill(buf, "ICMPv6"),
        PROTO_SCTP => refill(buf, "SCTP"),
        p => format!("IP protocol {p}"),
    }
}

/// Name of an IP protocol.
pub fn transport_name(proto: u8) -> String {
    transport_name_into(String::new(), proto)
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
