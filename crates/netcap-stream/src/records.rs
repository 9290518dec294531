//! The records the stream layer emits.

use netcap_schema::{
    Anomaly, Credentials, Dns, File, Ftp, Http, Imap, Mail, Pop3, Smtp, Ssh, Telnet,
    TlsClientHello, TlsServerHello, X509Certificate,
};

/// One record made from a stream. Boxed: the variants are large and most
/// connections emit few records.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamRecord {
    /// An HTTP exchange.
    Http(Box<Http>),
    /// A TLS ClientHello.
    TlsClientHello(Box<TlsClientHello>),
    /// A TLS ServerHello.
    TlsServerHello(Box<TlsServerHello>),
    /// A certificate of a TLS Certificate message.
    X509(Box<X509Certificate>),
    /// A DNS message carried over TCP.
    Dns(Box<Dns>),
    /// An SSH connection's handshake.
    Ssh(Box<Ssh>),
    /// A reassembly or parser anomaly.
    Anomaly(Box<Anomaly>),
    /// An FTP command and its reply.
    Ftp(Box<Ftp>),
    /// An SMTP command and its reply.
    Smtp(Box<Smtp>),
    /// A POP3 command and its response.
    Pop3(Box<Pop3>),
    /// An IMAP command and its tagged response.
    Imap(Box<Imap>),
    /// A login's user name and password.
    Credentials(Box<Credentials>),
    /// A Telnet session's negotiation and text.
    Telnet(Box<Telnet>),
    /// A file carried by the stream, with its content when extraction is on.
    File(Box<FileOut>),
    /// A mail message.
    Mail(Box<Mail>),
}

/// A File record and, when extraction is on (`ConnMeta::files_max` > 0) and
/// the content fit under that cap, the content itself: whoever writes the
/// records stores it and fills `Location`.
#[derive(Debug, Clone, PartialEq)]
pub struct FileOut {
    /// The record.
    pub rec: File,
    /// The decoded content.
    pub data: Option<Vec<u8>>,
}

/// Something that accepts every kind of stream record (the pipeline's
/// output implements it by emitting the inner record).
pub trait StreamSink {
    /// Accepts one record, ordered among the records of its type by `key`.
    fn stream_record(&mut self, key: u64, rec: &StreamRecord);
}
