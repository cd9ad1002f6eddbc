//! SQS: queues, their attributes (all strings on the wire), policies and tags.
//!
//! SQS addresses a queue by URL, not name; the URL is looked up with GetQueueUrl. Attribute
//! values come back as strings and are parsed here; policies are parsed into documents so
//! nothing above this module compares policy text.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName as A;
use futures::{stream, StreamExt, TryStreamExt};

use super::adapter::{Adapter, Change, Side};
use super::shared::SharedChange;
use super::tagging::{SharedTagging, Tagging};
use super::{not_found_as_none, retry_transient, AwsError, Exports, Patience};
use super::{Aws, KindActions};
use crate::model::{ArnScope, Attributes, Kind, Value, STACK_TAG};
use crate::plan::ResourceChange;
use crate::policy::PolicyDocument;
use crate::state::{split_tags, LiveResource, ReadRequest, READ_CONCURRENCY};

/// See [`super::KindActions`].
pub const ACTIONS: super::KindActions = super::KindActions {
    on_resource: &[
        "sqs:GetQueueUrl",
        "sqs:GetQueueAttributes",
        "sqs:CreateQueue",
        "sqs:SetQueueAttributes",
        "sqs:TagQueue",
        "sqs:UntagQueue",
        "sqs:DeleteQueue",
    ],
    account_wide: &["sqs:ListQueues", "sqs:ListQueueTags"],
    by_condition: &[],
    scope_key: "",
    elsewhere: &[],
    before_creation: &[],
};

#[derive(Clone, Debug)]
pub struct Sqs {
    client: aws_sdk_sqs::Client,
    patience: Patience,
}

/// SQS's not-found codes (the JSON protocol's and the query protocol's).
const NO_QUEUE: &[&str] = &[
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
];

/// Integer attributes: plinth's name and SQS's.
const INT_ATTRIBUTES: &[(&str, A)] = &[
    ("visibility_timeout", A::VisibilityTimeout),
    ("message_retention", A::MessageRetentionPeriod),
    ("delay", A::DelaySeconds),
    ("max_message_size", A::MaximumMessageSize),
    ("receive_wait", A::ReceiveMessageWaitTimeSeconds),
    ("kms_data_key_reuse", A::KmsDataKeyReusePeriodSeconds),
];

const BOOL_ATTRIBUTES: &[(&str, A)] = &[
    ("content_based_deduplication", A::ContentBasedDeduplication),
    ("sqs_managed_sse", A::SqsManagedSseEnabled),
];

/// A queue's name: the last segment of its URL.
fn queue_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or_default()
}

/// Declared attributes that need GetQueueAttributes; `name` and `tags` do not.
fn needs_attributes(req: &ReadRequest) -> bool {
    req.declared.iter().any(|a| a != "name" && a != "tags")
}

impl Sqs {
    pub fn new(config: &SdkConfig, patience: Patience) -> Self {
        Self {
            client: aws_sdk_sqs::Client::new(config),
            patience,
        }
    }

    async fn url(&self, name: &str) -> Result<Option<String>, AwsError> {
        let out = not_found_as_none(
            self.client.get_queue_url().queue_name(name).send().await,
            "sqs:GetQueueUrl",
            NO_QUEUE,
        )?;
        Ok(out.and_then(|o| o.queue_url))
    }

    /// GetQueueUrl and ListQueueTags, plus GetQueueAttributes when the spec declares any
    /// attribute besides the name and tags.
    pub async fn read_queue(&self, req: &ReadRequest) -> Result<Option<LiveResource>, AwsError> {
        let Some(url) = self.url(&req.physical_id).await? else {
            return Ok(None);
        };
        let attributes = async {
            if needs_attributes(req) {
                self.attributes(&url).await.map(Some)
            } else {
                Ok(None)
            }
        };
        let (attributes, tags) = futures::try_join!(attributes, self.tags(&url))?;
        let live = queue_resource(&req.physical_id, &url, attributes.as_ref(), tags.clone());
        // A stack's record holds statements of a policy its block no longer declares: read
        // the attributes after all, so that the plan removes them (one more round trip, only
        // then).
        if attributes.is_none()
            && crate::model::shared::recorded_documents(&live.attributes).contains("policy")
        {
            let attributes = self.attributes(&url).await?;
            return Ok(Some(queue_resource(
                &req.physical_id,
                &url,
                Some(&attributes),
                tags,
            )));
        }
        Ok(Some(live))
    }

