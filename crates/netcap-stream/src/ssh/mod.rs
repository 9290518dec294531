//! SSH (RFC 4253): what is sent in the clear before the keys change. Each
//! direction starts with its version banner (a server may send other lines
//! first, RFC 4253 §4.2), then binary packets: a 32-bit length, a padding
//! length, the payload and the padding (no MAC before the first NEWKEYS).
//! The parser reads SSH_MSG_KEXINIT (20) of both sides, the server's key
//! exchange reply (31, or 33 for a group exchange) for its host key, and
//! SSH_MSG_NEWKEYS (21); after a direction's NEWKEYS its bytes are
//! encrypted and only counted. One [`Ssh`] record per connection is written
//! when the connection ends, with both banners, both KEXINITs, HASSH and
//! HASSHServer (salesforce/hassh, BSD-3-Clause), the negotiated algorithms
//! and the NEWKEYS seen.
//!
//! Limits: a line is at most [`MAX_LINE`] bytes and at most
//! [`MAX_LINES`] lines may come before the banner; a packet is at most
//! [`MAX_PACKET`] bytes (RFC 4253 §6.1). Past them, or after a malformed
//! packet, the direction is only counted. After a gap, parsing goes on only
//! if the next bytes start a plausible packet (or are encrypted anyway).
//! The parser never buffers input: lines and packets are read from the
//! engine's buffer.

mod kex;
#[cfg(test)]
mod tests;

use netcap_schema::{Ssh, SshKexInit};

use crate::parser::{Cx, Dir, Origin, ParseError, Parsed, Probe, Protocol, StreamParser};
use crate::records::StreamRecord;

use crate::wire::Rd;
use kex::{Banner, KexInit};

/// The SSH stream protocol.
pub const PROTOCOL: Protocol = Protocol {
    name: "SSH",
    ports: &[22, 2222],
    probe,
    new: || Box::new(SshParser::default()),
};

/// Longest line read, CR LF included. The banner may be 255 bytes (RFC 4253
/// §4.2); real servers' pre-banner lines are longer at times.
pub const MAX_LINE: usize = 1024;
/// Lines before the banner.
pub const MAX_LINES: u32 = 64;
/// Largest `packet_length` accepted: RFC 4253 §6.1's 35000 bytes of total
/// packet size that every implementation handles.
pub const MAX_PACKET: usize = 35000;

const MAGIC: &[u8] = b"SSH-";

/// Message numbers (RFC 4250 §4.1).
const KEXINIT: u8 = 20;
const NEWKEYS: u8 = 21;
/// KEXDH_REPLY and KEX_ECDH_REPLY; a group exchange's KEX_DH_GEX_GROUP.
const KEX_REPLY: u8 = 31;
/// KEX_DH_GEX_REPLY.
const KEX_GEX_REPLY: u8 = 33;

/// Recognises a banner: `SSH-` and a digit at the start of a direction
/// (Zeek's signature `^SSH-[12]\.` is stricter about the version). On an
/// SSH port the server may send other text lines before it.
fn probe(dir: Dir, data: &[u8], port_hint: bool) -> Probe {
    match banner_at(data) {
        Probe::No if port_hint && dir == Dir::ToClient => pre_banner(data),
        p => p,
    }
}

/// Whether `data` starts with `SSH-` and a digit.
fn banner_at(data: &[u8]) -> Probe {
    let n = data.len().min(MAGIC.len());
    if data.get(..n) != MAGIC.get(..n) {
        return Probe::No;
    }
    match data.get(MAGIC.len()) {
        None => Probe::NeedMore,
        Some(d) if d.is_ascii_digit() => Probe::Yes,
        Some(_) => Probe::No,
    }
}

/// Text lines, then a banner at the start of a line.
fn pre_banner(data: &[u8]) -> Probe {
    let mut rest = data;
    for _ in 0..MAX_LINES {
        match banner_at(rest) {
            Probe::No => {}
            p => return p,
        }
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            let text = rest
                .iter()
                .all(|&b| b == b'\r' || b == b'\t' || (0x20..0x7f).contains(&b));
            return if text && rest.len() < MAX_LINE {
                Probe::NeedMore
            } else {
                Probe::No
            };
        };
        rest = rest.get(end + 1..).unwrap_or_default();
    }
    Probe::No
}

