//! The vocabulary shared by spec, live, plan and apply: resource kinds, addresses and values.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::policy::PolicyDocument;

pub use arn::{oidc_provider_id, ArnFormat, ArnId, ArnScope};
pub use attributes::{Attribute, PolicyColumn, SizeLimit};

mod arn;
mod attributes;
pub mod shared;

/// Each kind's own data, a file per kind: its table of attributes (`ATTRIBUTES`) and its ARN
/// format (`ARN`). The modules are declared here, not by `kinds!` (which could), so that rustfmt,
/// which does not look into macros, formats them.
pub mod kinds {
    pub mod bucket;
    pub mod function;
    pub mod instance_profile;
    pub mod key;
    pub mod oidc_provider;
    pub mod policy;
    pub mod queue;
    pub mod role;
}

// Paths kept from before each kind's data had a file of its own.
pub use kinds::{bucket, key};

/// The tag that marks a resource as owned by a stack: `plinth:stack = NAME`.
pub const STACK_TAG: &str = "plinth:stack";

/// The tag that records which address of the stack a resource was created for, so a resource
/// that left the spec can be shown under its old address, and a renamed one is seen as replaced.
pub const ADDRESS_TAG: &str = "plinth:address";

/// Declares [`Kind`]: one line per kind, `Variant = ORDER => "name", module;`. The lines are
/// in the order of [`Kind::ALL`] (the order the schema, `plinth permissions` and the tests
/// walk); `ORDER` is the variant's discriminant, which orders addresses in a stack (a new kind
/// takes the next number). The name is how the spec writes it (`[role.NAME]`) and how it
/// serializes; `module` is its file in `kinds/`, which holds its table of attributes
/// (`ATTRIBUTES`) and its ARN format (`ARN`).
macro_rules! kinds {
    ($($variant:ident = $order:literal => $name:literal, $module:ident;)+) => {
        /// A kind of resource, as written in the spec (`[role.NAME]`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Kind {
            $(#[serde(rename = $name)] $variant = $order,)+
        }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$variant => $name,)+
                }
            }

            /// The kind's table of attributes.
            pub fn attributes(self) -> &'static [Attribute] {
                match self {
                    $(Kind::$variant => kinds::$module::ATTRIBUTES,)+
                }
            }

            /// The kind's ARN format.
            pub fn arn_format(self) -> ArnFormat {
                match self {
                    $(Kind::$variant => kinds::$module::ARN,)+
                }
            }
        }
    };
}

kinds! {
    Role = 0 => "role", role;
    Policy = 4 => "policy", policy;
    InstanceProfile = 5 => "instance_profile", instance_profile;
    OidcProvider = 6 => "oidc_provider", oidc_provider;
    Key = 7 => "key", key;
    Queue = 1 => "queue", queue;
    Function = 2 => "function", function;
    Bucket = 3 => "bucket", bucket;
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    /// Whether the spec names the resource. A KMS key has only the id AWS assigns: when its
    /// first alias finds nothing (it declares none, or an apply stopped before creating the
    /// alias), the key is the one tagged with its address.
    pub fn has_name(self) -> bool {
        self != Kind::Key
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resource's address in its stack: `role.lambda`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Address {
    pub kind: Kind,
    pub name: String,
}

impl Address {
    /// `kind.name`, as `to_string` writes it, in one allocation and without the formatting
    /// machinery: the access model writes every address of a plan, twice.
    pub fn text(&self) -> String {
        let kind = self.kind.as_str();
        let mut text = String::with_capacity(kind.len() + 1 + self.name.len());
        // Writing into a string cannot fail.
        let _ = self.write_into(&mut text);
        text
    }

    /// Writes `kind.name` onto `out`: the one place an address's text is made, for
    /// [`Address::text`], `Display` and the references of templates.
    pub fn write_into<W: fmt::Write>(&self, out: &mut W) -> fmt::Result {
        out.write_str(self.kind.as_str())?;
        out.write_char('.')?;
        out.write_str(&self.name)
    }

    pub fn new(kind: Kind, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_into(f)
    }
}

impl From<Address> for String {
    fn from(a: Address) -> String {
        a.to_string()
    }
}

impl TryFrom<String> for Address {
    type Error = String;
    fn try_from(mut s: String) -> Result<Self, String> {
        let (kind, _) = s
            .split_once('.')
            .ok_or_else(|| format!("`{s}` is not KIND.NAME"))?;
        let dot = kind.len();
        let kind = Kind::parse(kind).ok_or_else(|| format!("unknown resource kind `{kind}`"))?;
        // The name is the rest of the text, kept in its own allocation.
        s.replace_range(..=dot, "");
        Ok(Address { kind, name: s })
    }
}

/// The value of one attribute, desired or live.
///
/// Policies are held parsed, so that comparing two of them is semantic; values that only exist
/// once another resource has been created are [`Value::Unknown`] until apply fills them in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    Bool(bool),
    Int(i64),
    Str(String),
    /// An ordered list.
    List(Vec<Value>),
    /// An unordered collection, kept sorted and without duplicates.
    Set(Vec<String>),
    Map(BTreeMap<String, Value>),
    #[serde(with = "policy_as_json")]
    /// Shared: a policy parsed once (at load, or when read) is cloned into many places.
    Policy(std::sync::Arc<PolicyDocument>),
    /// Known after apply.
    Unknown(Pending),
    /// A secret: never shown, compared by its SHA-256.
    Sensitive(Sensitive),
}

