//! Connecting to NATS (TLS, credentials) and creating or checking the stream.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, stream, ErrorCode};
use async_nats::{Event, ServerError};

use crate::wire::SUBJECT_PREFIX;
use crate::TransportError;

/// How to reach the NATS servers. Secrets come from files or the
/// environment, never from process arguments.
#[derive(Debug, Clone, Default)]
pub struct NatsOptions {
    /// Server URLs (`nats://host:4222`, `tls://host:4222`), comma-separated
    /// for a cluster.
    pub url: String,
    /// Client name shown by the server's monitoring.
    pub name: String,
    /// CA certificates (PEM) to verify the servers with; also turns TLS on.
    pub tls_ca: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS.
    pub tls_cert: Option<(PathBuf, PathBuf)>,
    /// Require TLS even without a CA file (system roots).
    pub tls_required: bool,
    /// A NATS credentials file (JWT and NKey seed, `nsc` format).
    pub creds_file: Option<PathBuf>,
    /// A file holding an NKey seed (`SU...`).
    pub nkey_file: Option<PathBuf>,
    /// User and password (taken from the environment by the command line).
    pub user_password: Option<(String, String)>,
    /// Prefix of the client's reply subjects (default `_INBOX`). An agent
    /// uses `_INBOX.netcap.<sensor>` so that its user needs to subscribe
    /// only to `_INBOX.netcap.<sensor>.>`, not to every client's replies.
    pub inbox_prefix: Option<String>,
}

/// The inbox prefix of a sensor's agent: `_INBOX.netcap.<sensor>`.
pub fn sensor_inbox(sensor: &str) -> String {
    format!("_INBOX.{SUBJECT_PREFIX}.{sensor}")
}

/// Permission violations the server reported on a connection
/// (`-ERR 'Permissions Violation for Publish to "netcap.x.TCP"'`). A publish
/// the server refuses gets no answer at all: without these the agent could
/// only see missing acknowledgements.
#[derive(Debug, Clone, Default)]
pub(crate) struct Refusals(Arc<Mutex<Vec<String>>>);

impl Refusals {
    fn push(&self, message: String) {
        if let Ok(mut v) = self.0.lock() {
            // A few are enough to tell what is wrong.
            if v.len() < 16 {
                v.push(message);
            }
        }
    }

