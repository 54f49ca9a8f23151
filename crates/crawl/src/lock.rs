//! One crawl directory, one writer: [`DirLock`] holds an exclusive OS advisory lock on
//! `DIR/crawl.lock` for the life of the process, whatever the store and whatever the mode
//! (a new crawl, `--resume`, `--recrawl`). Two writers in one directory would interleave
//! their WARC files, index and frontier, and the sites would get the requests of both.
//!
//! The lock is the kernel's (`flock` on Unix, `LockFileEx` on Windows, through std's
//! `File::try_lock`): it goes away with the process however it ends (a SIGKILL and a power
//! cut included), so no stale lock is ever left to clean up. The file itself stays (deleting
//! a lock file races with the next process opening it) and holds the holder's process id,
//! for the message the next process gives.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name in a crawl directory.
pub const LOCK_FILE: &str = "crawl.lock";

/// Why the directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock.
    #[error(
        "{dir} is in use by another optout crawl{}; one crawl directory has one writer: wait for it to end or stop it",
        holder.map(|pid| format!(" (process {pid})")).unwrap_or_default()
    )]
    Busy {
        /// The crawl directory.
        dir: PathBuf,
        /// The holder's process id, when its lock file says.
        holder: Option<u32>,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot lock {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

/// The exclusive lock on a crawl directory; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the lock on `dir` (which must exist) without waiting: [`LockError::Busy`] when
    /// another process holds it. Nothing in `dir` is written unless the lock is taken (the
    /// lock file is created if missing; it is empty until then).
    pub fn acquire(dir: &Path) -> Result<DirLock, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = (&file).take(32).read_to_string(&mut text);
                return Err(LockError::Busy {
                    dir: dir.to_owned(),
                    holder: text.trim().parse().ok(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // The holder's id, for the message of the next process (best effort: the lock is
        // what counts).
        let _ = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()));
        Ok(DirLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_directory_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        // Another open file description: as another process would see it.
        let second = DirLock::acquire(dir.path()).unwrap_err();
        let message = second.to_string();
        assert!(
            matches!(second, LockError::Busy { holder: Some(pid), .. } if pid == std::process::id()),
            "{message}"
        );
        assert!(
            message.contains(&dir.path().display().to_string()),
            "{message}"
        );
        assert_eq!(message.lines().count(), 1);
        drop(first);
        DirLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        assert!(matches!(
            DirLock::acquire(&missing),
            Err(LockError::Io { .. })
        ));
    }
}
