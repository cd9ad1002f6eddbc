//! The desired-state spec: loading, validation and the typed model the planner reads.
//!
//! Loading never talks to AWS. Every problem is collected as a [`Diagnostic`] with the file,
//! line and column it comes from, so one run reports all of them.

pub mod checks;
pub mod env;
pub mod kinds;
mod load;
mod located;
pub(crate) mod redact;
pub mod resolve;
pub mod rules;
pub mod schema;
pub mod switch;
pub mod template;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::diag::{Diagnostics, Location, SourceFile};
use crate::model::{Address, Kind};
use crate::policy::LintCode;
pub use crate::spec::kinds::ResourceBody;

#[cfg(test)]
pub(crate) use load::load_text;
pub(crate) use load::policy_size_findings;
pub(crate) use load::{lint_diagnostic, lint_message, with_article, BlockValue, Loader};
pub use load::{load, sha256_hex, LoadOptions};
pub use located::{toml_type_name, InlinePolicyField, Located, PolicyField, PolicyValue};
pub use redact::redact_secrets;
use template::{Piece, Reference};

/// A loaded, validated spec.
#[derive(Debug)]
pub struct Spec {
    pub file: Arc<SourceFile>,
    /// The directory relative paths in the spec are resolved against.
    pub dir: PathBuf,
    pub stack: StackConfig,
    pub vars: BTreeMap<String, Var>,
    /// Resources in address order.
    pub resources: BTreeMap<Address, Resource>,
    pub outputs: BTreeMap<String, Text>,
    /// Every `[env.NAME]` the spec declares (the one loaded for is `stack.env`).
    pub environments: BTreeMap<String, env::Environment>,
    /// Every file the spec is made of, with its SHA-256, spec first.
    pub inputs: Vec<InputFile>,
    /// Warnings found while loading (errors make loading fail).
    pub warnings: Diagnostics,
}

impl Spec {
    /// Whether the spec names the identity running plinth: a reference to
    /// `${aws.caller_arn}`, directly or through a variable.
    pub fn names_caller(&self) -> bool {
        use template::AwsFact;
        let caller = |r: &Reference| match r {
            Reference::Aws(AwsFact::CallerArn) => true,
            Reference::Var(name) => self
                .vars
                .get(name)
                .is_some_and(|v| AwsFact::of_var(&v.value) == Some(AwsFact::CallerArn)),
            _ => false,
        };
        self.resources
            .values()
            .any(|r| r.references().into_iter().any(|(x, _)| caller(x)))
            || self.outputs.values().any(|t| t.references().any(caller))
    }

    /// Whether a plan of this spec needs the ARN of the role plinth runs as: it names the
    /// caller, or has a key, whose lockout check looks for the caller in its policy.
    pub fn needs_caller_role(&self) -> bool {
        self.names_caller() || self.resources.keys().any(|a| a.kind == Kind::Key)
    }
}

#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct InputFile {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug)]
pub struct StackConfig {
    pub name: String,
    pub location: Location,
    /// Where applies of this stack take their lock, if anywhere.
    pub lock: Option<LockConfig>,
    /// The account the stack must be in: its environment's, or `[stack] account_id`.
    pub account: Option<env::ExpectedAccount>,
    /// The environment the spec was loaded for.
    pub env: Option<env::Environment>,
}

/// `[stack] lock = { bucket = "...", key = "..." }`: an S3 object that exists while an apply
/// runs, created with a conditional write so two applies can never both hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockConfig {
    pub bucket: String,
    pub key: String,
}

#[derive(Debug, Clone)]
pub struct Var {
    pub value: String,
    pub location: Option<Location>,
}

impl Var {
    /// The value, before AWS is read: `None` for a variable that stands for a fact about the
    /// account (`${aws.caller_arn}`), known only at plan.
    pub fn known(&self) -> Option<String> {
        match template::AwsFact::of_var(&self.value) {
            Some(_) => None,
            None => Some(self.value.clone()),
        }
    }
}

