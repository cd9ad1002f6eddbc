//! `[role.NAME]`: an IAM role with its trust policy, inline policies, managed-policy
//! attachments, permissions boundary and tags.
//!
//! An inline policy written as a table may carry `when = "${var.NAME}"`: it exists only while
//! the variable is `true`. Setup pages often list permissions "only needed if you use X"; a
//! switch on the policy keeps one stack for both cases, and turning it off deletes the policy.

use std::collections::BTreeMap;

use crate::spec::{toml_type_name, InlinePolicyField, Located, PolicyField, PolicyValue};
use serde::Deserialize;
use toml_edit::{value, Array, Item, Table};

use super::block::{BlockWriter, Found};
use super::common::{first_tag, RawTags, Tags};
use super::{KindSpec, Lifecycle};
use crate::diag::{Code, Diagnostic, Diagnostics, Location, WarningCode};
use crate::model::{Attributes, Kind, Value};
use crate::spec::resolve::Resolver;
use crate::spec::rules::{self, Checker};
use crate::spec::template::Reference;
use crate::spec::{BlockValue, Loader, PolicyTemplate, Text};
use crate::state::LiveResource;

#[derive(Debug)]
pub struct RoleSpec {
    pub name: Text,
    /// Someone else's role (`existing = true`): never created, replaced or deleted; plinth
    /// adds the inline policies and attachments the block declares and keeps the others, and
    /// merges its trust statements (by Sid) into the live trust policy.
    pub existing: bool,
    pub path: Option<Text>,
    pub description: Option<Text>,
    pub max_session_hours: Option<(i64, Location)>,
    /// Required of a role plinth creates; optional on an existing role.
    pub trust: Option<PolicyTemplate>,
    /// ARNs of managed policies to attach; `None` leaves attachments unmanaged.
    pub managed_policies: Option<Vec<Text>>,
    /// Inline policies by name; `None` leaves inline policies unmanaged.
    pub policies: Option<BTreeMap<String, InlinePolicy>>,
    pub permissions_boundary: Option<Text>,
    pub tags: Tags,
}

/// One inline policy of a role.
#[derive(Debug)]
pub struct InlinePolicy {
    pub document: PolicyTemplate,
    /// `when = "${var.NAME}"` (or a list, all of which must hold): the policy exists only
    /// while the switch is on (`spec::switch`).
    pub when: Vec<Text>,
}

impl InlinePolicy {
    /// Whether the policy is part of the role, given the values `lookup` knows (variables are
    /// always known, and `when` may refer to nothing else).
    pub fn is_enabled(&self, lookup: impl FnMut(&Reference) -> Option<String>) -> bool {
        crate::spec::switch::holds(&self.when, lookup)
    }
}

/// What IAM accepts for a role's session length, in hours.
pub(crate) const MAX_SESSION_HOURS: std::ops::RangeInclusive<i64> = 1..=12;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Role")]
// `trust` is required of a role plinth creates, that is unless `existing = true`.
#[schemars(extend(
    "if" = { "not": { "properties": { "existing": { "const": true } }, "required": ["existing"] } },
    "then" = { "required": ["trust"] }
))]
pub(crate) struct RawRole {
    #[schemars(pattern(rules::IAM_NAME_CHARS.pattern(1, rules::ROLE_NAME_MAX)))]
    name: Located<String>,
    /// Someone else's role: plinth adds only the policies and trust statements the block declares.
    #[serde(default)]
    existing: bool,
    #[schemars(pattern(rules::iam_path_pattern()))]
    path: Option<Located<String>>,
    description: Option<Located<String>>,
    #[schemars(range(min = *MAX_SESSION_HOURS.start(), max = *MAX_SESSION_HOURS.end()))]
    max_session_hours: Option<Located<i64>>,
    /// Required unless `existing = true`.
    #[schemars(with = "Option<PolicyField>")]
    trust: Option<Located<PolicyValue>>,
    managed_policies: Option<Vec<Located<String>>>,
    #[schemars(with = "Option<BTreeMap<String, InlinePolicyField>>")]
    policies: Option<BTreeMap<String, Located<PolicyValue>>>,
    permissions_boundary: Option<Located<String>>,
    tags: RawTags,
    #[serde(default)]
    adopt: bool,
    #[serde(default)]
    prevent_destroy: bool,
}