/// A value that must never be printed (a secret environment variable). Plans, views and
/// serialized plans show `(sensitive)`; equality is by hash.
#[derive(Clone)]
pub struct Sensitive {
    /// The secret itself, present when it came from the spec; a live value, or one read back
    /// from a serialized plan, carries only its hash. (A boxed `str`, so that with `changed`
    /// a secret, the largest [`Value`], is no larger than before it had that field.)
    value: Option<Box<str>>,
    sha256: String,
    /// Read back from a saved plan, which holds neither the secret nor its hash: whether it
    /// differed from the live one when the plan was made (`None`: not known).
    changed: Option<bool>,
}

/// Equality is the secret's: whether a copy read back from a saved plan says it changed is
/// not part of it.
impl PartialEq for Sensitive {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value && self.sha256 == other.sha256
    }
}

impl Eq for Sensitive {}

/// The secrets this process has seen, so that text from outside plinth (an AWS error that
/// quotes the request, as Lambda's refusal of a large environment does) can be shown without
/// them. Only secrets of four characters or more are kept: a shorter one would hide common
/// words, and says little by itself.
static SEEN_SECRETS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn remember_secret(value: &str) {
    if value.len() < 4 {
        return;
    }
    let mut seen = SEEN_SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    let mut added = false;
    for form in quoted_forms(value) {
        if !seen.contains(&form) {
            seen.push(form);
            added = true;
        }
    }
    if added {
        // Longest first, so that a secret holding another is hidden whole.
        seen.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// A secret as AWS may quote it back in an error: as it is, inside a JSON string (escaped,
/// with characters beyond ASCII as `\u` escapes, as Lambda writes them, or as they are), and
/// inside XML text (the query protocols); and inside a JSON string quoted once more, as a
/// trace log shows a response's body.
fn quoted_forms(value: &str) -> Vec<String> {
    /// Inside a JSON string: `"` and `\\` escaped (as Rust's debug form escapes them too).
    fn quoted(text: &str) -> String {
        let json = serde_json::to_string(text).unwrap_or_default();
        json.strip_prefix('"')
            .and_then(|j| j.strip_suffix('"'))
            .unwrap_or(text)
            .to_string()
    }
    /// Characters beyond ASCII as `\\u` escapes (lower or upper case hex), or as the `\\x`
    /// escapes of their UTF-8 bytes (a byte string's debug form).
    fn beyond_ascii(text: &str, form: u8) -> String {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if c.is_ascii() {
                out.push(c);
            } else if form == 2 {
                let mut bytes = [0u8; 4];
                for b in c.encode_utf8(&mut bytes).bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    if form == 1 {
                        out.push_str(&format!("\\u{unit:04X}"));
                    } else {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
        }
        out
    }
    let xml = value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;");
    let mut forms = vec![value.to_string(), xml];
    // AWS's error quotes the request (once escaped), inside its JSON body (twice), which a
    // trace log shows in a debug form (three times).
    let mut level = value.to_string();
    for _ in 0..3 {
        level = quoted(&level);
        forms.push(level.clone());
        for form in 0..3 {
            forms.push(beyond_ascii(&level, form));
        }
    }
    forms.sort();
    forms.dedup();
    forms
}

/// `text` with every secret this process has seen replaced by `(sensitive)`.
pub fn without_secrets(text: &str) -> String {
    let seen = SEEN_SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for secret in seen.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "(sensitive)");
        }
    }
    out
}

