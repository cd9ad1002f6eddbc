//! Statement-level diffs of policy documents, each labelled with how it changes access.
//!
//! The diff is plain data; rendering it (text, JSON, Markdown) is the caller's business.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use super::access::{self, AccessChange};
use super::canon::Spelling;
use super::model::{PolicyDocument, Statement};
use super::{pattern, statement_label};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Modified,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementChange {
    /// The Sid, or `Statement[i]` with the position in the document that holds the statement
    /// (the new one unless it was removed).
    pub label: String,
    pub kind: ChangeKind,
    /// Canonical pretty JSON of the statement.
    pub before: Option<String>,
    pub after: Option<String>,
    /// Every line of `before` and `after`, prefixed with `-`, `+` or a space: statements are
    /// short, so the whole statement is the context.
    pub unified: String,
    pub access: AccessChange,
}

/// A change to a document-level field (`Version`, `Id`) of a document that exists on both
/// sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: &'static str,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyDiff {
    pub statements: Vec<StatementChange>,
    pub fields: Vec<FieldChange>,
    /// Over the whole document, so moving an action between statements is `NoChange` even
    /// though each of the two statements changed.
    pub access: AccessChange,
}

impl PolicyDiff {
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty() && self.fields.is_empty()
    }

    /// True when some request may be allowed that was not before.
    pub fn widens(&self) -> bool {
        self.access.gained()
    }
}

/// Below this similarity two unpaired statements are reported as removed and added rather
/// than as one modified statement.
const MIN_SIMILARITY: f64 = 0.5;

/// One side's statement, normalized, with what a change report needs.
struct Entry {
    label: String,
    statement: Statement,
    pretty: String,
    /// Each value with the element holding it (`Action=s3:getobject`), for similarity.
    leaves: BTreeSet<String>,
}

fn entries(doc: Option<&PolicyDocument>, spelling: &Spelling) -> Vec<Entry> {
    let statements = doc.map_or(&[][..], PolicyDocument::statements);
    statements
        .iter()
        .enumerate()
        .map(|(index, statement)| {
            let pretty = format!("{:#}\n", statement.display_json(spelling));
            let statement = statement.normalized();
            let json = statement.to_json();
            let mut leaves = BTreeSet::new();
            collect_leaves(&json, "", &mut leaves);
            Entry {
                label: statement_label(&statement, index),
                pretty,
                statement,
                leaves,
            }
        })
        .collect()
}

/// Compares two versions of a document; `None` is an absent document, so `(None, Some)` is a
/// creation and `(Some, None)` a deletion. `account` is the account the document is in, when
/// known: a principal that a condition holds to another account is then read as that
/// account's (`aws:PrincipalAccount`), and compared with the account's principals.
pub fn diff(
    old: Option<&PolicyDocument>,
    new: Option<&PolicyDocument>,
    account: Option<&str>,
) -> PolicyDiff {
    // Both sides in the new document's spelling (the spec's), so that a name AWS returns in
    // another case, or an account id it returns as an ARN, is not a line of the diff.
    let spelling = Spelling::of(new.into_iter().chain(old));
    let (old_entries, new_entries) = (entries(old, &spelling), entries(new, &spelling));
    let mut statements = Vec::new();
    for (old_index, new_index) in pair_statements(&old_entries, &new_entries) {
        let old_entry = old_index.map(|i| &old_entries[i]);
        let new_entry = new_index.map(|i| &new_entries[i]);
        let (kind, label) = match (old_entry, new_entry) {
            (Some(before), Some(after)) if before.statement == after.statement => continue,
            (Some(_), Some(after)) => (ChangeKind::Modified, after.label.clone()),
            (None, Some(after)) => (ChangeKind::Added, after.label.clone()),
            (Some(before), None) => (ChangeKind::Removed, before.label.clone()),
            (None, None) => continue,
        };
        let before = old_entry.map(|entry| entry.pretty.clone());
        let after = new_entry.map(|entry| entry.pretty.clone());
        let old_side: Vec<&Statement> = old_entry.iter().map(|entry| &entry.statement).collect();
        let new_side: Vec<&Statement> = new_entry.iter().map(|entry| &entry.statement).collect();
        statements.push(StatementChange {
            label,
            kind,
            unified: unified(
                before.as_deref().unwrap_or(""),
                after.as_deref().unwrap_or(""),
            ),
            before,
            after,
            access: access::access_change(&old_side, &new_side, account),
        });
    }

    let old_statements: Vec<&Statement> =
        old_entries.iter().map(|entry| &entry.statement).collect();
    let new_statements: Vec<&Statement> =
        new_entries.iter().map(|entry| &entry.statement).collect();
    let mut access = access::access_change(&old_statements, &new_statements, account);
    let mut fields = Vec::new();
    if let (Some(old), Some(new)) = (
        old.map(PolicyDocument::normalized),
        new.map(PolicyDocument::normalized),
    ) {
        if old.version != new.version {
            fields.push(FieldChange {
                field: "Version",
                before: old.version.map(|v| v.as_str().to_string()),
                after: new.version.map(|v| v.as_str().to_string()),
            });
            // Under 2008-10-17 a policy variable is matched as literal text; under 2012-10-17
            // it is substituted. Either way round, requests that matched nothing before now
            // match (each user's own folder, or the literal `${aws:username}` path that every
            // user shares), and a Deny stops matching what it matched: access is gained.
            if uses_policy_variables(&old) || uses_policy_variables(&new) {
                access = AccessChange::from_gained_lost(true, access.lost());
            }
        }
        if old.id != new.id {
            fields.push(FieldChange {
                field: "Id",
                before: old.id,
                after: new.id,
            });
        }
    }
    PolicyDiff {
        statements,
        fields,
        access,
    }
}

