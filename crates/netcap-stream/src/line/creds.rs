//! Credentials of the line protocols: the SASL mechanisms of SMTP AUTH, POP3
//! AUTH and IMAP AUTHENTICATE (PLAIN, LOGIN, CRAM-MD5, XOAUTH2), and the
//! record written once the server answered.

use netcap_schema::Credentials;

use super::{text, MAX_KEEP};
use crate::parser::{Cx, Origin};
use crate::records::StreamRecord;

/// A login seen, waiting for the server's verdict.
#[derive(Debug, Clone, Default)]
pub(crate) struct Login {
    pub origin: Origin,
    pub user: String,
    pub password: String,
    pub notes: String,
}

impl Login {
    pub fn memory(&self) -> usize {
        self.user.capacity() + self.password.capacity() + self.notes.capacity()
    }

    /// Writes the Credentials record with the server's `reply`.
    pub fn emit(self, service: &str, reply: &str, accepted: bool, cx: &mut Cx<'_>) {
        let m = cx.meta;
        let rec = Credentials {
            timestamp: self.origin.ts_ns,
            service: service.to_string(),
            flow: format!(
                "{}:{}->{}:{}",
                m.client_ip(),
                m.client.1,
                m.server_ip(),
                m.server.1
            ),
            user: self.user,
            password: self.password,
            notes: self.notes,
            packet_number: self.origin.number,
            connection_uid: m.uid.clone(),
            src_ip: m.client_ip(),
            src_port: m.client_port(),
            dst_ip: m.server_ip(),
            dst_port: m.server_port(),
            reply: reply.to_string(),
            accepted,
            ..Default::default()
        };
        cx.emit(StreamRecord::Credentials(Box::new(rec)));
    }
}

/// Base64 (with or without padding, surrounding blanks ignored), at most
/// [`MAX_KEEP`] decoded bytes.
pub(crate) fn b64(s: &[u8]) -> Option<Vec<u8>> {
    let s = s.trim_ascii();
    if s.is_empty() || s.len() > MAX_KEEP * 4 / 3 + 4 {
        return None;
    }
    let s = s.strip_suffix(b"==").or(s.strip_suffix(b"=")).unwrap_or(s);
    data_encoding::BASE64_NOPAD.decode(s).ok()
}

/// A SASL exchange of SMTP, POP3 or IMAP: the mechanism and the client's
/// responses, decoded into a login as they arrive.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sasl {
    /// Upper-case mechanism name.
    pub mech: String,
    /// Client responses seen (the initial response counts).
    pub responses: u32,
    pub login: Login,
    /// A user name or password was found.
    pub found: bool,
}

impl Sasl {
    /// An `AUTH mech [initial-response]` (or `AUTHENTICATE`) command.
    pub fn start(args: &[u8], origin: Origin) -> Sasl {
        let (mech, initial) = super::split_word(args);
        let mut s = Sasl {
            mech: text(mech).to_ascii_uppercase(),
            login: Login {
                origin,
                notes: format!("AUTH {}", text(mech).to_ascii_uppercase()),
                ..Login::default()
            },
            ..Sasl::default()
        };
        let initial = initial.trim_ascii();
        // "=" is an empty initial response (RFC 4954).
        if !initial.is_empty() && initial != b"=" {
            s.response(initial);
        }
        s
    }

    /// A client response line (base64).
    pub fn response(&mut self, line: &[u8]) {
        let n = self.responses;
        self.responses += 1;
        if line.trim_ascii() == b"*" {
            return; // The client cancelled.
        }
        let Some(raw) = b64(line) else {
            return;
        };
        let l = &mut self.login;
        match self.mech.as_str() {
            "PLAIN" => {
                // authzid NUL authcid NUL passwd (RFC 4616).
                let mut parts = raw.split(|&b| b == 0);
                let authz = parts.next().unwrap_or_default();
                let authc = parts.next();
                let pass = parts.next();
                if let (Some(u), Some(p)) = (authc, pass) {
                    l.user = text(if u.is_empty() { authz } else { u });
                    l.password = text(p);
                    self.found = true;
                }
            }
            "LOGIN" => {
                // User name, then password, each answering a prompt.
                if n == 0 {
                    l.user = text(&raw);
                } else if n == 1 {
                    l.password = text(&raw);
                }
                self.found = true;
            }
            "CRAM-MD5" => {
                // "user SP hex-digest" (RFC 2195): the digest is the token.
                let (u, d) = super::split_word(&raw);
                l.user = text(u);
                l.password = text(d);
                self.found = true;
            }
            "XOAUTH2" => {
                // "user=" u ^A "auth=Bearer " token ^A ^A.
                for kv in raw.split(|&b| b == 1) {
                    if let Some(u) = kv.strip_prefix(b"user=") {
                        l.user = text(u);
                        self.found = true;
                    } else if let Some(a) = kv.strip_prefix(b"auth=") {
                        let a = a
                            .strip_prefix(b"Bearer ")
                            .or(a.strip_prefix(b"bearer "))
                            .unwrap_or(a);
                        l.password = text(a);
                        self.found = true;
                    }
                }
            }
            _ => {}
        }
    }

    pub fn memory(&self) -> usize {
        self.mech.capacity() + self.login.memory()
    }
}