/// How a direction is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Phase {
    /// Lines until the banner.
    #[default]
    Banner,
    /// Binary packets in the clear.
    Packets,
    /// After a gap: go on only if the next bytes start a plausible packet.
    Resync,
    /// After NEWKEYS: bytes are counted.
    Encrypted,
    /// Given up (gap, limit, malformed data, SSH 1): bytes are skipped.
    Lost,
}

/// State of one direction.
#[derive(Debug, Default)]
struct Side {
    phase: Phase,
    /// Lines seen before the banner.
    lines: u32,
    banner: Option<Banner>,
    kexinit: Option<(Origin, KexInit)>,
    newkeys: bool,
    /// Bytes after NEWKEYS.
    encrypted: u64,
    /// Handshake bytes of this direction were lost (gap, limit, malformed).
    partial: bool,
}

impl Side {
    fn memory(&self) -> usize {
        self.banner.as_ref().map_or(0, Banner::memory)
            + self.kexinit.as_ref().map_or(0, |(_, k)| k.memory())
    }

    /// Stops reading this direction's handshake.
    fn lose(&mut self) {
        self.phase = Phase::Lost;
        self.partial = true;
    }
}

/// SSH parser state of one connection.
#[derive(Debug, Default)]
pub struct SshParser {
    client: Side,
    server: Side,
    /// The first packet of the first banner byte seen.
    first: Option<Origin>,
    /// The server's host key: type and fingerprint.
    host_key: Option<(String, String)>,
    written: bool,
}

impl SshParser {
    fn side(&mut self, dir: Dir) -> &mut Side {
        match dir {
            Dir::ToServer => &mut self.client,
            Dir::ToClient => &mut self.server,
        }
    }

    /// Lines until the banner. Returns the offset after it, or the answer
    /// to give the engine.
    fn banner(&mut self, dir: Dir, input: &[u8], cx: &mut Cx<'_>) -> Result<usize, Parsed> {
        let mut off = 0;
        loop {
            let rest = input.get(off..).unwrap_or_default();
            let window = rest.get(..MAX_LINE).unwrap_or(rest);
            let Some(end) = window.iter().position(|&b| b == b'\n') else {
                if rest.len() >= MAX_LINE {
                    cx.anomaly(
                        dir,
                        "ssh",
                        "ssh_line_too_long",
                        format!("no line end in {MAX_LINE} bytes before the banner"),
                    );
                    self.side(dir).lose();
                    return Err(Parsed::all(input));
                }
                return Err(Parsed::need(off, rest.len() + 1));
            };
            let line = window.get(..end).unwrap_or_default();
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.starts_with(MAGIC) {
                let b = Banner::parse(line);
                let side = self.side(dir);
                side.phase = if b.is_ssh1() {
                    // SSH 1's packets are another format: count nothing more.
                    Phase::Lost
                } else {
                    Phase::Packets
                };
                side.banner = Some(b);
                return Ok(off + end + 1);
            }
            let side = self.side(dir);
            side.lines += 1;
            if side.lines > MAX_LINES {
                cx.anomaly(
                    dir,
                    "ssh",
                    "ssh_no_banner",
                    format!("{MAX_LINES} lines without an SSH- banner"),
                );
                side.lose();
                return Err(Parsed::all(input));
            }
            off += end + 1;
        }
    }

    /// Binary packets from `off` on, until NEWKEYS or the end of the input.
    fn packets(&mut self, dir: Dir, input: &[u8], mut off: usize, cx: &mut Cx<'_>) -> Parsed {
        loop {
            let rest = input.get(off..).unwrap_or_default();
            if rest.is_empty() {
                return Parsed::all(input);
            }
            let mut rd = Rd::new(rest);
            let (Some(len), Some(pad)) = (rd.u32(), rd.u8()) else {
                return Parsed::need(off, 5);
            };
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            let pad = usize::from(pad);
            if len > MAX_PACKET || pad >= len {
                let what = if len > MAX_PACKET {
                    "ssh_packet_too_long"
                } else {
                    "ssh_bad_padding"
                };
                cx.anomaly(
                    dir,
                    "ssh",
                    what,
                    format!("packet_length {len}, padding_length {pad} (max packet {MAX_PACKET})"),
                );
                self.side(dir).lose();
                return Parsed::all(input);
            }
            let Some(packet) = rest.get(..4 + len) else {
                return Parsed::need(off, 4 + len);
            };
            let payload = packet.get(5..4 + len - pad).unwrap_or_default();
            let origin = cx.origin(off);
            off += 4 + len;
            match payload.first() {
                Some(&KEXINIT) => self.kexinit(dir, payload, origin, cx),
                Some(&NEWKEYS) => {
                    let side = self.side(dir);
                    side.newkeys = true;
                    side.phase = Phase::Encrypted;
                    let rest = input.len().saturating_sub(off);
                    side.encrypted += rest as u64;
                    return Parsed::all(input);
                }
                Some(&(KEX_REPLY | KEX_GEX_REPLY)) if dir == Dir::ToClient => {
                    self.reply(payload);
                }
                _ => {}
            }
        }
    }