    async fn attributes(&self, url: &str) -> Result<HashMap<A, String>, AwsError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(A::All)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("sqs:GetQueueAttributes", &e))?;
        Ok(out.attributes.unwrap_or_default())
    }

    async fn tags(&self, url: &str) -> Result<HashMap<String, String>, AwsError> {
        let out = self
            .client
            .list_queue_tags()
            .queue_url(url)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("sqs:ListQueueTags", &e))?;
        Ok(out.tags.unwrap_or_default())
    }

    /// Every queue tagged as owned by `stack`. SQS cannot filter by tag, so this lists queues
    /// and reads each one's tags.
    pub async fn owned_queues(
        &self,
        stack: &str,
        named: &BTreeSet<String>,
    ) -> Result<Vec<LiveResource>, AwsError> {
        let urls: Vec<String> = self
            .client
            .list_queues()
            // Without a page size SQS returns the first 1,000 queues and no token for the rest.
            .max_results(1000)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::from_sdk("sqs:ListQueues", &e))?;
        let unnamed = urls
            .into_iter()
            .filter(|url| !named.contains(queue_name(url)));
        let tagged: Vec<(String, HashMap<String, String>)> = stream::iter(unnamed)
            .map(|url| async move {
                // A queue deleted since the listing is simply not there.
                match self.tags(&url).await {
                    Ok(tags) => Ok(Some((url, tags))),
                    Err(e) if NO_QUEUE.iter().any(|c| e.is_code(c)) => Ok(None),
                    // A queue whose policy refuses this identity its tags is not one plinth
                    // can manage, so it is not one plinth made: left out, as for keys.
                    Err(e) if e.denial().is_some() => {
                        tracing::debug!(url, "skipping a queue whose tags cannot be read: {e}");
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            })
            .buffer_unordered(READ_CONCURRENCY)
            .try_filter_map(|found| async move { Ok(found) })
            .try_collect()
            .await?;
        let ours = tagged.into_iter().filter(|(_, tags)| {
            tags.get(STACK_TAG).is_some_and(|s| s == stack)
                || tags.contains_key(&crate::model::shared::tag_key(stack, 0))
        });
        let mut owned: Vec<LiveResource> =
            futures::future::try_join_all(ours.map(|(url, tags)| async move {
                let name = queue_name(&url).to_string();
                let queue = queue_resource(&name, &url, None, tags.clone());
                if !queue.holds_shared_statements(stack) {
                    return Ok(queue);
                }
                let attributes = self.attributes(&url).await?;
                Ok::<_, AwsError>(queue_resource(&name, &url, Some(&attributes), tags))
            }))
            .await?;
        owned.sort_by(|a, b| a.physical_id.cmp(&b.physical_id));
        Ok(owned)
    }

    /// CreateQueue with its attributes and tags, waiting out SQS's refusal to reuse a name
    /// deleted less than 60 s ago. Returns the queue's exports.
    pub async fn create_queue(&self, queue: &QueueConfig) -> Result<Exports, AwsError> {
        let mut attributes = queue.wire_attributes(None);
        if queue.name.ends_with(".fifo") {
            attributes.insert(A::FifoQueue, "true".into());
        }
        let tags: HashMap<String, String> = queue.all_tags(None).into_iter().collect();
        // SQS answers CreateQueue with an existing queue's URL when the attributes sent match
        // it: a queue made by someone else since the plan (while apply asked for confirmation)
        // would be taken over, and its tags replaced. A queue of that name is used only if it
        // is this block's (a step run again); any other is left as it is.
        if let Some(url) = self.url(&queue.name).await? {
            // A queue deleted a moment ago (a replace that keeps the name) may answer for up
            // to a minute, and then not: gone is not taken.
            let found = match self.tags(&url).await {
                Ok(found) => Some(found),
                Err(e) if NO_QUEUE.iter().any(|c| e.is_code(c)) => None,
                Err(e) => return Err(e),
            };
            let ours = |found: &HashMap<String, String>| {
                super::planned::same_owner(|k| found.get(k), |k| tags.get(k))
            };
            if found.as_ref().is_some_and(|found| !ours(found)) {
                return Err(crate::aws::taken_since_the_plan(
                    "sqs:CreateQueue",
                    "queue",
                    &queue.name,
                ));
            }
        }
        let out = retry_transient(
            self.patience,
            |e| {
                e.code
                    .as_deref()
                    .is_some_and(|c| c.ends_with("QueueDeletedRecently"))
                    || principal_not_seen_yet(e)
            },
            || {
                let request = self
                    .client
                    .create_queue()
                    .queue_name(&queue.name)
                    .set_attributes(Some(attributes.clone()))
                    .set_tags(Some(tags.clone()));
                async move {
                    request
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("sqs:CreateQueue", &e))
                }
            },
        )
        .await?;
        let url = out.queue_url.unwrap_or_default();
        // The ARN follows from the URL (it names the account) and the region, as the planner
        // already knew; only a URL of another shape costs a GetQueueAttributes.
        let region = self.client.config().region().map(|r| r.to_string());
        let arn = match region.and_then(|region| queue_arn(&url, &region)) {
            Some(arn) => arn,
            None => self.attributes_named(&url, A::QueueArn).await?,
        };
        Ok(Exports::from([
            ("arn".into(), arn),
            ("name".into(), queue.name.clone()),
            ("url".into(), url),
        ]))
    }

    async fn attributes_named(&self, url: &str, name: A) -> Result<String, AwsError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(name.clone())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("sqs:GetQueueAttributes", &e))?;
        Ok(out
            .attributes
            .and_then(|mut a| a.remove(&name))
            .unwrap_or_default())
    }

    /// SQS takes up to a minute to show changed attributes everywhere, and until then
    /// GetQueueAttributes may answer with the old values: a plan right after the apply would
    /// show the change again. Waits (bounded by the patience, and shown) until a read shows
    /// what was written; once the patience runs out the apply's own work is still done.
    async fn wait_until_visible(
        &self,
        url: &str,
        written: &HashMap<A, String>,
    ) -> Result<(), AwsError> {
        let seen = retry_transient(
            self.patience,
            |e| e.is_code(PROPAGATING),
            || async {
                let live = self.attributes(url).await?;
                match written
                    .iter()
                    .find(|(name, value)| !same_attribute(live.get(*name), value))
                {
                    None => Ok(()),
                    Some((name, _)) => Err(AwsError {
                        operation: "sqs:GetQueueAttributes".into(),
                        code: Some(PROPAGATING.into()),
                        message: format!("{} written to {url} is not visible yet", name.as_str()),
                        hint: None,
                    }),
                }
            },
        )
        .await;
        match seen {
            Err(e) if e.is_code(PROPAGATING) => Ok(()),
            other => other,
        }
    }

    /// One SetQueueAttributes with every attribute that differs, then TagQueue/UntagQueue.
    pub async fn update_queue(
        &self,
        before: &QueueConfig,
        after: &QueueConfig,
    ) -> Result<(), AwsError> {
        let url = self.url(&after.name).await?.ok_or_else(|| AwsError {
            operation: "sqs:GetQueueUrl".into(),
            code: None,
            message: format!("queue `{}` no longer exists", after.name),
            hint: Some("plan again".into()),
        })?;
        let changed = after.wire_attributes(Some(before));
        if !changed.is_empty() {
            retry_transient(self.patience, principal_not_seen_yet, || {
                let request = self
                    .client
                    .set_queue_attributes()
                    .queue_url(&url)
                    .set_attributes(Some(changed.clone()));
                async move {
                    request
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("sqs:SetQueueAttributes", &e))
                }
            })
            .await?;
            self.wait_until_visible(&url, &changed).await?;
        }
        let wanted = after.all_tags(before.tags.as_ref());
        (self.tagging(&url))
            .retag(&before.all_tags(None), &wanted)
            .await
    }

    /// The queue at `url`'s tagging calls.
    fn tagging<'a>(&'a self, url: &'a str) -> QueueTags<'a> {
        QueueTags { sqs: self, url }
    }

    /// A queue someone else owns (`existing = true`): plinth's statements are merged into its
    /// policy by Sid and recorded in the stack's tag; nothing else about the queue changes.
    async fn apply_shared_queue(
        &self,
        stack: &str,
        name: &str,
        change: &super::shared::SharedChange,
    ) -> Result<(), AwsError> {
        let url = self.url(name).await?.ok_or_else(|| AwsError {
            operation: format!("sqs:GetQueueUrl ({name})"),
            code: Some("AWS.SimpleQueueService.NonExistentQueue".into()),
            message: "the queue no longer exists".into(),
            hint: Some("plan again".into()),
        })?;
        let previous = self.tagging(&url).record_before(stack, change).await?;
        let ours = change.ours("policy");
        let drop = change.dropped(&previous, "policy");
        let url_ref = &url;
        super::shared::merge_document(
            &format!("the policy of queue {name}"),
            ours.as_ref(),
            &drop,
            || async move {
                let out = self
                    .client
                    .get_queue_attributes()
                    .queue_url(url_ref)
                    .attribute_names(A::Policy)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("sqs:GetQueueAttributes", &e))?;
                Ok(out
                    .attributes
                    .and_then(|mut a| a.remove(&A::Policy))
                    .filter(|p| !p.is_empty()))
            },
            |merged| async move {
                // No statement left: an empty Policy removes it, as SQS has it.
                self.client
                    .set_queue_attributes()
                    .queue_url(url_ref)
                    .attributes(A::Policy, merged.unwrap_or_default())
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("sqs:SetQueueAttributes", &e))
                    .map(|_| ())
            },
        )
        .await?;
        self.tagging(&url).record_after(stack, change).await
    }

    /// `release = true`: the stack's tags come off the queue; nothing else changes.
    pub async fn release_queue(&self, stack: &str, name: &str) -> Result<(), AwsError> {
        match self.url(name).await? {
            Some(url) => self.tagging(&url).release(stack).await,
            None => Ok(()),
        }
    }

    /// Deletes the queue; already gone counts as done.
    pub async fn delete_queue(&self, name: &str) -> Result<(), AwsError> {
        let Some(url) = self.url(name).await? else {
            return Ok(());
        };
        not_found_as_none(
            self.client.delete_queue().queue_url(url).send().await,
            "sqs:DeleteQueue",
            NO_QUEUE,
        )?;
        Ok(())
    }
}