pub(super) fn load(
    loader: &mut Loader,
    block: BlockValue<'_, '_>,
) -> Option<(RoleSpec, Lifecycle)> {
    let table = block.span();
    let raw: RawRole = loader.deserialize_block(block)?;
    check_existing(loader, &raw, table.clone());
    check_counts_and_names(loader, &raw, table);
    let spec = RoleSpec {
        name: loader.text_or_stand_in(&raw.name),
        existing: raw.existing,
        path: raw.path.as_ref().map(|p| loader.text_or_stand_in(p)),
        description: raw.description.as_ref().map(|d| loader.text_or_stand_in(d)),
        max_session_hours: raw
            .max_session_hours
            .map(|h| (*h.get_ref(), loader.location(h.span()))),
        trust: raw.trust.map(|t| loader.policy_or_stand_in(t)),
        managed_policies: raw
            .managed_policies
            .as_ref()
            .map(|v| v.iter().map(|m| loader.text_or_stand_in(m)).collect()),
        policies: raw.policies.map(|ps| {
            ps.into_iter()
                .map(|(n, p)| (n, load_inline_policy(loader, p)))
                .collect()
        }),
        permissions_boundary: raw
            .permissions_boundary
            .as_ref()
            .map(|p| loader.text_or_stand_in(p)),
        tags: Tags::load(loader, Kind::Role, &raw.tags),
    };
    Some((spec, Lifecycle::new(raw.adopt, raw.prevent_destroy)))
}

/// IAM's limits on a role's policies: inline policy names (`[\w+=,.@-]`, 1 to 128
/// characters), and managed policies attached (10 by IAM's default quota, 20 at most).
fn check_counts_and_names(loader: &mut Loader, raw: &RawRole, table: std::ops::Range<usize>) {
    for (name, policy) in raw.policies.iter().flatten() {
        if let Err(message) = rules::iam_name(name, rules::IAM_NAME_MAX) {
            loader
                .err(
                    Code::SpecInvalidValue,
                    format!("inline policy name {message}"),
                    policy.span(),
                )
                .set_hint("name inline policies with letters, digits and + = , . @ _ -");
        }
    }
    let Some(attached) = &raw.managed_policies else {
        return;
    };
    let at = attached.get(10).map_or(table, |m| m.span());
    if attached.len() > 20 {
        loader
            .err(
                Code::SpecInvalidValue,
                format!(
                    "{} managed policies on one role: IAM attaches at most 20",
                    attached.len()
                ),
                at,
            )
            .set_hint("combine policies into fewer managed policies, or move some into `policies`");
    } else if attached.len() > 10 {
        loader.diags.push(
            Diagnostic::warning(
                WarningCode::Quota,
                format!(
                    "{} managed policies on one role: IAM's default quota is 10 (up to 20 once raised in Service Quotas)",
                    attached.len()
                ),
            )
            .at(&loader.file, at)
            .hint("raise the account's \"Managed policies per role\" quota first, or attach fewer"),
        );
    }
}

/// A role plinth creates needs a trust policy; an existing role takes none of the settings that
/// describe the role itself.
fn check_existing(loader: &mut Loader, raw: &RawRole, table: std::ops::Range<usize>) {
    if !raw.existing {
        if raw.trust.is_none() {
            loader
                .err(Code::SpecMissingField, "a role needs `trust`: who may assume it", table)
                .set_hint("add trust = { Version = \"2012-10-17\", Statement = [...] }, or `existing = true` for a role someone else owns");
        }
        return;
    }
    let span = |l: &Option<Located<String>>| l.as_ref().map(|v| v.span());
    super::shared::refuse_owned_only(
        loader,
        "role",
        &[
            ("path", span(&raw.path)),
            ("description", span(&raw.description)),
            (
                "max_session_hours",
                raw.max_session_hours.as_ref().map(|h| h.span()),
            ),
            ("permissions_boundary", span(&raw.permissions_boundary)),
            ("tags", first_tag(&raw.tags)),
        ],
    );
}

/// An inline policy in any of the policy forms; a table may also hold `when`.
fn load_inline_policy(loader: &mut Loader, value: Located<PolicyValue>) -> InlinePolicy {
    let span = value.span();
    let mut value = value.into_inner();
    let when = match &mut value.json {
        serde_json::Value::Object(table) => table.shift_remove("when"),
        _ => None,
    };
    let strings = match when {
        None => Vec::new(),
        Some(serde_json::Value::String(s)) => vec![s],
        Some(serde_json::Value::Array(items)) if items.iter().all(|i| i.is_string()) => items
            .into_iter()
            .filter_map(|i| match i {
                serde_json::Value::String(s) => Some(s),
                _ => None,
            })
            .collect(),
        Some(other) => {
            loader
                .err(
                    Code::SpecType,
                    format!(
                        "`when` must be a string or a list of strings, not {}",
                        crate::spec::with_article(toml_type_name(&other))
                    ),
                    span.clone(),
                )
                .set_hint("write when = \"${var.NAME}\" with a variable that is true or false");
            Vec::new()
        }
    };
    let when = strings
        .into_iter()
        .map(|s| loader.text_or_stand_in(&loader.string_within(span.clone(), s)))
        .collect();
    InlinePolicy {
        document: loader.policy_or_stand_in(Located::new(span, value)),
        when,
    }
}

