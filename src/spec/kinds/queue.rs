//! `[queue.NAME]`: an SQS queue, standard or FIFO (a name ending in `.fifo`), with its
//! timings, encryption, access policy, dead-letter queue and tags.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use crate::spec::{Located, PolicyField, PolicyValue};
use serde::Deserialize;
use toml_edit::value;

use super::block::{BlockWriter, Found};
use super::common::{first_tag, RawTags, Tags};
use super::{int, KindSpec, Lifecycle};
use crate::diag::{Code, Diagnostic, Diagnostics, Location};
use crate::model::{Attributes, Kind, Value};
use crate::spec::resolve::Resolver;
use crate::spec::rules::{self, Checker};
use crate::spec::{BlockValue, Loader, PolicyTemplate, Text};
use crate::state::LiveResource;

#[derive(Debug)]
pub struct QueueSpec {
    pub name: Text,
    /// Someone else's queue (`existing = true`): never created or deleted; plinth manages only
    /// its own statements of the queue policy, by Sid.
    pub existing: bool,
    pub content_based_deduplication: Option<(bool, Location)>,
    pub visibility_timeout: Option<(i64, Location)>,
    pub message_retention: Option<(i64, Location)>,
    pub delay: Option<(i64, Location)>,
    pub max_message_size: Option<(i64, Location)>,
    pub receive_wait: Option<(i64, Location)>,
    pub kms_key: Option<Text>,
    pub kms_data_key_reuse: Option<(i64, Location)>,
    pub sqs_managed_sse: Option<(bool, Location)>,
    pub policy: Option<PolicyTemplate>,
    pub redrive: Option<Redrive>,
    pub tags: Tags,
}

/// Where messages go after `max_receive_count` failed receives.
#[derive(Debug)]
pub struct Redrive {
    /// The dead-letter queue's ARN, usually `${queue.dlq.arn}`.
    pub queue: Text,
    pub max_receive_count: (i64, Location),
}

