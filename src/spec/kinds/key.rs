//! `[key.NAME]`: a KMS customer-managed key with its key policy, rotation, state and aliases.
//!
//! A key has no name of its own: AWS assigns its id. plinth finds it by its first alias, or,
//! without one, by its `plinth:address` tag. It is never deleted at once: deleting schedules the
//! deletion after `deletion_window_days`, and a key that returns to the spec in that window is
//! recovered.

use std::collections::{BTreeMap, BTreeSet};

use crate::spec::{Located, PolicyField};
use serde::Deserialize;
use toml::de::DeValue;

use super::Lifecycle;
use crate::diag::{Diagnostic, Diagnostics, Location};
use crate::model::{Attributes, Value};
use crate::policy::{DocumentKind, ResourcePolicyKind};
use crate::spec::resolve::Resolver;
use crate::spec::rules::{self, Charset, Checker};
use crate::spec::{Loader, PolicyTemplate, Text};
use crate::state::LiveResource;

pub use crate::model::key::{DEFAULT_DELETION_WINDOW_DAYS, DEFAULT_KEY_SPEC, DEFAULT_KEY_USAGE};

/// Each key spec KMS offers, with the usages it supports.
const KEY_SPECS: &[(&str, &[&str])] = &[
    ("SYMMETRIC_DEFAULT", &["ENCRYPT_DECRYPT"]),
    ("RSA_2048", &["ENCRYPT_DECRYPT", "SIGN_VERIFY"]),
    ("RSA_3072", &["ENCRYPT_DECRYPT", "SIGN_VERIFY"]),
    ("RSA_4096", &["ENCRYPT_DECRYPT", "SIGN_VERIFY"]),
    ("ECC_NIST_P256", &["SIGN_VERIFY", "KEY_AGREEMENT"]),
    ("ECC_NIST_P384", &["SIGN_VERIFY", "KEY_AGREEMENT"]),
    ("ECC_NIST_P521", &["SIGN_VERIFY", "KEY_AGREEMENT"]),
    ("ECC_SECG_P256K1", &["SIGN_VERIFY"]),
    ("ECC_NIST_EDWARDS25519", &["SIGN_VERIFY"]),
    ("HMAC_224", &["GENERATE_VERIFY_MAC"]),
    ("HMAC_256", &["GENERATE_VERIFY_MAC"]),
    ("HMAC_384", &["GENERATE_VERIFY_MAC"]),
    ("HMAC_512", &["GENERATE_VERIFY_MAC"]),
    ("SM2", &["ENCRYPT_DECRYPT", "SIGN_VERIFY", "KEY_AGREEMENT"]),
    ("ML_DSA_44", &["SIGN_VERIFY"]),
    ("ML_DSA_65", &["SIGN_VERIFY"]),
    ("ML_DSA_87", &["SIGN_VERIFY"]),
    ("ML_KEM_512", &["ENCAPSULATE_DECAPSULATE"]),
    ("ML_KEM_768", &["ENCAPSULATE_DECAPSULATE"]),
    ("ML_KEM_1024", &["ENCAPSULATE_DECAPSULATE"]),
];

/// The key specs, for `plinth schema`.
pub(crate) fn key_spec_names() -> Vec<&'static str> {
    KEY_SPECS.iter().map(|(spec, _)| *spec).collect()
}

pub(crate) const DELETION_WINDOW_DAYS: std::ops::RangeInclusive<i64> = 7..=30;

pub(crate) const KEY_USAGES: &[&str] = &[
    "ENCRYPT_DECRYPT",
    "SIGN_VERIFY",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
    "ENCAPSULATE_DECAPSULATE",
];

