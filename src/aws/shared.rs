//! Writing plinth's parts into a document it shares with others (an existing key's, queue's
//! or bucket's policy, an existing role's trust). None of these services offers a conditional
//! write, so the write is a read-modify-write that checks itself: read the document right
//! before writing, merge plinth's statements in by Sid (the others are sent back as AWS
//! returned them), write, wait a moment, read again. If another writer's read-modify-write
//! crossed this one and its write replaced plinth's statements, the check sees it and the
//! merge is done again on what that writer left. Two stacks adding different statements to
//! one key policy at once thus both end up present.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use super::AwsError;
use crate::model::shared::{tag_key, take_shares, Share};
use crate::policy::merge::{holds, merge_json_by_sid};
use crate::policy::PolicyDocument;

/// How long after a write the document is read again: longer than a read-modify-write of
/// another writer takes from its read to its write, so a write that replaced ours is seen.
const SETTLE: Duration = Duration::from_millis(1200);
/// How many times the merge is done again when another writer's write replaced it.
const ATTEMPTS: u32 = 6;

/// Merges `ours` into the document `read` returns, dropping the statements with a Sid in
/// `drop`, and writes it with `write` (`None`: no statement is left) until a read after the
/// write shows plinth's statements in place.
pub async fn merge_document<R, RF, W, WF>(
    what: &str,
    ours: Option<&PolicyDocument>,
    drop: &BTreeSet<String>,
    read: R,
    write: W,
) -> Result<(), AwsError>
where
    R: Fn() -> RF,
    RF: Future<Output = Result<Option<String>, AwsError>>,
    W: Fn(Option<String>) -> WF,
    WF: Future<Output = Result<(), AwsError>>,
{
    for attempt in 0..ATTEMPTS {
        let live = read().await?;
        let merged =
            merge_json_by_sid(live.as_deref(), ours, drop).map_err(|e| damaged(what, e))?;
        let unchanged = live
            .as_deref()
            .and_then(|l| PolicyDocument::parse(l).ok())
            .is_some_and(|l| holds(&l, ours, drop));
        if unchanged {
            return Ok(());
        }
        write(merged).await?;
        tokio::time::sleep(SETTLE + jitter(attempt)).await;
        let after = read().await?;
        let after = after.as_deref().map(PolicyDocument::parse);
        let in_place = match after {
            Some(Ok(doc)) => holds(&doc, ours, drop),
            None => ours.is_none_or(|o| o.statements().is_empty()),
            Some(Err(_)) => false,
        };
        if in_place {
            return Ok(());
        }
        tracing::warn!("{what}: another write replaced plinth's statements; merging again");
    }
    Err(AwsError {
        operation: format!("merge into {what}"),
        code: None,
        message: format!(
            "another writer kept replacing the document; plinth's statements are not in place after {ATTEMPTS} attempts"
        ),
        hint: Some(
            "find what else writes this policy (another tool, or a stack that owns the whole document) and run apply again".into(),
        ),
    })
}

/// The read-modify-write of [`merge_document`] for a collection that is not a policy (a
/// shared bucket's CORS rules or notifications): `merge` makes the collection to write from
/// the live one, `holds` says whether plinth's entries are in place in what was read.
pub async fn merge_collection<T, R, RF, W, WF>(
    what: &str,
    read: R,
    merge: impl Fn(T) -> T,
    holds: impl Fn(&T) -> bool,
    write: W,
) -> Result<(), AwsError>
where
    R: Fn() -> RF,
    RF: Future<Output = Result<T, AwsError>>,
    W: Fn(T) -> WF,
    WF: Future<Output = Result<(), AwsError>>,
{
    for attempt in 0..ATTEMPTS {
        let live = read().await?;
        if holds(&live) {
            return Ok(());
        }
        write(merge(live)).await?;
        tokio::time::sleep(SETTLE + jitter(attempt)).await;
        if holds(&read().await?) {
            return Ok(());
        }
        tracing::warn!("{what}: another write replaced plinth's entries; merging again");
    }
    Err(AwsError {
        operation: format!("merge into {what}"),
        code: None,
        message: format!(
            "another writer kept replacing them; plinth's entries are not in place after {ATTEMPTS} attempts"
        ),
        hint: Some(
            "find what else writes them (another tool, or a stack that owns the whole bucket) and run apply again".into(),
        ),
    })
}

/// Up to a second more, different per process and attempt, so that two writers that keep
/// crossing each other fall out of step.
fn jitter(attempt: u32) -> Duration {
    let mut bytes = [0u8; 2];
    let random = if getrandom::fill(&mut bytes).is_ok() {
        u16::from_le_bytes(bytes) as u64
    } else {
        (std::process::id() as u64).wrapping_mul(attempt as u64 + 7)
    };
    Duration::from_millis(random % 1000)
}