    /// The violations reported since the last call.
    pub(crate) fn take(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

impl NatsOptions {
    /// The client options (TLS, credentials, reconnection); permission
    /// violations go to `refusals`.
    pub(crate) async fn options(
        &self,
        refusals: &Refusals,
    ) -> Result<async_nats::ConnectOptions, TransportError> {
        let slot = refusals.clone();
        let mut o = async_nats::ConnectOptions::new()
            .name(if self.name.is_empty() {
                "netcap"
            } else {
                &self.name
            })
            .connection_timeout(Duration::from_secs(5))
            // Never give up: a sensor outlives outages of any length.
            .max_reconnects(None)
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis(100 * attempts.clamp(1, 20) as u64)
            })
            .event_callback(move |event| {
                if let Event::ServerError(ServerError::Other(m)) = event {
                    if m.to_ascii_lowercase().contains("permissions violation") {
                        slot.push(m);
                    }
                }
                std::future::ready(())
            });
        if let Some(prefix) = &self.inbox_prefix {
            o = o.custom_inbox_prefix(prefix);
        }
        if let Some(ca) = &self.tls_ca {
            o = o.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let Some((cert, key)) = &self.tls_cert {
            o = o.add_client_certificate(cert.clone(), key.clone());
        }
        if self.tls_required {
            o = o.require_tls(true);
        }
        if let Some(path) = &self.creds_file {
            o = o
                .credentials_file(path)
                .await
                .map_err(|e| TransportError::Config(format!("{}: {e}", path.display())))?;
        }
        if let Some(path) = &self.nkey_file {
            let seed = std::fs::read_to_string(path)
                .map_err(|e| TransportError::Config(format!("{}: {e}", path.display())))?;
            o = o.nkey(seed.trim().to_string());
        }
        if let Some((user, pass)) = &self.user_password {
            o = o.user_and_password(user.clone(), pass.clone());
        }
        Ok(o)
    }

    /// The server URLs.
    pub(crate) fn urls(&self) -> Vec<String> {
        self.url
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }

    /// Connects once, without retrying: the client's own error tells an
    /// unreachable server from refused credentials.
    pub(crate) async fn connect_once(
        &self,
        refusals: &Refusals,
    ) -> Result<Result<async_nats::Client, async_nats::ConnectError>, TransportError> {
        let o = self.options(refusals).await?;
        Ok(o.connect(self.urls().as_slice()).await)
    }

    /// Connects; with `retry`, returns at once and keeps trying in the
    /// background (an agent starts capturing while NATS is down).
    pub(crate) async fn connect(
        &self,
        retry: bool,
        refusals: &Refusals,
    ) -> Result<async_nats::Client, TransportError> {
        let mut o = self.options(refusals).await?;
        if retry {
            o = o.retry_on_initial_connect();
        }
        o.connect(self.urls().as_slice())
            .await
            .map_err(|e| TransportError::Nats(format!("cannot connect to {}: {e}", self.url)))
    }
}

/// The JetStream stream that holds the batches.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// Stream name.
    pub name: String,
    /// Batches older than this are deleted (zero: no limit).
    pub max_age: Duration,
    /// The stream's size limit in bytes; past it the oldest batches go
    /// (negative: no limit).
    pub max_bytes: i64,
    /// Copies kept in a cluster (1, 3 or 5).
    pub replicas: usize,
    /// Window in which a republished batch (same `Nats-Msg-Id`) is dropped
    /// by the server.
    pub duplicate_window: Duration,
    /// `max_bytes` is a default, not the operator's choice: when the server
    /// cannot reserve it (its `max_file_store`, the account's limit or the
    /// disk is smaller), the stream is created with what fits, and a
    /// warning says so.
    pub fit_max_bytes: bool,
}

/// The smallest stream [`StreamSettings::fit_max_bytes`] goes down to.
const MIN_FIT_BYTES: i64 = 1 << 20;

/// Whether a JetStream API error code is one that retrying does not mend:
/// a missing stream or consumer, a name or configuration in conflict, no
/// storage to reserve, JetStream off. Others (a cluster electing a leader,
/// no peers for placement yet, a timeout) may pass.
pub(crate) fn permanent(code: ErrorCode) -> bool {
    [
        ErrorCode::STREAM_NOT_FOUND,
        ErrorCode::CONSUMER_NOT_FOUND,
        ErrorCode::CONSUMER_ALREADY_EXISTS,
        ErrorCode::CONSUMER_NAME_EXIST,
        ErrorCode::CONSUMER_CREATE,
        ErrorCode::CONSUMER_CREATE_FILTER_SUBJECT_MISMATCH,
        ErrorCode::CONSUMER_CREATE_DURABLE_AND_NAME_MISMATCH,
        ErrorCode::STORAGE_RESOURCES_EXCEEDED,
        ErrorCode::INSUFFICIENT_RESOURCES,
        ErrorCode::JETSTREAM_NOT_ENABLED,
        ErrorCode::JETSTREAM_NOT_ENABLED_FOR_ACCOUNT,
        ErrorCode::STREAM_NAME_EXIST,
    ]
    .contains(&code)
}

/// The storage errors: the server cannot reserve the stream's max_bytes.
fn no_room(code: ErrorCode) -> bool {
    code == ErrorCode::STORAGE_RESOURCES_EXCEEDED || code == ErrorCode::INSUFFICIENT_RESOURCES
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            name: "NETCAP".into(),
            max_age: Duration::from_secs(7 * 24 * 3600),
            max_bytes: 10 << 30,
            replicas: 1,
            duplicate_window: Duration::from_secs(600),
            fit_max_bytes: true,
        }
    }
}

