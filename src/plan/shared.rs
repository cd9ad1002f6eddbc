//! Planning a resource the stack shares with others (`existing = true` on a role, key,
//! queue or bucket): plinth never creates, replaces or deletes it, and manages only its own parts, which
//! it records on the resource (`model::shared`). The desired side is the live resource with
//! those parts merged in (its policy documents by Sid, a role's inline policies by name and
//! attachments by ARN), so the plan's differences are exactly plinth's parts and everything
//! else shows as kept.

use std::collections::BTreeSet;

use crate::diag::{Code, Diagnostic};
use crate::model::shared::{share_of, Share, SHARES_ATTRIBUTE};
use crate::model::{Attributes, Kind, Value};
use crate::policy::merge::merge_by_sid;
use crate::spec::Resource;
use crate::state::LiveResource;

/// The attributes plinth records rather than sets: whether the resource is someone else's,
/// and the parts this stack manages on it.
pub const EXISTING: &str = "existing";
pub const MANAGES: &str = "manages";
/// On the desired side of a `release = true` change: plinth lets go of the resource.
pub const RELEASED: &str = "released";

/// Whether a planned change releases its resource (`release = true`).
pub fn is_release(change: &crate::plan::ResourceChange) -> bool {
    change
        .desired
        .as_ref()
        .is_some_and(|d| d.get(RELEASED) == Some(&Value::Bool(true)))
}

/// Which shared documents and collections each kind has.
fn documents(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Key | Kind::Queue | Kind::Bucket => &["policy"],
        Kind::Role => &["trust"],
        _ => &[],
    }
}

/// Whether `resource` is shared with its owner: plinth manages parts of it, by record.
pub fn is_shared(resource: &Resource) -> bool {
    resource.body.must_exist()
        && matches!(
            resource.kind(),
            Kind::Key | Kind::Queue | Kind::Role | Kind::Bucket
        )
}

/// `stack`'s record on a live resource, if it has one.
pub fn record(found: &LiveResource, stack: &str) -> Option<Share> {
    share_of(found.attributes.get(SHARES_ATTRIBUTE), stack)
}

/// The live resource as the planner compares it: marked as someone else's, with this stack's
/// recorded parts.
pub fn live_view(found: &LiveResource, stack: &str) -> LiveResource {
    let mut view = found.clone();
    let parts = record(found, stack).map(|s| s.parts).unwrap_or_default();
    std::sync::Arc::make_mut(&mut view.attributes).insert(EXISTING.into(), Value::Bool(true));
    std::sync::Arc::make_mut(&mut view.attributes).insert(MANAGES.into(), Value::set(parts));
    view
}

/// Merges the block's parts into the live resource: `desired` becomes what the resource will
/// be, and records the parts plinth will manage.
pub fn merge_desired(
    resource: &Resource,
    desired: &mut Attributes,
    found: &LiveResource,
    stack: &str,
    vars: &Vars,
) {
    let previous = record(found, stack).unwrap_or_default();
    let mut parts: BTreeSet<String> = BTreeSet::new();
    for &document in documents(resource.kind()) {
        let ours = declared_sids(resource, document, vars);
        parts.extend(ours.iter().map(|s| format!("{document}/{s}")));
        let drop: BTreeSet<String> = previous
            .sids(document)
            .filter(|s| !ours.contains(*s))
            .map(str::to_string)
            .collect();
        let live = found.attributes.get(document).and_then(Value::as_policy);
        match desired.get(document) {
            Some(Value::Policy(mine)) => {
                let merged = merge_by_sid(live, Some(mine), &drop);
                desired.insert(document.into(), Value::policy(merged));
            }
            // Known only at apply: the adapter merges it then.
            Some(_) => {}
            None if !drop.is_empty() => {
                let merged = merge_by_sid(live, None, &drop);
                desired.insert(document.into(), Value::policy(merged));
            }
            // Read (another stack's record holds parts of it): it stays as it is.
            None => {
                if let Some(live) = found.attributes.get(document) {
                    desired.insert(document.into(), live.clone());
                }
            }
        }
    }
    if resource.kind() == Kind::Role {
        merge_role_collections(desired, found, &previous, &mut parts);
    }
    if resource.kind() == Kind::Bucket {
        super::shared_bucket::merge(resource, desired, found, stack, &previous, &mut parts);
    }
    desired.insert(EXISTING.into(), Value::Bool(true));
    desired.insert(MANAGES.into(), Value::set(parts));
}

