//! The agent's publisher: batches records per type, compresses them, publishes
//! them to JetStream and counts a batch as sent only when JetStream
//! acknowledged it; spools what cannot be sent and resends it in order.
//!
//! The capture pipeline stays synchronous: [`Agent::send`] hands records over
//! a bounded channel to one thread that runs a single-threaded tokio runtime
//! with the NATS client.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::{self, context::PublishAckFuture};
use async_nats::ConnectErrorKind;
use bytes::Bytes;
use netcap_schema::Type;
use tokio::sync::mpsc;

use crate::nats::{sensor_inbox, NatsOptions, Refusals, StreamSettings};
use crate::spool::{Sealed, Spool};
use crate::wire::{self, BatchMeta};
use crate::TransportError;

/// Batches published before the oldest acknowledgement is awaited.
const WINDOW: usize = 64;

/// What an agent does.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// NATS servers and credentials.
    pub nats: NatsOptions,
    /// The stream, created if missing (when the sensor may).
    pub stream: StreamSettings,
    /// Sensor name: the second subject token and the collected files' folder.
    pub sensor: String,
    /// The capture input (interface or file), sent along for the record.
    pub source: String,
    /// Agent start time, ns since the epoch (`created` of collected files).
    pub created_ns: i64,
    /// Spool folder; `None`: spool in memory (lost if the agent stops).
    pub spool_dir: Option<PathBuf>,
    /// Most bytes spooled; past it new batches are dropped and counted.
    pub spool_max: u64,
    /// Uncompressed bytes per batch (a batch holds at least one record).
    pub batch_bytes: usize,
    /// A type's records are sent at least this often, full batch or not.
    pub flush_interval: Duration,
    /// How long to wait for JetStream's acknowledgement of a batch.
    pub ack_timeout: Duration,
    /// How long the end of a capture waits for the last acknowledgements
    /// and the spool to drain.
    pub finish_timeout: Duration,
    /// zstd level of the payloads.
    pub zstd_level: i32,
}

impl AgentConfig {
    /// Defaults for everything but the servers and the sensor name.
    pub fn new(nats: NatsOptions, sensor: &str) -> Self {
        AgentConfig {
            nats,
            stream: StreamSettings::default(),
            sensor: sensor.to_string(),
            source: String::new(),
            created_ns: 0,
            spool_dir: None,
            spool_max: 256 << 20,
            batch_bytes: 256 << 10,
            flush_interval: Duration::from_secs(1),
            ack_timeout: Duration::from_secs(5),
            finish_timeout: Duration::from_secs(30),
            zstd_level: 1,
        }
    }
}

/// What an agent sent, spooled and dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentStats {
    /// Batches acknowledged by JetStream.
    pub batches_sent: u64,
    /// Records in them.
    pub records_sent: u64,
    /// Their compressed payload bytes (what went on the wire, headers aside).
    pub bytes_sent: u64,
    /// Their uncompressed bytes.
    pub raw_bytes_sent: u64,
    /// Acknowledged batches JetStream already had (republished after a lost
    /// acknowledgement: stored once).
    pub duplicates: u64,
    /// Batches that went through the spool (NATS unreachable or behind).
    pub batches_spooled: u64,
    /// Batches dropped: spool full, spool unwritable, or larger than the
    /// server's maximum payload.
    pub batches_dropped: u64,
    /// Records in them.
    pub records_dropped: u64,
    /// Batches still unsent at the end (kept in the spool folder for the
    /// next run, or lost with a memory spool).
    pub batches_left: u64,
    /// Records in them.
    pub records_left: u64,
    /// Whether `batches_left` stay in a spool folder.
    pub left_in_spool_dir: bool,
    /// Sequence number of the first batch of this run.
    pub first_seq: u64,
}

enum Cmd {
    Records {
        ty: Type,
        bytes: Vec<u8>,
        count: u64,
    },
}

/// A running publisher. Dropping it without [`Agent::finish`] abandons what
/// was not yet sent.
pub struct Agent {
    tx: Option<mpsc::Sender<Cmd>>,
    thread: Option<JoinHandle<Result<AgentStats, TransportError>>>,
}

