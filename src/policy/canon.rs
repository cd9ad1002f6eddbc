//! The canonical form: one spelling for every set of documents IAM treats alike.
//!
//! Normalization rules (equivalence is equality after them):
//! - Version: a missing Version is `2008-10-17`, which is what IAM assumes.
//! - Statements: sorted by their canonical compact JSON; exact duplicates are dropped.
//! - Action/NotAction: lowercased entirely (IAM matches action names case-insensitively),
//!   then sorted and deduplicated.
//! - Resource/NotResource: sorted and deduplicated; case is kept because ARNs are
//!   case-sensitive.
//! - Principal: an AWS account id becomes `arn:aws:iam::<id>:root`; an AWS `*` anywhere makes
//!   the element `"*"` (it already admits everyone); ids are sorted and deduplicated per type.
//! - Condition: context keys are lowercased (IAM ignores their case); operators and values
//!   keep theirs; values become strings, sorted and deduplicated (a list means "any of").
//! - Every list is emitted as a JSON array, even with one element, so that adding a second
//!   element changes one line of a diff, not the shape.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::model::{
    Clause, Condition, PolicyDocument, Principal, PrincipalKind, Principals, Statement, Version,
};

impl PolicyDocument {
    /// The document with every normalization rule of this module applied.
    pub fn normalized(&self) -> PolicyDocument {
        let mut statements: Vec<(String, Statement)> = self
            .statements
            .iter()
            .map(|statement| {
                let statement = statement.normalized();
                (statement.to_json().to_string(), statement)
            })
            .collect();
        statements.sort_by(|a, b| a.0.cmp(&b.0));
        statements.dedup_by(|a, b| a.0 == b.0);
        PolicyDocument {
            version: Some(self.version.unwrap_or(Version::V2008_10_17)),
            id: self.id.clone(),
            statements: statements
                .into_iter()
                .map(|(_, statement)| statement)
                .collect(),
        }
    }

    pub fn canonical(&self) -> Value {
        self.normalized().to_json()
    }

    /// The canonical form for people: pretty-printed with two-space indents and a trailing
    /// newline, with actions, condition keys and account principals spelled as they were
    /// written (`sts:AssumeRole`, not the lowercase used for comparing).
    pub fn to_pretty(&self) -> String {
        let spelling = Spelling::of([self]);
        let mut statements: Vec<(String, Value)> = self
            .statements
            .iter()
            .map(|statement| {
                (
                    statement.normalized().to_json().to_string(),
                    statement.display_json(&spelling),
                )
            })
            .collect();
        statements.sort_by(|a, b| a.0.cmp(&b.0));
        statements.dedup_by(|a, b| a.0 == b.0);
        let mut object = Map::new();
        object.insert(
            "Version".into(),
            self.version.unwrap_or(Version::V2008_10_17).as_str().into(),
        );
        if let Some(id) = &self.id {
            object.insert("Id".into(), id.as_str().into());
        }
        object.insert(
            "Statement".into(),
            Value::Array(statements.into_iter().map(|(_, json)| json).collect()),
        );
        format!("{:#}\n", Value::Object(object))
    }

    /// Canonical JSON without whitespace.
    pub fn to_compact(&self) -> String {
        self.canonical().to_string()
    }

    /// The document as written (statement order, spelling, a missing Version), without
    /// whitespace: what plinth sends to AWS, so AWS stores what the user wrote.
    pub fn to_aws_json(&self) -> String {
        self.to_json().to_string()
    }

    pub fn equivalent(&self, other: &PolicyDocument) -> bool {
        // The same document as written is the common case (AWS returns what it was sent), and
        // needs no normalizing.
        self == other || self.normalized() == other.normalized()
    }

    /// The document as JSON in its current form; canonical only when `self` is normalized.
    fn to_json(&self) -> Value {
        let mut object = Map::new();
        if let Some(version) = self.version {
            object.insert("Version".into(), version.as_str().into());
        }
        if let Some(id) = &self.id {
            object.insert("Id".into(), id.as_str().into());
        }
        let statements = self.statements.iter().map(Statement::to_json).collect();
        object.insert("Statement".into(), Value::Array(statements));
        Value::Object(object)
    }
}

/// Plan output embeds documents in their canonical form.
impl serde::Serialize for PolicyDocument {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.canonical().serialize(serializer)
    }
}

