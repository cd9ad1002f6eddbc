//! `[role.NAME]`: an IAM role with its trust policy, inline policies, managed-policy
//! attachments, permissions boundary and tags.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::de::DeValue;
use toml::Spanned;

use super::Lifecycle;
use crate::diag::{Diagnostics, Location};
use crate::live::LiveResource;
use crate::model::{Attributes, Value};
use crate::plan::Resolver;
use crate::policy::DocumentKind;
use crate::spec::rules::{self, Checker};
use crate::spec::{Loader, PolicyTemplate, Text};

#[derive(Debug)]
pub struct RoleSpec {
    pub name: Text,
    pub path: Option<Text>,
    pub description: Option<Text>,
    pub max_session_hours: Option<(i64, Location)>,
    pub trust: PolicyTemplate,
    /// ARNs of managed policies to attach; `None` leaves attachments unmanaged.
    pub managed_policies: Option<Vec<Text>>,
    /// Inline policies by name; `None` leaves inline policies unmanaged.
    pub policies: Option<BTreeMap<String, PolicyTemplate>>,
    pub permissions_boundary: Option<Text>,
    /// The user's tags; `None` leaves them unmanaged (plinth's own tags are always set).
    pub tags: Option<BTreeMap<String, Text>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    name: Spanned<String>,
    path: Option<Spanned<String>>,
    description: Option<Spanned<String>>,
    max_session_hours: Option<Spanned<i64>>,
    trust: Spanned<toml::Value>,
    managed_policies: Option<Vec<Spanned<String>>>,
    policies: Option<BTreeMap<String, Spanned<toml::Value>>>,
    permissions_boundary: Option<Spanned<String>>,
    tags: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    #[serde(default)]
    adopt: bool,
    #[serde(default)]
    prevent_destroy: bool,
}

pub(super) fn load(loader: &mut Loader, value: Spanned<DeValue<'_>>) -> Option<(RoleSpec, Lifecycle)> {
    let raw: RawRole = loader.deserialize(value)?;
    let spec = RoleSpec {
        name: loader.text_or_stand_in(&raw.name),
        path: raw.path.as_ref().map(|p| loader.text_or_stand_in(p)),
        description: raw.description.as_ref().map(|d| loader.text_or_stand_in(d)),
        max_session_hours: raw.max_session_hours.map(|h| (*h.get_ref(), loader.location(h.span()))),
        trust: loader.policy_or_stand_in(&raw.trust),
        managed_policies: raw.managed_policies.as_ref().map(|v| v.iter().map(|m| loader.text_or_stand_in(m)).collect()),
        policies: raw
            .policies
            .as_ref()
            .map(|ps| ps.iter().map(|(n, p)| (n.clone(), loader.policy_or_stand_in(p))).collect()),
        permissions_boundary: raw.permissions_boundary.as_ref().map(|p| loader.text_or_stand_in(p)),
        tags: raw.tags.as_ref().map(|t| loader.tags(t)),
    };
    Some((spec, Lifecycle { adopt: raw.adopt, prevent_destroy: raw.prevent_destroy }))
}

impl RoleSpec {
    pub(super) fn texts(&self) -> Vec<&Text> {
        [&self.name]
            .into_iter()
            .chain(self.path.iter())
            .chain(self.description.iter())
            .chain(self.permissions_boundary.iter())
            .chain(self.managed_policies.iter().flatten())
            .chain(self.tags.iter().flat_map(|t| t.values()))
            .collect()
    }

    pub(super) fn policy_documents(&self) -> Vec<(String, &PolicyTemplate, DocumentKind)> {
        let inline = self.policies.iter().flatten().map(|(n, p)| (format!("policies.{n}"), p, DocumentKind::Identity));
        std::iter::once(("trust".to_string(), &self.trust, DocumentKind::Trust)).chain(inline).collect()
    }

    pub(super) fn check(&self, c: &Checker<'_>, diags: &mut Diagnostics) {
        c.text(&self.name, |v| rules::iam_name(v, 64), "role names are letters, digits and `_+=,.@-`, at most 64 characters", diags);
        if let Some(path) = &self.path {
            c.text(path, rules::iam_path, "write a path like `/` or `/tonic/`", diags);
        }
        if let Some(d) = &self.description {
            c.text(d, rules::max_chars("a role description", 1000), "shorten the description", diags);
        }
        for value in self.tags.iter().flat_map(|t| t.values()) {
            c.text(value, rules::tag_value, "shorten the tag value", diags);
        }
        for arn in self.managed_policies.iter().flatten().chain(self.permissions_boundary.iter()) {
            c.text(
                arn,
                rules::arn(rules::MANAGED_POLICY_ARN),
                "write the policy's ARN, e.g. \"arn:aws:iam::aws:policy/ReadOnlyAccess\" or \"${policy.NAME.arn}\"",
                diags,
            );
        }
        if let Some(hours) = &self.max_session_hours {
            c.range("max_session_hours", hours, 1..=12, diags);
        }
    }

    pub(super) fn desired(&self, r: &Resolver<'_>, diags: &mut Diagnostics) -> Attributes {
        let mut attrs = Attributes::new();
        attrs.insert("name".into(), r.value(&self.name));
        if let Some(p) = &self.path {
            attrs.insert("path".into(), r.value(p));
        }
        if let Some(d) = &self.description {
            attrs.insert("description".into(), r.value(d));
        }
        if let Some((h, _)) = &self.max_session_hours {
            attrs.insert("max_session_hours".into(), Value::Int(*h));
        }
        attrs.insert("trust".into(), r.policy_or_report(&self.trust, diags));
        if let Some(arns) = &self.managed_policies {
            attrs.insert("managed_policies".into(), r.set(arns));
        }
        if let Some(policies) = &self.policies {
            let map = policies.iter().map(|(name, p)| (name.clone(), r.policy_or_report(p, diags))).collect();
            attrs.insert("policies".into(), Value::Map(map));
        }
        if let Some(b) = &self.permissions_boundary {
            attrs.insert("permissions_boundary".into(), r.value(b));
        }
        if let Some(tags) = &self.tags {
            attrs.insert("tags".into(), r.map(tags));
        }
        attrs
    }

    pub(super) fn export(&self, attribute: &str, r: &Resolver<'_>, live: Option<&LiveResource>) -> Option<String> {
        let name = r.text(&self.name)?;
        let path = match &self.path {
            Some(p) => r.text(p)?,
            None => "/".to_string(),
        };
        match attribute {
            "name" => Some(name),
            "path" => Some(path),
            "arn" => Some(format!("arn:{}:iam::{}:role{path}{name}", r.account().partition, r.account().account_id)),
            // Assigned by IAM: known only once the role exists under that name.
            _ => live.filter(|l| l.physical_id == name).and_then(|l| l.exports.get(attribute).cloned()),
        }
    }
}
