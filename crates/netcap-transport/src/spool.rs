//! The agent's bounded backlog of batches not yet acknowledged by JetStream:
//! a folder of files named by sequence number (`--spool DIR`), or memory.
//!
//! A spool file is `NCSPOOL1`, a little-endian u32 length, that many bytes of
//! JSON metadata (the batch headers), then the zstd payload. It is written to
//! a temporary name and renamed, so a file with its final name is whole.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use netcap_schema::Type;

use crate::wire::BatchMeta;
use crate::TransportError;

const MAGIC: &[u8; 8] = b"NCSPOOL1";
const SUFFIX: &str = ".batch";

/// A compressed batch with its headers.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// Headers.
    pub meta: BatchMeta,
    /// zstd payload.
    pub payload: Bytes,
}

/// Where spooled batches are kept.
#[derive(Debug)]
enum Store {
    Dir(PathBuf),
    Memory(BTreeMap<u64, Sealed>),
}

/// An ordered, bounded backlog of batches, oldest (lowest sequence) first.
#[derive(Debug)]
pub struct Spool {
    store: Store,
    /// Sequence -> (records, payload bytes).
    index: BTreeMap<u64, (u64, u64)>,
    bytes: u64,
    max_bytes: u64,
}

impl Spool {
    /// A spool in memory holding at most `max_bytes` of payload.
    pub fn memory(max_bytes: u64) -> Self {
        Spool {
            store: Store::Memory(BTreeMap::new()),
            index: BTreeMap::new(),
            bytes: 0,
            max_bytes,
        }
    }

    /// A spool in `dir` (created if missing) holding at most `max_bytes`;
    /// batches a previous run left there are kept and sent first.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self, TransportError> {
        let io = |e: std::io::Error| TransportError::Spool(format!("{}: {e}", dir.display()));
        fs::create_dir_all(dir).map_err(io)?;
        let mut spool = Spool {
            store: Store::Dir(dir.to_path_buf()),
            index: BTreeMap::new(),
            bytes: 0,
            max_bytes,
        };
        for entry in fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".tmp") {
                // Cut short by a crash before its rename: never a whole batch.
                let _ = fs::remove_file(entry.path());
                continue;
            }
            let Some(seq) = name
                .strip_suffix(SUFFIX)
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            match read_file(&entry.path()) {
                Ok(s) if s.meta.seq == seq => {
                    let size = s.payload.len() as u64;
                    spool.index.insert(seq, (s.meta.records, size));
                    spool.bytes += size;
                }
                _ => {
                    return Err(TransportError::Spool(format!(
                        "{}: not a spooled batch",
                        entry.path().display()
                    )))
                }
            }
        }
        Ok(spool)
    }

    /// Whether nothing is spooled.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Batches spooled.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Records in the spooled batches.
    pub fn records(&self) -> u64 {
        self.index.values().map(|v| v.0).sum()
    }

    /// Payload bytes spooled.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The highest sequence number spooled.
    pub fn last_seq(&self) -> Option<u64> {
        self.index.keys().next_back().copied()
    }

    /// Adds a batch; `Ok(false)` if it does not fit under the cap (dropped).
    pub fn push(&mut self, batch: &Sealed) -> Result<bool, TransportError> {
        let size = batch.payload.len() as u64;
        if self.bytes.saturating_add(size) > self.max_bytes {
            return Ok(false);
        }
        match &mut self.store {
            Store::Dir(dir) => write_file(dir, batch)?,
            Store::Memory(m) => {
                m.insert(batch.meta.seq, batch.clone());
            }
        }
        self.index
            .insert(batch.meta.seq, (batch.meta.records, size));
        self.bytes += size;
        Ok(true)
    }

    /// The `n` oldest batches, in order.
    pub fn oldest(&self, n: usize) -> Result<Vec<Sealed>, TransportError> {
        self.index
            .keys()
            .take(n)
            .map(|seq| match &self.store {
                Store::Dir(dir) => read_file(&dir.join(file_name(*seq))),
                Store::Memory(m) => m
                    .get(seq)
                    .cloned()
                    .ok_or_else(|| TransportError::Spool(format!("batch {seq} missing"))),
            })
            .collect()
    }

    /// Removes a batch once JetStream acknowledged it.
    pub fn remove(&mut self, seq: u64) -> Result<(), TransportError> {
        let Some((_, size)) = self.index.remove(&seq) else {
            return Ok(());
        };
        self.bytes = self.bytes.saturating_sub(size);
        match &mut self.store {
            Store::Dir(dir) => {
                let path = dir.join(file_name(seq));
                fs::remove_file(&path)
                    .map_err(|e| TransportError::Spool(format!("{}: {e}", path.display())))?;
            }
            Store::Memory(m) => {
                m.remove(&seq);
            }
        }
        Ok(())
    }
}