impl Statement {
    pub fn normalized(&self) -> Statement {
        let action = map_clause(&self.action, |actions| {
            sorted_set(actions.iter().map(|action| action.to_lowercase()))
        });
        let resource = self
            .resource
            .as_ref()
            .map(|resource| map_clause(resource, |patterns| sorted_set(patterns.iter().cloned())));
        let principal = self
            .principal
            .as_ref()
            .map(|principal| map_clause(principal, normalize_principals));
        let mut condition: Vec<Condition> = self
            .condition
            .iter()
            .map(|condition| Condition {
                operator: condition.operator.clone(),
                key: condition.key.to_lowercase(),
                values: sorted_set(condition.values.iter().cloned()),
            })
            .collect();
        condition.sort();
        Statement {
            sid: self.sid.clone(),
            effect: self.effect,
            principal,
            action,
            resource,
            condition,
        }
    }

    /// The normalized statement as people read it: what normalizing rewrites (the case of
    /// actions and condition keys, an account id as a principal) is spelled as in `spelling`.
    pub fn display_json(&self, spelling: &Spelling) -> Value {
        let mut normalized = self.normalized();
        let respell = |text: &mut String, spelled: &HashMap<String, String>| {
            if let Some(original) = spelled.get(text.as_str()) {
                text.clone_from(original);
            }
        };
        match &mut normalized.action {
            Clause::Is(actions) | Clause::Not(actions) => {
                for action in actions {
                    respell(action, &spelling.actions);
                }
            }
        }
        for condition in &mut normalized.condition {
            respell(&mut condition.key, &spelling.condition_keys);
        }
        if let Some(
            Clause::Is(Principals::Listed(listed)) | Clause::Not(Principals::Listed(listed)),
        ) = &mut normalized.principal
        {
            for principal in listed.iter_mut().filter(|p| p.kind == PrincipalKind::Aws) {
                respell(&mut principal.id, &spelling.principals);
            }
        }
        normalized.to_json()
    }

    /// The statement as JSON in its current form; canonical only when `self` is normalized.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        if let Some(sid) = &self.sid {
            object.insert("Sid".into(), sid.as_str().into());
        }
        object.insert("Effect".into(), self.effect.as_str().into());
        if let Some(principal) = &self.principal {
            let (name, value) = clause_json("Principal", principal);
            object.insert(name, principals_json(value));
        }
        let (name, actions) = clause_json("Action", &self.action);
        object.insert(name, strings_json(actions));
        if let Some(resource) = &self.resource {
            let (name, resources) = clause_json("Resource", resource);
            object.insert(name, strings_json(resources));
        }
        if !self.condition.is_empty() {
            let mut operators = Map::new();
            for condition in &self.condition {
                let block = operators
                    .entry(condition.operator.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(block) = block {
                    block.insert(condition.key.clone(), strings_json(&condition.values));
                }
            }
            object.insert("Condition".into(), Value::Object(operators));
        }
        Value::Object(object)
    }
}

/// How authors spelled what the canonical form rewrites, so that people read their own
/// spelling while comparison stays canonical: actions and condition keys (lowercased for
/// comparing) and AWS account principals (`123456789012` for `arn:aws:iam::123456789012:root`),
/// each by its canonical form.
#[derive(Debug, Default)]
pub struct Spelling {
    actions: HashMap<String, String>,
    condition_keys: HashMap<String, String>,
    principals: HashMap<String, String>,
}

impl Spelling {
    /// The spellings of `documents`; for a name spelled differently in two of them, the
    /// first document's spelling (the spec's, when a diff puts it first).
    pub fn of<'a>(documents: impl IntoIterator<Item = &'a PolicyDocument>) -> Spelling {
        let mut spelling = Spelling::default();
        for statement in documents.into_iter().flat_map(PolicyDocument::statements) {
            for action in statement.action.value() {
                keep_first(&mut spelling.actions, action.to_lowercase(), action);
            }
            for condition in &statement.condition {
                keep_first(
                    &mut spelling.condition_keys,
                    condition.key.to_lowercase(),
                    &condition.key,
                );
            }
            for principal in statement.listed_principals() {
                if principal.kind == PrincipalKind::Aws {
                    if let Some(account) = account_of_root(&principal.id) {
                        let canonical = format!("arn:aws:iam::{account}:root");
                        if canonical != principal.id {
                            keep_first(&mut spelling.principals, canonical, &principal.id);
                        }
                    }
                }
            }
        }
        spelling
    }
}

