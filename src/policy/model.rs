//! The typed policy model and its strict parser.
//!
//! The model keeps what was written (order, case, account-id principals) so lints can point at
//! it; `canon` derives the normalized form. Shapes that IAM treats as interchangeable (a string
//! or a one-element list, a single statement object or a list) are already unified here.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::PolicyError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    V2008_10_17,
    V2012_10_17,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2008_10_17 => "2008-10-17",
            Version::V2012_10_17 => "2012-10-17",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    /// As written; `None` when the document has no Version (IAM then assumes 2008-10-17).
    pub(super) version: Option<Version>,
    pub(super) id: Option<String>,
    pub(super) statements: Vec<Statement>,
}

impl PolicyDocument {
    /// The Version as written, `None` when absent.
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    /// The document without its Allow statements for account roots alone: in a key policy an
    /// account's root only delegates to that account's IAM policies, so what is left is what
    /// the policy grants a principal by itself.
    pub fn without_root_delegation(&self) -> PolicyDocument {
        let only_roots = |s: &Statement| match &s.principal {
            Some(Clause::Is(Principals::Listed(listed))) => listed.iter().all(|p| {
                p.kind == PrincipalKind::Aws
                    && (super::canon::is_account_id(&p.id) || p.id.ends_with(":root"))
            }),
            _ => false,
        };
        self.retaining(|s| !(s.effect == Effect::Allow && only_roots(s)))
    }

    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The statements of several documents as one (a role's inline policies together), in
    /// their order; the first document's version.
    pub fn joined(documents: &[&PolicyDocument]) -> PolicyDocument {
        PolicyDocument {
            version: documents.first().and_then(|d| d.version),
            id: None,
            statements: documents
                .iter()
                .flat_map(|d| d.statements.iter().cloned())
                .collect(),
        }
    }

    /// The document with only the statements `keep` keeps, in their order.
    pub fn retaining(&self, keep: impl Fn(&Statement) -> bool) -> PolicyDocument {
        PolicyDocument {
            version: self.version,
            id: self.id.clone(),
            statements: self
                .statements
                .iter()
                .filter(|s| keep(s))
                .cloned()
                .collect(),
        }
    }

    /// Statements in the order they were written.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// An element and its negated twin: `Action`/`NotAction`, `Resource`/`NotResource`,
/// `Principal`/`NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Clause<T> {
    Is(T),
    Not(T),
}

impl<T> Clause<T> {
    pub fn value(&self) -> &T {
        match self {
            Clause::Is(value) | Clause::Not(value) => value,
        }
    }

    pub fn is_negated(&self) -> bool {
        matches!(self, Clause::Not(_))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Statement {
    /// `None` also when the Sid was written as an empty string.
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: Option<Clause<Principals>>,
    /// Never empty.
    pub action: Clause<Vec<String>>,
    /// Never empty when present.
    pub resource: Option<Clause<Vec<String>>>,
    /// All condition blocks must hold; an empty list means unconditional.
    pub condition: Vec<Condition>,
}

impl Statement {
    /// The principals a Principal or NotPrincipal element lists; empty for `"*"` or none.
    pub fn listed_principals(&self) -> &[Principal] {
        match &self.principal {
            Some(
                Clause::Is(Principals::Listed(listed)) | Clause::Not(Principals::Listed(listed)),
            ) => listed,
            _ => &[],
        }
    }
}

/// The value of a `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Principals {
    /// `"*"`; also `{"AWS": "*"}` once normalized.
    Everyone,
    /// Never empty.
    Listed(Vec<Principal>),
}

/// One principal: an entry of a `Principal` element, or the caller of a request in `eval`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Principal {
    pub kind: PrincipalKind,
    pub id: String,
}

impl Principal {
    pub fn new(kind: PrincipalKind, id: impl Into<String>) -> Principal {
        Principal {
            kind,
            id: id.into(),
        }
    }

    pub fn aws(id: impl Into<String>) -> Principal {
        Principal::new(PrincipalKind::Aws, id)
    }

