//! JA3 and JA3S (Salesforce, BSD-3-Clause): MD5 of a decimal summary of the hello.

use md5::{Digest, Md5};

use super::hello::{is_grease, ClientHello, ServerHello};

use netcap_decode::text::hex;

/// Lower-case MD5 hex of a string.
pub(crate) fn md5_hex(s: &str) -> String {
    hex(&Md5::digest(s.as_bytes()))
}

fn join<T: ToString>(values: impl IntoIterator<Item = T>) -> String {
    values
        .into_iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("-")
}

/// `SSLVersion,Ciphers,Extensions,EllipticCurves,ECPointFormats`: wire order,
/// GREASE removed from ciphers, extensions and curves (not from point formats).
/// The version is the ClientHello's field, not supported_versions.
pub(crate) fn ja3_string(ch: &ClientHello) -> String {
    let keep = |v: &&u16| !is_grease(**v);
    format!(
        "{},{},{},{},{}",
        ch.version,
        join(ch.cipher_suites.iter().filter(keep)),
        join(ch.extensions.iter().filter(keep)),
        join(ch.groups.iter().filter(keep)),
        join(ch.point_formats.iter()),
    )
}

/// `SSLVersion,Cipher,Extensions` of a ServerHello; like the reference code,
/// no GREASE filtering (servers do not send GREASE).
pub(crate) fn ja3s_string(sh: &ServerHello) -> String {
    format!(
        "{},{},{}",
        sh.version,
        sh.cipher_suite,
        join(sh.extensions.iter())
    )
}
