//! `[instance_profile.NAME]`: an IAM instance profile, the container that hands a role to EC2
//! instances.

use crate::spec::Located;
use serde::Deserialize;
use toml_edit::value;

use super::block::{BlockWriter, Found};
use super::common::{RawTags, Tags};
use super::{KindSpec, Lifecycle};
use crate::diag::Diagnostics;
use crate::model::{Attributes, Kind, Value};
use crate::spec::resolve::Resolver;
use crate::spec::rules::{self, Checker};
use crate::spec::template::escape;
use crate::spec::{BlockValue, Loader, Text};
use crate::state::LiveResource;

#[derive(Debug)]
pub struct InstanceProfileSpec {
    pub name: Text,
    pub path: Option<Text>,
    /// The name of the role the profile holds (IAM allows one); `None` leaves it unmanaged.
    pub role: Option<Text>,
    pub tags: Tags,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "InstanceProfile")]
pub(crate) struct RawInstanceProfile {
    #[schemars(pattern(rules::IAM_NAME_CHARS.pattern(1, rules::IAM_NAME_MAX)))]
    name: Located<String>,
    #[schemars(pattern(rules::iam_path_pattern()))]
    path: Option<Located<String>>,
    #[schemars(pattern(rules::IAM_NAME_CHARS.pattern(1, rules::ROLE_NAME_MAX)))]
    role: Option<Located<String>>,
    tags: RawTags,
    #[serde(default)]
    adopt: bool,
    #[serde(default)]
    prevent_destroy: bool,
}

pub(super) fn load(
    loader: &mut Loader,
    block: BlockValue<'_, '_>,
) -> Option<(InstanceProfileSpec, Lifecycle)> {
    let raw: RawInstanceProfile = loader.deserialize_block(block)?;
    let spec = InstanceProfileSpec {
        name: loader.text_or_stand_in(&raw.name),
        path: raw.path.as_ref().map(|p| loader.text_or_stand_in(p)),
        role: raw.role.as_ref().map(|r| loader.text_or_stand_in(r)),
        tags: Tags::load(loader, Kind::InstanceProfile, &raw.tags),
    };
    Some((spec, Lifecycle::new(raw.adopt, raw.prevent_destroy)))
}

impl InstanceProfileSpec {
    pub(crate) const IMPORT: super::ImportFacts = super::ImportFacts {
        words: "instance profile",
        optional_parts: &[],
        write_rank: 2,
        name_part: super::whole_id,
        write_block: import_block,
    };
}

/// An imported instance profile's block: its role by reference when the role is imported too.
fn import_block(found: &Found, w: &mut dyn BlockWriter) {
    let a = &found.live.attributes;
    w.literal("name");
    w.text_unless("path", "/");
    if let Some(Value::Str(role)) = a.get("role") {
        let role = match w.reference_to(Kind::Role, "name", role) {
            Some(r) => r,
            None => escape(role),
        };
        w.put("role", value(role));
    }
    w.tags();
    w.put("adopt", value(true));
}

impl KindSpec for InstanceProfileSpec {
    fn name(&self) -> Option<&Text> {
        Some(&self.name)
    }

    fn iam_path(&self) -> Option<&Text> {
        self.path.as_ref()
    }

    fn texts(&self) -> Vec<&Text> {
        [&self.name]
            .into_iter()
            .chain(self.path.iter())
            .chain(self.role.iter())
            .chain(self.tags.texts())
            .collect()
    }

    fn check(&self, c: &Checker<'_>, diags: &mut Diagnostics) {
        c.text(
            &self.name,
            |v| rules::iam_name(v, rules::IAM_NAME_MAX),
            "instance profile names are letters, digits and `_+=,.@-`, at most 128 characters",
            diags,
        );
        if let Some(path) = &self.path {
            c.text(
                path,
                rules::iam_path,
                "write a path like `/` or `/tonic/`",
                diags,
            );
        }
        if let Some(role) = &self.role {
            c.text(
                role,
                |v| rules::iam_name(v, rules::ROLE_NAME_MAX),
                "give the role's name (not its ARN), e.g. \"${role.server.name}\"",
                diags,
            );
        }
        self.tags.check(Kind::InstanceProfile, c, diags);
    }

    fn desired(&self, r: &Resolver<'_>, _diags: &mut Diagnostics) -> Attributes {
        let mut attrs = Attributes::new();
        attrs.insert("name".into(), r.value(&self.name));
        if let Some(p) = &self.path {
            attrs.insert("path".into(), r.value(p));
        }
        if let Some(role) = &self.role {
            attrs.insert("role".into(), r.value(role));
        }
        self.tags.desire(r, &mut attrs);
        attrs
    }

    fn export(
        &self,
        attribute: &str,
        r: &Resolver<'_>,
        _live: Option<&LiveResource>,
    ) -> Option<String> {
        let name = r.text(&self.name)?;
        match attribute {
            "name" => Some(name),
            "arn" => {
                let path = match &self.path {
                    Some(p) => r.text(p)?,
                    None => "/".to_string(),
                };
                Some(
                    r.account()
                        .arn(Kind::InstanceProfile, &format!("{path}{name}")),
                )
            }
            _ => None,
        }
    }
}