// What SQS accepts: the checks below and the JSON Schema (`plinth schema`) both read these.
pub(crate) const VISIBILITY_TIMEOUT: RangeInclusive<i64> = 0..=43_200;
pub(crate) const MESSAGE_RETENTION: RangeInclusive<i64> = 60..=1_209_600;
pub(crate) const DELAY: RangeInclusive<i64> = 0..=900;
pub(crate) const MAX_MESSAGE_SIZE: RangeInclusive<i64> = 1024..=1_048_576;
pub(crate) const RECEIVE_WAIT: RangeInclusive<i64> = 0..=20;
pub(crate) const KMS_DATA_KEY_REUSE: RangeInclusive<i64> = 60..=86_400;
pub(crate) const MAX_RECEIVE_COUNT: RangeInclusive<i64> = 1..=1000;
pub(crate) const NAME_MAX: usize = 80;
pub(crate) const FIFO_SUFFIX: &str = ".fifo";

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Queue")]
pub(crate) struct RawQueue {
    #[schemars(pattern(queue_name_pattern()))]
    name: Located<String>,
    /// Someone else's queue: plinth adds its statements to the queue policy by Sid and nothing else.
    #[serde(default)]
    existing: bool,
    content_based_deduplication: Option<Located<bool>>,
    #[schemars(range(min = *VISIBILITY_TIMEOUT.start(), max = *VISIBILITY_TIMEOUT.end()))]
    visibility_timeout: Option<Located<i64>>,
    #[schemars(range(min = *MESSAGE_RETENTION.start(), max = *MESSAGE_RETENTION.end()))]
    message_retention: Option<Located<i64>>,
    #[schemars(range(min = *DELAY.start(), max = *DELAY.end()))]
    delay: Option<Located<i64>>,
    #[schemars(range(min = *MAX_MESSAGE_SIZE.start(), max = *MAX_MESSAGE_SIZE.end()))]
    max_message_size: Option<Located<i64>>,
    #[schemars(range(min = *RECEIVE_WAIT.start(), max = *RECEIVE_WAIT.end()))]
    receive_wait: Option<Located<i64>>,
    kms_key: Option<Located<String>>,
    #[schemars(range(min = *KMS_DATA_KEY_REUSE.start(), max = *KMS_DATA_KEY_REUSE.end()))]
    kms_data_key_reuse: Option<Located<i64>>,
    sqs_managed_sse: Option<Located<bool>>,
    #[schemars(with = "Option<PolicyField>")]
    policy: Option<Located<PolicyValue>>,
    redrive: Option<RawRedrive>,
    tags: RawTags,
    #[serde(default)]
    adopt: bool,
    #[serde(default)]
    prevent_destroy: bool,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Redrive")]
struct RawRedrive {
    queue: Located<String>,
    #[schemars(range(min = *MAX_RECEIVE_COUNT.start(), max = *MAX_RECEIVE_COUNT.end()))]
    max_receive_count: Located<i64>,
}

pub(super) fn load(
    loader: &mut Loader,
    block: BlockValue<'_, '_>,
) -> Option<(QueueSpec, Lifecycle)> {
    let raw: RawQueue = loader.deserialize_block(block)?;
    if raw.existing {
        refuse_owned_only(loader, &raw);
    }
    let flag = |loader: &Loader, b: &Option<Located<bool>>| {
        b.as_ref()
            .map(|b| (*b.get_ref(), loader.location(b.span())))
    };
    let spec = QueueSpec {
        name: loader.text_or_stand_in(&raw.name),
        existing: raw.existing,
        content_based_deduplication: flag(loader, &raw.content_based_deduplication),
        visibility_timeout: int(loader, &raw.visibility_timeout),
        message_retention: int(loader, &raw.message_retention),
        delay: int(loader, &raw.delay),
        max_message_size: int(loader, &raw.max_message_size),
        receive_wait: int(loader, &raw.receive_wait),
        kms_key: raw.kms_key.as_ref().map(|k| loader.text_or_stand_in(k)),
        kms_data_key_reuse: int(loader, &raw.kms_data_key_reuse),
        sqs_managed_sse: flag(loader, &raw.sqs_managed_sse),
        policy: raw.policy.map(|p| loader.policy_or_stand_in(p)),
        redrive: raw.redrive.as_ref().map(|r| Redrive {
            queue: loader.text_or_stand_in(&r.queue),
            max_receive_count: (
                *r.max_receive_count.get_ref(),
                loader.location(r.max_receive_count.span()),
            ),
        }),
        tags: Tags::load(loader, Kind::Queue, &raw.tags),
    };
    Some((spec, Lifecycle::new(raw.adopt, raw.prevent_destroy)))
}

/// An existing queue takes only its name and policy: every setting belongs to its owner.
fn refuse_owned_only(loader: &mut Loader, raw: &RawQueue) {
    let int = |v: &Option<Located<i64>>| v.as_ref().map(|v| v.span());
    let flag = |v: &Option<Located<bool>>| v.as_ref().map(|v| v.span());
    super::shared::refuse_owned_only(
        loader,
        "queue",
        &[
            (
                "content_based_deduplication",
                flag(&raw.content_based_deduplication),
            ),
            ("visibility_timeout", int(&raw.visibility_timeout)),
            ("message_retention", int(&raw.message_retention)),
            ("delay", int(&raw.delay)),
            ("max_message_size", int(&raw.max_message_size)),
            ("receive_wait", int(&raw.receive_wait)),
            ("kms_key", raw.kms_key.as_ref().map(|k| k.span())),
            ("kms_data_key_reuse", int(&raw.kms_data_key_reuse)),
            ("sqs_managed_sse", flag(&raw.sqs_managed_sse)),
            ("redrive", raw.redrive.as_ref().map(|r| r.queue.span())),
            ("tags", first_tag(&raw.tags)),
        ],
    );
}

/// The JSON Schema pattern of a queue name: a standard or a FIFO name, or one with references.
pub(crate) fn queue_name_pattern() -> String {
    let chars = rules::NAME_CHARS;
    chars.pattern_with_references_and(
        &format!(
            "{}|{}\\.fifo",
            chars.repeat(1, NAME_MAX),
            chars.repeat(1, NAME_MAX - FIFO_SUFFIX.len())
        ),
        ".",
    )
}

/// SQS queue names: letters, digits, `-` and `_`, at most 80 characters including `.fifo`.
pub fn queue_name(name: &str) -> Result<(), String> {
    let base = name.strip_suffix(FIFO_SUFFIX).unwrap_or(name);
    if name.is_empty() || name.chars().count() > NAME_MAX {
        return Err(format!(
            "`{}` is {} characters; SQS allows 1 to {NAME_MAX}",
            rules::clipped(name),
            name.chars().count()
        ));
    }
    if base.is_empty() {
        return Err(format!(
            "`{name}` has no name before `{FIFO_SUFFIX}`; a FIFO queue's name is 1 to {} characters, then `{FIFO_SUFFIX}`",
            NAME_MAX - FIFO_SUFFIX.len()
        ));
    }
    if let Some(c) = rules::NAME_CHARS.first_outside(base) {
        return Err(format!(
            "`{name}` contains `{c}`, which SQS does not allow in a queue name"
        ));
    }
    Ok(())
}

impl QueueSpec {
    /// Whether the queue is FIFO, when the name is known before AWS is read.
    fn fifo(&self, c: &Checker<'_>) -> Option<bool> {
        c.resolve(&self.name).map(|n| n.ends_with(".fifo"))
    }
}

impl QueueSpec {
    pub(crate) const IMPORT: super::ImportFacts = super::ImportFacts {
        words: "queue",
        optional_parts: &["visibility_timeout", "policy", "redrive", "kms_key"],
        write_rank: 5,
        name_part: super::whole_id,
        write_block: import_block,
    };
}

/// An imported queue's block: its settings unless they are SQS's defaults, its key by
/// reference when the key is imported too, its policy as a file.
fn import_block(found: &Found, w: &mut dyn BlockWriter) {
    let a = &found.live.attributes;
    w.literal("name");
    // A queue another stack shares is someone else's: this stack shares it too, declaring
    // the policy statements no other stack's record holds.
    let sharing = w.sharing_stacks();
    if !sharing.is_empty() {
        w.put("existing", value(true));
        w.note(format!(
            "{}: shared by stack {}, so declared `existing = true`: its settings and tags stay its owner's",
            found.address,
            sharing.join(", ")
        ));
        w.shared_policy(a.get("policy"), "queue policy");
        return;
    }
    for field in [
        "content_based_deduplication",
        "visibility_timeout",
        "message_retention",
        "delay",
        "max_message_size",
        "receive_wait",
    ] {
        let default = |v: &Value| {
            IMPORT_DEFAULTS
                .iter()
                .any(|(f, d)| *f == field && d.as_ref() == Some(v))
        };
        if let Some(v) = a.get(field).filter(|v| !default(v)) {
            let item = w.item(v);
            w.put(field, item);
        }
    }
    if let Some(Value::Str(k)) = a.get("kms_key") {
        let key = w
            .reference_to(Kind::Key, "arn", k)
            .or_else(|| w.reference_to(Kind::Key, "key_id", k))
            .unwrap_or_else(|| w.template(k));
        w.put("kms_key", value(key));
        if let Some(v) = a
            .get("kms_data_key_reuse")
            .filter(|v| **v != Value::Int(300))
        {
            let item = w.item(v);
            w.put("kms_data_key_reuse", item);
        }
    } else if let Some(v @ Value::Bool(_)) = a.get("sqs_managed_sse") {
        let item = w.item(v);
        w.put("sqs_managed_sse", item);
    }
    w.policy_file("policy", a.get("policy"));
    if let Some(v) = a.get("redrive") {
        let item = w.item(v);
        w.put("redrive", item);
    }
    w.tags();
    w.put("adopt", value(true));
}

/// SQS settings and AWS's defaults for them (`None`: always declared), which an imported
/// block leaves out.
const IMPORT_DEFAULTS: &[(&str, Option<Value>)] = &[
    ("content_based_deduplication", Some(Value::Bool(false))),
    ("visibility_timeout", Some(Value::Int(30))),
    ("message_retention", Some(Value::Int(345_600))),
    ("delay", Some(Value::Int(0))),
    // 1 MiB since August 2025; 256 KiB before.
    ("max_message_size", Some(Value::Int(1_048_576))),
    ("max_message_size", Some(Value::Int(262_144))),
    ("receive_wait", Some(Value::Int(0))),
];

impl KindSpec for QueueSpec {
    fn name(&self) -> Option<&Text> {
        Some(&self.name)
    }