/// A queue as plinth wants it (or found it), taken from a plan's attributes. Every field but
/// the name is `None` when unmanaged.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueConfig {
    pub name: String,
    /// Integer and boolean attributes by plinth's name, as SQS's strings.
    pub scalars: BTreeMap<&'static str, String>,
    pub kms_key: Option<String>,
    pub policy: Option<PolicyDocument>,
    /// The dead-letter queue's ARN and the receive count.
    pub redrive: Option<(String, i64)>,
    pub tags: Option<BTreeMap<String, String>>,
    pub ownership: BTreeMap<String, String>,
}

impl QueueConfig {
    pub fn from_attributes(
        attrs: &Attributes,
        ownership: &BTreeMap<String, String>,
    ) -> Result<QueueConfig, String> {
        let mut scalars = BTreeMap::new();
        for (name, _) in INT_ATTRIBUTES {
            match attrs.get(*name) {
                Some(Value::Int(i)) => {
                    scalars.insert(*name, i.to_string());
                }
                None => {}
                Some(other) => {
                    return Err(format!(
                        "attribute `{name}` is {}, not a number",
                        other.display()
                    ))
                }
            }
        }
        for (name, _) in BOOL_ATTRIBUTES {
            match attrs.get(*name) {
                Some(Value::Bool(b)) => {
                    scalars.insert(*name, b.to_string());
                }
                None => {}
                Some(other) => {
                    return Err(format!(
                        "attribute `{name}` is {}, not a boolean",
                        other.display()
                    ))
                }
            }
        }
        let text = |k: &str| -> Result<Option<String>, String> {
            match attrs.get(k) {
                None => Ok(None),
                Some(Value::Str(s)) => Ok(Some(s.clone())),
                Some(other) => Err(format!(
                    "attribute `{k}` is {}, not a string",
                    other.display()
                )),
            }
        };
        let policy = match attrs.get("policy") {
            None => None,
            Some(v) => Some(
                v.as_policy()
                    .cloned()
                    .ok_or("the queue policy is not a resolved policy")?,
            ),
        };
        let redrive = match attrs.get("redrive") {
            None => None,
            Some(Value::Map(m)) => match (m.get("queue"), m.get("max_receive_count")) {
                (Some(Value::Str(q)), Some(Value::Int(n))) => Some((q.clone(), *n)),
                _ => return Err("redrive needs a resolved queue ARN and max_receive_count".into()),
            },
            Some(other) => return Err(format!("redrive is {}, not a table", other.display())),
        };
        let tags = match attrs.get("tags") {
            Some(Value::Map(m)) => Some(
                m.iter()
                    .map(|(k, v)| {
                        Ok((
                            k.clone(),
                            v.as_str().ok_or("tag values are strings")?.to_string(),
                        ))
                    })
                    .collect::<Result<BTreeMap<_, _>, String>>()?,
            ),
            _ => None,
        };
        Ok(QueueConfig {
            name: text("name")?.ok_or("a queue needs a name")?,
            scalars,
            kms_key: text("kms_key")?,
            policy,
            redrive,
            tags,
            ownership: ownership.clone(),
        })
    }