    pub fn service(id: impl Into<String>) -> Principal {
        Principal::new(PrincipalKind::Service, id)
    }

    pub fn federated(id: impl Into<String>) -> Principal {
        Principal::new(PrincipalKind::Federated, id)
    }
}

/// Declared in the order canonical JSON lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrincipalKind {
    Aws,
    CanonicalUser,
    Federated,
    Service,
}

impl PrincipalKind {
    pub fn json_key(self) -> &'static str {
        match self {
            PrincipalKind::Aws => "AWS",
            PrincipalKind::CanonicalUser => "CanonicalUser",
            PrincipalKind::Federated => "Federated",
            PrincipalKind::Service => "Service",
        }
    }

    fn from_json_key(key: &str) -> Option<PrincipalKind> {
        let kinds = [
            Self::Aws,
            Self::CanonicalUser,
            Self::Federated,
            Self::Service,
        ];
        kinds.into_iter().find(|kind| kind.json_key() == key)
    }
}

/// One `operator: { key: values }` entry of a Condition element.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Condition {
    pub operator: String,
    pub key: String,
    /// Booleans and numbers are kept in their JSON text form (`true` becomes `"true"`), which
    /// is how IAM compares them. Never empty.
    pub values: Vec<String>,
}

/// Condition operators without their set prefix or `IfExists` suffix.
const CONDITION_OPERATORS: &str = "StringEquals StringNotEquals StringEqualsIgnoreCase \
    StringNotEqualsIgnoreCase StringLike StringNotLike NumericEquals NumericNotEquals \
    NumericLessThan NumericLessThanEquals NumericGreaterThan NumericGreaterThanEquals DateEquals \
    DateNotEquals DateLessThan DateLessThanEquals DateGreaterThan DateGreaterThanEquals Bool \
    BinaryEquals IpAddress NotIpAddress ArnEquals ArnLike ArnNotEquals ArnNotLike Null";

impl Condition {
    /// The operator without its set prefix (`ForAllValues:`, `ForAnyValue:`) or `IfExists`.
    pub fn base_operator(&self) -> &str {
        base_operator(&self.operator)
    }

    /// Negated operators match when the value is *not* among the listed values, so adding
    /// values to them narrows instead of widening.
    pub fn is_negated(&self) -> bool {
        self.base_operator().contains("Not")
    }
}

fn base_operator(operator: &str) -> &str {
    let operator = operator
        .strip_prefix("ForAllValues:")
        .or_else(|| operator.strip_prefix("ForAnyValue:"))
        .unwrap_or(operator);
    operator.strip_suffix("IfExists").unwrap_or(operator)
}

fn is_known_operator(operator: &str) -> bool {
    let base = base_operator(operator);
    let null_if_exists = base == "Null" && operator.ends_with("IfExists");
    CONDITION_OPERATORS
        .split_whitespace()
        .any(|known| known == base)
        && !null_if_exists
}

impl PolicyDocument {
    /// Parses a policy document, enforcing IAM's grammar; see [`PolicyDocument::from_value`].
    /// Duplicate object keys are rejected too: a repeated key would hide one of its values from
    /// review.
    pub fn parse(json: &str) -> Result<PolicyDocument, PolicyError> {
        let value = serde_json::from_str::<StrictJson>(json)
            .map_err(|error| PolicyError {
                message: format!("invalid JSON: {error}"),
                offset: byte_offset(json, error.line(), error.column()),
                path: String::new(),
            })?
            .0;
        PolicyDocument::from_value(&value)
    }

