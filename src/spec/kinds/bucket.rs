//! `[bucket.NAME]`: an S3 bucket the stack creates and owns, or, with `existing = true`, a
//! bucket someone else owns on which plinth manages only the settings the spec lists: event
//! notifications to queues and functions, CORS, the bucket policy, the public access block,
//! default encryption and tags.

use std::collections::BTreeMap;

use crate::spec::{Located, PolicyField, PolicyValue};
use serde::Deserialize;
use toml_edit::{value, ArrayOfTables, Item, Table};

use super::block::{plural, BlockWriter, Found};
use super::common::{first_tag, RawTags, Tags};
use super::{KindSpec, Lifecycle};
use crate::diag::{Code, Diagnostic, Diagnostics, Location};
use crate::model::bucket::{
    cors_rule, is_recordable_id, notification, notifications_value, public_access_block, with_id,
};
pub use crate::model::bucket::{CorsRule, MANAGED_SETTINGS};
use crate::model::{Address, Attributes, Kind, Value};
use crate::spec::resolve::Resolver;
use crate::spec::rules::{self, Charset, Checker};
use crate::spec::{BlockValue, Loader, PolicyTemplate, Text};
use crate::state::LiveResource;

#[derive(Debug)]
pub struct BucketSpec {
    pub name: Text,
    /// Someone else's bucket: never created or deleted, only the listed settings are managed.
    pub existing: bool,
    /// Deleting the bucket deletes every object in it first.
    pub force_destroy: bool,
    pub policy: Option<PolicyTemplate>,
    /// The CORS rules as written; their strings may hold references, filled in from
    /// `cors_texts`.
    pub cors: Option<Vec<CorsRule>>,
    /// Each rule's strings as templates, in [`rule_strings`] order.
    pub cors_texts: Vec<Vec<Text>>,
    /// Where each CORS rule is written, in the order of `cors`.
    pub cors_locations: Vec<Location>,
    pub public_access_block: Option<PublicAccessBlock>,
    pub encryption: Option<Encryption>,
    /// The whole notification document; `None` leaves notifications unmanaged.
    pub notifications: Option<Vec<Notification>>,
    pub tags: Tags,
}

/// S3's four switches; each one left out is off, as S3 has it.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicAccessBlock {
    #[serde(default)]
    pub block_public_acls: bool,
    #[serde(default)]
    pub ignore_public_acls: bool,
    #[serde(default)]
    pub block_public_policy: bool,
    #[serde(default)]
    pub restrict_public_buckets: bool,
}

#[derive(Debug)]
pub struct Encryption {
    /// `"s3"` (SSE-S3) or `"kms"` (SSE-KMS).
    pub sse: Located<String>,
    /// The KMS key (ARN, id or alias), usually `${key.NAME.arn}`; without it, SSE-KMS uses
    /// the account's `aws/s3` key.
    pub kms_key: Option<Text>,
    pub bucket_key: bool,
    pub location: Location,
}

#[derive(Debug)]
pub struct Notification {
    /// Its id in S3's notification document; on a shared bucket plinth owns exactly the
    /// entries it names (derived from the stack and the block when left out).
    pub id: Option<String>,
    pub target: NotificationTarget,
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
    /// `id`, `prefix` and `suffix` as templates (they may hold references), in that order,
    /// those present.
    pub texts: Vec<Text>,
    pub location: Location,
}

impl Notification {
    /// The notification with its `id`, `prefix` and `suffix` filled in by `fill`.
    fn filled(&self, mut fill: impl FnMut(&Text) -> String) -> Notification {
        let mut texts = self.texts.iter();
        let mut next = |present: bool| present.then(|| texts.next().map(&mut fill)).flatten();
        Notification {
            id: next(self.id.is_some()),
            target: self.target.clone(),
            events: self.events.clone(),
            prefix: next(self.prefix.is_some()),
            suffix: next(self.suffix.is_some()),
            texts: Vec::new(),
            location: self.location.clone(),
        }
    }

    fn filter(&self) -> EventFilter<'_> {
        EventFilter {
            events: &self.events,
            prefix: self.prefix.as_deref(),
            suffix: self.suffix.as_deref(),
        }
    }
}