/// What a shared resource is once the stack releases it: the live resource (as
/// [`live_view`] gives it, with the stack's recorded parts) without those parts: its
/// statements, and a role's inline policies and attachments. The owner's parts stay.
pub fn released(live: &Attributes) -> Attributes {
    let ours = Share {
        address: None,
        parts: match live.get(MANAGES) {
            Some(Value::Set(parts)) => parts.iter().cloned().collect(),
            _ => BTreeSet::new(),
        },
    };
    let with_prefix = |prefix: &str| -> BTreeSet<String> {
        ours.with_prefix(prefix).map(str::to_string).collect()
    };
    let mut out = live.clone();
    for document in ["policy", "trust"] {
        let drop = with_prefix(document);
        if drop.is_empty() {
            continue;
        }
        if let Some(doc) = live.get(document).and_then(Value::as_policy) {
            out.insert(
                document.into(),
                Value::policy(merge_by_sid(Some(doc), None, &drop)),
            );
        }
    }
    if let Some(Value::Map(inline)) = out.get_mut("policies") {
        for name in with_prefix("inline") {
            inline.remove(&name);
        }
    }
    if let Some(Value::Set(attached)) = out.get_mut("managed_policies") {
        let drop = with_prefix("attached");
        attached.retain(|arn| !drop.contains(arn));
    }
    out
}

/// The parts the block starts to manage that the owner already wrote differently: a
/// statement with one of the block's Sids, or an inline policy with one of its names, that
/// differs from the block's. The stack rewrites it now and removes it when it lets go, so the
/// owner's version is lost: a warning for each, located at the block.
pub fn taken_over_differently(
    resource: &Resource,
    desired: &Attributes,
    found: &LiveResource,
    stack: &str,
    vars: &Vars,
) -> Vec<Diagnostic> {
    let previous = record(found, stack).unwrap_or_default();
    let recorded: BTreeSet<&str> = previous.parts.iter().map(String::as_str).collect();
    let mut differing = Vec::new();
    for &document in documents(resource.kind()) {
        let (Some(live), Some(mine)) = (
            found.attributes.get(document).and_then(Value::as_policy),
            desired.get(document).and_then(Value::as_policy),
        ) else {
            continue;
        };
        let (live, mine) = (live.normalized(), mine.normalized());
        for sid in declared_sids(resource, document, vars) {
            if recorded.contains(format!("{document}/{sid}").as_str()) {
                continue;
            }
            let with_sid = |doc: &crate::policy::PolicyDocument| {
                doc.statements()
                    .iter()
                    .find(|s| s.sid.as_deref() == Some(sid.as_str()))
                    .cloned()
            };
            if let (Some(theirs), Some(ours)) = (with_sid(&live), with_sid(&mine)) {
                if theirs != ours {
                    differing.push(format!("the {document} statement {sid}"));
                }
            }
        }
    }
    if let (Some(Value::Map(live)), Some(Value::Map(mine))) =
        (found.attributes.get("policies"), desired.get("policies"))
    {
        for (name, ours) in mine {
            let theirs = live.get(name);
            if !recorded.contains(format!("inline/{name}").as_str())
                && theirs.is_some_and(|t| !t.equivalent(ours))
            {
                differing.push(format!("the inline policy {name}"));
            }
        }
    }
    if resource.kind() == Kind::Bucket {
        differing.extend(super::shared_bucket::taken_over_differently(
            resource, desired, found, stack, &recorded,
        ));
    }
    differing
        .into_iter()
        .map(|part| {
            Diagnostic::warning(
                crate::diag::WarningCode::SharedTakeover,
                format!(
                    "{}: {part} is already there, written differently by its owner; this stack rewrites it and removes it when it lets go",
                    resource.address
                ),
            )
            .at_location(Some(resource.location.clone()))
            .hint("give the stack's statement a Sid (or policy name) of its own, or declare it exactly as it is to take it over unchanged")
        })
        .collect()
}

