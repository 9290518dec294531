//! TLS over TCP: the record layer, handshake messages reassembled across
//! records, and the records made of them: [`TlsClientHello`] (with JA3 and
//! JA4), [`TlsServerHello`] (with JA3S) and one [`X509Certificate`] per
//! certificate of a TLS 1.0–1.2 Certificate message.
//!
//! The hellos are read by hand (`hello.rs`), not with `tls-parser`: the
//! fingerprints need every extension type as sent (GREASE and unknown ones
//! included), the raw bytes of ALPN values (JA4's hex rule for non-text
//! values) and an extension list that survives one damaged extension, while
//! `tls-parser` maps extensions to typed variants and fails the whole list
//! on a single malformed body. The record layer must be ours anyway to
//! follow the engine's incremental contract ([`Parsed::need`]). The hello
//! reader is a small checked cursor: no indexing, every length bounded by
//! the bytes at hand. Certificates use `x509-parser`.
//!
//! What is not parsed: encrypted handshake records (after ChangeCipherSpec in
//! a direction, and after a ServerHello that selects TLS 1.3), application
//! data, alerts and heartbeats (consumed and skipped).

mod hello;
mod ja3;
mod ja4;
#[cfg(test)]
mod tests;
mod x509;

use netcap_schema::{TlsClientHello, TlsServerHello, X509Certificate};

use crate::parser::{Cx, Dir, Origin, ParseError, Parsed, Probe, Protocol, StreamParser};
use crate::records::StreamRecord;

use crate::wire::Rd;

/// The TLS stream protocol.
pub const PROTOCOL: Protocol = Protocol {
    name: "TLS",
    ports: &[443, 465, 563, 636, 853, 993, 995, 8443],
    probe,
    new: || Box::new(TlsParser::default()),
};

/// Record header length: content type, version, length.
const HEADER: usize = 5;
/// Largest record length accepted: 2^14 plus the 2048 bytes of expansion
/// TLS 1.2 allows a protected record (RFC 5246 §6.2.3).
const MAX_RECORD: usize = 18432;
/// Largest handshake message reassembled; longer ones are skipped.
const MAX_HANDSHAKE: usize = 256 * 1024;

/// Record content types.
const CHANGE_CIPHER_SPEC: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
const HEARTBEAT: u8 = 24;

/// Handshake message types.
const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
const CERTIFICATE: u8 = 11;

/// A record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    content_type: u8,
    version: u16,
    len: usize,
}

/// The header at the start of `b` (`None` with fewer than 5 bytes).
fn header(b: &[u8]) -> Option<Header> {
    let mut rd = Rd::new(b);
    Some(Header {
        content_type: rd.u8()?,
        version: rd.u16()?,
        len: usize::from(rd.u16()?),
    })
}

/// SSL 3.0 to TLS 1.3 (TLS 1.3 records say 0x0301 or 0x0303; 0x0304 is
/// tolerated).
fn version_ok(v: u16) -> bool {
    v >> 8 == 3 && v & 0xff <= 4
}

/// A header a resynchronisation may trust.
fn plausible(h: &Header) -> bool {
    (CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(&h.content_type)
        && version_ok(h.version)
        && h.len <= MAX_RECORD
}

/// Recognises a handshake record carrying a ClientHello (to the server) or
/// a ServerHello (to the client). Like Zeek's signature, a server may send
/// one alert record (2 bytes of body) before its hello.
fn probe(dir: Dir, data: &[u8], _port_hint: bool) -> Probe {
    let mut data = data;
    if dir == Dir::ToClient && data.first() == Some(&ALERT) {
        let Some(h) = header(data) else {
            return Probe::NeedMore;
        };
        if !version_ok(h.version) || h.len != 2 {
            return Probe::No;
        }
        data = data.get(HEADER + 2..).unwrap_or_default();
    }
    let (Some(h), Some(&typ)) = (header(data), data.get(HEADER)) else {
        return Probe::NeedMore;
    };
    let want = match dir {
        Dir::ToServer => CLIENT_HELLO,
        Dir::ToClient => SERVER_HELLO,
    };
    if h.content_type != HANDSHAKE
        || !version_ok(h.version)
        || !(1..=MAX_RECORD).contains(&h.len)
        || typ != want
    {
        return Probe::No;
    }
    // The hello's own version, when the bytes are there: 3.x (0x7f: drafts of TLS 1.3).
    match data.get(HEADER + 4) {
        Some(3) | None => Probe::Yes,
        Some(0x7f) if dir == Dir::ToClient => Probe::Yes,
        Some(_) => Probe::No,
    }
}

/// Where a handshake message started: the packet of the first byte of the
/// record that carried its first byte, and that record's header.
#[derive(Debug, Clone, Copy, Default)]
struct Start {
    origin: Origin,
    record: Option<Header>,
}

/// How a direction is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Mode {
    /// Record after record.
    #[default]
    Records,
    /// After a gap: go on only if the next bytes start a plausible record.
    Resync,
    /// Lost after a gap: every byte is consumed unread (until the next gap).
    Lost,
}

