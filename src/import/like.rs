//! `plinth import --like SPEC`: the hand-made counterparts of a ready-made stack, found by the
//! names the stack would use, and how they differ from it.
//!
//! The comparison is the planner's: the ready-made spec is planned against what was found, as
//! if the stack owned it, so every difference is one `plinth plan` would show, compared the way
//! plans compare (policies semantically). Each policy that differs is then compared statement
//! by statement with `policy::diff`, from the ready-made document to the hand-made one: a
//! statement the hand-made setup lacks is a missing permission (narrows), one it has beyond the
//! ready-made stack an extra permission (widens).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::{Found, Wanted};
use crate::diag::Diagnostics;
use crate::model::kinds::bucket::entry_id;
use crate::model::{Address, Kind, Value};
use crate::plan::{self, Action, PlanOptions};
use crate::policy::{diff, ChangeKind};
use crate::policy::{AccessChange, PolicyDocument};
use crate::spec::resolve::Resolver;
use crate::spec::Spec;
use crate::state::{Account, LiveSnapshot};

/// The resources of `spec` to look for, by the names it gives them in `account`. A resource
/// the stack cannot name before it exists (a key without an alias) is left out.
pub fn wanted(spec: &Spec, account: &Account) -> Result<Vec<Wanted>, Diagnostics> {
    let ids = plan::physical_ids(spec, &Resolver::new(spec, account, None))?;
    Ok(ids
        .into_iter()
        .map(|(address, id)| Wanted {
            kind: address.kind,
            id,
            name: Some(address.name),
        })
        .collect())
}

/// The settings of someone else's resource (a key or bucket the ready-made stack declares
/// `existing = true`) that a stack manages part by part.
const SHARED_SETTINGS: &[&str] = &[
    "policy",
    "cors",
    "notifications",
    "public_access_block",
    "encryption",
];

/// Narrows what was found on resources the ready-made stack shares with their owner (keys and
/// buckets) to what that stack declares: a setting it does not declare, and the statements,
/// CORS rules and notifications whose Sid or id its block does not name, stay the owner's.
/// Imported as the stack's, they would become parts the ready-made stack, which does not
/// declare them, then removes. Returns a note for each part left to the owner.
pub fn narrow(spec: &Spec, account: &Account, found: &mut [Found]) -> Vec<String> {
    let resolver = Resolver::new(spec, account, None);
    let mut notes = Vec::new();
    for f in found.iter_mut() {
        let Some(resource) = spec.resources.get(&f.address) else {
            continue;
        };
        if !matches!(f.address.kind, Kind::Key | Kind::Bucket) {
            continue;
        }
        let mut ignored = Diagnostics::default();
        let desired = resource.body.desired(&resolver, &mut ignored);
        let address = f.address.clone();
        let live = std::sync::Arc::make_mut(&mut f.live.attributes);
        for setting in SHARED_SETTINGS {
            let Some(have) = live.get(*setting) else {
                continue;
            };
            let kept = match (desired.get(*setting), have) {
                (None, _) => None,
                (Some(want), Value::Policy(doc)) => {
                    let sids: Vec<String> = want
                        .as_policy()
                        .map(|w| {
                            w.statements()
                                .iter()
                                .filter_map(|s| s.sid.clone())
                                .collect()
                        })
                        .unwrap_or_default();
                    let narrowed = doc.retaining(|s| {
                        s.sid
                            .as_ref()
                            .is_some_and(|sid| sids.iter().any(|w| w.eq_ignore_ascii_case(sid)))
                    });
                    for s in doc.statements() {
                        if !narrowed.statements().contains(s) {
                            let name = s.sid.as_deref().unwrap_or("without a Sid");
                            notes.push(format!(
                                "{address}: statement {name} of its {setting} is not the ready-made stack's, and is left to the {}'s owner",
                                address.kind
                            ));
                        }
                    }
                    Some(Value::policy(narrowed))
                }
                (Some(Value::List(want)), Value::List(entries)) => {
                    let ids: Vec<&str> = want.iter().filter_map(entry_id).collect();
                    let (ours, theirs): (Vec<&Value>, Vec<&Value>) = entries
                        .iter()
                        .partition(|e| entry_id(e).is_some_and(|id| ids.contains(&id)));
                    for entry in theirs {
                        notes.push(format!(
                            "{address}: {} {} is not the ready-made stack's, and is left to the bucket's owner",
                            if *setting == "cors" { "CORS rule" } else { "notification" },
                            entry_id(entry).unwrap_or("without an id")
                        ));
                    }
                    Some(Value::List(ours.into_iter().cloned().collect()))
                }
                (Some(_), _) => Some(have.clone()),
            };
            match kept {
                Some(value) => {
                    live.insert(setting.to_string(), value);
                }
                None => {
                    live.remove(*setting);
                    notes.push(format!(
                        "{address}: its {} is not declared by the ready-made stack, and is left to the {}'s owner",
                        setting.replace('_', " "),
                        address.kind
                    ));
                }
            }
        }
    }
    notes
}

