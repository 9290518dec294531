//! Netcap's derived records: what a host runs ([`Software`]) and what a
//! server offers ([`Service`]), built across connections.
//!
//! Workers see one shard of the connections each, so they only take
//! [`Sighting`]s from the records they emit ([`observe_stream`],
//! [`observe_connection`]). One [`Deriver`], on the writer thread, gets every
//! worker's sightings of a batch in a fixed order and keeps the tables: a
//! Software record is written at the first sighting of its host, port,
//! source and string; Service records at the end of the input, with what all
//! the server's connections showed. The output does not depend on the number
//! of workers.
//!
//! Tables are bounded ([`Limits`]); what does not fit is counted, not kept.
#![forbid(unsafe_code)]

pub mod software;

use std::collections::{BTreeMap, HashMap, HashSet};

use netcap_schema::{Connection, Service, Software};
use netcap_stream::StreamRecord;

/// Something a worker saw that a derived record needs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Sighting {
    /// Software announced itself.
    Software(SoftwareSeen),
    /// A client named the server it wanted (TLS SNI, HTTP Host).
    Hostname {
        /// Packet number of the message that named it.
        number: u64,
        /// Server address, port, transport.
        server: ServerKey,
        /// The name.
        name: String,
    },
    /// A connection ended.
    Connection(Box<ConnSeen>),
}

/// Address, port and transport of a server.
pub type ServerKey = (String, i32, &'static str);

/// A software announcement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SoftwareSeen {
    /// Host that runs it, and its port when it is a server (0 for a client).
    pub host: String,
    /// Server port, 0 for a client.
    pub port: i32,
    /// Transport of the connection (to key the server's Service).
    pub transport: &'static str,
    /// Zeek's software type (BROWSER, HTTP_CLIENT, HTTP_SERVER, ...).
    pub kind: &'static str,
    /// Where it was announced ("HTTP User-Agent").
    pub source: &'static str,
    /// Application protocol ("HTTP").
    pub service: &'static str,
    /// The announced string.
    pub raw: String,
    /// Time, packet and connection of the sighting.
    pub ts: i64,
    /// Packet number of the sighting.
    pub number: u64,
    /// UID of the connection.
    pub uid: String,
}

/// What a finished connection tells about its server.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConnSeen {
    /// Server address, port, transport.
    pub server: ServerKey,
    /// Application protocol (Connection's `ApplicationProto`).
    pub app: String,
    /// First and last packet time, first packet number.
    pub first_ts: i64,
    /// Last packet time.
    pub last_ts: i64,
    /// First packet number.
    pub first_number: u64,
    /// Connection UID.
    pub uid: String,
    /// Bytes on the wire per direction.
    pub bytes_client: i64,
    /// Bytes on the wire from the server.
    pub bytes_server: i64,
}

/// The sightings in the stream records a worker emits.
pub fn observe_stream(rec: &StreamRecord, out: &mut Vec<Sighting>) {
    match rec {
        StreamRecord::Http(h) => {
            let seen = |host: &str, port: i32, kind, source, raw: &str| {
                Sighting::Software(SoftwareSeen {
                    host: host.to_string(),
                    port,
                    transport: "TCP",
                    kind,
                    source,
                    service: "HTTP",
                    raw: raw.to_string(),
                    ts: h.timestamp,
                    number: h.packet_number,
                    uid: h.connection_uid.clone(),
                })
            };
            if !h.user_agent.is_empty() {
                let kind = if software::user_agent(&h.user_agent).browser {
                    "BROWSER"
                } else {
                    "HTTP_CLIENT"
                };
                out.push(seen(&h.src_ip, 0, kind, "HTTP User-Agent", &h.user_agent));
            }
            if !h.server.is_empty() {
                out.push(seen(
                    &h.dst_ip,
                    h.dst_port,
                    "HTTP_SERVER",
                    "HTTP Server",
                    &h.server,
                ));
            }
            if let Some(x) = h
                .response_headers
                .iter()
                .find(|x| x.name.eq_ignore_ascii_case("X-Powered-By"))
                .filter(|x| !x.value.is_empty())
            {
                out.push(seen(
                    &h.dst_ip,
                    h.dst_port,
                    "HTTP_APPSERVER",
                    "HTTP X-Powered-By",
                    &x.value,
                ));
            }
            if !h.host.is_empty() {
                out.push(Sighting::Hostname {
                    number: h.packet_number,
                    server: (h.dst_ip.clone(), h.dst_port, "TCP"),
                    name: h.host.clone(),
                });
            }
        }
        // A mail's X-Mailer (or User-Agent) names the client that
        // submitted it over SMTP (Zeek's SMTP::MAIL_CLIENT); relayed and
        // fetched (POP3, IMAP) mails say nothing of the hosts seen.
        StreamRecord::Mail(m) if !m.x_mailer.is_empty() && m.origin == "SMTP" => {
            out.push(Sighting::Software(SoftwareSeen {
                host: m.client_ip.clone(),
                port: 0,
                transport: "TCP",
                kind: "MAIL_CLIENT",
                source: "Mail X-Mailer",
                service: "SMTP",
                raw: m.x_mailer.clone(),
                ts: m.timestamp,
                number: m.packet_number,
                uid: m.connection_uid.clone(),
            }));
        }
        StreamRecord::TlsClientHello(c) if !c.sni.is_empty() => {
            out.push(Sighting::Hostname {
                number: c.packet_number,
                server: (c.dst_ip.clone(), c.dst_port, "TCP"),
                name: c.sni.clone(),
            });
        }
        _ => {}
    }
}