fn damaged(what: &str, message: String) -> AwsError {
    AwsError {
        operation: format!("merge into {what}"),
        code: None,
        message,
        hint: Some("fix the document by hand so that it is a JSON policy, then apply again".into()),
    }
}

/// What a planned change to a shared resource asks of its adapter.
pub struct SharedChange {
    /// The parts this stack will manage; empty when it lets go of the resource.
    pub parts: BTreeSet<String>,
    address: crate::model::Address,
    desired: Option<crate::model::Attributes>,
}

impl SharedChange {
    /// `Some` for a change to a resource marked `existing` in the plan.
    pub fn of(change: &crate::plan::ResourceChange) -> Option<SharedChange> {
        use crate::model::Value;
        use crate::plan::shared::{EXISTING, MANAGES};
        let marked = |a: Option<&crate::model::Attributes>| {
            a.is_some_and(|a| a.get(EXISTING) == Some(&Value::Bool(true)))
        };
        if !marked(change.desired.as_ref()) && !marked(change.live.as_deref()) {
            return None;
        }
        let desired = match change.action {
            crate::plan::Action::Delete => None,
            _ => change.desired.clone(),
        };
        let parts = match desired.as_ref().and_then(|d| d.get(MANAGES)) {
            Some(Value::Set(s)) => s.iter().cloned().collect(),
            _ => BTreeSet::new(),
        };
        Some(SharedChange {
            parts,
            address: change.address.clone(),
            desired,
        })
    }

    /// plinth's statements of one document (`policy`, `trust`), from the merged document the
    /// plan holds; `None` when the stack writes none.
    pub fn ours(&self, document: &str) -> Option<PolicyDocument> {
        let sids: BTreeSet<String> = self
            .parts
            .iter()
            .filter_map(|p| p.strip_prefix(document)?.strip_prefix('/'))
            .map(str::to_string)
            .collect();
        if sids.is_empty() {
            return None;
        }
        let merged = self.desired.as_ref()?.get(document)?.as_policy()?;
        Some(crate::policy::merge::only_sids(merged, &sids))
    }

    /// The Sids of `document` that `previous` recorded and this change no longer writes.
    pub fn dropped(&self, previous: &Share, document: &str) -> BTreeSet<String> {
        let now = self.ours(document);
        let now: BTreeSet<String> = now
            .map(|d| crate::policy::merge::sids(&d))
            .unwrap_or_default();
        previous
            .sids(document)
            .filter(|s| !now.contains(*s))
            .map(str::to_string)
            .collect()
    }

    /// The ids of the parts with `prefix` (`cors`, `notification`, `setting`) this change
    /// manages.
    pub fn ids(&self, prefix: &str) -> BTreeSet<String> {
        self.parts
            .iter()
            .filter_map(|p| p.strip_prefix(prefix)?.strip_prefix('/'))
            .map(str::to_string)
            .collect()
    }

    /// The ids with `prefix` that `previous` recorded and this change no longer manages.
    pub fn dropped_ids(&self, previous: &Share, prefix: &str) -> BTreeSet<String> {
        let now = self.ids(prefix);
        previous
            .with_prefix(prefix)
            .filter(|id| !now.contains(*id))
            .map(str::to_string)
            .collect()
    }

    pub fn desired(&self) -> Option<&crate::model::Attributes> {
        self.desired.as_ref()
    }

    /// The record to write: this change's parts (with those of `previous` while the write is
    /// under way, so that an apply stopped half way leaves a record of everything it may have
    /// written).
    pub fn record(&self, previous: Option<&Share>) -> Share {
        let mut parts = self.parts.clone();
        if let Some(p) = previous {
            parts.extend(p.parts.iter().cloned());
        }
        Share {
            address: Some(self.address.clone()),
            parts,
        }
    }
}

/// The tag changes that turn `current` (the resource's tags) into `record` for `stack` (or
/// remove the stack's record, for `None`): tags to set, tag keys to remove.
pub fn record_tags(
    stack: &str,
    current: &BTreeMap<String, String>,
    record: Option<&Share>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let wanted = record
        .filter(|r| !r.parts.is_empty())
        .map(|r| r.tags(stack))
        .unwrap_or_default();
    let first = tag_key(stack, 0);
    let prefix = format!("{first}:");
    let removed = current
        .keys()
        .filter(|k| **k == first || k.starts_with(&prefix))
        .filter(|k| !wanted.contains_key(*k))
        .cloned()
        .collect();
    let set = wanted
        .into_iter()
        .filter(|(k, v)| current.get(k) != Some(v))
        .collect();
    (set, removed)
}

/// Whether `tags` hold `record` for `stack` exactly (hold none of it, for `None`).
pub fn record_in_place(
    stack: &str,
    tags: &BTreeMap<String, String>,
    record: Option<&Share>,
) -> bool {
    let (set, removed) = record_tags(stack, tags, record);
    set.is_empty() && removed.is_empty()
}

