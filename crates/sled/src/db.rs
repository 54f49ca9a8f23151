//! The sled store itself: opening the directory (checking its schema, taking sled's lock,
//! or reading a private copy), its trees, snapshots in chunks, and flushing with the
//! acknowledged head. `backend.rs` implements the evidence layer's interface on it.

use super::{acknowledged, readonly};
use optout_evidence::StoreError;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The longest value a snapshot is stored in; longer ones are chunked
/// (`SledStore::put_snapshot`).
pub const SNAPSHOT_CHUNK: usize = 6 * 1024;

/// The key of chunk `index` of the snapshot `hash`.
fn chunk_key(hash: &[u8], index: usize) -> Vec<u8> {
    let mut key = hash.to_vec();
    key.extend_from_slice(&u32::try_from(index).unwrap_or(u32::MAX).to_be_bytes());
    key
}

/// The schema version this build writes and reads.
///
/// Version 2 stores several records per `records` value (blocks); version 1 stored one. A
/// version-1 store is a valid version-2 store (every block holds one record), so opening one
/// upgrades its marker and nothing else: its records' bytes stay as they are. The marker
/// changes so that an older optout, which would misread the blocks written from then on,
/// refuses the store as newer than it understands.
pub const SCHEMA_VERSION: u32 = 2;

/// The oldest schema version this build opens (and upgrades).
const OLDEST_SCHEMA: u32 = 1;

/// The key of the chain head in the `records` tree. It sorts after every sequence number
/// (those are 8 bytes long; this is 9 bytes starting with `0xFF`).
pub const HEAD_KEY: &[u8] = b"\xffhead\0\0\0\0";

/// sled's error `e`, where the store's path is not at hand ([`SledStore::error`] is, where
/// it is): sled reporting corrupt data is always [`StoreError::Corrupt`], wherever it is met.
pub(crate) fn sled_error(e: sled::Error) -> StoreError {
    damage_or(PathBuf::new(), e)
}

/// sled's error `e` in the store at `path`: sled reporting corrupt data is always
/// [`StoreError::Corrupt`], wherever it is met.
fn damage_or(path: PathBuf, e: sled::Error) -> StoreError {
    match e {
        sled::Error::Corruption { .. } => StoreError::Corrupt {
            path,
            message: format!("sled found corrupt data ({e}); run `optout log verify`"),
        },
        other => StoreError::Backend(other.to_string()),
    }
}

/// Which file a path named when the store was opened (device and inode of `DIR/db`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
}

