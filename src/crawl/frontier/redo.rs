//! The redo log that makes a checkpoint atomic without one huge sled batch.
//!
//! Measured first: one `apply_batch` of a checkpoint's 200,000 writes made sled 0.34 hold
//! about a gigabyte (it keeps every replaced page of the batch until the batch ends; see
//! docs/frontier.md). So a checkpoint writes its writes to `frontier.redo.tmp`, syncs it and
//! renames it to [`FILE`] (the commit point), applies them to sled one by one, flushes sled,
//! and removes the file. Opening re-applies a [`FILE`] left by a crash: the writes are puts
//! and removes of keys, so applying them again is harmless. A `.tmp` left by a crash is a
//! checkpoint that never happened and is removed.
//!
//! Format: records of `op` (1 put, 0 remove), key length (u32 BE), key, and for a put the
//! value length (u32 BE) and value.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

/// The committed redo log in the frontier directory.
pub(super) const FILE: &str = "frontier.redo";
const TMP: &str = "frontier.redo.tmp";

/// Writes `writes` durably as the redo log of `dir` (committed when this returns).
pub(super) fn write<'a>(
    dir: &Path,
    writes: impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)>,
) -> std::io::Result<()> {
    let tmp = dir.join(TMP);
    let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
    for (key, value) in writes {
        out.write_all(&[u8::from(value.is_some())])?;
        write_bytes(&mut out, key)?;
        if let Some(value) = value {
            write_bytes(&mut out, value)?;
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

/// Applies the redo log of `dir` to `db`, if there is one, flushes and removes it; removes
/// an uncommitted `.tmp`. An unreadable log is an error (`Err(message)`), never a panic.
pub(super) fn recover(dir: &Path, db: &sled::Db) -> Result<(), String> {
    let _ = std::fs::remove_file(dir.join(TMP));
    let path = dir.join(FILE);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot read {FILE}: {e}")),
    };
    let mut input = BufReader::with_capacity(1 << 20, file);
    loop {
        let mut op = [0u8; 1];
        match input.read(&mut op) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Err(format!("cannot read {FILE}: {e}")),
        }
        let key = read_bytes(&mut input)?;
        let applied = match op[0] {
            1 => db.insert(key, read_bytes(&mut input)?).map(drop),
            0 => db.remove(key).map(drop),
            other => return Err(format!("{FILE}: unknown operation {other}")),
        };
        applied.map_err(|e| format!("applying {FILE}: {e}"))?;
    }
    db.flush().map_err(|e| format!("applying {FILE}: {e}"))?;
    std::fs::remove_file(&path).map_err(|e| format!("cannot remove {FILE}: {e}"))
}

/// The longest key or value the frontier writes is far below this; a longer length is damage.
const MAX_LEN: u32 = 64 * 1024 * 1024;

fn read_bytes(input: &mut impl Read) -> Result<Vec<u8>, String> {
    let cut = |_| format!("{FILE} is cut short");
    let mut len = [0u8; 4];
    input.read_exact(&mut len).map_err(cut)?;
    let len = u32::from_be_bytes(len);
    if len > MAX_LEN {
        return Err(format!("{FILE}: a length of {len} bytes"));
    }
    let mut bytes = Vec::new();
    input
        .take(u64::from(len))
        .read_to_end(&mut bytes)
        .map_err(cut)?;
    if bytes.len() != len as usize {
        return Err(format!("{FILE} is cut short"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn db(dir: &Path) -> sled::Db {
        sled::Config::new()
            .path(dir.join("db"))
            .temporary(true)
            .open()
            .unwrap()
    }

    #[test]
    fn a_committed_log_is_applied_once_and_an_uncommitted_one_never() {
        let dir = tempfile::tempdir().unwrap();
        let db = db(dir.path());
        db.insert(b"gone", b"x".to_vec()).unwrap();
        let writes = [
            (&b"a"[..], Some(&b"1"[..])),
            (b"gone", None),
            (b"empty", Some(b"")),
        ];
        write(dir.path(), writes.into_iter()).unwrap();
        // A crash here: the log is committed, sled has not seen it. Applying twice is the same.
        for _ in 0..2 {
            std::fs::copy(dir.path().join(FILE), dir.path().join("again")).unwrap();
            recover(dir.path(), &db).unwrap();
            assert_eq!(db.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
            assert_eq!(db.get(b"empty").unwrap().as_deref(), Some(&b""[..]));
            assert_eq!(db.get(b"gone").unwrap(), None);
            assert!(!dir.path().join(FILE).exists());
            std::fs::rename(dir.path().join("again"), dir.path().join(FILE)).unwrap();
        }
        // A crash before the rename: the `.tmp` is not a checkpoint.
        std::fs::remove_file(dir.path().join(FILE)).unwrap();
        std::fs::write(dir.path().join(TMP), b"\x01\0\0\0\x01b\0\0\0\x012").unwrap();
        recover(dir.path(), &db).unwrap();
        assert_eq!(db.get(b"b").unwrap(), None);
        assert!(!dir.path().join(TMP).exists());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn a_damaged_log_is_an_error_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let dir = tempfile::tempdir().unwrap();
            let db = db(dir.path());
            std::fs::write(dir.path().join(FILE), &bytes).unwrap();
            if recover(dir.path(), &db).is_ok() {
                prop_assert!(db.len() <= bytes.len() / 9 + 1);
            }
        }
    }
}