/// `tags` with `stack`'s record set to `record` (removed, for `None`), every other tag kept:
/// the whole set to write where a service writes only whole sets (S3).
pub fn with_record(
    stack: &str,
    mut tags: BTreeMap<String, String>,
    record: Option<&Share>,
) -> BTreeMap<String, String> {
    let (set, removed) = record_tags(stack, &tags, record);
    for key in removed {
        tags.remove(&key);
    }
    tags.extend(set);
    tags
}

/// `stack`'s record among a resource's tags.
pub fn previous_record(tags: &BTreeMap<String, String>, stack: &str) -> Share {
    let mut tags = tags.clone();
    take_shares(&mut tags).remove(stack).unwrap_or_default()
}

/// The tag keys `release = true` removes from a resource: `stack`'s record, and, when the
/// stack owns the resource, its ownership tags and plinth's other records on it. Another
/// stack's record is never touched.
pub fn released_tag_keys(tags: &BTreeMap<String, String>, stack: &str) -> Vec<String> {
    let owned = tags.get(crate::model::STACK_TAG).map(String::as_str) == Some(stack);
    let record = tag_key(stack, 0);
    let continued = format!("{record}:");
    tags.keys()
        .filter(|k| {
            if k.starts_with(crate::model::shared::SHARES_TAG_PREFIX) {
                **k == record || k.starts_with(&continued)
            } else {
                owned && k.starts_with("plinth:")
            }
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_removes_the_stacks_tags_and_no_other_stacks() {
        let tags: BTreeMap<String, String> = [
            ("plinth:stack", "tonic"),
            ("plinth:address", "key.sqs"),
            ("plinth:deletion-window-days", "7"),
            ("plinth:shares:tonic", "key.sqs policy/A"),
            ("plinth:shares:tonic:2", "policy/B"),
            ("plinth:shares:other", "key.theirs policy/C"),
            ("team", "data"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut keys = released_tag_keys(&tags, "tonic");
        keys.sort();
        assert_eq!(
            keys,
            [
                "plinth:address",
                "plinth:deletion-window-days",
                "plinth:shares:tonic",
                "plinth:shares:tonic:2",
                "plinth:stack"
            ]
        );
        let keys = released_tag_keys(&tags, "other");
        assert_eq!(
            keys,
            ["plinth:shares:other"],
            "not the owner: only its record"
        );
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn share(address: &str, parts: &[&str]) -> Share {
        Share {
            address: Some(crate::model::Address::try_from(address.to_string()).unwrap()),
            parts: parts.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn a_tag_set_another_stack_wrote_over_ours_is_seen_and_set_again_keeping_theirs() {
        let ours = share("bucket.data", &["cors/a"]);
        let before = tags(&[("team", "data")]);
        let written = with_record("a", before.clone(), Some(&ours));
        assert!(record_in_place("a", &written, Some(&ours)));
        // Stack b read the set before our write and wrote it back whole with its record.
        let crossed = with_record("b", before, Some(&share("bucket.data", &["cors/b"])));
        assert!(!record_in_place("a", &crossed, Some(&ours)));
        let again = with_record("a", crossed, Some(&ours));
        assert_eq!(
            again,
            tags(&[
                ("plinth:shares:a", "bucket.data cors/a"),
                ("plinth:shares:b", "bucket.data cors/b"),
                ("team", "data"),
            ])
        );
        // A removal that a stale write undid is seen too.
        assert!(!record_in_place("a", &again, None));
        let removed = with_record("a", again, None);
        assert!(record_in_place("a", &removed, None));
        assert!(removed.contains_key("plinth:shares:b"));
    }

    /// Two stacks' read-modify-writes of one tag set crossing: b's write, made from a read
    /// taken before ours, replaces ours once; the check after the write sees it and sets the
    /// record again, and both records end up on the resource.
    #[tokio::test]
    async fn the_record_is_written_again_after_a_crossing_write_lost_it() {
        use std::sync::Mutex;
        let ours = share("bucket.data", &["cors/a"]);
        let theirs = share("bucket.data", &["cors/b"]);
        let live = Mutex::new(tags(&[("team", "data")]));
        let stale = live.lock().unwrap().clone();
        let writes = Mutex::new(0);
        merge_collection(
            "the tags of bucket data",
            || async { Ok::<_, AwsError>(live.lock().unwrap().clone()) },
            |t| with_record("a", t, Some(&ours)),
            |t| record_in_place("a", t, Some(&ours)),
            |t| {
                let mut n = writes.lock().unwrap();
                *n += 1;
                *live.lock().unwrap() = if *n == 1 {
                    with_record("b", stale.clone(), Some(&theirs))
                } else {
                    t
                };
                async { Ok(()) }
            },
        )
        .await
        .unwrap();
        assert_eq!(*writes.lock().unwrap(), 2, "written again once");
        let end = live.lock().unwrap().clone();
        assert!(record_in_place("a", &end, Some(&ours)));
        assert!(record_in_place("b", &end, Some(&theirs)));
    }
}
