//! Reading a store without writing to it.
//!
//! sled 0.34 has no read-only mode: opening a store recovers its log, may zero a torn tail
//! and writes a snapshot file (and optout upgrades an old schema marker). A command that only
//! reads must leave the store byte for byte as it was, work on a read-only mount or a copy on
//! a CD, and never turn a full disk into a damaged store. So it reads a private copy: under
//! the same lock sled takes (an exclusive `flock` on `DIR/db`, which sled 0.34 takes through
//! fs2), held on a read-only handle so that no optout writer is mid-write, the store's files
//! are copied into a temporary directory (in memory, `/dev/shm`, when there is one and it has
//! room, else the system temporary directory); the lock is released and sled opens the copy.
//! The copy is removed when the store is dropped. The cost: a store of N MB is copied once
//! per command (`docs/evidence.md`).

use super::StoreError;
use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A private copy of a store's files, removed on drop.
#[derive(Debug)]
pub(super) struct Copy {
    dir: PathBuf,
}

impl Copy {
    /// Where sled opens the copy.
    pub(super) fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Copies the store at `store` (which has a `db` file) under sled's lock on it.
pub(super) fn copy(store: &Path) -> Result<Copy, StoreError> {
    let io = |source: std::io::Error| StoreError::Io {
        path: store.to_owned(),
        source,
    };
    let db = File::open(store.join("db")).map_err(io)?;
    match db.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(StoreError::Locked(store.to_owned()));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    let mut last = None;
    for base in bases() {
        let dir = match private_dir(&base) {
            Ok(dir) => dir,
            Err(e) => {
                last = Some(e);
                continue;
            }
        };
        let copy = Copy { dir };
        match copy_tree(store, copy.path()) {
            Ok(()) => return Ok(copy),
            // Out of room (or not allowed) there: the copy is removed, try the next place.
            Err(e) => last = Some(e),
        }
    }
    Err(StoreError::Io {
        path: store.to_owned(),
        source: std::io::Error::other(format!(
            "cannot copy it to read it without writing to it: {}",
            last.map_or_else(|| "no temporary directory".into(), |e| e.to_string())
        )),
    })
}

/// Where copies go, best first: memory, then the system temporary directory.
fn bases() -> Vec<PathBuf> {
    let shm = PathBuf::from("/dev/shm");
    let mut bases = Vec::new();
    if shm.is_dir() {
        bases.push(shm);
    }
    bases.push(std::env::temp_dir());
    bases
}

/// A new directory under `base` that only this process uses (mode 0700).
fn private_dir(base: &Path) -> std::io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("optout-read-{}-{nanos}-{n}", std::process::id()));
        let mut builder = std::fs::DirBuilder::new();
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        match builder.create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Copies the regular files and directories under `from` (sled 0.34 keeps `db`, `conf`,
/// `snap.*` and `blobs/`; optout adds its acknowledged head) into `to`.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            std::fs::create_dir(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
            // The copy of a read-only file is read-only too, and sled opens its files for
            // writing.
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}
