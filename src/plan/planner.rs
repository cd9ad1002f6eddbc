//! The planner: spec + live snapshot → plan. Pure: no I/O, no clock, no randomness.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    attribute_at, Action, AttributeChange, Plan, PolicyFinding, Reason, ResourceChange, Warning,
    FORMAT_VERSION,
};
use crate::diag::{Code, Diagnostic, Diagnostics, WarningCode};
use crate::model::{Address, Attributes, Kind, Value};
use crate::parallel::Runs;
use crate::policy;
use crate::spec::checks;
use crate::spec::resolve::Resolver;
use crate::spec::template::{Piece, Reference};
use crate::spec::{Resource, Spec};
use crate::state::{LiveResource, LiveSnapshot, REPLACED_EXPORT};

#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    /// Plan the deletion of everything the stack owns.
    pub destroy: bool,
    /// Report only how owned resources that exist differ from the spec (drift): no creates,
    /// no deletes.
    pub refresh_only: bool,
}

/// Computes the plan. Errors (a name taken by a resource the stack does not own, a protected
/// resource about to be destroyed, a policy that resolves to something invalid) come back
/// together; warnings travel inside the plan.
/// The number of resources from which [`plan`] plans them on two threads: below it, starting
/// one costs more than it saves.
const TWO_THREADS_FROM: usize = 500;

pub fn plan(spec: &Spec, live: &LiveSnapshot, options: PlanOptions) -> Result<Plan, Diagnostics> {
    plan_on(
        spec,
        live,
        options,
        spec.resources.len() >= TWO_THREADS_FROM,
    )
}

/// Resources a thread of a large plan takes at a time: small enough that the two threads
/// finish within a run of each other, large enough that taking one costs nothing.
const RUN: usize = 32;