impl Identity {
    fn of(path: &Path) -> std::io::Result<Identity> {
        let meta = std::fs::metadata(path)?;
        Ok(Identity {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }
}

/// What every clone of a store shares.
#[derive(Debug)]
struct Shared {
    /// The directory sled has open: the store, or the private copy of it.
    dir: PathBuf,
    /// `DIR/db` as opened; sled keeps writing to that file even if the path is deleted or
    /// names another file.
    identity: Identity,
    /// The head last written to [`acknowledged::FILE`].
    acknowledged: Mutex<Option<Vec<u8>>>,
    /// The private copy a read-only store reads; removed when the last clone is dropped
    /// (after sled's handles, which are declared before it in [`SledStore`]).
    _copy: Option<readonly::Copy>,
}

/// An open sled store: the [`Backend`](optout_evidence::Backend) behind a
/// [`Store`](optout_evidence::Store) opened on sled. Clones share sled's handles.
#[derive(Clone, Debug)]
pub(crate) struct SledStore {
    path: PathBuf,
    db: sled::Db,
    records: sled::Tree,
    snapshots: sled::Tree,
    policy: sled::Tree,
    shared: Arc<Shared>,
}

impl SledStore {
    /// Opens (creating if needed) the store at `path`.
    ///
    /// A directory that holds something other than a store, is locked by another process,
    /// is unwritable, or has a newer schema is an error: never a silent new empty log.
    pub fn open(path: &Path) -> Result<SledStore, StoreError> {
        let io = |source: std::io::Error| StoreError::Io {
            path: path.to_owned(),
            source,
        };
        std::fs::create_dir_all(path).map_err(io)?;
        // sled keeps its data in `db`; a directory with other things in it but no `db` is
        // not a store, and is not made into one.
        let existed = path.join("db").exists();
        if !existed && std::fs::read_dir(path).map_err(io)?.next().is_some() {
            return Err(StoreError::NotAStore(path.to_owned()));
        }
        SledStore::open_in(path, path, None)
    }

    /// Opens an existing store to read it, without writing to it: a private copy of it, taken
    /// under sled's lock (`readonly.rs`). The store's own files stay byte for byte as they
    /// are, so a read-only mount, a full disk or a copy on a CD reads as well; a schema-1
    /// store is upgraded only in the copy.
    pub fn open_read_only(path: &Path) -> Result<SledStore, StoreError> {
        if !path.join("db").is_file() {
            return Err(StoreError::Missing(path.to_owned()));
        }
        let copy = readonly::copy(path)?;
        let dir = copy.path().to_owned();
        SledStore::open_in(&dir, path, Some(copy))
    }

    /// Opens the sled store in `dir`, reporting errors as the store at `path`.
    fn open_in(
        dir: &Path,
        path: &Path,
        copy: Option<readonly::Copy>,
    ) -> Result<SledStore, StoreError> {
        let existed = dir.join("db").exists();
        let db = without_panics(path, || {
            sled::Config::new()
                .path(dir)
                .flush_every_ms(None)
                .open()
                .map_err(|e| open_error(path, e))
        })?;
        let identity = Identity::of(&dir.join("db")).map_err(|source| StoreError::Io {
            path: path.to_owned(),
            source,
        })?;
        let sled = |e| damage_or(path.to_owned(), e);
        let meta = db.open_tree("meta").map_err(sled)?;
        match meta.get("schema").map_err(sled)? {
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(u32::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt {
                        path: path.to_owned(),
                        message: "unreadable schema version".into(),
                    })?;
                if found > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema {
                        path: path.to_owned(),
                        found,
                        understood: SCHEMA_VERSION,
                    });
                }
                if found < OLDEST_SCHEMA {
                    return Err(StoreError::Corrupt {
                        path: path.to_owned(),
                        message: format!("unknown schema version {found}"),
                    });
                }
                if found < SCHEMA_VERSION {
                    meta.insert("schema", &SCHEMA_VERSION.to_be_bytes())
                        .map_err(sled)?;
                    db.flush().map_err(sled)?;
                }
            }
            None if existed => {
                return Err(StoreError::Corrupt {
                    path: path.to_owned(),
                    message: "it has no schema version (not an optout store, or damaged)".into(),
                });
            }
            None => {
                meta.insert("schema", &SCHEMA_VERSION.to_be_bytes())
                    .map_err(sled)?;
                db.flush().map_err(sled)?;
            }
        }
        Ok(SledStore {
            path: path.to_owned(),
            records: db.open_tree("records").map_err(sled)?,
            snapshots: db.open_tree("snapshots").map_err(sled)?,
            policy: db.open_tree("policy").map_err(sled)?,
            db,
            shared: Arc::new(Shared {
                dir: dir.to_owned(),
                identity,
                acknowledged: Mutex::new(acknowledged::read(dir)),
                _copy: copy,
            }),
        })
    }

    /// `e` as this store's error: sled reporting corrupt data is [`StoreError::Corrupt`].
    pub fn error(&self, e: sled::Error) -> StoreError {
        damage_or(self.path.clone(), e)
    }

    /// The store is damaged: `message` says how.
    pub fn damaged(&self, message: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    /// Reads every value of every tree once, so that sled checks every page it holds
    /// (sled 0.34 checks a page's checksum only when it reads it, and a writer reads only
    /// the end of the log). The cost is a read of the whole store (`docs/evidence.md`).
    pub fn check_pages(&self) -> Result<(), StoreError> {
        without_panics(&self.path, || self.db.checksum().map_err(|e| self.error(e)))?;
        Ok(())
    }

    /// The head as of the last flush, as [`acknowledged`] recorded it (the records tree's
    /// encoding), if known.
    pub fn acknowledged_head(&self) -> Option<Vec<u8>> {
        acknowledged::read(&self.shared.dir)
    }

    /// Opens an existing store; a missing one is [`StoreError::Missing`], never created.
    pub fn open_existing(path: &Path) -> Result<SledStore, StoreError> {
        if !path.join("db").exists() {
            return Err(StoreError::Missing(path.to_owned()));
        }
        SledStore::open(path)
    }

    /// The store directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The records tree (sequence number → record bytes, and the head).
    pub fn records_tree(&self) -> &sled::Tree {
        &self.records
    }

    /// The snapshots tree (SHA-256 → bytes).
    pub fn snapshots_tree(&self) -> &sled::Tree {
        &self.snapshots
    }

    /// The policy-source cache tree.
    pub fn policy_tree(&self) -> &sled::Tree {
        &self.policy
    }

    /// The tree of what `optout crawler-info` published (its previous state and its feed).
    pub fn crawler_info(&self) -> Result<sled::Tree, StoreError> {
        self.db.open_tree("crawler-info").map_err(|e| self.error(e))
    }

    /// Stores `bytes` under their SHA-256 `hash` (raw 32 bytes), once. Bytes longer than
    /// [`SNAPSHOT_CHUNK`] go in chunks of that size, in one atomic batch: sled 0.34 writes a
    /// tree node larger than 128 KiB as a blob file its flush does not fsync
    /// (spacejam/sled#1077), and a leaf holds up to 17 values, so values of at most 6 KiB
    /// keep every snapshot in the log that a flush makes durable (as the evidence blocks do).
    pub fn put_snapshot(&self, hash: &[u8], bytes: &[u8]) -> Result<(), StoreError> {
        let sled = |e| self.error(e);
        if self.snapshots.contains_key(hash).map_err(sled)?
            || self
                .snapshots
                .contains_key(chunk_key(hash, 0))
                .map_err(sled)?
        {
            return Ok(());
        }
        if bytes.len() <= SNAPSHOT_CHUNK {
            self.snapshots.insert(hash, bytes).map_err(sled)?;
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for (i, chunk) in bytes.chunks(SNAPSHOT_CHUNK).enumerate() {
            batch.insert(chunk_key(hash, i), chunk);
        }
        self.snapshots.apply_batch(batch).map_err(sled)?;
        Ok(())
    }

    /// The bytes stored under `hash`, whole or from their chunks.
    pub fn snapshot(&self, hash: &[u8]) -> Result<Option<sled::IVec>, StoreError> {
        if let Some(bytes) = self.snapshots.get(hash).map_err(|e| self.error(e))? {
            return Ok(Some(bytes));
        }
        let mut bytes = Vec::new();
        let mut found = false;
        for item in self.snapshots.scan_prefix(hash) {
            let (_, chunk) = item.map_err(|e| self.error(e))?;
            bytes.extend_from_slice(&chunk);
            found = true;
        }
        Ok(found.then(|| sled::IVec::from(bytes)))
    }

    /// Every snapshot as (the key's first 32 bytes, the bytes stored under them: one value,
    /// or its chunks in order), in key order, one at a time. A damaged tree shows as bytes
    /// that do not match their hash, which `log verify` reports.
    pub fn snapshot_entries(
        &self,
    ) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> + '_ {
        let mut tree = self.snapshots.iter().peekable();
        std::iter::from_fn(move || {
            let (key, first) = match tree.next()? {
                Ok(kv) => kv,
                Err(e) => return Some(Err(self.error(e))),
            };
            let name = key[..key.len().min(32)].to_vec();
            let mut bytes = first.to_vec();
            while let Some(Ok((next, chunk))) = tree.peek() {
                if next.len() <= 32 || next[..32] != name[..] {
                    break;
                }
                bytes.extend_from_slice(chunk);
                tree.next();
            }
            Some(Ok((name, bytes)))
        })
    }

    /// Makes everything written so far durable, checks that the store's path still names
    /// the files written to, and records the head as acknowledged ([`acknowledged`]).
    pub fn flush(&self) -> Result<(), StoreError> {
        // Read before the flush: everything written before it starts is durable after it,
        // so the file never claims a record the flush did not cover.
        let head = self.records.get(HEAD_KEY).map_err(|e| self.error(e))?;
        self.db.flush().map_err(|e| self.error(e))?;
        let db = self.shared.dir.join("db");
        if Identity::of(&db).ok() != Some(self.shared.identity) {
            return Err(StoreError::Replaced(self.path.clone()));
        }
        if let Some(head) = head {
            let mut last = self
                .shared
                .acknowledged
                .lock()
                .map_err(|_| StoreError::Backend("store lock poisoned".into()))?;
            if last.as_deref() != Some(head.as_ref()) {
                acknowledged::write(&self.shared.dir, &head).map_err(|source| StoreError::Io {
                    path: self.path.clone(),
                    source,
                })?;
                *last = Some(head.to_vec());
            }
        }
        Ok(())
    }

    /// The store's schema version, as its `meta` tree records it.
    pub fn schema(&self) -> Result<Option<u32>, StoreError> {
        let sled = |e| self.error(e);
        let found = self
            .db
            .open_tree("meta")
            .map_err(sled)?
            .get("schema")
            .map_err(sled)?;
        Ok(found.and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok().map(u32::from_be_bytes)))
    }

    /// Writes `value` under `key` in the `meta` tree (for tests that fake other versions).
    pub fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let sled = |e| self.error(e);
        self.db
            .open_tree("meta")
            .map_err(sled)?
            .insert(key, value)
            .map_err(sled)?;
        self.flush()
    }
}