    fn kexinit(&mut self, dir: Dir, payload: &[u8], origin: Origin, cx: &mut Cx<'_>) {
        if self.side(dir).kexinit.is_some() {
            // A key re-exchange happens encrypted: a second one in the clear
            // changes nothing negotiated already.
            return;
        }
        match KexInit::parse(payload) {
            Some(k) => self.side(dir).kexinit = Some((origin, k)),
            None => {
                cx.anomaly(
                    dir,
                    "ssh",
                    "ssh_bad_kexinit",
                    format!("{}-byte KEXINIT cut short", payload.len()),
                );
                self.side(dir).partial = true;
            }
        }
    }

    /// The server's key exchange reply: message 31 unless the key exchange
    /// is a group exchange, which replies with 33 (its 31 is the group).
    fn reply(&mut self, payload: &[u8]) {
        if self.host_key.is_some() {
            return;
        }
        if let (Some((_, c)), Some((_, s))) = (&self.client.kexinit, &self.server.kexinit) {
            let gex = kex::negotiate(c, s, kex::KEX).starts_with("diffie-hellman-group-exchange");
            let want = if gex { KEX_GEX_REPLY } else { KEX_REPLY };
            if payload.first() != Some(&want) {
                return;
            }
        }
        self.host_key = kex::host_key(payload);
    }

    /// The record of the connection.
    fn record(&self, cx: &Cx<'_>) -> Ssh {
        let m = cx.meta;
        let first = self.first.unwrap_or(cx.now);
        let banner = |s: &Side| s.banner.clone().unwrap_or_default();
        let (cb, sb) = (banner(&self.client), banner(&self.server));
        let mut rec = Ssh {
            timestamp: first.ts_ns,
            packet_number: first.number,
            connection_uid: m.uid.clone(),
            src_ip: m.client_ip(),
            src_port: m.client_port(),
            dst_ip: m.server_ip(),
            dst_port: m.server_port(),
            client_version: cb.line,
            client_proto_version: cb.proto,
            client_software: cb.software,
            client_comments: cb.comments,
            server_version: sb.line,
            server_proto_version: sb.proto,
            server_software: sb.software,
            server_comments: sb.comments,
            client_new_keys: self.client.newkeys,
            server_new_keys: self.server.newkeys,
            handshake_complete: self.client.newkeys && self.server.newkeys,
            encrypted_bytes_client_to_server: i64::try_from(self.client.encrypted)
                .unwrap_or(i64::MAX),
            encrypted_bytes_server_to_client: i64::try_from(self.server.encrypted)
                .unwrap_or(i64::MAX),
            partial: self.client.partial || self.server.partial,
            ..Ssh::default()
        };
        if let Some((o, k)) = &self.client.kexinit {
            let input = k.hassh_input(true);
            rec.hassh = kex::hassh(&input);
            rec.hassh_algorithms = String::from_utf8_lossy(&input).into_owned();
            rec.client_kex_init = Some(kexinit_record(*o, k));
        }
        if let Some((o, k)) = &self.server.kexinit {
            let input = k.hassh_input(false);
            rec.hassh_server = kex::hassh(&input);
            rec.hassh_server_algorithms = String::from_utf8_lossy(&input).into_owned();
            rec.server_kex_init = Some(kexinit_record(*o, k));
        }
        if let (Some((_, c)), Some((_, s))) = (&self.client.kexinit, &self.server.kexinit) {
            let n = |i| kex::negotiate(c, s, i);
            rec.kex_alg = n(kex::KEX);
            rec.host_key_alg = n(kex::HOST_KEY);
            rec.cipher_client_to_server = n(kex::ENC_C2S);
            rec.cipher_server_to_client = n(kex::ENC_S2C);
            rec.mac_client_to_server = n(kex::MAC_C2S);
            rec.mac_server_to_client = n(kex::MAC_S2C);
            rec.compression_client_to_server = n(kex::CMP_C2S);
            rec.compression_server_to_client = n(kex::CMP_S2C);
        }
        if let Some((t, f)) = &self.host_key {
            rec.host_key_type = t.clone();
            rec.host_key_fingerprint = f.clone();
        }
        rec
    }
}

