//! What was published before, kept in the store's `crawler-info` tree: the last published
//! state, the last published checkpoint, and every feed entry. Each run compares the new
//! state and the log's head with them and adds an entry for what moved (Code of Practice,
//! Measure 1.3(4): rightsholders are notified of changes, here by an Atom feed).
//!
//! Keys: `feed` (the feed's id and creation time), `state` (the published state as JSON and
//! when it last changed), `checkpoint` (the last published checkpoint), and `entry` NUL +
//! 8-byte big-endian index (one feed entry each). A run writes all of them in one batch.

use super::CrawlerInfoError;
use super::checkpoint::{Checkpoint, verified_head};
use optout_evidence::{Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

const FEED_KEY: &[u8] = b"feed";
const STATE_KEY: &[u8] = b"state";
const CHECKPOINT_KEY: &[u8] = b"checkpoint";
const ENTRY_PREFIX: &[u8] = b"entry\0";

/// Entries the feed carries (the newest); the store keeps them all.
pub const FEED_ENTRIES: usize = 100;

/// Characters of a changed field's new value quoted in an entry.
const QUOTED_CHARS: usize = 300;

/// One feed entry (RFC 4287 §4.1.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// A `urn:uuid:` made once, when the entry was (§4.2.6: an id never changes).
    pub id: String,
    /// One line.
    pub title: String,
    /// When the change was published (RFC 3339).
    pub updated: String,
    /// What changed, one item a line.
    pub content: String,
}

/// The feed and state after a run.
#[derive(Clone, Debug)]
pub struct Journal {
    /// The feed's `urn:uuid:` id.
    pub feed_id: String,
    /// When a published field last changed (the state's date).
    pub changed_at: String,
    /// The last published checkpoint, if the log has records.
    pub checkpoint: Option<Checkpoint>,
    /// The newest entries, newest first, at most [`FEED_ENTRIES`].
    pub entries: Vec<Entry>,
    /// Entries this run added.
    pub added: usize,
    /// Entries in the store.
    pub total: u64,
}

#[derive(Serialize, Deserialize)]
struct FeedMeta {
    id: String,
    created: String,
}

#[derive(Serialize, Deserialize)]
struct State {
    changed_at: String,
    info: Value,
}

/// Compares `info` (the state to publish) and the log's head with what was published
/// before, stores an entry for each difference, and returns the feed. `now` dates the new
/// entries. A log that does not verify, or no longer holds the checkpoint published before,
/// is an error and nothing is stored: a published checkpoint vouches for the log.
pub fn update(store: &Store, info: &Value, now: &str) -> Result<Journal, CrawlerInfoError> {
    let feed: FeedMeta = match read(store, FEED_KEY)? {
        Some(feed) => feed,
        None => FeedMeta {
            id: new_id(),
            created: now.to_owned(),
        },
    };
    let previous: Option<State> = read(store, STATE_KEY)?;
    let published: Option<Checkpoint> = read(store, CHECKPOINT_KEY)?;
    let head = verified_head(store, published.as_ref())?;

    let mut added = Vec::new();
    let changed_at = match &previous {
        None => {
            added.push(entry(
                "Crawler information first published",
                "The crawler's page, its JSON, its IP ranges and this feed were published.".into(),
                now,
            ));
            now.to_owned()
        }
        Some(state) => {
            let changes = changes(&state.info, info);
            if changes.is_empty() {
                state.changed_at.clone()
            } else {
                added.push(change_entry(&changes, info, now));
                now.to_owned()
            }
        }
    };
    let checkpoint = match head {
        Some((seq, hash)) if published.as_ref().is_none_or(|p| p.seq != seq) => {
            let checkpoint = Checkpoint {
                seq,
                hash,
                time: now.to_owned(),
            };
            added.push(entry(
                &format!("Evidence log checkpoint: record {seq}"),
                checkpoint.to_string(),
                now,
            ));
            Some(checkpoint)
        }
        _ => published,
    };

    let mut next = last_index(store)?.map_or(0, |i| i + 1);
    let mut batch = vec![(FEED_KEY.to_vec(), json(&feed))];
    let state = State {
        changed_at: changed_at.clone(),
        info: info.clone(),
    };
    batch.push((STATE_KEY.to_vec(), json(&state)));
    if let Some(checkpoint) = &checkpoint {
        batch.push((CHECKPOINT_KEY.to_vec(), json(checkpoint)));
    }
    for e in &added {
        batch.push((entry_key(next), json(e)));
        next += 1;
    }
    // All or none, and durable when it returns.
    store.backend().journal_put(batch)?;
    Ok(Journal {
        feed_id: feed.id,
        changed_at,
        checkpoint,
        entries: newest(store)?,
        added: added.len(),
        total: next,
    })
}

