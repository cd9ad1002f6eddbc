//! S3: buckets and the bucket settings plinth manages (notifications, CORS, policy, public
//! access block, default encryption, tags).
//!
//! A bucket plinth only configures (`existing = true`) is shared with its owner
//! (`shared_bucket.rs`): plinth records its parts in its `plinth:shares:STACK` tag, as on keys
//! and queues. An owned bucket records `force_destroy` in
//! `plinth:force-destroy`, because deleting a bucket that left the spec must still honour it.

mod apply;

use std::collections::{BTreeMap, BTreeSet};

use aws_config::SdkConfig;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CorsConfiguration, CorsRule, CreateBucketConfiguration, Delete,
    Event, FilterRule, FilterRuleName, LambdaFunctionConfiguration, NotificationConfiguration,
    NotificationConfigurationFilter, ObjectIdentifier, PublicAccessBlockConfiguration,
    QueueConfiguration, S3KeyFilter, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures::{stream, StreamExt, TryStreamExt};

mod adapter;

pub(crate) use adapter::BucketAdapter;

use super::{not_found_as_none, retry_transient, AwsError, Exports, Patience};
use crate::model::bucket as spec;
use crate::model::{Attributes, Kind, Value, STACK_TAG};
use crate::policy::PolicyDocument;
use crate::state::{split_tags, LiveResource, ReadRequest, READ_CONCURRENCY};

/// See [`super::KindActions`]. IAM names some S3 actions differently from the API calls:
/// CORS calls are `s3:*BucketCORS`, encryption `s3:*EncryptionConfiguration`, the public
/// access block `s3:*BucketPublicAccessBlock`, notifications `s3:*BucketNotification`, the
/// deletes of those settings and of tags are their `Put` actions, `ListObjectVersions` is
/// `s3:ListBucketVersions`, and `DeleteObjects` is `s3:DeleteObject` plus
/// `s3:DeleteObjectVersion` on the objects (`BUCKET/*`).
pub const ACTIONS: super::KindActions = super::KindActions {
    on_resource: &[
        "s3:PutBucketTagging",
        "s3:CreateBucket",
        // Tagging a bucket as CreateBucket makes it.
        "s3:TagResource",
        "s3:GetBucketPolicy",
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
        "s3:GetBucketCORS",
        "s3:PutBucketCORS",
        "s3:GetEncryptionConfiguration",
        "s3:PutEncryptionConfiguration",
        "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        "s3:GetBucketNotification",
        "s3:PutBucketNotification",
        "s3:ListBucketVersions",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:DeleteBucket",
    ],
    // Finding the buckets a stack owns reads the tags of every bucket in the region.
    account_wide: &["s3:ListAllMyBuckets", "s3:GetBucketTagging"],
    by_condition: &[],
    scope_key: "",
    elsewhere: &[],
    before_creation: &[],
};

#[derive(Clone, Debug)]
pub struct S3 {
    pub(super) client: aws_sdk_s3::Client,
    region: String,
    pub(super) patience: Patience,
}

impl S3 {
    /// Waits out AWS's eventual consistency for at most `patience`.
    pub fn patient(mut self, patience: Patience) -> Self {
        self.patience = patience;
        self
    }
}

/// S3 refuses a bucket policy naming a principal IAM created moments ago, until it propagates.
fn principal_not_seen_yet(e: &AwsError) -> bool {
    e.is_code("MalformedPolicy") && e.message.contains("Invalid principal")
}

/// S3 checks that it may send to each notification's destination, by the destination's
/// policy as S3 sees it: a queue policy written moments ago (in the same apply) may not be
/// seen yet. plinth's checks have already found any policy that does not let S3 send.
fn destination_not_validated_yet(e: &AwsError) -> bool {
    e.is_code("InvalidArgument")
        && e.message
            .contains("Unable to validate the following destination configurations")
}

/// Present (`true`) on an owned bucket whose objects plinth may delete with it.
pub const FORCE_DESTROY_TAG: &str = "plinth:force-destroy";

const NO_BUCKET: &[&str] = &["NoSuchBucket"];

