//! An S3 bucket's data: its table of attributes, its ARN format, and its attributes as plinth
//! compares them, read from the spec and from S3 alike.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::arn::{regional, ArnFormat, ArnId};
use crate::model::attributes::{Attribute, SizeLimit};
use crate::model::Value;
use crate::policy::DocumentKind;

pub(in crate::model) const ATTRIBUTES: &[Attribute] = &[
    Attribute::export("arn"),
    Attribute::export("name").replaces(),
    Attribute::policy(
        "policy",
        DocumentKind::Resource("an S3 bucket policy"),
        SizeLimit::Each(20_480),
    ),
];

pub(in crate::model) const ARN: ArnFormat = ArnFormat {
    regional: false,
    in_account: false,
    ..regional("s3", "", ArnId::Name)
};

/// The settings a bucket block manages, as recorded on an existing bucket so that removing
/// the block later removes exactly those.
pub const MANAGED_SETTINGS: &[&str] = &[
    "cors",
    "encryption",
    "notifications",
    "policy",
    "public_access_block",
    "tags",
];

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CorsRule {
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    pub max_age: Option<i64>,
}

/// One CORS rule as plinth compares it: lists as sets, empty ones left out (S3 omits them).
pub fn cors_rule(rule: &CorsRule) -> Value {
    let mut map = BTreeMap::from([
        (
            "allowed_origins".to_string(),
            Value::set(rule.allowed_origins.iter().cloned()),
        ),
        (
            "allowed_methods".to_string(),
            Value::set(rule.allowed_methods.iter().cloned()),
        ),
    ]);
    for (name, list) in [
        ("allowed_headers", &rule.allowed_headers),
        ("expose_headers", &rule.expose_headers),
    ] {
        if !list.is_empty() {
            map.insert(name.to_string(), Value::set(list.iter().cloned()));
        }
    }
    if let Some(id) = &rule.id {
        map.insert("id".into(), Value::str(id));
    }
    if let Some(age) = rule.max_age {
        map.insert("max_age".into(), Value::Int(age));
    }
    Value::Map(map)
}

pub fn public_access_block(
    block_acls: bool,
    ignore_acls: bool,
    block_policy: bool,
    restrict_buckets: bool,
) -> Value {
    Value::Map(BTreeMap::from([
        ("block_public_acls".to_string(), Value::Bool(block_acls)),
        ("ignore_public_acls".to_string(), Value::Bool(ignore_acls)),
        ("block_public_policy".to_string(), Value::Bool(block_policy)),
        (
            "restrict_public_buckets".to_string(),
            Value::Bool(restrict_buckets),
        ),
    ]))
}

/// One notification as plinth compares it. `kind` is `queue`, `function` or (read from AWS
/// only) `topic`; S3's generated ids are left out.
pub fn notification(
    kind: &str,
    target: Value,
    events: impl IntoIterator<Item = String>,
    prefix: Option<String>,
    suffix: Option<String>,
) -> Value {
    let mut map = BTreeMap::from([
        (kind.to_string(), target),
        ("events".to_string(), Value::set(events)),
    ]);
    if let Some(p) = prefix {
        map.insert("prefix".into(), Value::Str(p));
    }
    if let Some(s) = suffix {
        map.insert("suffix".into(), Value::Str(s));
    }
    Value::Map(map)
}

/// The notification document is unordered: entries are kept sorted so that order never shows
/// up as a difference.
pub fn notifications_value(mut entries: Vec<Value>) -> Value {
    entries.sort_by_key(|e| e.to_json().to_string());
    Value::List(entries)
}

/// The id of a CORS rule or notification entry (`None`: it has none, as a CORS rule may).
pub fn entry_id(entry: &Value) -> Option<&str> {
    match entry {
        Value::Map(m) => m.get("id").and_then(Value::as_str),
        _ => None,
    }
}

/// `entry` with `id` set.
pub fn with_id(entry: Value, id: &str) -> Value {
    match entry {
        Value::Map(mut m) => {
            m.insert("id".into(), Value::str(id));
            Value::Map(m)
        }
        other => other,
    }
}

/// `entry` without its id.
pub fn without_id(entry: &Value) -> Value {
    match entry {
        Value::Map(m) => Value::Map(
            m.iter()
                .filter(|(k, _)| *k != "id")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Whether an entry id can be recorded in plinth's tag on a shared bucket (the record is
/// space-separated): letters, digits, `-`, `_` and `.`, at most 255 characters (S3's limit).
pub fn is_recordable_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 255
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The id plinth gives the `n`th (from 1) CORS rule or notification of a shared bucket's block
/// when the entry names none: made of the stack and the block's address, so it is the same on
/// every run and no other stack's.
pub fn derived_id(stack: &str, block: &str, what: &str, n: usize) -> String {
    format!("plinth-{stack}-{block}-{what}-{n}")
}