    /// The managed attributes as SQS names them; with `before`, only those that differ, plus
    /// the policy whenever it is managed (see below).
    fn wire_attributes(&self, before: Option<&QueueConfig>) -> HashMap<A, String> {
        let mut out = HashMap::new();
        for (name, wire) in INT_ATTRIBUTES.iter().chain(BOOL_ATTRIBUTES) {
            if let Some(v) = self.scalars.get(name) {
                if before.is_none_or(|b| b.scalars.get(name) != Some(v)) {
                    out.insert(wire.clone(), v.clone());
                }
            }
        }
        if let Some(key) = &self.kms_key {
            if before.is_none_or(|b| b.kms_key.as_ref() != Some(key)) {
                out.insert(A::KmsMasterKeyId, key.clone());
            }
        }
        if let Some((arn, count)) = &self.redrive {
            if before.is_none_or(|b| b.redrive.as_ref() != Some(&(arn.clone(), *count))) {
                let json =
                    serde_json::json!({ "deadLetterTargetArn": arn, "maxReceiveCount": count });
                out.insert(A::RedrivePolicy, json.to_string());
            }
        }
        // Sent even when unchanged if anything else changes: SQS keeps it either way, and
        // some emulators (moto) drop a policy that a SetQueueAttributes call leaves out.
        if let Some(policy) = &self.policy {
            let changed =
                before.is_none_or(|b| !b.policy.as_ref().is_some_and(|p| p.equivalent(policy)));
            if changed || !out.is_empty() {
                out.insert(A::Policy, policy.to_aws_json());
            }
        }
        out
    }