fn uses_policy_variables(doc: &PolicyDocument) -> bool {
    doc.statements().iter().any(|statement| {
        let resources = statement.resource.iter().flat_map(|r| r.value());
        let condition_values = statement.condition.iter().flat_map(|c| &c.values);
        resources
            .chain(condition_values)
            .any(|text| pattern::has_policy_variable(text))
    })
}

/// Pairs old and new statements: first by Sid, then identical statements, then the most
/// similar remaining pairs. Returns new statements in order (paired or added), then the
/// removed old ones in order.
fn pair_statements(old: &[Entry], new: &[Entry]) -> Vec<(Option<usize>, Option<usize>)> {
    let mut partner: Vec<Option<usize>> = vec![None; new.len()];
    let mut taken = vec![false; old.len()];
    let mut pair_first = |accept: &dyn Fn(&Entry, &Entry) -> bool| {
        for (n, new_entry) in new.iter().enumerate() {
            if partner[n].is_some() {
                continue;
            }
            if let Some(o) = (0..old.len()).find(|&o| !taken[o] && accept(&old[o], new_entry)) {
                taken[o] = true;
                partner[n] = Some(o);
            }
        }
    };
    pair_first(&|o, n| n.statement.sid.is_some() && o.statement.sid == n.statement.sid);
    pair_first(&|o, n| o.statement == n.statement);

    let mut candidates: Vec<(f64, usize, usize)> = Vec::new();
    for (n, new_entry) in new
        .iter()
        .enumerate()
        .filter(|(n, _)| partner[*n].is_none())
    {
        for (o, old_entry) in old.iter().enumerate().filter(|(o, _)| !taken[*o]) {
            // Jaccard similarity of the values: a text diff ratio would be dominated by the
            // brackets and element names every statement shares.
            let shared = old_entry.leaves.intersection(&new_entry.leaves).count();
            let all = old_entry.leaves.union(&new_entry.leaves).count();
            let ratio = shared as f64 / all.max(1) as f64;
            if ratio >= MIN_SIMILARITY {
                candidates.push((ratio, n, o));
            }
        }
    }
    // Most similar first; ties in document order so the result is deterministic.
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
    for (_, n, o) in candidates {
        if partner[n].is_none() && !taken[o] {
            partner[n] = Some(o);
            taken[o] = true;
        }
    }

    let paired = partner.into_iter().enumerate().map(|(n, o)| (o, Some(n)));
    let removed = (0..old.len())
        .filter(|&o| !taken[o])
        .map(|o| (Some(o), None));
    paired.chain(removed).collect()
}

fn collect_leaves(value: &Value, path: &str, leaves: &mut BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            for (key, child) in object {
                collect_leaves(child, &format!("{path}/{key}"), leaves);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_leaves(item, path, leaves);
            }
        }
        scalar => {
            leaves.insert(format!("{path}={scalar}"));
        }
    }
}