/// The parts `desired` claims that another stack's record on the live resource already
/// holds: (the other stack, the part). Two stacks owning one statement, rule or attachment
/// would undo each other's work, and the first to let go would remove the other's.
pub fn claimed_by_others(
    desired: &Attributes,
    found: &LiveResource,
    stack: &str,
) -> Vec<(String, String)> {
    let ours: BTreeSet<&str> = match desired.get(MANAGES) {
        Some(Value::Set(parts)) => parts.iter().map(String::as_str).collect(),
        _ => BTreeSet::new(),
    };
    let others = crate::model::shared::all_shares(found.attributes.get(SHARES_ATTRIBUTE));
    others
        .iter()
        .filter(|(other, _)| *other != stack)
        .flat_map(|(other, share)| {
            share
                .parts
                .iter()
                .filter(|p| ours.contains(p.as_str()))
                .filter(|p| !super::shared_bucket::is_found(p))
                .map(move |p| (other.clone(), p.clone()))
        })
        .collect()
}

/// On a resource this stack owns, the parts other stacks share on it (their records): the
/// statements they recorded stay in the documents the owner writes whole, and a role's inline
/// policies and attachments they recorded stay on it. Returns the parts the owner's block
/// also declares: (the other stack, the part), a conflict.
pub fn keep_others_parts(
    kind: Kind,
    desired: &mut Attributes,
    found: &LiveResource,
    stack: &str,
) -> Vec<(String, String)> {
    let mut others = crate::model::shared::all_shares(found.attributes.get(SHARES_ATTRIBUTE));
    others.remove(stack);
    let mut conflicts = Vec::new();
    if others.is_empty() {
        return conflicts;
    }
    let theirs = |prefix: &str| -> Vec<(String, String)> {
        others
            .iter()
            .flat_map(|(other, share)| {
                share
                    .with_prefix(prefix)
                    .map(move |id| (other.clone(), id.to_string()))
            })
            .collect()
    };
    for &document in documents(kind) {
        let (Some(Value::Policy(mine)), Some(live)) = (
            desired.get(document),
            found.attributes.get(document).and_then(Value::as_policy),
        ) else {
            continue;
        };
        let mine_sids = crate::policy::merge::sids(mine);
        let mut kept = BTreeSet::new();
        for (other, sid) in theirs(document) {
            if mine_sids.contains(&sid) {
                conflicts.push((other, format!("{document}/{sid}")));
            } else {
                kept.insert(sid);
            }
        }
        let kept = crate::policy::merge::only_sids(live, &kept);
        if !kept.statements().is_empty() {
            let merged = merge_by_sid(Some(mine), Some(&kept), &BTreeSet::new());
            desired.insert(document.into(), Value::policy(merged));
        }
    }
    if kind == Kind::Bucket {
        conflicts.extend(super::shared_bucket::keep_others_entries(
            desired, found, &others,
        ));
    }
    if kind == Kind::Role {
        for (prefix, attribute) in [("inline", "policies"), ("attached", "managed_policies")] {
            for (other, id) in theirs(prefix) {
                match desired.get_mut(attribute) {
                    Some(Value::Map(mine)) if mine.contains_key(&id) => {
                        conflicts.push((other, format!("{prefix}/{id}")))
                    }
                    Some(Value::Map(mine)) => {
                        let live = match found.attributes.get(attribute) {
                            Some(Value::Map(live)) => live.get(&id).cloned(),
                            _ => None,
                        };
                        mine.extend(live.map(|policy| (id, policy)));
                    }
                    Some(Value::Set(mine)) if mine.contains(&id) => {
                        conflicts.push((other, format!("{prefix}/{id}")))
                    }
                    Some(Value::Set(mine)) => {
                        let mut all: BTreeSet<String> = mine.iter().cloned().collect();
                        all.insert(id);
                        *mine = all.into_iter().collect();
                    }
                    _ => {}
                }
            }
        }
    }
    conflicts
}