/// How the hand-made setup differs from the ready-made stack.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub stack: String,
    pub resources: Vec<ResourceReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceReport {
    pub address: Address,
    /// The name the ready-made stack gives it.
    pub physical_id: Option<String>,
    pub status: Status,
    pub differences: Vec<Difference>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Found and as the ready-made stack has it.
    Same,
    /// Found, with differences.
    Differs,
    /// Nothing by that name: the ready-made stack would create it.
    Missing,
}

#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    /// The attribute (`policies.structural`, `visibility_timeout`).
    pub attribute: String,
    /// For a setting: the ready-made and the hand-made value.
    pub ready_made: Option<String>,
    pub hand_made: Option<String>,
    /// For a policy: each statement that differs.
    pub statements: Vec<StatementDifference>,
    pub access: Option<AccessChange>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatementDifference {
    pub label: String,
    /// `missing` (only the ready-made stack has it), `extra` (only the hand-made setup has
    /// it) or `different`.
    pub kind: &'static str,
    pub access: AccessChange,
    pub unified: String,
}

/// Compares the ready-made `spec` with what was `found` (addresses are the spec's).
pub fn compare(spec: &Spec, account: &Account, found: &[Found]) -> Result<Report, Diagnostics> {
    let mut live = LiveSnapshot {
        account: Some(account.clone()),
        ..LiveSnapshot::default()
    };
    for f in found {
        let mut resource = f.live.clone();
        // As if the stack owned it, so that the planner compares instead of refusing.
        resource.owner = Some(spec.stack.name.clone());
        live.by_address.insert(f.address.clone(), resource);
    }
    let plan = plan::plan(spec, &live, PlanOptions::default())?;
    let resources = plan
        .changes
        .iter()
        .map(|change| {
            let status = match change.action {
                Action::Create => Status::Missing,
                Action::NoOp => Status::Same,
                _ => Status::Differs,
            };
            let differences = match status {
                Status::Differs => change
                    .attributes
                    .iter()
                    .filter(|a| !BOOKKEEPING.contains(&a.name.as_str()))
                    .flat_map(|a| {
                        differences(
                            &a.name,
                            a.after.as_ref(),
                            a.before.as_ref(),
                            &account.account_id,
                        )
                    })
                    .collect(),
                _ => Vec::new(),
            };
            ResourceReport {
                address: change.address.clone(),
                physical_id: Some(change.physical_id.clone()),
                status: if status == Status::Differs && differences.is_empty() {
                    Status::Same
                } else {
                    status
                },
                differences,
            }
        })
        .collect();
    Ok(Report {
        stack: spec.stack.name.clone(),
        resources,
    })
}

/// What plinth records about a resource it manages (in tags): a hand-made resource has none
/// of it, which is no difference in the setup.
const BOOKKEEPING: &[&str] = &[
    "deletion_window_days",
    "existing",
    "manages",
    "force_destroy",
    "bypass_lockout_check",
];