    fn documents(&self) -> Vec<(&'static str, String, &PolicyTemplate)> {
        super::single_document("policy", &self.policy)
    }

    fn must_exist(&self) -> bool {
        self.existing
    }

    fn declares_export(&self, attribute: &str) -> bool {
        match attribute {
            "visibility_timeout" => self.visibility_timeout.is_some(),
            "kms_key" => self.kms_key.is_some(),
            _ => true,
        }
    }

    fn texts(&self) -> Vec<&Text> {
        [&self.name]
            .into_iter()
            .chain(self.kms_key.iter())
            .chain(self.redrive.iter().map(|r| &r.queue))
            .chain(self.tags.texts())
            .collect()
    }

    fn check(&self, c: &Checker<'_>, diags: &mut Diagnostics) {
        c.text(&self.name, queue_name, "queue names are letters, digits, `-` and `_`, with `.fifo` at the end for a FIFO queue", diags);
        if let (true, Some(policy)) = (self.existing, &self.policy) {
            super::shared::require_sids(policy, "queue policy", c, diags);
        }
        if let Some(v) = &self.visibility_timeout {
            c.range("visibility_timeout", v, VISIBILITY_TIMEOUT, diags);
        }
        if let Some(v) = &self.message_retention {
            c.range("message_retention", v, MESSAGE_RETENTION, diags);
        }
        if let Some(v) = &self.delay {
            c.range("delay", v, DELAY, diags);
        }
        if let Some(v) = &self.max_message_size {
            c.range("max_message_size", v, MAX_MESSAGE_SIZE, diags);
        }
        if let Some(v) = &self.receive_wait {
            c.range("receive_wait", v, RECEIVE_WAIT, diags);
        }
        if let Some(v) = &self.kms_data_key_reuse {
            c.range("kms_data_key_reuse", v, KMS_DATA_KEY_REUSE, diags);
        }
        if let Some(r) = &self.redrive {
            c.text(
                &r.queue,
                rules::arn(rules::QUEUE_ARN),
                "write the dead-letter queue's ARN, usually \"${queue.NAME.arn}\"",
                diags,
            );
            c.range(
                "max_receive_count",
                &r.max_receive_count,
                MAX_RECEIVE_COUNT,
                diags,
            );
            // SQS keeps a queue's dead-letter queue in its own account and region.
            if let Some(other) = c.elsewhere(&r.queue, true) {
                diags.push(
                    Diagnostic::error(
                        Code::SpecInvalidValue,
                        format!("the dead-letter queue is in {other}; SQS takes one in the queue's own account and region"),
                    )
                    .at_location(Some(r.queue.location.clone()))
                    .hint("name a dead-letter queue of this stack's account and region, usually \"${queue.NAME.arn}\""),
                );
            }
            // A queue cannot be its own dead-letter queue: SQS answers that it cannot find
            // the dead-letter queue, as the queue does not exist yet when it is created.
            let dead_letter = c.shape(&r.queue);
            let own_name = c.shape(&self.name);
            if let (Some(arn), Some(name)) = (&dead_letter, &own_name) {
                if arn.rsplit(':').next() == Some(name.as_str()) {
                    diags.push(
                        Diagnostic::error(
                            Code::SpecInvalidValue,
                            format!("queue `{name}` names itself as its dead-letter queue"),
                        )
                        .at_location(Some(r.queue.location.clone()))
                        .hint("declare a second queue for the messages that fail, and name it: redrive = { queue = \"${queue.NAME.arn}\", ... }"),
                    );
                }
            }
            // SQS refuses a redrive policy whose dead-letter queue is of the other type.
            let dead_letter_fifo = dead_letter.map(|arn| arn.ends_with(FIFO_SUFFIX));
            if let (Some(fifo), Some(dead_letter_fifo)) = (self.fifo(c), dead_letter_fifo) {
                if fifo != dead_letter_fifo {
                    let (this, that) = if fifo {
                        ("FIFO", "standard")
                    } else {
                        ("standard", "FIFO")
                    };
                    diags.push(
                        Diagnostic::error(
                            Code::SpecInvalidValue,
                            format!("a {this} queue's dead-letter queue must be {this} too; this one is {that}"),
                        )
                        .at_location(Some(r.queue.location.clone()))
                        .hint(format!("name a {this} queue as the dead-letter queue: SQS refuses the redrive policy otherwise")),
                    );
                }
            }
        }
        self.tags.check(Kind::Queue, c, diags);
        if let (Some((_, at)), Some(false)) = (&self.content_based_deduplication, self.fifo(c)) {
            diags.push(
                Diagnostic::error(
                    Code::SpecInvalidValue,
                    "content_based_deduplication applies only to FIFO queues",
                )
                .at_location(Some(at.clone()))
                .hint("end the queue name with `.fifo`, or remove content_based_deduplication"),
            );
        }
        if let Some(key) = &self.kms_key {
            c.text(
                key,
                rules::kms_key_reference,
                "write the key as \"${key.NAME.arn}\", \"alias/NAME\" or its id",
                diags,
            );
        }
        if let (Some(key), Some((true, _))) = (&self.kms_key, &self.sqs_managed_sse) {
            diags.push(
                Diagnostic::error(
                    Code::SpecInvalidValue,
                    "a queue is encrypted with a KMS key or with SQS-managed keys, not both",
                )
                .at_location(Some(key.location.clone()))
                .hint("remove `sqs_managed_sse = true`, or remove kms_key"),
            );
        }
        if let (Some((_, at)), None) = (&self.kms_data_key_reuse, &self.kms_key) {
            diags.push(
                Diagnostic::error(
                    Code::SpecInvalidValue,
                    "kms_data_key_reuse applies only to queues encrypted with kms_key",
                )
                .at_location(Some(at.clone()))
                .hint("set kms_key, or remove kms_data_key_reuse"),
            );
        }
    }

