//! Netcap's derived records: what a host runs ([`Software`]), what a
//! server offers ([`Service`]) and which FTP command a data connection
//! served ([`FtpData`]), built across connections.
//!
//! Workers see one shard of the connections each, so they only take
//! [`Sighting`]s from the records they emit ([`observe_stream`],
//! [`observe_connection`]). One [`Deriver`], on the writer thread, gets every
//! worker's sightings of a batch in a fixed order and keeps the tables: a
//! Software record is written at the first sighting of its host, port,
//! source and string; Service records at the end of the input, with what all
//! the server's connections showed; an FTP data connection's record when
//! both its Connection record and the command that used it were seen
//! ([`ftp`]). The output does not depend on the number of workers.
//!
//! Tables are bounded ([`Limits`]); what does not fit is counted, not kept.
#![forbid(unsafe_code)]

pub mod ftp;
pub mod software;

use std::collections::{BTreeMap, HashMap, HashSet};

use netcap_schema::{Connection, File, FtpData, Service, Software};
use netcap_stream::StreamRecord;

use software::source;

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
    /// An FTP command announced a data endpoint or used one.
    Ftp(Box<ftp::FtpSeen>),
    /// The File record of an FTP data connection (its name comes from the
    /// command the connection is linked to).
    FtpFile(Box<FileSeen>),
}

/// A File record as a sighting, ordered by its packet, connection and
/// file UID (unique per file).
#[derive(Debug, Clone)]
pub struct FileSeen(pub File);

impl FileSeen {
    fn key(&self) -> (u64, &str, &str) {
        (
            self.0.packet_number,
            &self.0.connection_uid,
            &self.0.file_uid,
        )
    }
}

impl PartialEq for FileSeen {
    fn eq(&self, o: &Self) -> bool {
        self.key() == o.key()
    }
}

impl Eq for FileSeen {}

impl PartialOrd for FileSeen {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for FileSeen {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.key().cmp(&o.key())
    }
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
    /// Where it was announced ([`software::source`]).
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
    /// Client address and port.
    pub client: (String, i32),
    /// Bytes the stream reassembly delivered in order from the client.
    pub stream_client: i64,
    /// Bytes the stream reassembly delivered in order from the server.
    pub stream_server: i64,
    /// Bytes the stream reassembly missed from the client (gaps).
    pub missed_client: i64,
    /// Bytes the stream reassembly missed from the server.
    pub missed_server: i64,
}

/// A software announcement in a stream record.
#[derive(Clone, Copy)]
struct Announced<'a> {
    host: &'a str,
    port: i32,
    kind: &'static str,
    source: &'static str,
    service: &'static str,
    raw: &'a str,
    ts: i64,
    number: u64,
    uid: &'a str,
}

impl Announced<'_> {
    /// The sighting, unless nothing was announced.
    fn push(self, out: &mut Vec<Sighting>) {
        if self.raw.is_empty() {
            return;
        }
        out.push(Sighting::Software(SoftwareSeen {
            host: self.host.to_string(),
            port: self.port,
            transport: "TCP",
            kind: self.kind,
            source: self.source,
            service: self.service,
            raw: self.raw.to_string(),
            ts: self.ts,
            number: self.number,
            uid: self.uid.to_string(),
        }));
    }
}

