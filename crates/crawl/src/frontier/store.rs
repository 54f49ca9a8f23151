//! The files of the embedded frontier and how a checkpoint reaches them.
//!
//! - `frontier.lock`: held (`flock`) while a process has the frontier open;
//! - `seen.table`: the seen-set (`seen`);
//! - `queue.log`: the queues (`queue_log`);
//! - `hosts.table`: one [`HostRecord`] per host id; `hosts.names`: the hosts' names;
//! - `frontier.state`: the last checkpoint's [`State`] (lengths, counters, meta);
//! - `frontier.redo`: a checkpoint committed and not yet applied (`redo`).
//!
//! Only the redo log writes into `seen.table`, `hosts.*`, `frontier.state` and the removed
//! flags of `queue.log`; between checkpoints the frontier appends to `queue.log` beyond the
//! committed length only. So opening after a crash gives exactly the last checkpoint.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::FrontierError;
use super::codec::{HOST_RECORD, HostRecord, State};
use super::queue_log::{self, QueueLog};
use super::redo::{self, Op, Target};
use super::seen::SeenTable;

const LOCK: &str = "frontier.lock";
const HOSTS: &str = "hosts.table";
const NAMES: &str = "hosts.names";
const STATE: &str = "frontier.state";
const STATE_TMP: &str = "frontier.state.tmp";

pub(super) struct Store {
    pub dir: PathBuf,
    _lock: File,
    pub seen: SeenTable,
    pub queue: QueueLog,
    hosts: File,
    names: File,
}

/// What [`Store::open`] found: the store, the last checkpoint's state (`None` before the
/// first) and the hosts' names and records, by id.
pub(super) type Opened = (Store, Option<State>, Vec<(String, HostRecord)>);

impl Store {
    /// Opens (or creates) the files of `dir` at the last checkpoint. Returns the store, the
    /// state (`None` before the first checkpoint) and the hosts' records and names.
    pub fn open(dir: &Path) -> Result<Opened, FrontierError> {
        let path = dir.to_owned();
        let io = |e: std::io::Error| io_error(&path, e);
        std::fs::create_dir_all(dir).map_err(io)?;
        let lock = open_rw(&dir.join(LOCK)).map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(FrontierError::Locked(path)),
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let mut seen = SeenTable::open(dir).map_err(io)?;
        let hosts = open_rw(&dir.join(HOSTS)).map_err(io)?;
        let names = open_rw(&dir.join(NAMES)).map_err(io)?;
        recover(dir, &mut seen, &hosts, &names).map_err(|m| corrupt(&path, &m))?;
        let state = match std::fs::read(dir.join(STATE)) {
            Ok(bytes) => Some(State::read(&bytes).map_err(|m| corrupt(&path, &m))?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(e)),
        };
        let committed = state.clone().unwrap_or_default();
        let queue = QueueLog::open(dir, committed.log_len).map_err(io)?;
        let records = read_hosts(&hosts, &names, &committed).map_err(|m| corrupt(&path, &m))?;
        let store = Store {
            dir: path,
            _lock: lock,
            seen,
            queue,
            hosts,
            names,
        };
        Ok((store, state, records))
    }

    /// Commits `ops` (the state first) through the redo log, then applies them.
    pub fn commit(&mut self, ops: impl Iterator<Item = Op>) -> Result<(), FrontierError> {
        let io = |e: std::io::Error| io_error(&self.dir, e);
        // The records the state's log length covers must be on disk before it is committed.
        self.queue.sync().map_err(io)?;
        redo::write(&self.dir, ops).map_err(io)?;
        recover(&self.dir, &mut self.seen, &self.hosts, &self.names).map_err(|message| {
            FrontierError::Store {
                path: self.dir.clone(),
                message,
            }
        })
    }
}