fn file_name(seq: u64) -> String {
    format!("{seq:020}{SUFFIX}")
}

fn write_file(dir: &Path, b: &Sealed) -> Result<(), TransportError> {
    let path = dir.join(file_name(b.meta.seq));
    let tmp = path.with_extension("tmp");
    let io = |e: std::io::Error| TransportError::Spool(format!("{}: {e}", path.display()));
    let meta = serde_json::json!({
        "sensor": b.meta.sensor,
        "type": b.meta.ty.record_name(),
        "seq": b.meta.seq,
        "records": b.meta.records,
        "size": b.meta.size,
        "created": b.meta.created_ns,
        "source": b.meta.source,
    })
    .to_string();
    let mut f = fs::File::create(&tmp).map_err(io)?;
    f.write_all(MAGIC).map_err(io)?;
    f.write_all(&(meta.len() as u32).to_le_bytes())
        .map_err(io)?;
    f.write_all(meta.as_bytes()).map_err(io)?;
    f.write_all(&b.payload).map_err(io)?;
    // The batch must survive a crash of the machine, not only of the agent.
    f.sync_data().map_err(io)?;
    fs::rename(&tmp, &path).map_err(io)
}

fn read_file(path: &Path) -> Result<Sealed, TransportError> {
    let bad = |what: &str| TransportError::Spool(format!("{}: {what}", path.display()));
    let data = fs::read(path).map_err(|e| bad(&e.to_string()))?;
    let rest = data.strip_prefix(MAGIC).ok_or_else(|| bad("bad magic"))?;
    let (len, rest) = rest.split_first_chunk::<4>().ok_or_else(|| bad("cut"))?;
    let len = u32::from_le_bytes(*len) as usize;
    let (meta, payload) = (
        rest.get(..len).ok_or_else(|| bad("cut"))?,
        rest.get(len..).unwrap_or_default(),
    );
    let v: serde_json::Value = serde_json::from_slice(meta).map_err(|e| bad(&e.to_string()))?;
    let num = |k: &str| v.get(k).and_then(serde_json::Value::as_u64);
    let text = |k: &str| v.get(k).and_then(serde_json::Value::as_str);
    let meta = BatchMeta {
        sensor: text("sensor").ok_or_else(|| bad("no sensor"))?.to_string(),
        ty: text("type")
            .and_then(Type::from_record_name)
            .ok_or_else(|| bad("no type"))?,
        seq: num("seq").ok_or_else(|| bad("no seq"))?,
        records: num("records").ok_or_else(|| bad("no records"))?,
        size: num("size").ok_or_else(|| bad("no size"))?,
        created_ns: v
            .get("created")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0),
        source: text("source").unwrap_or_default().to_string(),
    };
    Ok(Sealed {
        meta,
        payload: Bytes::copy_from_slice(payload),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(seq: u64, size: usize) -> Sealed {
        Sealed {
            meta: BatchMeta {
                sensor: "s".into(),
                ty: Type::NcUdp,
                seq,
                records: 3,
                size: 9,
                created_ns: -1,
                source: "x.pcap".into(),
            },
            payload: Bytes::from(vec![seq as u8; size]),
        }
    }

    #[test]
    fn dir_spool_keeps_order_cap_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 250).unwrap();
        assert!(s.push(&batch(7, 100)).unwrap());
        assert!(s.push(&batch(5, 100)).unwrap());
        // Over the cap: dropped, nothing written.
        assert!(!s.push(&batch(9, 100)).unwrap());
        assert_eq!((s.len(), s.bytes(), s.records()), (2, 200, 6));
        fs::write(dir.path().join("x.tmp"), b"partial").unwrap();
        drop(s);
        let mut s = Spool::open(dir.path(), 250).unwrap();
        assert!(!dir.path().join("x.tmp").exists());
        let got = s.oldest(10).unwrap();
        let seqs: Vec<u64> = got.iter().map(|b| b.meta.seq).collect();
        assert_eq!(seqs, [5, 7]);
        assert_eq!(got[0].meta, batch(5, 100).meta);
        assert_eq!(got[0].payload, batch(5, 100).payload);
        s.remove(5).unwrap();
        assert_eq!(s.last_seq(), Some(7));
        assert!(s.push(&batch(9, 100)).unwrap());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn damaged_spool_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(file_name(3)), b"NCSPOOL1\xff\xff").unwrap();
        assert!(Spool::open(dir.path(), 1000).is_err());
    }

    #[test]
    fn memory_spool() {
        let mut s = Spool::memory(150);
        assert!(s.push(&batch(2, 100)).unwrap());
        assert!(!s.push(&batch(3, 100)).unwrap());
        assert_eq!(s.oldest(1).unwrap()[0].meta.seq, 2);
        s.remove(2).unwrap();
        assert!(s.is_empty());
    }
}