/// The sightings in the stream records a worker emits.
pub fn observe_stream(rec: &StreamRecord, out: &mut Vec<Sighting>) {
    match rec {
        StreamRecord::Http(h) => {
            let client = Announced {
                host: &h.src_ip,
                port: 0,
                kind: if software::user_agent(&h.user_agent).browser {
                    "BROWSER"
                } else {
                    "HTTP_CLIENT"
                },
                source: source::HTTP_USER_AGENT,
                service: "HTTP",
                raw: &h.user_agent,
                ts: h.timestamp,
                number: h.packet_number,
                uid: &h.connection_uid,
            };
            client.push(out);
            let server = Announced {
                host: &h.dst_ip,
                port: h.dst_port,
                kind: "HTTP_SERVER",
                source: source::HTTP_SERVER,
                raw: &h.server,
                ..client
            };
            server.push(out);
            if let Some(x) = h
                .response_headers
                .iter()
                .find(|x| x.name.eq_ignore_ascii_case("X-Powered-By"))
            {
                Announced {
                    kind: "HTTP_APPSERVER",
                    source: source::HTTP_X_POWERED_BY,
                    raw: &x.value,
                    ..server
                }
                .push(out);
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
        StreamRecord::Ssh(s) => {
            // One record per connection: both banners take its time and
            // packet (the first banner's).
            let client = Announced {
                host: &s.src_ip,
                port: 0,
                kind: "SSH_CLIENT",
                source: source::SSH_CLIENT,
                service: "SSH",
                raw: &s.client_version,
                ts: s.timestamp,
                number: s.packet_number,
                uid: &s.connection_uid,
            };
            client.push(out);
            Announced {
                host: &s.dst_ip,
                port: s.dst_port,
                kind: "SSH_SERVER",
                source: source::SSH_SERVER,
                raw: &s.server_version,
                ..client
            }
            .push(out);
        }
        StreamRecord::Ftp(f) => {
            let server = Announced {
                host: &f.dst_ip,
                port: f.dst_port,
                kind: "FTP_SERVER",
                source: source::FTP_GREETING,
                service: "FTP",
                raw: &f.reply_text,
                ts: f.timestamp,
                number: f.packet_number,
                uid: &f.connection_uid,
            };
            match f.command.to_ascii_uppercase().as_str() {
                "" if f.reply_code == 220 => server.push(out),
                "CLNT" => Announced {
                    host: &f.src_ip,
                    port: 0,
                    kind: "FTP_CLIENT",
                    source: source::FTP_CLNT,
                    raw: f.arguments.trim(),
                    ..server
                }
                .push(out),
                "SYST" if f.reply_code == 215 => Announced {
                    source: source::FTP_SYST,
                    ..server
                }
                .push(out),
                _ => {}
            }
            if let Some(seen) = ftp::seen(f) {
                out.push(Sighting::Ftp(Box::new(seen)));
            }
        }
        StreamRecord::Smtp(m) => {
            let greeting = Announced {
                host: &m.dst_ip,
                port: m.dst_port,
                kind: "SMTP_MAIL_SERVER",
                source: source::SMTP_GREETING,
                service: "SMTP",
                raw: &m.reply_text,
                ts: m.timestamp,
                number: m.packet_number,
                uid: &m.connection_uid,
            };
            let verb = m.command.to_ascii_uppercase();
            if verb.is_empty() && m.reply_code == 220 {
                greeting.push(out);
            } else if (verb == "EHLO" || verb == "HELO")
                && m.reply_code == 250
                // The reply names the server only at times (and the client
                // in its first line): only then is it software.
                && !software::smtp_ehlo(&m.reply_text).product.is_empty()
            {
                // Its first line names the client: the extension lines are
                // the server's own, the same for every client.
                let exts = m.reply_text.split_once('\n').map_or("", |(_, e)| e);
                Announced {
                    source: source::SMTP_EHLO,
                    raw: if exts.is_empty() { &m.reply_text } else { exts },
                    ..greeting
                }
                .push(out);
            }
        }
        StreamRecord::Pop3(p) if p.command.is_empty() && p.status == "+OK" => {
            Announced {
                host: &p.dst_ip,
                port: p.dst_port,
                kind: "POP3_SERVER",
                source: source::POP3_GREETING,
                service: "POP3",
                raw: &p.reply_text,
                ts: p.timestamp,
                number: p.packet_number,
                uid: &p.connection_uid,
            }
            .push(out);
        }
        StreamRecord::Imap(i)
            if i.command.is_empty() && (i.status == "OK" || i.status == "PREAUTH") =>
        {
            Announced {
                host: &i.dst_ip,
                port: i.dst_port,
                kind: "IMAP_SERVER",
                source: source::IMAP_GREETING,
                service: "IMAP",
                raw: &i.reply_text,
                ts: i.timestamp,
                number: i.packet_number,
                uid: &i.connection_uid,
            }
            .push(out);
        }
        _ => {}
    }
}

/// The sighting of a File record of an FTP data connection (`Source` FTP),
/// which the tables hold until its connection is linked to its command:
/// the caller writes it through the tables instead of at once.
pub fn ftp_file(f: &File) -> Option<Sighting> {
    (f.source == netcap_stream::ftp_data::SOURCE)
        .then(|| Sighting::FtpFile(Box::new(FileSeen(f.clone()))))
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
        client: (c.src_ip.clone(), c.src_port),
        stream_client: c.stream_bytes_client_to_server,
        stream_server: c.stream_bytes_server_to_client,
        missed_client: c.missed_bytes_client_to_server,
        missed_server: c.missed_bytes_server_to_client,
    })));
}

