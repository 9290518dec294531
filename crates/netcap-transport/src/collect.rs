//! The collector: a durable JetStream pull consumer that appends each batch
//! to `DIR/<sensor>/<Type>.ncap.gz` and acknowledges it only once written,
//! flushed to disk and recorded in the sensor's state file.
//!
//! Each batch is written as one gzip member (a record file may hold several:
//! readers treat them as one stream), so a file can be cut back to the end of
//! the last recorded batch after a crash. The state file
//! `DIR/<sensor>/.netcap-collect.json` holds, per type, the length of the
//! active file that is written and flushed, and the sequence numbers written
//! (as ranges); it is replaced atomically after the files are flushed and
//! before the acknowledgements. A collector killed at any moment therefore
//! restarts with files that end at a recorded batch, skips redelivered
//! batches it had written, and writes those it had not.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::{self, consumer, AckKind};
use futures_util::StreamExt;
use netcap_format::header_for;
use netcap_schema::Type;
use prost::Message as _;

use crate::nats::{NatsOptions, StreamSettings};
use crate::wire::{self, BatchMeta, SUBJECT_PREFIX};
use crate::TransportError;

/// Inbox prefix of collectors (see [`crate::sensor_inbox`] for agents).
pub const COLLECTOR_INBOX: &str = "_INBOX.netcap-collect";
/// Name of the per-sensor state file.
pub const STATE_FILE: &str = ".netcap-collect.json";
/// Sequence ranges kept per sensor: enough for interleaving with other
/// collectors sharing the consumer; the oldest are forgotten.
const MAX_RANGES: usize = 4096;

/// When a record file is closed and a new one begun.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotate {
    /// Once the file holds this many (compressed) bytes.
    Size(u64),
    /// Once the file is this old.
    Age(Duration),
}

impl FromStr for Rotate {
    type Err = String;

    /// `100M`, `2G`, `512K` (bytes, powers of 1024) or `90s`, `30m`, `1h`, `1d`.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("{s:?}: expected a number and a unit, e.g. 100M or 1h"))?;
        if n == 0 {
            return Err(format!("{s:?}: must be more than zero"));
        }
        let size = |shift: u32| Ok(Rotate::Size(n.saturating_mul(1 << shift)));
        let age = |secs: u64| Ok(Rotate::Age(Duration::from_secs(n.saturating_mul(secs))));
        match unit {
            "K" | "k" | "KiB" => size(10),
            "M" | "MiB" => size(20),
            "G" | "GiB" => size(30),
            "s" => age(1),
            "m" | "min" => age(60),
            "h" => age(3600),
            "d" => age(86400),
            _ => Err(format!(
                "{s:?}: unit must be K, M, G (size) or s, m, h, d (time)"
            )),
        }
    }
}

/// What a collector does.
#[derive(Debug, Clone)]
pub struct CollectConfig {
    /// NATS servers and credentials.
    pub nats: NatsOptions,
    /// The stream, created if missing.
    pub stream: StreamSettings,
    /// Root folder: one folder per sensor inside.
    pub out_dir: PathBuf,
    /// Durable consumer name; collectors with the same name share the work.
    pub durable: String,
    /// File rotation.
    pub rotate: Option<Rotate>,
    /// Stop after this long without a batch (backfills, tests).
    pub idle_exit: Option<Duration>,
    /// How long JetStream waits for an acknowledgement before redelivering.
    pub ack_wait: Duration,
    /// Batches fetched (and flushed to disk) at once.
    pub fetch: usize,
    /// gzip level of the record files.
    pub gzip_level: u32,
}

impl CollectConfig {
    /// Defaults for everything but the servers and the folder.
    pub fn new(nats: NatsOptions, out_dir: PathBuf) -> Self {
        CollectConfig {
            nats,
            stream: StreamSettings::default(),
            out_dir,
            durable: "netcap-collector".into(),
            rotate: None,
            idle_exit: None,
            ack_wait: Duration::from_secs(30),
            fetch: 256,
            gzip_level: 1,
        }
    }
}

/// What a collector wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectStats {
    /// Batches written.
    pub batches: u64,
    /// Records in them.
    pub records: u64,
    /// Their compressed payload bytes as received.
    pub bytes: u64,
    /// Redelivered batches skipped because they were already written.
    pub duplicates: u64,
    /// Messages that were not valid batches (terminated, never redelivered).
    pub rejected: u64,
    /// Sensors seen.
    pub sensors: BTreeSet<String>,
    /// Files rotated.
    pub rotated: u64,
}