    /// Builds the model from JSON. Unknown keys are errors, Effect must be `Allow` or `Deny`,
    /// exactly one of Action/NotAction must be present and at most one of Resource/NotResource
    /// and of Principal/NotPrincipal; Version must be one IAM knows (an unknown Version is
    /// rejected here rather than linted, because IAM rejects it too).
    pub fn from_value(value: &Value) -> Result<PolicyDocument, PolicyError> {
        let root = Path::Root;
        let [version, id, statement] = fields(value, &root, ["Version", "Id", "Statement"])?;
        let version = match version {
            None => None,
            Some(Value::String(text)) if text == "2012-10-17" => Some(Version::V2012_10_17),
            Some(Value::String(text)) if text == "2008-10-17" => Some(Version::V2008_10_17),
            Some(other) => {
                return Err(error(
                    &Path::Key(&root, "Version"),
                    format!("must be \"2012-10-17\" or \"2008-10-17\", found {other}"),
                ))
            }
        };
        let id = id
            .map(|id| as_string(id, &Path::Key(&root, "Id")))
            .transpose()?;
        let path = Path::Key(&root, "Statement");
        let statements = match statement {
            None => return Err(error(&root, "missing Statement")),
            Some(Value::Array(items)) if items.is_empty() => {
                return Err(error(&path, "must not be empty"))
            }
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| parse_statement(item, &Path::Index(&path, index)))
                .collect::<Result<Vec<_>, _>>()?,
            Some(single) => vec![parse_statement(single, &path)?],
        };
        Ok(PolicyDocument {
            version,
            id,
            statements,
        })
    }
}

impl PolicyDocument {
    /// The document with `f` applied to the values a statement's shape does not depend on:
    /// the patterns of Resource and NotResource, the ids of principals and the values of
    /// conditions. `None` when `f` leaves a pattern or an id empty, which the grammar forbids.
    /// Equal to parsing the JSON with `f` applied to the same strings, which
    /// [`strings_outside_values`] lets a caller make sure of.
    pub(crate) fn map_values(&self, f: impl Fn(&str) -> String) -> Option<PolicyDocument> {
        let list = |items: &[String]| -> Option<Vec<String>> {
            items
                .iter()
                .map(|i| Some(f(i)).filter(|s| !s.is_empty()))
                .collect()
        };
        let clause = |c: &Clause<Vec<String>>| -> Option<Clause<Vec<String>>> {
            Some(match c {
                Clause::Is(items) => Clause::Is(list(items)?),
                Clause::Not(items) => Clause::Not(list(items)?),
            })
        };
        let principals = |p: &Principals| -> Option<Principals> {
            Some(match p {
                Principals::Everyone => Principals::Everyone,
                Principals::Listed(listed) => Principals::Listed(
                    listed
                        .iter()
                        .map(|p| {
                            Some(Principal {
                                kind: p.kind,
                                id: Some(f(&p.id)).filter(|s| !s.is_empty())?,
                            })
                        })
                        .collect::<Option<_>>()?,
                ),
            })
        };
        let statements = self
            .statements
            .iter()
            .map(|s| {
                Some(Statement {
                    sid: s.sid.clone(),
                    effect: s.effect,
                    principal: match &s.principal {
                        None => None,
                        Some(Clause::Is(p)) => Some(Clause::Is(principals(p)?)),
                        Some(Clause::Not(p)) => Some(Clause::Not(principals(p)?)),
                    },
                    action: s.action.clone(),
                    resource: match &s.resource {
                        None => None,
                        Some(c) => Some(clause(c)?),
                    },
                    condition: s
                        .condition
                        .iter()
                        .map(|c| Condition {
                            operator: c.operator.clone(),
                            key: c.key.clone(),
                            values: c.values.iter().map(|v| f(v)).collect(),
                        })
                        .collect(),
                })
            })
            .collect::<Option<_>>()?;
        Some(PolicyDocument {
            version: self.version,
            id: self.id.clone(),
            statements,
        })
    }
}