fn keep_first(spelled: &mut HashMap<String, String>, canonical: String, written: &str) {
    spelled
        .entry(canonical)
        .or_insert_with(|| written.to_string());
}

fn normalize_principals(principals: &Principals) -> Principals {
    let Principals::Listed(listed) = principals else {
        return Principals::Everyone;
    };
    let everyone = listed
        .iter()
        .any(|p| p.kind == PrincipalKind::Aws && p.id == "*");
    if everyone {
        return Principals::Everyone;
    }
    let mut listed: Vec<Principal> = listed
        .iter()
        .map(|principal| match principal.kind {
            PrincipalKind::Aws => match account_of_root(&principal.id) {
                Some(account) => Principal::aws(format!("arn:aws:iam::{account}:root")),
                None => principal.clone(),
            },
            _ => principal.clone(),
        })
        .collect();
    listed.sort();
    listed.dedup();
    Principals::Listed(listed)
}

/// The account an AWS principal names as a whole: an account id, or its root's ARN in any
/// partition. IAM, S3 and SQS rewrite an account id to the root's ARN of the account's own
/// partition (`arn:aws-us-gov:iam::123456789012:root` in GovCloud), and a policy names
/// principals of its own partition only, so the canonical form is one for every partition.
fn account_of_root(id: &str) -> Option<&str> {
    if is_account_id(id) {
        return Some(id);
    }
    let rest = id.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    let account = rest.strip_prefix("iam::")?.strip_suffix(":root")?;
    (partition.starts_with("aws") && is_account_id(account)).then_some(account)
}

pub(super) fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// A CloudFront origin access identity as a bucket policy names it (S3's documentation,
/// "Restricting access to an Amazon S3 origin"):
/// `arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E2QWRUHAPOMQZL`. Its
/// account field is `cloudfront`, not an account id, and its name holds spaces.
pub(crate) fn is_cloudfront_oai(id: &str) -> bool {
    // The partition has no colon: the rest of the ARN begins at the first one. (A search for
    // the rest in the whole id set up a substring search for every principal and resource.)
    id.strip_prefix("arn:")
        .and_then(|rest| rest.split_once(':'))
        .and_then(|(partition, rest)| {
            let oai =
                rest.strip_prefix("iam::cloudfront:user/CloudFront Origin Access Identity ")?;
            Some((partition, oai))
        })
        .is_some_and(|(partition, oai)| {
            !partition.is_empty()
                && partition
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-')
                && !oai.is_empty()
                && oai
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
}

fn sorted_set(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut items: Vec<String> = items.collect();
    items.sort();
    items.dedup();
    items
}

fn map_clause<T>(clause: &Clause<T>, f: impl FnOnce(&T) -> T) -> Clause<T> {
    match clause {
        Clause::Is(value) => Clause::Is(f(value)),
        Clause::Not(value) => Clause::Not(f(value)),
    }
}

fn clause_json<'a, T>(name: &str, clause: &'a Clause<T>) -> (String, &'a T) {
    match clause {
        Clause::Is(value) => (name.to_string(), value),
        Clause::Not(value) => (format!("Not{name}"), value),
    }
}

fn strings_json(items: &[String]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|item| Value::from(item.as_str()))
            .collect(),
    )
}