#[derive(Debug)]
pub struct KeySpec {
    pub description: Option<Text>,
    /// The key policy; `None` leaves it to KMS (its default policy is never a difference).
    pub policy: Option<PolicyTemplate>,
    pub key_usage: Option<Located<String>>,
    pub key_spec: Option<Located<String>>,
    /// Automatic yearly rotation; `None` leaves it unmanaged.
    pub rotation: Option<Located<bool>>,
    pub enabled: Option<bool>,
    /// `alias/...` names; the first is how plinth finds the key. `None` leaves them unmanaged.
    pub aliases: Option<Vec<Text>>,
    /// The user's tags; `None` leaves them unmanaged (plinth's own tags are always set).
    pub tags: Option<BTreeMap<String, Text>>,
    pub deletion_window_days: Option<(i64, Location)>,
    /// Why the policy may lock the identity running plinth out of the key: KMS's lockout
    /// safety check is then skipped, and so is plinth's (`bypass_lockout_check = true`).
    pub bypass_lockout_reason: Option<String>,
    /// The key's table, for problems that concern several fields.
    pub location: Location,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Key")]
pub(crate) struct RawKey {
    description: Option<Located<String>>,
    #[schemars(with = "Option<PolicyField>")]
    policy: Option<Located<toml::Value>>,
    #[schemars(extend("enum" = KEY_USAGES))]
    key_usage: Option<Located<String>>,
    #[schemars(extend("enum" = key_spec_names()))]
    key_spec: Option<Located<String>>,
    rotation: Option<Located<bool>>,
    enabled: Option<bool>,
    #[schemars(inner(pattern(alias_pattern())))]
    aliases: Option<Vec<Located<String>>>,
    tags: Option<BTreeMap<Located<String>, Located<String>>>,
    #[schemars(range(min = *DELETION_WINDOW_DAYS.start(), max = *DELETION_WINDOW_DAYS.end()))]
    deletion_window_days: Option<Located<i64>>,
    /// Skip KMS's lockout safety check (and plinth's); needs `bypass_lockout_reason`.
    #[serde(default)]
    bypass_lockout_check: Option<Located<bool>>,
    bypass_lockout_reason: Option<Located<String>>,
    #[serde(default)]
    adopt: bool,
    #[serde(default)]
    prevent_destroy: bool,
}

pub(super) fn load(
    loader: &mut Loader,
    value: toml::Spanned<DeValue<'_>>,
) -> Option<(KeySpec, Lifecycle)> {
    let location = loader.location(value.span());
    let raw: RawKey = loader.deserialize(value)?;
    let bypass_lockout_reason = bypass_reason(loader, &raw);
    let spec = KeySpec {
        description: raw.description.as_ref().map(|d| loader.text_or_stand_in(d)),
        policy: raw.policy.as_ref().map(|p| loader.policy_or_stand_in(p)),
        key_usage: raw.key_usage,
        key_spec: raw.key_spec,
        rotation: raw.rotation,
        enabled: raw.enabled,
        aliases: raw
            .aliases
            .as_ref()
            .map(|v| v.iter().map(|a| loader.text_or_stand_in(a)).collect()),
        tags: raw.tags.as_ref().map(|t| loader.tags(t)),
        deletion_window_days: raw
            .deletion_window_days
            .map(|d| (*d.get_ref(), loader.location(d.span()))),
        bypass_lockout_reason,
        location,
    };
    Some((
        spec,
        Lifecycle {
            adopt: raw.adopt,
            prevent_destroy: raw.prevent_destroy,
        },
    ))
}

/// The reason given for `bypass_lockout_check = true`; one without a reason, or a reason
/// without the bypass, is an error.
fn bypass_reason(loader: &mut Loader, raw: &RawKey) -> Option<String> {
    let bypass = raw.bypass_lockout_check.as_ref().filter(|b| *b.get_ref());
    let reason = raw
        .bypass_lockout_reason
        .as_ref()
        .filter(|r| !r.get_ref().trim().is_empty());
    match (bypass, reason) {
        (Some(_), Some(reason)) => Some(reason.get_ref().clone()),
        (Some(b), None) => {
            let d = loader.err(
                "spec::bypass-without-reason",
                "`bypass_lockout_check = true` needs a reason",
                b.span(),
            );
            d.hint = Some("add `bypass_lockout_reason = \"...\"`: why this key's policy may lock the identity running plinth out of it".into());
            None
        }
        (None, Some(r)) => {
            let d = loader.err(
                "spec::reason-without-bypass",
                "`bypass_lockout_reason` is given but `bypass_lockout_check` is not true",
                r.span(),
            );
            d.hint = Some("set `bypass_lockout_check = true`, or remove the reason".into());
            None
        }
        (None, None) => None,
    }
}

/// What KMS accepts as an alias name for a customer key.
/// What KMS accepts after `alias/`.
const ALIAS_CHARS: Charset = Charset("A-Za-z0-9/_-");
const ALIAS_MAX: usize = 256;

pub(crate) fn alias_pattern() -> String {
    ALIAS_CHARS.pattern_with_references(&format!(
        "alias/(?!aws/){}",
        ALIAS_CHARS.repeat(1, ALIAS_MAX - "alias/".len())
    ))
}

fn alias_name(alias: &str) -> Result<(), String> {
    let Some(rest) = alias.strip_prefix("alias/") else {
        return Err(format!("`{alias}` does not begin with `alias/`"));
    };
    if rest.is_empty() {
        return Err("an alias needs a name after `alias/`".into());
    }
    if rest.starts_with("aws/") {
        return Err(format!(
            "`{alias}` uses the `alias/aws/` prefix, which AWS keeps for its own keys"
        ));
    }
    if let Some(c) = ALIAS_CHARS.first_outside(rest) {
        return Err(format!(
            "`{alias}` contains `{c}`; an alias is letters, digits, `/`, `_` and `-`"
        ));
    }
    if alias.len() > ALIAS_MAX {
        return Err(format!("an alias is at most {ALIAS_MAX} characters"));
    }
    Ok(())
}

impl KeySpec {
    pub(super) fn texts(&self) -> Vec<&Text> {
        self.description
            .iter()
            .chain(self.aliases.iter().flatten())
            .chain(self.tags.iter().flat_map(|t| t.values()))
            .collect()
    }

