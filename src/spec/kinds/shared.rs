//! `existing = true` on a role, key, queue or bucket: a resource someone else owns, which
//! plinth never creates, replaces or deletes. It manages only the parts the block declares;
//! in a shared policy document those are the statements it names by `Sid`, so every statement
//! there needs one.
//!
//! The checks here are the spec side: the fields that only make sense for a resource plinth
//! creates are refused, and the statements of a shared document must carry a Sid plinth can
//! record and find again.

use std::ops::Range;

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::spec::rules::Checker;
use crate::spec::{Loader, PolicyTemplate};

/// Refuses each of `fields` (name, where it is written) that the block sets: on an existing
/// `kind` it would change something plinth does not own.
pub(super) fn refuse_owned_only(
    loader: &mut Loader,
    kind: &str,
    fields: &[(&str, Option<Range<usize>>)],
) {
    for (field, span) in fields {
        if let Some(span) = span {
            loader
                .err(
                    Code::SpecOwnedOnly,
                    format!(
                        "`{field}` does not apply to an existing {kind}: plinth never creates it, and changes only the parts the block declares"
                    ),
                    span.clone(),
                )
                .set_hint(format!("remove `{field}`, or remove `existing = true` to have plinth create and own the {kind}"));
        }
    }
}

/// Refuses a field that names an existing resource on a block that creates one.
pub(super) fn refuse_without_existing(
    loader: &mut Loader,
    kind: &str,
    field: &str,
    span: Range<usize>,
) {
    loader
        .err(
            Code::SpecExistingOnly,
            format!("`{field}` names an existing {kind}, but the block does not say `existing = true`"),
            span,
        )
        .set_hint(format!("add `existing = true` to change only plinth's parts of that {kind}, or remove `{field}` to have plinth create one"));
}

/// Whether a Sid can be recorded in plinth's tag and is accepted by every service: letters
/// and digits only (IAM's rule, the strictest).
pub fn is_shared_sid(sid: &str) -> bool {
    !sid.is_empty() && sid.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Every statement of a shared document needs a Sid of letters and digits: plinth owns exactly
/// the statements it names and records them on the resource. A Sid may be made of variables
/// (`"Send${var.env}"`, so that the environments of one account each add their own statement),
/// which are known before AWS is read; no other reference.
pub(super) fn require_sids(
    document: &PolicyTemplate,
    what: &str,
    checker: &Checker<'_>,
    diags: &mut Diagnostics,
) {
    let mut seen = std::collections::BTreeSet::new();
    for (i, sid) in document.sids().iter().enumerate() {
        let filled = match sid {
            Some(serde_json::Value::String(sid))
                if crate::policy::pattern::find_open(sid).is_some() =>
            {
                checker.with_vars_only(sid).map(serde_json::Value::String)
            }
            _ => None,
        };
        let problem = match filled.as_ref().or(sid.as_ref()) {
            None => format!("statement {} of the shared {what} has no Sid", i + 1),
            Some(serde_json::Value::String(sid)) if is_shared_sid(sid) && !seen.insert(sid.clone()) => {
                format!("two statements of the shared {what} have the Sid {sid:?}; plinth owns each statement by its Sid")
            }
            Some(serde_json::Value::String(sid)) if is_shared_sid(sid) => continue,
            Some(serde_json::Value::String(sid)) if crate::policy::pattern::find_open(sid).is_some() => format!(
                "the Sid {sid:?} in the shared {what} holds a reference other than a variable; plinth finds its statements by their Sid, so it must be known before AWS is read"
            ),
            Some(other) => format!(
                "the Sid {other} in the shared {what} is not letters and digits only"
            ),
        };
        diags.push(
            Diagnostic::error(Code::SpecSharedSid, problem)
                .at_location(Some(document.location.clone()))
                .hint("give every statement a Sid of letters and digits, e.g. \"Sid\": \"TonicS3Access\": on an existing resource plinth owns exactly the statements it names and keeps the others"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_sids_are_letters_and_digits() {
        assert!(is_shared_sid("TonicS3Access"));
        assert!(is_shared_sid("Stmt1"));
        assert!(!is_shared_sid(""));
        assert!(!is_shared_sid("Allow S3"));
        assert!(!is_shared_sid("read-data"));
    }
}