fn principals_json(principals: &Principals) -> Value {
    let Principals::Listed(listed) = principals else {
        return "*".into();
    };
    let mut object = Map::new();
    for principal in listed {
        let ids = object
            .entry(principal.kind.json_key())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(ids) = ids {
            ids.push(principal.id.as_str().into());
        }
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::super::model::Effect;
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn an_origin_access_identity_is_known_by_its_arn() {
        let oai = "CloudFront Origin Access Identity E2QWRUHAPOMQZL";
        for id in [
            format!("arn:aws:iam::cloudfront:user/{oai}"),
            format!("arn:aws-cn:iam::cloudfront:user/{oai}"),
        ] {
            assert!(is_cloudfront_oai(&id), "{id}");
        }
        for id in [
            format!("arn::iam::cloudfront:user/{oai}"),
            format!("arn:AWS:iam::cloudfront:user/{oai}"),
            format!("arn:aws:x:iam::cloudfront:user/{oai}"),
            format!("arn:aws:iam::cloudfront:user/{oai} x"),
            "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity ".to_string(),
            format!("aws:iam::cloudfront:user/{oai}"),
            "arn:aws:iam::123456789012:root".to_string(),
        ] {
            assert!(!is_cloudfront_oai(&id), "{id}");
        }
    }

    fn doc(json: &str) -> PolicyDocument {
        PolicyDocument::parse(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    /// Wraps statement JSON into a 2012-10-17 document.
    fn stmts(statements: &str) -> PolicyDocument {
        doc(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [{statements}]}}"#
        ))
    }

    #[test]
    #[rustfmt::skip]
    fn equivalent_pairs() {
        let cases = [
            (
                r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}"#,
                r#"{"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}, {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}"#,
            ),
            (
                r#"{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:GetObject"], "Resource": ["b", "a"]}"#,
                r#"{"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": ["a", "b", "a"]}"#,
            ),
            (
                r#"{"Effect": "Allow", "NotAction": "s3:GetObject", "NotResource": "a"}"#,
                r#"{"Effect": "Allow", "NotAction": ["s3:GetObject"], "NotResource": ["a"]}"#,
            ),
            (
                r#"{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"}"#,
                r#"{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::123456789012:root"]}, "Action": "sts:AssumeRole"}"#,
            ),
            // In GovCloud and China IAM rewrites an account id to the root of its own partition.
            (
                r#"{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"}"#,
                r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws-us-gov:iam::123456789012:root"}, "Action": "sts:AssumeRole"}"#,
            ),
            (
                r#"{"Effect": "Allow", "Principal": {"AWS": ["123456789012", "arn:aws-cn:iam::210987654321:root"]}, "Action": "sts:AssumeRole"}"#,
                r#"{"Effect": "Allow", "Principal": {"AWS": ["arn:aws-cn:iam::123456789012:root", "210987654321"]}, "Action": "sts:AssumeRole"}"#,
            ),
            (
                r#"{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage"}"#,
                r#"{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sqs:SendMessage"}"#,
            ),
            (
                r#"{"Effect": "Allow", "Action": "S3:GetObject", "Resource": "*"}"#,
                r#"{"Effect": "Allow", "Action": "s3:getobject", "Resource": "*"}"#,
            ),
            (
                r#"{"Effect": "Allow", "Action": "*", "Condition": {"StringEquals": {"aws:SourceAccount": "1"}}}"#,
                r#"{"Effect": "Allow", "Action": "*", "Condition": {"StringEquals": {"AWS:sourceaccount": ["1"]}}}"#,
            ),
            (
                r#"{"Effect": "Allow", "Action": "*", "Condition": {"Bool": {"aws:SecureTransport": true}, "NumericLessThan": {"s3:max-keys": 5}}}"#,
                r#"{"Condition": {"NumericLessThan": {"s3:max-keys": "5"}, "Bool": {"aws:SecureTransport": "true"}}, "Action": "*", "Effect": "Allow"}"#,
            ),
            (
                r#"{"Sid": "", "Effect": "Allow", "Action": "*"}"#,
                r#"{"Effect": "Allow", "Action": "*"}"#,
            ),
            (
                r#"{"Effect": "Allow", "Action": "*"}, {"Effect": "Allow", "Action": "*"}"#,
                r#"{"Effect": "Allow", "Action": "*"}"#,
            ),
        ];
        for (a, b) in cases {
            assert!(stmts(a).equivalent(&stmts(b)), "{a}\n  vs {b}");
            assert_eq!(stmts(a).to_compact(), stmts(b).to_compact());
        }
        let unversioned = doc(r#"{"Statement": {"Effect": "Allow", "Action": "*"}}"#);
        let old = doc(r#"{"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Action": "*"}]}"#);
        assert!(unversioned.equivalent(&old));
    }

    #[test]
    #[rustfmt::skip]
    fn inequivalent_pairs() {
        let base = r#"{"Sid": "A", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/r"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}}}"#;
        let changes = [
            ("\"Allow\"", "\"Deny\""),
            ("role/r", "role/other"),
            ("s3:GetObject", "s3:GetObject*"),
            ("arn:aws:s3:::b/*", "arn:aws:s3:::b/x"),
            ("arn:aws:s3:::b/*", "arn:aws:s3:::B/*"),
            ("vpc-1", "VPC-1"),
            ("StringEquals", "StringLike"),
            ("\"Sid\": \"A\", ", ""),
            ("\"Resource\"", "\"NotResource\""),
        ];
        for (from, to) in changes {
            let changed = base.replace(from, to);
            assert!(!stmts(base).equivalent(&stmts(&changed)), "{from} -> {to}");
        }
    }

    /// Canonical in order and shape, in the author's spelling: the case of actions and
    /// condition keys, an account principal as written (compared as its root ARN).
    #[test]
    fn pretty_output_is_canonical() {
        let doc = stmts(
            r#"{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com", "AWS": "123456789012"}, "Action": "KMS:Decrypt", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceAccount": 123456789012}}}"#,
        );
        insta::assert_snapshot!(doc.to_pretty(), @r#"
        {
          "Version": "2012-10-17",
          "Statement": [
            {
              "Effect": "Allow",
              "Principal": {
                "AWS": [
                  "123456789012"
                ],
                "Service": [
                  "s3.amazonaws.com"
                ]
              },
              "Action": [
                "KMS:Decrypt"
              ],
              "Resource": [
                "*"
              ],
              "Condition": {
                "StringEquals": {
                  "aws:SourceAccount": [
                    "123456789012"
                  ]
                }
              }
            }
          ]
        }
        "#);
        assert_eq!(doc.statements()[0].effect, Effect::Allow);
    }

    fn pick(items: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
        proptest::sample::select(items)
    }

    fn some_of(items: &'static [&'static str]) -> impl Strategy<Value = Vec<&'static str>> {
        proptest::collection::vec(pick(items), 1..4)
    }

    /// Statements drawn from small pools, so that documents often share elements.
    fn statement() -> impl Strategy<Value = Value> {
        let principal = prop_oneof![
            Just(json!("*")),
            some_of(&[
                "123456789012",
                "arn:aws:iam::123456789012:role/app",
                "210987654321",
                "*"
            ])
            .prop_map(|aws| json!({ "AWS": aws })),
            some_of(&["s3.amazonaws.com", "lambda.amazonaws.com"]).prop_map(
                |service| json!({ "Service": service, "Federated": "accounts.google.com" })
            ),
        ];
        let actions = some_of(&[
            "s3:GetObject",
            "S3:PutObject",
            "sqs:SendMessage",
            "s3:*Object",
            "*",
        ]);
        let resources = some_of(&["*", "arn:aws:s3:::tonic-*", "arn:aws:s3:::tonic-*/*"]);
        let condition_key = pick(&[
            "StringEquals/aws:SourceAccount",
            "Bool/aws:SecureTransport",
            "StringLike/s3:Prefix",
        ]);
        let conditions =
            proptest::collection::btree_map(condition_key, some_of(&["true", "5", "home/*"]), 0..3);
        let shape = (
            any::<bool>(),
            proptest::option::of(pick(&["", "A", "B"])),
            any::<bool>(),
        );
        (
            shape,
            proptest::option::of(principal),
            actions,
            proptest::option::of(resources),
            conditions,
        )
            .prop_map(
                |((deny, sid, negate), principal, actions, resources, conditions)| {
                    let mut statement = Map::new();
                    statement.insert("Effect".into(), if deny { "Deny" } else { "Allow" }.into());
                    statement.insert(
                        if negate { "NotAction" } else { "Action" }.into(),
                        json!(actions),
                    );
                    if let Some(sid) = sid {
                        statement.insert("Sid".into(), sid.into());
                    }
                    if let Some(principal) = principal {
                        statement.insert("Principal".into(), principal);
                    }
                    if let Some(resources) = resources {
                        statement.insert("Resource".into(), json!(resources));
                    }
                    let mut condition = Map::new();
                    for (operator_key, values) in conditions {
                        let (operator, key) = operator_key.split_once('/').unwrap_or_default();
                        let block = condition.entry(operator).or_insert_with(|| json!({}));
                        block[key] = json!(values);
                    }
                    if !condition.is_empty() {
                        statement.insert("Condition".into(), Value::Object(condition));
                    }
                    Value::Object(statement)
                },
            )
    }

    fn document() -> impl Strategy<Value = PolicyDocument> {
        proptest::collection::vec(statement(), 1..5).prop_map(|statements| {
            let document = json!({ "Version": "2012-10-17", "Statement": statements });
            PolicyDocument::from_value(&document).unwrap_or_else(|e| panic!("{document}: {e}"))
        })
    }

    /// Spells a document differently without changing its meaning: shuffles every list and
    /// object, unwraps one-element lists, and varies case and scalar forms where IAM does not
    /// care. `key` and `parent` are the object keys above `value`.
    fn respell(value: &Value, key: &str, parent: &str, random: &mut impl FnMut() -> u64) -> Value {
        match value {
            Value::Object(object) => {
                let mut entries: Vec<(u64, String, Value)> = Vec::new();
                for (child_key, child) in object {
                    let respelled = respell(child, child_key, key, random);
                    // Keys under an operator are context keys, which ignore case.
                    let child_key = if parent == "Condition" && flip(random) {
                        child_key.to_uppercase()
                    } else {
                        child_key.clone()
                    };
                    entries.push((random(), child_key, respelled));
                }
                entries.sort_by_key(|entry| entry.0);
                Value::Object(entries.into_iter().map(|(_, k, v)| (k, v)).collect())
            }
            Value::Array(items) => {
                let mut items: Vec<(u64, Value)> = items
                    .iter()
                    .map(|item| (random(), respell(item, key, parent, random)))
                    .collect();
                items.sort_by_key(|item| item.0);
                if items.len() == 1 && flip(random) {
                    return items.remove(0).1;
                }
                Value::Array(items.into_iter().map(|(_, item)| item).collect())
            }
            Value::String(text) => match (key, text.as_str()) {
                ("Action" | "NotAction", action) if flip(random) => action.to_uppercase().into(),
                ("AWS", root) if root.ends_with(":root") && flip(random) => root
                    .trim_start_matches("arn:aws:iam::")
                    .trim_end_matches(":root")
                    .into(),
                ("Principal", "*") if flip(random) => json!({ "AWS": "*" }),
                (_, "true") if flip(random) => Value::Bool(true),
                (_, "5") if flip(random) => Value::from(5),
                _ => value.clone(),
            },
            _ => value.clone(),
        }
    }

    fn flip(random: &mut impl FnMut() -> u64) -> bool {
        random() % 2 == 0
    }

    /// A deterministic stream of pseudo-random numbers (xorshift), so proptest can shrink.
    fn stream(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed | 1;
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    fn respelled(doc: &PolicyDocument, seed: u64) -> String {
        let respelled = respell(&doc.canonical(), "", "", &mut stream(seed));
        if seed % 2 == 0 {
            format!("{respelled:#}")
        } else {
            respelled.to_string()
        }
    }

    proptest! {
        #[test]
        fn canonicalization_is_idempotent(doc in document()) {
            let reparsed = PolicyDocument::parse(&doc.to_compact()).unwrap();
            prop_assert_eq!(reparsed.canonical(), doc.canonical());
            prop_assert_eq!(PolicyDocument::parse(&doc.to_pretty()).unwrap().to_pretty(), doc.to_pretty());
            prop_assert_eq!(doc.normalized().normalized(), doc.normalized());
        }

        #[test]
        fn spelling_choices_do_not_matter(doc in document(), seed in any::<u64>()) {
            let text = respelled(&doc, seed);
            let other = PolicyDocument::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            prop_assert!(other.equivalent(&doc), "{}\n{}", text, doc.to_pretty());
            prop_assert_eq!(other.to_compact(), doc.to_compact());
        }

        #[test]
        fn equivalence_is_reflexive_and_symmetric(a in document(), b in document()) {
            prop_assert!(a.equivalent(&a));
            prop_assert_eq!(a.equivalent(&b), b.equivalent(&a));
        }

        #[test]
        fn parse_never_panics(text in ".{0,200}") {
            if let Err(error) = PolicyDocument::parse(&text) {
                prop_assert!(error.offset.is_none_or(|offset| text.is_char_boundary(offset)));
            }
        }

        #[test]
        fn parse_of_damaged_documents_never_panics(doc in document(), seed in any::<u64>(), cut in any::<prop::sample::Index>(), insert in "[\\[\\]{}\",:*0-9a-zA-Z ]{0,3}") {
            let text = respelled(&doc, seed);
            let at = cut.index(text.len());
            let damaged = format!("{}{}{}", &text[..at], insert, &text[(at + 3).min(text.len())..]);
            if let Err(error) = PolicyDocument::parse(&damaged) {
                prop_assert!(error.offset.is_none_or(|offset| damaged.is_char_boundary(offset)));
            }
        }
    }
}