#[derive(Debug, Clone)]
pub enum NotificationTarget {
    /// An SQS queue ARN.
    Queue(Text),
    /// A Lambda function ARN.
    Function(Text),
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Bucket")]
pub(crate) struct RawBucket {
    #[schemars(pattern(bucket_name_pattern()))]
    name: Located<String>,
    #[serde(default)]
    existing: bool,
    #[serde(default)]
    force_destroy: Option<Located<bool>>,
    #[schemars(with = "Option<PolicyField>")]
    policy: Option<Located<PolicyValue>>,
    cors: Option<Vec<Located<CorsRule>>>,
    public_access_block: Option<PublicAccessBlock>,
    encryption: Option<Located<RawEncryption>>,
    notification: Option<Vec<Located<RawNotification>>>,
    tags: RawTags,
    #[serde(default)]
    adopt: bool,
    #[serde(default)]
    prevent_destroy: bool,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Encryption")]
struct RawEncryption {
    #[schemars(extend("enum" = SSE_KINDS))]
    sse: Located<String>,
    kms_key: Option<Located<String>>,
    #[serde(default)]
    bucket_key: bool,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Notification")]
struct RawNotification {
    id: Option<String>,
    queue: Option<Located<String>>,
    function: Option<Located<String>>,
    events: Vec<String>,
    prefix: Option<String>,
    suffix: Option<String>,
}

pub(super) fn load(
    loader: &mut Loader,
    block: BlockValue<'_, '_>,
) -> Option<(BucketSpec, Lifecycle)> {
    let raw: RawBucket = loader.deserialize_block(block)?;
    if let (true, Some(force)) = (raw.existing, &raw.force_destroy) {
        loader
            .err(
                Code::SpecInvalidValue,
                "force_destroy does not apply to an existing bucket: plinth never deletes it",
                force.span(),
            )
            .set_hint("remove force_destroy");
    }
    if raw.existing {
        let first_tag = first_tag(&raw.tags);
        super::shared::refuse_owned_only(loader, "bucket", &[("tags", first_tag)]);
    }
    let notifications = raw.notification.map(|notifications| {
        notifications
            .into_iter()
            .filter_map(|n| {
                let span = n.span();
                let n = n.into_inner();
                let target = match (&n.queue, &n.function) {
                    (Some(q), None) => NotificationTarget::Queue(loader.text_or_stand_in(q)),
                    (None, Some(f)) => NotificationTarget::Function(loader.text_or_stand_in(f)),
                    _ => {
                        loader
                            .err(Code::SpecInvalidValue, "a notification goes to exactly one queue or function", span)
                            .set_hint("write queue = \"${queue.NAME.arn}\" or function = \"${function.NAME.arn}\"");
                        return None;
                    }
                };
                let texts = [&n.id, &n.prefix, &n.suffix]
                    .into_iter()
                    .flatten()
                    .map(|v| {
                        let located = loader.string_within(span.clone(), v.clone());
                        loader.text_or_stand_in(&located)
                    })
                    .collect();
                Some(Notification { id: n.id, target, events: n.events, prefix: n.prefix, suffix: n.suffix, texts, location: loader.location(span) })
            })
            .collect()
    });
    let spec = BucketSpec {
        name: loader.text_or_stand_in(&raw.name),
        existing: raw.existing,
        force_destroy: raw.force_destroy.as_ref().is_some_and(|f| *f.get_ref()),
        policy: raw.policy.map(|p| loader.policy_or_stand_in(p)),
        cors_locations: raw
            .cors
            .iter()
            .flatten()
            .map(|c| loader.location(c.span()))
            .collect(),
        cors_texts: (raw.cors.iter().flatten())
            .map(|rule| {
                rule_strings(rule.get_ref())
                    .map(|v| {
                        let located = loader.string_within(rule.span(), v.clone());
                        loader.text_or_stand_in(&located)
                    })
                    .collect()
            })
            .collect(),
        cors: raw
            .cors
            .map(|rules| rules.into_iter().map(Located::into_inner).collect()),
        public_access_block: raw.public_access_block,
        encryption: raw.encryption.map(|e| {
            let location = loader.location(e.span());
            let e = e.into_inner();
            Encryption {
                kms_key: e.kms_key.as_ref().map(|k| loader.text_or_stand_in(k)),
                sse: e.sse,
                bucket_key: e.bucket_key,
                location,
            }
        }),
        notifications,
        tags: Tags::load(loader, Kind::Bucket, &raw.tags),
    };
    // An existing bucket is by definition not this stack's yet: taking over its settings is
    // adopting it.
    Some((
        spec,
        Lifecycle::new(raw.adopt || raw.existing, raw.prevent_destroy),
    ))
}

/// A CORS rule's strings, in one order: its id, origins, methods, allowed and exposed headers.
fn rule_strings(rule: &CorsRule) -> impl Iterator<Item = &String> {
    (rule.id.iter())
        .chain(&rule.allowed_origins)
        .chain(&rule.allowed_methods)
        .chain(&rule.allowed_headers)
        .chain(&rule.expose_headers)
}

/// `rule` with each of its strings ([`rule_strings`] order) filled in from `texts` by `fill`.
fn filled_rule(rule: &CorsRule, texts: &[Text], mut fill: impl FnMut(&Text) -> String) -> CorsRule {
    let mut texts = texts.iter();
    let mut one = |value: &String| texts.next().map_or_else(|| value.clone(), &mut fill);
    let id = rule.id.as_ref().map(&mut one);
    let mut list = |values: &[String]| values.iter().map(&mut one).collect::<Vec<_>>();
    CorsRule {
        id,
        allowed_origins: list(&rule.allowed_origins),
        allowed_methods: list(&rule.allowed_methods),
        allowed_headers: list(&rule.allowed_headers),
        expose_headers: list(&rule.expose_headers),
        max_age: rule.max_age,
    }
}

/// What S3 accepts as a bucket name: its characters, those it may begin and end with, and
/// its length. The check below and the JSON Schema's pattern are both made from these.
const BUCKET_CHARS: Charset = Charset("a-z0-9.-");
const BUCKET_EDGE_CHARS: Charset = Charset("a-z0-9");
const BUCKET_NAME_LENGTH: std::ops::RangeInclusive<usize> = 3..=63;
/// The kinds of default encryption: SSE-S3 and SSE-KMS.
pub(crate) const SSE_KINDS: &[&str] = &["s3", "kms"];

pub(crate) fn bucket_name_pattern() -> String {
    let edge = format!("[{}]", BUCKET_EDGE_CHARS.0);
    let inner = BUCKET_CHARS.repeat(BUCKET_NAME_LENGTH.start() - 2, BUCKET_NAME_LENGTH.end() - 2);
    BUCKET_CHARS.pattern_with_references(&format!("{edge}{inner}{edge}"))
}

pub fn bucket_name(name: &str) -> Result<(), String> {
    if !BUCKET_NAME_LENGTH.contains(&name.len()) {
        return Err(format!(
            "`{}` is {} characters; S3 allows {} to {}",
            rules::clipped(name),
            name.len(),
            BUCKET_NAME_LENGTH.start(),
            BUCKET_NAME_LENGTH.end()
        ));
    }
    if let Some(c) = BUCKET_CHARS.first_outside(name) {
        return Err(format!(
            "`{name}` contains `{c}`; S3 bucket names are lowercase letters, digits, `-` and `.`"
        ));
    }
    let edge = |c: Option<char>| c.is_some_and(|c| BUCKET_EDGE_CHARS.allows(c));
    if !edge(name.chars().next()) || !edge(name.chars().last()) {
        return Err(format!(
            "`{name}` must begin and end with a letter or digit"
        ));
    }
    if name.contains("..") {
        return Err(format!(
            "`{name}` has two periods in a row, which S3 refuses"
        ));
    }
    // Four groups of digits is the shape S3 refuses (`192.168.05.1` too, which no address
    // parser takes).
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() == 4
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "`{name}` is formatted as an IP address, which S3 refuses as a bucket name"
        ));
    }
    if let Some(prefix) = RESERVED_PREFIXES.iter().find(|p| name.starts_with(*p)) {
        return Err(format!(
            "`{name}` begins with `{prefix}`, a prefix S3 reserves"
        ));
    }
    if let Some((suffix, what)) = RESERVED_SUFFIXES.iter().find(|(s, _)| name.ends_with(s)) {
        return Err(format!(
            "`{name}` ends with `{suffix}`, which S3 reserves for {what}"
        ));
    }
    Ok(())
}