/// [`plan`], planning the resources on two threads when `two_threads`.
pub(super) fn plan_on(
    spec: &Spec,
    live: &LiveSnapshot,
    options: PlanOptions,
    two_threads: bool,
) -> Result<Plan, Diagnostics> {
    let account = live.account.clone().ok_or_else(|| {
        Diagnostics(vec![Diagnostic::error(
            Code::PlanNoAccount,
            "the live snapshot does not say which account it is",
        )])
    })?;
    let resumed = resumed_keys(spec, &account, live, options);
    let live = resumed.as_ref().unwrap_or(live);
    let resolver = Resolver::new(spec, &account, Some(live));
    let known_accounts: Vec<String> = std::iter::once(account.account_id.clone())
        .chain(
            spec.vars
                .values()
                .map(|v| v.value.clone())
                .filter(|v| v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit())),
        )
        .collect();
    let stack = spec.stack.name.as_str();
    let key_aliases = key_aliases(spec, &resolver);
    let mut diags = Diagnostics::default();
    // Sized for the spec's resources and what the account holds beside them.
    let mut changes = Vec::with_capacity(spec.resources.len() + live.owned.len());
    // Physical resources matched to a spec address; everything else the stack owns is deleted.
    let mut claimed_ids: Vec<(Kind, String)> = Vec::with_capacity(spec.resources.len());

    let other_envs: Vec<&str> = spec
        .environments
        .keys()
        .map(String::as_str)
        .filter(|name| spec.stack.env.as_ref().is_none_or(|e| e.name != *name))
        .collect();
    let context = || Context {
        live,
        stack,
        vars: &spec.vars,
        key_aliases: &key_aliases,
        known_accounts: &known_accounts,
        other_envs: &other_envs,
        options,
        lints: Default::default(),
    };
    // One resolver for the resources and the checks, so exports are computed once; in a
    // large spec, a second thread plans and checks resources too, with a resolver and lint
    // memo of its own (both only remember what they computed). Each thread takes the next run
    // of resources in the spec's order as it is free, and the results are put back in that
    // order.
    let resources: Vec<&Resource> = spec.resources.values().collect();
    let plan_runs = |runs: Runs<'_, &Resource>, resolver: &Resolver<'_>| {
        let context = context();
        let planned: Vec<(usize, Vec<Planned>)> = runs
            .map(|(start, run)| {
                let run = run.iter().map(|r| plan_resource(r, resolver, &context));
                (start, run.collect())
            })
            .collect();
        planned
    };
    // The checks once every policy is resolved: AWS's rules on the values validate could not
    // know (those made from other resources' attributes or the account: a role's ARN given
    // where IAM takes its name), and the checks across resources; what each found on each
    // resource.
    let checking = !options.destroy && !options.refresh_only;
    let check_runs = |runs: Runs<'_, &Resource>,
                      resolver: &Resolver<'_>,
                      resolved: checks::Resolved|
     -> Vec<(usize, Vec<(Diagnostics, Diagnostics)>)> {
        if !checking {
            return Vec::new();
        }
        let lookup = |r: &crate::spec::template::Reference| resolver.lookup(r);
        let checker = crate::spec::rules::Checker::resolved(&spec.vars, &lookup);
        let across = checks::Checks::new(spec, &lookup, resolved);
        runs.map(|(start, run)| {
            let run = run.iter().map(|resource| {
                let mut values = Diagnostics::default();
                resource.body.check(&checker, &mut values);
                (values, across.of(resource))
            });
            (start, run.collect())
        })
        .collect()
    };
    let two_threads = two_threads && resources.len() > 1;
    let ((second_planned, second_resolver), first_planned) = crate::parallel::in_runs(
        two_threads,
        &resources,
        RUN,
        |runs| {
            let resolver = Resolver::new(spec, &account, Some(live));
            (plan_runs(runs, &resolver), resolver)
        },
        |runs| plan_runs(runs, &resolver),
    );
    let all = crate::parallel::in_order([first_planned, second_planned]);
    let resolved: checks::Resolved = all
        .iter()
        .flat_map(|p| p.resolved.iter().cloned())
        .collect();
    let second_resolved = if two_threads {
        resolved.clone()
    } else {
        checks::Resolved::default()
    };
    let check_runs = &check_runs;
    // The second thread also looks for blocks that name one resource, after its runs.
    let ((second_checked, named_twice), first_checked) = crate::parallel::in_runs(
        two_threads && checking,
        &resources,
        RUN,
        move |runs| {
            let checked = check_runs(runs, &second_resolver, second_resolved);
            let named_twice = super::same_resource::named_twice(spec, live, &second_resolver);
            (checked, named_twice)
        },
        |runs| check_runs(runs, &resolver, resolved),
    );
    let checked = crate::parallel::in_order([first_checked, second_checked]);
    for planned in all {
        diags.extend(planned.diags);
        claimed_ids.extend(planned.claimed);
        changes.extend(planned.change);
    }

    diags.0.extend(named_twice);

    // Resources the stack owns that no spec resource claims: delete them.
    let claimed: IdSet = claimed_ids
        .iter()
        .map(|(k, id)| (*k, id.as_str()))
        .collect();
    let mut seen = IdSet::default();
    let owned = live
        .owned
        .iter()
        .chain(live.by_address.values().filter(|l| l.is_owned_by(stack)));
    for found in owned {
        let id = (found.kind, found.physical_id.as_str());
        // One pending deletion is already being deleted; one the stack only shares with its
        // owner is never deleted (`released_shares`).
        if !found.is_owned_by(stack)
            || options.refresh_only
            || claimed.contains(&id)
            || !seen.insert(id)
            || found.is_pending_deletion()
        {
            continue;
        }
        // plinth tags everything it makes with its address too: a resource with the stack's
        // tag alone was tagged by hand (copied tags), and is not the stack's to delete.
        if found.address_tag.is_none() {
            diags.push(
                Diagnostic::warning(
                    WarningCode::StackTagOnly,
                    format!(
                        "{} `{}` carries the tag plinth:stack = {stack} but no plinth:address: plinth did not make it, and leaves it alone",
                        found.kind, found.physical_id
                    ),
                )
                .hint("remove the plinth:stack tag from it (a copied tag), or declare it with `adopt = true` to make it the stack's"),
            );
            continue;
        }
        // A second key tagged with an address the spec declares was left by an apply that
        // stopped while creating or replacing that key; apply takes it over when it next
        // creates or replaces the key, so it must not be deleted in the same plan.
        let copy_of_declared = !found.kind.has_name()
            && found
                .address_tag
                .as_ref()
                .is_some_and(|a| spec.resources.contains_key(a));
        if copy_of_declared && !options.destroy {
            // A replace in progress (killed after creating the new key) is finished by the
            // next replace, which takes the new one over: if it is what the spec asks for now
            // in every attribute that cannot change in place. One that is not (the spec asks
            // for yet another key) is deleted below.
            let taken_over = changes.iter().any(|c: &ResourceChange| {
                Some(&c.address) == found.address_tag.as_ref()
                    && c.action == Action::Replace
                    && c.desired.as_ref().is_some_and(|desired| {
                        desired
                            .iter()
                            .filter(|(name, _)| found.kind.forces_replacement(name))
                            .all(|(name, value)| found.attributes.get(name) == Some(value))
                    })
            });
            if taken_over {
                continue;
            }
            // A replacement that stopped after moving the aliases (before or at scheduling the
            // replaced key's deletion) is finished by that deletion; one that stopped before
            // its key took over, whose spec no longer asks for such a key, by deleting that.
            if let Some((address, reason)) = replacement_pair(found, live, stack) {
                changes.push(delete_change(
                    Address::new(
                        found.kind,
                        format!("{}#{}", address.name, found.physical_id),
                    ),
                    found,
                    Some(reason),
                ));
            } else {
                report_duplicate(found, live, stack, &mut diags);
            }
            continue;
        }
        let address = match &found.address_tag {
            Some(a) if a.kind == found.kind && !spec.resources.contains_key(a) => a.clone(),
            // Another resource holds the address: this one is named after it and its id.
            Some(a) if a.kind == found.kind => {
                Address::new(found.kind, format!("{}#{}", a.name, found.physical_id))
            }
            _ => Address::new(found.kind, format!("{}#{}", found.kind, found.physical_id)),
        };
        let reason = if options.destroy {
            Reason::DestroyingStack
        } else {
            Reason::LeftTheSpec
        };
        changes.push(delete_change(address, found, Some(reason)));
    }
    if !options.refresh_only {
        changes.extend(released_shares(spec, live, stack, &claimed, options));
        for change in &changes {
            if let Some(diagnostic) = deletes_what_others_share(change, spec, stack) {
                diags.push(diagnostic);
            }
            if let Some(diagnostic) = public_policy_on_a_new_bucket(change, spec) {
                diags.push(diagnostic);
            }
            if let Some(diagnostic) = key_policy_left_empty(change, spec) {
                diags.push(diagnostic);
            } else if let Some(diagnostic) =
                shared_key_locked_out(change, spec, live.account.as_ref())
            {
                diags.push(diagnostic);
            }
        }
    }
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    order_deletes(&mut changes, spec, live);
    if options.refresh_only {
        // A drift report says how the account moved away from the spec: each attribute from
        // the spec's value to the live one, so that a trust policy opened by hand reads as
        // widening access, not as the narrowing an apply would make of it.
        for c in changes.iter_mut().filter(|c| c.is_change()) {
            c.reason = Some(Reason::Drift {
                then: c.reason.take().map(Box::new),
            });
            for attribute in &mut c.attributes {
                std::mem::swap(&mut attribute.before, &mut attribute.after);
            }
        }
    }

    if !options.destroy && !options.refresh_only {
        diags.extend(Diagnostics(keys_recreated(&changes).into_iter().collect()));
        // Validate ran the checks it could; one it ran reports the same finding again here.
        let reported: BTreeSet<(Code, &str)> = spec
            .warnings
            .0
            .iter()
            .map(|w| (w.code, w.message.as_str()))
            .collect();
        let (values, findings): (Vec<Diagnostics>, Vec<Diagnostics>) = checked.into_iter().unzip();
        values.into_iter().for_each(|v| diags.extend(v));
        for finding in findings.into_iter().flat_map(|f| f.0) {
            if !reported.contains(&(finding.code, finding.message.as_str())) {
                diags.push(finding);
            }
        }
    }

    let outputs = spec
        .outputs
        .iter()
        .map(|(k, t)| (k.clone(), resolver.value(t)))
        .collect();
    crate::spec::redact_secrets(&spec.file, &mut diags);
    if diags.has_errors() {
        return Err(diags.sorted());
    }
    // A policy lint the spec's loading reported is also a finding on its resource's change,
    // where the plan shows it beside the resource: the plan's warnings leave it out, so that a
    // reader meets it once.
    // Built only when loading reported a lint: a large plan has many findings and no need.
    let reported_a_lint =
        (spec.warnings.0.iter()).any(|w| w.warning_code == Some(WarningCode::PolicyLint));
    let changes_with_lints = if reported_a_lint { &changes[..] } else { &[] };
    let on_changes: BTreeSet<String> = changes_with_lints
        .iter()
        .flat_map(|c| {
            c.lints
                .iter()
                .filter(|l| l.severity == policy::Severity::Warning)
                .map(|l| {
                    crate::spec::lint_message(
                        &c.address,
                        &l.policy,
                        l.statement.as_deref(),
                        &l.message,
                        l.code,
                    )
                })
        })
        .collect();
    // A destroy plan sends no policy: what the spec's policies would grant is not its concern.
    let warnings = (spec.warnings.0.iter())
        .filter(|w| {
            w.warning_code != Some(WarningCode::PolicyLint)
                || !options.destroy && !on_changes.contains(&w.message)
        })
        .chain(&diags.0)
        .filter_map(Warning::of)
        .collect();
    Ok(Plan {
        format_version: FORMAT_VERSION,
        stack: stack.to_string(),
        account,
        destroy: options.destroy,
        refresh_only: options.refresh_only,
        changes,
        outputs,
        warnings,
    })
}

