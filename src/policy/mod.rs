//! IAM policy semantics: a strict typed model of policy documents, their canonical form,
//! statement-level diffs labelled with how access changes, lints, and a small evaluator.
//!
//! Everything here is pure: no I/O, no AWS calls. The planner uses it to decide whether a
//! live policy already matches the spec ([`PolicyDocument::equivalent`]), what to show the
//! user when it does not ([`diff()`]), and what to warn about before applying ([`lint()`]).
//!
//! Code map:
//! - `model`: the types and the strict parser (`PolicyDocument::parse`).
//! - `canon`: normalization and canonical JSON; equivalence is equality of canonical forms.
//! - `pattern`: IAM wildcard patterns (`*`, `?`): matching, containment and overlap.
//! - `access`: statements as sets of requests; decides whether a change widens access.
//! - `diff`: pairs old and new statements and renders each change.
//! - `condition`: whether one condition test implies another, per operator family.
//! - `cases`: whether several statements' conditions together cover one statement's.
//! - `catalog`: the bundled IAM catalog (actions, access levels, resource types, condition
//!   keys, service principals), decompressed on first use.
//! - `lint`: the stable lint rules.
//! - `eval`: answers "is this request allowed" for a set of documents.

mod access;
mod canon;
mod cases;
pub mod catalog;
pub(crate) mod condition;
mod diff;
pub mod eval;
mod lint;
pub mod merge;
mod model;
pub(crate) mod pattern;
#[cfg(test)]
mod seeds;

pub use access::AccessChange;
pub(crate) use cases::union_covers as conditions_union_covers;
pub(crate) use condition::implies as condition_implies;
pub(crate) use condition::{fixed_value, holds_only_on_listed_values};
pub use diff::{diff, ChangeKind, FieldChange, PolicyDiff, StatementChange};
pub use lint::{
    lint, DocumentKind, Lint, LintCode, LintContext, LintRule, Severity, KEY_POLICY, LINT_RULES,
};
pub(crate) use model::strings_outside_values;
pub use model::{
    Clause, Condition, Effect, PolicyDocument, Principal, PrincipalKind, Principals, Statement,
    Version,
};

/// Why a policy document was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(path, message))]
pub struct PolicyError {
    pub message: String,
    /// Byte offset in the JSON text, known for JSON syntax errors; grammar errors found after
    /// the JSON parsed carry only `path`.
    pub offset: Option<usize>,
    /// Where in the document the error is, like `Statement[1].Principal`; empty for the whole
    /// document.
    pub path: String,
}

fn describe(path: &str, message: &str) -> String {
    if path.is_empty() {
        message.to_string()
    } else {
        format!("{path}: {message}")
    }
}

/// AWS principals that look like IAM unique ids (`AROA…` for roles, `AIDA…` for users).
///
/// IAM rewrites a principal ARN to the unique id when the role or user it named is deleted;
/// recreating one with the same name does not restore the grant, so such a principal in a
/// live document means the reference is dangling.
pub fn unique_id_principals(doc: &PolicyDocument) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for principal in doc
        .statements()
        .iter()
        .flat_map(Statement::listed_principals)
    {
        if principal.kind == PrincipalKind::Aws
            && is_unique_id(&principal.id)
            && !found.contains(&principal.id)
        {
            found.push(principal.id.clone());
        }
    }
    found
}

fn is_unique_id(id: &str) -> bool {
    (id.starts_with("AROA") || id.starts_with("AIDA"))
        && id.len() >= 16
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// How diffs and lints name a statement: its Sid, or its position in the document as written.
fn statement_label(statement: &Statement, index: usize) -> String {
    match &statement.sid {
        Some(sid) => sid.clone(),
        None => format!("Statement[{index}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_ids_are_reported_once_in_document_order() {
        let doc = PolicyDocument::parse(
            r#"{"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": ["AROADBQP57FF2AEXAMPLE", "arn:aws:iam::123456789012:role/app"]}, "Action": "sts:AssumeRole"},
                {"Effect": "Allow", "Principal": {"AWS": ["AIDACKCEVSQ6C2EXAMPLE", "AROADBQP57FF2AEXAMPLE"]}, "Action": "sts:TagSession"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(
            unique_id_principals(&doc),
            ["AROADBQP57FF2AEXAMPLE", "AIDACKCEVSQ6C2EXAMPLE"]
        );
    }

    #[test]
    fn error_display_prefixes_the_path() {
        let error = PolicyDocument::parse(
            r#"{"Statement": {"Effect": "allow", "Action": "s3:GetObject"}}"#,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"Statement.Effect: must be "Allow" or "Deny", found "allow""#
        );
    }
}