/// The sighting of a Connection record: only when the server answered (a
/// SYN-ACK or data for TCP, any packet back for UDP and SCTP), so that scans
/// of closed ports make no service, and had ports.
pub fn observe_connection(c: &Connection, out: &mut Vec<Sighting>) {
    let transport = match c.transport_proto.as_str() {
        "TCP" => "TCP",
        "UDP" => "UDP",
        "SCTP" => "SCTP",
        _ => return,
    };
    let answered = match transport {
        "TCP" => c.num_syn_flags_server_to_client > 0 || c.payload_bytes_server_to_client > 0,
        _ => c.num_packets_server_to_client > 0,
    };
    // Fragments seen before their datagram's first have no ports.
    if !answered || c.dst_port == 0 {
        return;
    }
    out.push(Sighting::Connection(Box::new(ConnSeen {
        server: (c.dst_ip.clone(), c.dst_port, transport),
        app: c.application_proto.clone(),
        first_ts: c.timestamp_first,
        last_ts: c.timestamp_last,
        first_number: c.first_packet_number,
        uid: c.uid.clone(),
        bytes_client: c.bytes_client_to_server,
        bytes_server: c.bytes_server_to_client,
    })));
}

/// Bounds of the tables.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Distinct software announcements remembered.
    pub software: usize,
    /// Servers remembered (services, their hostnames and software).
    pub services: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // About 200 bytes an entry: some 20 MB each when full.
        Limits {
            software: 100_000,
            services: 100_000,
        }
    }
}

/// What the tables dropped to stay in their bounds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// New software announcements not written (table full).
    pub software: u64,
    /// Servers not tracked (table full).
    pub services: u64,
}

#[derive(Debug, Default)]
struct ServiceState {
    first_ts: i64,
    first_number: u64,
    uid: String,
    last_ts: i64,
    apps: BTreeMap<String, u64>,
    connections: i64,
    bytes_client: i64,
    bytes_server: i64,
}

/// The derived-record tables (writer thread).
#[derive(Debug, Default)]
pub struct Deriver {
    limits: Limits,
    software: HashSet<(String, i32, &'static str, String)>,
    services: HashMap<ServerKey, ServiceState>,
    hostnames: HashMap<ServerKey, String>,
    server_software: HashMap<ServerKey, String>,
    dropped: Dropped,
}

impl Deriver {
    /// Empty tables with these bounds.
    pub fn new(limits: Limits) -> Self {
        Deriver {
            limits,
            ..Deriver::default()
        }
    }

    /// Takes a batch's sightings (every worker's, any order) and returns the
    /// Software records of first sightings, each with the packet number
    /// that orders it.
    pub fn batch(&mut self, sightings: &mut [Sighting]) -> Vec<Software> {
        // A total order on the content: the arrival order of the workers'
        // outputs must not matter.
        sightings.sort_unstable_by(|a, b| order_key(a).cmp(&order_key(b)).then(a.cmp(b)));
        let mut out = Vec::new();
        for s in sightings.iter() {
            match s {
                Sighting::Software(sw) => {
                    if let Some(rec) = self.software(sw) {
                        out.push(rec);
                    }
                }
                Sighting::Hostname { server, name, .. } => {
                    if self.hostnames.contains_key(server) {
                        continue;
                    }
                    if self.hostnames.len() >= self.limits.services {
                        self.dropped.services += 1;
                        continue;
                    }
                    self.hostnames.insert(server.clone(), name.clone());
                }
                Sighting::Connection(c) => self.connection(c),
            }
        }
        out
    }