/// A key without an alias is found by its address tag alone: a block of one renamed is a key
/// deleted and another created. When a plan deletes such a key that left the spec and creates
/// one without an alias, that may be what happened, and the reader is told before the key
/// (and what it encrypts) is scheduled for deletion.
fn keys_recreated(changes: &[ResourceChange]) -> Option<Diagnostic> {
    let has_alias = |v: Option<&Value>| match v {
        Some(Value::Set(s)) => !s.is_empty(),
        Some(Value::List(l)) => !l.is_empty(),
        _ => false,
    };
    let keys = |action: Action| {
        (changes.iter()).filter(move |c| c.address.kind == Kind::Key && c.action == action)
    };
    let deleted: Vec<String> = keys(Action::Delete)
        .filter(|c| c.reason == Some(Reason::LeftTheSpec))
        .filter(|c| !has_alias(c.live.as_ref().and_then(|l| l.get("aliases"))))
        .map(|c| c.address.to_string())
        .collect();
    let created: Vec<String> = keys(Action::Create)
        .filter(|c| {
            let aliases = c.attributes.iter().find(|a| a.name == "aliases");
            !has_alias(aliases.and_then(|a| a.after.as_ref()))
        })
        .map(|c| c.address.to_string())
        .collect();
    if deleted.is_empty() || created.is_empty() {
        return None;
    }
    Some(
        Diagnostic::warning(
            WarningCode::KeyRecreated,
            format!(
                "{} will be scheduled for deletion and {} created, and none has an alias: if a block was renamed, its key is replaced, and what it encrypts becomes unreadable once the deletion runs",
                deleted.join(", "),
                created.join(", ")
            ),
        )
        .hint("a key without an alias is found by its address tag alone: to keep it, give the block its old name, add an alias and apply, then rename the block"),
    )
}

/// Resources by kind and physical id: a large plan's thousands are looked up by hash.
type IdSet<'a> = crate::hash::FastSet<(Kind, &'a str)>;

/// Shared resources on which the stack recorded parts and that no block declares any more:
/// plinth's parts and record are removed, the resource stays.
fn released_shares(
    spec: &Spec,
    live: &LiveSnapshot,
    stack: &str,
    claimed: &IdSet,
    options: PlanOptions,
) -> Vec<ResourceChange> {
    let mut seen = IdSet::default();
    let mut out = Vec::new();
    for found in live.by_address.values().chain(&live.owned) {
        let id = (found.kind, found.physical_id.as_str());
        let Some(share) = super::shared::record(found, stack) else {
            continue;
        };
        if claimed.contains(&id) || !seen.insert(id) {
            continue;
        }
        let address = match share.address {
            Some(a) if a.kind == found.kind && !spec.resources.contains_key(&a) => a,
            Some(a) if a.kind == found.kind => {
                Address::new(found.kind, format!("{}#{}", a.name, found.physical_id))
            }
            _ => Address::new(found.kind, format!("{}#{}", found.kind, found.physical_id)),
        };
        let reason = if options.destroy {
            Reason::DestroyingStack
        } else {
            Reason::LeftTheSpec
        };
        let view = super::shared::live_view(found, stack);
        out.push(delete_change(address, &view, Some(reason)));
    }
    out
}

/// What the planner needs of every resource's plan.
struct Context<'a> {
    live: &'a LiveSnapshot,
    stack: &'a str,
    /// The spec's variables: a shared statement's Sid may be made of them.
    vars: &'a BTreeMap<String, crate::spec::Var>,
    /// Each alias a key of the spec declares (`alias/NAME`), and each existing key's `key_id`,
    /// with the key's address.
    key_aliases: &'a BTreeMap<String, Address>,
    known_accounts: &'a [String],
    /// The spec's other environments, by name: a resource another of them owns is a name the
    /// environments share, not one to hand over.
    other_envs: &'a [&'a str],
    options: PlanOptions,
    /// The lints of each document written with no references and linted with no silences, by
    /// the document's allocation and kind: roles that share a policy file share its parsed
    /// document, linted once. The entry holds the document, so its address is not reused while
    /// the plan is made.
    lints: std::cell::RefCell<LintMemo>,
}

type LintMemo = crate::hash::FastMap<
    (usize, policy::DocumentKind),
    (std::sync::Arc<policy::PolicyDocument>, Vec<policy::Lint>),
>;

/// One resource's part of the plan: its change (if any), the physical resources it claims,
/// its findings and the policies it resolved.
#[derive(Default)]
struct Planned {
    change: Option<ResourceChange>,
    claimed: Vec<(Kind, String)>,
    diags: Diagnostics,
    resolved: Vec<(usize, Option<std::sync::Arc<policy::PolicyDocument>>)>,
}

fn plan_resource(resource: &Resource, resolver: &Resolver<'_>, context: &Context<'_>) -> Planned {
    let Context {
        live,
        stack,
        options,
        ..
    } = *context;
    let mut out = Planned::default();
    let desired = resource.body.desired(resolver, &mut out.diags);
    let measure = !options.destroy && !options.refresh_only;
    let documents = resource.body.documents();
    let mut grown = Vec::new();
    for (attribute, name, template) in &documents {
        if let Some(doc) = attribute_at(&desired, name).and_then(Value::as_shared_policy) {
            // Only a document with references can have grown since load measured it.
            if measure && !template.templated.is_empty() {
                if let Some(limit) = size_limit(resource, &documents, attribute, template) {
                    grown.extend(grown_size(template, doc, limit, context.vars));
                }
            }
            out.resolved
                .push((template.key(), Some(std::sync::Arc::clone(doc))));
        }
    }
    if !grown.is_empty() {
        report_grown_policies(resource, &grown, &mut out.diags);
    }
    let mut depends_on = dependencies(resource);
    // A key named by one of its aliases (a queue's `kms_key = "alias/tonic-sqs"`, written
    // out or through a variable) is created first all the same: the value names it.
    for value in desired.values() {
        if let Some(key) = value.as_str().and_then(|v| context.key_aliases.get(v)) {
            if *key != resource.address && !depends_on.contains(key) {
                depends_on.push(key.clone());
            }
        }
    }
    // Known for every kind but a key without aliases (the read found names, or failed).
    let physical_id = resource.body.physical_id(resolver).ok().flatten();
    let by_name = live.by_address.get(&resource.address);
    if let Some(found) = by_name {
        out.claimed.push((found.kind, found.physical_id.clone()));
    }
    // A resource the stack owns under this address's tag whose name the spec no longer gives
    // it: renamed. Unless another block finds it by its name (its block's address was
    // renamed, and this address reused): that block holds it.
    let renamed_from = || {
        live.owned.iter().find(|o| {
            o.address_tag.as_ref() == Some(&resource.address)
                && Some(&o.physical_id) != physical_id.as_ref()
                && !live.by_address.iter().any(|(address, l)| {
                    *address != resource.address
                        && l.kind == o.kind
                        && l.physical_id == o.physical_id
                })
        })
    };
    let held = |l: &LiveResource| {
        l.is_owned_by(stack)
            || super::shared::is_shared(resource) && super::shared::record(l, stack).is_some()
    };
    if options.refresh_only && !by_name.is_some_and(held) {
        // Drift is about resources the stack owns, or parts of shared resources it has
        // written, that exist under their names. One found under no name is missing from the
        // account: the report's largest drift, though with no state plinth cannot tell one
        // deleted by hand from one never applied. (One under another stack's or no owner is
        // not the stack's drift: a plan says what stands in its way.)
        if by_name.is_none() && renamed_from().is_none() && !resource.release {
            out.change = Some(ResourceChange {
                address: resource.address.clone(),
                action: Action::Delete,
                reason: Some(Reason::Missing),
                physical_id: physical_id.unwrap_or_default(),
                replaces: None,
                attributes: Vec::new(),
                desired: Some(desired),
                live: None,
                take_ownership: false,
                depends_on: Vec::new(),
                lints: Vec::new(),
            });
        }
        return out;
    }
    if resource.release && !options.destroy && !options.refresh_only {
        return plan_release(resource, by_name, stack, out);
    }
    if super::shared::is_shared(resource) {
        let id = physical_id.unwrap_or_default();
        return plan_shared(resource, desired, (&id, by_name), depends_on, context, out);
    }
    let mut desired = desired;
    if let Some(found) = by_name.filter(|f| f.is_owned_by(stack) && !options.destroy) {
        let claimed = super::shared::keep_others_parts(resource.kind(), &mut desired, found, stack);
        if !claimed.is_empty() {
            let id = found.physical_id.clone();
            out.diags
                .push(super::shared::conflict(resource, &id, &claimed));
            return out;
        }
    }
    let view = by_name.map(|found| super::shared_bucket::compared_view(&desired, found));
    let by_name = view.as_deref();
    let change = if options.destroy {
        match by_name.filter(|l| l.is_owned_by(stack) && !l.is_pending_deletion()) {
            Some(found) => delete_change(
                resource.address.clone(),
                found,
                Some(Reason::DestroyingStack),
            ),
            None => return out,
        }
    } else {
        match by_name {
            Some(found) if found.is_owned_by(stack) => {
                // Found by its name with another address's tag: the block's address was
                // renamed. Apply rewrites the tag, so that the old address is free again.
                let moved_from = (found.address_tag.as_ref())
                    .filter(|tag| **tag != resource.address)
                    .cloned();
                let moved = moved_from.is_some();
                let mut change = compare(resource, desired, physical_id, found, depends_on, moved);
                if let Some(from) = moved_from {
                    if matches!(
                        change.reason,
                        Some(Reason::Adopting | Reason::AdoptingTagsOnly)
                    ) {
                        change.reason = Some(Reason::Moved { from });
                    }
                }
                change
            }
            // Adopting a resource other stacks share would take their parts.
            Some(found)
                if found.owner.is_none() && resource.adopt && sharing_stacks(found).is_empty() =>
            {
                compare(resource, desired, physical_id, found, depends_on, true)
            }
            Some(found) => {
                out.diags
                    .push(conflict(resource, found, context.other_envs));
                return out;
            }
            None if resource.body.must_exist() => {
                out.diags.push(missing_existing(
                    resource,
                    physical_id.as_deref().unwrap_or_default(),
                ));
                return out;
            }
            None => match renamed_from() {
                Some(old) => {
                    out.claimed.push((old.kind, old.physical_id.clone()));
                    let mut change =
                        compare(resource, desired, physical_id, old, depends_on, false);
                    change.action = Action::Replace;
                    change.replaces = Some(old.physical_id.clone());
                    change.reason = Some(Reason::NameChanged {
                        from: old.physical_id.clone(),
                    });
                    change
                }
                None => create_change(resource, desired, physical_id, depends_on),
            },
        }
    };
    let mut change = change;
    change.lints = policy_findings(resource, &change, context, &mut out.diags);
    if resource.prevent_destroy && matches!(change.action, Action::Delete | Action::Replace) {
        out.diags.push(
            Diagnostic::error(
                Code::PlanPreventDestroy,
                format!(
                    "{} has prevent_destroy = true, but this plan would {} it",
                    resource.address,
                    change.action.as_str()
                ),
            )
            .at_location(Some(resource.location.clone()))
            .hint("remove prevent_destroy if destroying it is really intended"),
        );
    }
    out.change = Some(change);
    out
}

