//! Evidence-log checkpoints as the feed publishes them: the head of a verified log, in the
//! line `optout log checkpoint` prints. A published checkpoint vouches for the log up to
//! it, so a log that no longer holds it is refused.

use super::CrawlerInfoError;
use optout_evidence::verify::VerifyError;
use optout_evidence::{Head, Store, StoreError, verify_store};
use serde_json::Value;

pub use optout_evidence::Checkpoint;

/// The log's head as `(seq, hash)`, after verifying the whole log as `optout log
/// checkpoint` does; `None` for an empty log. The checkpoint published before must still be
/// in the log, with the same hash.
pub(super) fn verified_head(
    store: &Store,
    published: Option<&Checkpoint>,
) -> Result<Option<(u64, String)>, CrawlerInfoError> {
    verify_store(store).map_err(|e| match e {
        VerifyError::Broken(broken) => CrawlerInfoError::Broken(broken),
        VerifyError::Store(e) => e.into(),
        VerifyError::Io(source) => StoreError::Io {
            path: store.path().to_owned(),
            source,
        }
        .into(),
    })?;
    let head = Head::read(store)?;
    if let Some(published) = published {
        let still = (published.seq <= head.seq)
            .then(|| record_hash(store, published.seq))
            .transpose()?
            .flatten();
        if still.as_deref() != Some(published.hash.as_str()) {
            return Err(CrawlerInfoError::Rewritten(published.to_string()));
        }
    }
    Ok((head.seq > 0).then(|| (head.seq, hex::encode(head.hash))))
}

/// The stored hash of record `seq`.
fn record_hash(store: &Store, seq: u64) -> Result<Option<String>, StoreError> {
    let Some(entry) = store.backend().record(seq)? else {
        return Ok(None);
    };
    let value: Option<Value> = serde_json::from_slice(entry.bytes()).ok();
    Ok(value
        .as_ref()
        .and_then(|v| v.get("hash"))
        .and_then(Value::as_str)
        .map(str::to_owned))
}
