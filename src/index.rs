//! The stack index: which resources a stack owns, kept in S3 next to the stack's lock, so a
//! plan reads them by name instead of listing every resource of the account.
//!
//! Tags stay the truth: a resource in the index counts as the stack's only when its
//! `plinth:stack` tag says so, and one that is gone is simply not found. The index only has to
//! name every resource the stack owns (a superset is harmless), so every apply writes it twice,
//! both times under the stack lock: before its first step, adding the names it is about to
//! create, and after its last, dropping what it deleted and adding the ids AWS assigned (a KMS
//! key's). An apply stopped between a `CreateKey` and the second write leaves a key the index
//! does not name; the apply that next creates that key finds it by its tags, as it would without
//! an index. When the index is missing, unreadable or not this stack's, a plan lists the
//! account as it does for a stack without a lock; when the second write fails, the apply
//! deletes the index, so that the next plan lists the account instead of trusting it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::apply::{ApplyReport, StepStatus};
use crate::aws::{Aws, AwsError};
use crate::live::LiveResource;
use crate::model::Kind;
use crate::plan::{Action, Plan};
use crate::spec::LockConfig;

/// The version of the index's format; an index of another version is not used.
const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackIndex {
    pub version: u32,
    pub stack: String,
    /// Each kind's physical ids: names, ARNs for managed policies and OIDC providers, key ids.
    pub resources: BTreeMap<Kind, BTreeSet<String>>,
}

impl StackIndex {
    pub fn new(stack: &str) -> StackIndex {
        StackIndex { version: VERSION, stack: stack.to_string(), resources: BTreeMap::new() }
    }

    /// The resources the live read found owned by the stack (in the spec or not, pending
    /// deletion or not).
    pub fn of_owned(stack: &str, owned: &[LiveResource]) -> StackIndex {
        let mut index = StackIndex::new(stack);
        for found in owned.iter().filter(|o| o.is_owned_by(stack)) {
            index.insert(found.kind, &found.physical_id);
        }
        index
    }

    pub fn insert(&mut self, kind: Kind, id: &str) {
        self.resources.entry(kind).or_default().insert(id.to_string());
    }

    fn remove(&mut self, kind: Kind, id: &str) {
        if let Some(ids) = self.resources.get_mut(&kind) {
            ids.remove(id);
        }
    }

    pub fn contains(&self, kind: Kind, id: &str) -> bool {
        self.resources.get(&kind).is_some_and(|ids| ids.contains(id))
    }

    pub fn entries(&self) -> impl Iterator<Item = (Kind, &str)> {
        self.resources.iter().flat_map(|(kind, ids)| ids.iter().map(move |id| (*kind, id.as_str())))
    }

    /// Before an apply: what the stack owns, and the names the plan creates under.
    pub fn before_apply(mut self, plan: &Plan) -> StackIndex {
        for change in plan.changes.iter().filter(|c| matches!(c.action, Action::Create | Action::Replace)) {
            if change.address.kind.has_name() {
                self.insert(change.address.kind, &change.physical_id);
            }
        }
        self
    }

    /// After an apply: without what it deleted (a key stays until KMS deletes it: a key
    /// pending deletion is still the stack's), with the ids AWS assigned to what it created.
    pub fn after_apply(mut self, plan: &Plan, report: &ApplyReport) -> StackIndex {
        let done: BTreeSet<_> =
            report.outcomes.iter().filter(|o| matches!(o.status, StepStatus::Done)).map(|o| &o.address).collect();
        for change in plan.changes.iter().filter(|c| done.contains(&c.address)) {
            let kind = change.address.kind;
            match change.action {
                Action::Delete if kind.has_name() => self.remove(kind, &change.physical_id),
                Action::Replace if kind.has_name() => {
                    if let Some(old) = change.replaces.as_deref().filter(|old| *old != change.physical_id) {
                        self.remove(kind, old);
                    }
                }
                _ => {}
            }
            if kind == Kind::Key {
                if let Some(id) = report.exports.get(&change.address).and_then(|e| e.get("key_id")) {
                    self.insert(kind, id);
                }
            }
        }
        self
    }
}

/// Where a stack with `lock` keeps its index: beside the lock object, `NAME.lock` →
/// `NAME.index.json`.
pub fn key_for(lock: &LockConfig) -> String {
    format!("{}.index.json", lock.key.strip_suffix(".lock").unwrap_or(&lock.key))
}

/// The stack's index, or `None` when there is none to trust (missing, unreadable, of another
/// stack or format): the plan then lists the account, which is always right.
pub async fn read(aws: &Aws, lock: &LockConfig, stack: &str) -> Option<StackIndex> {
    let key = key_for(lock);
    let text = match aws.s3.get_text(&lock.bucket, &key).await {
        Ok(text) => text?,
        Err(e) => {
            tracing::warn!("the stack index s3://{}/{key} could not be read ({e}); listing the account instead", lock.bucket);
            return None;
        }
    };
    match serde_json::from_str::<StackIndex>(&text) {
        Ok(index) if index.version == VERSION && index.stack == stack => Some(index),
        Ok(_) => {
            tracing::warn!("s3://{}/{key} is not an index of stack `{stack}`; listing the account instead", lock.bucket);
            None
        }
        Err(e) => {
            tracing::warn!("s3://{}/{key} is not a stack index ({e}); listing the account instead", lock.bucket);
            None
        }
    }
}

pub async fn write(aws: &Aws, lock: &LockConfig, index: &StackIndex) -> Result<(), AwsError> {
    let body = serde_json::to_vec_pretty(index).expect("an index serializes");
    aws.s3.put_text(&lock.bucket, &key_for(lock), body).await
}

pub async fn delete(aws: &Aws, lock: &LockConfig) -> Result<(), AwsError> {
    aws.s3.delete_key(&lock.bucket, &key_for(lock)).await
}
