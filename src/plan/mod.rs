//! The plan: a plain value saying what apply will do, computed without any I/O.
//!
//! `plan()` takes a loaded spec and a snapshot of live state and returns a [`Plan`]. It is
//! specific enough that apply has no choices left: every change carries the full desired
//! attributes and the live attributes it was computed against.

mod planner;
mod same_resource;
pub mod shared;
pub mod shared_bucket;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::diag::{Diagnostic, WarningCode};
use crate::model::{Address, Attributes, Value};
use crate::policy::{self, AccessChange};
use crate::state::Account;

pub use planner::{physical_ids, plan, PlanOptions};

/// Bumped whenever the serialized shape of [`Plan`] changes. 3: each warning carries its code.
pub const FORMAT_VERSION: u32 = 3;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub stack: String,
    pub account: Account,
    /// Planned with `--destroy`: everything the stack owns is deleted.
    #[serde(default)]
    pub destroy: bool,
    /// Planned with `--refresh-only`: a report of drift, not something to apply.
    #[serde(default)]
    pub refresh_only: bool,
    /// One entry per resource in the spec or owned by the stack, in address order.
    pub changes: Vec<ResourceChange>,
    pub outputs: Vec<(String, Value)>,
    /// Warnings found while loading and planning.
    pub warnings: Vec<Warning>,
}

/// A warning of the spec or the plan: its code, and its text rendered when it was found (it
/// points into spec files, which a saved plan does not carry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub code: WarningCode,
    pub text: String,
}

impl Warning {
    /// `None` for an error.
    pub fn of(diagnostic: &Diagnostic) -> Option<Warning> {
        Some(Warning {
            code: diagnostic.warning_code?,
            text: diagnostic.render(false),
        })
    }
}

/// The closed set of things apply can do to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    Replace,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::NoOp => "no-op",
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
        }
    }
}

/// Why a resource gets its action, for the people reading the plan. It never drives behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// `plan --destroy`: everything the stack owns goes.
    DestroyingStack,
    /// The stack owns it and the spec no longer declares it.
    LeftTheSpec,
    /// Its name changed, so a new one replaces it.
    NameChanged { from: String },
    /// An attribute AWS cannot change in place differs.
    CannotChangeInPlace { attribute: String },
    /// It was scheduled for deletion (a KMS key); the update recovers it.
    Recovered { deletion_date: String },
    /// `adopt = true`: an existing resource becomes the stack's, with changes.
    Adopting,
    /// `adopt = true`, and nothing differs but plinth's own tags.
    AdoptingTagsOnly,
    /// Found by its name, tagged with another address: its block's address was renamed, and
    /// apply rewrites its `plinth:address` tag.
    Moved { from: Address },
    /// `plan --refresh-only`: the live resource drifted, for the reason inside if any.
    Drift { then: Option<Box<Reason>> },
    /// `plan --refresh-only`: the spec's resource is not in the account under its name.
    Missing,
    /// `release = true`: plinth removes its tags (its record, on a shared resource) and leaves
    /// the resource, and what it set on it, as it is.
    Released,
    /// A replacement (`by`, of a resource without a name) stopped before deleting the resource
    /// it replaced; this delete finishes it.
    Replaced { by: String },
    /// A replacement of `of` (a resource without a name) stopped before the new resource took
    /// over, and the spec no longer asks for one like it; this delete removes the new one.
    ReplacementAbandoned { of: String },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::DestroyingStack => f.write_str("destroying the stack"),
            Reason::LeftTheSpec => f.write_str("no longer in the spec"),
            Reason::NameChanged { from } => write!(f, "the name changed from `{from}`"),
            Reason::CannotChangeInPlace { attribute } => {
                write!(f, "`{attribute}` cannot be changed in place")
            }
            Reason::Recovered { deletion_date } => {
                write!(
                    f,
                    "scheduled for deletion on {deletion_date}: it will be recovered"
                )
            }
            Reason::Adopting => f.write_str("adopting an existing resource"),
            Reason::AdoptingTagsOnly => {
                f.write_str("adopting an existing resource: it will be tagged as this stack's")
            }
            Reason::Moved { from } => write!(
                f,
                "moved from {from}: its plinth:address tag will name this block"
            ),
            Reason::Released => f.write_str("released: no longer managed by this stack"),
            Reason::Replaced { by } => write!(
                f,
                "replaced by key `{by}` in an apply that stopped before deleting it"
            ),
            Reason::ReplacementAbandoned { of } => write!(
                f,
                "made to replace key `{of}` in an apply that stopped before it took over; the spec no longer asks for this key"
            ),
            Reason::Missing => f.write_str("deleted by hand, or never applied"),
            Reason::Drift { then: Some(then) } if **then == Reason::Missing => {
                write!(f, "{then}")
            }
            Reason::Drift { then: None } => f.write_str("the live resource differs from the spec"),
            Reason::Drift { then: Some(then) } => {
                write!(f, "the live resource differs from the spec; {then}")
            }
        }
    }
}