impl S3 {
    pub fn new(config: &SdkConfig) -> Self {
        let mut builder = aws_sdk_s3::config::Builder::from(config);
        // Emulators answer on one host: bucket names go in the path, not the host name.
        if config.endpoint_url().is_some() {
            builder = builder.force_path_style(true);
        }
        let region = config.region().map(|r| r.to_string()).unwrap_or_default();
        Self {
            client: aws_sdk_s3::Client::from_conf(builder.build()),
            region,
            patience: Patience::default(),
        }
    }

    /// GetBucketTagging (existence and ownership), plus one Get call per setting the spec
    /// declares, run together.
    pub async fn read_bucket(&self, req: &ReadRequest) -> Result<Option<LiveResource>, AwsError> {
        let name = &req.physical_id;
        let Some(tags) = self.tags(name).await? else {
            return Ok(None);
        };
        let mut live = bucket_resource(name, tags);
        // A document a stack's record holds parts of is read even when the block no longer
        // declares it: the plan shows those parts' removal from what is there.
        let recorded = crate::model::shared::recorded_documents(&live.attributes);
        let declared = |a: &str| req.declared.contains(a) || recorded.contains(a);
        let (policy, cors, block, encryption, notifications) = futures::try_join!(
            async {
                if declared("policy") {
                    self.policy(name).await
                } else {
                    Ok(None)
                }
            },
            async {
                if declared("cors") {
                    self.cors(name).await.map(Some)
                } else {
                    Ok(None)
                }
            },
            async {
                if declared("public_access_block") {
                    self.public_access_block(name).await.map(Some)
                } else {
                    Ok(None)
                }
            },
            async {
                if declared("encryption") {
                    self.encryption(name).await
                } else {
                    Ok(None)
                }
            },
            async {
                if declared("notifications") {
                    self.notifications(name).await.map(Some)
                } else {
                    Ok(None)
                }
            },
        )?;
        for (attribute, value) in [
            ("policy", policy),
            ("cors", cors),
            ("public_access_block", block),
            ("encryption", encryption),
            ("notifications", notifications),
        ] {
            if let Some(v) = value {
                std::sync::Arc::make_mut(&mut live.attributes).insert(attribute.into(), v);
            }
        }
        Ok(Some(live))
    }

