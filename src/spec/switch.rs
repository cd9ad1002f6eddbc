//! Two settings every resource block takes besides its kind's own, taken out of its table
//! before the kind reads it (as `silence` is):
//!
//! - `when = "${var.NAME}"`: the resource exists only while the switch is on. A switch is on
//!   when its variable is `true` or a non-empty value (a key id, say), off when it is `false` or
//!   empty; `"!${var.NAME}"` is the opposite. Setup pages list whole resources "only needed if
//!   you use X": one stack serves both cases, and turning a switch off deletes what it made.
//!   A switched-off block's references are checked; then it leaves the spec, with the outputs
//!   that refer to it, before its kind's rules and the cross-resource checks run (its values
//!   may be made of the variables that switch it off, such as an empty key id).
//! - `release = true`: the next apply removes plinth's tags from the resource (on a shared
//!   resource it forgets its parts without removing them), after which the block can be
//!   deleted and nothing is deleted in AWS.

use std::collections::{BTreeMap, BTreeSet};

use toml::de::DeTable;

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::Address;
use crate::spec::rules::Checker;
use crate::spec::template::Reference;
use crate::spec::{Loader, Located, Spec, Text};

/// The common settings of one resource block.
#[derive(Debug, Default)]
pub struct Switches {
    pub when: Vec<Text>,
    pub release: Option<Located<bool>>,
}

/// The kinds `release = true` can let go of.
pub const RELEASABLE: &[crate::model::Kind] = &[
    crate::model::Kind::Key,
    crate::model::Kind::Role,
    crate::model::Kind::Queue,
    crate::model::Kind::Bucket,
];

/// The settings every block takes that [`take`] takes out of it.
pub(crate) const SETTINGS: [&str; 2] = ["when", "release"];

