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
        StackIndex {
            version: VERSION,
            stack: stack.to_string(),
            resources: BTreeMap::new(),
        }
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
        self.resources
            .entry(kind)
            .or_default()
            .insert(id.to_string());
    }

    fn remove(&mut self, kind: Kind, id: &str) {
        if let Some(ids) = self.resources.get_mut(&kind) {
            ids.remove(id);
        }
    }

    pub fn entries(&self) -> impl Iterator<Item = (Kind, &str)> {
        self.resources
            .iter()
            .flat_map(|(kind, ids)| ids.iter().map(move |id| (*kind, id.as_str())))
    }

    /// Before an apply: what the stack owns, and the names the plan creates under.
    pub fn before_apply(mut self, plan: &Plan) -> StackIndex {
        for change in plan
            .changes
            .iter()
            .filter(|c| matches!(c.action, Action::Create | Action::Replace))
        {
            if change.address.kind.has_name() {
                self.insert(change.address.kind, &change.physical_id);
            }
        }
        self
    }

    /// After an apply: without what it deleted (a key stays until KMS deletes it: a key
    /// pending deletion is still the stack's), with the ids AWS assigned to what it created.
    pub fn after_apply(mut self, plan: &Plan, report: &ApplyReport) -> StackIndex {
        let done: BTreeSet<_> = report
            .outcomes
            .iter()
            .filter(|o| matches!(o.status, StepStatus::Done))
            .map(|o| &o.address)
            .collect();
        for change in plan.changes.iter().filter(|c| done.contains(&c.address)) {
            let kind = change.address.kind;
            match change.action {
                Action::Delete if kind.has_name() => self.remove(kind, &change.physical_id),
                Action::Replace if kind.has_name() => {
                    if let Some(old) = change
                        .replaces
                        .as_deref()
                        .filter(|old| *old != change.physical_id)
                    {
                        self.remove(kind, old);
                    }
                }
                _ => {}
            }
            if kind == Kind::Key {
                if let Some(id) = report
                    .exports
                    .get(&change.address)
                    .and_then(|e| e.get("key_id"))
                {
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
    format!(
        "{}.index.json",
        lock.key.strip_suffix(".lock").unwrap_or(&lock.key)
    )
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
            tracing::warn!(
                "s3://{}/{key} is not an index of stack `{stack}`; listing the account instead",
                lock.bucket
            );
            None
        }
        Err(e) => {
            tracing::warn!(
                "s3://{}/{key} is not a stack index ({e}); listing the account instead",
                lock.bucket
            );
            None
        }
    }
}

pub async fn write(aws: &Aws, lock: &LockConfig, index: &StackIndex) -> Result<(), AwsError> {
    let body = serde_json::to_vec_pretty(index).expect("an index serializes");
    let key = key_for(lock);
    aws.s3
        .put_text(&lock.bucket, &key, body)
        .await
        .map_err(|mut e| {
            // Where the index lives comes first: an error's own hint (a missing permission) does
            // not say which object plinth was writing, or why.
            let place = format!(
                "the stack keeps its index in s3://{}/{key}, beside its lock",
                lock.bucket
            );
            e.hint = Some(match e.hint.take() {
                Some(hint) => format!("{place}; {hint}"),
                None => format!("{place}; `plinth permissions` prints the grants it needs"),
            });
            e
        })
}

pub async fn delete(aws: &Aws, lock: &LockConfig) -> Result<(), AwsError> {
    aws.s3.delete_key(&lock.bucket, &key_for(lock)).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::apply::StepOutcome;
    use crate::model::Address;
    use crate::plan::{plan, PlanOptions};

    fn fixture(path: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(path)
    }

    fn roles(index: &StackIndex) -> Vec<&str> {
        index
            .resources
            .get(&Kind::Role)
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn an_apply_adds_the_names_it_creates_before_and_drops_what_it_deleted_after() {
        let spec = crate::spec::load(&fixture("specs/planner.toml"), &Default::default()).unwrap();
        let live: crate::live::LiveSnapshot =
            serde_json::from_str(&std::fs::read_to_string(fixture("live/planner.json")).unwrap())
                .unwrap();
        let plan = plan(&spec, &live, PlanOptions::default()).unwrap();

        let owned = StackIndex::of_owned("fixture", &live.owned);
        assert_eq!(
            roles(&owned),
            [
                "fx-drifted",
                "fx-gone",
                "fx-moved",
                "fx-renamed-v1",
                "fx-unchanged"
            ]
        );
        // Before: the new role and the renamed role's new name join.
        let before = owned.before_apply(&plan);
        assert_eq!(
            roles(&before),
            [
                "fx-drifted",
                "fx-gone",
                "fx-moved",
                "fx-new",
                "fx-renamed-v1",
                "fx-renamed-v2",
                "fx-unchanged"
            ]
        );

        // After: the deleted role and the renamed role's old name leave; a step that failed
        // keeps what it might have left behind.
        let outcome = |address: &Address, status: StepStatus| StepOutcome {
            address: address.clone(),
            action: Action::NoOp,
            status,
            elapsed: Duration::ZERO,
        };
        let report = |failed: &str| ApplyReport {
            outcomes: plan
                .changes
                .iter()
                .filter(|c| c.is_change())
                .map(|c| {
                    let status = if c.address.to_string() == failed {
                        StepStatus::Failed {
                            error: "AccessDenied".into(),
                            hint: None,
                        }
                    } else {
                        StepStatus::Done
                    };
                    outcome(&c.address, status)
                })
                .collect(),
            exports: BTreeMap::new(),
            elapsed: Duration::ZERO,
        };
        let after = before.clone().after_apply(&plan, &report(""));
        assert_eq!(
            roles(&after),
            [
                "fx-drifted",
                "fx-moved",
                "fx-new",
                "fx-renamed-v2",
                "fx-unchanged"
            ]
        );
        let after = before.after_apply(&plan, &report("role.gone"));
        assert_eq!(
            roles(&after),
            [
                "fx-drifted",
                "fx-gone",
                "fx-moved",
                "fx-new",
                "fx-renamed-v2",
                "fx-unchanged"
            ]
        );
    }

    #[test]
    fn the_index_lives_beside_the_lock() {
        let lock = |key: &str| LockConfig {
            bucket: "state".into(),
            key: key.into(),
        };
        assert_eq!(
            key_for(&lock("plinth/locks/tonic.lock")),
            "plinth/locks/tonic.index.json"
        );
        assert_eq!(key_for(&lock("locks/tonic")), "locks/tonic.index.json");
    }
}
