//! Reading and rewriting the evidence log's blocks (store schema 2, `docs/evidence.md`)
//! straight from the `records` tree, without the library's reader, so that the tests that
//! corrupt a store act on the record inside whatever block holds it, and check the layout
//! independently of the code under test.
//!
//! A value under the 8-byte big-endian key K holds records K, K+1, ... joined by `\n`; the
//! 9-byte key `HEAD_KEY` holds the head.

use optout::store::{Sled, Store};

/// A block: its key and its records (the value split at newlines).
pub type Block = (u64, Vec<Vec<u8>>);

fn split(value: &[u8]) -> Vec<Vec<u8>> {
    value.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
}

/// Every block, in key order (the head left out).
pub fn blocks(store: &Store) -> Vec<Block> {
    store
        .records()
        .iter()
        .map(Result::unwrap)
        .filter_map(|(key, value)| {
            let key = <[u8; 8]>::try_from(key.as_ref()).ok()?;
            Some((u64::from_be_bytes(key), split(&value)))
        })
        .collect()
}

/// Every stored record in order: its block's key, its place in the block, its bytes.
pub fn all_stored(store: &Store) -> Vec<(u64, u64, Vec<u8>)> {
    blocks(store)
        .into_iter()
        .flat_map(|(key, lines)| (0u64..).zip(lines).map(move |(i, bytes)| (key, i, bytes)))
        .collect()
}

/// The block holding record `seq`, by position: the one with the greatest key not above
/// `seq`, if it has that many records.
pub fn block_of(store: &Store, seq: u64) -> Option<Block> {
    for item in store.records().range(..=seq.to_be_bytes()).rev() {
        let (key, value) = item.unwrap();
        let Ok(key) = <[u8; 8]>::try_from(key.as_ref()) else {
            continue;
        };
        let key = u64::from_be_bytes(key);
        let lines = split(&value);
        return (seq - key < lines.len() as u64).then_some((key, lines));
    }
    None
}

/// Writes `lines` as the block at `key` (removes the key if there are none), and flushes.
pub fn put_block(store: &Store, key: u64, lines: &[Vec<u8>]) {
    if lines.is_empty() {
        store.records().remove(key.to_be_bytes()).unwrap();
    } else {
        store
            .records()
            .insert(key.to_be_bytes(), lines.join(&b'\n'))
            .unwrap();
    }
    store.flush().unwrap();
}

/// The stored bytes of record `seq`.
pub fn stored_bytes(store: &Store, seq: u64) -> Option<Vec<u8>> {
    let (key, mut lines) = block_of(store, seq)?;
    Some(lines.swap_remove((seq - key) as usize))
}

/// Rewrites record `seq`, inside its block, as `bytes`.
pub fn put_stored_bytes(store: &Store, seq: u64, bytes: &[u8]) {
    let (key, mut lines) = block_of(store, seq).expect("the record is stored");
    lines[(seq - key) as usize] = bytes.to_vec();
    put_block(store, key, &lines);
}

/// Removes record `seq` from its block (the block keeps its key; a block that held only that
/// record goes). Returns the record's bytes.
pub fn remove_stored(store: &Store, seq: u64) -> Vec<u8> {
    let (key, mut lines) = block_of(store, seq).expect("the record is stored");
    let bytes = lines.remove((seq - key) as usize);
    put_block(store, key, &lines);
    bytes
}

/// Swaps records `a` and `b`, wherever they are stored.
pub fn swap_stored(store: &Store, a: u64, b: u64) {
    let (x, y) = (stored_bytes(store, a), stored_bytes(store, b));
    put_stored_bytes(store, a, &y.expect("record a is stored"));
    put_stored_bytes(store, b, &x.expect("record b is stored"));
}