/// State of one direction.
#[derive(Debug, Default)]
struct Side {
    /// The first bytes of a handshake message not complete yet.
    buf: Vec<u8>,
    /// Where the message in `buf` started.
    start: Start,
    /// Bytes of an over-long handshake message still to skip.
    skip: usize,
    /// Bytes of the body of an application data, alert or heartbeat record
    /// still to pass over: those bodies are not read, so they are skipped as
    /// they stream by instead of being buffered to a whole record.
    body_skip: usize,
    /// Handshake records are encrypted from here on (ChangeCipherSpec sent,
    /// or TLS 1.3 selected).
    encrypted: bool,
    mode: Mode,
}

/// TLS parser state of one connection.
#[derive(Debug, Default)]
pub struct TlsParser {
    client: Side,
    server: Side,
    /// The server selected TLS 1.3: certificates are encrypted.
    tls13: bool,
}

impl TlsParser {
    fn side(&mut self, dir: Dir) -> &mut Side {
        match dir {
            Dir::ToServer => &mut self.client,
            Dir::ToClient => &mut self.server,
        }
    }

    /// One record's fragment of handshake bytes: completes and handles the
    /// messages it ends, keeps the start of the next one.
    fn handshake(&mut self, dir: Dir, frag: &[u8], start: Start, cx: &mut Cx<'_>) {
        let side = self.side(dir);
        if side.encrypted {
            return;
        }
        let skipped = side.skip.min(frag.len());
        side.skip -= skipped;
        let frag = frag.get(skipped..).unwrap_or_default();
        if frag.is_empty() {
            return;
        }
        if side.buf.is_empty() {
            side.start = start;
        }
        side.buf.extend_from_slice(frag);
        let mut buf = std::mem::take(&mut side.buf);
        let mut msg_start = side.start;
        let mut at = 0;
        loop {
            let mut rd = Rd::new(buf.get(at..).unwrap_or_default());
            let (Some(typ), Some(len)) = (rd.u8(), rd.u24()) else {
                break;
            };
            let total = 4 + len as usize;
            if total > MAX_HANDSHAKE {
                let have = buf.len() - at;
                cx.anomaly(
                    dir,
                    "tls",
                    "tls_handshake_too_long",
                    format!("handshake message type {typ} of {len} bytes (cap {MAX_HANDSHAKE})"),
                );
                self.side(dir).skip = total.saturating_sub(have);
                at = buf.len();
                break;
            }
            let Some(body) = buf.get(at + 4..at + total) else {
                break;
            };
            self.message(dir, typ, len, body, msg_start, cx);
            at += total;
            // Any later message started in the record at hand.
            msg_start = start;
            if self.side(dir).encrypted {
                at = buf.len();
                break;
            }
        }
        buf.drain(..at.min(buf.len()));
        let side = self.side(dir);
        side.start = msg_start;
        side.buf = buf;
    }

    /// One complete handshake message.
    fn message(&mut self, dir: Dir, typ: u8, len: u32, body: &[u8], start: Start, cx: &mut Cx<'_>) {
        match typ {
            CLIENT_HELLO => {
                if let Some(ch) = hello::client_hello(body) {
                    cx.emit(StreamRecord::TlsClientHello(Box::new(client_record(
                        &ch, len, start, cx,
                    ))));
                } else {
                    cx.anomaly(dir, "tls", "tls_bad_client_hello", format!("{len} bytes"));
                }
            }
            SERVER_HELLO => {
                let Some(sh) = hello::server_hello(body) else {
                    cx.anomaly(dir, "tls", "tls_bad_server_hello", format!("{len} bytes"));
                    return;
                };
                if !sh.hello_retry_request && sh.is_tls13() {
                    // Everything after a TLS 1.3 ServerHello is encrypted,
                    // in both directions.
                    self.tls13 = true;
                    self.client.encrypted = true;
                    self.server.encrypted = true;
                    self.client.buf.clear();
                }
                cx.emit(StreamRecord::TlsServerHello(Box::new(server_record(
                    &sh, start, cx,
                ))));
            }
            CERTIFICATE if !self.tls13 => certificates(dir, body, start, cx),
            _ => {}
        }
    }
}