    /// The bucket's tags; `None` when the bucket does not exist.
    pub(super) async fn tags(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, AwsError> {
        match self.client.get_bucket_tagging().bucket(name).send().await {
            Ok(out) => Ok(Some(
                out.tag_set()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
            )),
            Err(e) => match ProvideErrorMetadata::code(&e) {
                Some("NoSuchTagSet") => Ok(Some(BTreeMap::new())),
                Some(c) if NO_BUCKET.contains(&c) => Ok(None),
                _ => Err(AwsError::from_sdk("s3:GetBucketTagging", &e)),
            },
        }
    }

    async fn policy(&self, name: &str) -> Result<Option<Value>, AwsError> {
        let out = not_found_as_none(
            self.client.get_bucket_policy().bucket(name).send().await,
            "s3:GetBucketPolicy",
            &["NoSuchBucketPolicy"],
        )?;
        Ok(out.and_then(|o| o.policy).map(|text| {
            // A policy S3 accepted but plinth cannot parse is still shown, never silently equal.
            PolicyDocument::parse(&text).map_or_else(|_| Value::Str(text.clone()), Value::policy)
        }))
    }

    async fn cors(&self, name: &str) -> Result<Value, AwsError> {
        let rules = self.cors_rules(name).await?;
        Ok(Value::List(rules.iter().map(cors_value).collect()))
    }

    /// The bucket's CORS rules as S3 returns them (none: no configuration).
    pub(super) async fn cors_rules(&self, name: &str) -> Result<Vec<CorsRule>, AwsError> {
        let out = not_found_as_none(
            self.client.get_bucket_cors().bucket(name).send().await,
            "s3:GetBucketCors",
            &["NoSuchCORSConfiguration"],
        )?;
        Ok(out
            .map(|o| o.cors_rules.unwrap_or_default())
            .unwrap_or_default())
    }

    /// No configuration at all means every switch is off.
    async fn public_access_block(&self, name: &str) -> Result<Value, AwsError> {
        let out = not_found_as_none(
            self.client
                .get_public_access_block()
                .bucket(name)
                .send()
                .await,
            "s3:GetPublicAccessBlock",
            &["NoSuchPublicAccessBlockConfiguration"],
        )?;
        let c = out.and_then(|o| o.public_access_block_configuration);
        let on = |f: fn(&PublicAccessBlockConfiguration) -> Option<bool>| {
            c.as_ref().and_then(f).unwrap_or(false)
        };
        Ok(spec::public_access_block(
            on(PublicAccessBlockConfiguration::block_public_acls),
            on(PublicAccessBlockConfiguration::ignore_public_acls),
            on(PublicAccessBlockConfiguration::block_public_policy),
            on(PublicAccessBlockConfiguration::restrict_public_buckets),
        ))
    }

    async fn encryption(&self, name: &str) -> Result<Option<Value>, AwsError> {
        let out = not_found_as_none(
            self.client
                .get_bucket_encryption()
                .bucket(name)
                .send()
                .await,
            "s3:GetBucketEncryption",
            &["ServerSideEncryptionConfigurationNotFoundError"],
        )?;
        let Some(rule) = out
            .and_then(|o| o.server_side_encryption_configuration)
            .and_then(|c| c.rules.into_iter().next())
        else {
            return Ok(None);
        };
        let default = rule.apply_server_side_encryption_by_default();
        let sse = match default.map(|d| d.sse_algorithm()) {
            Some(ServerSideEncryption::AwsKms) => "kms",
            Some(ServerSideEncryption::Aes256) => "s3",
            Some(other) => other.as_str(),
            None => return Ok(None),
        };
        let mut map = BTreeMap::from([
            ("sse".to_string(), Value::str(sse)),
            (
                "bucket_key".to_string(),
                Value::Bool(rule.bucket_key_enabled().unwrap_or(false)),
            ),
        ]);
        if let Some(key) = default.and_then(|d| d.kms_master_key_id()) {
            map.insert("kms_key".into(), Value::str(key));
        }
        Ok(Some(Value::Map(map)))
    }

    async fn notifications(&self, name: &str) -> Result<Value, AwsError> {
        let config = self.notification_configuration(name).await?;
        Ok(spec::notifications_value(notification_values(&config)))
    }

    /// The bucket's whole notification document, as S3 returns it.
    pub(super) async fn notification_configuration(
        &self,
        name: &str,
    ) -> Result<NotificationConfiguration, AwsError> {
        let out = match self
            .client
            .get_bucket_notification_configuration()
            .bucket(name)
            .send()
            .await
        {
            Ok(out) => out,
            // S3 answers `<NotificationConfiguration/>` when there is none; moto answers an
            // empty body, which the SDK cannot parse. Both mean no notifications.
            Err(e)
                if e.raw_response()
                    .is_some_and(|r| r.status().is_success() && r.body().bytes() == Some(b"")) =>
            {
                return Ok(NotificationConfiguration::builder().build());
            }
            Err(e) => {
                return Err(AwsError::from_sdk(
                    "s3:GetBucketNotificationConfiguration",
                    &e,
                ))
            }
        };
        Ok(NotificationConfiguration::builder()
            .set_queue_configurations(out.queue_configurations)
            .set_topic_configurations(out.topic_configurations)
            .set_lambda_function_configurations(out.lambda_function_configurations)
            .set_event_bridge_configuration(out.event_bridge_configuration)
            .build())
    }

    /// Every bucket in this region tagged as owned by `stack`. S3 cannot filter by tag, so
    /// this lists the region's buckets and reads each one's tags.
    pub async fn owned_buckets(
        &self,
        stack: &str,
        named: &BTreeSet<String>,
    ) -> Result<Vec<LiveResource>, AwsError> {
        let buckets: Vec<_> = self
            .client
            .list_buckets()
            .bucket_region(&self.region)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::from_sdk("s3:ListBuckets", &e))?;
        let unnamed = buckets
            .into_iter()
            .filter(|b| !b.name().is_some_and(|n| named.contains(n)));
        let tagged: Vec<(String, BTreeMap<String, String>)> = stream::iter(unnamed)
            .map(|b| async move {
                let name = b.name().unwrap_or_default().to_string();
                match self.tags(&name).await {
                    Ok(tags) => Ok(tags.map(|tags| (name, tags))),
                    // A bucket whose policy refuses this identity even its tags (a log or
                    // security bucket kept to one role) is not one plinth can manage, so it
                    // is not one plinth made: as for keys, it is left out, not a failure.
                    Err(e) if e.denial().is_some() => {
                        tracing::debug!(
                            bucket = name,
                            "skipping a bucket whose tags cannot be read: {e}"
                        );
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            })
            .buffer_unordered(READ_CONCURRENCY)
            .try_filter_map(|found| async move { Ok(found) })
            .try_collect()
            .await?;
        let mut owned: Vec<LiveResource> = tagged
            .into_iter()
            .filter(|(_, tags)| {
                tags.get(STACK_TAG).is_some_and(|s| s == stack)
                    || tags.contains_key(&crate::model::shared::tag_key(stack, 0))
            })
            .map(|(name, tags)| bucket_resource(&name, tags))
            .collect();
        let released = owned
            .iter_mut()
            .filter(|b| b.holds_shared_statements(stack));
        futures::future::try_join_all(released.map(|bucket| async move {
            if let Some(policy) = self.policy(&bucket.physical_id).await? {
                std::sync::Arc::make_mut(&mut bucket.attributes).insert("policy".into(), policy);
            }
            Ok::<_, AwsError>(())
        }))
        .await?;
        owned.sort_by(|a, b| a.physical_id.cmp(&b.physical_id));
        Ok(owned)
    }
}

pub(super) fn map(v: &Value) -> Option<&Attributes> {
    match v {
        Value::Map(m) => Some(m),
        _ => None,
    }
}

/// A notification document's entries as plinth compares them, each with its id (S3 gives one
/// to every entry); S3's EventBridge switch is an entry of its own.
pub(super) fn notification_values(out: &NotificationConfiguration) -> Vec<Value> {
    let filter = |f: Option<&NotificationConfigurationFilter>, which: FilterRuleName| {
        f.and_then(|f| f.key())
            .and_then(|k| {
                k.filter_rules().iter().find(|r| {
                    r.name()
                        .is_some_and(|n| n.as_str().eq_ignore_ascii_case(which.as_str()))
                })
            })
            .and_then(|r| r.value().map(str::to_string))
    };
    let entry = |kind: &str,
                 id: Option<&str>,
                 arn: &str,
                 events: &[Event],
                 f: Option<&NotificationConfigurationFilter>| {
        let value = spec::notification(
            kind,
            Value::str(arn),
            events.iter().map(|e| e.as_str().to_string()),
            filter(f, FilterRuleName::Prefix),
            filter(f, FilterRuleName::Suffix),
        );
        match id {
            Some(id) => spec::with_id(value, id),
            None => value,
        }
    };
    let mut entries = Vec::new();
    for q in out.queue_configurations() {
        entries.push(entry(
            "queue",
            q.id(),
            q.queue_arn(),
            q.events(),
            q.filter(),
        ));
    }
    for l in out.lambda_function_configurations() {
        let arn = l.lambda_function_arn();
        entries.push(entry("function", l.id(), arn, l.events(), l.filter()));
    }
    // Kept on a shared bucket; on an owned one plinth writes the whole document, so what
    // else is there shows up, to be removed.
    for t in out.topic_configurations() {
        entries.push(entry(
            "topic",
            t.id(),
            t.topic_arn(),
            t.events(),
            t.filter(),
        ));
    }
    if out.event_bridge_configuration().is_some() {
        entries.push(Value::Map(BTreeMap::from([(
            "eventbridge".to_string(),
            Value::Bool(true),
        )])));
    }
    entries
}

/// One CORS rule as plinth compares it.
pub(super) fn cors_value(r: &CorsRule) -> Value {
    spec::cors_rule(&spec::CorsRule {
        id: r.id().map(str::to_string),
        allowed_origins: r.allowed_origins().to_vec(),
        allowed_methods: r.allowed_methods().to_vec(),
        allowed_headers: r.allowed_headers().to_vec(),
        expose_headers: r.expose_headers().to_vec(),
        max_age: r.max_age_seconds().map(i64::from),
    })
}

pub(super) fn invalid_config(bucket: &str, e: impl std::fmt::Display) -> AwsError {
    AwsError {
        operation: format!("configure bucket `{bucket}`"),
        code: None,
        message: e.to_string(),
        hint: Some("plan again".into()),
    }
}

pub(super) fn cors_rule(bucket: &str, m: &Attributes) -> Result<CorsRule, AwsError> {
    let list = |k: &str| match m.get(k) {
        Some(Value::Set(items)) => Some(items.clone()),
        _ => None,
    };
    CorsRule::builder()
        .set_id(m.get("id").and_then(Value::as_str).map(str::to_string))
        .set_allowed_origins(list("allowed_origins"))
        .set_allowed_methods(list("allowed_methods"))
        .set_allowed_headers(list("allowed_headers"))
        .set_expose_headers(list("expose_headers"))
        .set_max_age_seconds(match m.get("max_age") {
            Some(Value::Int(age)) => i32::try_from(*age).ok(),
            _ => None,
        })
        .build()
        .map_err(|e| invalid_config(bucket, e))
}

/// plinth's notification entries in S3's types, with their ids when they have them.
pub(super) fn notification_configurations(
    name: &str,
    entries: &[&Attributes],
) -> Result<(Vec<QueueConfiguration>, Vec<LambdaFunctionConfiguration>), AwsError> {
    let (mut queues, mut functions) = (Vec::new(), Vec::new());
    for entry in entries {
        let events: Vec<Event> = match entry.get("events") {
            Some(Value::Set(events)) => events.iter().map(|e| Event::from(e.as_str())).collect(),
            _ => Vec::new(),
        };
        let rules: Vec<FilterRule> = [
            ("prefix", FilterRuleName::Prefix),
            ("suffix", FilterRuleName::Suffix),
        ]
        .into_iter()
        .filter_map(|(k, rule)| {
            Some(
                FilterRule::builder()
                    .name(rule)
                    .value(entry.get(k)?.as_str()?)
                    .build(),
            )
        })
        .collect();
        let filter = (!rules.is_empty()).then(|| {
            NotificationConfigurationFilter::builder()
                .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
                .build()
        });
        let id = entry.get("id").and_then(Value::as_str).map(str::to_string);
        if let Some(arn) = entry.get("queue").and_then(Value::as_str) {
            let q = QueueConfiguration::builder()
                .set_id(id)
                .queue_arn(arn)
                .set_events(Some(events))
                .set_filter(filter)
                .build();
            queues.push(q.map_err(|e| invalid_config(name, e))?);
        } else if let Some(arn) = entry.get("function").and_then(Value::as_str) {
            let l = LambdaFunctionConfiguration::builder()
                .set_id(id)
                .lambda_function_arn(arn)
                .set_events(Some(events))
                .set_filter(filter)
                .build();
            functions.push(l.map_err(|e| invalid_config(name, e))?);
        }
    }
    Ok((queues, functions))
}

/// A bucket as plinth wants it (or found it), from a plan's attributes. Settings are kept as
/// plan values (`None`: unmanaged) and turned into S3's types only when sent.
#[derive(Debug, Clone)]
pub struct BucketConfig {
    pub name: String,
    pub force_destroy: bool,
    pub policy: Option<Value>,
    pub cors: Option<Value>,
    pub public_access_block: Option<Value>,
    pub encryption: Option<Value>,
    pub notifications: Option<Value>,
    pub tags: Option<BTreeMap<String, String>>,
    pub ownership: BTreeMap<String, String>,
}

impl BucketConfig {
    pub fn from_attributes(
        attrs: &Attributes,
        ownership: &BTreeMap<String, String>,
    ) -> Result<BucketConfig, String> {
        let name = attrs
            .get("name")
            .and_then(Value::as_str)
            .ok_or("a bucket needs a name")?
            .to_string();
        let flag = |k: &str| matches!(attrs.get(k), Some(Value::Bool(true)));
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
        Ok(BucketConfig {
            name,
            force_destroy: flag("force_destroy"),
            policy: attrs.get("policy").cloned(),
            cors: attrs.get("cors").cloned(),
            public_access_block: attrs.get("public_access_block").cloned(),
            encryption: attrs.get("encryption").cloned(),
            notifications: attrs.get("notifications").cloned(),
            tags,
            ownership: ownership.clone(),
        })
    }

    /// The whole tag set: the user's (or, when unmanaged, those it has), plinth's ownership
    /// tags, and what plinth must remember about the bucket.
    fn all_tags(&self, unmanaged: Option<&BTreeMap<String, String>>) -> BTreeMap<String, String> {
        let mut all = self
            .tags
            .as_ref()
            .or(unmanaged)
            .cloned()
            .unwrap_or_default();
        all.extend(self.ownership.clone());
        if self.force_destroy {
            all.insert(FORCE_DESTROY_TAG.into(), "true".into());
        }
        all
    }

    fn exports(&self) -> Exports {
        Exports::from([("name".into(), self.name.clone())])
    }
}

/// What a bucket's tags say, in plinth's terms: its owner, or the records of the stacks that
/// share it (`existing = true`).
fn bucket_resource(name: &str, tags: BTreeMap<String, String>) -> LiveResource {
    let force_destroy = tags.get(FORCE_DESTROY_TAG).is_some_and(|v| v == "true");
    let (owner, address_tag, mut user_tags) = split_tags(tags);
    user_tags.remove(FORCE_DESTROY_TAG);
    let mut attributes = Attributes::new();
    attributes.insert("name".into(), Value::str(name));
    attributes.insert("existing".into(), Value::Bool(false));
    attributes.insert("force_destroy".into(), Value::Bool(force_destroy));
    let shares = crate::model::shared::take_shares(&mut user_tags);
    if !shares.is_empty() {
        attributes.insert(
            crate::model::shared::SHARES_ATTRIBUTE.into(),
            crate::model::shared::shares_value(&shares),
        );
    }
    attributes.insert(
        "tags".into(),
        Value::Map(
            user_tags
                .into_iter()
                .map(|(k, v)| (k, Value::Str(v)))
                .collect(),
        ),
    );
    let exports = BTreeMap::from([("name".to_string(), name.to_string())]);
    LiveResource {
        kind: Kind::Bucket,
        physical_id: name.to_string(),
        owner,
        address_tag,
        attributes: attributes.into(),
        exports,
        deletion_date: None,
    }
}

/// An error about one of plinth's own objects (the stack's lock or index), naming the object,
/// and for a bucket that does not exist, the setting that names it.
fn own_object_error(mut err: AwsError, bucket: &str, key: &str) -> AwsError {
    err.operation = format!("{} (s3://{bucket}/{key})", err.operation);
    if err.is_code("NoSuchBucket") {
        err.message = format!("the lock bucket `{bucket}` does not exist");
        err.hint = Some(format!(
            "create it (`aws s3 mb s3://{bucket}`), or name a bucket that exists in [stack] lock = {{ bucket = \"...\" }}"
        ));
    }
    err
}

/// Small objects for plinth's own use (the stack lock).
impl S3 {
    /// Creates `bucket/key` only if no such object exists (a conditional write, atomic in S3).
    /// `Ok(false)` when it already exists.
    pub async fn put_if_absent(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
    ) -> Result<bool, AwsError> {
        let put = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .if_none_match("*")
            .content_type("application/json")
            .body(body.into())
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.code(),
                    Some("PreconditionFailed" | "ConditionalRequestConflict")
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(own_object_error(
                AwsError::from_sdk("s3:PutObject", &e),
                bucket,
                key,
            )),
        }
    }

    /// Writes the object whatever was there.
    pub async fn put_text(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), AwsError> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(body.into())
            .send()
            .await
            .map_err(|e| own_object_error(AwsError::from_sdk("s3:PutObject", &e), bucket, key))?;
        Ok(())
    }

    /// The object's content, or `None` when there is no such object.
    pub async fn get_text(&self, bucket: &str, key: &str) -> Result<Option<String>, AwsError> {
        let Some(out) = not_found_as_none(
            self.client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await,
            "s3:GetObject",
            &["NoSuchKey"],
        )
        .map_err(|e| own_object_error(e, bucket, key))?
        else {
            return Ok(None);
        };
        let bytes = out.body.collect().await.map_err(|e| AwsError {
            operation: "s3:GetObject".into(),
            code: None,
            message: e.to_string(),
            hint: None,
        })?;
        Ok(Some(
            String::from_utf8_lossy(&bytes.into_bytes()).into_owned(),
        ))
    }

    pub async fn delete_key(&self, bucket: &str, key: &str) -> Result<(), AwsError> {
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                own_object_error(AwsError::from_sdk("s3:DeleteObject", &e), bucket, key)
            })?;
        Ok(())
    }
}
