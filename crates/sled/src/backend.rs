//! The evidence layer's [`Backend`] on the sled store: the log's head and blocks, snapshots,
//! the policy-source cache and the crawler page's journal, each in its tree.

use super::block;
use super::db::{HEAD_KEY, SledStore, sled_error};
use super::log::SledLog;
use optout_evidence::StoreError;
use optout_evidence::backend::{
    Appender, Backend, Durability, Entry, Head, KeyValues, Records, Snapshots,
};
use std::any::Any;
use std::path::Path;

impl Backend for SledStore {
    fn location(&self) -> &Path {
        self.path()
    }

    fn head(&self) -> Result<Head, StoreError> {
        let sled = |e| self.error(e);
        match self.records_tree().get(HEAD_KEY).map_err(sled)? {
            Some(v) => {
                Head::decode(&v).ok_or_else(|| self.damaged("the head of the log is unreadable"))
            }
            None if self
                .records_tree()
                .first()
                .map_err(sled)?
                .is_some_and(|(k, _)| k.as_ref() != HEAD_KEY) =>
            {
                Err(self.damaged("the log has records but no head; run `optout log verify`"))
            }
            None => Ok(Head {
                seq: 0,
                hash: [0; 32],
            }),
        }
    }

    fn acknowledged(&self) -> Option<Head> {
        self.acknowledged_head().as_deref().and_then(Head::decode)
    }

    fn records(&self) -> Records<'_> {
        Box::new(block::Blocks::new(self))
    }

    fn record(&self, seq: u64) -> Result<Option<Entry>, StoreError> {
        block::get(self, seq)
    }

    fn last(&self) -> Result<Option<Entry>, StoreError> {
        block::last(self)
    }

    /// Reads every page first (a flipped byte in an old block, which a writer that reads
    /// only the end of the log would never see), then starts the writer.
    fn open_log(
        &self,
        head: Head,
        durability: Durability,
    ) -> Result<Box<dyn Appender>, StoreError> {
        self.check_pages()?;
        Ok(Box::new(SledLog::start(self.clone(), head, durability)))
    }

    fn flush(&self) -> Result<(), StoreError> {
        SledStore::flush(self)
    }

    fn put_snapshot(&self, hash: &[u8], bytes: &[u8]) -> Result<(), StoreError> {
        SledStore::put_snapshot(self, hash, bytes)
    }

    fn snapshot(&self, hash: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(SledStore::snapshot(self, hash)?.map(|bytes| bytes.to_vec()))
    }

    fn snapshots(&self) -> Snapshots<'_> {
        Box::new(self.snapshot_entries())
    }

    fn policy(&self, kind: &str, origin: &str) -> Result<Option<Vec<u8>>, StoreError> {
        // As the cache has always reported sled's errors: without the store's path.
        let found = self
            .policy_tree()
            .get(policy_key(kind, origin))
            .map_err(sled_error)?;
        Ok(found.map(|bytes| bytes.to_vec()))
    }

    fn put_policy(&self, kind: &str, origin: &str, value: &[u8]) -> Result<(), StoreError> {
        self.policy_tree()
            .insert(policy_key(kind, origin), value)
            .map_err(sled_error)?;
        Ok(())
    }

    fn journal(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let found = self.crawler_info()?.get(key).map_err(|e| self.error(e))?;
        Ok(found.map(|bytes| bytes.to_vec()))
    }

    fn journal_newest(&self, prefix: &[u8], n: usize) -> Result<KeyValues, StoreError> {
        self.crawler_info()?
            .scan_prefix(prefix)
            .rev()
            .take(n)
            .map(|item| {
                let (key, value) = item.map_err(|e| self.error(e))?;
                Ok((key.to_vec(), value.to_vec()))
            })
            .collect()
    }

    fn journal_put(&self, puts: KeyValues) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (key, value) in puts {
            batch.insert(key, value);
        }
        self.crawler_info()?
            .apply_batch(batch)
            .map_err(|e| self.error(e))?;
        SledStore::flush(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The policy tree's key: `<kind> NUL <origin>`.
fn policy_key(kind: &str, origin: &str) -> Vec<u8> {
    let mut key = kind.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(origin.as_bytes());
    key
}