    fn desired(&self, r: &Resolver<'_>, diags: &mut Diagnostics) -> Attributes {
        let mut attrs = Attributes::new();
        attrs.insert("name".into(), r.value(&self.name));
        if let Some((b, _)) = self.content_based_deduplication {
            attrs.insert("content_based_deduplication".into(), Value::Bool(b));
        }
        let ints = [
            ("visibility_timeout", &self.visibility_timeout),
            ("message_retention", &self.message_retention),
            ("delay", &self.delay),
            ("max_message_size", &self.max_message_size),
            ("receive_wait", &self.receive_wait),
            ("kms_data_key_reuse", &self.kms_data_key_reuse),
        ];
        for (name, value) in ints {
            if let Some((v, _)) = value {
                attrs.insert(name.into(), Value::Int(*v));
            }
        }
        if let Some(k) = &self.kms_key {
            attrs.insert("kms_key".into(), r.value(k));
        }
        if let Some((b, _)) = self.sqs_managed_sse {
            attrs.insert("sqs_managed_sse".into(), Value::Bool(b));
        }
        if let Some(p) = &self.policy {
            attrs.insert("policy".into(), r.policy_or_report(p, diags));
        }
        if let Some(redrive) = &self.redrive {
            let map = BTreeMap::from([
                ("queue".to_string(), r.value(&redrive.queue)),
                (
                    "max_receive_count".to_string(),
                    Value::Int(redrive.max_receive_count.0),
                ),
            ]);
            attrs.insert("redrive".into(), Value::Map(map));
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
        match attribute {
            "arn" => Some(r.account().arn(Kind::Queue, &name)),
            "name" => Some(name),
            "visibility_timeout" => self.visibility_timeout.as_ref().map(|(v, _)| v.to_string()),
            // As the spec names the key (an alias, id or ARN): what a consumer of the queue's
            // messages is told to decrypt them with.
            "kms_key" => self.kms_key.as_ref().and_then(|k| r.text(k)),
            // The URL's host depends on the endpoint: known once the queue exists.
            _ => super::assigned_export(live, &name, attribute),
        }
    }
}