/// Applies a committed redo log of `dir`, if there is one: the operations, then a sync of
/// every file written, the state, and the log's removal. Applying twice is harmless.
fn recover(dir: &Path, seen: &mut SeenTable, hosts: &File, names: &File) -> Result<(), String> {
    let queue = open_rw(&dir.join(queue_log::FILE)).map_err(|e| e.to_string())?;
    let mut state = None;
    let found = redo::replay(dir, |op| {
        let done = match op {
            Op::State(bytes) => {
                let read = State::read(&bytes)?;
                let grown = seen.reserve(dir, read.seen);
                state = Some(bytes);
                grown
            }
            Op::Seen(key, value) => seen.insert(&key, value),
            Op::Write(Target::Hosts, at, bytes) => hosts.write_all_at(&bytes, at),
            Op::Write(Target::Names, at, bytes) => names.write_all_at(&bytes, at),
            Op::Write(Target::Queue, at, bytes) => queue.write_all_at(&bytes, at),
        };
        done.map_err(|e| format!("applying {}: {e}", redo::FILE))
    })?;
    if !found {
        return Ok(());
    }
    let state = state.ok_or_else(|| format!("{} holds no state", redo::FILE))?;
    let synced = [
        seen.sync(),
        hosts.sync_data(),
        names.sync_data(),
        queue.sync_data(),
    ];
    synced
        .into_iter()
        .collect::<std::io::Result<()>>()
        .and_then(|()| write_state(dir, &state))
        .map_err(|e| format!("applying {}: {e}", redo::FILE))?;
    redo::remove(dir)
}

fn write_state(dir: &Path, state: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(STATE_TMP);
    std::fs::write(&tmp, state)?;
    File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, dir.join(STATE))?;
    File::open(dir)?.sync_all()
}

/// The records and names of the `state.hosts` hosts.
fn read_hosts(
    hosts: &File,
    names: &File,
    state: &State,
) -> Result<Vec<(String, HostRecord)>, String> {
    let table_len = state.hosts.checked_mul(HOST_RECORD as u64);
    let (Some(table_len), Ok(names_len)) = (table_len, usize::try_from(state.names_len)) else {
        return Err("host counts out of range".into());
    };
    let too_short = |_| "host files shorter than the checkpoint".to_string();
    // Lengths from a damaged state must not become huge allocations.
    let on_disk = |file: &File| file.metadata().map(|m| m.len()).unwrap_or(0);
    if table_len > on_disk(hosts) || state.names_len > on_disk(names) {
        return Err("host files shorter than the checkpoint".into());
    }
    let mut table = vec![0u8; usize::try_from(table_len).map_err(|_| "too many hosts")?];
    hosts.read_exact_at(&mut table, 0).map_err(too_short)?;
    let mut all_names = vec![0u8; names_len];
    names.read_exact_at(&mut all_names, 0).map_err(too_short)?;
    let mut out = Vec::with_capacity(table.len() / HOST_RECORD);
    for bytes in table.chunks_exact(HOST_RECORD) {
        let record = HostRecord::read(bytes)?;
        let name = usize::try_from(record.name_at)
            .ok()
            .and_then(|at| all_names.get(at..at.checked_add(record.name_len as usize)?))
            .ok_or("a host name outside hosts.names")?;
        let name = std::str::from_utf8(name).map_err(|_| "a host name is not UTF-8")?;
        out.push((name.to_owned(), record));
    }
    Ok(out)
}

fn open_rw(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

pub(super) fn corrupt(path: &Path, message: &str) -> FrontierError {
    FrontierError::Corrupt {
        path: path.to_owned(),
        message: message.to_owned(),
    }
}

/// An I/O error of the frontier's files: damage for what the frontier reads back wrong,
/// otherwise a store error.
pub(super) fn io_error(path: &Path, e: std::io::Error) -> FrontierError {
    if e.kind() == std::io::ErrorKind::InvalidData {
        return corrupt(path, &e.to_string());
    }
    FrontierError::Store {
        path: path.to_owned(),
        message: e.to_string(),
    }
}