    /// Every tag the queue carries: the user's (or, when unmanaged, those it has) and plinth's.
    fn all_tags(&self, unmanaged: Option<&BTreeMap<String, String>>) -> BTreeMap<String, String> {
        let mut all = self
            .tags
            .as_ref()
            .or(unmanaged)
            .cloned()
            .unwrap_or_default();
        all.extend(self.ownership.clone());
        all
    }
}

/// A queue's attributes in plinth's terms. Without `attributes` (not read), only the name and
/// tags are known.
fn queue_resource(
    name: &str,
    url: &str,
    attributes: Option<&HashMap<A, String>>,
    tags: HashMap<String, String>,
) -> LiveResource {
    let (owner, address_tag, mut user_tags) = split_tags(tags);
    let mut live = Attributes::new();
    live.insert("name".into(), Value::str(name));
    let shares = crate::model::shared::take_shares(&mut user_tags);
    if !shares.is_empty() {
        live.insert(
            crate::model::shared::SHARES_ATTRIBUTE.into(),
            crate::model::shared::shares_value(&shares),
        );
    }
    live.insert(
        "tags".into(),
        Value::Map(
            user_tags
                .into_iter()
                .map(|(k, v)| (k, Value::Str(v)))
                .collect(),
        ),
    );
    let mut exports = Exports::from([
        ("name".to_string(), name.to_string()),
        ("url".to_string(), url.to_string()),
    ]);
    if let Some(attributes) = attributes {
        for (plinth, wire) in INT_ATTRIBUTES {
            if let Some(v) = attributes.get(wire).and_then(|v| v.parse::<i64>().ok()) {
                live.insert((*plinth).into(), Value::Int(v));
            }
        }
        for (plinth, wire) in BOOL_ATTRIBUTES {
            if let Some(v) = attributes.get(wire) {
                live.insert((*plinth).into(), Value::Bool(v == "true"));
            }
        }
        if let Some(key) = attributes.get(&A::KmsMasterKeyId).filter(|k| !k.is_empty()) {
            live.insert("kms_key".into(), Value::str(key));
        }
        if let Some(policy) = attributes.get(&A::Policy).filter(|p| !p.is_empty()) {
            live.insert(
                "policy".into(),
                // A policy SQS accepted but plinth cannot parse is still shown, never silently equal.
                PolicyDocument::parse(policy).map_or_else(|_| Value::str(policy), Value::policy),
            );
        }
        if let Some(raw) = attributes.get(&A::RedrivePolicy).filter(|r| !r.is_empty()) {
            // One plinth cannot read is kept as text: never absent, never silently equal.
            let redrive = parse_redrive(raw).unwrap_or_else(|| Value::str(raw));
            live.insert("redrive".into(), redrive);
        }
        if let Some(arn) = attributes.get(&A::QueueArn) {
            exports.insert("arn".into(), arn.clone());
        }
    }
    LiveResource {
        kind: Kind::Queue,
        physical_id: name.to_string(),
        owner,
        address_tag,
        attributes: live.into(),
        exports,
        deletion_date: None,
    }
}