/// Prefixes S3 refuses at the start of a general purpose bucket's name (its naming rules:
/// `xn--` is an internationalized domain's, the others S3's own).
const RESERVED_PREFIXES: &[&str] = &["xn--", "sthree-", "amzn-s3-demo-"];
/// Suffixes S3 keeps for the names of other things, each with what it names.
const RESERVED_SUFFIXES: &[(&str, &str)] = &[
    ("-s3alias", "access point aliases"),
    ("--ol-s3", "Object Lambda Access Point aliases"),
    (".mrap", "Multi-Region Access Points"),
    ("--x-s3", "directory buckets"),
    ("--table-s3", "table buckets"),
    ("-an", "buckets in an account regional namespace"),
];

/// The longest prefix or suffix a notification's filter may hold (S3's `FilterRule.Value`).
const MAX_FILTER_CHARS: usize = 1024;

/// Most CORS rules S3 keeps on a bucket.
const MAX_CORS_RULES: usize = 100;
/// The methods a CORS rule may allow (S3's `CORSRule.AllowedMethods`).
const CORS_METHODS: &[&str] = &["GET", "PUT", "HEAD", "POST", "DELETE"];

/// The event types S3 sends to a queue, topic or function (S3's API reference,
/// `QueueConfiguration.Events`).
const EVENT_TYPES: &[&str] = &[
    "s3:ReducedRedundancyLostObject",
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectAcl:Put",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
];

/// What of a notification decides which events it sends: its event types and key filters.
pub(crate) struct EventFilter<'a> {
    pub events: &'a [String],
    pub prefix: Option<&'a str>,
    pub suffix: Option<&'a str>,
}