/// `release = true`: the next apply removes the stack's tags (on a shared resource, its
/// record) and changes nothing else; the block can then be deleted and nothing is deleted in
/// AWS. Releasing what another stack owns is a conflict; what carries nothing of this stack's
/// is already released.
fn plan_release(
    resource: &Resource,
    found: Option<&LiveResource>,
    stack: &str,
    mut out: Planned,
) -> Planned {
    // Loading refused `release = true` on a kind plinth cannot release.
    let Some(found) = found else {
        return out;
    };
    let shared = super::shared::is_shared(resource) || resource.body.must_exist();
    let held = if shared {
        super::shared::record(found, stack).is_some() || found.is_owned_by(stack)
    } else {
        found.is_owned_by(stack)
    };
    if !held {
        if let Some(other) = found.owner.as_deref().filter(|o| *o != stack) {
            out.diags.push(
                Diagnostic::error(
                    Code::PlanReleaseNotOwned,
                    format!(
                        "{} `{}` belongs to stack `{other}`, so this stack has nothing to release",
                        resource.kind(),
                        found.physical_id
                    ),
                )
                .at_location(Some(resource.location.clone()))
                .hint(format!(
                    "remove `release = true` from [{}]; release it from stack `{other}`",
                    resource.address
                )),
            );
        }
        return out;
    }
    let mut live = if shared {
        super::shared::live_view(found, stack)
    } else {
        found.clone()
    };
    if resource.body.must_exist() && resource.kind() == Kind::Bucket {
        std::sync::Arc::make_mut(&mut live.attributes)
            .insert(super::shared::EXISTING.into(), Value::Bool(true));
    }
    let mut desired = (*live.attributes).clone();
    desired.insert(super::shared::RELEASED.into(), Value::Bool(true));
    out.change = Some(ResourceChange {
        address: resource.address.clone(),
        action: Action::Update,
        reason: Some(Reason::Released),
        physical_id: found.physical_id.clone(),
        replaces: None,
        attributes: Vec::new(),
        desired: Some(desired),
        live: Some(live.attributes),
        take_ownership: false,
        depends_on: Vec::new(),
        lints: Vec::new(),
    });
    out
}

/// A resource shared with its owner (`existing = true` on a role, key or queue): merged into
/// what is live, never created or deleted; destroying the stack, or `release`, forgets
/// plinth's parts.
fn plan_shared(
    resource: &Resource,
    mut desired: Attributes,
    (id, found): (&str, Option<&LiveResource>),
    depends_on: Vec<Address>,
    context: &Context<'_>,
    mut out: Planned,
) -> Planned {
    let stack = context.stack;
    let Some(found) = found.filter(|f| !f.is_pending_deletion()) else {
        if !context.options.destroy {
            out.diags.push(missing_existing(resource, id));
        }
        return out;
    };
    let view = super::shared::live_view(found, stack);
    let recorded = super::shared::record(found, stack).is_some();
    let change = if context.options.destroy {
        if !recorded {
            return out;
        }
        delete_change(
            resource.address.clone(),
            &view,
            Some(Reason::DestroyingStack),
        )
    } else {
        // Said only when the plan goes ahead: a part another stack's record holds is a
        // conflict with that stack, not a takeover from the owner.
        let taken_over =
            super::shared::taken_over_differently(resource, &desired, found, stack, context.vars);
        super::shared::merge_desired(resource, &mut desired, found, stack, context.vars);
        if let Some(overlap) = super::shared_bucket::overlapping_notifications(resource, &desired) {
            out.diags.push(overlap);
            return out;
        }
        let claimed = super::shared::claimed_by_others(&desired, found, stack);
        if !claimed.is_empty() {
            out.diags
                .push(super::shared::conflict(resource, id, &claimed));
            return out;
        }
        for warning in taken_over {
            out.diags.push(warning);
        }
        compare(resource, desired, None, &view, depends_on, false)
    };
    let mut change = change;
    change.lints = policy_findings(resource, &change, context, &mut out.diags);
    out.change = Some(change);
    out
}