/// The strings of a policy's JSON (object keys included) that are not values
/// [`PolicyDocument::map_values`] replaces: everything but Resource and NotResource patterns,
/// principal ids and condition values.
pub(crate) fn strings_outside_values(json: &Value) -> Vec<&str> {
    fn all<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::String(s) => out.push(s),
            Value::Array(items) => items.iter().for_each(|i| all(i, out)),
            Value::Object(map) => map.iter().for_each(|(k, v)| {
                out.push(k);
                all(v, out);
            }),
            _ => {}
        }
    }
    fn statement<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        let Value::Object(map) = value else {
            return all(value, out);
        };
        for (key, value) in map {
            out.push(key);
            match (key.as_str(), value) {
                ("Resource" | "NotResource", Value::String(_) | Value::Array(_)) => {}
                ("Principal" | "NotPrincipal", Value::Object(kinds)) => {
                    out.extend(kinds.keys().map(String::as_str))
                }
                ("Condition", Value::Object(operators)) => {
                    for (operator, block) in operators {
                        out.push(operator);
                        match block {
                            Value::Object(keys) => out.extend(keys.keys().map(String::as_str)),
                            other => all(other, out),
                        }
                    }
                }
                _ => all(value, out),
            }
        }
    }
    let mut out = Vec::new();
    let Value::Object(map) = json else {
        all(json, &mut out);
        return out;
    };
    for (key, value) in map {
        out.push(key);
        match (key.as_str(), value) {
            ("Statement", Value::Array(items)) => items.iter().for_each(|s| statement(s, &mut out)),
            ("Statement", single) => statement(single, &mut out),
            _ => all(value, &mut out),
        }
    }
    out
}

fn parse_statement(value: &Value, path: &Path<'_>) -> Result<Statement, PolicyError> {
    let [sid, effect, principal, not_principal, action, not_action, resource, not_resource, condition] =
        fields(
            value,
            path,
            [
                "Sid",
                "Effect",
                "Principal",
                "NotPrincipal",
                "Action",
                "NotAction",
                "Resource",
                "NotResource",
                "Condition",
            ],
        )?;
    let sid = match sid {
        None => None,
        Some(sid) => Some(as_string(sid, &Path::Key(path, "Sid"))?).filter(|sid| !sid.is_empty()),
    };
    let effect = match effect {
        None => return Err(error(path, "missing Effect")),
        Some(Value::String(text)) if text == "Allow" => Effect::Allow,
        Some(Value::String(text)) if text == "Deny" => Effect::Deny,
        Some(other) => {
            return Err(error(
                &Path::Key(path, "Effect"),
                format!("must be \"Allow\" or \"Deny\", found {other}"),
            ))
        }
    };
    let principal = parse_clause(
        path,
        ("Principal", principal),
        ("NotPrincipal", not_principal),
        parse_principals,
    )?;
    let action = parse_clause(
        path,
        ("Action", action),
        ("NotAction", not_action),
        parse_actions,
    )?
    .ok_or_else(|| error(path, "missing Action or NotAction"))?;
    let resource = parse_clause(
        path,
        ("Resource", resource),
        ("NotResource", not_resource),
        string_list,
    )?;
    let condition = match condition {
        None => Vec::new(),
        Some(condition) => parse_condition(condition, &Path::Key(path, "Condition"))?,
    };
    Ok(Statement {
        sid,
        effect,
        principal,
        action,
        resource,
        condition,
    })
}