/// A stored value's bytes. Everything stored is plain data (strings, numbers, JSON values
/// with string keys), which serde_json cannot fail to write.
fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// The fields that differ between two states, as dotted paths (`contact.email`); arrays are
/// compared whole.
pub fn changes(before: &Value, after: &Value) -> Vec<String> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten("", before, &mut a);
    flatten("", after, &mut b);
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

fn flatten<'a>(path: &str, value: &'a Value, out: &mut BTreeMap<String, &'a Value>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, v) in map {
                let path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                flatten(&path, v, out);
            }
        }
        other => {
            out.insert(path.to_owned(), other);
        }
    }
}

/// The entry for changed fields: named in the title, with their new values.
fn change_entry(changes: &[String], info: &Value, now: &str) -> Entry {
    let named = match changes {
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [a, b, c] => format!("{a}, {b} and {c}"),
        [a, b, c, rest @ ..] => format!("{a}, {b}, {c} and {} more", rest.len()),
        [] => String::new(),
    };
    let content = changes
        .iter()
        .map(|path| {
            let pointer = format!("/{}", path.replace('.', "/"));
            let value = info.pointer(&pointer).map_or_else(
                || "(removed)".to_owned(),
                |v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
            );
            let quoted: String = value.chars().take(QUOTED_CHARS).collect();
            let more = if quoted.len() < value.len() {
                "..."
            } else {
                ""
            };
            format!("{path}: {quoted}{more}")
        })
        .collect::<Vec<_>>()
        .join("\n");
    entry(&format!("Changed: {named}"), content, now)
}

fn entry(title: &str, content: String, now: &str) -> Entry {
    Entry {
        id: new_id(),
        title: title.to_owned(),
        updated: now.to_owned(),
        content,
    }
}

fn new_id() -> String {
    format!("urn:uuid:{}", uuid::Uuid::new_v4())
}

fn entry_key(index: u64) -> Vec<u8> {
    let mut key = ENTRY_PREFIX.to_vec();
    key.extend_from_slice(&index.to_be_bytes());
    key
}

/// A stored JSON value; unreadable bytes are a damaged store, named.
fn read<T: serde::de::DeserializeOwned>(
    store: &Store,
    key: &[u8],
) -> Result<Option<T>, StoreError> {
    let Some(bytes) = store.backend().journal(key)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        store.damaged(format!(
            "crawler-info {} is unreadable ({e})",
            String::from_utf8_lossy(key).trim_end_matches('\0')
        ))
    })
}

fn last_index(store: &Store) -> Result<Option<u64>, StoreError> {
    let Some((key, _)) = store.backend().journal_newest(ENTRY_PREFIX, 1)?.pop() else {
        return Ok(None);
    };
    let index = <[u8; 8]>::try_from(&key[ENTRY_PREFIX.len()..])
        .map_err(|_| store.damaged("crawler-info has an entry key of the wrong length"))?;
    Ok(Some(u64::from_be_bytes(index)))
}

