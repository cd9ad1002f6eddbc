//! Resource kinds: for each kind, everything plinth knows about it apart from AWS calls: its
//! spec fields, their rules, its desired attributes and what it exports to references.
//!
//! Adding a kind means a module here, an adapter in `aws/`, a variant of [`Kind`] and of
//! [`ResourceBody`], and one arm in each `match` below and in `aws::dispatch`.

pub mod instance_profile;
pub mod key;
pub mod oidc_provider;
pub mod policy;
pub mod role;

use toml::de::DeValue;
use toml::Spanned;

use crate::diag::Diagnostics;
use crate::live::LiveResource;
use crate::model::{Attributes, Kind};
use crate::plan::Resolver;
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
    Policy(policy::PolicySpec),
    InstanceProfile(instance_profile::InstanceProfileSpec),
    OidcProvider(oidc_provider::OidcProviderSpec),
    Key(key::KeySpec),
}

/// Loads one `[KIND.NAME]` table.
pub(crate) fn load(kind: Kind, loader: &mut crate::spec::Loader, value: Spanned<DeValue<'_>>) -> Option<(ResourceBody, Lifecycle)> {
    match kind {
        Kind::Role => role::load(loader, value).map(|(b, l)| (ResourceBody::Role(b), l)),
        Kind::Policy => policy::load(loader, value).map(|(b, l)| (ResourceBody::Policy(b), l)),
        Kind::InstanceProfile => instance_profile::load(loader, value).map(|(b, l)| (ResourceBody::InstanceProfile(b), l)),
        Kind::OidcProvider => oidc_provider::load(loader, value).map(|(b, l)| (ResourceBody::OidcProvider(b), l)),
        Kind::Key => key::load(loader, value).map(|(b, l)| (ResourceBody::Key(b), l)),
    }
}

impl ResourceBody {
    /// Every templated string of the spec (for references and checks).
    pub fn texts(&self) -> Vec<&Text> {
        match self {
            ResourceBody::Role(r) => r.texts(),
            ResourceBody::Policy(p) => p.texts(),
            ResourceBody::InstanceProfile(p) => p.texts(),
            ResourceBody::OidcProvider(p) => p.texts(),
            ResourceBody::Key(k) => k.texts(),
        }
    }

    pub fn policies(&self) -> Vec<&PolicyTemplate> {
        match self {
            ResourceBody::Role(r) => r.policies(),
            ResourceBody::Policy(p) => p.policies(),
            ResourceBody::InstanceProfile(p) => p.policies(),
            ResourceBody::OidcProvider(p) => p.policies(),
            ResourceBody::Key(k) => k.policies(),
        }
    }

    /// The rules AWS would enforce, checked before anything is sent.
    pub fn check(&self, checker: &Checker<'_>, diags: &mut Diagnostics) {
        match self {
            ResourceBody::Role(r) => r.check(checker, diags),
            ResourceBody::Policy(p) => p.check(checker, diags),
            ResourceBody::InstanceProfile(p) => p.check(checker, diags),
            ResourceBody::OidcProvider(p) => p.check(checker, diags),
            ResourceBody::Key(k) => k.check(checker, diags),
        }
    }

    /// The id the live read finds the resource by, before AWS has assigned anything: a role's
    /// name, a policy's ARN, a key's first alias. `Ok(None)` for a resource the spec gives no
    /// name (a key without aliases: it is found by its address tag); `Err` with the text that
    /// depends on a value known only after apply.
    pub fn physical_id(&self, resolver: &Resolver<'_>) -> Result<Option<String>, &Text> {
        match self {
            ResourceBody::Role(r) => resolver.text(&r.name).map(Some).ok_or(&r.name),
            ResourceBody::Policy(p) => p.physical_id(resolver).map(Some),
            ResourceBody::InstanceProfile(p) => resolver.text(&p.name).map(Some).ok_or(&p.name),
            ResourceBody::OidcProvider(p) => p.physical_id(resolver).map(Some),
            ResourceBody::Key(k) => k.physical_id(resolver),
        }
    }

    /// The declared attributes, resolved. Attributes the spec leaves out are absent, so
    /// whatever AWS fills in for them is never a difference.
    pub fn desired(&self, resolver: &Resolver<'_>, diags: &mut Diagnostics) -> Attributes {
        match self {
            ResourceBody::Role(r) => r.desired(resolver, diags),
            ResourceBody::Policy(p) => p.desired(resolver, diags),
            ResourceBody::InstanceProfile(p) => p.desired(resolver, diags),
            ResourceBody::OidcProvider(p) => p.desired(resolver, diags),
            ResourceBody::Key(k) => k.desired(resolver, diags),
        }
    }

    /// An attribute other resources reference, if it is known before apply: deterministic
    /// ones from the spec, assigned ones from `live` (the resource as it exists now).
    pub fn export(&self, attribute: &str, resolver: &Resolver<'_>, live: Option<&LiveResource>) -> Option<String> {
        match self {
            ResourceBody::Role(r) => r.export(attribute, resolver, live),
            ResourceBody::Policy(p) => p.export(attribute, resolver, live),
            ResourceBody::InstanceProfile(p) => p.export(attribute, resolver, live),
            ResourceBody::OidcProvider(p) => p.export(attribute, resolver, live),
            ResourceBody::Key(k) => k.export(attribute, resolver, live),
        }
    }
}