/// Takes `when` and `release` out of a resource's table.
pub(crate) fn take<'i>(loader: &mut Loader, mut table: DeTable<'i>) -> (DeTable<'i>, Switches) {
    let mut switches = Switches::default();
    for field in SETTINGS {
        let Some(value) = crate::spec::load::take_key(&mut table, field) else {
            continue;
        };
        match field {
            "when" => {
                if let Some(when) = loader.deserialize::<Located<OneOrMany>>(value) {
                    let span = when.span();
                    let strings = match when.into_inner() {
                        OneOrMany::One(s) => vec![s],
                        OneOrMany::Many(v) => v,
                    };
                    switches.when = strings
                        .into_iter()
                        .map(|s| loader.text_or_stand_in(&loader.string_within(span.clone(), s)))
                        .collect();
                }
            }
            _ => switches.release = loader.deserialize::<Located<bool>>(value),
        }
    }
    (table, switches)
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// Whether every condition of a `when` holds, given the values `lookup` knows (variables are
/// always known, and `when` may refer to nothing else). No condition: always.
pub fn holds(when: &[Text], mut lookup: impl FnMut(&Reference) -> Option<String>) -> bool {
    when.iter().all(|w| {
        crate::spec::template::render(&w.pieces, &mut lookup)
            .is_some_and(|v| decide(&v) == Ok(true))
    })
}

/// Whether a switch whose text rendered to `value` is on; an error for a value that looks
/// like a boolean mistyped (`yes`, `True`), which is more likely a mistake than a meaning.
pub fn decide(value: &str) -> Result<bool, String> {
    let (negated, value) = match value.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let on = match value {
        "true" => true,
        "false" | "" => false,
        other
            if ["true", "false", "yes", "no", "on", "off", "0", "1"]
                .contains(&other.to_ascii_lowercase().as_str()) =>
        {
            return Err(format!("`{other}`, which is neither true nor false"));
        }
        _ => true,
    };
    Ok(on != negated)
}

/// A switch is decided before AWS is read, so it may refer only to variables.
pub(crate) fn check_when(what: &str, when: &Text, c: &Checker<'_>, diags: &mut Diagnostics) {
    if when.is_broken() {
        return;
    }
    let error = |message: String, hint: &str| {
        Diagnostic::error(Code::SpecInvalidWhen, message)
            .at_location(Some(when.location.clone()))
            .hint(hint)
    };
    if when.references().any(|r| !matches!(r, Reference::Var(_))) {
        diags.push(error(
            format!("`when` of {what} refers to something other than a variable"),
            "a switch is decided before AWS is read: write when = \"${var.NAME}\"",
        ));
        return;
    }
    if let Some(Err(problem)) = c.resolve(when).as_deref().map(decide) {
        diags.push(error(
            format!("`when` of {what} is {problem}"),
            "set the variable to true or false (or to a value, or empty), in [vars] or with --var NAME=true",
        ));
    }
}

/// The spec with every switched-off resource taken out, and the outputs that refer to one.
/// A resource that stays may not refer to one that goes, except from its own switched-off
/// inline policies: that would be a reference to nothing.
/// Whether no block and no inline policy of `spec` has a `when`: switching it off then leaves
/// it as it is, and reports nothing.
pub(crate) fn switches_nothing(spec: &Spec) -> bool {
    spec.resources.values().all(|r| {
        r.when.is_empty()
            && match &r.body {
                crate::spec::ResourceBody::Role(role) => role
                    .policies
                    .iter()
                    .flatten()
                    .all(|(_, p)| p.when.is_empty()),
                _ => true,
            }
    })
}

pub(crate) fn switch_off(spec: Spec, diags: &mut Diagnostics) -> Spec {
    let checker = Checker::with_stand_ins(&spec.vars, &|_| None);
    let off: BTreeSet<Address> = spec
        .resources
        .values()
        .filter(|r| {
            r.when
                .iter()
                .filter_map(|w| checker.resolve(w))
                .any(|v| decide(&v) == Ok(false))
        })
        .map(|r| r.address.clone())
        .collect();
    if off.is_empty() {
        let mut spec = spec;
        drop_switched_off_policies(&mut spec);
        return spec;
    }
    let lookup = |r: &Reference| match r {
        Reference::Var(v) => spec.vars.get(v).and_then(crate::spec::Var::known),
        _ => None,
    };
    for resource in spec
        .resources
        .values()
        .filter(|r| !off.contains(&r.address))
    {
        for (reference, location) in enabled_references(resource, &lookup) {
            if let Reference::Resource { address, .. } = reference {
                if off.contains(address) {
                    diags.push(
                        Diagnostic::error(
                            Code::SpecSwitchedOffReference,
                            format!("{} refers to {address}, which `when` switches off", resource.address),
                        )
                        .at_location(Some(location.clone()))
                        .hint(format!("give [{}] (or the inline policy that makes the reference) the same `when` as [{address}]", resource.address)),
                    );
                }
            }
        }
    }
    let mut spec = spec;
    spec.resources.retain(|a, _| !off.contains(a));
    drop_switched_off_policies(&mut spec);
    let outputs: BTreeMap<String, Text> = std::mem::take(&mut spec.outputs)
        .into_iter()
        .filter(|(_, t)| {
            !t.references()
                .any(|r| matches!(r, Reference::Resource { address, .. } if off.contains(address)))
        })
        .collect();
    spec.outputs = outputs;
    spec
}

/// A role's switched-off inline policies leave it too: what they refer to must not order the
/// role's changes (a key they name may be on its way out in the same apply).
fn drop_switched_off_policies(spec: &mut Spec) {
    let vars: BTreeMap<String, Option<String>> = spec
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), v.known()))
        .collect();
    let lookup = |r: &Reference| match r {
        Reference::Var(v) => vars.get(v).cloned().flatten(),
        _ => None,
    };
    for resource in spec.resources.values_mut() {
        if let crate::spec::ResourceBody::Role(role) = &mut resource.body {
            if let Some(policies) = role.policies.as_mut() {
                // Only those switched off for certain: a switch in error stays, to be reported.
                policies.retain(|_, p| {
                    !p.when.iter().any(|w| {
                        crate::spec::template::render(&w.pieces, lookup)
                            .is_some_and(|v| decide(&v) == Ok(false))
                    })
                });
            }
        }
    }
}

/// The references a resource makes from its parts that are switched on.
fn enabled_references<'a>(
    resource: &'a crate::spec::Resource,
    lookup: &dyn Fn(&Reference) -> Option<String>,
) -> Vec<(&'a Reference, &'a crate::diag::Location)> {
    let mut out = Vec::new();
    for t in resource.body.texts() {
        out.extend(t.references().map(|x| (x, &t.location)));
    }
    let disabled: BTreeSet<String> = match &resource.body {
        crate::spec::ResourceBody::Role(role) => role
            .policies
            .iter()
            .flatten()
            .filter(|(_, p)| !p.is_enabled(lookup))
            .map(|(n, _)| format!("policies.{n}"))
            .collect(),
        _ => BTreeSet::new(),
    };
    for (name, p, _) in resource.body.policy_documents() {
        if !disabled.contains(&name) {
            out.extend(p.references().map(|x| (x, &p.location)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_are_on_for_true_or_a_value_and_off_for_false_or_nothing() {
        assert_eq!(decide("true"), Ok(true));
        assert_eq!(decide("false"), Ok(false));
        assert_eq!(decide(""), Ok(false));
        assert_eq!(decide("alias/customer-data"), Ok(true));
        assert_eq!(decide("!"), Ok(true));
        assert_eq!(decide("!alias/customer-data"), Ok(false));
        assert_eq!(decide("!false"), Ok(true));
        assert!(decide("yes").is_err());
        assert!(decide("True").is_err());
    }
}
