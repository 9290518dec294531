//! ClientHello and ServerHello bodies, read by hand with checked lengths.

use crate::wire::Rd;

/// GREASE values (RFC 8701): both bytes equal, low nibble 0xa.
pub(crate) fn is_grease(v: u16) -> bool {
    let [hi, lo] = v.to_be_bytes();
    hi == lo && lo & 0x0f == 0x0a
}

/// Big-endian u16 values of a list (an odd trailing byte is ignored).
pub(crate) fn u16s(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2)
        .map(|c| c.iter().fold(0u16, |acc, &x| (acc << 8) | u16::from(x)))
        .collect()
}

/// One extension: type and body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ext<'a> {
    pub(crate) typ: u16,
    pub(crate) data: &'a [u8],
}

/// Extensions of a hello, in wire order. A truncated list keeps the
/// extensions read before the damage.
fn extensions(b: &[u8]) -> Vec<Ext<'_>> {
    let mut rd = Rd::new(b);
    let mut out = Vec::new();
    while !rd.is_empty() {
        let (Some(typ), Some(data)) = (rd.u16(), rd.vec16()) else {
            break;
        };
        out.push(Ext { typ, data });
    }
    out
}

/// Extension type numbers used here.
pub(crate) mod ext {
    pub(crate) const SERVER_NAME: u16 = 0x0000;
    pub(crate) const STATUS_REQUEST: u16 = 0x0005;
    pub(crate) const SUPPORTED_GROUPS: u16 = 0x000a;
    pub(crate) const EC_POINT_FORMATS: u16 = 0x000b;
    pub(crate) const SIGNATURE_ALGORITHMS: u16 = 0x000d;
    pub(crate) const ALPN: u16 = 0x0010;
    pub(crate) const EXTENDED_MASTER_SECRET: u16 = 0x0017;
    pub(crate) const SESSION_TICKET: u16 = 0x0023;
    pub(crate) const SUPPORTED_VERSIONS: u16 = 0x002b;
    pub(crate) const PSK_KEY_EXCHANGE_MODES: u16 = 0x002d;
    pub(crate) const KEY_SHARE: u16 = 0x0033;
    pub(crate) const ENCRYPTED_CLIENT_HELLO: u16 = 0xfe0d;
    pub(crate) const RENEGOTIATION_INFO: u16 = 0xff01;
}

/// What a ClientHello says (lists as sent, GREASE included).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ClientHello {
    pub(crate) version: u16,
    pub(crate) random: Vec<u8>,
    pub(crate) session_id: Vec<u8>,
    /// Byte length of the cipher suite list.
    pub(crate) cipher_suites_len: usize,
    pub(crate) cipher_suites: Vec<u16>,
    pub(crate) compression: Vec<u8>,
    /// Byte length of the extension block.
    pub(crate) extensions_len: usize,
    pub(crate) extensions: Vec<u16>,
    pub(crate) sni: Option<String>,
    pub(crate) status_request: bool,
    pub(crate) sig_algs: Vec<u16>,
    pub(crate) groups: Vec<u16>,
    pub(crate) point_formats: Vec<u8>,
    /// ALPN protocol names as sent (bytes: JA4 looks at non-text values).
    pub(crate) alpns: Vec<Vec<u8>>,
    pub(crate) supported_versions: Vec<u16>,
    pub(crate) key_share_groups: Vec<u16>,
    pub(crate) psk_modes: Vec<u8>,
    pub(crate) ech: bool,
    pub(crate) session_ticket: bool,
}

