//! Resource kinds: for each kind, everything plinth knows about it apart from AWS calls: its
//! spec fields, their rules, its desired attributes and what it exports to references.
//!
//! Adding a kind means a module here, an adapter in `aws/`, a variant of [`Kind`] and of
//! [`ResourceBody`], and one arm in each `match` below and in `aws::dispatch`.

pub mod role;

use toml::de::DeValue;
use toml::Spanned;

use crate::diag::Diagnostics;
use crate::live::LiveResource;
use crate::model::{Attributes, Kind};
use crate::plan::Resolver;
use crate::policy::DocumentKind;
use crate::spec::rules::Checker;
use crate::spec::{PolicyTemplate, Text};

/// Fields every kind takes besides its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lifecycle {
    /// Take over a resource of the same name that no stack owns (tagging it on apply).
    pub adopt: bool,
    /// Refuse any plan that would delete or replace the resource.
    pub prevent_destroy: bool,
}

/// One resource's kind-specific spec.
#[derive(Debug)]
pub enum ResourceBody {
    Role(role::RoleSpec),
}

/// Loads one `[KIND.NAME]` table.
pub(crate) fn load(kind: Kind, loader: &mut crate::spec::Loader, value: Spanned<DeValue<'_>>) -> Option<(ResourceBody, Lifecycle)> {
    match kind {
        Kind::Role => role::load(loader, value).map(|(b, l)| (ResourceBody::Role(b), l)),
    }
}

impl ResourceBody {
    /// Every templated string of the spec (for references and checks).
    pub fn texts(&self) -> Vec<&Text> {
        match self {
            ResourceBody::Role(r) => r.texts(),
        }
    }

    pub fn policies(&self) -> Vec<&PolicyTemplate> {
        match self {
            ResourceBody::Role(r) => r.policies(),
        }
    }

    /// Each policy document with the name plans use for it and what kind of document it is.
    pub fn policy_documents(&self) -> Vec<(String, &PolicyTemplate, DocumentKind)> {
        match self {
            ResourceBody::Role(r) => r.policy_documents(),
        }
    }

    /// The rules AWS would enforce, checked before anything is sent.
    pub fn check(&self, checker: &Checker<'_>, diags: &mut Diagnostics) {
        match self {
            ResourceBody::Role(r) => r.check(checker, diags),
        }
    }

    /// The name AWS knows the resource by; it must be known before apply.
    pub fn physical_name(&self) -> &Text {
        match self {
            ResourceBody::Role(r) => &r.name,
        }
    }

    /// The declared attributes, resolved. Attributes the spec leaves out are absent, so
    /// whatever AWS fills in for them is never a difference.
    pub fn desired(&self, resolver: &Resolver<'_>, diags: &mut Diagnostics) -> Attributes {
        match self {
            ResourceBody::Role(r) => r.desired(resolver, diags),
        }
    }

    /// An attribute other resources reference, if it is known before apply: deterministic
    /// ones from the spec, assigned ones from `live` (the resource as it exists now).
    pub fn export(&self, attribute: &str, resolver: &Resolver<'_>, live: Option<&LiveResource>) -> Option<String> {
        match self {
            ResourceBody::Role(r) => r.export(attribute, resolver, live),
        }
    }
}