/// For tests: the resource a change that creates it leaves in the account, owned by `stack`
/// and tagged with its address.
#[cfg(test)]
impl ResourceChange {
    pub(crate) fn as_created(&self, stack: &str) -> crate::state::LiveResource {
        crate::state::LiveResource {
            kind: self.address.kind,
            physical_id: self.physical_id.clone(),
            owner: Some(stack.to_string()),
            address_tag: Some(self.address.clone()),
            attributes: (self
                .desired
                .clone()
                .expect("a change that creates the resource"))
            .into(),
            exports: Default::default(),
            deletion_date: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResourceChange {
    pub address: Address,
    pub action: Action,
    /// Why, for people; it never drives behaviour.
    pub reason: Option<Reason>,
    /// The name AWS knows the resource by after apply (before, for a delete).
    pub physical_id: String,
    /// For a replace, the physical name of the resource being replaced.
    pub replaces: Option<String>,
    /// The attributes that differ (all the declared ones for a create or delete).
    pub attributes: Vec<AttributeChange>,
    /// Everything the spec declares, resolved; `None` for a delete.
    pub desired: Option<Attributes>,
    /// What AWS held at plan time; `None` for a create.
    pub live: Option<std::sync::Arc<Attributes>>,
    /// Tag the resource as this stack's (a create, or an adopted resource).
    pub take_ownership: bool,
    /// Resources this one refers to; apply creates them first and deletes them last.
    pub depends_on: Vec<Address>,
    /// Findings about this resource's policies, desired and live.
    #[serde(default)]
    pub lints: Vec<PolicyFinding>,
}

/// A policy lint (or a warning about a live policy) attached to the resource it concerns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyFinding {
    /// The policy attribute: `trust`, `policies.NAME`, `policy`, ...
    pub policy: String,
    pub code: policy::LintCode,
    pub severity: policy::Severity,
    pub statement: Option<String>,
    pub message: String,
}

/// The value at a policy's name: `trust` is an attribute, `policies.NAME` an entry of a map.
pub fn attribute_at<'a>(attributes: &'a Attributes, name: &str) -> Option<&'a Value> {
    match name.split_once('.') {
        None => attributes.get(name),
        Some((map, key)) => match attributes.get(map)? {
            Value::Map(m) => m.get(key),
            _ => None,
        },
    }
}

impl ResourceChange {
    pub fn is_change(&self) -> bool {
        self.action != Action::NoOp
    }

    /// Whether this update lets go of the stack's own resource (`release = true`): plinth
    /// removes the stack's tags, and the resource stays.
    pub fn lets_go(&self) -> bool {
        self.action == Action::Update && self.reason == Some(Reason::Released)
    }

    /// Whether this delete only releases someone else's resource (`existing = true`): plinth
    /// removes its own parts and tags, and the resource stays.
    pub fn releases(&self) -> bool {
        self.action == Action::Delete
            && self
                .live
                .as_ref()
                .is_some_and(|l| l.get(shared::EXISTING) == Some(&crate::model::Value::Bool(true)))
    }

    /// Policy attributes among the changes, with their statement-level diffs; `account` is
    /// the plan's (see [`policy::diff`]).
    pub fn policy_diffs(&self, account: &str) -> Vec<(String, policy::PolicyDiff)> {
        self.attributes
            .iter()
            .flat_map(|a| a.policy_diffs(account))
            .collect()
    }

