//! `[key.NAME]`: a KMS customer-managed key with its key policy, rotation, state and aliases.
//!
//! A key has no name of its own: AWS assigns its id. plinth finds it by its first alias, or,
//! without one, by its `plinth:address` tag. It is never deleted at once: deleting schedules the
//! deletion after `deletion_window_days`, and a key that returns to the spec in that window is
//! recovered.

use std::collections::BTreeSet;

use crate::spec::{Located, PolicyField, PolicyValue};
use serde::Deserialize;
use toml_edit::value;

use super::block::{BlockWriter, Found};
use super::common::{first_tag, RawTags, Tags};
use super::{KindSpec, Lifecycle};
use crate::diag::{Code, Diagnostic, Diagnostics, Location};
use crate::model::{Attributes, Value};
use crate::spec::resolve::Resolver;
use crate::spec::rules::{self, Charset, Checker};
use crate::spec::{BlockValue, Loader, PolicyTemplate, Text};
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
    /// Someone else's key (`existing = true`): never created, replaced or scheduled for
    /// deletion; plinth manages only its own statements of the key policy, by Sid.
    pub existing: bool,
    /// How an existing key is found: a key id, a key ARN or `alias/NAME`.
    pub key_id: Option<Text>,
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
    pub tags: Tags,
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
    /// Someone else's key: plinth adds its statements to the key policy by Sid and nothing else.
    #[serde(default)]
    existing: bool,
    /// The existing key: a key id, a key ARN or `alias/NAME`.
    key_id: Option<Located<String>>,
    description: Option<Located<String>>,
    #[schemars(with = "Option<PolicyField>")]
    policy: Option<Located<PolicyValue>>,
    #[schemars(extend("enum" = KEY_USAGES))]
    key_usage: Option<Located<String>>,
    #[schemars(extend("enum" = key_spec_names()))]
    key_spec: Option<Located<String>>,
    rotation: Option<Located<bool>>,
    enabled: Option<bool>,
    #[schemars(inner(pattern(alias_pattern())))]
    aliases: Option<Vec<Located<String>>>,
    tags: RawTags,
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

pub(super) fn load(loader: &mut Loader, block: BlockValue<'_, '_>) -> Option<(KeySpec, Lifecycle)> {
    let location = loader.location(block.span());
    let raw: RawKey = loader.deserialize_block(block)?;
    let bypass_lockout_reason = bypass_reason(loader, &raw);
    check_existing(loader, &raw, &location);
    let spec = KeySpec {
        existing: raw.existing,
        key_id: raw.key_id.as_ref().map(|k| loader.text_or_stand_in(k)),
        description: raw.description.as_ref().map(|d| loader.text_or_stand_in(d)),
        policy: raw.policy.map(|p| loader.policy_or_stand_in(p)),
        key_usage: raw.key_usage,
        key_spec: raw.key_spec,
        rotation: raw.rotation,
        enabled: raw.enabled,
        aliases: raw
            .aliases
            .as_ref()
            .map(|v| v.iter().map(|a| loader.text_or_stand_in(a)).collect()),
        tags: Tags::load(loader, crate::model::Kind::Key, &raw.tags),
        deletion_window_days: raw
            .deletion_window_days
            .map(|d| (*d.get_ref(), loader.location(d.span()))),
        bypass_lockout_reason,
        location,
    };
    Some((spec, Lifecycle::new(raw.adopt, raw.prevent_destroy)))
}

