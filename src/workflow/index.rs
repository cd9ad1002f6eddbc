//! Keeping the stack index (`state::StackIndex`) in step with an apply: what it must name
//! before the first step and after the last.

use std::collections::BTreeSet;

use crate::apply::{ApplyReport, StepStatus};
use crate::model::Kind;
use crate::plan::{Action, Plan};
use crate::state::StackIndex;

/// Before an apply: what the stack owns, and the names the plan creates under.
pub fn before_apply(mut index: StackIndex, plan: &Plan) -> StackIndex {
    for change in plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Replace))
    {
        if change.address.kind.has_name() {
            index.insert(change.address.kind, &change.physical_id);
        } else if change.address.kind == Kind::Key {
            index.keys_in_flight.insert(change.address.to_string());
        }
    }
    // A resource the stack shares (`existing = true`) is found again by its record once its
    // block is gone.
    for change in plan
        .changes
        .iter()
        .filter(|c| crate::plan::shared::is_marked(c))
    {
        index.insert(change.address.kind, &change.physical_id);
    }
    index
}

/// After an apply: without what it deleted (a key stays until KMS deletes it: a key
/// pending deletion is still the stack's), with the ids AWS assigned to what it created.
pub fn after_apply(mut index: StackIndex, plan: &Plan, report: &ApplyReport) -> StackIndex {
    let done: BTreeSet<_> = report
        .outcomes
        .iter()
        .filter(|o| matches!(o.status, StepStatus::Done))
        .map(|o| &o.address)
        .collect();
    for change in plan.changes.iter().filter(|c| done.contains(&c.address)) {
        let kind = change.address.kind;
        match change.action {
            Action::Delete if kind.has_name() => index.remove(kind, &change.physical_id),
            Action::Replace if kind.has_name() => {
                if let Some(old) = change
                    .replaces
                    .as_deref()
                    .filter(|old| *old != change.physical_id)
                {
                    index.remove(kind, old);
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
                index.keys_in_flight.remove(&change.address.to_string());
                index.insert(kind, id);
            }
        }
    }
    index
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use std::collections::BTreeMap;

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
        let live: crate::state::LiveSnapshot =
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
        let before = before_apply(owned, &plan);
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
            released: false,
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
                            denial: None,
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
        let after = after_apply(before.clone(), &plan, &report(""));
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
        let after = after_apply(before, &plan, &report("role.gone"));
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
}