impl Agent {
    /// Connects (or keeps trying in the background while NATS is
    /// unreachable) and starts the publishing thread. Wrong credentials or a
    /// refused TLS handshake are errors here.
    pub fn start(mut cfg: AgentConfig) -> Result<Agent, TransportError> {
        wire::check_sensor(&cfg.sensor)?;
        if cfg.nats.inbox_prefix.is_none() {
            cfg.nats.inbox_prefix = Some(sensor_inbox(&cfg.sensor));
        }
        let spool = match &cfg.spool_dir {
            Some(dir) => Spool::open(dir, cfg.spool_max)?,
            None => Spool::memory(cfg.spool_max),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TransportError::Nats(format!("cannot start the runtime: {e}")))?;
        let refusals = Refusals::default();
        let client = rt.block_on(connect(&cfg.nats, &refusals))?;
        let (tx, rx) = mpsc::channel(64);
        let thread = std::thread::Builder::new()
            .name("nats".into())
            .spawn(move || rt.block_on(run(cfg, client, refusals, spool, rx)))
            .map_err(|e| TransportError::Nats(format!("cannot start a thread: {e}")))?;
        Ok(Agent {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Hands over `count` length-delimited records of type `ty`; blocks
    /// while the publisher is behind. Errors once the publisher has failed
    /// ([`Agent::finish`] then tells why).
    pub fn send(&self, ty: Type, bytes: &[u8], count: u64) -> Result<(), TransportError> {
        let tx = self.tx.as_ref().ok_or(TransportError::Closed)?;
        tx.blocking_send(Cmd::Records {
            ty,
            bytes: bytes.to_vec(),
            count,
        })
        .map_err(|_| TransportError::Closed)
    }

    /// Sends what is left, waits for the acknowledgements (at most the
    /// configured `finish_timeout`) and returns the counts.
    pub fn finish(mut self) -> Result<AgentStats, TransportError> {
        self.tx = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(TransportError::Nats(
                "the publishing thread panicked".into(),
            )),
            None => Err(TransportError::Closed),
        }
    }
}

/// First connection: an unreachable server is not an error (the agent
/// captures and spools meanwhile); refused credentials or TLS are.
pub(crate) async fn connect(
    opts: &NatsOptions,
    refusals: &Refusals,
) -> Result<async_nats::Client, TransportError> {
    let first = tokio::time::timeout(Duration::from_secs(3), opts.connect_once(refusals)).await;
    let first = match first {
        Ok(r) => Ok(r?),
        Err(e) => Err(e),
    };
    match first {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e))
            if matches!(
                e.kind(),
                ConnectErrorKind::Authentication
                    | ConnectErrorKind::AuthorizationViolation
                    | ConnectErrorKind::Tls
            ) || tls_refused(&e) =>
        {
            Err(TransportError::Nats(format!(
                "{} refused the connection: {e}",
                opts.url
            )))
        }
        Ok(Err(e)) => {
            eprintln!(
                "netcap: warning: NATS at {} unreachable ({e}): capturing and spooling until it is back",
                opts.url
            );
            opts.connect(true, refusals).await
        }
        Err(_) => {
            eprintln!(
                "netcap: warning: NATS at {} unreachable (timeout): capturing and spooling until it is back",
                opts.url
            );
            opts.connect(true, refusals).await
        }
    }
}

/// Whether a failed connection is a TLS handshake that either side
/// refused (a certificate that does not verify, a missing client
/// certificate): the client reports those as I/O errors, whose kind
/// `InvalidData` (how tokio-rustls wraps rustls' errors and alerts) tells
/// them from an unreachable server (refused, reset, timed out).
fn tls_refused(e: &async_nats::ConnectError) -> bool {
    use std::error::Error as _;
    matches!(e.kind(), ConnectErrorKind::Io)
        && e.source()
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData)
}

struct Pending {
    body: Vec<u8>,
    count: u64,
}

struct Inflight {
    batch: Sealed,
    from_spool: bool,
    ack: PublishAckFuture,
}