impl Sensitive {
    /// A secret from the spec, kept so that apply can send it.
    pub fn new(value: impl Into<String>) -> Sensitive {
        let value = value.into();
        remember_secret(&value);
        Sensitive {
            sha256: sha256_hex(&value),
            value: Some(value.into_boxed_str()),
            changed: None,
        }
    }

    /// A live value that the spec marks secret: only its hash is kept.
    pub fn masked(value: &str) -> Sensitive {
        remember_secret(value);
        Sensitive {
            sha256: sha256_hex(value),
            value: None,
            changed: None,
        }
    }

    /// The secret, for the one place that sends it to AWS.
    pub fn reveal(&self) -> Option<&str> {
        self.value.as_deref()
    }

    /// `SALT:HASH` with HASH the SHA-256 of the salt and the secret, for a saved plan to hold
    /// without holding the secret; `None` for a secret not in hand.
    pub fn salted_hash(&self, salt: &str) -> Option<String> {
        self.value
            .as_ref()
            .map(|v| format!("{salt}:{}", sha256_hex(&format!("{salt}{v}"))))
    }

    /// Whether this secret is the one a saved `SALT:HASH` was made from.
    pub fn matches_salted_hash(&self, salted: &str) -> bool {
        salted
            .split_once(':')
            .is_some_and(|(salt, _)| self.salted_hash(salt).as_deref() == Some(salted))
    }
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sensitive(..)")
    }
}

/// Neither the secret nor its plain hash (a short secret's hash is easily reversed) is written
/// out; saved plans keep a salted hash of each secret beside the plan (`saved.rs`), and on the
/// new side of a change whether it differs from the live one ([`Value::mark_secrets_against`]).
impl Serialize for Sensitive {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self.changed {
            None => SENSITIVE,
            Some(true) => SENSITIVE_CHANGED,
            Some(false) => SENSITIVE_UNCHANGED,
        })
    }
}

const SENSITIVE: &str = "(sensitive)";
const SENSITIVE_CHANGED: &str = "(sensitive, changed)";
const SENSITIVE_UNCHANGED: &str = "(sensitive, unchanged)";

impl<'de> Deserialize<'de> for Sensitive {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Sensitive, D::Error> {
        let written = String::deserialize(d)?;
        Ok(Sensitive {
            value: None,
            sha256: String::new(),
            changed: match written.as_str() {
                SENSITIVE_CHANGED => Some(true),
                SENSITIVE_UNCHANGED => Some(false),
                _ => None,
            },
        })
    }
}

/// A value that depends on something created by the same apply: its template with every
/// reference known at plan time already filled in, e.g. `${key.sqs.arn}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub template: String,
    /// The template is a policy document (JSON whose strings hold the references).
    pub policy: bool,
}

