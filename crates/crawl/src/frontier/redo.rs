//! The redo log that makes a checkpoint atomic.
//!
//! A checkpoint writes everything it commits to `frontier.redo.tmp`, syncs it and renames it
//! to [`FILE`] (the commit point), then applies it to the frontier's files (`store`), syncs
//! them and removes the log. Opening re-applies a [`FILE`] left by a crash: every operation
//! is idempotent (a seen-set insert of a key whose value never changes, a write of bytes at
//! an offset, the state), so applying it twice is harmless. A `.tmp` left by a crash is a
//! checkpoint that never happened and is removed.
//!
//! Format: records of an operation byte, then for [`Op::State`] a length (u32 BE) and the
//! state (always first, so the seen table can grow before the inserts); for [`Op::Seen`] the
//! 16-byte key and the value (u64 BE); for [`Op::Write`] the target file (u8), the offset
//! (u64 BE), a length (u32 BE) and the bytes.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

/// The committed redo log in the frontier directory.
pub(super) const FILE: &str = "frontier.redo";
const TMP: &str = "frontier.redo.tmp";

/// The files a [`Op::Write`] writes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    /// `hosts.table`: host records.
    Hosts = 1,
    /// `hosts.names`: host names.
    Names = 2,
    /// `queue.log`: removed flags.
    Queue = 3,
}

/// One operation of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Op {
    State(Vec<u8>),
    Seen([u8; 16], u64),
    Write(Target, u64, Vec<u8>),
}

/// Writes `ops` durably as the redo log of `dir` (committed when this returns).
pub(super) fn write(dir: &Path, ops: impl Iterator<Item = Op>) -> std::io::Result<()> {
    let tmp = dir.join(TMP);
    let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
    for op in ops {
        match op {
            Op::State(state) => {
                out.write_all(&[1])?;
                write_bytes(&mut out, &state)?;
            }
            Op::Seen(key, value) => {
                out.write_all(&[2])?;
                out.write_all(&key)?;
                out.write_all(&value.to_be_bytes())?;
            }
            Op::Write(target, at, bytes) => {
                out.write_all(&[3, target as u8])?;
                out.write_all(&at.to_be_bytes())?;
                write_bytes(&mut out, &bytes)?;
            }
        }
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    std::fs::rename(&tmp, dir.join(FILE))?;
    File::open(dir)?.sync_all()
}

fn write_bytes(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(bytes.len()).map_err(|_| std::io::Error::other("value over 4 GiB"))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(bytes)
}

/// Removes an uncommitted `.tmp`, then gives each operation of the committed log of `dir` to
/// `apply`, in order. Returns whether there was a log (the caller syncs what it applied, then
/// calls [`remove`]). An unreadable log is an error (`Err(message)`), never a panic.
pub(super) fn replay(
    dir: &Path,
    mut apply: impl FnMut(Op) -> Result<(), String>,
) -> Result<bool, String> {
    let _ = std::fs::remove_file(dir.join(TMP));
    let file = match File::open(dir.join(FILE)) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(format!("cannot read {FILE}: {e}")),
    };
    let mut input = BufReader::with_capacity(1 << 20, file);
    loop {
        let mut op = [0u8; 1];
        match input.read(&mut op) {
            Ok(0) => return Ok(true),
            Ok(_) => {}
            Err(e) => return Err(format!("cannot read {FILE}: {e}")),
        }
        let op = match op[0] {
            1 => Op::State(read_bytes(&mut input)?),
            2 => {
                let key = read_array::<16>(&mut input)?;
                Op::Seen(key, u64::from_be_bytes(read_array(&mut input)?))
            }
            3 => {
                let target = match read_array::<1>(&mut input)?[0] {
                    1 => Target::Hosts,
                    2 => Target::Names,
                    3 => Target::Queue,
                    other => return Err(format!("{FILE}: unknown file {other}")),
                };
                let at = u64::from_be_bytes(read_array(&mut input)?);
                Op::Write(target, at, read_bytes(&mut input)?)
            }
            other => return Err(format!("{FILE}: unknown operation {other}")),
        };
        apply(op)?;
    }
}

/// Removes the applied log of `dir`.
pub(super) fn remove(dir: &Path) -> Result<(), String> {
    std::fs::remove_file(dir.join(FILE)).map_err(|e| format!("cannot remove {FILE}: {e}"))
}

/// The longest value the frontier writes is far below this; a longer length is damage.
const MAX_LEN: u32 = 64 * 1024 * 1024;

fn read_array<const N: usize>(input: &mut impl Read) -> Result<[u8; N], String> {
    let mut bytes = [0u8; N];
    input
        .read_exact(&mut bytes)
        .map_err(|_| format!("{FILE} is cut short"))?;
    Ok(bytes)
}

fn read_bytes(input: &mut impl Read) -> Result<Vec<u8>, String> {
    let len = u32::from_be_bytes(read_array(input)?);
    if len > MAX_LEN {
        return Err(format!("{FILE}: a length of {len} bytes"));
    }
    let mut bytes = Vec::new();
    input
        .take(u64::from(len))
        .read_to_end(&mut bytes)
        .map_err(|_| format!("{FILE} is cut short"))?;
    if bytes.len() != len as usize {
        return Err(format!("{FILE} is cut short"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn replayed(dir: &Path) -> Result<Option<Vec<Op>>, String> {
        let mut ops = Vec::new();
        let found = replay(dir, |op| {
            ops.push(op);
            Ok(())
        })?;
        Ok(found.then_some(ops))
    }

    #[test]
    fn a_committed_log_replays_until_removed_and_an_uncommitted_one_never() {
        let dir = tempfile::tempdir().unwrap();
        let ops = vec![
            Op::State(b"state".to_vec()),
            Op::Seen([7; 16], 42),
            Op::Write(Target::Queue, 99, vec![1]),
            Op::Write(Target::Names, 0, Vec::new()),
        ];
        write(dir.path(), ops.iter().cloned()).unwrap();
        // A crash before `remove`: the log replays again, the same.
        assert_eq!(replayed(dir.path()).unwrap().as_ref(), Some(&ops));
        assert_eq!(replayed(dir.path()).unwrap().as_ref(), Some(&ops));
        remove(dir.path()).unwrap();
        assert_eq!(replayed(dir.path()).unwrap(), None);
        // A crash before the rename: the `.tmp` is not a checkpoint.
        std::fs::write(dir.path().join(TMP), b"\x01\0\0\0\x01x").unwrap();
        assert_eq!(replayed(dir.path()).unwrap(), None);
        assert!(!dir.path().join(TMP).exists());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn a_damaged_log_is_an_error_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(FILE), &bytes).unwrap();
            let mut n = 0;
            let _ = replay(dir.path(), |_| {
                n += 1;
                Ok(())
            });
            prop_assert!(n <= bytes.len() / 5 + 1);
        }
    }
}
