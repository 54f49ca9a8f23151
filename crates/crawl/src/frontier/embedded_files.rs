//! How [`EmbeddedFrontier`](super::EmbeddedFrontier) reads its files: the seen-set through
//! the staged keys, queue records and their links, new hosts, and the operations of a
//! checkpoint.

use super::Inner;
use crate::frontier::codec::{self, HOST_RECORD, HostRecord, State};
use crate::frontier::queue_log::{Header, REMOVED_AT};
use crate::frontier::redo::{Op, Target};
use crate::frontier::store::{corrupt, io_error};
use crate::frontier::{Candidate, FrontierError};

impl Inner {
    pub(super) fn io(&self) -> impl Fn(std::io::Error) -> FrontierError + '_ {
        |e| io_error(&self.store.dir, e)
    }

    pub(super) fn corrupt(&self, message: &str) -> FrontierError {
        corrupt(&self.store.dir, message)
    }

    /// The seen-set's value for `key` (staged or stored).
    pub(super) fn seen_value(&self, key: &[u8; 16]) -> Result<Option<u64>, FrontierError> {
        match self.staged_seen.get(key) {
            Some(value) => Ok(Some(*value)),
            None => self.store.seen.get(key).map_err(self.io()),
        }
    }

    pub(super) fn header(&self, at: u64) -> Result<(Header, bool), FrontierError> {
        let header = self.store.queue.header(at).map_err(self.io())?;
        let removed = header.removed || self.staged_removed.contains(&at);
        Ok((header, removed))
    }

    /// The record after the one at `at` in its host's chain (offsets only grow).
    pub(super) fn next_of(&self, at: u64, header: Header) -> Result<u64, FrontierError> {
        if header.next <= at {
            return Err(self.corrupt("a queue link points backwards"));
        }
        Ok(header.next)
    }

    pub(super) fn host_id(&mut self, host: String) -> Result<u32, FrontierError> {
        if let Some(id) = self.schedule.find(&host) {
            return Ok(id);
        }
        let record = HostRecord {
            name_at: self.names_len,
            name_len: u32::try_from(host.len()).map_err(|_| self.corrupt("host name"))?,
            ..HostRecord::default()
        };
        self.names_len = self.names_len.saturating_add(host.len() as u64);
        let id = self.schedule.add(host, record);
        let id = id.ok_or_else(|| self.corrupt("more than 2^32 hosts"))?;
        self.schedule.host_mut(id).dirty = true;
        Ok(id)
    }

    /// The first live record of `id` from its cursor or head, and its candidate.
    pub(super) fn first_live(&self, id: u32) -> Result<(u64, Candidate), FrontierError> {
        let host = self.schedule.host(id);
        let (head, tail) = (host.record.head, host.record.tail);
        let mut at = host.cursor.filter(|c| *c > head).unwrap_or(head);
        loop {
            let (header, removed) = self.header(at)?;
            if !removed {
                let bytes = self.store.queue.payload(at, header).map_err(self.io())?;
                let candidate = codec::read_candidate(&bytes).map_err(|m| self.corrupt(&m))?;
                return Ok((at, candidate));
            }
            if at >= tail {
                return Err(self.corrupt("a queue is shorter than its count"));
            }
            at = self.next_of(at, header)?;
        }
    }

    /// The checkpoint's operations: the state first, then the staged seen keys, removals,
    /// changed host records and new hosts' names.
    pub(super) fn checkpoint_ops(&self, meta: &[u8]) -> Vec<Op> {
        let state = State {
            log_len: self.store.queue.len(),
            names_len: self.names_len,
            hosts: self.schedule.len() as u64,
            seen: self.seen,
            done: self.done,
            meta: meta.to_vec(),
        };
        let mut ops = vec![Op::State(state.bytes())];
        ops.extend(self.staged_seen.iter().map(|(k, v)| Op::Seen(*k, *v)));
        let removed = self.staged_removed.iter();
        ops.extend(removed.map(|at| Op::Write(Target::Queue, at + REMOVED_AT, vec![1])));
        // Runs of changed records (and of new names) go as one write each: a crawl over
        // many hosts changes most of them between two checkpoints.
        let mut records: Option<(u64, Vec<u8>)> = None;
        let mut names: Option<(u64, Vec<u8>)> = None;
        for (id, host) in self.schedule.hosts() {
            let at = u64::from(id) * HOST_RECORD as u64;
            if host.dirty {
                extend_run(
                    &mut ops,
                    Target::Hosts,
                    &mut records,
                    at,
                    &host.record.bytes(),
                );
            }
            if id >= self.committed_hosts {
                let name = host.name.as_bytes();
                extend_run(
                    &mut ops,
                    Target::Names,
                    &mut names,
                    host.record.name_at,
                    name,
                );
            }
        }
        let runs = [(Target::Hosts, records), (Target::Names, names)];
        for (target, run) in runs {
            ops.extend(run.map(|(at, bytes)| Op::Write(target, at, bytes)));
        }
        ops
    }
}

/// Appends `bytes` at `at` to the run of writes in `run` if it follows it, else ends the
/// run as an operation and starts another.
fn extend_run(
    ops: &mut Vec<Op>,
    target: Target,
    run: &mut Option<(u64, Vec<u8>)>,
    at: u64,
    bytes: &[u8],
) {
    const MAX_RUN: usize = 1 << 20;
    match run {
        Some((start, buf)) if *start + buf.len() as u64 == at && buf.len() < MAX_RUN => {
            buf.extend_from_slice(bytes);
        }
        _ => {
            if let Some((start, buf)) = run.take() {
                ops.push(Op::Write(target, start, buf));
            }
            *run = Some((at, bytes.to_vec()));
        }
    }
}