fn unified(before: &str, after: &str) -> String {
    TextDiff::from_lines(before, after)
        .iter_all_changes()
        .map(|change| {
            let sign = match change.tag() {
                ChangeTag::Delete => '-',
                ChangeTag::Insert => '+',
                ChangeTag::Equal => ' ',
            };
            format!("{sign}{}", change.value())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(statements: &str) -> PolicyDocument {
        PolicyDocument::parse(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [{statements}]}}"#
        ))
        .unwrap_or_else(|e| panic!("{statements}: {e}"))
    }

    /// The changes as `(label, kind, access)` rows, and the overall access change.
    fn check(
        old: Option<&str>,
        new: Option<&str>,
        rows: &[(&str, ChangeKind, AccessChange)],
        overall: AccessChange,
    ) {
        let (old, new) = (old.map(doc), new.map(doc));
        let diff = diff(old.as_ref(), new.as_ref(), None);
        let actual: Vec<(&str, ChangeKind, AccessChange)> = diff
            .statements
            .iter()
            .map(|c| (c.label.as_str(), c.kind, c.access))
            .collect();
        assert_eq!(actual, rows, "{diff:#?}");
        assert_eq!(diff.access, overall, "{diff:#?}");
    }

    const READ: &str = r#"{"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#;
    const WRITE: &str =
        r#"{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"}"#;
    const DENY_HTTP: &str = r#"{"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": false}}}"#;

    #[test]
    #[rustfmt::skip]
    fn statement_changes() {
        use AccessChange::*;
        use ChangeKind::*;
        let both = format!("{READ}, {WRITE}");
        let reordered = format!("{WRITE}, {READ}");
        check(Some(&both), Some(&reordered), &[], NoChange);
        check(None, Some(&both), &[("Read", Added, Widens), ("Statement[1]", Added, Widens)], Widens);
        check(Some(&both), None, &[("Read", Removed, Narrows), ("Statement[1]", Removed, Narrows)], Narrows);
        check(Some(&both), Some(READ), &[("Statement[1]", Removed, Narrows)], Narrows);
        check(Some(READ), Some(&READ.replace(r#""arn:aws:s3:::b/*""#, r#"["arn:aws:s3:::b/*", "arn:aws:s3:::c/*"]"#)), &[("Read", Modified, Widens)], Widens);
        // Matched by Sid even though the body changed completely.
        check(Some(READ), Some(&READ.replace("s3:GetObject", "sqs:SendMessage").replace("arn:aws:s3:::b/*", "*")), &[("Read", Modified, Mixed)], Mixed);
        // Without Sids, the most similar statement is the partner.
        check(
            Some(&format!("{WRITE}, {DENY_HTTP}")),
            Some(&format!("{DENY_HTTP}, {}", WRITE.replace("b/*", "c/*"))),
            &[("Statement[1]", Modified, Mixed)],
            Mixed,
        );
        check(Some(&format!("{READ}, {DENY_HTTP}")), Some(READ), &[("Statement[1]", Removed, Widens)], Widens);
        // Unrelated statements are a removal and an addition, not a modification.
        check(Some(WRITE), Some(DENY_HTTP), &[("Statement[0]", Added, Narrows), ("Statement[0]", Removed, Narrows)], Narrows);
        // Moving an action between statements: each statement changes, access does not.
        check(
            Some(r#"{"Sid": "A", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"}, {"Sid": "B", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}"#),
            Some(r#"{"Sid": "A", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, {"Sid": "B", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:PutObject"], "Resource": "*"}"#),
            &[("A", Modified, Narrows), ("B", Modified, Widens)],
            NoChange,
        );
    }

    #[test]
    fn document_fields_and_policy_variables() {
        let parse = |json: &str| PolicyDocument::parse(json).unwrap();
        let old = parse(
            r#"{"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:username}/*"}}"#,
        );
        let new = parse(
            r#"{"Version": "2012-10-17", "Id": "x", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:username}/*"}}"#,
        );
        let diff = diff(Some(&old), Some(&new), None);
        assert!(diff.statements.is_empty());
        assert_eq!(
            diff.fields.iter().map(|f| f.field).collect::<Vec<_>>(),
            ["Version", "Id"]
        );
        assert!(diff.widens() && !diff.is_empty());
        let same = super::diff(Some(&old), Some(&old), None);
        assert!(same.is_empty() && !same.widens());
    }

    /// A policy with one statement whose Condition is `condition` (JSON).
    fn conditioned(condition: &str) -> String {
        format!(
            r#"{{"Version": "2012-10-17", "Statement": {{"Sid": "Read", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b", "Condition": {condition}}}}}"#
        )
    }

    /// Pairs whose label a corpus of real policy edits found wrong: each is checked in both
    /// directions, for the document and for the one statement that changed.
    #[test]
    #[rustfmt::skip]
    fn labels_both_ways() {
        use AccessChange::*;
        let home = |version: &str| format!(
            r#"{{{version}"Statement": {{"Sid": "Home", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/home/${{aws:username}}/*"}}}}"#
        );
        let cases: Vec<(String, String, AccessChange, AccessChange)> = vec![
            // The variable becomes literal text (or stops being): access changes both ways.
            (home(r#""Version": "2012-10-17", "#), home(r#""Version": "2008-10-17", "#), Widens, Widens),
            (home(r#""Version": "2012-10-17", "#), home(""), Widens, Widens),
            (conditioned(r#"{"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}"#), conditioned(r#"{"IpAddress": {"aws:SourceIp": "192.0.2.0/25"}}"#), Narrows, Widens),
            (conditioned(r#"{"NotIpAddress": {"aws:SourceIp": "192.0.2.0/25"}}"#), conditioned(r#"{"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}"#), Narrows, Widens),
            // A later start, an earlier end.
            (conditioned(r#"{"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}"#), conditioned(r#"{"DateGreaterThan": {"aws:CurrentTime": "2026-02-01T00:00:00Z"}}"#), Narrows, Widens),
            (conditioned(r#"{"DateLessThan": {"aws:CurrentTime": "2026-12-31T00:00:00Z"}}"#), conditioned(r#"{"DateLessThan": {"aws:CurrentTime": "2026-06-30"}}"#), Narrows, Widens),
            (conditioned(r#"{"NumericLessThanEquals": {"s3:max-keys": "100"}}"#), conditioned(r#"{"NumericLessThanEquals": {"s3:max-keys": "50"}}"#), Narrows, Widens),
            (conditioned(r#"{"NumericGreaterThan": {"s3:max-keys": "10"}}"#), conditioned(r#"{"NumericGreaterThan": {"s3:max-keys": 20}}"#), Narrows, Widens),
            (conditioned(r#"{"StringEquals": {"aws:ResourceTag/env": "Prod"}}"#), conditioned(r#"{"StringEqualsIgnoreCase": {"aws:ResourceTag/env": "Prod"}}"#), Widens, Narrows),
            (conditioned(r#"{"StringEquals": {"aws:SourceVpc": "vpc-1"}}"#), conditioned(r#"{"StringLike": {"aws:SourceVpc": "vpc-1"}}"#), NoChange, NoChange),
            (conditioned(r#"{"StringEquals": {"aws:SourceVpc": "vpc-1"}}"#), conditioned(r#"{"StringLike": {"aws:SourceVpc": "vpc-*"}}"#), Widens, Narrows),
            (conditioned(r#"{"NumericLessThanEquals": {"s3:max-keys": "100"}}"#), conditioned(r#"{"NumericLessThanEquals": {"s3:max-keys": "100.0"}}"#), NoChange, NoChange),
        ];
        for (old, new, forward, backward) in &cases {
            let (old, new) = (PolicyDocument::parse(old).unwrap(), PolicyDocument::parse(new).unwrap());
            for (a, b, expected) in [(&old, &new, forward), (&new, &old, backward)] {
                let diff = diff(Some(a), Some(b), None);
                assert_eq!(diff.access, *expected, "{a:?}\n -> {b:?}");
                for change in &diff.statements {
                    assert_eq!(change.access, *expected, "{}", change.unified);
                }
            }
        }
    }

    /// One change per condition operator family, as AWS's documentation of the operators
    /// defines them, checked in both directions.
    #[test]
    #[rustfmt::skip]
    fn labels_of_each_condition_operator() {
        use AccessChange::*;
        let on = |condition: &str| conditioned(condition);
        let cases: Vec<(String, String, AccessChange, AccessChange)> = vec![
            // A missing key: ...IfExists admits the request, the plain operator does not.
            (on(r#"{"StringEquals": {"aws:PrincipalTag/team": "a"}}"#), on(r#"{"StringEqualsIfExists": {"aws:PrincipalTag/team": "a"}}"#), Widens, Narrows),
            (on(r#"{"Bool": {"aws:MultiFactorAuthPresent": "true"}}"#), on(r#"{"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}"#), Widens, Narrows),
            // Values of one key are ORed, keys ANDed.
            (on(r#"{"StringEquals": {"aws:PrincipalTag/team": "a"}}"#), on(r#"{"StringEquals": {"aws:PrincipalTag/team": ["a", "b"]}}"#), Widens, Narrows),
            (on(r#"{"StringEquals": {"aws:PrincipalTag/team": "a"}}"#), on(r#"{"StringEquals": {"aws:PrincipalTag/team": "a", "aws:PrincipalTag/env": "prod"}}"#), Narrows, Widens),
            // A negated operator: more values exclude more.
            (on(r#"{"StringNotEquals": {"aws:PrincipalTag/team": "a"}}"#), on(r#"{"StringNotEquals": {"aws:PrincipalTag/team": ["a", "b"]}}"#), Narrows, Widens),
            (on(r#"{"StringNotLike": {"s3:prefix": "home/*"}}"#), on(r#"{"StringNotLike": {"s3:prefix": "home/a/*"}}"#), Widens, Narrows),
            (on(r#"{"StringLike": {"s3:prefix": "home/*"}}"#), on(r#"{"StringLike": {"s3:prefix": "home/a/*"}}"#), Narrows, Widens),
            // A bound that admits its own value.
            (on(r#"{"NumericLessThan": {"s3:max-keys": "100"}}"#), on(r#"{"NumericLessThanEquals": {"s3:max-keys": "100"}}"#), Widens, Narrows),
            (on(r#"{"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}"#), on(r#"{"DateGreaterThanEquals": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}"#), Widens, Narrows),
            // One more address range; an address is its /32.
            (on(r#"{"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}"#), on(r#"{"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "198.51.100.0/24"]}}"#), Widens, Narrows),
            (on(r#"{"IpAddress": {"aws:SourceIp": "192.0.2.1/32"}}"#), on(r#"{"IpAddress": {"aws:SourceIp": "192.0.2.1"}}"#), NoChange, NoChange),
            // ARN operators: ArnLike without a wildcard is ArnEquals.
            (on(r#"{"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:t"}}"#), on(r#"{"ArnLike": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:t"}}"#), NoChange, NoChange),
            (on(r#"{"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:t"}}"#), on(r#"{"ArnLike": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:*"}}"#), Widens, Narrows),
            // Set operators over a multivalued key.
            (on(r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}"#), on(r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}}"#), Widens, Narrows),
            (on(r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}"#), on(r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}"#), Widens, Narrows),
            (on(r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}"#), on(r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}"#), Mixed, Mixed),
            // Null and Bool: the opposite value admits other requests.
            (on(r#"{"Null": {"aws:PrincipalTag/team": "true"}}"#), on(r#"{"Null": {"aws:PrincipalTag/team": "false"}}"#), Mixed, Mixed),
            (on(r#"{"Bool": {"aws:SecureTransport": "true"}}"#), on(r#"{"Bool": {"aws:SecureTransport": "false"}}"#), Mixed, Mixed),
            (on(r#"{"Bool": {"aws:SecureTransport": "true"}}"#), on(r#"{"Bool": {"aws:SecureTransport": true}}"#), NoChange, NoChange),
            // Condition keys' names ignore case; StringEquals' values do not.
            (on(r#"{"StringEquals": {"aws:PrincipalTag/team": "a"}}"#), on(r#"{"StringEquals": {"AWS:principaltag/team": "a"}}"#), NoChange, NoChange),
            (on(r#"{"StringEquals": {"aws:PrincipalTag/team": "a"}}"#), on(r#"{"StringEquals": {"aws:PrincipalTag/team": "A"}}"#), Mixed, Mixed),
        ];
        for (old, new, forward, backward) in &cases {
            let (old, new) = (PolicyDocument::parse(old).unwrap(), PolicyDocument::parse(new).unwrap());
            for (a, b, expected) in [(&old, &new, forward), (&new, &old, backward)] {
                assert_eq!(diff(Some(a), Some(b), None).access, *expected, "{a:?}\n -> {b:?}");
            }
        }
    }

    /// Edits that spread one set of requests over several statements, or write it another
    /// way, from a corpus of 251 planned edits: access does not change unless the edit says so.
    /// Each is checked in both directions on the whole document.
    #[test]
    #[rustfmt::skip]
    fn labels_across_statements() {
        use AccessChange::*;
        let get = |condition: &str| format!(
            r#"{{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"{}}}"#,
            if condition.is_empty() { String::new() } else { format!(r#", "Condition": {condition}"#) }
        );
        let team = |operator: &str, values: &str| format!(r#"{{"{operator}": {{"aws:PrincipalTag/team": {values}}}}}"#);
        let ip = |values: &str| format!(r#"{{"IpAddress": {{"aws:SourceIp": {values}}}}}"#);
        let docs = |statements: &[String]| format!(r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#, statements.join(", "));
        let deny = |action: &str, condition: &str| format!(
            r#"{{"Effect": "Deny", "Action": "{action}", "Resource": "*"{}}}"#,
            if condition.is_empty() { String::new() } else { format!(r#", "Condition": {condition}"#) }
        );
        let cases: Vec<(String, String, AccessChange, AccessChange)> = vec![
            // A condition's values are ORed: one statement per value admits the same.
            (docs(&[get(&team("StringEquals", r#"["a", "b"]"#))]), docs(&[get(&team("StringEquals", r#""a""#)), get(&team("StringEquals", r#""b""#))]), NoChange, NoChange),
            (docs(&[get(&team("StringEquals", r#"["a", "b"]"#))]), docs(&[get(&team("StringEquals", r#"["a", "c"]"#)), get(&team("StringEquals", r#""b""#))]), Widens, Narrows),
            (docs(&[get(&ip(r#"["10.0.0.0/8", "192.168.0.0/16"]"#))]), docs(&[get(&ip(r#""10.0.0.0/8""#)), get(&ip(r#""192.168.0.0/16""#))]), NoChange, NoChange),
            // Two halves of a range are the range.
            (docs(&[get(&ip(r#"["10.0.0.0/9", "10.128.0.0/9"]"#))]), docs(&[get(&ip(r#""10.0.0.0/8""#))]), NoChange, NoChange),
            (docs(&[get(&ip(r#"["10.0.0.0/9", "10.128.0.0/10"]"#))]), docs(&[get(&ip(r#""10.0.0.0/8""#))]), Widens, Narrows),
            // ... and so are they in two statements.
            (docs(&[get(&ip(r#""10.0.0.0/9""#)), get(&ip(r#""10.128.0.0/9""#))]), docs(&[get(&ip(r#""10.0.0.0/8""#))]), NoChange, NoChange),
            (docs(&[get(&ip(r#""10.0.0.0/9""#)), get(&ip(r#""10.128.0.0/10""#))]), docs(&[get(&ip(r#""10.0.0.0/8""#))]), Widens, Narrows),
            (docs(&[get(""), deny("s3:*", &team("StringEquals", r#"["a", "b"]"#))]), docs(&[get(""), deny("s3:*", &team("StringEquals", r#""a""#)), deny("s3:*", &team("StringEquals", r#""b""#))]), NoChange, NoChange),
            // The key absent, or present: every request.
            (docs(&[get("")]), docs(&[get(&team("Null", r#""true""#)), get(&team("Null", r#""false""#))]), NoChange, NoChange),
            (docs(&[get(&team("StringEqualsIfExists", r#""a""#))]), docs(&[get(&team("StringEquals", r#""a""#)), get(&team("Null", r#""true""#))]), NoChange, NoChange),
            // A negated operator holds when the key is absent, with or without IfExists.
            (docs(&[get(&team("StringNotEquals", r#""a""#))]), docs(&[get(&team("StringNotEqualsIfExists", r#""a""#))]), NoChange, NoChange),
            (docs(&[get(&team("StringNotEquals", r#""a""#))]), docs(&[get(&team("Null", r#""true""#))]), Narrows, Widens),
            // Redundant, impossible and always-true conditions.
            (docs(&[get(&team("StringEquals", r#""a""#))]), docs(&[get(r#"{"StringEquals": {"aws:PrincipalTag/team": "a"}, "Null": {"aws:PrincipalTag/team": "false"}}"#)]), NoChange, NoChange),
            (docs(&[get(r#"{"StringEqualsIfExists": {"aws:PrincipalTag/team": "a"}, "Null": {"aws:PrincipalTag/team": "false"}}"#)]), docs(&[get(&team("StringEquals", r#""a""#))]), NoChange, NoChange),
            (docs(&[get("")]), docs(&[get(""), get(r#"{"StringEquals": {"aws:PrincipalTag/team": "a"}, "Null": {"aws:PrincipalTag/team": "true"}}"#).replace("GetObject", "PutObject")]), NoChange, NoChange),
            (docs(&[get("")]), docs(&[get(&team("StringLikeIfExists", r#""*""#))]), NoChange, NoChange),
            (docs(&[get("")]), docs(&[get(&team("StringLike", r#""*""#))]), Narrows, Widens),
            // An Allow that a Deny in the same document blocks grants nothing.
            (docs(&[get(""), deny("s3:Delete*", "")]), docs(&[get(""), deny("s3:Delete*", ""), get("").replace("GetObject", "DeleteObject")]), NoChange, NoChange),
            (docs(&[get(""), deny("s3:Delete*", &team("StringEquals", r#""a""#))]), docs(&[get(""), deny("s3:Delete*", &team("StringEquals", r#""a""#)), get("").replace("GetObject", "DeleteObject")]), Widens, Narrows),
            // IAM's special-character variables are the characters themselves.
            (docs(&[get(&team("StringLike", r#""a${*}""#))]), docs(&[get(&team("StringEquals", r#""a*""#))]), NoChange, NoChange),
            (docs(&[get(&team("StringLike", r#""a${?}""#))]), docs(&[get(&team("StringEquals", r#""a?""#))]), NoChange, NoChange),
            (docs(&[get(&team("StringLike", r#""a${$}b""#))]), docs(&[get(&team("StringEquals", r#""a$b""#))]), NoChange, NoChange),
            (docs(&[get(&team("StringLike", r#""a${*}""#))]), docs(&[get(&team("StringLike", r#""a*""#))]), Widens, Narrows),
            // A set prefix on a key that holds one value: a set of that value, or of none.
            (docs(&[get(&team("StringEquals", r#""a""#))]), docs(&[get(&team("ForAnyValue:StringEquals", r#""a""#))]), NoChange, NoChange),
            (docs(&[get(&team("StringEqualsIfExists", r#"["a", "b"]"#))]), docs(&[get(&team("ForAllValues:StringEquals", r#"["a", "b"]"#))]), NoChange, NoChange),
            (docs(&[get(&team("StringEquals", r#""a""#))]), docs(&[get(&team("ForAllValues:StringEquals", r#""a""#))]), Widens, Narrows),
            (docs(&[get(&team("StringNotEquals", r#""a""#))]), docs(&[get(&team("ForAllValues:StringNotEquals", r#""a""#))]), NoChange, NoChange),
            (docs(&[get(&team("StringNotEquals", r#""a""#))]), docs(&[get(&team("ForAnyValue:StringNotEquals", r#""a""#))]), Narrows, Widens),
            // ... but not on a key that holds a list.
            (docs(&[get(r#"{"StringEquals": {"aws:TagKeys": "a"}}"#)]), docs(&[get(r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": "a"}}"#)]), Mixed, Mixed),
        ];
        for (old, new, forward, backward) in &cases {
            let (old, new) = (PolicyDocument::parse(old).unwrap(), PolicyDocument::parse(new).unwrap());
            for (a, b, expected) in [(&old, &new, forward), (&new, &old, backward)] {
                assert_eq!(diff(Some(a), Some(b), None).access, *expected, "{a:?}\n -> {b:?}");
            }
        }
    }

    #[test]
    fn unified_rendering() {
        let diff = diff(
            Some(&doc(READ)),
            Some(&doc(&READ.replace("s3:GetObject", "s3:*Object"))),
            None,
        );
        let change = &diff.statements[0];
        insta::assert_snapshot!(change.unified, @r#"
         {
           "Sid": "Read",
           "Effect": "Allow",
           "Action": [
        -    "s3:GetObject"
        +    "s3:*Object"
           ],
           "Resource": [
             "arn:aws:s3:::b/*"
           ]
         }
        "#);
        let json = serde_json::to_value(change).unwrap();
        assert_eq!(json["kind"], "modified");
        assert_eq!(json["access"], "widens");
    }
}