/// The code of the wait for written attributes to show.
const PROPAGATING: &str = "Propagating";

/// SQS refuses a policy naming a principal IAM created moments ago as an invalid value of
/// `Policy`, until the principal propagates; plinth has checked the policy itself before.
fn principal_not_seen_yet(e: &AwsError) -> bool {
    e.code
        .as_deref()
        .is_some_and(|c| c.ends_with("InvalidAttributeValue"))
        && e.message.contains("Policy")
}

/// Whether a read shows what was written: the same text, or the same JSON (SQS may return a
/// policy or redrive policy with other spacing, and a count as a number or a string).
fn same_attribute(live: Option<&String>, written: &str) -> bool {
    fn json(text: &str) -> Option<serde_json::Value> {
        let mut value = serde_json::from_str(text).ok()?;
        numbers_as_strings(&mut value);
        Some(value)
    }
    fn numbers_as_strings(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Number(n) => *value = serde_json::Value::String(n.to_string()),
            serde_json::Value::Array(items) => items.iter_mut().for_each(numbers_as_strings),
            serde_json::Value::Object(map) => map.values_mut().for_each(numbers_as_strings),
            _ => {}
        }
    }
    let live = live.map(String::as_str).unwrap_or_default();
    live == written || matches!((json(live), json(written)), (Some(a), Some(b)) if a == b)
}

/// SQS's redrive policy JSON; `maxReceiveCount` comes back as a number or a string.
fn parse_redrive(json: &str) -> Option<Value> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let queue = v.get("deadLetterTargetArn")?.as_str()?.to_string();
    let count = match v.get("maxReceiveCount")? {
        serde_json::Value::Number(n) => n.as_i64()?,
        serde_json::Value::String(s) => s.parse().ok()?,
        _ => return None,
    };
    Some(Value::Map(BTreeMap::from([
        ("queue".to_string(), Value::Str(queue)),
        ("max_receive_count".to_string(), Value::Int(count)),
    ])))
}