    fn software(&mut self, sw: &SoftwareSeen) -> Option<Software> {
        let key = (sw.host.clone(), sw.port, sw.source, sw.raw.clone());
        if self.software.contains(&key) {
            return None;
        }
        if self.software.len() >= self.limits.software {
            self.dropped.software += 1;
            return None;
        }
        self.software.insert(key);
        let parsed = if sw.port == 0 {
            software::user_agent(&sw.raw)
        } else {
            software::server(&sw.raw)
        };
        if sw.kind == "HTTP_SERVER" {
            let server = (sw.host.clone(), sw.port, sw.transport);
            if !self.server_software.contains_key(&server)
                && self.server_software.len() < self.limits.services
            {
                self.server_software.insert(server, sw.raw.clone());
            }
        }
        Some(Software {
            timestamp: sw.ts,
            packet_number: sw.number,
            connection_uid: sw.uid.clone(),
            host: sw.host.clone(),
            host_port: sw.port,
            software_type: sw.kind.to_string(),
            product: parsed.product,
            version: parsed.version,
            os: parsed.os,
            source_name: sw.source.to_string(),
            service: sw.service.to_string(),
            source_data: sw.raw.clone(),
            ..Default::default()
        })
    }

    fn connection(&mut self, c: &ConnSeen) {
        let full = self.services.len() >= self.limits.services;
        let s = match self.services.get_mut(&c.server) {
            Some(s) => s,
            None if full => {
                self.dropped.services += 1;
                return;
            }
            None => self
                .services
                .entry(c.server.clone())
                .or_insert(ServiceState {
                    first_ts: c.first_ts,
                    first_number: c.first_number,
                    uid: c.uid.clone(),
                    last_ts: c.last_ts,
                    ..ServiceState::default()
                }),
        };
        // Connections end in any order: keep the earliest start.
        if c.first_number < s.first_number {
            s.first_ts = c.first_ts;
            s.first_number = c.first_number;
            s.uid.clone_from(&c.uid);
        }
        s.last_ts = s.last_ts.max(c.last_ts);
        s.connections += 1;
        s.bytes_client = s.bytes_client.saturating_add(c.bytes_client);
        s.bytes_server = s.bytes_server.saturating_add(c.bytes_server);
        if !c.app.is_empty() {
            *s.apps.entry(c.app.clone()).or_default() += 1;
        }
    }

    /// The Service records, at the end of the input, ordered by the first
    /// packet of each server's first connection.
    pub fn finish(&mut self) -> Vec<Service> {
        let mut out: Vec<Service> = std::mem::take(&mut self.services)
            .into_iter()
            .map(|(key, s)| {
                let banner = self.server_software.get(&key).cloned().unwrap_or_default();
                let parsed = software::server(&banner);
                // The most frequent protocol; ties go to the first name.
                let name = s
                    .apps
                    .iter()
                    .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                    .map(|(n, _)| n.clone())
                    .unwrap_or_default();
                Service {
                    timestamp: s.first_ts,
                    packet_number: s.first_number,
                    connection_uid: s.uid,
                    hostname: self.hostnames.get(&key).cloned().unwrap_or_default(),
                    ip: key.0,
                    port: key.1,
                    protocol: key.2.to_string(),
                    name,
                    product: parsed.product,
                    version: parsed.version,
                    banner,
                    num_connections: s.connections,
                    bytes_client: s.bytes_client,
                    bytes_server: s.bytes_server,
                    timestamp_last: s.last_ts,
                    ..Default::default()
                }
            })
            .collect();
        out.sort_unstable_by(|a, b| {
            (a.packet_number, &a.ip, a.port, &a.protocol).cmp(&(
                b.packet_number,
                &b.ip,
                b.port,
                &b.protocol,
            ))
        });
        out
    }

    /// Empty tables with the default bounds.
    pub fn default_limits() -> Self {
        Deriver::new(Limits::default())
    }

    /// What the bounds dropped so far.
    pub fn dropped(&self) -> Dropped {
        self.dropped
    }
}

/// Sightings in packet order (connections by their first packet).
fn order_key(s: &Sighting) -> u64 {
    match s {
        Sighting::Software(sw) => sw.number,
        Sighting::Hostname { number, .. } => *number,
        Sighting::Connection(c) => c.first_number,
    }
}

#[cfg(test)]
mod tests;