    pub(super) fn policy_documents(&self) -> Vec<(String, &PolicyTemplate, DocumentKind)> {
        self.policy
            .iter()
            .map(|p| {
                (
                    "policy".to_string(),
                    p,
                    DocumentKind::Resource(ResourcePolicyKind::KmsKey),
                )
            })
            .collect()
    }

    fn key_usage(&self) -> &str {
        self.key_usage
            .as_ref()
            .map_or(DEFAULT_KEY_USAGE, |u| u.get_ref())
    }

    fn key_spec(&self) -> &str {
        self.key_spec
            .as_ref()
            .map_or(DEFAULT_KEY_SPEC, |s| s.get_ref())
    }

    pub(super) fn check(&self, c: &Checker<'_>, diags: &mut Diagnostics) {
        let invalid = |message: String, at: &Location, hint: String| {
            Diagnostic::error("spec::invalid-value", message)
                .at_location(Some(at.clone()))
                .hint(hint)
        };
        let at = |s: &Located<String>| Location::new(&self.location.file, s.span());
        if let Some(usage) = &self.key_usage {
            if !KEY_USAGES.contains(&usage.get_ref().as_str()) {
                diags.push(invalid(
                    format!("`{}` is not a KMS key usage", usage.get_ref()),
                    &at(usage),
                    format!("use one of: {}", KEY_USAGES.join(", ")),
                ));
            }
        }
        let spec_usages = KEY_SPECS
            .iter()
            .find(|(spec, _)| *spec == self.key_spec())
            .map(|(_, usages)| *usages);
        match (&self.key_spec, spec_usages) {
            (Some(spec), None) => {
                let specs: Vec<&str> = KEY_SPECS.iter().map(|(s, _)| *s).collect();
                diags.push(invalid(
                    format!("`{}` is not a KMS key spec", spec.get_ref()),
                    &at(spec),
                    format!("use one of: {}", specs.join(", ")),
                ));
            }
            (_, Some(usages))
                if KEY_USAGES.contains(&self.key_usage())
                    && !usages.contains(&self.key_usage()) =>
            {
                let where_ = self
                    .key_usage
                    .as_ref()
                    .or(self.key_spec.as_ref())
                    .map_or(self.location.clone(), at);
                diags.push(invalid(
                    format!(
                        "key_spec {} does not support key_usage {}",
                        self.key_spec(),
                        self.key_usage()
                    ),
                    &where_,
                    format!("{} supports: {}", self.key_spec(), usages.join(", ")),
                ));
            }
            _ => {}
        }
        if let Some(rotation) = &self.rotation {
            if *rotation.get_ref() && self.key_spec() != DEFAULT_KEY_SPEC {
                diags.push(invalid(
                    format!(
                        "KMS rotates only symmetric encryption keys, and this key is {}",
                        self.key_spec()
                    ),
                    &Location::new(&self.location.file, rotation.span()),
                    "remove `rotation`, or use key_spec = \"SYMMETRIC_DEFAULT\"".into(),
                ));
            }
        }
        if let Some(d) = &self.description {
            c.text(
                d,
                rules::max_chars("a key description", 8192),
                "shorten the description",
                diags,
            );
        }
        let mut seen = BTreeSet::new();
        for alias in self.aliases.iter().flatten() {
            c.text(
                alias,
                alias_name,
                "write an alias like `alias/tonic-sqs`",
                diags,
            );
            if !alias.raw.is_empty() && !seen.insert(alias.raw.as_str()) {
                diags.push(invalid(
                    format!("alias `{}` is listed twice", alias.raw),
                    &alias.location,
                    "list each alias once".into(),
                ));
            }
        }
        for value in self.tags.iter().flat_map(|t| t.values()) {
            c.text(value, rules::tag_value, "shorten the tag value", diags);
        }
        if let Some(days) = &self.deletion_window_days {
            c.range("deletion_window_days", days, DELETION_WINDOW_DAYS, diags);
        }
    }