/// Parses a clause (`Action`) or its negation (`NotAction`), whichever the statement has, each
/// given with its name; both at once is an error.
fn parse_clause<T>(
    path: &Path<'_>,
    (name, value): (&str, Option<&Value>),
    (negated_name, negated): (&str, Option<&Value>),
    parse: fn(&Value, &Path<'_>) -> Result<T, PolicyError>,
) -> Result<Option<Clause<T>>, PolicyError> {
    match (value, negated) {
        (Some(_), Some(_)) => Err(error(
            path,
            format!("{name} and {negated_name} are exclusive"),
        )),
        (Some(value), None) => Ok(Some(Clause::Is(parse(value, &Path::Key(path, name))?))),
        (None, Some(value)) => Ok(Some(Clause::Not(parse(
            value,
            &Path::Key(path, negated_name),
        )?))),
        (None, None) => Ok(None),
    }
}

fn parse_actions(value: &Value, path: &Path<'_>) -> Result<Vec<String>, PolicyError> {
    let actions = string_list(value, path)?;
    for (index, action) in actions.iter().enumerate() {
        let well_formed = action == "*"
            || action.split_once(':').is_some_and(|(service, name)| {
                !service.is_empty() && !name.is_empty() && !name.contains(':')
            });
        if !well_formed {
            return Err(error(
                &element_path(value, path, index),
                format!("action {action:?} must be \"*\" or \"service:Action\""),
            ));
        }
    }
    Ok(actions)
}

fn parse_principals(value: &Value, path: &Path<'_>) -> Result<Principals, PolicyError> {
    let object = match value {
        Value::String(text) if text == "*" => return Ok(Principals::Everyone),
        Value::Object(object) if !object.is_empty() => object,
        _ => {
            return Err(error(
                path,
                "must be \"*\" or an object such as {\"AWS\": [...]}",
            ))
        }
    };
    let mut listed = Vec::new();
    for (key, ids) in object {
        let key_path = Path::Key(path, key);
        let kind = PrincipalKind::from_json_key(key).ok_or_else(|| {
            error(
                &key_path,
                "unknown principal type; expected AWS, Service, Federated or CanonicalUser",
            )
        })?;
        for id in string_list(ids, &key_path)? {
            listed.push(Principal { kind, id });
        }
    }
    Ok(Principals::Listed(listed))
}

fn parse_condition(value: &Value, path: &Path<'_>) -> Result<Vec<Condition>, PolicyError> {
    let mut conditions: Vec<Condition> = Vec::new();
    for (operator, block) in as_object(value, path)? {
        let block_path = Path::Key(path, operator);
        if !is_known_operator(operator) {
            return Err(error(&block_path, "unknown condition operator"));
        }
        let block = as_object(block, &block_path)?;
        if block.is_empty() {
            return Err(error(&block_path, "must not be empty"));
        }
        for (key, values) in block {
            let key_path = Path::Key(&block_path, key);
            // Context keys are case-insensitive, so two spellings of one key would be two
            // tests of the same value; IAM's canonical form cannot hold both.
            if conditions
                .iter()
                .any(|c| c.operator == *operator && c.key.eq_ignore_ascii_case(key))
            {
                return Err(error(
                    &key_path,
                    "duplicate condition key (keys ignore case)",
                ));
            }
            conditions.push(Condition {
                operator: operator.clone(),
                key: key.clone(),
                values: condition_values(values, &key_path)?,
            });
        }
    }
    Ok(conditions)
}

fn condition_values(value: &Value, path: &Path<'_>) -> Result<Vec<String>, PolicyError> {
    let scalar = |item: &Value, path: &Path<'_>| match item {
        Value::String(text) => Ok(text.clone()),
        Value::Bool(flag) => Ok(flag.to_string()),
        Value::Number(number) => Ok(number.to_string()),
        _ => Err(error(
            path,
            "condition values must be strings, numbers or booleans",
        )),
    };
    match value {
        Value::Array(items) if items.is_empty() => Err(error(path, "must not be empty")),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| scalar(item, &Path::Index(path, index)))
            .collect(),
        single => Ok(vec![scalar(single, path)?]),
    }
}

/// A string or a non-empty list of non-empty strings.
fn string_list(value: &Value, path: &Path<'_>) -> Result<Vec<String>, PolicyError> {
    let items = match value {
        Value::Array(items) if items.is_empty() => return Err(error(path, "must not be empty")),
        Value::Array(items) => items.as_slice(),
        single => std::slice::from_ref(single),
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| match item {
            Value::String(text) if !text.is_empty() => Ok(text.clone()),
            Value::String(_) => Err(error(
                &element_path(value, path, index),
                "must not be empty",
            )),
            _ => Err(error(
                &element_path(value, path, index),
                "must be a string or a list of strings",
            )),
        })
        .collect()
}

/// The path of an item of `container`: `path[index]` in a list, `path` for a single value.
fn element_path<'a>(container: &Value, path: &'a Path<'a>, index: usize) -> Path<'a> {
    if container.is_array() {
        Path::Index(path, index)
    } else {
        *path
    }
}