/// `value` with its variables filled in, when it refers to nothing but variables known before
/// AWS is read (a value with no reference is itself); `None` otherwise.
pub fn with_vars_only(value: &str, vars: &BTreeMap<String, Var>) -> Option<String> {
    let pieces = template::parse(value).ok()?;
    template::render(&pieces, |r| match r {
        template::Reference::Var(name) => vars.get(name).and_then(Var::known),
        _ => None,
    })
}

/// A string from the spec that may contain `${...}` references.
#[derive(Debug, Clone)]
pub struct Text {
    pub raw: String,
    /// Empty for a non-empty `raw` whose references could not be parsed (already reported).
    pub pieces: Vec<Piece>,
    pub location: Location,
}

impl Text {
    /// The references could not be parsed; the error is already reported.
    pub fn is_broken(&self) -> bool {
        self.pieces.is_empty() && !self.raw.is_empty()
    }

    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        template::references(&self.pieces).map(|(r, _)| r)
    }

    /// The literal value, when the text has no references.
    pub fn literal(&self) -> Option<&str> {
        match self.pieces.as_slice() {
            [] => Some(""),
            [Piece::Text(t)] => Some(t),
            _ => None,
        }
    }
}

/// A policy document as written: JSON whose strings may hold `${...}` references.
#[derive(Debug, Clone)]
pub struct PolicyTemplate {
    /// The document as written, kept only where `parsed` cannot stand for it: when it holds
    /// references (they are filled in by rewriting it) or has one outside a value. A
    /// document with neither is held once, as `parsed`: a spec of 8,500 roles with an inline
    /// trust policy and an inline policy each peaked 30 % higher with both copies
    /// (docs/benchmarks.md, section 3). `None` with `parsed` also `None`: a stand-in for a
    /// policy that failed to load.
    pub json: Option<serde_json::Value>,
    /// The document's size as IAM counts it (`rules::policy_size`), counted at load.
    pub size: usize,
    /// Every string in the document that holds a reference, parsed.
    pub templated: Vec<(String, Vec<Piece>)>,
    pub location: Location,
    /// The document as written, parsed once at load, when its references are only in values
    /// (resources, principal ids, condition values): filling them in is then
    /// `PolicyDocument::map_values`, with no JSON to rebuild and parse again.
    pub parsed: Option<std::sync::Arc<crate::policy::PolicyDocument>>,
    /// The first character of the document's strings (keys and values) outside Latin-1, which
    /// IAM and KMS refuse in a policy (`[\u0009\u000A\u000D\u0020-\u00FF]+`); S3 and SQS
    /// take it. Checked against the document's kind with the other per-resource rules.
    pub outside_latin1: Option<char>,
}

impl PolicyTemplate {
    /// The document, when it holds no reference: parsed once at load and the same document
    /// (one `Arc`) for every block that names it, never filled in anew.
    pub fn held_once(&self) -> Option<&std::sync::Arc<crate::policy::PolicyDocument>> {
        self.parsed.as_ref().filter(|_| self.templated.is_empty())
    }

    /// Whether a document was loaded (a stand-in for one that failed is not).
    pub fn present(&self) -> bool {
        self.parsed.is_some() || self.json.is_some()
    }

    /// Each statement's Sid as written, `None` for a statement without one (from the parsed
    /// form when the document was not kept as written: parsing keeps Sids verbatim); no
    /// statements for a stand-in.
    pub fn sids(&self) -> Vec<Option<serde_json::Value>> {
        match (&self.json, &self.parsed) {
            (Some(json), _) => match json.get("Statement") {
                Some(serde_json::Value::Array(items)) => {
                    items.iter().map(|s| s.get("Sid").cloned()).collect()
                }
                Some(single) => vec![single.get("Sid").cloned()],
                None => Vec::new(),
            },
            (None, Some(parsed)) => parsed
                .statements()
                .iter()
                .map(|s| s.sid.clone().map(serde_json::Value::String))
                .collect(),
            (None, None) => Vec::new(),
        }
    }

