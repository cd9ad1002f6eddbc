//! `[policy.NAME]`: a customer-managed IAM policy, which roles attach by its ARN
//! (`managed_policies = ["${policy.NAME.arn}"]`).

use crate::spec::{Located, PolicyField, PolicyValue};
use serde::Deserialize;
use toml_edit::value;

use super::block::{BlockWriter, Found};
use super::common::{RawTags, Tags};
use super::{KindSpec, Lifecycle};
use crate::diag::Diagnostics;
use crate::model::{Attributes, Kind};
use crate::spec::resolve::Resolver;
use crate::spec::rules::{self, Checker};
use crate::spec::{BlockValue, Loader, PolicyTemplate, Text};
use crate::state::LiveResource;

#[derive(Debug)]
pub struct PolicySpec {
    pub name: Text,
    pub path: Option<Text>,
    pub description: Option<Text>,
    pub document: PolicyTemplate,
    pub tags: Tags,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ManagedPolicy")]
pub(crate) struct RawPolicy {
    #[schemars(pattern(rules::IAM_NAME_CHARS.pattern(1, rules::IAM_NAME_MAX)))]
    name: Located<String>,
    #[schemars(pattern(rules::policy_path_pattern()))]
    path: Option<Located<String>>,
    description: Option<Located<String>>,
    #[schemars(with = "PolicyField")]
    document: Located<PolicyValue>,
    tags: RawTags,
    #[serde(default)]
    adopt: bool,
    #[serde(default)]
    prevent_destroy: bool,
}

pub(super) fn load(
    loader: &mut Loader,
    block: BlockValue<'_, '_>,
) -> Option<(PolicySpec, Lifecycle)> {
    let raw: RawPolicy = loader.deserialize_block(block)?;
    let spec = PolicySpec {
        name: loader.text_or_stand_in(&raw.name),
        path: raw.path.as_ref().map(|p| loader.text_or_stand_in(p)),
        description: raw.description.as_ref().map(|d| loader.text_or_stand_in(d)),
        document: loader.policy_or_stand_in(raw.document),
        tags: Tags::load(loader, Kind::Policy, &raw.tags),
    };
    Some((spec, Lifecycle::new(raw.adopt, raw.prevent_destroy)))
}

impl PolicySpec {
    pub(crate) const IMPORT: super::ImportFacts = super::ImportFacts {
        words: "managed policy",
        optional_parts: &[],
        write_rank: 4,
        name_part: import_name_part,
        write_block: import_block,
    };
}

/// The part of a physical id an imported managed policy's logical name is made from: its name, the last part of its ARN.
fn import_name_part(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// An imported managed policy's block: its name, path and description unless they are AWS's
/// defaults, and its document as a file.
fn import_block(found: &Found, w: &mut dyn BlockWriter) {
    let a = &found.live.attributes;
    w.literal("name");
    w.text_unless("path", "/");
    w.text_unless("description", "");
    w.policy_file("document", a.get("document"));
    w.tags();
    w.put("adopt", value(true));
}

impl KindSpec for PolicySpec {
    fn name(&self) -> Option<&Text> {
        Some(&self.name)
    }

    fn iam_path(&self) -> Option<&Text> {
        self.path.as_ref()
    }

    fn documents(&self) -> Vec<(&'static str, String, &PolicyTemplate)> {
        vec![("document", "document".into(), &self.document)]
    }

    fn texts(&self) -> Vec<&Text> {
        [&self.name]
            .into_iter()
            .chain(self.path.iter())
            .chain(self.description.iter())
            .chain(self.tags.texts())
            .collect()
    }

    fn check(&self, c: &Checker<'_>, diags: &mut Diagnostics) {
        c.text(
            &self.name,
            |v| rules::iam_name(v, rules::IAM_NAME_MAX),
            "policy names are letters, digits and `_+=,.@-`, at most 128 characters",
            diags,
        );
        if let Some(path) = &self.path {
            c.text(
                path,
                rules::policy_path,
                "write a path like `/` or `/tonic/`",
                diags,
            );
        }
        if let Some(d) = &self.description {
            c.text(
                d,
                rules::max_chars("a policy description", 1000),
                "shorten the description",
                diags,
            );
        }
        self.tags.check(Kind::Policy, c, diags);
    }

    fn desired(&self, r: &Resolver<'_>, diags: &mut Diagnostics) -> Attributes {
        let mut attrs = Attributes::new();
        attrs.insert("name".into(), r.value(&self.name));
        if let Some(p) = &self.path {
            attrs.insert("path".into(), r.value(p));
        }
        if let Some(d) = &self.description {
            attrs.insert("description".into(), r.value(d));
        }
        attrs.insert("document".into(), r.policy_or_report(&self.document, diags));
        self.tags.desire(r, &mut attrs);
        attrs
    }

    /// The policy's ARN, which is how IAM finds it: built from its path and name.
    fn physical_id(&self, r: &Resolver<'_>) -> Result<Option<String>, &Text> {
        let name = r.text(&self.name).ok_or(&self.name)?;
        let path = match &self.path {
            Some(p) => r.text(p).ok_or(p)?,
            None => "/".to_string(),
        };
        Ok(Some(
            r.account().arn(Kind::Policy, &format!("{path}{name}")),
        ))
    }

    fn export(
        &self,
        attribute: &str,
        r: &Resolver<'_>,
        _live: Option<&LiveResource>,
    ) -> Option<String> {
        match attribute {
            "name" => r.text(&self.name),
            "arn" => self.physical_id(r).ok().flatten(),
            _ => None,
        }
    }
}