impl Value {
    pub fn set<I, S>(items: I) -> Value
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut v: Vec<String> = items.into_iter().map(Into::into).collect();
        v.sort();
        v.dedup();
        Value::Set(v)
    }

    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    pub fn policy(doc: PolicyDocument) -> Value {
        Value::Policy(std::sync::Arc::new(doc))
    }

    /// Equality as AWS means it: policies compare semantically.
    pub fn equivalent(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Policy(a), Value::Policy(b)) => a.equivalent(b),
            (Value::Sensitive(a), Value::Sensitive(b)) => {
                !a.sha256.is_empty() && a.sha256 == b.sha256
            }
            // A live value hidden as a secret, though the spec now declares it plain.
            (Value::Str(plain), Value::Sensitive(hidden))
            | (Value::Sensitive(hidden), Value::Str(plain)) => {
                !hidden.sha256.is_empty() && hidden.sha256 == sha256_hex(plain)
            }
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, va), (kb, vb))| ka == kb && va.equivalent(vb))
            }
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.equivalent(y))
            }
            _ => self == other,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The shared document itself, to hand on without copying it.
    pub fn as_shared_policy(&self) -> Option<&std::sync::Arc<PolicyDocument>> {
        match self {
            Value::Policy(p) => Some(p),
            _ => None,
        }
    }

    pub fn as_policy(&self) -> Option<&PolicyDocument> {
        self.as_shared_policy().map(|p| &**p)
    }

    /// A policy that names something the same apply creates, as a document whose unknown
    /// values stay as their references (`"Resource": "${key.sqs.arn}"`), each first passed
    /// through `fill` (which may give a reference its stand-in); `None` for any other value.
    pub fn pending_policy(&self, fill: impl Fn(&str) -> String) -> Option<PolicyDocument> {
        let Value::Unknown(pending) = self else {
            return None;
        };
        if !pending.policy {
            return None;
        }
        let json: serde_json::Value = serde_json::from_str(&fill(&pending.template)).ok()?;
        PolicyDocument::from_value(&json).ok()
    }

    pub fn is_unknown(&self) -> bool {
        match self {
            Value::Unknown(_) => true,
            Value::List(items) => items.iter().any(Value::is_unknown),
            Value::Map(m) => m.values().any(Value::is_unknown),
            _ => false,
        }
    }

    /// A one-line rendering for plans: strings quoted, collections inline.
    pub fn display(&self) -> String {
        match self {
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Str(s) => format!("{s:?}"),
            Value::List(items) => {
                format!(
                    "[{}]",
                    items
                        .iter()
                        .map(Value::display)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
            Value::Set(items) => {
                format!(
                    "[{}]",
                    items
                        .iter()
                        .map(|s| format!("{s:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
            Value::Map(m) if m.is_empty() => "{}".to_string(),
            Value::Map(m) => format!(
                "{{ {} }}",
                m.iter()
                    .map(|(k, v)| format!("{k} = {}", v.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Value::Policy(p) => p.to_compact(),
            Value::Unknown(_) => "(known after apply)".to_string(),
            Value::Sensitive(_) => "(sensitive)".to_string(),
        }
    }

    /// [`Value::display`], with each secret that differs from `other`'s at the same place
    /// (or that `other` lacks) shown as changed: its value is never shown, but whether it
    /// changes is what a reviewer of the plan needs to know.
    pub fn display_against(&self, other: Option<&Value>) -> String {
        match (self, other) {
            (Value::Sensitive(_), _) if self.secret_changed(other) => {
                "(sensitive, changed)".to_string()
            }
            (Value::Map(m), Some(Value::Map(o))) if !m.is_empty() => format!(
                "{{ {} }}",
                m.iter()
                    .map(|(k, v)| format!("{k} = {}", v.display_against(o.get(k))))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => self.display(),
        }
    }

    /// [`Value::to_json`], with each secret that differs from `other`'s marked `"changed":
    /// true`, as [`Value::display_against`] shows it.
    pub fn to_json_against(&self, other: Option<&Value>) -> serde_json::Value {
        match (self, other) {
            (Value::Sensitive(_), _) if self.secret_changed(other) => {
                serde_json::json!({ "sensitive": true, "changed": true })
            }
            (Value::Map(m), Some(Value::Map(o))) => serde_json::Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.to_json_against(o.get(k))))
                    .collect(),
            ),
            _ => self.to_json(),
        }
    }

    /// A secret whose counterpart in `other` is missing or another value.
    /// The live side holds only a secret's hash (`Sensitive::masked`), the spec's side the
    /// secret: they are compared by hash, as the plan compares them. A secret read back from a
    /// saved plan says itself whether it changed.
    fn secret_changed(&self, other: Option<&Value>) -> bool {
        match self {
            Value::Sensitive(Sensitive {
                changed: Some(changed),
                ..
            }) => *changed,
            Value::Sensitive(_) => !other.is_some_and(|o| self.equivalent(o)),
            _ => false,
        }
    }

    /// Records in each secret of this (new) value whether it differs from `other`'s at the
    /// same place, as [`Value::display_against`] shows it: a saved plan, which holds neither
    /// side's secret, keeps that.
    pub fn mark_secrets_against(&mut self, other: Option<&Value>) {
        let changed = self.secret_changed(other);
        match (self, other) {
            (Value::Sensitive(secret), _) => secret.changed = Some(changed),
            (Value::Map(m), Some(Value::Map(o))) => {
                for (k, v) in m.iter_mut() {
                    v.mark_secrets_against(o.get(k));
                }
            }
            _ => {}
        }
    }

    /// The value as plain JSON, for machine-readable output.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Str(s) => J::String(s.clone()),
            Value::List(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::Set(items) => J::Array(items.iter().cloned().map(J::String).collect()),
            Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
            Value::Policy(p) => p.canonical(),
            Value::Unknown(p) => serde_json::json!({ "known_after_apply": p.template }),
            Value::Sensitive(_) => serde_json::json!({ "sensitive": true }),
        }
    }
}

/// The attributes of one resource, by name, in a stable order.
pub type Attributes = BTreeMap<String, Value>;

pub(crate) use policy_as_json::sharing_policies;

/// Policies are stored (in saved plans, snapshots) as written, so that nothing of how they were
/// spelled is lost, and parsed again when read.
mod policy_as_json {
    use std::cell::RefCell;
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::value::RawValue;

    use crate::hash::FastMap;
    use crate::policy::PolicyDocument;

    thread_local! {
        /// The documents read so far by [`sharing_policies`] on this thread, by their text.
        static SHARED: RefCell<Option<FastMap<Box<str>, Arc<PolicyDocument>>>> =
            const { RefCell::new(None) };
    }

    /// `read()`, with the policies it deserializes from JSON on this thread parsed once per
    /// distinct text and shared: an account's roles mostly trust one service the same way, and
    /// a snapshot of 10,000 resources holds 7,496 policies in 3,526 texts. Only for a JSON
    /// deserializer (the text is taken as written); the documents read stay shared after it.
    pub(crate) fn sharing_policies<R>(read: impl FnOnce() -> R) -> R {
        struct Restore(Option<FastMap<Box<str>, Arc<PolicyDocument>>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                SHARED.with(|shared| *shared.borrow_mut() = previous);
            }
        }
        let previous = SHARED.with(|shared| shared.replace(Some(FastMap::default())));
        let _restore = Restore(previous);
        read()
    }

    pub fn serialize<S: Serializer>(doc: &PolicyDocument, s: S) -> Result<S::Ok, S::Error> {
        let json: serde_json::Value =
            serde_json::from_str(&doc.to_aws_json()).map_err(serde::ser::Error::custom)?;
        json.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<PolicyDocument>, D::Error> {
        let parse = |json: &serde_json::Value| {
            PolicyDocument::from_value(json)
                .map(Arc::new)
                .map_err(|e| serde::de::Error::custom(e.message))
        };
        if SHARED.with(|shared| shared.borrow().is_none()) {
            return parse(&serde_json::Value::deserialize(d)?);
        }
        let raw = Box::<RawValue>::deserialize(d)?;
        let seen = SHARED.with(|shared| {
            (shared.borrow().as_ref()).and_then(|docs| docs.get(raw.get()).cloned())
        });
        if let Some(doc) = seen {
            return Ok(doc);
        }
        let json: serde_json::Value =
            serde_json::from_str(raw.get()).map_err(serde::de::Error::custom)?;
        let doc = parse(&json)?;
        SHARED.with(|shared| {
            if let Some(docs) = shared.borrow_mut().as_mut() {
                docs.insert(Box::<str>::from(raw), Arc::clone(&doc));
            }
        });
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn each_kind_is_declared_once_with_one_name_everywhere() {
        let mut names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(*kind));
            let json = serde_json::to_string(kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""), "serde writes the spec's name");
            assert_eq!(serde_json::from_str::<Kind>(&json).unwrap(), *kind);
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Kind::ALL.len());
        let mut orders: Vec<u8> = Kind::ALL.iter().map(|k| *k as u8).collect();
        orders.sort_unstable();
        assert_eq!(orders, (0..Kind::ALL.len() as u8).collect::<Vec<_>>());
    }

    /// Addresses sort by kind in this order (the plan lists resources so), which is not the
    /// order of `Kind::ALL`.
    #[test]
    fn kinds_sort_in_their_declared_order() {
        let mut kinds = Kind::ALL.to_vec();
        kinds.sort();
        let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "role",
                "queue",
                "function",
                "bucket",
                "policy",
                "instance_profile",
                "oidc_provider",
                "key"
            ]
        );
    }
}

#[cfg(test)]
mod secret_change_tests {
    use super::{Sensitive, Value};

    /// An empty map (a function's environment emptied) reads `{}`, as TOML writes it.
    #[test]
    fn an_empty_map_is_shown_as_toml_writes_it() {
        let empty = Value::Map(Default::default());
        assert_eq!(empty.display(), "{}");
        assert_eq!(empty.display_against(Some(&empty)), "{}");
        let one = Value::Map([("MODE".to_string(), Value::str("a"))].into());
        assert_eq!(one.display(), "{ MODE = \"a\" }");
    }

    /// A plan holds a value per attribute of every resource: one more word in the largest
    /// variant is megabytes at 10,000 resources (docs/benchmarks.md).
    #[test]
    fn a_value_is_six_words() {
        assert_eq!(std::mem::size_of::<Value>(), 48);
    }

    /// A plan never shows a secret, but shows that it changes: in text and in JSON, the new
    /// side marks each secret that differs from the old.
    #[test]
    fn a_changed_secret_is_marked_and_an_unchanged_one_is_not() {
        let environment = |token: &str, mode: &str| {
            Value::Map(
                [
                    (
                        "API_TOKEN".to_string(),
                        Value::Sensitive(Sensitive::new(token)),
                    ),
                    (
                        "DB_PASSWORD".to_string(),
                        Value::Sensitive(Sensitive::new("same")),
                    ),
                    ("MODE".to_string(), Value::str(mode)),
                ]
                .into(),
            )
        };
        let (before, after) = (environment("old-token", "a"), environment("new-token", "a"));
        let shown = after.display_against(Some(&before));
        assert_eq!(
            shown,
            "{ API_TOKEN = (sensitive, changed), DB_PASSWORD = (sensitive), MODE = \"a\" }"
        );
        assert!(!shown.contains("token"));
        let json = after.to_json_against(Some(&before));
        assert_eq!(
            json["API_TOKEN"],
            serde_json::json!({"sensitive": true, "changed": true})
        );
        assert_eq!(json["DB_PASSWORD"], serde_json::json!({"sensitive": true}));
        assert_eq!(before.display_against(Some(&before)), before.display());
        assert_eq!(
            super::without_secrets("refused: {\"API_TOKEN\":\"old-token\",\"MODE\":\"a\"}"),
            "refused: {\"API_TOKEN\":\"(sensitive)\",\"MODE\":\"a\"}"
        );
        // As AWS quotes them: escaped inside a JSON string, characters beyond ASCII as `\u`
        // escapes, or inside XML text.
        for (secret, quoted) in [
            ("Sekr\"Quote9", r#"{"TOK":"Sekr\"Quote9"}"#),
            ("Sekr\\Back9", r#"{"TOK":"Sekr\\Back9"}"#),
            ("Sekr€uro9", r#"{"TOK":"Sekr\u20acuro9"}"#),
            ("Sekr€uro9", r#"{"TOK":"Sekr\u20ACuro9"}"#),
            ("Sekr<&'Xml9", "<Value>Sekr&lt;&amp;&apos;Xml9</Value>"),
            ("Sekr\"Trace9", r#"body: b"{\"TOK\":\"Sekr\\\"Trace9\"}""#),
            (
                "Sekr\"TraceQ",
                r#"b"{\"message\": \"{\\\"TOK\\\":\\\"Sekr\\\\\\\"TraceQ\\\"}\"}""#,
            ),
            ("Sekr€Trace", r#"b"{\"TOK\":\"Sekr\xe2\x82\xacTrace\"}""#),
        ] {
            let _ = Sensitive::new(secret);
            let shown = super::without_secrets(quoted);
            assert!(shown.contains("(sensitive)"), "{secret}: {shown}");
        }

        // As read from AWS, a secret is only its hash: an unchanged one is still unchanged
        // when something else in the map changes.
        let live = Value::Map(
            [
                (
                    "API_TOKEN".to_string(),
                    Value::Sensitive(Sensitive::masked("old-token")),
                ),
                (
                    "DB_PASSWORD".to_string(),
                    Value::Sensitive(Sensitive::masked("same")),
                ),
                ("MODE".to_string(), Value::str("a")),
            ]
            .into(),
        );
        assert_eq!(
            environment("old-token", "b").display_against(Some(&live)),
            "{ API_TOKEN = (sensitive), DB_PASSWORD = (sensitive), MODE = \"b\" }"
        );
        assert_eq!(
            environment("new-token", "a").display_against(Some(&live)),
            "{ API_TOKEN = (sensitive, changed), DB_PASSWORD = (sensitive), MODE = \"a\" }"
        );

        // A saved plan holds neither side's secret, nor its hash: the new side records which
        // secret changed, and reads back shown as the plan showed it.
        let mut marked = environment("new-token", "b");
        marked.mark_secrets_against(Some(&live));
        let written = serde_json::to_string(&marked).unwrap();
        assert!(
            !written.contains("token") && !written.contains("same"),
            "{written}"
        );
        let read: Value = serde_json::from_str(&written).unwrap();
        let live_read: Value =
            serde_json::from_str(&serde_json::to_string(&live).unwrap()).unwrap();
        assert_eq!(
            read.display_against(Some(&live_read)),
            "{ API_TOKEN = (sensitive, changed), DB_PASSWORD = (sensitive), MODE = \"b\" }"
        );
        assert_eq!(
            read.to_json_against(Some(&live_read))["DB_PASSWORD"],
            serde_json::json!({"sensitive": true})
        );
    }
}

#[cfg(test)]
mod address_tests {
    use super::{Address, Kind};

    /// `text` writes what `to_string` (and serde) write, in one allocation.
    #[test]
    fn an_address_is_written_kind_dot_name() {
        for address in [
            Address::new(Kind::Role, "lambda"),
            Address::new(Kind::OidcProvider, "github-actions_2"),
        ] {
            assert_eq!(address.text(), address.to_string());
        }
        assert_eq!(Address::new(Kind::Queue, "work").text(), "queue.work");
    }
}

#[cfg(test)]
mod sharing_tests {
    use super::{sharing_policies, Value};

    fn policies(values: &[Value]) -> Vec<&std::sync::Arc<crate::policy::PolicyDocument>> {
        values
            .iter()
            .map(|v| match v {
                Value::Policy(p) => p,
                other => panic!("not a policy: {other:?}"),
            })
            .collect()
    }

    /// Read together, policies written alike are one document; each other text is its own,
    /// and a policy IAM would refuse is refused as when nothing is shared.
    #[test]
    fn policies_written_alike_are_parsed_once_while_sharing() {
        let trust = r#"{"policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}"#;
        let other = trust.replace("lambda", "ec2");
        let json = format!("[{trust}, {other}, {trust}]");
        let read: Vec<Value> = sharing_policies(|| serde_json::from_str(&json)).unwrap();
        let [a, b, c] = policies(&read)[..] else {
            panic!("three policies")
        };
        assert!(std::sync::Arc::ptr_eq(a, c));
        assert!(!std::sync::Arc::ptr_eq(a, b));
        assert_ne!(read[0], read[1], "the second trusts another service");
        let unshared: Vec<Value> = serde_json::from_str(&json).unwrap();
        let unshared = policies(&unshared);
        assert!(!std::sync::Arc::ptr_eq(unshared[0], unshared[2]));
        assert_eq!(read, serde_json::from_str::<Vec<Value>>(&json).unwrap());

        let refused = r#"[{"policy": {"Version": "2012-10-17", "Statement": []}}]"#;
        let shared = sharing_policies(|| serde_json::from_str::<Vec<Value>>(refused));
        let alone = serde_json::from_str::<Vec<Value>>(refused);
        assert_eq!(
            shared.unwrap_err().to_string(),
            alone.unwrap_err().to_string()
        );
    }
}