/// Lints the resolved policies; lint errors stop the plan, the rest ride along with the change.
/// A live policy naming a deleted principal (IAM rewrote its ARN to a unique id) is a finding
/// of its own, so it is not mistaken for an ordinary edit.
fn policy_findings(
    resource: &Resource,
    change: &ResourceChange,
    context: &Context<'_>,
    diags: &mut Diagnostics,
) -> Vec<PolicyFinding> {
    let mut findings = Vec::new();
    for (name, template, kind) in resource.body.policy_documents() {
        let desired = change
            .desired
            .as_ref()
            .and_then(|d| attribute_at(d, &name))
            .and_then(Value::as_shared_policy);
        if let Some(doc) = desired {
            let silenced = resource.silenced_for(&name);
            let lint = |silenced| {
                let lint_context = policy::LintContext {
                    kind,
                    known_accounts: context.known_accounts.to_vec(),
                    // `known_accounts` begins with the account read from AWS.
                    own_account: context.known_accounts.first().cloned(),
                    silenced,
                };
                policy::lint(doc, &lint_context)
            };
            // Only a document written with no references can be shared: the others are made
            // anew for each resource, and keeping their lints would only take memory.
            let lints = if template.held_once().is_some() && silenced.is_empty() {
                let key = (std::sync::Arc::as_ptr(doc) as usize, kind);
                let mut memo = context.lints.borrow_mut();
                let (_, lints) = memo
                    .entry(key)
                    .or_insert_with(|| (std::sync::Arc::clone(doc), lint(silenced)));
                lints.clone()
            } else {
                lint(silenced)
            };
            // A shared document is the owner's statements with the block's merged in: only
            // the block's are the stack's to answer for (the owner's are sent back as AWS
            // returned them, and a finding there could be neither fixed nor silenced here).
            let owned = super::shared::owned_sids(resource, &name, context.vars);
            let others = |lint: &policy::Lint| match (&owned, &lint.statement) {
                (Some(owned), Some(statement)) => !owned.contains(statement),
                _ => false,
            };
            for lint in lints.into_iter().filter(|lint| !others(lint)) {
                if lint.severity == policy::Severity::Error {
                    if let Some(d) = crate::spec::lint_diagnostic(
                        &resource.address,
                        &name,
                        &lint,
                        &template.location,
                    ) {
                        diags.push(d);
                    }
                }
                findings.push(PolicyFinding {
                    policy: name.clone(),
                    code: lint.code,
                    severity: lint.severity,
                    statement: lint.statement,
                    message: lint.message,
                });
            }
        }
        let live = change
            .live
            .as_ref()
            .and_then(|l| attribute_at(l, &name))
            .and_then(Value::as_policy);
        let ids = live.map(policy::unique_id_principals).unwrap_or_default();
        if !ids.is_empty() {
            findings.push(PolicyFinding {
                policy: name.clone(),
                code: policy::LintCode::UniqueIdPrincipal,
                severity: policy::Severity::Warning,
                statement: None,
                message: format!(
                    "the live {name} names {}: IAM replaced the ARN of a principal that was deleted with its unique id, and a principal recreated under that name is not trusted until the ARN is written back",
                    ids.join(", ")
                ),
            });
        }
    }
    findings
}

fn conflict(resource: &Resource, found: &LiveResource, other_envs: &[&str]) -> Diagnostic {
    let sharing = sharing_stacks(found);
    let (message, hint) = match &found.owner {
        None if !sharing.is_empty() => (
            format!(
                "{} `{}` is someone else's, shared by stack{} {} (`existing = true` there); adopting it would take their parts",
                resource.kind(),
                found.physical_id,
                if sharing.len() == 1 { "" } else { "s" },
                sharing.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "),
            ),
            format!(
                "declare [{}] with `existing = true` to add this stack's parts beside theirs, or choose another name",
                resource.address
            ),
        ),
        None => (
            format!("{} `{}` already exists and no stack owns it", resource.kind(), found.physical_id),
            format!("set `adopt = true` on [{}] to take it over (plinth tags it on apply), or choose another name", resource.address),
        ),
        // Another environment of this spec, by its stack's name (`tonic-dev`): the
        // environments name one resource, which neither should hand to the other.
        Some(other) if other_envs.iter().any(|env| {
            other.split(['-', '_', '.']).any(|word| word == *env)
        }) => (
            format!("{} `{}` already exists and belongs to stack `{other}`, another environment of this spec", resource.kind(), found.physical_id),
            "give each environment its own names, from a variable each [env.NAME] sets (`plinth validate --all-envs` names every name they share); do not release or adopt it: that would move it from one environment to the other".to_string(),
        ),
        Some(other) => (
            format!("{} `{}` already exists and belongs to stack `{other}`", resource.kind(), found.physical_id),
            format!("let stack `{other}` release it first (`release = true` on its block, then apply there), then set `adopt = true` here; or choose another name"),
        ),
    };
    Diagnostic::error(Code::PlanConflict, message)
        .at_location(Some(resource.location.clone()))
        .hint(hint)
}

/// The stacks that share `found` (`existing = true`), by the records on it.
fn sharing_stacks(found: &LiveResource) -> Vec<String> {
    let shares = found.attributes.get(crate::model::shared::SHARES_ATTRIBUTE);
    crate::model::shared::all_shares(shares)
        .into_keys()
        .collect()
}

/// A shared key's attributes as read, and as the change leaves them: updated, or released
/// (`release = true` keeps the stack's parts; a release that removes them takes its
/// statements out). `None` for any other change.
fn shared_key_sides(change: &ResourceChange) -> Option<(&Attributes, Attributes)> {
    if change.address.kind != Kind::Key || !change.is_change() {
        return None;
    }
    let live = change.live.as_ref()?;
    if live.get(super::shared::EXISTING) != Some(&Value::Bool(true)) {
        return None;
    }
    let after = if change.releases() {
        super::shared::released(live)
    } else {
        change.desired.clone()?
    };
    Some((live, after))
}

/// KMS refuses a key policy without a statement. A shared key's policy without the stack's
/// statements is what its owner wrote; if that is nothing, the plan is refused, rather than
/// the apply failing half-way (`PutKeyPolicy`).
/// A resource of the stack that other stacks share (their records are on it: `existing =
/// true` blocks of theirs, an environment's stack sharing another's key), which this plan would
/// delete or replace: their blocks would then find nothing, or a resource without what they
/// wrote on it. Refused, naming them, as `prevent_destroy` refuses; they let go first.
fn deletes_what_others_share(
    change: &ResourceChange,
    spec: &Spec,
    stack: &str,
) -> Option<Diagnostic> {
    if !matches!(change.action, Action::Delete | Action::Replace) || change.releases() {
        return None;
    }
    let live = change.live.as_ref()?;
    let others: Vec<String> =
        crate::model::shared::all_shares(live.get(crate::model::shared::SHARES_ATTRIBUTE))
            .into_keys()
            .filter(|s| s != stack)
            .collect();
    if others.is_empty() {
        return None;
    }
    let names = others
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ");
    // A replacement deletes the resource it replaces, which is the one they share.
    let shared = change.replaces.as_deref().unwrap_or(&change.physical_id);
    let diagnostic = Diagnostic::error(
        Code::PlanSharedByOthers,
        format!(
            "{} `{shared}` is shared by stack{} {names}, but this plan would {} it: {} would lose it",
            change.address,
            if others.len() == 1 { "" } else { "s" },
            change.action.as_str(),
            if others.len() == 1 { "that stack" } else { "those stacks" },
        ),
    )
    .hint(format!(
        "let {names} go of it first (remove its `existing = true` block there, or `release = true`, and apply), then plan this again"
    ));
    Some(match spec.resources.get(&change.address) {
        Some(resource) => diagnostic.at_location(Some(resource.location.clone())),
        None => diagnostic,
    })
}

