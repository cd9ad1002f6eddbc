//! The desired-state spec: loading, validation and the typed model the planner reads.
//!
//! Loading never talks to AWS. Every problem is collected as a [`Diagnostic`] with the file,
//! line and column it comes from, so one run reports all of them.

mod load;
pub mod rules;
pub mod template;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::diag::{Diagnostics, Location, SourceFile};
use crate::model::{Address, Kind};
pub use crate::kinds::ResourceBody;

pub(crate) use load::{lint_diagnostic, with_article, Loader};
pub use load::{load, sha256_hex, LoadOptions};
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
    /// Every file the spec is made of, with its SHA-256, spec first.
    pub inputs: Vec<InputFile>,
    /// Warnings found while loading (errors make loading fail).
    pub warnings: Diagnostics,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InputFile {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug)]
pub struct StackConfig {
    pub name: String,
    pub location: Location,
}

#[derive(Debug)]
pub struct Var {
    pub value: String,
    pub location: Option<Location>,
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
    pub json: serde_json::Value,
    /// Every string in the document that holds a reference, parsed.
    pub templated: Vec<(String, Vec<Piece>)>,
    pub location: Location,
}

impl PolicyTemplate {
    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.templated.iter().flat_map(|(_, p)| template::references(p).map(|(r, _)| r))
    }

    /// The document with the references `lookup` knows filled in and the others left as
    /// `${...}`; `None` for a stand-in of a policy that failed to load.
    pub fn with(&self, lookup: impl Fn(&Reference) -> Option<String>) -> Option<crate::policy::PolicyDocument> {
        let json = substitute_strings(&self.json, &mut |s| match self.templated.iter().find(|(raw, _)| raw == s) {
            Some((_, pieces)) => Some(template::render_lenient(pieces, &lookup)),
            None => Some(s.to_string()),
        })?;
        crate::policy::PolicyDocument::from_value(&json).ok()
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
        J::Array(items) => J::Array(items.iter().map(|i| substitute_strings(i, f)).collect::<Option<_>>()?),
        J::Object(m) => J::Object(
            m.iter().map(|(k, v)| Some((f(k)?, substitute_strings(v, f)?))).collect::<Option<_>>()?,
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
    pub body: ResourceBody,
}

/// `[[KIND.NAME.silence]]`: a policy lint accepted on purpose.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Silence {
    /// The lint's code, e.g. `P003`.
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
    pub fn silenced_for(&self, policy: &str) -> Vec<(Option<String>, String)> {
        self.silenced
            .iter()
            .filter(|s| s.policy.as_deref().is_none_or(|p| p == policy))
            .map(|s| (s.statement.clone(), s.lint.clone()))
            .collect()
    }
}

impl Resource {
    pub fn kind(&self) -> Kind {
        self.address.kind
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
