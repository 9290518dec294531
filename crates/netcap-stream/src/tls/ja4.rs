//! JA4, the TLS client fingerprint of FoxIO (BSD-3-Clause). Only JA4 itself:
//! JA4S, JA4X and the other JA4+ methods are under the FoxIO License 1.1
//! (non-commercial) and must not be implemented here.
//!
//! Format `a_b_c`, e.g. `t13d1516h2_8daaf6152771_e5627efa2ab1`. We follow
//! FoxIO's written specification (technical_details/JA4.md) where the
//! implementations disagree:
//!
//! * ALPN (last two chars of `a`): first and last character of the first
//!   ALPN value; a one-character value gives that character twice; when the
//!   first or the last byte is not an ASCII letter or digit, the first and
//!   last characters of the value's hex string (0xab → `ab`, 0x30 0x31 0xab
//!   0xcd → `3d`). FoxIO's Rust tool maps such bytes to `9` (and a one-char
//!   value to `x0`); Suricata writes `00` for a one-char value and skips a
//!   GREASE-looking 2-byte value.
//! * Empty cipher or extension list: `000000000000`, as the spec says
//!   (Suricata hashes the empty string instead).
//! * No signature algorithms: the `c` input has no trailing `_` (Suricata
//!   always adds it).
//! * GREASE is removed from ciphers, extensions (also from the counts) and
//!   signature algorithms (FoxIO and Suricata agree on the latter).
//! * Version: the highest non-GREASE supported_versions value, else the
//!   ClientHello version; the record layer version is ignored.

use sha2::{Digest, Sha256};

use super::hello::{ext, is_grease, ClientHello};
use netcap_decode::text::{hex, hex_into};

/// The two version characters of a protocol version.
fn version_code(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// The two ALPN characters for the first ALPN value.
pub(crate) fn alpn_code(first: Option<&[u8]>) -> String {
    let v = match first {
        Some(v) if !v.is_empty() => v,
        _ => return "00".to_string(),
    };
    match (v.first(), v.last()) {
        (Some(&f), Some(&l)) if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric() => {
            [char::from(f), char::from(l)].iter().collect()
        }
        _ => {
            let h = hex(v);
            let f = h.chars().next().unwrap_or('0');
            let l = h.chars().last().unwrap_or('0');
            [f, l].iter().collect()
        }
    }
}

/// First 12 hex characters of the SHA-256 of a string, or twelve zeros when
/// the list it was made of is empty.
fn hash12(s: &str, empty: bool) -> String {
    if empty {
        return "000000000000".to_string();
    }
    let mut h = hex(&Sha256::digest(s.as_bytes()));
    h.truncate(12);
    h
}

/// `values` as 4-digit lower-case hex, comma-separated (one String, no
/// String per value).
fn hex_list(values: &[u16]) -> String {
    let mut s = String::with_capacity(values.len() * 5);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        hex_into(&mut s, &v.to_be_bytes());
    }
    s
}

/// The `b` part: sorted ciphers without GREASE.
pub(crate) fn part_b(ciphers: &[u16]) -> String {
    let mut c: Vec<u16> = ciphers.iter().copied().filter(|v| !is_grease(*v)).collect();
    c.sort_unstable();
    hash12(&hex_list(&c), c.is_empty())
}

/// The `c` part: sorted extensions without GREASE, SNI and ALPN, then `_`
/// and the signature algorithms in wire order (no `_` without them).
pub(crate) fn part_c(extensions: &[u16], sig_algs: &[u16]) -> String {
    let mut e: Vec<u16> = extensions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v) && *v != ext::SERVER_NAME && *v != ext::ALPN)
        .collect();
    e.sort_unstable();
    let s: Vec<u16> = sig_algs
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    let mut input = hex_list(&e);
    if !s.is_empty() {
        input.push('_');
        input.push_str(&hex_list(&s));
    }
    hash12(&input, e.is_empty())
}

/// JA4 of a ClientHello carried over TCP.
pub(crate) fn ja4(ch: &ClientHello) -> String {
    let version = ch
        .supported_versions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .max()
        .unwrap_or(ch.version);
    let sni = if ch.extensions.contains(&ext::SERVER_NAME) {
        'd'
    } else {
        'i'
    };
    let ciphers = ch
        .cipher_suites
        .iter()
        .filter(|v| !is_grease(**v))
        .count()
        .min(99);
    let exts = ch
        .extensions
        .iter()
        .filter(|v| !is_grease(**v))
        .count()
        .min(99);
    let alpn = alpn_code(ch.alpns.first().map(Vec::as_slice));
    format!(
        "t{}{sni}{ciphers:02}{exts:02}{alpn}_{}_{}",
        version_code(version),
        part_b(&ch.cipher_suites),
        part_c(&ch.extensions, &ch.sig_algs)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_lists_match_fmt() {
        let values = [0u16, 0x000a, 0x1301, 0xc02b, 0xffff];
        let want = values
            .iter()
            .map(|v| format!("{v:04x}"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(hex_list(&values), want);
        assert_eq!(hex_list(&[]), "");
    }
}