struct Core {
    cfg: AgentConfig,
    client: async_nats::Client,
    js: jetstream::Context,
    refusals: Refusals,
    /// A permission violation on the agent's own subjects: fatal.
    refused: Option<String>,
    spool: Spool,
    inflight: VecDeque<Inflight>,
    pending: Vec<Option<Pending>>,
    online: bool,
    stream_checked: bool,
    next_seq: u64,
    stats: AgentStats,
    warned_spool: bool,
    warned_stream: bool,
    /// When the last "did not acknowledge" warning was printed: while a
    /// cluster elects a new leader every retry fails, once per tick.
    warned_offline: Option<Instant>,
}

async fn run(
    cfg: AgentConfig,
    client: async_nats::Client,
    refusals: Refusals,
    spool: Spool,
    mut rx: mpsc::Receiver<Cmd>,
) -> Result<AgentStats, TransportError> {
    let mut js = jetstream::new(client.clone());
    js.set_timeout(cfg.ack_timeout);
    // Sequence numbers grow across runs without a stored counter: they start
    // at the start time in microseconds (a batch per microsecond is far more
    // than an agent sends), and after anything a previous run left spooled.
    let now_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 2));
    let next_seq = now_us.max(spool.last_seq().map_or(0, |s| s + 1));
    let mut core = Core {
        stats: AgentStats {
            first_seq: next_seq,
            left_in_spool_dir: cfg.spool_dir.is_some(),
            ..AgentStats::default()
        },
        cfg,
        client,
        js,
        refusals,
        refused: None,
        spool,
        inflight: VecDeque::new(),
        pending: Vec::new(),
        online: false,
        stream_checked: false,
        next_seq,
        warned_spool: false,
        warned_stream: false,
        warned_offline: None,
    };
    core.come_online().await;
    let mut tick = tokio::time::interval(core.cfg.flush_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let draining = core.online && !core.spool.is_empty();
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(Cmd::Records { ty, bytes, count }) => core.add(ty, &bytes, count).await,
                None => break,
            },
            _ = tick.tick() => core.tick().await,
            () = std::future::ready(()), if draining => core.drain_window().await,
        }
        if core.check_refused() {
            break;
        }
    }
    if !core.check_refused() {
        core.finish().await;
    }
    match core.refused {
        // Nothing the server refuses can be sent by waiting: stop with
        // the server's own words (what was spooled stays in the spool).
        Some(why) => Err(TransportError::Refused(format!(
            "{why}; a sensor's user must be allowed to publish on {}.{}.> and to subscribe to {}.> (see docs/sensors.md)",
            wire::SUBJECT_PREFIX,
            core.cfg.sensor,
            sensor_inbox(&core.cfg.sensor),
        ))),
        None => Ok(core.stats),
    }
}

impl Core {
    /// Appends records to their type's batch, sealing full batches; a batch
    /// is cut between records.
    async fn add(&mut self, ty: Type, mut bytes: &[u8], count: u64) {
        let idx = ty as usize;
        if self.pending.len() <= idx {
            self.pending.resize_with(idx + 1, || None);
        }
        // Fast path: the whole piece fits.
        let fits = self
            .pending
            .get(idx)
            .and_then(Option::as_ref)
            .map_or(0, |p| p.body.len())
            + bytes.len()
            <= self.cfg.batch_bytes;
        if fits {
            self.append(idx, bytes, count);
        } else {
            // Record by record, sealing whenever the next would overflow.
            while !bytes.is_empty() {
                let mut rest = bytes;
                let len = prost::encoding::decode_varint(&mut rest)
                    .ok()
                    .and_then(|l| usize::try_from(l).ok())
                    .unwrap_or(usize::MAX);
                let frame = (bytes.len() - rest.len())
                    .saturating_add(len)
                    .min(bytes.len());
                let used = self
                    .pending
                    .get(idx)
                    .and_then(Option::as_ref)
                    .map_or(0, |p| p.body.len());
                if used > 0 && used + frame > self.cfg.batch_bytes {
                    self.seal(ty).await;
                }
                let (head, tail) = bytes.split_at(frame);
                self.append(idx, head, 1);
                bytes = tail;
            }
        }
        let full = self
            .pending
            .get(idx)
            .and_then(Option::as_ref)
            .is_some_and(|p| p.body.len() >= self.cfg.batch_bytes);
        if full {
            self.seal(ty).await;
        }
    }