impl RoleSpec {
    /// The inline policies that are part of the role: the declared ones whose `when` holds.
    pub fn enabled_policies(
        &self,
        mut lookup: impl FnMut(&Reference) -> Option<String>,
    ) -> impl Iterator<Item = (&String, &PolicyTemplate)> {
        self.policies
            .iter()
            .flatten()
            .filter(move |(_, p)| p.is_enabled(&mut lookup))
            .map(|(n, p)| (n, &p.document))
    }
}

impl RoleSpec {
    pub(crate) const IMPORT: super::ImportFacts = super::ImportFacts {
        words: "role",
        optional_parts: &["policies", "managed_policies"],
        write_rank: 3,
        name_part: super::whole_id,
        write_block: import_block,
    };
}

/// An imported role's block: its name, path and description unless they are AWS's defaults,
/// its trust and inline policies as files, its attachments and boundary as references where
/// they name another imported resource.
fn import_block(found: &Found, w: &mut dyn BlockWriter) {
    let a = &found.live.attributes;
    let sharing = w.sharing_stacks();
    if !sharing.is_empty() {
        return import_shared_block(found, w, &sharing);
    }
    w.literal("name");
    w.text_unless("path", "/");
    w.text_unless("description", "");
    match a.get("max_session_hours") {
        Some(Value::Int(1)) | None => {}
        Some(Value::Int(h)) => w.put("max_session_hours", value(*h)),
        Some(other) => w.note(format!(
            "{}: the role's longest session is {}, not whole hours; plinth leaves it as it is while the block does not set max_session_hours",
            found.address,
            other.as_str().unwrap_or_default()
        )),
    }
    w.policy_file("trust", a.get("trust"));
    import_policies(found, w, &BTreeMap::new(), &BTreeMap::new());
    if let Some(Value::Str(b)) = a.get("permissions_boundary") {
        w.put("permissions_boundary", value(w.template(b)));
    }
    w.tags();
    w.put("adopt", value(true));
}

/// A role another stack shares (`existing = true` there): someone else's, so this stack shares
/// it too, declaring the inline policies and attachments no other stack's record holds; those
/// the others hold are left to them, with a note.
fn import_shared_block(found: &Found, w: &mut dyn BlockWriter, sharing: &[String]) {
    w.literal("name");
    w.put("existing", value(true));
    w.note(format!(
        "{}: shared by stack {}, so declared `existing = true`: its trust, path and tags stay its owner's",
        found.address,
        sharing.join(", ")
    ));
    let inline_held = w.held_by_other_stacks("inline");
    let attached_held = w.held_by_other_stacks("attached");
    import_policies(found, w, &inline_held, &attached_held);
}

/// The role's attachments and inline policies (each as a file), but for those another
/// stack's record holds (`attached_held` by ARN, `inline_held` by name), left to it with a
/// note.
fn import_policies(
    found: &Found,
    w: &mut dyn BlockWriter,
    inline_held: &BTreeMap<String, String>,
    attached_held: &BTreeMap<String, String>,
) {
    let a = &found.live.attributes;
    if let Some(Value::Set(arns)) = a.get("managed_policies") {
        let mut list = Array::new();
        for arn in arns {
            match attached_held.get(arn) {
                Some(stack) => w.note(format!(
                    "{}: the attachment of {arn} is managed by stack `{stack}`, and left to it",
                    found.address
                )),
                None => list.push(w.template(arn)),
            }
        }
        if !list.is_empty() {
            w.put("managed_policies", value(list));
        }
    }
    if let Some(Value::Map(policies)) = a.get("policies") {
        let mut group = Table::new();
        group.set_implicit(true);
        for (name, doc) in policies {
            if let Some(stack) = inline_held.get(name) {
                w.note(format!(
                    "{}: inline policy {name:?} is managed by stack `{stack}`, and left to it",
                    found.address
                ));
                continue;
            }
            let mut inline = Table::new();
            if let Some(file) = w.write_policy(Some(doc), name) {
                inline.insert("file", value(file));
            }
            group.insert(name, Item::Table(inline));
        }
        if !group.is_empty() {
            w.put("policies", Item::Table(group));
        }
    }
}

impl KindSpec for RoleSpec {
    fn name(&self) -> Option<&Text> {
        Some(&self.name)
    }

    fn iam_path(&self) -> Option<&Text> {
        self.path.as_ref()
    }

    fn must_exist(&self) -> bool {
        self.existing
    }

    fn texts(&self) -> Vec<&Text> {
        [&self.name]
            .into_iter()
            .chain(self.path.iter())
            .chain(self.description.iter())
            .chain(self.permissions_boundary.iter())
            .chain(self.managed_policies.iter().flatten())
            .chain(
                self.policies
                    .iter()
                    .flatten()
                    .flat_map(|(_, p)| p.when.iter()),
            )
            .chain(self.tags.texts())
            .collect()
    }