/// A bucket the apply creates, with a public policy S3 would refuse under the Block Public
/// Access it turns on for new buckets (`checks::public_policy_on_a_new_bucket`).
fn public_policy_on_a_new_bucket(change: &ResourceChange, spec: &Spec) -> Option<Diagnostic> {
    if change.address.kind != Kind::Bucket || change.action != Action::Create {
        return None;
    }
    let document = change.desired.as_ref()?.get("policy")?.as_policy()?;
    checks::public_policy_on_a_new_bucket(spec.resources.get(&change.address)?, document)
}

fn key_policy_left_empty(change: &ResourceChange, spec: &Spec) -> Option<Diagnostic> {
    let (live, after) = shared_key_sides(change)?;
    let empty = after
        .get("policy")
        .and_then(Value::as_policy)
        .is_some_and(|p| p.statements().is_empty());
    let had = live
        .get("policy")
        .and_then(Value::as_policy)
        .is_some_and(|p| !p.statements().is_empty());
    (empty && had).then(|| {
        Diagnostic::error(
            Code::PlanEmptyKeyPolicy,
            format!(
                "{}: without this stack's statements, the policy of key `{}` would hold none, and KMS refuses an empty key policy",
                change.address, change.physical_id
            ),
        )
        .at_location(spec.resources.get(&change.address).map(|r| r.location.clone()))
        .hint("to leave the key's statements as they are, set `release = true` on the key's block and apply (the stack lets go of the key and its statements), then remove the block; otherwise keep one of the stack's statements until the key's owner has added one of their own (such as the account root's)")
    })
}

/// KMS refuses a key policy that would not let the identity sending it change the policy
/// again (its lockout safety check; moto does not). A shared key's policy as the stack leaves
/// it, after an update or a release, is checked as the spec's own keys are at validate: one
/// that lets the identity running plinth or the account manage it now, and would not after,
/// is refused, rather than the apply failing half-way, or, where nothing checks, leaving a key
/// no one can manage (the statement the stack stops declaring was the owner's, taken over by
/// an import).
fn shared_key_locked_out(
    change: &ResourceChange,
    spec: &Spec,
    account: Option<&crate::state::Account>,
) -> Option<Diagnostic> {
    let (live, after) = shared_key_sides(change)?;
    let resource = spec.resources.get(&change.address);
    if let Some(crate::spec::ResourceBody::Key(key)) = resource.map(|r| &r.body) {
        if key.bypass_lockout_reason.is_some() {
            return None;
        }
    }
    let account = account?;
    let before = live.get("policy").and_then(Value::as_policy)?;
    let after = after.get("policy").and_then(Value::as_policy)?;
    if after.statements().is_empty() {
        // `plan::empty-key-policy` says so.
        return None;
    }
    let caller = account.caller_principal();
    let root = format!("arn:{}:iam::{}:root", account.partition, account.account_id);
    let manageable = |doc: &policy::PolicyDocument| {
        [&caller, &root]
            .iter()
            .any(|principal| checks::lets_change_key_policy(doc, principal))
    };
    if !manageable(before) || manageable(after) {
        return None;
    }
    Some(
        Diagnostic::error(
            Code::CheckKeyLockout,
            format!(
                "{}: the policy this plan leaves on key `{}` would let neither {caller}, the identity running plinth, nor the account change it again: KMS refuses such a policy (its lockout safety check)",
                change.address, change.physical_id
            ),
        )
        .at_location(resource.map(|r| r.location.clone()))
        .hint("keep declaring the statement that lets the account root (or this identity) manage the key, or let the stack stop managing the key with `release = true`, which keeps the statements as they are"),
    )
}

/// A resource the spec says exists already (a bucket with `existing = true`) that does not.
fn missing_existing(resource: &Resource, physical_id: &str) -> Diagnostic {
    Diagnostic::error(
        Code::PlanMissingExisting,
        format!("{} `{physical_id}` does not exist, and `existing = true` says plinth must not create it", resource.kind()),
    )
    .at_location(Some(resource.location.clone()))
    .hint("fix the name, or remove `existing = true` to have plinth create and own it")
}

/// The aliases the spec's keys declare and the existing keys' ids, resolved, with each key's
/// address.
fn key_aliases(spec: &Spec, resolver: &Resolver<'_>) -> BTreeMap<String, Address> {
    let mut out = BTreeMap::new();
    for resource in spec.resources.values() {
        if let crate::spec::ResourceBody::Key(key) = &resource.body {
            for name in key.names() {
                if let Some(name) = resolver.text(name) {
                    out.insert(name, resource.address.clone());
                }
            }
        }
    }
    out
}

fn dependencies(resource: &Resource) -> Vec<Address> {
    let deps: BTreeSet<Address> = resource
        .dependencies()
        .into_iter()
        .map(|(a, _)| a.clone())
        .collect();
    deps.into_iter().collect()
}

/// The physical id of a resource not created yet whose id AWS assigns.
const KNOWN_AFTER_APPLY: &str = "(known after apply)";

fn create_change(
    resource: &Resource,
    desired: Attributes,
    physical_id: Option<String>,
    depends_on: Vec<Address>,
) -> ResourceChange {
    ResourceChange {
        address: resource.address.clone(),
        action: Action::Create,
        reason: None,
        physical_id: physical_id.unwrap_or_else(|| KNOWN_AFTER_APPLY.to_string()),
        replaces: None,
        attributes: desired
            .iter()
            .map(|(k, v)| AttributeChange {
                name: k.clone(),
                before: None,
                after: Some(v.clone()),
                forces_replacement: false,
            })
            .collect(),
        desired: Some(desired),
        live: None,
        take_ownership: true,
        depends_on,
        lints: Vec::new(),
    }
}

fn delete_change(address: Address, found: &LiveResource, reason: Option<Reason>) -> ResourceChange {
    ResourceChange {
        address,
        action: Action::Delete,
        reason,
        physical_id: found.physical_id.clone(),
        replaces: None,
        attributes: found
            .attributes
            .iter()
            .map(|(k, v)| AttributeChange {
                name: k.clone(),
                before: Some(v.clone()),
                after: None,
                forces_replacement: false,
            })
            .collect(),
        desired: None,
        live: Some(std::sync::Arc::clone(&found.attributes)),
        take_ownership: false,
        depends_on: Vec::new(),
        lints: Vec::new(),
    }
}

/// Deletes run in reverse dependency order: a resource goes before the ones it refers to.
/// What a deleted resource refers to comes from the live resource itself (an ARN among its
/// attributes, such as a function's role) and, when the stack is destroyed, from the spec
/// that still declares it. References inside policy documents order nothing: a policy may
/// name anything, and AWS deletes either side first.
///
/// A holder also goes before what it may hold, whatever it is known to hold ([`HOLDS`]): a
/// resource left out of the spec was found by its tags, without what it holds, and IAM must
/// not see both sides of one attachment removed at once (AWS refuses to delete a policy a role
/// holds; an emulator may delete it, and the role can then never be deleted). Should these
/// sources ever disagree into a cycle, the resources on it are deleted concurrently, as they
/// would be without any order.
/// (holder, held): a role holds managed policies, an instance profile holds a role.
const HOLDS: [(Kind, Kind); 2] = [
    (Kind::Role, Kind::Policy),
    (Kind::InstanceProfile, Kind::Role),
];