impl StreamSettings {
    fn config(&self) -> stream::Config {
        stream::Config {
            name: self.name.clone(),
            subjects: vec![format!("{SUBJECT_PREFIX}.>")],
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::Limits,
            discard: stream::DiscardPolicy::Old,
            max_age: self.max_age,
            max_bytes: self.max_bytes,
            num_replicas: self.replicas.max(1),
            duplicate_window: self.duplicate_window,
            ..Default::default()
        }
    }

    /// Creates the stream, or checks that the existing one stores what
    /// Netcap publishes on file storage (its limits are the operator's).
    pub(crate) async fn ensure(&self, js: &jetstream::Context) -> Result<(), TransportError> {
        let mut config = self.config();
        let mut s = loop {
            let e = match js.get_or_create_stream(config.clone()).await {
                Ok(s) => break s,
                Err(e) => e,
            };
            let code = match e.kind() {
                jetstream::context::CreateStreamErrorKind::JetStream(j) => Some(j.error_code()),
                _ => None,
            };
            let msg = format!("stream {}: {e}", self.name);
            match code {
                Some(c) if no_room(c) && self.fit_max_bytes && config.max_bytes > MIN_FIT_BYTES => {
                    config.max_bytes = self.smaller(js, config.max_bytes).await;
                }
                Some(c) if no_room(c) => {
                    return Err(TransportError::JetStream(format!(
                        "{msg}: the server cannot reserve {} of file storage for it (its \
                         max_file_store, the account's limit or the disk is smaller): give a \
                         smaller --stream-max-bytes",
                        if self.fit_max_bytes {
                            "even 1 MiB".to_string()
                        } else {
                            format!("--stream-max-bytes {} MiB", self.max_bytes >> 20)
                        }
                    )))
                }
                Some(c) if permanent(c) => return Err(TransportError::JetStream(msg)),
                _ => return Err(TransportError::Nats(msg)),
            }
        };
        if config.max_bytes != self.max_bytes {
            eprintln!(
                "netcap: warning: the server cannot reserve {} MiB for stream {} (its \
                 max_file_store, the account's limit or the disk is smaller): created it with \
                 --stream-max-bytes {} MiB; give --stream-max-bytes to choose",
                self.max_bytes >> 20,
                self.name,
                config.max_bytes >> 20
            );
        }
        let info = s
            .info()
            .await
            .map_err(|e| TransportError::Nats(format!("stream {}: {e}", self.name)))?;
        let c = &info.config;
        let covers = c
            .subjects
            .iter()
            .any(|s| s == "netcap.>" || s == ">" || s == "netcap.*.*");
        if !covers {
            return Err(TransportError::Config(format!(
                "stream {} exists but does not take the subjects netcap.> (it has {:?})",
                self.name, c.subjects
            )));
        }
        if c.storage != stream::StorageType::File {
            return Err(TransportError::Config(format!(
                "stream {} exists with memory storage: batches would not survive a restart",
                self.name
            )));
        }
        Ok(())
    }

    /// A smaller max_bytes to try after the server refused `refused`: what
    /// the account may still store when it has a file storage limit (the
    /// server's `max_file_store` does not show there), else half.
    async fn smaller(&self, js: &jetstream::Context, refused: i64) -> i64 {
        let room = match js.query_account().await {
            Ok(a) => a.limits.max_storage.filter(|&m| m > 0).map(|m| {
                m.saturating_sub(i64::try_from(a.reserved_storage.max(a.storage)).unwrap_or(m))
            }),
            Err(_) => None,
        };
        let half = refused / 2;
        room.filter(|&r| r < half)
            .unwrap_or(half)
            .max(MIN_FIT_BYTES)
    }
}