    /// `(attribute, name, document)` for [`super::ResourceBody::policy_documents`].
    fn documents(&self) -> Vec<(&'static str, String, &PolicyTemplate)> {
        // Every declared policy, switched off or not: both settings of a switch must be valid.
        let inline = (self.policies.iter().flatten())
            .map(|(n, p)| ("policies", format!("policies.{n}"), &p.document));
        (self.trust.iter())
            .map(|t| ("trust", "trust".to_string(), t))
            .chain(inline)
            .collect()
    }

    fn check(&self, c: &Checker<'_>, diags: &mut Diagnostics) {
        c.text(
            &self.name,
            |v| rules::iam_name(v, rules::ROLE_NAME_MAX),
            "role names are letters, digits and `_+=,.@-`, at most 64 characters",
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
        if let Some(d) = &self.description {
            c.text(
                d,
                rules::max_chars("a role description", 1000),
                "shorten the description",
                diags,
            );
            c.text(
                d,
                role_description_chars,
                "IAM takes a role description in Latin-1: letters, digits, punctuation, spaces, tabs and line breaks, no emoji",
                diags,
            );
        }
        self.tags.check(Kind::Role, c, diags);
        for arn in self
            .managed_policies
            .iter()
            .flatten()
            .chain(self.permissions_boundary.iter())
        {
            c.text(
                arn,
                rules::arn(rules::MANAGED_POLICY_ARN),
                "write the policy's ARN, e.g. \"arn:aws:iam::aws:policy/ReadOnlyAccess\" or \"${policy.NAME.arn}\"",
                diags,
            );
        }
        if let Some(hours) = &self.max_session_hours {
            c.range("max_session_hours", hours, MAX_SESSION_HOURS, diags);
        }
        if let (true, Some(trust)) = (self.existing, &self.trust) {
            super::shared::require_sids(trust, "trust policy", c, diags);
        }
        for (name, policy) in self.policies.iter().flatten() {
            for when in &policy.when {
                crate::spec::switch::check_when(&format!("policy `{name}`"), when, c, diags);
            }
        }
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
        if let Some((h, _)) = &self.max_session_hours {
            attrs.insert("max_session_hours".into(), Value::Int(*h));
        }
        if let Some(trust) = &self.trust {
            attrs.insert("trust".into(), r.policy_or_report(trust, diags));
        }
        if let Some(arns) = &self.managed_policies {
            attrs.insert("managed_policies".into(), r.set(arns));
        } else if self.existing {
            // Read even when none is declared: the ones declared before are removed.
            attrs.insert("managed_policies".into(), Value::Set(Vec::new()));
        }
        if self.policies.is_some() || self.existing {
            let map = self
                .enabled_policies(|x| r.lookup(x))
                .map(|(name, p)| (name.clone(), r.policy_or_report(p, diags)))
                .collect();
            attrs.insert("policies".into(), Value::Map(map));
        }
        if let Some(b) = &self.permissions_boundary {
            attrs.insert("permissions_boundary".into(), r.value(b));
        }
        self.tags.desire(r, &mut attrs);
        attrs
    }

    fn export(
        &self,
        attribute: &str,
        r: &Resolver<'_>,
        live: Option<&LiveResource>,
    ) -> Option<String> {
        let name = r.text(&self.name)?;
        let path = match &self.path {
            Some(p) => r.text(p)?,
            None => "/".to_string(),
        };
        match attribute {
            "name" => Some(name),
            "path" => Some(path),
            "arn" => Some(r.account().arn(Kind::Role, &format!("{path}{name}"))),
            // Assigned by IAM: known only once the role exists under that name.
            _ => super::assigned_export(live, &name, attribute),
        }
    }
}

/// The characters IAM accepts in a role's description (`[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*`).
fn role_description_chars(description: &str) -> Result<(), String> {
    let allowed = |c: char| matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{A1}'..='\u{FF}');
    match description.chars().find(|c| !allowed(*c)) {
        Some(c) => Err(format!(
            "a role description may not hold `{c}` (U+{:04X}); IAM refuses it",
            c as u32
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::role_description_chars;

    #[test]
    fn a_role_description_is_in_the_characters_iam_accepts() {
        for good in [
            "Tonic's worker role",
            "Zugriff für Tonic\tüber\nzwei Zeilen",
            "",
        ] {
            assert_eq!(role_description_chars(good), Ok(()), "{good}");
        }
        for bad in ["Role 🚀 for things", "ends with a bell \u{7}", "Zeichen €"] {
            let message = role_description_chars(bad).expect_err(bad);
            assert!(message.contains("IAM refuses it"), "{message}");
        }
    }
}