/// Decodes a ClientHello body (after the 4-byte handshake header). `None`
/// when the fixed part is cut; damaged extensions are skipped one by one.
pub(crate) fn client_hello(body: &[u8]) -> Option<ClientHello> {
    let mut rd = Rd::new(body);
    let version = rd.u16()?;
    let random = rd.take(32)?.to_vec();
    let session_id = rd.vec8()?.to_vec();
    let suites = rd.vec16()?;
    let compression = rd.vec8()?.to_vec();
    let mut ch = ClientHello {
        version,
        random,
        session_id,
        cipher_suites_len: suites.len(),
        cipher_suites: u16s(suites),
        compression,
        ..ClientHello::default()
    };
    // The extension block is optional (SSL 3.0 and old TLS 1.0 clients).
    let block = match rd.u16() {
        Some(n) => {
            ch.extensions_len = usize::from(n);
            // A block announced longer than the message keeps what is there.
            let mut whole = rd;
            rd.take(usize::from(n)).unwrap_or_else(|| whole.rest())
        }
        None => &[],
    };
    for e in extensions(block) {
        ch.extensions.push(e.typ);
        let mut d = Rd::new(e.data);
        match e.typ {
            ext::SERVER_NAME => {
                // server_name_list: (name_type, host_name) entries; the first host_name wins.
                if let Some(list) = d.vec16() {
                    let mut l = Rd::new(list);
                    while let (Some(kind), Some(name)) = (l.u8(), l.vec16()) {
                        if kind == 0 && ch.sni.is_none() {
                            ch.sni = Some(String::from_utf8_lossy(name).into_owned());
                        }
                    }
                }
            }
            ext::STATUS_REQUEST => ch.status_request = true,
            ext::SUPPORTED_GROUPS => ch.groups = d.vec16().map(u16s).unwrap_or_default(),
            ext::EC_POINT_FORMATS => {
                ch.point_formats = d.vec8().map(<[u8]>::to_vec).unwrap_or_default()
            }
            ext::SIGNATURE_ALGORITHMS => ch.sig_algs = d.vec16().map(u16s).unwrap_or_default(),
            ext::ALPN => ch.alpns = alpn_list(&mut d),
            ext::SESSION_TICKET => ch.session_ticket = true,
            ext::SUPPORTED_VERSIONS => {
                ch.supported_versions = d.vec8().map(u16s).unwrap_or_default();
            }
            ext::PSK_KEY_EXCHANGE_MODES => {
                ch.psk_modes = d.vec8().map(<[u8]>::to_vec).unwrap_or_default();
            }
            ext::KEY_SHARE => {
                if let Some(list) = d.vec16() {
                    let mut l = Rd::new(list);
                    while let (Some(group), Some(_key)) = (l.u16(), l.vec16()) {
                        ch.key_share_groups.push(group);
                    }
                }
            }
            ext::ENCRYPTED_CLIENT_HELLO => ch.ech = true,
            _ => {}
        }
    }
    Some(ch)
}

/// protocol_name_list: u16 length, then u8-prefixed names.
fn alpn_list(d: &mut Rd<'_>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if let Some(list) = d.vec16() {
        let mut l = Rd::new(list);
        while let Some(name) = l.vec8() {
            out.push(name.to_vec());
        }
    }
    out
}

/// The random of a HelloRetryRequest (RFC 8446 §4.1.3): SHA-256 of "HelloRetryRequest".
pub(crate) const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// What a ServerHello (or HelloRetryRequest) says.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ServerHello {
    pub(crate) version: u16,
    pub(crate) random: Vec<u8>,
    pub(crate) session_id: Vec<u8>,
    pub(crate) cipher_suite: u16,
    pub(crate) compression: u8,
    pub(crate) extensions: Vec<u16>,
    /// supported_versions: the version selected, 0 without.
    pub(crate) supported_version: u16,
    pub(crate) alpn: Option<Vec<u8>>,
    pub(crate) status_request: bool,
    pub(crate) session_ticket: bool,
    pub(crate) renegotiation_info: bool,
    pub(crate) extended_master_secret: bool,
    /// key_share: the group of the server's share (or the one a HelloRetryRequest asks for).
    pub(crate) selected_group: u16,
    pub(crate) hello_retry_request: bool,
}

impl ServerHello {
    /// The server chose TLS 1.3 (or a draft of it): what follows is encrypted.
    pub(crate) fn is_tls13(&self) -> bool {
        let v = self.supported_version;
        (v >= 0x0304 && v >> 8 == 0x03) || v >> 8 == 0x7f
    }
}

/// Decodes a ServerHello body (after the 4-byte handshake header).
pub(crate) fn server_hello(body: &[u8]) -> Option<ServerHello> {
    let mut rd = Rd::new(body);
    let version = rd.u16()?;
    let random = rd.take(32)?;
    let session_id = rd.vec8()?.to_vec();
    let cipher_suite = rd.u16()?;
    let compression = rd.u8()?;
    let hrr = random == HRR_RANDOM;
    let mut sh = ServerHello {
        version,
        random: random.to_vec(),
        session_id,
        cipher_suite,
        compression,
        hello_retry_request: hrr,
        ..ServerHello::default()
    };
    let block = rd.vec16().unwrap_or_default();
    for e in extensions(block) {
        sh.extensions.push(e.typ);
        let mut d = Rd::new(e.data);
        match e.typ {
            ext::SUPPORTED_VERSIONS => sh.supported_version = d.u16().unwrap_or_default(),
            ext::ALPN => sh.alpn = alpn_list(&mut d).into_iter().next(),
            ext::STATUS_REQUEST => sh.status_request = true,
            ext::SESSION_TICKET => sh.session_ticket = true,
            ext::RENEGOTIATION_INFO => sh.renegotiation_info = true,
            ext::EXTENDED_MASTER_SECRET => sh.extended_master_secret = true,
            // ServerHello: KeyShareEntry (group, key); HelloRetryRequest: the group alone.
            ext::KEY_SHARE => sh.selected_group = d.u16().unwrap_or_default(),
            _ => {}
        }
    }
    Some(sh)
}