fn order_deletes(changes: &mut [ResourceChange], spec: &Spec, live: &LiveSnapshot) {
    // The live resources of the deletions only, found by their ids: a map of every resource
    // the account holds was a millisecond of a large plan's serial end, for the few deleted.
    let deleting: IdSet = (changes.iter())
        .filter(|c| c.action == Action::Delete)
        .map(|c| (c.address.kind, c.physical_id.as_str()))
        .collect();
    if deleting.is_empty() {
        return;
    }
    let mut index: crate::hash::FastMap<(Kind, &str), &LiveResource> = Default::default();
    for l in live.by_address.values().chain(&live.owned) {
        let id = (l.kind, l.physical_id.as_str());
        if deleting.contains(&id) {
            // The last found wins, as it did in the map of them all.
            index.insert(id, l);
        }
    }
    let deleted: BTreeMap<&Address, &LiveResource> = changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .filter_map(|c| {
            index
                .get(&(c.address.kind, c.physical_id.as_str()))
                .map(|l| (&c.address, *l))
        })
        .collect();
    let arns: BTreeMap<&str, &Address> = deleted
        .iter()
        .flat_map(|(address, l)| {
            l.exports
                .values()
                .chain(std::iter::once(&l.physical_id))
                .filter(|v| v.starts_with("arn:"))
                .map(|v| (v.as_str(), *address))
        })
        .collect();

    let mut edges: BTreeMap<&Address, BTreeSet<&Address>> = BTreeMap::new();
    for (&address, found) in &deleted {
        let mut strings = Vec::new();
        for value in found.attributes.values() {
            reference_strings(value, &mut strings);
        }
        let from_live = strings.into_iter().filter_map(|s| arns.get(s).copied());
        let from_spec = spec
            .resources
            .get(address)
            .map(|r| {
                r.dependencies()
                    .into_iter()
                    .map(|(a, _)| a)
                    .filter(|a| deleted.contains_key(a))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let held = deleted
            .keys()
            .copied()
            .filter(|a| HOLDS.contains(&(address.kind, a.kind)));
        let refers: BTreeSet<&Address> = from_live
            .chain(from_spec)
            .chain(held)
            .filter(|a| *a != address)
            .collect();
        edges.insert(address, refers);
    }
    for cycle in crate::graph::cycles(&edges) {
        for &node in &cycle {
            if let Some(refers) = edges.get_mut(node) {
                refers.retain(|a| !cycle.contains(a));
            }
        }
    }
    let edges: BTreeMap<Address, Vec<Address>> = edges
        .into_iter()
        .map(|(a, refers)| (a.clone(), refers.into_iter().cloned().collect()))
        .collect();
    for change in changes.iter_mut().filter(|c| c.action == Action::Delete) {
        change.depends_on = edges.get(&change.address).cloned().unwrap_or_default();
    }
}

/// The strings of a live attribute that may name another resource; policy documents excluded.
fn reference_strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Str(s) => out.push(s),
        Value::Set(items) => out.extend(items.iter().map(String::as_str)),
        Value::List(items) => items.iter().for_each(|v| reference_strings(v, out)),
        Value::Map(entries) => entries.values().for_each(|v| reference_strings(v, out)),
        Value::Bool(_)
        | Value::Int(_)
        | Value::Policy(_)
        | Value::Unknown(_)
        | Value::Sensitive(_) => {}
    }
}

/// Compares declared attributes with live ones. `physical_id` is the one the spec gives the
/// resource, which a replacement takes.
fn compare(
    resource: &Resource,
    desired: Attributes,
    physical_id: Option<String>,
    found: &LiveResource,
    depends_on: Vec<Address>,
    adopt: bool,
) -> ResourceChange {
    let kind = resource.kind();
    let attributes: Vec<AttributeChange> = desired
        .iter()
        .filter(|(name, _)| !kind.write_only(name))
        .filter_map(|(name, want)| {
            let have = found.attributes.get(name);
            if have.is_some_and(|h| h.equivalent(want)) {
                return None;
            }
            Some(AttributeChange {
                name: name.clone(),
                before: have.cloned(),
                after: Some(want.clone()),
                forces_replacement: kind.forces_replacement(name),
            })
        })
        .collect();
    let (action, reason) = if let Some(forcing) = attributes.iter().find(|a| a.forces_replacement) {
        (
            Action::Replace,
            Some(Reason::CannotChangeInPlace {
                attribute: forcing.name.clone(),
            }),
        )
    } else if let Some(date) = &found.deletion_date {
        (
            Action::Update,
            Some(Reason::Recovered {
                deletion_date: date.clone(),
            }),
        )
    } else if !attributes.is_empty() {
        (Action::Update, adopt.then_some(Reason::Adopting))
    } else if adopt {
        (Action::Update, Some(Reason::AdoptingTagsOnly))
    } else {
        (Action::NoOp, None)
    };
    ResourceChange {
        address: resource.address.clone(),
        action,
        reason,
        physical_id: match action {
            Action::Replace => physical_id.unwrap_or_else(|| KNOWN_AFTER_APPLY.to_string()),
            _ => found.physical_id.clone(),
        },
        replaces: (action == Action::Replace).then(|| found.physical_id.clone()),
        attributes,
        desired: Some(desired),
        live: Some(std::sync::Arc::clone(&found.attributes)),
        take_ownership: adopt || action == Action::Replace,
        depends_on,
        lints: Vec::new(),
    }
}

/// Physical names the live read needs, by address. Names that depend on values only known
/// after apply are errors: a resource must be findable before it exists.
pub fn physical_ids(
    spec: &Spec,
    resolver: &Resolver<'_>,
) -> Result<BTreeMap<Address, String>, Diagnostics> {
    let mut diags = Diagnostics::default();
    let mut out = BTreeMap::new();
    // Two blocks for one AWS resource would fight over it on every apply.
    diags.extend(Diagnostics(crate::spec::kinds::named_twice(
        &spec.resources,
        resolver,
        Code::PlanDuplicateName,
    )));
    for resource in spec.resources.values() {
        match resource.body.physical_id(resolver) {
            Ok(Some(id)) => {
                out.insert(resource.address.clone(), id);
            }
            Ok(None) => {}
            Err(name) => diags.push(
                Diagnostic::error(
                    Code::PlanUnknownName,
                    format!(
                        "the name of {} depends on a value known only after apply",
                        resource.address
                    ),
                )
                .at_location(Some(name.location.clone()))
                .hint("build names from variables and account facts only"),
            ),
        }
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(out)
    }
}