fn as_object<'a>(value: &'a Value, path: &Path<'_>) -> Result<&'a Map<String, Value>, PolicyError> {
    value
        .as_object()
        .ok_or_else(|| error(path, "must be a JSON object"))
}

fn as_string(value: &Value, path: &Path<'_>) -> Result<String, PolicyError> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| error(path, "must be a string"))
}

/// The values of an object's keys, each at its key's place in `known`, read in one pass; a key
/// not in `known` is an error (the first, in the object's order). A statement's nine keys were
/// nine lookups, each hashing its key.
fn fields<'v, const N: usize>(
    value: &'v Value,
    path: &Path<'_>,
    known: [&str; N],
) -> Result<[Option<&'v Value>; N], PolicyError> {
    let mut found = [None; N];
    for (key, value) in as_object(value, path)? {
        match known.iter().position(|k| k == key) {
            Some(index) => found[index] = Some(value),
            None => {
                return Err(error(
                    &Path::Key(path, key),
                    format!("unknown key `{key}`; expected one of {}", known.join(", ")),
                ))
            }
        }
    }
    Ok(found)
}

/// Where a value is in a policy document, as an error names it (`Statement[0].Principal.AWS`),
/// written out only for an error: a document that parses builds no string for it.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(Path::Root, key) => f.write_str(key),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

fn error(path: &Path<'_>, message: impl Into<String>) -> PolicyError {
    PolicyError {
        message: message.into(),
        offset: None,
        path: path.to_string(),
    }
}

/// serde_json reports 1-based lines and the count of bytes read on that line; the byte just
/// read is the one the error is about.
fn byte_offset(text: &str, line: usize, column: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line - 1)
        .map(str::len)
        .sum();
    let mut offset = (line_start + column.saturating_sub(1)).min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    Some(offset)
}

/// A JSON value that fails to deserialize when an object repeats a key, which plain
/// `serde_json::Value` silently resolves by keeping the last one.
struct StrictJson(Value);

impl<'de> Deserialize<'de> for StrictJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(StrictJsonVisitor)
            .map(StrictJson)
    }
}

struct StrictJsonVisitor;