impl EventFilter<'_> {
    /// Whether one object's event could match both: S3 refuses two such entries in one
    /// notification document ("Configurations overlap").
    pub(crate) fn overlaps(&self, other: &EventFilter<'_>) -> bool {
        self.events
            .iter()
            .any(|a| other.events.iter().any(|b| events_overlap(a, b)))
            && filters_overlap(self.prefix, other.prefix, true)
            && filters_overlap(self.suffix, other.suffix, false)
    }
}

/// Whether two event types can name the same event: equal, or one the other's `*` family.
fn events_overlap(a: &str, b: &str) -> bool {
    let family = |e: &str| e.strip_suffix('*').map(str::to_string);
    a == b
        || family(a).is_some_and(|f| b.starts_with(&f))
        || family(b).is_some_and(|f| a.starts_with(&f))
}

/// Whether two key filters (prefix or suffix) can both match one key: either is absent, or
/// one extends the other (`starts` for prefixes, ends for suffixes).
fn filters_overlap(a: Option<&str>, b: Option<&str>, starts: bool) -> bool {
    match (a, b) {
        (Some(a), Some(b)) if starts => a.starts_with(b) || b.starts_with(a),
        (Some(a), Some(b)) => a.ends_with(b) || b.ends_with(a),
        _ => true,
    }
}

impl BucketSpec {
    /// S3 refuses a notification configuration in which two entries could send one event
    /// ("Configurations overlap"): an event type in common and key filters one key can match.
    fn check_overlapping_notifications(notifications: &[Notification], diags: &mut Diagnostics) {
        for (i, later) in notifications.iter().enumerate() {
            let filter = later.filter();
            let Some(earlier) = notifications[..i]
                .iter()
                .find(|earlier| earlier.filter().overlaps(&filter))
            else {
                continue;
            };
            diags.push(
                Diagnostic::error(
                    Code::SpecInvalidValue,
                    format!("this notification overlaps the one at {}: one object's event could match both, which S3 refuses", earlier.location.display()),
                )
                .at_location(Some(later.location.clone()))
                .hint("give the two notifications event types or prefixes and suffixes no one object matches, or send both to one target"),
            );
        }
    }

    /// An id names one CORS rule, or one notification, of the block. On a shared bucket,
    /// plinth records the ids of its entries in a tag (space-separated), so an id it is given
    /// must also be one it can record.
    fn check_entry_ids(
        &self,
        cors: &[CorsRule],
        notifications: &[Notification],
        diags: &mut Diagnostics,
    ) {
        let cors = cors
            .iter()
            .zip(&self.cors_locations)
            .map(|(c, location)| (c.id.as_deref(), "CORS rule", location));
        let notifications = notifications
            .iter()
            .map(|n| (n.id.as_deref(), "notification", &n.location));
        let mut seen: BTreeMap<(&str, &str), ()> = BTreeMap::new();
        for (id, what, location) in cors.chain(notifications) {
            let Some(id) = id else { continue };
            let problem = if self.existing && !is_recordable_id(id) {
                format!("the {what} id {id:?} on an existing bucket is not letters, digits, `-`, `_` and `.` only")
            } else if seen.insert((what, id), ()).is_some() {
                format!("two {what}s of the block have the id {id:?}")
            } else {
                continue;
            };
            let hint = if self.existing {
                "give each entry an id of letters, digits, `-`, `_` and `.` (or none: plinth derives one from the stack and the block): on an existing bucket plinth owns exactly the entries it names and keeps the others"
            } else {
                "give each entry its own id, or none (S3 makes one up)"
            };
            diags.push(
                Diagnostic::error(Code::SpecSharedEntryId, problem)
                    .at_location(Some(location.clone()))
                    .hint(hint),
            );
        }
    }

    /// The settings this block declares, by their attribute names.
    fn managed(&self) -> Vec<&'static str> {
        let declared = [
            self.cors.is_some(),
            self.encryption.is_some(),
            self.notifications.is_some(),
            self.policy.is_some(),
            self.public_access_block.is_some(),
            self.tags.is_some(),
        ];
        MANAGED_SETTINGS
            .iter()
            .zip(declared)
            .filter(|(_, d)| *d)
            .map(|(s, _)| *s)
            .collect()
    }
}

impl BucketSpec {
    pub(crate) const IMPORT: super::ImportFacts = super::ImportFacts {
        words: "bucket",
        optional_parts: &[
            "policy",
            "cors",
            "public_access_block",
            "encryption",
            "notifications",
        ],
        write_rank: 1,
        name_part: super::whole_id,
        write_block: import_block,
    };
}