/// Bounds of the tables.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Distinct software announcements remembered.
    pub software: usize,
    /// Servers remembered (services, their hostnames and software).
    pub services: usize,
    /// FTP data endpoints announced and not yet linked to their data
    /// connection.
    pub ftp_channels: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // About 200 bytes an entry: some 20 MB each when full (2 MB for the
        // FTP endpoints).
        Limits {
            software: 100_000,
            services: 100_000,
            ftp_channels: 10_000,
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
    /// Announced FTP data endpoints forgotten before their data connection
    /// was seen (table full).
    pub ftp_channels: u64,
    /// Files of FTP data connections written without their name because
    /// too many waited for their link (table full).
    pub ftp_files: u64,
}

/// The records the derived tables made of a batch, or at the end.
#[derive(Debug, Default, PartialEq)]
pub struct Derived {
    /// Software at its first sighting, in sighting order.
    pub software: Vec<Software>,
    /// FTP data connections linked to their command.
    pub ftp_data: Vec<FtpData>,
    /// Files of FTP data connections, named after the linked command.
    pub files: Vec<File>,
    /// Services (only at the end), by their first connection.
    pub services: Vec<Service>,
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

/// What a server announced about itself: its first banner, and the first
/// product named (by that banner or a later announcement).
#[derive(Debug, Default)]
struct ServerSoftware {
    banner: String,
    service: &'static str,
    product: String,
    version: String,
}

/// Server announcements that are banners (the others, a SYST or EHLO reply,
/// only name a product when the banner did not).
fn is_banner(source_name: &str) -> bool {
    matches!(
        source_name,
        source::HTTP_SERVER
            | source::SSH_SERVER
            | source::FTP_GREETING
            | source::SMTP_GREETING
            | source::POP3_GREETING
            | source::IMAP_GREETING
    )
}

/// The derived-record tables (writer thread).
#[derive(Debug, Default)]
pub struct Deriver {
    limits: Limits,
    software: HashSet<(String, i32, &'static str, String)>,
    services: HashMap<ServerKey, ServiceState>,
    hostnames: HashMap<ServerKey, String>,
    server_software: HashMap<ServerKey, ServerSoftware>,
    ftp: ftp::Links,
    ftp_files: ftp::Files,
    dropped: Dropped,
}

impl Deriver {
    /// Empty tables with these bounds.
    pub fn new(limits: Limits) -> Self {
        Deriver {
            limits,
            ftp: ftp::Links::new(limits.ftp_channels),
            ftp_files: ftp::Files::new(limits.ftp_channels),
            ..Deriver::default()
        }
    }