/// The TlsClientHello record.
fn client_record(ch: &hello::ClientHello, len: u32, start: Start, cx: &Cx<'_>) -> TlsClientHello {
    let m = cx.meta;
    let rec = start.record.unwrap_or(Header {
        content_type: HANDSHAKE,
        version: 0,
        len: 0,
    });
    let ints16 = |v: &[u16]| v.iter().map(|&x| i32::from(x)).collect::<Vec<_>>();
    let ints8 = |v: &[u8]| v.iter().map(|&x| i32::from(x)).collect::<Vec<_>>();
    let ja3_string = ja3::ja3_string(ch);
    TlsClientHello {
        timestamp: start.origin.ts_ns,
        packet_number: start.origin.number,
        r#type: i32::from(rec.content_type),
        version: i32::from(rec.version),
        message_len: i32::try_from(rec.len).unwrap_or(i32::MAX),
        handshake_type: i32::from(CLIENT_HELLO),
        handshake_len: len,
        handshake_version: i32::from(ch.version),
        random: ch.random.clone(),
        session_id_len: u32::try_from(ch.session_id.len()).unwrap_or(u32::MAX),
        session_id: ch.session_id.clone(),
        cipher_suite_len: i32::try_from(ch.cipher_suites_len).unwrap_or(i32::MAX),
        extension_len: i32::try_from(ch.extensions_len).unwrap_or(i32::MAX),
        sni: ch.sni.clone().unwrap_or_default(),
        oscp: ch.status_request,
        cipher_suites: ints16(&ch.cipher_suites),
        compress_methods: ints8(&ch.compression),
        signature_algs: ints16(&ch.sig_algs),
        supported_groups: ints16(&ch.groups),
        supported_points: ints8(&ch.point_formats),
        alp_ns: ch
            .alpns
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
        ja3: ja3::md5_hex(&ja3_string),
        ja3_string,
        ja4: ja4::ja4(ch),
        src_ip: m.client_ip(),
        dst_ip: m.server_ip(),
        src_mac: String::new(),
        dst_mac: String::new(),
        src_port: m.client_port(),
        dst_port: m.server_port(),
        extensions: ints16(&ch.extensions),
        connection_uid: m.uid.clone(),
        supported_versions: ints16(&ch.supported_versions),
        key_share_groups: ints16(&ch.key_share_groups),
        psk_modes: ints8(&ch.psk_modes),
        ech: ch.ech,
        ticket_supported: ch.session_ticket,
        ..Default::default()
    }
}

/// The TlsServerHello record.
fn server_record(sh: &hello::ServerHello, start: Start, cx: &Cx<'_>) -> TlsServerHello {
    let m = cx.meta;
    let ja3s_string = ja3::ja3s_string(sh);
    TlsServerHello {
        timestamp: start.origin.ts_ns,
        packet_number: start.origin.number,
        connection_uid: m.uid.clone(),
        src_ip: m.client_ip(),
        src_port: m.client_port(),
        dst_ip: m.server_ip(),
        dst_port: m.server_port(),
        record_version: start.record.map_or(0, |h| i32::from(h.version)),
        version: i32::from(sh.version),
        supported_version: i32::from(sh.supported_version),
        random: sh.random.clone(),
        session_id: sh.session_id.clone(),
        cipher_suite: i32::from(sh.cipher_suite),
        compression_method: i32::from(sh.compression),
        extensions: sh.extensions.iter().map(|&x| i32::from(x)).collect(),
        alpn_protocol: sh
            .alpn
            .as_deref()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .unwrap_or_default(),
        ocsp_stapling: sh.status_request,
        ticket_supported: sh.session_ticket,
        secure_renegotiation_supported: sh.renegotiation_info,
        ems: sh.extended_master_secret,
        selected_group: i32::from(sh.selected_group),
        ja3s: ja3::md5_hex(&ja3s_string),
        ja3s_string,
        hello_retry_request: sh.hello_retry_request,
        ..Default::default()
    }
}