/// The size `template` (under `attribute`) must stay within: its document's limit, a
/// raisable quota's default, or what a role's other inline policies leave of their shared
/// limit.
fn size_limit(
    resource: &Resource,
    documents: &[(&'static str, String, &crate::spec::PolicyTemplate)],
    attribute: &str,
    template: &crate::spec::PolicyTemplate,
) -> Option<usize> {
    use crate::model::SizeLimit;
    let kind = resource.kind();
    Some(match kind.policy_document(attribute)?.limit {
        SizeLimit::Each(limit) => limit,
        SizeLimit::Raisable { default, .. } => default,
        SizeLimit::Together(limit) => {
            let together: usize = (documents.iter())
                .filter(|(a, _, _)| {
                    (kind.policy_document(a))
                        .is_some_and(|c| matches!(c.limit, SizeLimit::Together(_)))
                })
                .map(|(_, _, t)| t.size)
                .sum();
            limit.saturating_sub(together - template.size)
        }
    })
}

/// A policy with references measured again once they are filled in, where they may have
/// made it grow past a limit its written form kept under (a variable standing for a long
/// list): the template's key, its size and where it is written, when it grew. Load measured
/// it as written; it is measured again only when it could have grown that far: its written
/// size, plus each variable's value and room for each other reference, above `limit`
/// ([`size_limit`]).
fn grown_size(
    template: &crate::spec::PolicyTemplate,
    doc: &policy::PolicyDocument,
    limit: usize,
    vars: &BTreeMap<String, crate::spec::Var>,
) -> Option<(usize, usize, usize)> {
    /// More than a reference to a resource or the account stands for (an ARN is about 100
    /// characters).
    const ROOM_PER_REFERENCE: usize = 256;
    let room: usize = (template.templated.iter())
        .flat_map(|(_, pieces)| pieces)
        .map(|piece| match piece {
            Piece::Ref(Reference::Var(name), _) => {
                vars.get(name).map_or(ROOM_PER_REFERENCE, |v| v.value.len())
            }
            Piece::Ref(..) => ROOM_PER_REFERENCE,
            Piece::Text(_) => 0,
        })
        .sum();
    if template.size + room <= limit {
        return None;
    }
    let json = serde_json::from_str::<serde_json::Value>(&doc.to_aws_json()).ok()?;
    let size = crate::spec::rules::policy_size::of(&json);
    (size > template.size).then_some((template.key(), size, template.location.span.start))
}

/// The size findings of a resource some of whose policies grew once their references were
/// filled in ([`grown_size`]): those about the grown documents (load reported the others).
fn report_grown_policies(
    resource: &Resource,
    grown: &[(usize, usize, usize)],
    diags: &mut Diagnostics,
) {
    let size_of = |key: usize| grown.iter().find(|(k, _, _)| *k == key).map(|(_, s, _)| *s);
    let mut found = Diagnostics::default();
    crate::spec::policy_size_findings(resource, |t| size_of(t.key()).unwrap_or(t.size), &mut found);
    let grew = |start: usize| grown.iter().any(|(_, _, s)| *s == start);
    diags.extend(Diagnostics(
        (found.0.into_iter())
            .filter(|d| d.is_error() || (d.location.as_ref()).is_some_and(|l| grew(l.span.start)))
            .collect(),
    ));
}

/// How `found`, a second resource tagged with an address, stands to the stack's resource held
/// there, by the [`REPLACED_EXPORT`] of one of them: that resource was made to replace it
/// (`Reason::Replaced`), or it was made to replace that resource and never took its place
/// (`Reason::ReplacementAbandoned`). With the address, for the delete that finishes the job.
fn replacement_pair<'a>(
    found: &'a LiveResource,
    live: &LiveSnapshot,
    stack: &str,
) -> Option<(&'a Address, Reason)> {
    let address = found.address_tag.as_ref()?;
    let held = live.by_address.get(address)?;
    if !held.is_owned_by(stack) || held.physical_id == found.physical_id {
        return None;
    }
    let id = held.physical_id.clone();
    if held.exports.get(REPLACED_EXPORT) == Some(&found.physical_id) {
        Some((address, Reason::Replaced { by: id }))
    } else if found.exports.get(REPLACED_EXPORT) == Some(&held.physical_id) {
        Some((address, Reason::ReplacementAbandoned { of: id }))
    } else {
        None
    }
}

/// A replacement that stopped after the name the stack finds a resource without a name by (a
/// key's first alias) had moved to the new resource, with the spec since gone back to what the
/// old one is: the old resource is the stack's again. The snapshot then holds the old one at
/// the address, so that the plan updates it (the names move back) and deletes the new one,
/// and what refers to the address keeps the old one's ARN. `None` when nothing is so.
fn resumed_keys(
    spec: &Spec,
    account: &crate::state::Account,
    live: &LiveSnapshot,
    options: PlanOptions,
) -> Option<LiveSnapshot> {
    if options.destroy || options.refresh_only {
        return None;
    }
    let stack = spec.stack.name.as_str();
    let mut resumed: Option<LiveSnapshot> = None;
    for resource in spec.resources.values() {
        let Some(held) = live.by_address.get(&resource.address) else {
            continue;
        };
        let Some(old_id) = held.exports.get(REPLACED_EXPORT) else {
            continue;
        };
        let Some(old) = live.owned.iter().find(|o| {
            &o.physical_id == old_id
                && o.is_owned_by(stack)
                && o.address_tag.as_ref() == Some(&resource.address)
                && !o.is_pending_deletion()
        }) else {
            continue;
        };
        if !held.is_owned_by(stack) || held.kind.has_name() {
            continue;
        }
        let resolver = Resolver::new(spec, account, Some(live));
        let desired = resource
            .body
            .desired(&resolver, &mut Diagnostics::default());
        let is_desired = |l: &LiveResource| {
            desired
                .iter()
                .filter(|(name, _)| l.kind.forces_replacement(name))
                .all(|(name, value)| l.attributes.get(name) == Some(value))
        };
        if is_desired(old) && !is_desired(held) {
            // The new one stays among what the stack owns, for the plan to delete.
            let snapshot = resumed.get_or_insert_with(|| live.clone());
            if !snapshot
                .owned
                .iter()
                .any(|o| o.physical_id == held.physical_id)
            {
                snapshot.owned.push(held.clone());
            }
            snapshot
                .by_address
                .insert(resource.address.clone(), old.clone());
        }
    }
    resumed
}

/// A resource without a name (a KMS key) found by its address tag while the spec's address is
/// already held by another live resource: two applies without a lock each created one. It is
/// not the orphan of an interrupted apply (which apply takes over when it next creates the
/// resource): both are live, and which one the stack means cannot be told, so the plan stops.
/// The resource found at the address must be the stack's own: one of another stack (a key
/// found by an alias that stack holds) is a conflict, reported as such, and this stack's key
/// is no duplicate of it.
fn report_duplicate(
    found: &LiveResource,
    live: &LiveSnapshot,
    stack: &str,
    diags: &mut Diagnostics,
) {
    let Some(address) = &found.address_tag else {
        return;
    };
    let Some(held) = live.by_address.get(address) else {
        return;
    };
    if held.physical_id == found.physical_id
        || held.is_pending_deletion()
        || !held.is_owned_by(stack)
    {
        return;
    }
    diags.push(
        Diagnostic::error(
            Code::PlanDuplicate,
            format!(
                "{address} is held by two {}s of this stack: `{}` (the one plinth manages) and `{}`, both tagged plinth:address = {address}",
                found.kind, held.physical_id, found.physical_id
            ),
        )
        .hint(format!(
            "two applies ran at once without a lock; keep `{}` and delete the other (for a key: `aws kms schedule-key-deletion --key-id {}`), or remove its plinth:stack tag to keep it outside the stack; then plan again (and, without one, add a lock to [stack]: README.md, \"Locking\")",
            held.physical_id, found.physical_id
        )),
    );
}