    fn append(&mut self, idx: usize, bytes: &[u8], count: u64) {
        if let Some(slot) = self.pending.get_mut(idx) {
            let p = slot.get_or_insert_with(|| Pending {
                body: Vec::new(),
                count: 0,
            });
            p.body.extend_from_slice(bytes);
            p.count += count;
        }
    }

    /// Compresses a type's pending records into a numbered batch and sends
    /// or spools it.
    async fn seal(&mut self, ty: Type) {
        let Some(p) = self.pending.get_mut(ty as usize).and_then(Option::take) else {
            return;
        };
        if p.count == 0 {
            return;
        }
        let meta = BatchMeta {
            sensor: self.cfg.sensor.clone(),
            ty,
            seq: self.next_seq,
            records: p.count,
            size: p.body.len() as u64,
            created_ns: self.cfg.created_ns,
            source: self.cfg.source.clone(),
        };
        self.next_seq += 1;
        let payload = match wire::compress(&p.body, self.cfg.zstd_level) {
            Ok(z) => Bytes::from(z),
            Err(e) => {
                eprintln!("netcap: warning: batch {} not compressed: {e}", meta.seq);
                self.drop_batch(meta.records);
                return;
            }
        };
        self.enqueue(Sealed { meta, payload }).await;
    }

    async fn seal_all(&mut self) {
        for idx in 0..self.pending.len() {
            let ty = i32::try_from(idx).ok().and_then(|i| Type::try_from(i).ok());
            if let Some(ty) = ty {
                self.seal(ty).await;
            }
        }
    }

    fn drop_batch(&mut self, records: u64) {
        self.stats.batches_dropped += 1;
        self.stats.records_dropped += records;
    }

    async fn enqueue(&mut self, batch: Sealed) {
        let max = self.client.server_info().max_payload;
        if max > 0 && batch.payload.len() > max {
            eprintln!(
                "netcap: warning: batch {} ({}, {} bytes) is larger than the server's max_payload ({max}): dropped",
                batch.meta.seq,
                batch.meta.ty.record_name(),
                batch.payload.len()
            );
            self.drop_batch(batch.meta.records);
            return;
        }
        if self.online && self.spool.is_empty() {
            self.publish(batch, false).await;
        } else {
            self.spool_push(&batch);
        }
    }

    fn spool_push(&mut self, batch: &Sealed) {
        match self.spool.push(batch) {
            Ok(true) => self.stats.batches_spooled += 1,
            Ok(false) => self.drop_batch(batch.meta.records),
            Err(e) => {
                if !self.warned_spool {
                    eprintln!("netcap: warning: {e}: batches dropped");
                    self.warned_spool = true;
                }
                self.drop_batch(batch.meta.records);
            }
        }
    }

    async fn publish(&mut self, batch: Sealed, from_spool: bool) {
        let subject = wire::subject(&batch.meta.sensor, batch.meta.ty);
        let sent = self
            .js
            .publish_with_headers(subject, batch.meta.headers(), batch.payload.clone())
            .await;
        match sent {
            Ok(ack) => {
                self.inflight.push_back(Inflight {
                    batch,
                    from_spool,
                    ack,
                });
                if self.inflight.len() >= WINDOW {
                    self.settle_one().await;
                }
            }
            Err(e) => {
                self.go_offline(&e.to_string());
                if !from_spool {
                    self.spool_push(&batch);
                }
            }
        }
    }