    /// Takes a batch's sightings (every worker's, any order) and returns the
    /// Software records of first sightings and the FTP data connections
    /// linked, each with the packet number that orders it.
    pub fn batch(&mut self, sightings: &mut [Sighting]) -> Derived {
        // A total order on the content: the arrival order of the workers'
        // outputs must not matter.
        sightings.sort_unstable_by(|a, b| order_key(a).cmp(&order_key(b)).then(a.cmp(b)));
        let mut out = Derived::default();
        // A data connection's Files come no later than its Connection
        // record, so they wait before any link of the batch is made.
        for s in sightings.iter() {
            if let Sighting::FtpFile(f) = s {
                self.ftp_files.file(&f.0, &mut out.files);
            }
        }
        for s in sightings.iter() {
            match s {
                Sighting::Software(sw) => {
                    if let Some(rec) = self.software(sw) {
                        out.software.push(rec);
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
                Sighting::Connection(c) => {
                    self.connection(c);
                    self.ftp.connection(c, &mut out.ftp_data);
                }
                Sighting::Ftp(f) => self.ftp.command(f, &mut out.ftp_data),
                Sighting::FtpFile(_) => {}
            }
        }
        for d in &out.ftp_data {
            self.ftp_files.linked(d, &mut out.files);
        }
        self.dropped.ftp_channels = self.ftp.evicted();
        self.dropped.ftp_files = self.ftp_files.unlinked;
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
        let parsed = software::parse(sw.source, &sw.raw);
        if sw.port != 0 && sw.kind != "HTTP_APPSERVER" {
            self.server_software(sw, &parsed);
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

    /// Notes a server's announcement for its Service record.
    fn server_software(&mut self, sw: &SoftwareSeen, parsed: &software::Parsed) {
        let server = (sw.host.clone(), sw.port, sw.transport);
        let full = self.server_software.len() >= self.limits.services;
        let s = match self.server_software.get_mut(&server) {
            Some(s) => s,
            None if full => return,
            None => self.server_software.entry(server).or_default(),
        };
        if s.banner.is_empty() && is_banner(sw.source) {
            s.banner.clone_from(&sw.raw);
            s.service = sw.service;
        }
        if s.product.is_empty() && !parsed.product.is_empty() {
            s.product.clone_from(&parsed.product);
            s.version.clone_from(&parsed.version);
        }
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

    /// The records held until the end of the input: the Service records,
    /// ordered by the first packet of each server's first connection, and
    /// the FTP data connections whose command was not seen.
    pub fn finish(&mut self) -> Derived {
        let mut out = Derived::default();
        self.ftp.finish(&mut out.ftp_data);
        for d in &out.ftp_data {
            self.ftp_files.linked(d, &mut out.files);
        }
        self.ftp_files.finish(&mut out.files);
        self.dropped.ftp_channels = self.ftp.evicted();
        out.services = std::mem::take(&mut self.services)
            .into_iter()
            .map(|(key, s)| {
                let sw = self.server_software.remove(&key).unwrap_or_default();
                // The most frequent protocol; ties go to the first name.
                let name = s
                    .apps
                    .iter()
                    .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                    .map_or_else(|| sw.service.to_string(), |(n, _)| n.clone());
                Service {
                    timestamp: s.first_ts,
                    packet_number: s.first_number,
                    connection_uid: s.uid,
                    hostname: self.hostnames.get(&key).cloned().unwrap_or_default(),
                    ip: key.0,
                    port: key.1,
                    protocol: key.2.to_string(),
                    name,
                    product: sw.product,
                    version: sw.version,
                    banner: sw.banner,
                    num_connections: s.connections,
                    bytes_client: s.bytes_client,
                    bytes_server: s.bytes_server,
                    timestamp_last: s.last_ts,
                    ..Default::default()
                }
            })
            .collect();
        out.services.sort_unstable_by(|a, b| {
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
        Sighting::Ftp(f) => f.number,
        Sighting::FtpFile(f) => f.0.packet_number,
    }
}

#[cfg(test)]
mod tests;