    /// Whether the change attaches a managed policy the resource did not have, or takes away
    /// or changes its permissions boundary: each widens what the role may do.
    pub fn attaches_policies(&self) -> bool {
        self.attributes.iter().any(|a| match a.name.as_str() {
            "managed_policies" => {
                let arns = |v: &Option<Value>| match v {
                    Some(Value::Set(arns)) => arns.clone(),
                    _ => Default::default(),
                };
                let before = arns(&a.before);
                arns(&a.after).iter().any(|arn| !before.contains(arn))
            }
            "permissions_boundary" => a.before.is_some() && a.before != a.after,
            _ => false,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttributeChange {
    pub name: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// AWS cannot change this attribute in place.
    pub forces_replacement: bool,
}

impl AttributeChange {
    /// The policy diffs inside this change: the attribute itself, or each policy of a map of
    /// policies (a role's inline policies), named `attribute.key`. `account` is the plan's.
    pub fn policy_diffs(&self, account: &str) -> Vec<(String, policy::PolicyDiff)> {
        fn map(v: &Option<Value>) -> Option<&Attributes> {
            match v {
                Some(Value::Map(m)) => Some(m),
                _ => None,
            }
        }
        // A policy that names what the same apply creates is diffed with its references as
        // written (`${key.sqs.arn}`): what it grants, and on what, is known at plan time.
        fn policy(v: Option<&Value>) -> Option<std::borrow::Cow<'_, policy::PolicyDocument>> {
            let v = v?;
            v.as_policy().map(std::borrow::Cow::Borrowed).or_else(|| {
                v.pending_policy(str::to_string)
                    .map(std::borrow::Cow::Owned)
            })
        }
        #[allow(clippy::type_complexity)]
        let pairs: Vec<(
            String,
            Option<std::borrow::Cow<'_, policy::PolicyDocument>>,
            Option<std::borrow::Cow<'_, policy::PolicyDocument>>,
        )> = match (map(&self.before), map(&self.after)) {
            (None, None) => vec![(
                self.name.clone(),
                policy(self.before.as_ref()),
                policy(self.after.as_ref()),
            )],
            (before, after) => {
                let keys: std::collections::BTreeSet<&String> = before
                    .into_iter()
                    .chain(after)
                    .flat_map(|m| m.keys())
                    .collect();
                keys.into_iter()
                    .map(|k| {
                        let b = before.and_then(|m| m.get(k));
                        let a = after.and_then(|m| m.get(k));
                        (format!("{}.{k}", self.name), policy(b), policy(a))
                    })
                    .collect()
            }
        };
        pairs
            .into_iter()
            .filter(|(_, b, a)| b.is_some() || a.is_some())
            .map(|(name, b, a)| {
                let diff = policy::diff(b.as_deref(), a.as_deref(), Some(account));
                (name, diff)
            })
            .filter(|(_, d)| !d.is_empty())
            .collect()
    }
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub replace: usize,
    pub destroy: usize,
    /// Deletions that only let go of a resource someone else owns (`existing = true`): plinth
    /// removes its parts and leaves the resource. Not counted in `destroy`.
    pub release: usize,
    /// Some change grants access that was not granted before.
    pub widens_access: bool,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        !self.changes.iter().any(ResourceChange::is_change)
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.add += 1,
                Action::Update if c.lets_go() => s.release += 1,
                Action::Update => s.change += 1,
                Action::Replace => s.replace += 1,
                Action::Delete if c.releases() => s.release += 1,
                Action::Delete => s.destroy += 1,
                Action::NoOp => {}
            }
            // Diffing policies is the costly part; one widening is enough to know.
            if !s.widens_access
                && (c.attaches_policies()
                    || c.policy_diffs(&self.account.account_id)
                        .iter()
                        .any(|(_, d)| {
                            matches!(d.access, AccessChange::Widens | AccessChange::Mixed)
                        }))
            {
                s.widens_access = true;
            }
        }
        s
    }

    pub fn change(&self, address: &Address) -> Option<&ResourceChange> {
        self.changes.iter().find(|c| &c.address == address)
    }
}