/// An imported bucket's block: an existing bucket, with the statements of its policy, the CORS
/// rules and notifications plinth can name by id, and its settings unless they are S3's
/// defaults.
fn import_block(found: &Found, w: &mut dyn BlockWriter) {
    let a = &found.live.attributes;
    let from = &found.address;
    w.literal("name");
    w.put("existing", value(true));
    w.shared_policy(a.get("policy"), "bucket policy");
    let cors = named_entries(from, w, a.get("cors"), "CORS rule", "cors");
    if !cors.is_empty() {
        let mut list = ArrayOfTables::new();
        for rule in cors {
            list.push(w.table(rule));
        }
        w.put("cors", Item::ArrayOfTables(list));
    }
    if let Some(v) = a
        .get("public_access_block")
        .filter(|v| **v != crate::model::bucket::public_access_block(false, false, false, false))
    {
        let item = w.item(v);
        w.put("public_access_block", item);
    }
    if let Some(v) = a.get("encryption") {
        let item = w.item(v);
        w.put("encryption", item);
    }
    let entries = named_entries(
        from,
        w,
        a.get("notifications"),
        "notification",
        "notification",
    );
    let mut list = ArrayOfTables::new();
    for entry in entries {
        let Value::Map(m) = entry else { continue };
        if m.contains_key("topic") || m.contains_key("eventbridge") {
            let note = format!(
                "{from}: a notification to {} is not declared (plinth manages queue and function notifications); it is kept as it is",
                if m.contains_key("topic") { "an SNS topic" } else { "EventBridge" }
            );
            w.note(note);
            continue;
        }
        let mut table = Table::new();
        for (k, v) in m {
            let item = match (k.as_str(), v) {
                ("queue", Value::Str(arn)) => value(
                    w.reference_to(Kind::Queue, "arn", arn)
                        .unwrap_or_else(|| w.template(arn)),
                ),
                ("function", Value::Str(arn)) => value(
                    w.reference_to(Kind::Function, "arn", arn)
                        .unwrap_or_else(|| w.template(arn)),
                ),
                _ => w.item(v),
            };
            table.insert(k, item);
        }
        list.push(table);
    }
    if !list.is_empty() {
        w.put("notification", Item::ArrayOfTables(list));
    }
}

/// The entries of a shared bucket's collection (CORS rules, notifications) the block can
/// declare: plinth owns exactly the entries it names by id, so one without an id it can
/// record is left to its owner, with a note; so is one another stack's record holds.
fn named_entries<'v>(
    from: &Address,
    w: &mut dyn BlockWriter,
    v: Option<&'v Value>,
    what: &str,
    part: &str,
) -> Vec<&'v Value> {
    let Some(Value::List(entries)) = v else {
        return Vec::new();
    };
    let held = w.held_by_other_stacks(part);
    let (theirs, entries): (Vec<&Value>, Vec<&Value>) = entries
        .iter()
        .partition(|e| crate::model::bucket::entry_id(e).is_some_and(|id| held.contains_key(id)));
    for entry in theirs {
        let id = crate::model::bucket::entry_id(entry).unwrap_or_default();
        w.note(format!(
            "{from}: {what} {id} is managed by stack `{}`, and left to it",
            held[id]
        ));
    }
    let (named, others): (Vec<&Value>, Vec<&Value>) = entries.into_iter().partition(|e| {
        crate::model::bucket::entry_id(e).is_some_and(crate::model::bucket::is_recordable_id)
            || matches!(e, Value::Map(m) if m.contains_key("eventbridge"))
    });
    if !others.is_empty() {
        w.note(format!(
            "{from}: {} {what}{} without an id plinth can record {} kept as {} {} and not declared: plinth manages the {what}s of an existing bucket by id (letters, digits, `-`, `_`, `.`); give {} one to declare {}",
            others.len(),
            plural(others.len()),
            if others.len() == 1 { "is" } else { "are" },
            if others.len() == 1 { "it" } else { "they" },
            if others.len() == 1 { "is" } else { "are" },
            if others.len() == 1 { "it" } else { "them" },
            if others.len() == 1 { "it" } else { "them" },
        ));
    }
    named
}

impl KindSpec for BucketSpec {
    fn name(&self) -> Option<&Text> {
        Some(&self.name)
    }

    fn documents(&self) -> Vec<(&'static str, String, &PolicyTemplate)> {
        super::single_document("policy", &self.policy)
    }

    fn must_exist(&self) -> bool {
        self.existing
    }

    fn texts(&self) -> Vec<&Text> {
        [&self.name]
            .into_iter()
            .chain(self.encryption.iter().flat_map(|e| e.kms_key.iter()))
            .chain(
                self.notifications
                    .iter()
                    .flatten()
                    .map(|n| match &n.target {
                        NotificationTarget::Queue(t) | NotificationTarget::Function(t) => t,
                    }),
            )
            .chain(self.cors_texts.iter().flatten())
            .chain(self.notifications.iter().flatten().flat_map(|n| &n.texts))
            .chain(self.tags.texts())
            .collect()
    }