/// A queue's ARN from its URL (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`, or an
/// emulator's `http://HOST/ACCOUNT/NAME`) and its region, or `None` for a URL of another shape.
fn queue_arn(url: &str, region: &str) -> Option<String> {
    let path = url.split_once("://")?.1.split_once('/')?.1;
    let (account, name) = path.trim_end_matches('/').split_once('/')?;
    let valid = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    if !valid || name.is_empty() || name.contains('/') {
        return None;
    }
    let at = ArnScope {
        partition: partition_of(region),
        region,
        account_id: account,
    };
    Some(Kind::Queue.arn(at, name))
}

/// The partition a region belongs to, by the prefixes AWS gives each partition's regions.
fn partition_of(region: &str) -> &'static str {
    const PARTITIONS: &[(&str, &str)] = &[
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
        ("eusc-", "aws-eusc"),
    ];
    PARTITIONS
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |(_, partition)| partition)
}

/// Queues through the generic apply.
pub(crate) struct QueueAdapter;

impl Adapter for QueueAdapter {
    type Client = Sqs;
    type Config = QueueConfig;
    const SHARED: bool = true;
    const ACTIONS: &'static KindActions = &ACTIONS;
    const FIRST_READ: &'static str = "sqs:GetQueueUrl";
    const DOCUMENTS: &'static [(&'static str, &'static str)] = &[
        ("policy", "sqs:GetQueueAttributes"),
        ("redrive", "sqs:GetQueueAttributes"),
    ];

    fn client(aws: &Aws) -> &Sqs {
        &aws.sqs
    }

    async fn read(sqs: &Sqs, request: &ReadRequest) -> Result<Option<LiveResource>, AwsError> {
        sqs.read_queue(request).await
    }

    async fn owned(
        sqs: &Sqs,
        stack: &str,
        named: &BTreeSet<String>,
    ) -> Result<Vec<LiveResource>, AwsError> {
        sqs.owned_queues(stack, named).await
    }

    async fn release(sqs: &Sqs, stack: &str, planned: &ResourceChange) -> Result<(), AwsError> {
        sqs.release_queue(stack, &planned.physical_id).await
    }

    fn config(
        change: &Change<'_>,
        attributes: &Attributes,
        side: Side,
    ) -> Result<QueueConfig, String> {
        QueueConfig::from_attributes(attributes, &change.ownership_of(side))
    }

    async fn create(sqs: &Sqs, _: &Change<'_>, desired: &QueueConfig) -> Result<Exports, AwsError> {
        sqs.create_queue(desired).await
    }

    async fn update(
        sqs: &Sqs,
        _: &Change<'_>,
        live: &QueueConfig,
        desired: &QueueConfig,
    ) -> Result<(), AwsError> {
        sqs.update_queue(live, desired).await
    }

    async fn delete(sqs: &Sqs, _: &Change<'_>, name: &str) -> Result<(), AwsError> {
        sqs.delete_queue(name).await
    }

    async fn shared(sqs: &Sqs, change: &Change<'_>, shared: &SharedChange) -> Result<(), AwsError> {
        sqs.apply_shared_queue(change.stack, &change.planned.physical_id, shared)
            .await
    }
}

/// One queue's tagging calls, by its URL.
struct QueueTags<'a> {
    sqs: &'a Sqs,
    url: &'a str,
}

impl Tagging for QueueTags<'_> {
    async fn tag(&self, tags: BTreeMap<String, String>) -> Result<(), AwsError> {
        (self.sqs.client.tag_queue())
            .queue_url(self.url)
            .set_tags(Some(tags.into_iter().collect()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("sqs:TagQueue", &e))
            .map(|_| ())
    }

    async fn untag(&self, keys: Vec<String>) -> Result<(), AwsError> {
        (self.sqs.client.untag_queue())
            .queue_url(self.url)
            .set_tag_keys(Some(keys))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("sqs:UntagQueue", &e))
            .map(|_| ())
    }
}

impl SharedTagging for QueueTags<'_> {
    async fn tags(&self) -> Result<BTreeMap<String, String>, AwsError> {
        Ok(self.sqs.tags(self.url).await?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests;