    /// Awaits the oldest acknowledgement.
    async fn settle_one(&mut self) {
        let Some(f) = self.inflight.pop_front() else {
            return;
        };
        match f.ack.await {
            Ok(ack) => {
                let m = &f.batch.meta;
                self.stats.batches_sent += 1;
                self.stats.records_sent += m.records;
                self.stats.bytes_sent += f.batch.payload.len() as u64;
                self.stats.raw_bytes_sent += m.size;
                self.stats.duplicates += u64::from(ack.duplicate);
                if f.from_spool {
                    if let Err(e) = self.spool.remove(m.seq) {
                        eprintln!("netcap: warning: {e}");
                    }
                }
            }
            Err(e) => {
                self.go_offline(&e.to_string());
                if !f.from_spool {
                    self.spool_push(&f.batch);
                }
            }
        }
    }

    async fn settle_all(&mut self) {
        while !self.inflight.is_empty() {
            self.settle_one().await;
        }
    }

    /// NATS stopped answering: everything unacknowledged goes to the spool
    /// (spooled batches stay there), to be resent in order.
    fn go_offline(&mut self, why: &str) {
        let quiet = self
            .warned_offline
            .is_some_and(|t| t.elapsed() < Duration::from_secs(10));
        if self.online && !quiet {
            eprintln!("netcap: warning: JetStream did not acknowledge ({why}): spooling");
            self.warned_offline = Some(Instant::now());
        }
        self.online = false;
        for f in std::mem::take(&mut self.inflight) {
            if !f.from_spool {
                self.spool_push(&f.batch);
            }
        }
    }

    /// Goes online when the client is connected (checking or creating the
    /// stream once).
    async fn come_online(&mut self) {
        if self.online || self.client.connection_state() != async_nats::connection::State::Connected
        {
            return;
        }
        if !self.stream_checked {
            let check =
                tokio::time::timeout(self.cfg.ack_timeout, self.cfg.stream.ensure(&self.js)).await;
            // A sensor allowed to publish only may not create streams (its
            // request is refused or goes unanswered): it publishes anyway,
            // and the acknowledgements tell whether its batches are stored.
            // The check is tried again after the next outage.
            match check {
                Ok(Ok(())) => self.stream_checked = true,
                Ok(Err(e)) => self.warn_stream(&e.to_string()),
                Err(_) => self.warn_stream("no answer"),
            }
        }
        self.online = true;
    }

    /// Takes the permission violations the server reported: one about the
    /// JetStream API only means the stream could not be checked (a sensor
    /// may be allowed to publish only), any other (its subjects, its
    /// inbox) is fatal. Returns whether the agent must stop.
    fn check_refused(&mut self) -> bool {
        for m in self.refusals.take() {
            if m.contains("$JS.API") {
                self.warn_stream(&m);
            } else if self.refused.is_none() {
                self.refused = Some(m);
            }
        }
        self.refused.is_some()
    }

    fn warn_stream(&mut self, why: &str) {
        if !self.warned_stream {
            eprintln!(
                "netcap: warning: cannot check or create stream {}: {why}",
                self.cfg.stream.name
            );
            self.warned_stream = true;
        }
    }

    async fn tick(&mut self) {
        self.seal_all().await;
        self.settle_all().await;
        self.come_online().await;
    }

    /// Resends the oldest spooled batches, one window at a time.
    async fn drain_window(&mut self) {
        self.settle_all().await;
        let batches = match self.spool.oldest(WINDOW) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("netcap: warning: {e}");
                self.online = false;
                return;
            }
        };
        for b in batches {
            if !self.online {
                break;
            }
            self.publish(b, true).await;
        }
        self.settle_all().await;
    }

    async fn finish(&mut self) {
        self.seal_all().await;
        let deadline = Instant::now() + self.cfg.finish_timeout;
        loop {
            self.settle_all().await;
            if self.check_refused() {
                return;
            }
            if self.spool.is_empty() || Instant::now() >= deadline {
                break;
            }
            if self.online {
                self.drain_window().await;
            } else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                self.come_online().await;
            }
        }
        self.stats.batches_left = self.spool.len() as u64;
        self.stats.records_left = self.spool.records();
        // Flush the client's buffer: nothing acknowledged is pending, but be
        // polite to the server.
        let _ = tokio::time::timeout(Duration::from_secs(1), self.client.flush()).await;
    }
}