impl<'de> Visitor<'de> for StrictJsonVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, flag: bool) -> Result<Value, E> {
        Ok(Value::Bool(flag))
    }

    fn visit_i64<E>(self, number: i64) -> Result<Value, E> {
        Ok(Value::from(number))
    }

    fn visit_u64<E>(self, number: u64) -> Result<Value, E> {
        Ok(Value::from(number))
    }

    fn visit_f64<E>(self, number: f64) -> Result<Value, E> {
        // JSON text cannot spell a non-finite number, so `from` never yields Null here.
        Ok(Value::from(number))
    }

    fn visit_str<E>(self, text: &str) -> Result<Value, E> {
        Ok(Value::String(text.to_string()))
    }

    fn visit_string<E>(self, text: String) -> Result<Value, E> {
        Ok(Value::String(text))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictJson(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            let StrictJson(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_filled_in_the_parsed_document_equal_parsing_the_filled_in_json() {
        let template = r#"{"Version": "2012-10-17", "Statement": [
            {"Sid": "Read", "Effect": "Allow", "Action": ["sqs:ReceiveMessage"], "Resource": ["${queue}", "arn:aws:sqs:*:*:fixed"]},
            {"Effect": "Allow", "Principal": {"AWS": ["${role}"], "Service": "lambda.amazonaws.com"}, "Action": "kms:Decrypt",
             "NotResource": "${queue}",
             "Condition": {"ArnLike": {"aws:SourceArn": "${bucket}"}, "StringEquals": {"aws:SourceAccount": ["${account}", "1"]}}}]}"#;
        let json: Value = serde_json::from_str(template).unwrap();
        assert!(strings_outside_values(&json)
            .iter()
            .all(|s| !s.contains("${")));
        let values = [
            ("${queue}", "arn:aws:sqs:us-east-1:123456789012:q"),
            ("${role}", "arn:aws:iam::123456789012:role/r"),
            ("${bucket}", "arn:aws:s3:::b"),
            ("${account}", "123456789012"),
        ];
        let f = |s: &str| {
            values
                .iter()
                .find(|(k, _)| *k == s)
                .map_or_else(|| s.to_string(), |(_, v)| v.to_string())
        };
        let mut filled = template.to_string();
        for (k, v) in values {
            filled = filled.replace(&format!("\"{k}\""), &format!("\"{v}\""));
        }
        let parsed = PolicyDocument::from_value(&json).unwrap();
        assert_eq!(
            parsed.map_values(f),
            Some(PolicyDocument::parse(&filled).unwrap())
        );
        // An empty resource is refused by the grammar: the caller takes the JSON path, which says so.
        assert_eq!(
            parsed.map_values(|s| if s == "${queue}" {
                String::new()
            } else {
                s.to_string()
            }),
            None
        );
        // References anywhere else are outside the values.
        let elsewhere: Value = serde_json::from_str(
            r#"{"Statement": {"Sid": "${sid}", "Effect": "Allow", "Action": "sqs:${action}", "Resource": "*",
                "Principal": "${everyone}", "Condition": {"StringEquals": {"${key}": "v"}}}}"#,
        )
        .unwrap();
        let outside = strings_outside_values(&elsewhere);
        for s in ["${sid}", "sqs:${action}", "${key}", "${everyone}"] {
            assert!(outside.contains(&s), "{s} in {outside:?}");
        }
    }

    /// Asserts that `json` is rejected at `path` with a message containing `message`.
    fn check_rejected(json: &str, path: &str, message: &str) {
        let error = PolicyDocument::parse(json).expect_err(json);
        assert_eq!(error.path, path, "{json}: {error}");
        assert!(error.message.contains(message), "{json}: {error}");
    }

    #[test]
    #[rustfmt::skip]
    fn grammar_violations_are_rejected_with_their_path() {
        let cases = [
            (r#"[]"#, "", "must be a JSON object"),
            (r#"{"Version": "2012-10-17"}"#, "", "missing Statement"),
            (r#"{"Statement": []}"#, "Statement", "must not be empty"),
            (r#"{"Statement": {"Effect": "Allow", "Action": "*"}, "Extra": 1}"#, "Extra", "unknown key"),
            (r#"{"Version": "2012-10-18", "Statement": {"Effect": "Allow", "Action": "*"}}"#, "Version", "must be"),
            (r#"{"Version": 2012, "Statement": {"Effect": "Allow", "Action": "*"}}"#, "Version", "must be"),
            (r#"{"Id": 7, "Statement": {"Effect": "Allow", "Action": "*"}}"#, "Id", "must be a string"),
            (r#"{"Statement": [{"Action": "*"}]}"#, "Statement[0]", "missing Effect"),
            (r#"{"Statement": [{"Effect": "Permit", "Action": "*"}]}"#, "Statement[0].Effect", "must be"),
            (r#"{"Statement": [{"Effect": "Allow"}]}"#, "Statement[0]", "missing Action or NotAction"),
            (r#"{"Statement": [{"Effect": "Allow", "Action": "*", "NotAction": "s3:*"}]}"#, "Statement[0]", "exclusive"),
            (r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "NotResource": "x"}]}"#, "Statement[0]", "exclusive"),
            (r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Principal": "*", "NotPrincipal": "*"}]}"#, "Statement[0]", "exclusive"),
            (r#"{"Statement": [{"Effect": "Allow", "Action": []}]}"#, "Statement[0].Action", "must not be empty"),
            (r#"{"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", 3]}]}"#, "Statement[0].Action[1]", "must be a string"),
            (r#"{"Statement": [{"Effect": "Allow", "Action": "GetObject"}]}"#, "Statement[0].Action", "service:Action"),
            (r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": ""}]}"#, "Statement[0].Resource", "must not be empty"),
            (r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Principal": "me"}]}"#, "Statement[0].Principal", "must be"),
            (r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Principal": {}}]}"#, "Statement[0].Principal", "must be"),
            (r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Principal": {"Aws": "*"}}]}"#, "Statement[0].Principal.Aws", "unknown principal type"),
            (r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Condition": {"StringEqual": {"a:b": "c"}}}]}"#, "Statement[0].Condition.StringEqual", "unknown condition operator"),
            (r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Condition": {"NullIfExists": {"a:b": "true"}}}]}"#, "Statement[0].Condition.NullIfExists", "unknown condition operator"),
            (r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Condition": {"Bool": {}}}]}"#, "Statement[0].Condition.Bool", "must not be empty"),
            (r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Condition": {"Bool": {"aws:x": null}}}]}"#, "Statement[0].Condition.Bool.aws:x", "must be strings"),
            (r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Condition": {"Bool": {"aws:x": [true, {}]}}}]}"#, "Statement[0].Condition.Bool.aws:x[1]", "must be strings"),
            (r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Condition": {"StringEquals": {"aws:X": "a", "aws:x": "b"}}}]}"#, "Statement[0].Condition.StringEquals.aws:x", "duplicate condition key"),
            (r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Sid": ["a"]}]}"#, "Statement[0].Sid", "must be a string"),
            // A key IAM does not know is reported before anything else wrong with its statement.
            (r#"{"Statement": [{"Effect": "Allow", "Action": "*"}, {"Actions": "*"}]}"#, "Statement[1].Actions", "unknown key"),
            (r#"{"Statement": {"Effect": "Allowed", "Action": "*"}}"#, "Statement.Effect", "must be"),
            (r#"{"Statement": [{"Effect": "Deny", "Action": "*", "NotPrincipal": {"Aws": "*"}}]}"#, "Statement[0].NotPrincipal.Aws", "unknown principal type"),
            (r#"{"Statement": [{"Effect": "Deny", "NotAction": ["s3:*", "x"]}]}"#, "Statement[0].NotAction[1]", "service:Action"),
            (r#"{"Statement": [{"Effect": "Deny", "Action": "*", "NotResource": ["*", ""]}]}"#, "Statement[0].NotResource[1]", "must not be empty"),
        ];
        for (json, path, message) in cases {
            check_rejected(json, path, message);
        }
    }

    #[test]
    fn accepted_shapes() {
        let doc = PolicyDocument::parse(
            r#"{"Statement": {"Sid": "", "Effect": "Deny", "NotAction": "s3:*",
                "Principal": {"AWS": ["123456789012"], "Service": "s3.amazonaws.com"},
                "Condition": {"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": ["a*", 5, false]}}}}"#,
        )
        .unwrap();
        assert_eq!(doc.version(), None);
        let statement = &doc.statements()[0];
        assert_eq!(statement.sid, None);
        assert_eq!(statement.action, Clause::Not(vec!["s3:*".to_string()]));
        assert_eq!(statement.resource, None);
        assert_eq!(
            statement.principal,
            Some(Clause::Is(Principals::Listed(vec![
                Principal::aws("123456789012"),
                Principal::service("s3.amazonaws.com"),
            ])))
        );
        assert_eq!(statement.condition[0].values, ["a*", "5", "false"]);
        assert_eq!(statement.condition[0].base_operator(), "StringLike");
    }

    #[test]
    fn syntax_errors_carry_the_byte_offset() {
        let cases = [
            ("{\"Statement\": [\n  <ARN to role>\n]}", "<ARN"),
            // The offset of a duplicate key is the end of the key.
            ("{\"Statement\": {}, \"Statement\": {}}", "\": {}}"),
            ("", ""),
            ("{\"Version\": \"2012-10-17\",}", "}"),
        ];
        for (json, expected_at) in cases {
            let error = PolicyDocument::parse(json).unwrap_err();
            let offset = error.offset.expect("syntax errors have offsets");
            assert!(
                json[offset..].starts_with(expected_at),
                "{json:?} at {offset}: {error}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(PolicyDocument::parse(&json).is_err());
    }
}