/// One X509Certificate record per certificate of a TLS 1.0–1.2 Certificate
/// message: certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>.
fn certificates(dir: Dir, body: &[u8], start: Start, cx: &mut Cx<'_>) {
    let mut rd = Rd::new(body);
    let Some(list) = rd.vec24() else {
        cx.anomaly(
            dir,
            "tls",
            "tls_bad_certificate",
            format!("{} bytes", body.len()),
        );
        return;
    };
    let mut certs = Rd::new(list);
    let mut index = 0i32;
    while !certs.is_empty() {
        let Some(der) = certs.vec24() else {
            cx.anomaly(
                dir,
                "tls",
                "tls_bad_certificate",
                format!("certificate {index} cut"),
            );
            return;
        };
        let m = cx.meta;
        let mut rec = X509Certificate {
            timestamp: start.origin.ts_ns,
            packet_number: start.origin.number,
            connection_uid: m.uid.clone(),
            src_ip: m.client_ip(),
            src_port: m.client_port(),
            dst_ip: m.server_ip(),
            dst_port: m.server_port(),
            chain_index: index,
            client_cert: dir == Dir::ToServer,
            ..X509Certificate::default()
        };
        x509::fill(&mut rec, der);
        cx.emit(StreamRecord::X509(Box::new(rec)));
        index = index.saturating_add(1);
    }
}

impl StreamParser for TlsParser {
    fn name(&self) -> &'static str {
        "TLS"
    }

    fn memory(&self) -> usize {
        self.client.buf.capacity() + self.server.buf.capacity()
    }

    fn parse(&mut self, dir: Dir, input: &[u8], cx: &mut Cx<'_>) -> Result<Parsed, ParseError> {
        match self.side(dir).mode {
            Mode::Lost => return Ok(Parsed::all(input)),
            Mode::Resync => match header(input) {
                None if input.is_empty() => return Ok(Parsed::all(input)),
                None => return Ok(Parsed::need(0, HEADER)),
                Some(h) if plausible(&h) => self.side(dir).mode = Mode::Records,
                Some(_) => {
                    self.side(dir).mode = Mode::Lost;
                    return Ok(Parsed::all(input));
                }
            },
            Mode::Records => {}
        }
        let mut off = 0;
        loop {
            let side = self.side(dir);
            if side.body_skip > 0 {
                let n = side.body_skip.min(input.len().saturating_sub(off));
                side.body_skip -= n;
                off += n;
            }
            let rest = input.get(off..).unwrap_or_default();
            if rest.is_empty() {
                return Ok(Parsed::all(input));
            }
            let Some(h) = header(rest) else {
                return Ok(Parsed::need(off, HEADER));
            };
            if !version_ok(h.version) {
                return Err(ParseError(format!(
                    "TLS record version {:#06x} at offset {off}",
                    h.version
                )));
            }
            if h.len > MAX_RECORD {
                return Err(ParseError(format!(
                    "TLS record of {} bytes at offset {off} (max {MAX_RECORD})",
                    h.len
                )));
            }
            let total = HEADER + h.len;
            let Some(fragment) = rest.get(HEADER..total) else {
                if matches!(h.content_type, ALERT | APPLICATION_DATA | HEARTBEAT) {
                    // Nothing of its body is read: pass over it as it comes.
                    self.side(dir).body_skip = total - rest.len();
                    return Ok(Parsed::all(input));
                }
                return Ok(Parsed::need(off, total));
            };
            match h.content_type {
                HANDSHAKE => {
                    let start = Start {
                        origin: cx.origin(off),
                        record: Some(h),
                    };
                    self.handshake(dir, fragment, start, cx);
                }
                CHANGE_CIPHER_SPEC => {
                    let side = self.side(dir);
                    side.encrypted = true;
                    side.buf.clear();
                    side.skip = 0;
                }
                ALERT | APPLICATION_DATA | HEARTBEAT => {}
                t => {
                    return Err(ParseError(format!(
                        "TLS record content type {t} at offset {off}"
                    )))
                }
            }
            off += total;
        }
    }

    fn gap(&mut self, dir: Dir, _len: u64, _cx: &mut Cx<'_>) {
        // Not gap tolerant: what was in the middle of a message is lost.
        let side = self.side(dir);
        side.buf.clear();
        side.skip = 0;
        side.body_skip = 0;
        side.mode = Mode::Resync;
    }

    fn finish(&mut self, cx: &mut Cx<'_>) {
        for dir in [Dir::ToServer, Dir::ToClient] {
            let side = self.side(dir);
            if side.buf.is_empty() {
                continue;
            }
            let have = side.buf.len();
            side.buf.clear();
            cx.anomaly(
                dir,
                "tls",
                "tls_truncated_handshake",
                format!("handshake message cut after {have} bytes"),
            );
        }
    }
}