/// Runs a collector until `stop` is set (or `idle_exit` passes without a
/// batch). Errors on a write failure: nothing unwritten is acknowledged.
pub fn collect(cfg: &CollectConfig, stop: &AtomicBool) -> Result<CollectStats, TransportError> {
    if cfg.durable.is_empty()
        || cfg
            .durable
            .bytes()
            .any(|b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    {
        return Err(TransportError::Config(format!(
            "invalid durable name {:?}: use letters, digits, '-' or '_'",
            cfg.durable
        )));
    }
    fs::create_dir_all(&cfg.out_dir).map_err(|e| TransportError::Io {
        path: cfg.out_dir.clone(),
        message: e.to_string(),
    })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TransportError::Nats(format!("cannot start the runtime: {e}")))?;
    rt.block_on(run(cfg, stop))
}

async fn run(cfg: &CollectConfig, stop: &AtomicBool) -> Result<CollectStats, TransportError> {
    let refusals = crate::nats::Refusals::default();
    let mut nats = cfg.nats.clone();
    // Replies to the collector (fetched batches) under a prefix of its own:
    // its user needs `_INBOX.netcap-collect.>`, and no sensor's inbox
    // (`_INBOX.netcap.<sensor>`) overlaps it.
    if nats.inbox_prefix.is_none() {
        nats.inbox_prefix = Some(COLLECTOR_INBOX.to_string());
    }
    let client = crate::agent::connect(&nats, &refusals).await?;
    let js = jetstream::new(client);
    let consumer = loop {
        match make_consumer(cfg, &js).await {
            Ok(c) => break c,
            Err(e @ (TransportError::Config(_) | TransportError::JetStream(_))) => return Err(e),
            Err(e) => {
                if stop.load(Ordering::Relaxed) {
                    return Err(e);
                }
                eprintln!("netcap: warning: {e}; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let mut store = Store {
        root: cfg.out_dir.clone(),
        level: cfg.gzip_level,
        rotate: cfg.rotate,
        sensors: BTreeMap::new(),
        stats: CollectStats::default(),
    };
    let mut last_batch = Instant::now();
    let mut warned = false;
    let mut backoff = Backoff::default();
    // When the consumer was last seen to exist.
    let mut checked = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        // Missing permissions (to fetch, to acknowledge) otherwise show only
        // as batches that never come or come again.
        for m in refusals.take() {
            eprintln!("netcap: warning: NATS refused: {m}");
        }
        let fetched = consumer
            .fetch()
            .max_messages(cfg.fetch.max(1))
            .expires(Duration::from_millis(500))
            .messages()
            .await;
        let mut batch = match fetched {
            Ok(b) => b,
            Err(e) => {
                // Transient unless the consumer is gone (checked below).
                check_consumer(&consumer, &mut checked, true).await?;
                if !warned {
                    eprintln!("netcap: warning: fetching from JetStream failed ({e}); retrying");
                    warned = true;
                }
                backoff.wait().await;
                continue;
            }
        };
        let mut messages = Vec::new();
        let mut failed = false;
        while let Some(m) = batch.next().await {
            match m {
                Ok(m) => messages.push(m),
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        if messages.is_empty() {
            store.maintain()?;
            // A deleted stream or consumer shows only as fetches that
            // bring nothing (or fail): look at it now and then.
            check_consumer(&consumer, &mut checked, failed).await?;
            if failed {
                backoff.wait().await;
            }
            if cfg.idle_exit.is_some_and(|d| last_batch.elapsed() >= d) {
                break;
            }
            continue;
        }
        warned = false;
        backoff = Backoff::default();
        last_batch = Instant::now();
        let mut outcomes = Vec::with_capacity(messages.len());
        for m in &messages {
            outcomes.push(store.take(m.subject.as_str(), m.headers.as_ref(), &m.payload)?);
        }
        // Only what is on disk and recorded is acknowledged.
        store.commit()?;
        for (m, rejected) in messages.iter().zip(outcomes) {
            let ack = if rejected {
                m.ack_with(AckKind::Term).await
            } else {
                m.ack().await
            };
            // A lost acknowledgement means a redelivery, which is skipped.
            let _ = ack;
        }
        store.maintain()?;
    }
    store.commit()?;
    Ok(store.stats)
}

/// Growing waits between failed fetches: 0.5 s, doubled up to 8 s.
#[derive(Debug, Default)]
struct Backoff {
    n: u32,
}

impl Backoff {
    async fn wait(&mut self) {
        let ms = 500u64 << self.n.min(4);
        self.n = self.n.saturating_add(1);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// How often an idle collector checks that its consumer still exists.
const CHECK_EVERY: Duration = Duration::from_secs(3);

/// Asks the server about the consumer (now when `now`, else at most every
/// [`CHECK_EVERY`]): an error when it or its stream is gone (someone
/// deleted them: retrying would wait forever); a server that does not
/// answer is transient (the fetches' own retries go on).
async fn check_consumer(
    consumer: &consumer::PullConsumer,
    checked: &mut Instant,
    now: bool,
) -> Result<(), TransportError> {
    if !now && checked.elapsed() < CHECK_EVERY {
        return Ok(());
    }
    *checked = Instant::now();
    let cached = consumer.cached_info();
    let (stream, name) = (cached.stream_name.clone(), cached.name.clone());
    match consumer.get_info().await {
        Ok(_) => Ok(()),
        Err(e) => match e.kind() {
            jetstream::context::ConsumerInfoErrorKind::StreamNotFound => {
                Err(TransportError::JetStream(format!(
                    "stream {stream} was deleted: stopping (every batch written so far is on \
                     disk and acknowledged; restart the collector to create it again)"
                )))
            }
            jetstream::context::ConsumerInfoErrorKind::NotFound => {
                Err(TransportError::JetStream(format!(
                    "consumer {name} of stream {stream} was deleted: stopping (every batch \
                     written so far is on disk and acknowledged; restart the collector to \
                     create it again, it resumes from the stream's first batch and skips those \
                     already written)"
                )))
            }
            jetstream::context::ConsumerInfoErrorKind::JetStream(j)
                if crate::nats::permanent(j.error_code()) =>
            {
                Err(TransportError::JetStream(format!("consumer {name}: {j}")))
            }
            _ => Ok(()),
        },
    }
}

async fn make_consumer(
    cfg: &CollectConfig,
    js: &jetstream::Context,
) -> Result<consumer::PullConsumer, TransportError> {
    cfg.stream.ensure(js).await?;
    let stream = js.get_stream(&cfg.stream.name).await.map_err(|e| {
        let msg = format!("stream {}: {e}", cfg.stream.name);
        match e.kind() {
            jetstream::context::GetStreamErrorKind::JetStream(j)
                if crate::nats::permanent(j.error_code()) =>
            {
                TransportError::JetStream(msg)
            }
            _ => TransportError::Nats(msg),
        }
    })?;
    stream
        .get_or_create_consumer(
            &cfg.durable,
            consumer::pull::Config {
                durable_name: Some(cfg.durable.clone()),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: cfg.ack_wait,
                deliver_policy: consumer::DeliverPolicy::All,
                filter_subject: format!("{SUBJECT_PREFIX}.>"),
                // No more unacknowledged batches than one fetch: after a
                // crash, nothing new is delivered before the batches the
                // dead collector held are redelivered (in stream order),
                // so each file stays in sequence order.
                max_ack_pending: i64::try_from(cfg.fetch.max(1)).unwrap_or(256),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| {
            let msg = format!("consumer {}: {e}", cfg.durable);
            match e.kind() {
                jetstream::stream::ConsumerErrorKind::JetStream(j)
                    if crate::nats::permanent(j.error_code()) =>
                {
                    TransportError::JetStream(msg)
                }
                // The durable name is taken by a push consumer.
                jetstream::stream::ConsumerErrorKind::InvalidConsumerType => {
                    TransportError::JetStream(msg)
                }
                _ => TransportError::Nats(msg),
            }
        })
}

struct Store {
    root: PathBuf,
    level: u32,
    rotate: Option<Rotate>,
    sensors: BTreeMap<String, SensorDir>,
    stats: CollectStats,
}

impl Store {
    /// Writes one message's batch unless already written; returns whether
    /// the message was rejected as invalid.
    fn take(
        &mut self,
        subject: &str,
        headers: Option<&async_nats::HeaderMap>,
        payload: &[u8],
    ) -> Result<bool, TransportError> {
        let checked = BatchMeta::from_headers(subject, headers)
            .and_then(|meta| wire::decompress(payload, &meta).map(|body| (meta, body)));
        let (meta, body) = match checked {
            Ok(v) => v,
            Err(e) => {
                eprintln!("netcap: warning: message on {subject} rejected: {e}");
                self.stats.rejected += 1;
                return Ok(true);
            }
        };
        if !self.sensors.contains_key(&meta.sensor) {
            let dir = SensorDir::open(&self.root.join(&meta.sensor))?;
            self.sensors.insert(meta.sensor.clone(), dir);
            self.stats.sensors.insert(meta.sensor.clone());
        }
        let Some(dir) = self.sensors.get_mut(&meta.sensor) else {
            return Ok(false);
        };
        if dir.state.contains(meta.seq) {
            self.stats.duplicates += 1;
            return Ok(false);
        }
        dir.write(&meta, &body, self.level)?;
        self.stats.batches += 1;
        self.stats.records += meta.records;
        self.stats.bytes += payload.len() as u64;
        Ok(false)
    }

    /// Flushes the written files to disk, then records them in the state.
    fn commit(&mut self) -> Result<(), TransportError> {
        for dir in self.sensors.values_mut() {
            dir.commit()?;
        }
        Ok(())
    }

    /// Rotates the files that are due.
    fn maintain(&mut self) -> Result<(), TransportError> {
        let Some(rotate) = self.rotate else {
            return Ok(());
        };
        for dir in self.sensors.values_mut() {
            self.stats.rotated += dir.rotate(rotate)?;
        }
        Ok(())
    }
}

/// The persisted state of one sensor's folder.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct State {
    /// Sequence numbers written, as sorted disjoint inclusive ranges.
    written: Vec<(u64, u64)>,
    /// Per record name: flushed length of the active file and when it was begun.
    files: BTreeMap<String, FileState>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct FileState {
    len: u64,
    begun: u64,
}

impl State {
    fn contains(&self, seq: u64) -> bool {
        let i = self.written.partition_point(|r| r.0 <= seq);
        i > 0 && self.written.get(i - 1).is_some_and(|r| r.1 >= seq)
    }

    fn insert(&mut self, seq: u64) {
        let i = self.written.partition_point(|r| r.0 <= seq);
        let joins_prev = i > 0
            && self
                .written
                .get(i - 1)
                .is_some_and(|r| r.1.saturating_add(1) >= seq);
        let joins_next = self.written.get(i).is_some_and(|r| r.0 == seq + 1);
        match (joins_prev, joins_next) {
            (true, true) => {
                let next_end = self.written.get(i).map_or(seq, |r| r.1);
                self.written.remove(i);
                if let Some(p) = self.written.get_mut(i - 1) {
                    p.1 = next_end;
                }
            }
            (true, false) => {
                if let Some(p) = self.written.get_mut(i - 1) {
                    p.1 = p.1.max(seq);
                }
            }
            (false, true) => {
                if let Some(n) = self.written.get_mut(i) {
                    n.0 = seq;
                }
            }
            (false, false) => self.written.insert(i, (seq, seq)),
        }
        if self.written.len() > MAX_RANGES {
            self.written.remove(0);
        }
    }

    fn to_json(&self) -> String {
        let files: serde_json::Map<String, serde_json::Value> = self
            .files
            .iter()
            .map(|(k, f)| {
                (
                    k.clone(),
                    serde_json::json!({"len": f.len, "begun": f.begun}),
                )
            })
            .collect();
        serde_json::json!({"written": self.written, "files": files}).to_string()
    }

    fn from_json(text: &str) -> Option<State> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let mut s = State::default();
        for r in v.get("written")?.as_array()? {
            let r = r.as_array()?;
            s.written.push((r.first()?.as_u64()?, r.get(1)?.as_u64()?));
        }
        for (k, f) in v.get("files")?.as_object()? {
            s.files.insert(
                k.clone(),
                FileState {
                    len: f.get("len")?.as_u64()?,
                    begun: f.get("begun")?.as_u64()?,
                },
            );
        }
        Some(s)
    }
}

struct SensorDir {
    dir: PathBuf,
    state: State,
    open: BTreeMap<String, File>,
    touched: BTreeSet<String>,
    dirty: bool,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> TransportError + '_ {
    move |e| TransportError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn active_name(record: &str) -> String {
    format!("{record}.ncap.gz")
}

impl SensorDir {
    /// Opens a sensor's folder and brings its files back to the state:
    /// bytes past the recorded length were never acknowledged and go.
    fn open(dir: &Path) -> Result<SensorDir, TransportError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let state_path = dir.join(STATE_FILE);
        let mut state = match fs::read_to_string(&state_path) {
            Ok(text) => State::from_json(&text).ok_or_else(|| TransportError::Io {
                path: state_path.clone(),
                message: "not a collector state file".into(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => {
                return Err(TransportError::Io {
                    path: state_path,
                    message: e.to_string(),
                })
            }
        };
        for entry in fs::read_dir(dir).map_err(io_err(dir))? {
            let entry = entry.map_err(io_err(dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(record) = name.strip_suffix(".ncap.gz") else {
                continue;
            };
            if record.contains('.') {
                continue; // a rotated file: closed for good
            }
            let path = entry.path();
            let want = state.files.get(record).map_or(0, |f| f.len);
            let have = entry.metadata().map_err(io_err(&path))?.len();
            if have < want {
                return Err(TransportError::Io {
                    path,
                    message: format!("{have} bytes, shorter than the {want} written: damaged"),
                });
            }
            if have > want {
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io_err(&path))?;
                f.set_len(want).map_err(io_err(&path))?;
                f.sync_all().map_err(io_err(&path))?;
            }
        }
        // A recorded file that is gone was rotated just before a crash.
        for (record, f) in state.files.iter_mut() {
            if !dir.join(active_name(record)).exists() {
                f.len = 0;
            }
        }
        Ok(SensorDir {
            dir: dir.to_path_buf(),
            state,
            open: BTreeMap::new(),
            touched: BTreeSet::new(),
            dirty: false,
        })
    }

    fn write(&mut self, meta: &BatchMeta, body: &[u8], level: u32) -> Result<(), TransportError> {
        let record = meta.ty.record_name().to_string();
        let path = self.dir.join(active_name(&record));
        let fs_state = self.state.files.entry(record.clone()).or_insert(FileState {
            len: 0,
            begun: now_secs(),
        });
        if fs_state.len == 0 {
            fs_state.begun = now_secs();
        }
        let mut gz = flate2::write::GzEncoder::new(
            Vec::with_capacity(body.len() / 4 + 64),
            flate2::Compression::new(level.min(9)),
        );
        if fs_state.len == 0 {
            // A new file: its first member begins with the header, naming the
            // sensor as the input source.
            let header = header_for(meta.ty, &meta.sensor, meta.created_ns);
            gz.write_all(&header.encode_length_delimited_to_vec())
                .map_err(io_err(&path))?;
        }
        gz.write_all(body).map_err(io_err(&path))?;
        let member = gz.finish().map_err(io_err(&path))?;
        let file = match self.open.entry(record.clone()) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(io_err(&path))?;
                e.insert(f)
            }
        };
        file.write_all(&member).map_err(io_err(&path))?;
        fs_state.len += member.len() as u64;
        self.state.insert(meta.seq);
        self.touched.insert(record);
        self.dirty = true;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), TransportError> {
        for record in std::mem::take(&mut self.touched) {
            if let Some(f) = self.open.get(&record) {
                let path = self.dir.join(active_name(&record));
                f.sync_data().map_err(io_err(&path))?;
            }
        }
        if self.dirty {
            self.save()?;
        }
        Ok(())
    }

    /// Replaces the state file atomically (write, flush, rename, flush the folder).
    fn save(&mut self) -> Result<(), TransportError> {
        let path = self.dir.join(STATE_FILE);
        let tmp = self.dir.join(format!("{STATE_FILE}.tmp"));
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(self.state.to_json().as_bytes())
            .map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        fs::rename(&tmp, &path).map_err(io_err(&path))?;
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        self.dirty = false;
        Ok(())
    }

    /// Closes and renames the active files that are due to
    /// `<Type>.<begun>.ncap.gz`; runs only on committed files.
    fn rotate(&mut self, rotate: Rotate) -> Result<u64, TransportError> {
        let now = now_secs();
        let due: Vec<String> = self
            .state
            .files
            .iter()
            .filter(|(_, f)| {
                f.len > 0
                    && match rotate {
                        Rotate::Size(max) => f.len >= max,
                        Rotate::Age(d) => now.saturating_sub(f.begun) >= d.as_secs(),
                    }
            })
            .map(|(k, _)| k.clone())
            .collect();
        let mut n = 0;
        for record in due {
            let begun = self.state.files.get(&record).map_or(now, |f| f.begun);
            self.open.remove(&record);
            let from = self.dir.join(active_name(&record));
            let mut to = self.dir.join(format!("{record}.{begun}.ncap.gz"));
            let mut k = 1;
            while to.exists() {
                to = self.dir.join(format!("{record}.{begun}-{k}.ncap.gz"));
                k += 1;
            }
            fs::rename(&from, &to).map_err(io_err(&from))?;
            if let Some(f) = self.state.files.get_mut(&record) {
                f.len = 0;
                f.begun = now;
            }
            self.dirty = true;
            n += 1;
        }
        if self.dirty {
            self.save()?;
        }
        Ok(n)
    }
}

/// Every record type a collected folder may hold a file of.
pub fn collected_file(dir: &Path, sensor: &str, ty: Type) -> PathBuf {
    dir.join(sensor).join(active_name(ty.record_name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotate_parses() {
        assert_eq!("100M".parse(), Ok(Rotate::Size(100 << 20)));
        assert_eq!("2G".parse(), Ok(Rotate::Size(2 << 30)));
        assert_eq!("90s".parse(), Ok(Rotate::Age(Duration::from_secs(90))));
        assert_eq!("1h".parse(), Ok(Rotate::Age(Duration::from_secs(3600))));
        for bad in ["", "M", "0M", "10x", "-1h", "1.5h"] {
            assert!(bad.parse::<Rotate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges() {
        let mut s = State::default();
        for seq in [5, 7, 6, 1, 2, 10, 9] {
            s.insert(seq);
        }
        assert_eq!(s.written, [(1, 2), (5, 7), (9, 10)]);
        for seq in [1, 2, 5, 6, 7, 9, 10] {
            assert!(s.contains(seq), "{seq}");
        }
        for seq in [0, 3, 4, 8, 11] {
            assert!(!s.contains(seq), "{seq}");
        }
        s.insert(8);
        s.insert(7);
        assert_eq!(s.written, [(1, 2), (5, 10)]);
        let back = State::from_json(&s.to_json()).unwrap();
        assert_eq!(back, s);
    }

    fn meta(seq: u64, records: u64, size: usize) -> BatchMeta {
        BatchMeta {
            sensor: "s1".into(),
            ty: Type::NcUdp,
            seq,
            records,
            size: size as u64,
            created_ns: 5,
            source: String::new(),
        }
    }

    #[test]
    fn crash_after_write_before_state_cuts_the_file_back() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("s1");
        let mut d = SensorDir::open(&dir).unwrap();
        let body = [1u8, 0x08, 1, 0x10];
        d.write(&meta(1, 2, 4), &body, 1).unwrap();
        d.commit().unwrap();
        let committed = fs::metadata(dir.join("UDP.ncap.gz")).unwrap().len();
        // Written but not committed: a crash here.
        d.write(&meta(2, 2, 4), &body, 1).unwrap();
        drop(d);
        assert!(fs::metadata(dir.join("UDP.ncap.gz")).unwrap().len() > committed);
        let d = SensorDir::open(&dir).unwrap();
        assert_eq!(
            fs::metadata(dir.join("UDP.ncap.gz")).unwrap().len(),
            committed
        );
        assert!(d.state.contains(1));
        assert!(!d.state.contains(2));
        // The file reads as a record file with the sensor as input source.
        let mut r = netcap_format::FileReader::open(dir.join("UDP.ncap.gz")).unwrap();
        assert_eq!(r.header().input_source, "s1");
        let mut n = 0;
        while r.next_raw().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 2);
    }

    #[test]
    fn rotation_renames_and_starts_a_new_file_with_a_header() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("s1");
        let mut d = SensorDir::open(&dir).unwrap();
        let body = [1u8, 0x08];
        d.write(&meta(1, 1, 2), &body, 1).unwrap();
        d.commit().unwrap();
        assert_eq!(d.rotate(Rotate::Size(1)).unwrap(), 1);
        d.write(&meta(2, 1, 2), &body, 1).unwrap();
        d.commit().unwrap();
        let names: BTreeSet<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        for name in names.iter().filter(|n| n.ends_with(".ncap.gz")) {
            let r = netcap_format::FileReader::open(dir.join(name)).unwrap();
            assert_eq!(r.header().input_source, "s1");
        }
    }
}