/// The newest [`FEED_ENTRIES`] entries, newest first.
fn newest(store: &Store) -> Result<Vec<Entry>, StoreError> {
    let mut entries = Vec::new();
    for (key, bytes) in store.backend().journal_newest(ENTRY_PREFIX, FEED_ENTRIES)? {
        let entry = serde_json::from_slice(&bytes).map_err(|e| {
            store.damaged(format!(
                "crawler-info entry {} is unreadable ({e})",
                hex::encode(&key[ENTRY_PREFIX.len()..])
            ))
        })?;
        entries.push(entry);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use optout_sled::Sled;
    use serde_json::json;

    #[test]
    fn changes_name_the_leaves_that_moved() {
        let before =
            json!({"contact": {"email": "a@x.example", "url": "u"}, "tokens": ["a"], "gone": 1});
        let after = json!({"contact": {"email": "b@x.example", "url": "u"}, "tokens": ["a", "b"], "new": {}});
        assert_eq!(
            changes(&before, &after),
            ["contact.email", "gone", "new", "tokens"]
        );
        assert!(changes(&after, &after).is_empty());
        let e = change_entry(&changes(&before, &after), &after, "t");
        assert_eq!(e.title, "Changed: contact.email, gone, new and 1 more");
        assert!(
            e.content.contains("contact.email: b@x.example"),
            "{}",
            e.content
        );
        assert!(e.content.contains("gone: (removed)"), "{}", e.content);
    }

    #[test]
    fn one_entry_per_change_and_none_without() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let first = update(&store, &json!({"a": 1}), "2026-01-01T00:00:00Z").unwrap();
        assert_eq!((first.added, first.total), (1, 1));
        assert!(first.checkpoint.is_none(), "an empty log has no checkpoint");
        let again = update(&store, &json!({"a": 1}), "2026-01-02T00:00:00Z").unwrap();
        assert_eq!((again.added, again.total), (0, 1));
        assert_eq!(again.changed_at, "2026-01-01T00:00:00Z");
        assert_eq!(again.feed_id, first.feed_id);
        assert_eq!(again.entries, first.entries);
        let changed = update(&store, &json!({"a": 2}), "2026-01-03T00:00:00Z").unwrap();
        assert_eq!((changed.added, changed.total), (1, 2));
        assert_eq!(changed.entries[0].title, "Changed: a");
        assert_eq!(changed.entries[1], first.entries[0]);
    }

    #[test]
    fn a_damaged_state_is_one_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .crawler_info()
            .unwrap()
            .insert(STATE_KEY, &b"{not json"[..])
            .unwrap();
        let err = update(&store, &json!({}), "t").unwrap_err().to_string();
        assert!(err.contains("crawler-info state is unreadable"), "{err}");
    }

    /// A checkpoint is published once per head; a log that no longer holds the published
    /// one (rewritten, or replaced by a shorter one) publishes nothing.
    #[test]
    fn checkpoints_follow_the_head_and_a_rewritten_log_is_refused() {
        use optout_evidence::{Durability, EvidenceLog, Record, SourceRef};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let log = EvidenceLog::open(store.clone(), Durability::default()).unwrap();
        let robots = b"User-agent: *\nDisallow: /private/\n";
        let source = SourceRef::offline("robots.txt", "test", robots);
        log.put_snapshot_with_hash(&source.sha256, robots).unwrap();
        let append = |path: &str| {
            let url = url::Url::parse(&format!("https://example.com{path}")).unwrap();
            let decision = optout_policy::RobotsTxt::parse(robots).allowed("optout", &url);
            let record = Record::of_decision(
                &url,
                "optout",
                optout_policy::Purpose::TrainAi,
                &decision,
                vec![source.clone()],
            );
            log.append(record).unwrap();
            log.sync().unwrap();
        };
        append("/a");
        let one = update(&store, &json!({}), "t1").unwrap();
        let published = one.checkpoint.clone().unwrap();
        assert_eq!(published.seq, 1);
        assert_eq!(one.entries[0].content, published.to_string());
        assert_eq!(update(&store, &json!({}), "t2").unwrap().added, 0);
        append("/private/b");
        let two = update(&store, &json!({}), "t3").unwrap();
        assert_eq!((two.added, two.checkpoint.as_ref().unwrap().seq), (1, 2));
        assert_eq!(two.entries[0].title, "Evidence log checkpoint: record 2");

        let tree = store.crawler_info().unwrap();
        for forged in [
            Checkpoint {
                hash: "00".repeat(32),
                ..published.clone()
            },
            Checkpoint {
                seq: 3,
                ..published.clone()
            },
        ] {
            tree.insert(CHECKPOINT_KEY, json(&forged)).unwrap();
            let err = update(&store, &json!({"changed": true}), "t4").unwrap_err();
            assert!(matches!(err, CrawlerInfoError::Rewritten(_)), "{err}");
            assert!(err.to_string().contains(&forged.to_string()), "{err}");
        }
        // Nothing was stored by the refused runs.
        assert_eq!(last_index(&store).unwrap(), Some(2));
    }
}