    fn check(&self, c: &Checker<'_>, diags: &mut Diagnostics) {
        if let (true, Some(policy)) = (self.existing, &self.policy) {
            super::shared::require_sids(policy, "bucket policy", c, diags);
        }
        // The rules and notifications as far as their values can be told (references to
        // what is known only at plan stay as written until then).
        let fill = |t: &Text| c.shape(t).unwrap_or_else(|| t.raw.clone());
        let cors: Vec<CorsRule> = (self.cors.iter().flatten())
            .zip(&self.cors_texts)
            .map(|(rule, texts)| filled_rule(rule, texts, fill))
            .collect();
        let notifications: Vec<Notification> = (self.notifications.iter().flatten())
            .map(|n| n.filled(fill))
            .collect();
        self.check_entry_ids(&cors, &notifications, diags);
        for n in self.notifications.iter().flatten() {
            let mut texts = n.texts.iter().skip(usize::from(n.id.is_some()));
            for (field, present) in [
                ("prefix", n.prefix.is_some()),
                ("suffix", n.suffix.is_some()),
            ] {
                let Some(text) = present.then(|| texts.next()).flatten() else {
                    continue;
                };
                let longest = |value: &str| {
                    match value.chars().count() {
                    n if n > MAX_FILTER_CHARS => Err(format!(
                        "a notification's {field} is {n} characters; S3 takes at most {MAX_FILTER_CHARS}"
                    )),
                    _ => Ok(()),
                }
                };
                c.text(text, longest, "shorten the filter: S3 matches object keys by a prefix or suffix of at most 1,024 characters", diags);
            }
        }
        c.text(
            &self.name,
            bucket_name,
            "bucket names are 3 to 63 lowercase letters, digits, `-` and `.`; S3 also refuses `..`, IP addresses and a few reserved prefixes and suffixes",
            diags,
        );
        self.tags.check(Kind::Bucket, c, diags);
        if let Some(e) = &self.encryption {
            if let Some(key) = &e.kms_key {
                c.text(
                    key,
                    rules::kms_key_reference,
                    "write the key as \"${key.NAME.arn}\", \"alias/NAME\" or its id",
                    diags,
                );
            }
            match (e.sse.get_ref().as_str(), &e.kms_key) {
                ("kms", _) | ("s3", None) => {}
                ("s3", Some(key)) => diags.push(
                    Diagnostic::error(
                        Code::SpecInvalidValue,
                        "a KMS key applies only to sse = \"kms\"",
                    )
                    .at_location(Some(key.location.clone()))
                    .hint("set sse = \"kms\", or remove kms_key"),
                ),
                (other, _) => diags.push(
                    Diagnostic::error(
                        Code::SpecInvalidValue,
                        format!("`{other}` is not a kind of default encryption"),
                    )
                    .at_location(Some(e.location.clone()))
                    .hint("write sse = \"s3\" (S3-managed keys) or sse = \"kms\" (a KMS key)"),
                ),
            }
        }
        for n in self.notifications.iter().flatten() {
            match &n.target {
                NotificationTarget::Queue(q) => c.text(
                    q,
                    rules::arn(rules::QUEUE_ARN),
                    "write the queue's ARN, usually \"${queue.NAME.arn}\"",
                    diags,
                ),
                NotificationTarget::Function(f) => c.text(
                    f,
                    rules::arn(rules::FUNCTION_ARN),
                    "write the function's ARN, usually \"${function.NAME.arn}\"",
                    diags,
                ),
            }
            if n.events.is_empty() || n.events.iter().any(|e| !e.starts_with("s3:")) {
                diags.push(
                    Diagnostic::error(
                        Code::SpecInvalidValue,
                        "a notification needs events like \"s3:ObjectCreated:*\"",
                    )
                    .at_location(Some(n.location.clone()))
                    .hint("list S3 event types, e.g. events = [\"s3:ObjectCreated:*\"]"),
                );
            } else if let Some(unknown) =
                n.events.iter().find(|e| !EVENT_TYPES.contains(&e.as_str()))
            {
                let hint = crate::spec::load::did_you_mean(unknown, EVENT_TYPES).unwrap_or_else(|| {
                    "S3's event types are s3:ObjectCreated:*, s3:ObjectRemoved:*, s3:ObjectRestore:*, s3:ObjectTagging:*, ... (S3's list of event notification types)".to_string()
                });
                diags.push(
                    Diagnostic::error(
                        Code::SpecInvalidValue,
                        format!("`{unknown}` is not an S3 event type"),
                    )
                    .at_location(Some(n.location.clone()))
                    .hint(hint),
                );
            }
            let (NotificationTarget::Queue(target) | NotificationTarget::Function(target)) =
                &n.target;
            if let Some(other) = c.elsewhere(target, false) {
                diags.push(
                    Diagnostic::error(
                        Code::SpecInvalidValue,
                        format!("the notification's target is in {other}; S3 notifies only queues and functions of the bucket's region"),
                    )
                    .at_location(Some(target.location.clone()))
                    .hint("notify a queue or function in the stack's region"),
                );
            }
            if let NotificationTarget::Queue(q) = &n.target {
                if c.shape(q).is_some_and(|arn| arn.ends_with(".fifo")) {
                    diags.push(
                        Diagnostic::error(Code::SpecInvalidValue, "S3 cannot notify a FIFO queue")
                            .at_location(Some(q.location.clone()))
                            .hint("notify a standard queue: S3 refuses FIFO queues as event destinations"),
                    );
                }
            }
        }
        Self::check_overlapping_notifications(&notifications, diags);
        if let Some(rules) = self.cors.as_ref().filter(|r| r.len() > MAX_CORS_RULES) {
            diags.push(
                Diagnostic::error(
                    Code::SpecInvalidValue,
                    format!(
                        "{} CORS rules: S3 takes at most {MAX_CORS_RULES} on a bucket",
                        rules.len()
                    ),
                )
                .at_location(Some(
                    self.cors_locations
                        .get(MAX_CORS_RULES)
                        .unwrap_or(&self.name.location)
                        .clone(),
                ))
                .hint("merge rules: one rule may list several origins, methods and headers"),
            );
        }
        for (i, rule) in cors.iter().enumerate() {
            let at = self.cors_locations.get(i).unwrap_or(&self.name.location);
            let mut problems = Vec::new();
            if rule.allowed_origins.is_empty() || rule.allowed_methods.is_empty() {
                problems.push((
                    "every CORS rule needs allowed_origins and allowed_methods".to_string(),
                    "add allowed_origins = [\"https://...\"] and allowed_methods = [\"GET\", \"PUT\"]".to_string(),
                ));
            }
            if let Some(method) = rule
                .allowed_methods
                .iter()
                .find(|m| !CORS_METHODS.contains(&m.as_str()))
            {
                problems.push((
                    format!("`{method}` is not a method S3 allows in a CORS rule"),
                    format!(
                        "S3's CORS methods are {}, in capitals",
                        CORS_METHODS.join(", ")
                    ),
                ));
            }
            let wildcards = |s: &String| s.matches('*').count() > 1;
            let several = rule
                .allowed_origins
                .iter()
                .chain(&rule.allowed_headers)
                .find(|s| wildcards(s));
            if let Some(several) = several {
                problems.push((
                    format!("`{several}` has more than one `*`; S3 allows one in each origin and header of a CORS rule"),
                    "write one `*`, e.g. \"https://*.example.com\", or list the origins".to_string(),
                ));
            }
            if let Some(id) = rule.id.as_ref().filter(|id| id.chars().count() > 255) {
                problems.push((
                    format!(
                        "the CORS rule's id is {} characters; S3 takes at most 255",
                        id.chars().count()
                    ),
                    "shorten the id".to_string(),
                ));
            }
            if let Some(max_age) = rule.max_age.filter(|m| *m > i64::from(i32::MAX)) {
                problems.push((
                    format!("max_age is {max_age}; S3 takes a CORS rule's max_age as a 32-bit number of seconds, at most {}", i32::MAX),
                    "set max_age to the seconds a browser may cache the answer, e.g. 3000".to_string(),
                ));
            }
            if let Some(max_age) = rule.max_age.filter(|m| *m < 0) {
                problems.push((
                    format!("max_age is {max_age}; a CORS rule's max_age is a number of seconds, 0 or more"),
                    "set max_age to the seconds a browser may cache the answer, e.g. 3000".to_string(),
                ));
            }
            for (message, hint) in problems {
                diags.push(
                    Diagnostic::error(Code::SpecInvalidValue, message)
                        .at_location(Some(at.clone()))
                        .hint(hint),
                );
            }
        }
    }