/// The differences of one attribute: `ready` is the ready-made stack's value, `hand` the live one.
fn differences(
    name: &str,
    ready: Option<&Value>,
    hand: Option<&Value>,
    account: &str,
) -> Vec<Difference> {
    match (ready, hand) {
        (Some(Value::Map(r)), hand) if r.values().any(|v| v.as_policy().is_some()) => {
            // Named policies (a role's inline policies): each on its own.
            let empty = BTreeMap::new();
            let h = match hand {
                Some(Value::Map(h)) => h,
                _ => &empty,
            };
            if r.keys().eq(h.keys()) || h.is_empty() {
                let names: std::collections::BTreeSet<&String> = r.keys().chain(h.keys()).collect();
                return names
                    .into_iter()
                    .flat_map(|n| differences(&format!("{name}.{n}"), r.get(n), h.get(n), account))
                    .collect();
            }
            // Named otherwise by hand: what they grant together is compared (a statement under
            // another name is neither missing nor extra), and the names are a difference of
            // their own.
            let together = |policies: &BTreeMap<String, Value>| {
                let docs: Vec<&PolicyDocument> =
                    policies.values().filter_map(Value::as_policy).collect();
                PolicyDocument::joined(&docs)
            };
            let (ready_all, hand_all) = (together(r), together(h));
            let names = |policies: &BTreeMap<String, Value>| {
                policies.keys().cloned().collect::<Vec<_>>().join(", ")
            };
            let mut out = vec![Difference {
                attribute: format!("{name} (names)"),
                ready_made: Some(names(r)),
                hand_made: Some(names(h)),
                statements: Vec::new(),
                access: None,
            }];
            out.extend(policy_difference(
                &format!("{name} (all together)"),
                Some(&ready_all),
                Some(&hand_all),
                account,
            ));
            out
        }
        (r, h)
            if r.and_then(Value::as_policy).is_some() || h.and_then(Value::as_policy).is_some() =>
        {
            policy_difference(
                name,
                r.and_then(Value::as_policy),
                h.and_then(Value::as_policy),
                account,
            )
            .into_iter()
            .collect()
        }
        (r, h) if r.is_some_and(|r| h.is_some_and(|h| r.equivalent(h))) => Vec::new(),
        (r, h) => vec![Difference {
            attribute: name.to_string(),
            ready_made: r.map(Value::display),
            hand_made: h.map(Value::display),
            statements: Vec::new(),
            access: None,
        }],
    }
}

fn policy_difference(
    name: &str,
    ready: Option<&PolicyDocument>,
    hand: Option<&PolicyDocument>,
    account: &str,
) -> Option<Difference> {
    let d = diff(ready, hand, Some(account));
    if d.is_empty() {
        return None;
    }
    let statements = d
        .statements
        .iter()
        .map(|s| StatementDifference {
            label: s.label.clone(),
            kind: match s.kind {
                ChangeKind::Removed => "missing",
                ChangeKind::Added => "extra",
                ChangeKind::Modified => "different",
            },
            access: s.access,
            unified: s.unified.clone(),
        })
        .collect();
    Some(Difference {
        attribute: name.to_string(),
        ready_made: ready.is_none().then(|| "(none)".to_string()),
        hand_made: hand.is_none().then(|| "(none)".to_string()),
        statements,
        access: Some(d.access),
    })
}

fn access_words(access: AccessChange) -> &'static str {
    match access {
        AccessChange::Widens => "widens access",
        AccessChange::Narrows => "narrows access",
        AccessChange::Mixed => "widens and narrows access",
        AccessChange::NoChange => "same access",
    }
}

