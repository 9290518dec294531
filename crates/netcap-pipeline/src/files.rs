//! `--files DIR`: the content of each File record is written once to DIR,
//! named by its SHA-256, by the worker that emits the record. Names are
//! content hashes, so whichever worker writes a file first, the result and
//! the records' `Location` are the same whatever the number of workers;
//! only the total cap, once reached, makes which files are still written
//! depend on timing (the summary says when it was reached).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// File extraction settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesOptions {
    /// Folder the files are written to (created if missing).
    pub dir: PathBuf,
    /// Largest file written, bytes: larger ones are not extracted
    /// (`ExtractedCutoff` in their record).
    pub max_file: u64,
    /// Bytes written in all (0: no limit).
    pub max_total: u64,
}

/// What extraction did, for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilesStats {
    /// Files written.
    pub written: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Files already there (the same content seen before, or from an
    /// earlier run).
    pub duplicates: u64,
    /// Files not written because the total cap was reached.
    pub over_total: u64,
    /// Files that could not be written, and the first error.
    pub errors: u64,
    pub first_error: Option<String>,
}

/// The extraction folder shared by the workers.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    max_total: u64,
    reserved: AtomicU64,
    written: AtomicU64,
    duplicates: AtomicU64,
    over_total: AtomicU64,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
    /// Distinguishes the temporary names of concurrent writers.
    tmp: AtomicU64,
}

impl FileStore {
    /// Creates the folder.
    pub fn new(opts: &FilesOptions) -> std::io::Result<FileStore> {
        std::fs::create_dir_all(&opts.dir)?;
        Ok(FileStore {
            dir: opts.dir.clone(),
            max_total: opts.max_total,
            reserved: AtomicU64::new(0),
            written: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            over_total: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            first_error: Mutex::new(None),
            tmp: AtomicU64::new(0),
        })
    }

    /// Writes `data` as DIR/`sha256` unless it is there already; returns its
    /// path as records show it, or "" when it was not written (total cap
    /// reached, write error, not a SHA-256).
    pub fn store(&self, sha256: &str, data: &[u8]) -> String {
        // The name comes from our own hashing, but a path is built from it:
        // only 64 hex digits are accepted.
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return String::new();
        }
        let path = self.dir.join(sha256);
        let shown = path.to_string_lossy().into_owned();
        if path.exists() {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
            return shown;
        }
        let len = data.len() as u64;
        if self.max_total > 0 {
            let before = self.reserved.fetch_add(len, Ordering::Relaxed);
            if before.saturating_add(len) > self.max_total {
                self.reserved.fetch_sub(len, Ordering::Relaxed);
                self.over_total.fetch_add(1, Ordering::Relaxed);
                return String::new();
            }
        }
        match self.write(&path, data) {
            Ok(()) => {
                self.written.fetch_add(1, Ordering::Relaxed);
                shown
            }
            Err(e) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut first) = self.first_error.lock() {
                    first.get_or_insert_with(|| format!("{}: {e}", path.display()));
                }
                if self.max_total > 0 {
                    self.reserved.fetch_sub(len, Ordering::Relaxed);
                }
                String::new()
            }
        }
    }

    /// Writes to a temporary name and renames: a reader (or a concurrent
    /// writer of the same content) never sees a partial file under the
    /// final name.
    fn write(&self, path: &Path, data: &[u8]) -> std::io::Result<()> {
        let n = self.tmp.fetch_add(1, Ordering::Relaxed);
        let tmp = self.dir.join(format!(".tmp.{}.{n}", std::process::id()));
        let res = std::fs::File::create(&tmp).and_then(|mut f| {
            f.write_all(data)?;
            f.flush()
        });
        if let Err(e) = res.and_then(|()| std::fs::rename(&tmp, path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(())
    }

    /// What was done so far.
    pub fn stats(&self) -> FilesStats {
        FilesStats {
            written: self.written.load(Ordering::Relaxed),
            bytes: self.reserved.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            over_total: self.over_total.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            first_error: self.first_error.lock().ok().and_then(|e| e.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_once_by_hash_under_the_total_cap() {
        let dir = std::env::temp_dir().join(format!("netcap-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = FileStore::new(&FilesOptions {
            dir: dir.clone(),
            max_file: 10,
            max_total: 5,
        })
        .unwrap();
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let loc = store.store(&a, b"1234");
        assert_eq!(loc, dir.join(&a).to_string_lossy());
        assert_eq!(std::fs::read(dir.join(&a)).unwrap(), b"1234");
        assert_eq!(store.store(&a, b"1234"), loc);
        assert_eq!(store.store(&b, b"56"), "");
        assert_eq!(store.store("../x", b"1"), "");
        let s = store.stats();
        assert_eq!(
            (s.written, s.bytes, s.duplicates, s.over_total),
            (1, 4, 1, 1)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