    fn desired(&self, r: &Resolver<'_>, diags: &mut Diagnostics) -> Attributes {
        let mut attrs = Attributes::new();
        attrs.insert("name".into(), r.value(&self.name));
        attrs.insert("existing".into(), Value::Bool(self.existing));
        if self.existing {
            attrs.insert("manages".into(), Value::set(self.managed()));
        } else {
            attrs.insert("force_destroy".into(), Value::Bool(self.force_destroy));
        }
        if let Some(p) = &self.policy {
            attrs.insert("policy".into(), r.policy_or_report(p, diags));
        }
        // A CORS rule's or a notification's string made of a value known only after apply
        // cannot be sent: said once, and left as written.
        let mut later = Vec::new();
        let mut fill = |t: &Text| {
            r.text(t).unwrap_or_else(|| {
                later.push(t.location.clone());
                t.raw.clone()
            })
        };
        if let Some(rules) = &self.cors {
            let filled: Vec<Value> = (rules.iter().zip(&self.cors_texts))
                .map(|(rule, texts)| cors_rule(&filled_rule(rule, texts, &mut fill)))
                .collect();
            attrs.insert("cors".into(), Value::List(filled));
        }
        if let Some(b) = &self.public_access_block {
            attrs.insert(
                "public_access_block".into(),
                public_access_block(
                    b.block_public_acls,
                    b.ignore_public_acls,
                    b.block_public_policy,
                    b.restrict_public_buckets,
                ),
            );
        }
        if let Some(e) = &self.encryption {
            let mut map = BTreeMap::from([
                ("sse".to_string(), Value::str(e.sse.get_ref())),
                ("bucket_key".to_string(), Value::Bool(e.bucket_key)),
            ]);
            if let Some(key) = &e.kms_key {
                map.insert("kms_key".into(), r.value(key));
            }
            attrs.insert("encryption".into(), Value::Map(map));
        }
        if let Some(notifications) = &self.notifications {
            let entries = notifications
                .iter()
                .map(|n| {
                    let (kind, target) = match &n.target {
                        NotificationTarget::Queue(t) => ("queue", t),
                        NotificationTarget::Function(t) => ("function", t),
                    };
                    let n = n.filled(&mut fill);
                    let entry = notification(
                        kind,
                        r.value(target),
                        n.events.iter().cloned(),
                        n.prefix.clone(),
                        n.suffix.clone(),
                    );
                    match &n.id {
                        Some(id) => with_id(entry, id),
                        None => entry,
                    }
                })
                .collect();
            attrs.insert("notifications".into(), notifications_value(entries));
        }
        for at in later {
            diags.push(
                Diagnostic::error(Code::PlanUnknownValue, "a CORS rule's or a notification's string refers to a value known only after apply")
                    .at_location(Some(at))
                    .hint("use variables, or attributes known before apply (a resource's name or ARN)"),
            );
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
            "arn" => Some(r.account().arn(Kind::Bucket, &name)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{bucket_name, events_overlap, filters_overlap};

    #[test]
    fn notifications_overlap_when_one_event_of_one_key_matches_both() {
        assert!(events_overlap("s3:ObjectCreated:*", "s3:ObjectCreated:Put"));
        assert!(events_overlap("s3:ObjectCreated:Put", "s3:ObjectCreated:*"));
        assert!(events_overlap(
            "s3:ObjectRemoved:Delete",
            "s3:ObjectRemoved:Delete"
        ));
        assert!(!events_overlap("s3:ObjectCreated:*", "s3:ObjectRemoved:*"));
        assert!(!events_overlap(
            "s3:ObjectCreated:Put",
            "s3:ObjectCreated:Post"
        ));
        // Prefixes: one extends the other, or either is absent.
        assert!(filters_overlap(Some("in/"), Some("in/csv/"), true));
        assert!(filters_overlap(None, Some("in/"), true));
        assert!(!filters_overlap(Some("in/"), Some("out/"), true));
        // Suffixes match from the end.
        assert!(filters_overlap(Some(".csv"), Some("data.csv"), false));
        assert!(!filters_overlap(Some(".csv"), Some(".json"), false));
        assert!(!filters_overlap(Some("a.csv"), Some("a.csv.gz"), false));
    }

    #[test]
    fn bucket_names_follow_s3s_naming_rules() {
        for good in [
            "abc",
            "tonic-exports",
            "tonic.exports-2026",
            "10.0.0.1.5",
            "xn-tonic",
            "data.mrap2",
        ] {
            assert_eq!(bucket_name(good), Ok(()), "{good}");
        }
        let bad = [
            ("ab", "characters"),
            ("Tonic", "contains `T`"),
            ("-tonic", "begin and end"),
            ("tonic..exports", "two periods"),
            ("192.168.5.4", "IP address"),
            ("192.168.05.1", "IP address"),
            ("999.168.1.1", "IP address"),
            ("xn--tonic", "`xn--`"),
            ("sthree-tonic", "`sthree-`"),
            ("amzn-s3-demo-tonic", "`amzn-s3-demo-`"),
            ("tonic-s3alias", "access point aliases"),
            ("tonic-data-an", "account regional namespace"),
            ("tonic--ol-s3", "Object Lambda"),
            ("tonic.mrap", "Multi-Region"),
            ("tonic--x-s3", "directory buckets"),
            ("tonic--table-s3", "table buckets"),
        ];
        for (name, says) in bad {
            let message = bucket_name(name).expect_err(name);
            assert!(message.contains(says), "{name}: {message}");
        }
    }
}