impl Report {
    /// The report as text: per resource, then per attribute and per statement, from the
    /// ready-made stack to the hand-made setup (`widens`: the hand-made setup grants more).
    pub fn text(&self) -> String {
        let mut out = format!(
            "How the account differs from the ready-made stack `{}` (widens/narrows: what the hand-made setup grants compared with it):\n",
            self.stack
        );
        for r in &self.resources {
            let id = r.physical_id.as_deref().unwrap_or("?");
            let _ = match r.status {
                Status::Same => writeln!(
                    out,
                    "\n  = {} ({id}): as the ready-made stack has it",
                    r.address
                ),
                Status::Missing => writeln!(
                    out,
                    "\n  - {} ({id}): not found; the ready-made stack would create it",
                    r.address
                ),
                Status::Differs => writeln!(out, "\n  ~ {} ({id}):", r.address),
            };
            for d in &r.differences {
                if d.statements.is_empty() {
                    let _ = writeln!(
                        out,
                        "      {}: ready-made {}, hand-made {}",
                        d.attribute,
                        d.ready_made.as_deref().unwrap_or("(not set)"),
                        d.hand_made.as_deref().unwrap_or("(not set)")
                    );
                    continue;
                }
                let whole = match (&d.ready_made, &d.hand_made) {
                    (Some(_), _) => " (only the hand-made setup has this policy)",
                    (_, Some(_)) => " (the hand-made setup lacks this policy)",
                    _ => "",
                };
                let _ = writeln!(
                    out,
                    "      {}{whole}: {}",
                    d.attribute,
                    d.access.map_or("", access_words)
                );
                for s in &d.statements {
                    let what = match (s.kind, s.access) {
                        ("missing", _) => "missing permissions",
                        ("extra", _) => "extra permissions",
                        (_, AccessChange::NoChange) => "written differently",
                        _ => "different permissions",
                    };
                    let _ = writeln!(
                        out,
                        "        {} {}: {what} ({})",
                        match s.kind {
                            "missing" => "-",
                            "extra" => "+",
                            _ => "~",
                        },
                        s.label,
                        access_words(s.access)
                    );
                    for line in s.unified.lines() {
                        let _ = writeln!(out, "            {line}");
                    }
                }
            }
        }
        let count = |s: Status| self.resources.iter().filter(|r| r.status == s).count();
        let _ = writeln!(
            out,
            "\n{} as the ready-made stack has {}, {} different, {} not found.",
            count(Status::Same),
            if count(Status::Same) == 1 {
                "it"
            } else {
                "them"
            },
            count(Status::Differs),
            count(Status::Missing)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policies(entries: &[(&str, &str)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(name, statements)| {
                    let doc = PolicyDocument::parse(&format!(
                        r#"{{"Version": "2012-10-17", "Statement": [{statements}]}}"#
                    ))
                    .unwrap();
                    (name.to_string(), Value::policy(doc))
                })
                .collect(),
        )
    }

    const LIST: &str =
        r#"{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::tonic-*"}"#;
    const GET: &str = r#"{"Effect": "Allow", "Action": "s3:GetObjectVersion", "Resource": "arn:aws:s3:::tonic-*/*"}"#;

    /// Inline policies named otherwise by hand are compared together: a statement under
    /// another name is neither missing nor extra, and only what differs in what they grant is
    /// labelled; the names are a difference of their own.
    #[test]
    fn inline_policies_named_otherwise_are_compared_together() {
        let ready = policies(&[("pipeline-v2", &format!("{LIST}, {GET}"))]);
        let hand = policies(&[("tonic-s3", LIST)]);
        let found = differences("policies", Some(&ready), Some(&hand), "123456789012");
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!(found[0].attribute, "policies (names)");
        assert_eq!(found[0].ready_made.as_deref(), Some("pipeline-v2"));
        assert_eq!(found[0].hand_made.as_deref(), Some("tonic-s3"));
        assert_eq!(found[1].access, Some(AccessChange::Narrows), "{found:#?}");
        let missing: Vec<&StatementDifference> = found[1]
            .statements
            .iter()
            .filter(|s| s.kind == "missing")
            .collect();
        assert_eq!(missing.len(), 1, "{found:#?}");
        assert!(
            missing[0].unified.contains("s3:GetObjectVersion"),
            "{found:#?}"
        );
        assert!(!found[1].statements.iter().any(|s| s.kind == "extra"));
        // Named the same: each on its own, as before.
        let same = differences(
            "policies",
            Some(&ready),
            Some(&policies(&[("pipeline-v2", LIST)])),
            "123456789012",
        );
        assert_eq!(same.len(), 1);
        assert_eq!(same[0].attribute, "policies.pipeline-v2");
    }
}