    /// Each statement's Sid that is a string, variables filled in (`"Send${var.env}"`): the
    /// Sids a shared document's statements are owned by. One holding any other reference is
    /// left out (the load refuses it in a shared document).
    pub fn sids_with_vars(&self, vars: &BTreeMap<String, Var>) -> Vec<String> {
        self.sids()
            .into_iter()
            .filter_map(|sid| with_vars_only(sid?.as_str()?, vars))
            .collect()
    }

    /// Identifies this template in its loaded spec (by address), to keep what was computed
    /// from it while the spec is alive.
    pub(crate) fn key(&self) -> usize {
        self as *const PolicyTemplate as usize
    }

    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.templated
            .iter()
            .flat_map(|(_, p)| template::references(p).map(|(r, _)| r))
    }

    /// References made inside Principal or NotPrincipal elements, whose targets AWS requires
    /// to exist.
    pub fn principal_references(&self) -> impl Iterator<Item = &Reference> {
        let mut principal_strings = Vec::new();
        // A document with no reference is not kept as written, and has none to find.
        if let Some(statements) = self.json.as_ref().and_then(|j| j.get("Statement")) {
            let statements: Vec<&serde_json::Value> = match statements {
                serde_json::Value::Array(items) => items.iter().collect(),
                single => vec![single],
            };
            for statement in statements {
                for key in ["Principal", "NotPrincipal"] {
                    if let Some(p) = statement.get(key) {
                        collect_strings(p, &mut principal_strings);
                    }
                }
            }
        }
        self.templated
            .iter()
            .filter(move |(raw, _)| principal_strings.contains(&raw.as_str()))
            .flat_map(|(_, p)| template::references(p).map(|(r, _)| r))
    }

    /// The document with the references `lookup` knows filled in and the others left as
    /// `${...}`; `None` for a stand-in of a policy that failed to load.
    pub fn with(
        &self,
        lookup: impl Fn(&Reference) -> Option<String>,
    ) -> Option<std::sync::Arc<crate::policy::PolicyDocument>> {
        if let Some(held) = self.held_once() {
            return Some(held.clone());
        }
        let fill = |s: &str| match self.templated.iter().find(|(raw, _)| raw == s) {
            Some((_, pieces)) => template::render_lenient(pieces, &lookup),
            None => s.to_string(),
        };
        // References only in values: filled into the document parsed at load, as the plan's
        // resolver does, with no JSON to rebuild and parse again.
        if let Some(doc) = self.parsed.as_ref().and_then(|p| p.map_values(fill)) {
            return Some(std::sync::Arc::new(doc));
        }
        let json = substitute_strings(self.json.as_ref()?, &mut |s| Some(fill(s)))?;
        crate::policy::PolicyDocument::from_value(&json)
            .ok()
            .map(std::sync::Arc::new)
    }
}

fn collect_strings<'a>(json: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match json {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        serde_json::Value::Object(m) => m.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// Rebuilds a JSON value with every string (keys included) passed through `f`.
pub(crate) fn substitute_strings(
    json: &serde_json::Value,
    f: &mut impl FnMut(&str) -> Option<String>,
) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    Some(match json {
        J::Null => return None,
        J::String(s) => J::String(f(s)?),
        J::Array(items) => J::Array(
            items
                .iter()
                .map(|i| substitute_strings(i, f))
                .collect::<Option<_>>()?,
        ),
        J::Object(m) => J::Object(
            m.iter()
                .map(|(k, v)| Some((f(k)?, substitute_strings(v, f)?)))
                .collect::<Option<_>>()?,
        ),
        other => other.clone(),
    })
}