/// Runs `f`, which reads sled's files, taking a panic for damage: sled 0.34 asserts on some
/// damaged files instead of returning an error (a flipped byte in its log can make opening
/// panic with "tried to serialize Uninitialized"), and hostile bytes never panic optout.
/// The panic message is kept off standard error while `f` runs, so the user sees one line.
fn without_panics<T>(
    path: &Path,
    f: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    result.unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(StoreError::Corrupt {
            path: path.to_owned(),
            message: format!("sled cannot read its files ({why}); run `optout log verify`"),
        })
    })
}

fn open_error(path: &Path, e: sled::Error) -> StoreError {
    match e {
        sled::Error::Io(io) if is_lock_error(&io) => StoreError::Locked(path.to_owned()),
        sled::Error::Io(source) => StoreError::Io {
            path: path.to_owned(),
            source,
        },
        sled::Error::Corruption { .. } | sled::Error::Unsupported(_) => StoreError::Corrupt {
            path: path.to_owned(),
            message: e.to_string(),
        },
        other => StoreError::Backend(other.to_string()),
    }
}

fn is_lock_error(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::WouldBlock
        || e.to_string().contains("could not acquire lock")
        || e.raw_os_error() == Some(11)
}

/// The per-user default store directory: `$XDG_DATA_HOME/optout/store`, else
/// `$HOME/.local/share/optout/store`, else `./optout-store`.
pub fn default_path() -> PathBuf {
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(data).join("optout").join("store");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home)
            .join(".local")
            .join("share")
            .join("optout")
            .join("store");
    }
    PathBuf::from("optout-store")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_creates_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        {
            let store = SledStore::open(&path).unwrap();
            store.records_tree().insert(b"k", b"v").unwrap();
            store.flush().unwrap();
        }
        let store = SledStore::open(&path).unwrap();
        assert_eq!(
            store.records_tree().get(b"k").unwrap().unwrap().as_ref(),
            b"v"
        );
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            store.set_meta("schema", &99u32.to_be_bytes()).unwrap();
        }
        let err = SledStore::open(dir.path()).unwrap_err();
        assert!(
            matches!(err, StoreError::NewerSchema { found: 99, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_version_1_store_is_upgraded_and_version_0_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            assert_eq!(store.schema().unwrap(), Some(SCHEMA_VERSION));
            store
                .records_tree()
                .insert(1u64.to_be_bytes(), &b"{}"[..])
                .unwrap();
            store.set_meta("schema", &1u32.to_be_bytes()).unwrap();
            assert_eq!(store.schema().unwrap(), Some(1));
        }
        {
            let store = SledStore::open(dir.path()).unwrap();
            assert_eq!(store.schema().unwrap(), Some(2));
            // The records are not touched.
            let record = store
                .records_tree()
                .get(1u64.to_be_bytes())
                .unwrap()
                .unwrap();
            assert_eq!(record.as_ref(), b"{}");
            store.set_meta("schema", &0u32.to_be_bytes()).unwrap();
        }
        let err = SledStore::open(dir.path()).unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { message, .. } if message.contains("version 0")),
            "{err}"
        );
    }

    #[test]
    fn a_directory_with_other_things_is_not_made_a_store() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"hi").unwrap();
        let err = SledStore::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::NotAStore(_)), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = SledStore::open_existing(&empty.path().join("none")).unwrap_err();
        assert!(matches!(err, StoreError::Missing(_)), "{err}");
    }

    #[test]
    fn a_file_where_the_directory_should_be_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let err = SledStore::open(&file).unwrap_err();
        assert!(err.to_string().contains("cannot open store"), "{err}");
    }
}