    pub(super) fn desired(&self, r: &Resolver<'_>, diags: &mut Diagnostics) -> Attributes {
        let mut attrs = Attributes::new();
        if let Some(d) = &self.description {
            attrs.insert("description".into(), r.value(d));
        }
        if let Some(p) = &self.policy {
            attrs.insert("policy".into(), r.policy_or_report(p, diags));
        }
        attrs.insert("key_usage".into(), Value::str(self.key_usage()));
        attrs.insert("key_spec".into(), Value::str(self.key_spec()));
        if let Some(rotation) = &self.rotation {
            attrs.insert("rotation".into(), Value::Bool(*rotation.get_ref()));
        }
        if let Some(enabled) = self.enabled {
            attrs.insert("enabled".into(), Value::Bool(enabled));
        }
        if let Some(aliases) = &self.aliases {
            attrs.insert("aliases".into(), r.set(aliases));
        }
        if let Some(tags) = &self.tags {
            attrs.insert("tags".into(), r.map(tags));
        }
        let days = self
            .deletion_window_days
            .as_ref()
            .map_or(DEFAULT_DELETION_WINDOW_DAYS, |(d, _)| *d);
        attrs.insert("deletion_window_days".into(), Value::Int(days));
        if self.bypass_lockout_reason.is_some() {
            attrs.insert("bypass_lockout_check".into(), Value::Bool(true));
        }
        attrs
    }

    /// The first alias: a key with one is found by it.
    pub(super) fn physical_id(&self, r: &Resolver<'_>) -> Result<Option<String>, &Text> {
        match self.aliases.as_ref().and_then(|a| a.first()) {
            Some(alias) => r.text(alias).map(Some).ok_or(alias),
            None => Ok(None),
        }
    }

    /// Everything a key exports is assigned by KMS: known once it exists, unless it is about to
    /// be replaced by a new key.
    pub(super) fn export(
        &self,
        attribute: &str,
        _r: &Resolver<'_>,
        live: Option<&LiveResource>,
    ) -> Option<String> {
        let same_key = |l: &&LiveResource| {
            l.attributes.get("key_usage") == Some(&Value::str(self.key_usage()))
                && l.attributes.get("key_spec") == Some(&Value::str(self.key_spec()))
        };
        live.filter(same_key)
            .and_then(|l| l.exports.get(attribute).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names() {
        assert!(alias_name("alias/tonic-sqs").is_ok());
        assert!(alias_name("alias/team/data_keys").is_ok());
        assert!(alias_name("tonic-sqs").unwrap_err().contains("alias/"));
        assert!(alias_name("alias/").is_err());
        assert!(alias_name("alias/aws/s3")
            .unwrap_err()
            .contains("alias/aws/"));
        assert!(alias_name("alias/a b").unwrap_err().contains("` `"));
    }
}
