//! The SSH messages read in the clear: the version banner, SSH_MSG_KEXINIT
//! (with HASSH and the negotiation of RFC 4253 §7.1) and the server's host
//! key from its key exchange reply. Every length is checked against the
//! bytes at hand; packets are capped by the caller, so nothing here
//! allocates more than the packet it reads.

use md5::{Digest, Md5};
use sha2::Sha256;

use crate::wire::Rd;
use netcap_decode::text::hex;

/// A version banner, `SSH-protoversion-softwareversion SP comments`
/// (RFC 4253 §4.2), split into its parts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Banner {
    /// The whole line without its CR LF.
    pub(crate) line: String,
    pub(crate) proto: String,
    pub(crate) software: String,
    pub(crate) comments: String,
}

impl Banner {
    /// Splits a line that starts with `SSH-` (CR LF already removed). A
    /// missing part is left empty.
    pub(crate) fn parse(line: &[u8]) -> Banner {
        let text = String::from_utf8_lossy(line).into_owned();
        let rest = text.strip_prefix("SSH-").unwrap_or(&text);
        let (proto, rest) = rest.split_once('-').unwrap_or((rest, ""));
        let (software, comments) = rest.split_once(' ').unwrap_or((rest, ""));
        Banner {
            proto: proto.to_string(),
            software: software.to_string(),
            comments: comments.to_string(),
            line: text,
        }
    }

    /// SSH protocol 1 only (`1.x` other than the `1.99` of servers and
    /// clients that speak both, RFC 4253 §5.1): no binary packets of SSH 2.
    pub(crate) fn is_ssh1(&self) -> bool {
        self.proto.starts_with("1.") && self.proto != "1.99"
    }

    pub(crate) fn memory(&self) -> usize {
        self.line.capacity()
            + self.proto.capacity()
            + self.software.capacity()
            + self.comments.capacity()
    }
}

/// Positions of the name-lists in a KEXINIT.
pub(crate) const KEX: usize = 0;
pub(crate) const HOST_KEY: usize = 1;
pub(crate) const ENC_C2S: usize = 2;
pub(crate) const ENC_S2C: usize = 3;
pub(crate) const MAC_C2S: usize = 4;
pub(crate) const MAC_S2C: usize = 5;
pub(crate) const CMP_C2S: usize = 6;
pub(crate) const CMP_S2C: usize = 7;
pub(crate) const LANG_C2S: usize = 8;
pub(crate) const LANG_S2C: usize = 9;
/// Key exchange, host key, encryption, MAC, compression (both ways each
/// but the first two), languages (both ways).
pub(crate) const LISTS: usize = 10;

/// An SSH_MSG_KEXINIT payload (RFC 4253 §7.1), its name-lists as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KexInit {
    pub(crate) cookie: Vec<u8>,
    /// The ten name-lists, raw (comma-separated US-ASCII names).
    pub(crate) lists: [Vec<u8>; LISTS],
    pub(crate) first_kex_packet_follows: bool,
}

impl KexInit {
    /// Reads a payload that starts with the message number (20). `None` when
    /// a list is cut short; the trailing boolean and reserved word may be
    /// missing (they are not needed for the fingerprints).
    pub(crate) fn parse(payload: &[u8]) -> Option<KexInit> {
        let mut rd = Rd::new(payload);
        if rd.u8()? != super::KEXINIT {
            return None;
        }
        let cookie = rd.take(16)?.to_vec();
        let mut lists: [Vec<u8>; LISTS] = Default::default();
        for l in &mut lists {
            *l = rd.string()?.to_vec();
        }
        let first_kex_packet_follows = rd.u8().is_some_and(|b| b != 0);
        Some(KexInit {
            cookie,
            lists,
            first_kex_packet_follows,
        })
    }

    fn list(&self, i: usize) -> &[u8] {
        self.lists.get(i).map_or(&[], Vec::as_slice)
    }

    /// The names of list `i`, in order (an empty list has none).
    pub(crate) fn names(&self, i: usize) -> Vec<String> {
        names(self.list(i))
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect()
    }

    /// The HASSH input of a client (`to_server`) or HASSHServer input of a
    /// server: `kex;encryption;mac;compression` of its own direction.
    pub(crate) fn hassh_input(&self, to_server: bool) -> Vec<u8> {
        let (enc, mac, cmp) = if to_server {
            (ENC_C2S, MAC_C2S, CMP_C2S)
        } else {
            (ENC_S2C, MAC_S2C, CMP_S2C)
        };
        let mut s = Vec::new();
        for (i, l) in [KEX, enc, mac, cmp].into_iter().enumerate() {
            if i > 0 {
                s.push(b';');
            }
            s.extend_from_slice(self.list(l));
        }
        s
    }

    pub(crate) fn memory(&self) -> usize {
        self.cookie.capacity() + self.lists.iter().map(Vec::capacity).sum::<usize>()
    }
}

/// The names of a name-list (none in an empty one).
fn names(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|&b| b == b',').filter(|_| !list.is_empty())
}

/// HASSH / HASSHServer: the lower-case MD5 hex of the input string
/// (salesforce/hassh).
pub(crate) fn hassh(input: &[u8]) -> String {
    hex(&Md5::digest(input))
}

/// RFC 4253 §7.1: the first algorithm of the client's list `i` that the
/// server's list also holds ("" when none). For the key exchange the RFC
/// adds conditions on the host key's capabilities; they are not checked
/// (every method in use today needs a signature-capable key, which every
/// host key algorithm is).
pub(crate) fn negotiate(client: &KexInit, server: &KexInit, i: usize) -> String {
    let theirs: Vec<&[u8]> = names(server.list(i)).collect();
    names(client.list(i))
        .find(|c| theirs.contains(c))
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .unwrap_or_default()
}

/// The host key of a key exchange reply payload (message 31 or 33): its
/// type name and OpenSSH's SHA-256 fingerprint. The reply starts with the
/// string K_S, the key blob, which itself starts with the type name.
/// `None` when that does not hold (e.g. a Diffie-Hellman group exchange's
/// message 31, which carries a group, not a key).
pub(crate) fn host_key(payload: &[u8]) -> Option<(String, String)> {
    use base64::Engine as _;
    let mut rd = Rd::new(payload);
    rd.u8()?;
    let blob = rd.string()?;
    let name = Rd::new(blob).string()?;
    let plausible = (1..=64).contains(&name.len())
        && name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(b));
    if !plausible {
        return None;
    }
    let digest = Sha256::digest(blob);
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest);
    Some((
        String::from_utf8_lossy(name).into_owned(),
        format!("SHA256:{b64}"),
    ))
}