#[derive(Debug)]
pub struct Resource {
    pub address: Address,
    /// The resource's table in the spec.
    pub location: Location,
    /// Take over a resource of the same name that no stack owns (tagging it on apply).
    pub adopt: bool,
    /// Refuse any plan that would delete or replace this resource.
    pub prevent_destroy: bool,
    /// Policy lints the spec accepts for this resource, each with a reason.
    pub silenced: Vec<Silence>,
    /// `when = "${var.NAME}"` (or a list, all of which must hold): the resource exists only
    /// while the switch is on (`switch`).
    pub when: Vec<Text>,
    /// `release = true`: plinth lets go of the resource without deleting it.
    pub release: bool,
    pub body: ResourceBody,
}

/// `[[KIND.NAME.silence]]`: a policy lint accepted on purpose.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Silence {
    /// The lint's code, e.g. `P003`.
    #[schemars(extend("enum" = crate::policy::LINT_RULES.iter().map(|r| r.code.as_str()).collect::<Vec<_>>()))]
    pub lint: String,
    /// Which policy of the resource (`trust`, `policies.NAME`, `policy`); all when absent.
    pub policy: Option<String>,
    /// The statement's Sid (or `Statement[i]`); the whole policy when absent.
    pub statement: Option<String>,
    /// Why the finding is acceptable; required, so the decision is recorded.
    pub reason: String,
}

impl Resource {
    /// The `(Sid, code)` pairs `policy::LintContext` takes, for one of this resource's policies.
    /// A silence naming no lint was refused by the loader.
    pub fn silenced_for(&self, policy: &str) -> Vec<(Option<String>, LintCode)> {
        self.silenced
            .iter()
            .filter(|s| s.policy.as_deref().is_none_or(|p| p == policy))
            .filter_map(|s| Some((s.statement.clone(), LintCode::parse(&s.lint)?)))
            .collect()
    }
}

impl Resource {
    pub fn kind(&self) -> Kind {
        self.address.kind
    }

    /// The resources this one must be created after, with where the reference is made.
    ///
    /// Not every reference orders: an ARN inside a policy's Resource or Condition is known
    /// before the resource it names exists and AWS does not check it, so a queue policy can
    /// name the bucket that notifies the queue. A reference orders when its value exists only
    /// after the other resource is created (a key's ARN), when AWS checks that the resource
    /// exists (a policy Principal, a function's role, a trigger's queue: every reference
    /// outside a policy document), or both.
    pub fn dependencies(&self) -> Vec<(&Address, &Location)> {
        let mut ordering: Vec<(&Reference, &Location)> = Vec::new();
        for t in self.body.texts() {
            ordering.extend(t.references().map(|r| (r, &t.location)));
        }
        for p in self.body.policies() {
            // Found once for the document, and only if a reference to a value known before
            // creation asks.
            let mut in_principals: Option<Vec<&Reference>> = None;
            for r in p.references() {
                let orders = match r {
                    Reference::Resource { address, attribute } => {
                        !address.kind.known_before_creation(attribute)
                            || in_principals
                                .get_or_insert_with(|| p.principal_references().collect())
                                .contains(&r)
                    }
                    _ => false,
                };
                if orders {
                    ordering.push((r, &p.location));
                }
            }
        }
        let mut out: Vec<(&Address, &Location)> = Vec::new();
        for (r, location) in ordering {
            if let Reference::Resource { address, .. } = r {
                if *address != self.address && !out.iter().any(|(a, _)| *a == address) {
                    out.push((address, location));
                }
            }
        }
        out
    }

    /// Every reference the resource makes, with where it is made.
    pub fn references(&self) -> Vec<(&Reference, &Location)> {
        let mut out = Vec::new();
        for t in self.body.texts() {
            out.extend(t.references().map(|x| (x, &t.location)));
        }
        for p in self.body.policies() {
            out.extend(p.references().map(|x| (x, &p.location)));
        }
        out
    }
}