/// An existing key is found by `key_id` and takes only a policy (and the lockout bypass): the
/// rest describes a key plinth would create.
fn check_existing(loader: &mut Loader, raw: &RawKey, location: &Location) {
    if !raw.existing {
        if let Some(k) = &raw.key_id {
            super::shared::refuse_without_existing(loader, "key", "key_id", k.span());
        }
        return;
    }
    if raw.key_id.is_none() {
        loader
            .err(
                Code::SpecMissingField,
                "an existing key needs `key_id`: plinth finds it by its key id, key ARN or alias",
                location.span.clone(),
            )
            .set_hint("add key_id = \"alias/NAME\" (or the key's id or ARN)");
    }
    let span = |l: &Option<Located<String>>| l.as_ref().map(|v| v.span());
    let first_tag = first_tag(&raw.tags);
    super::shared::refuse_owned_only(
        loader,
        "key",
        &[
            ("description", span(&raw.description)),
            ("key_usage", span(&raw.key_usage)),
            ("key_spec", span(&raw.key_spec)),
            ("rotation", raw.rotation.as_ref().map(|r| r.span())),
            ("enabled", raw.enabled.map(|_| location.span.clone())),
            (
                "aliases",
                raw.aliases
                    .as_ref()
                    .map(|a| a.first().map_or(location.span.clone(), |x| x.span())),
            ),
            ("tags", first_tag),
            (
                "deletion_window_days",
                raw.deletion_window_days.as_ref().map(|d| d.span()),
            ),
        ],
    );
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
                Code::SpecBypassWithoutReason,
                "`bypass_lockout_check = true` needs a reason",
                b.span(),
            );
            d.hint = Some("add `bypass_lockout_reason = \"...\"`: why this key's policy may lock the identity running plinth out of it".into());
            None
        }
        (None, Some(r)) => {
            let d = loader.err(
                Code::SpecReasonWithoutBypass,
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

/// What `key_id` takes: a key id (a UUID, or `mrk-` and 32 hex digits for a multi-Region
/// key), a key ARN, or an alias name. An `alias/aws/` key is AWS's own: its policy cannot
/// be changed.
pub fn key_reference(value: &str) -> Result<(), String> {
    if value.starts_with("arn:") {
        return rules::arn(KEY_ARN)(value);
    }
    if value.starts_with("alias/") {
        return alias_name(value);
    }
    if is_key_id(value) {
        return Ok(());
    }
    Err(format!(
        "`{value}` is not a key id, a key ARN or an alias name (`alias/NAME`)"
    ))
}

const KEY_ARN: rules::ArnShape = rules::ArnShape {
    service: "kms",
    regional: true,
    resource_prefix: "key/",
    name_chars: rules::Charset("a-fA-F0-9mrk-"),
    aws_owned: false,
    what: "a KMS key ARN",
};

fn is_key_id(value: &str) -> bool {
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(mrk) = value.strip_prefix("mrk-") {
        return hex(mrk, 32);
    }
    let parts: Vec<&str> = value.split('-').collect();
    parts.len() == 5 && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| hex(p, n))
}

impl KeySpec {
    /// What else names the key as a value elsewhere in the spec: its aliases, and an existing
    /// key's `key_id` (an alias, id or ARN).
    pub fn names(&self) -> impl Iterator<Item = &Text> {
        self.aliases.iter().flatten().chain(self.key_id.iter())
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
}

impl KeySpec {
    pub(crate) const IMPORT: super::ImportFacts = super::ImportFacts {
        words: "KMS key",
        optional_parts: &["policy", "rotation"],
        write_rank: 6,
        name_part: import_name_part,
        write_block: import_block,
    };
}

/// The part of a physical id an imported KMS key's logical name is made from: its id or alias name, the last part of its ARN.
fn import_name_part(id: &str) -> &str {
    id.rsplit(['/', ':']).next().unwrap_or(id)
}

/// An imported key's block: an existing key, found again as it was asked for, with the
/// statements of its policy plinth can name.
fn import_block(found: &Found, w: &mut dyn BlockWriter) {
    let a = &found.live.attributes;
    w.put("key_id", value(w.template(&found.requested)));
    w.put("existing", value(true));
    w.shared_policy(a.get("policy"), "key policy");
}

impl KindSpec for KeySpec {
    fn documents(&self) -> Vec<(&'static str, String, &PolicyTemplate)> {
        super::single_document("policy", &self.policy)
    }

    fn must_exist(&self) -> bool {
        self.existing
    }

    fn texts(&self) -> Vec<&Text> {
        self.key_id
            .iter()
            .chain(self.description.iter())
            .chain(self.aliases.iter().flatten())
            .chain(self.tags.texts())
            .collect()
    }

    fn check(&self, c: &Checker<'_>, diags: &mut Diagnostics) {
        let invalid = |message: String, at: &Location, hint: String| {
            Diagnostic::error(Code::SpecInvalidValue, message)
                .at_location(Some(at.clone()))
                .hint(hint)
        };
        let at = |s: &Located<String>| Location::new(&self.location.file, s.span());
        if let Some(key_id) = &self.key_id {
            c.text(
                key_id,
                key_reference,
                "write the key's id, its ARN, or one of its aliases as `alias/NAME`",
                diags,
            );
        }
        if self.existing {
            if let Some(policy) = &self.policy {
                super::shared::require_sids(policy, "key policy", c, diags);
            }
            return;
        }
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
        // KMS offers SM2 keys in the China Regions only; the region is known at plan.
        if let (Some(spec), Some(region)) = (&self.key_spec, c.region()) {
            if spec.get_ref() == "SM2" && !region.starts_with("cn-") {
                diags.push(invalid(
                    format!("KMS offers SM2 keys only in the China Regions, and this stack is in {region}"),
                    &at(spec),
                    "use an ECC_NIST_P256 key (or another key spec) outside China".into(),
                ));
            }
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
        self.tags.check(crate::model::Kind::Key, c, diags);
        if let Some(days) = &self.deletion_window_days {
            c.range("deletion_window_days", days, DELETION_WINDOW_DAYS, diags);
        }
    }

    fn desired(&self, r: &Resolver<'_>, diags: &mut Diagnostics) -> Attributes {
        let mut attrs = Attributes::new();
        if self.existing {
            // Only the key policy's statements plinth names; nothing that describes the key.
            if let Some(p) = &self.policy {
                attrs.insert("policy".into(), r.policy_or_report(p, diags));
            }
            if self.bypass_lockout_reason.is_some() {
                attrs.insert("bypass_lockout_check".into(), Value::Bool(true));
            }
            return attrs;
        }
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
        self.tags.desire(r, &mut attrs);
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

    /// The first alias: a key with one is found by it. An existing key is found by `key_id`.
    fn physical_id(&self, r: &Resolver<'_>) -> Result<Option<String>, &Text> {
        if let Some(key_id) = self.key_id.as_ref().filter(|_| self.existing) {
            return r.text(key_id).map(Some).ok_or(key_id);
        }
        match self.aliases.as_ref().and_then(|a| a.first()) {
            Some(alias) => r.text(alias).map(Some).ok_or(alias),
            None => Ok(None),
        }
    }

    /// Everything a key exports is assigned by KMS: known once it exists, unless it is about to
    /// be replaced by a new key.
    fn export(
        &self,
        attribute: &str,
        _r: &Resolver<'_>,
        live: Option<&LiveResource>,
    ) -> Option<String> {
        let same_key = |l: &&LiveResource| {
            self.existing
                || l.attributes.get("key_usage") == Some(&Value::str(self.key_usage()))
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

    #[test]
    fn key_references() {
        assert!(key_reference("1234abcd-12ab-34cd-56ef-1234567890ab").is_ok());
        assert!(key_reference("mrk-1234abcd12ab34cd56ef1234567890ab").is_ok());
        assert!(key_reference(
            "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        )
        .is_ok());
        assert!(key_reference("alias/customer-data").is_ok());
        assert!(key_reference("alias/aws/s3").is_err());
        assert!(key_reference("customer-data").is_err());
        assert!(key_reference("arn:aws:sqs:us-east-2:111122223333:q").is_err());
    }
}