/// The plan error for parts another stack already manages on a shared resource.
pub fn conflict(resource: &Resource, id: &str, claimed: &[(String, String)]) -> Diagnostic {
    let (other, part) = &claimed[0];
    let list: Vec<String> = claimed.iter().map(|(_, p)| describe(p)).collect();
    Diagnostic::error(
        Code::PlanSharedConflict,
        format!(
            "{} `{id}`: {} {} already managed by stack `{other}`",
            resource.kind(),
            list.join(", "),
            if claimed.len() == 1 { "is" } else { "are" },
        ),
    )
    .at_location(Some(resource.location.clone()))
    .hint(format!(
        "give {} another {} in [{}], or remove it from stack `{other}` first: two stacks owning one part would undo each other's changes",
        describe(part),
        if part.starts_with("policy/") || part.starts_with("trust/") { "Sid" } else if part.starts_with("inline/") { "name" } else { "id" },
        resource.address
    ))
}

/// One part of a record, in words (`policy/TonicS3`: `policy statement TonicS3`).
pub fn describe(part: &str) -> String {
    let Some((what, id)) = part.split_once('/') else {
        return part.to_string();
    };
    let what = match what {
        "policy" => "policy statement",
        "trust" => "trust statement",
        "inline" => "inline policy",
        "attached" => "attached policy",
        "cors" => "CORS rule",
        "notification" => "notification",
        "setting" => return id.replace('_', " "),
        other => other,
    };
    format!("{what} {id}")
}

/// The Sids of the statements a shared resource's block owns in `document`, if that document
/// is merged by Sid with the owner's; `None` for a document the stack writes whole.
pub fn owned_sids(resource: &Resource, document: &str, vars: &Vars) -> Option<BTreeSet<String>> {
    (is_shared(resource) && documents(resource.kind()).contains(&document))
        .then(|| declared_sids(resource, document, vars))
}

/// The spec's variables, by name.
type Vars = std::collections::BTreeMap<String, crate::spec::Var>;

/// The Sids of the statements the block writes in one of its documents, variables filled in
/// (`"Send${var.env}"`: the load checked that a Sid refers to nothing else).
fn declared_sids(resource: &Resource, document: &str, vars: &Vars) -> BTreeSet<String> {
    resource
        .body
        .policy_documents()
        .into_iter()
        .filter(|(name, _, _)| name == document)
        .flat_map(|(_, template, _)| template.sids_with_vars(vars))
        .collect()
}

/// A shared role's inline policies (by name) and attachments (by ARN): the declared ones are
/// added, those this stack declared before and no longer does are removed, others kept.
fn merge_role_collections(
    desired: &mut Attributes,
    found: &LiveResource,
    previous: &Share,
    parts: &mut BTreeSet<String>,
) {
    let declared_inline = match desired.get("policies") {
        Some(Value::Map(m)) => m.clone(),
        _ => Default::default(),
    };
    let mut inline = match found.attributes.get("policies") {
        Some(Value::Map(m)) => m.clone(),
        _ => Default::default(),
    };
    for name in previous.with_prefix("inline") {
        if !declared_inline.contains_key(name) {
            inline.remove(name);
        }
    }
    for (name, policy) in declared_inline {
        parts.insert(format!("inline/{name}"));
        inline.insert(name, policy);
    }
    desired.insert("policies".into(), Value::Map(inline));

    let declared_attached: Vec<String> = match desired.get("managed_policies") {
        Some(Value::Set(s)) => s.clone(),
        _ => Vec::new(),
    };
    let mut attached: BTreeSet<String> = match found.attributes.get("managed_policies") {
        Some(Value::Set(s)) => s.iter().cloned().collect(),
        _ => BTreeSet::new(),
    };
    for arn in previous.with_prefix("attached") {
        if !declared_attached.iter().any(|a| a == arn) {
            attached.remove(arn);
        }
    }
    for arn in declared_attached {
        parts.insert(format!("attached/{arn}"));
        attached.insert(arn);
    }
    desired.insert("managed_policies".into(), Value::set(attached));
}

/// Whether a planned change is to a resource someone else owns (an existing bucket, or a
/// shared role, key or queue).
pub fn is_marked(change: &crate::plan::ResourceChange) -> bool {
    [change.desired.as_ref(), change.live.as_deref()]
        .into_iter()
        .flatten()
        .any(|a| a.get(EXISTING) == Some(&Value::Bool(true)))
}