/// The SSHKexInit part of the record.
fn kexinit_record(o: Origin, k: &KexInit) -> SshKexInit {
    SshKexInit {
        timestamp: o.ts_ns,
        packet_number: o.number,
        cookie: k.cookie.clone(),
        kex_algorithms: k.names(kex::KEX),
        server_host_key_algorithms: k.names(kex::HOST_KEY),
        encryption_client_to_server: k.names(kex::ENC_C2S),
        encryption_server_to_client: k.names(kex::ENC_S2C),
        mac_client_to_server: k.names(kex::MAC_C2S),
        mac_server_to_client: k.names(kex::MAC_S2C),
        compression_client_to_server: k.names(kex::CMP_C2S),
        compression_server_to_client: k.names(kex::CMP_S2C),
        languages_client_to_server: k.names(kex::LANG_C2S),
        languages_server_to_client: k.names(kex::LANG_S2C),
        first_kex_packet_follows: k.first_kex_packet_follows,
    }
}

/// A packet header a resynchronisation may trust: a length within the cap,
/// padding of at least 4 bytes (RFC 4253 §6) and a message number of the
/// transport or key exchange layer.
fn plausible(b: &[u8]) -> bool {
    let mut rd = Rd::new(b);
    let (Some(len), Some(pad), Some(msg)) = (rd.u32(), rd.u8(), rd.u8()) else {
        return false;
    };
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    let pad = usize::from(pad);
    (6..=MAX_PACKET).contains(&len)
        && (4..len).contains(&pad)
        && matches!(msg, 1..=4 | KEXINIT | NEWKEYS | 30..=34)
}

impl StreamParser for SshParser {
    fn name(&self) -> &'static str {
        "SSH"
    }

    fn memory(&self) -> usize {
        self.client.memory()
            + self.server.memory()
            + self
                .host_key
                .as_ref()
                .map_or(0, |(t, f)| t.capacity() + f.capacity())
    }

    fn parse(&mut self, dir: Dir, input: &[u8], cx: &mut Cx<'_>) -> Result<Parsed, ParseError> {
        if input.is_empty() {
            return Ok(Parsed::all(input));
        }
        if self.first.is_none() {
            self.first = Some(cx.origin(0));
        }
        let off = match self.side(dir).phase {
            Phase::Lost => return Ok(Parsed::all(input)),
            Phase::Encrypted => {
                self.side(dir).encrypted += input.len() as u64;
                return Ok(Parsed::all(input));
            }
            Phase::Resync => {
                if input.len() < 6 {
                    return Ok(Parsed::need(0, 6));
                }
                if !plausible(input) {
                    self.side(dir).phase = Phase::Lost;
                    return Ok(Parsed::all(input));
                }
                self.side(dir).phase = Phase::Packets;
                0
            }
            Phase::Banner => match self.banner(dir, input, cx) {
                Ok(off) => off,
                Err(p) => return Ok(p),
            },
            Phase::Packets => 0,
        };
        if self.side(dir).phase != Phase::Packets {
            // SSH 1: the rest is not read.
            return Ok(Parsed::all(input));
        }
        Ok(self.packets(dir, input, off, cx))
    }

    fn gap(&mut self, dir: Dir, _len: u64, _cx: &mut Cx<'_>) {
        let side = self.side(dir);
        match side.phase {
            // The packet boundaries of encrypted data do not matter.
            Phase::Encrypted | Phase::Lost => {}
            // The banner is lost; a line boundary cannot be trusted.
            Phase::Banner => side.lose(),
            Phase::Packets | Phase::Resync => {
                side.phase = Phase::Resync;
                side.partial = true;
            }
        }
    }

    fn finish(&mut self, cx: &mut Cx<'_>) {
        if self.written || self.first.is_none() {
            return;
        }
        self.written = true;
        let rec = self.record(cx);
        cx.emit(StreamRecord::Ssh(Box::new(rec)));
    }
}
