//! JA3 and JA3S (Salesforce, BSD-3-Clause): MD5 of a decimal summary of the hello.

use std::fmt::Write;

use md5::{Digest, Md5};

use super::hello::{is_grease, ClientHello, ServerHello};

use netcap_decode::text::hex;

/// Lower-case MD5 hex of a string.
pub(crate) fn md5_hex(s: &str) -> String {
    hex(&Md5::digest(s.as_bytes()))
}

/// Appends `values` in decimal, separated by '-', without a String per value.
fn push_joined(out: &mut String, values: impl IntoIterator<Item = u16>) {
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        push_decimal(out, v);
    }
}

/// Appends `v` in decimal (formatted into `out`, no allocation).
fn push_decimal(out: &mut String, v: u16) {
    let _ = write!(out, "{v}");
}

/// `SSLVersion,Ciphers,Extensions,EllipticCurves,ECPointFormats`: wire order,
/// GREASE removed from ciphers, extensions and curves (not from point formats).
/// The version is the ClientHello's field, not supported_versions.
pub(crate) fn ja3_string(ch: &ClientHello) -> String {
    let keep = |v: &&u16| !is_grease(**v);
    let mut s = String::with_capacity(256);
    push_decimal(&mut s, ch.version);
    s.push(',');
    push_joined(&mut s, ch.cipher_suites.iter().filter(keep).copied());
    s.push(',');
    push_joined(&mut s, ch.extensions.iter().filter(keep).copied());
    s.push(',');
    push_joined(&mut s, ch.groups.iter().filter(keep).copied());
    s.push(',');
    push_joined(&mut s, ch.point_formats.iter().map(|&p| u16::from(p)));
    s
}

/// `SSLVersion,Cipher,Extensions` of a ServerHello; like the reference code,
/// no GREASE filtering (servers do not send GREASE).
pub(crate) fn ja3s_string(sh: &ServerHello) -> String {
    let mut s = String::with_capacity(64);
    push_decimal(&mut s, sh.version);
    s.push(',');
    push_decimal(&mut s, sh.cipher_suite);
    s.push(',');
    push_joined(&mut s, sh.extensions.iter().copied());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_lists_match_fmt() {
        for v in [0u16, 7, 10, 99, 100, 4865, 10000, 65535] {
            let mut s = String::new();
            push_decimal(&mut s, v);
            assert_eq!(s, v.to_string());
        }
        let mut s = String::from("x,");
        push_joined(&mut s, [771u16, 0, 65281, 10]);
        assert_eq!(s, "x,771-0-65281-10");
        let mut empty = String::new();
        push_joined(&mut empty, []);
        assert_eq!(empty, "");
    }
}
