//! KMS: customer-managed keys, their key policies, rotation, state, aliases and tags.
//!
//! KMS's quirks live here. A key has no name, only the id KMS assigns, so plinth finds it by an
//! alias or by its ownership tags. It is never deleted at once: deleting schedules the deletion
//! after a waiting period, during which the key can be recovered. CreateKey takes no
//! idempotency token, so creating is guarded against leaving a second key behind.

mod apply;

pub(crate) use apply::KeyAdapter;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::SdkConfig;
use aws_sdk_kms::config::http::HttpResponse;
use aws_sdk_kms::error::SdkError;
use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType, Tag};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures::{stream, StreamExt, TryStreamExt};

use super::adapter::{Adapter, Change, Side};
use super::planned::{all_tags, Planned};
use super::shared::SharedChange;
use super::tagging::{SharedTagging, Tagging};
use super::{not_found_as_none, ownership_tags, retry_transient, AwsError, Exports, Patience};
use super::{Aws, KindActions};
use crate::model::key::{DEFAULT_DELETION_WINDOW_DAYS, DEFAULT_KEY_SPEC, DEFAULT_KEY_USAGE};
use crate::model::{Address, Attributes, Kind, Value, ADDRESS_TAG, STACK_TAG};
use crate::plan::ResourceChange;
use crate::policy::PolicyDocument;
use crate::state::{split_tags, LiveResource, ReadRequest, READ_CONCURRENCY};

/// plinth's record of how long a key waits between being removed from the spec and being
/// deleted: a key removed from the spec has no spec left to say so.
const DELETION_WINDOW_TAG: &str = "plinth:deletion-window-days";
/// Marks the keys one apply created, so a CreateKey whose answer was lost is not repeated.
const CREATE_TOKEN_TAG: &str = "plinth:create-token";
/// On a key made to replace another: the other's id. Until the replaced key's deletion is
/// scheduled both carry the address tag, and this tells the plan which one is left over.
const REPLACES_TAG: &str = "plinth:replaces";
/// KMS has one key policy per key, always named `default`.
const POLICY_NAME: &str = "default";
/// Aliases under this prefix belong to keys AWS manages for its services.
const AWS_ALIAS_PREFIX: &str = "alias/aws/";
const NOT_FOUND: &[&str] = &["NotFoundException"];

/// The waits before each new attempt at a call KMS refused because a principal in the key
/// policy was created moments ago and has not reached KMS yet: the first wait doubling, up to
/// its most, for as long as `--max-wait` allows in all.
fn new_principal_waits(patience: Patience) -> impl Iterator<Item = Duration> {
    let mut next = patience.first_delay.max(Duration::from_millis(1));
    let mut waited = Duration::ZERO;
    std::iter::from_fn(move || {
        let delay = next.min(patience.max_delay);
        if waited + delay > patience.limit {
            return None;
        }
        waited += delay;
        next = delay * 2;
        Some(delay)
    })
}

/// See [`super::KindActions`]. A key has no name to scope a grant by before KMS assigns its
/// id, so the calls on a key are granted on the account's keys tagged with the stack, and
/// creating one (with its tags) on `*`.
pub const ACTIONS: super::KindActions = super::KindActions {
    on_resource: &[
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:GetKeyRotationStatus",
        "kms:PutKeyPolicy",
        "kms:EnableKeyRotation",
        "kms:DisableKeyRotation",
        "kms:EnableKey",
        "kms:DisableKey",
        "kms:UpdateKeyDescription",
        "kms:TagResource",
        "kms:UntagResource",
        "kms:CreateAlias",
        "kms:DeleteAlias",
        "kms:ScheduleKeyDeletion",
        "kms:CancelKeyDeletion",
    ],
    account_wide: &["kms:ListKeys", "kms:ListAliases", "kms:ListResourceTags"],
    by_condition: &[],
    scope_key: "",
    elsewhere: &[],
    before_creation: &["kms:CreateKey", "kms:TagResource"],
};

#[derive(Clone, Debug)]
pub struct Kms {
    client: aws_sdk_kms::Client,
    /// Tagged on every key this process creates.
    create_token: String,
    /// Attempts at CreateKey and the first wait between them: the SDK's retry settings
    /// (`--max-attempts`, `--retry-backoff-ms`), which CreateKey cannot use as they are.
    create_attempts: u32,
    create_backoff: Duration,
    /// How long a call waits, in all, for a new principal to reach KMS (`--max-wait`).
    patience: Patience,
    /// The stack's keys that some other process created, read at this process's first
    /// CreateKey: the keys an interrupted earlier apply may have left. Read once, not once per
    /// key, so creating many keys does not list the account's keys again and again.
    earlier_keys: tokio::sync::OnceCell<(String, Vec<LiveResource>)>,
}

/// A key as plinth wants it, taken from a plan's resolved attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyConfig {
    pub description: Option<String>,
    /// `None` leaves the key policy to KMS.
    pub policy: Option<PolicyDocument>,
    pub key_usage: String,
    pub key_spec: String,
    pub rotation: Option<bool>,
    pub enabled: Option<bool>,
    /// `None` leaves the aliases unmanaged.
    pub aliases: Option<BTreeSet<String>>,
    /// The user's tags; `None` leaves them unmanaged.
    pub tags: Option<BTreeMap<String, String>>,
    /// `None` on a key plinth did not create (it has no window tag yet).
    pub deletion_window_days: Option<i64>,
    /// Send the policy even if it would lock the caller out (the spec gives a reason).
    pub bypass_lockout_check: bool,
}

impl KeyConfig {
    pub fn from_attributes(attrs: &Planned<'_>) -> Result<KeyConfig, String> {
        Ok(KeyConfig {
            description: attrs.str("description")?,
            policy: attrs.policy("policy")?,
            key_usage: attrs
                .str("key_usage")?
                .unwrap_or_else(|| DEFAULT_KEY_USAGE.to_string()),
            key_spec: attrs
                .str("key_spec")?
                .unwrap_or_else(|| DEFAULT_KEY_SPEC.to_string()),
            rotation: attrs.bool("rotation")?,
            enabled: attrs.bool("enabled")?,
            aliases: attrs.set("aliases")?,
            tags: attrs.tags()?,
            deletion_window_days: attrs.int("deletion_window_days")?,
            bypass_lockout_check: attrs.bool("bypass_lockout_check")?.unwrap_or(false),
        })
    }

    /// plinth's own tags on the key: ownership and the deletion window.
    fn plinth_tags(&self, ownership: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut tags = ownership.clone();
        if let Some(days) = self.deletion_window_days {
            tags.insert(DELETION_WINDOW_TAG.to_string(), days.to_string());
        }
        tags
    }

    fn window(&self) -> i32 {
        self.deletion_window_days
            .unwrap_or(DEFAULT_DELETION_WINDOW_DAYS) as i32
    }
}

fn tags_of(map: &BTreeMap<String, String>) -> Vec<Tag> {
    map.iter()
        .map(|(k, v)| {
            Tag::builder()
                .tag_key(k)
                .tag_value(v)
                .build()
                .expect("key and value are set")
        })
        .collect()
}

/// Whether a failed call may still have been carried out (its answer was lost, or AWS failed
/// on its side or throttled it), as opposed to a refusal. KMS's own codes for these
/// (`KMSInternalException`, `DependencyTimeoutException`) and the generic ones a front end
/// answers with (`ServiceUnavailable`, `InternalFailure`) all come with a 5xx status.
fn outcome_unknown<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(e) => {
            let status = e.raw().status().as_u16();
            status >= 500
                || status == 429
                || matches!(
                    e.err().code(),
                    Some("ThrottlingException" | "Throttling" | "RequestLimitExceeded")
                )
        }
        SdkError::ConstructionFailure(_) => false,
        _ => true,
    }
}

/// KMS refuses a key policy naming a principal IAM created moments ago, until it propagates.
fn new_principal_not_seen_yet(err: &AwsError) -> bool {
    err.is_code("MalformedPolicyDocumentException")
        && err
            .message
            .to_ascii_lowercase()
            .contains("invalid principal")
}

impl Kms {
    pub fn new(config: &SdkConfig, patience: Patience) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            client: aws_sdk_kms::Client::new(config),
            create_token: format!("{}-{:x}", std::process::id(), now.as_nanos()),
            create_attempts: config.retry_config().map_or(3, |r| r.max_attempts()).max(1),
            create_backoff: config
                .retry_config()
                .map_or(Duration::from_secs(1), |r| r.initial_backoff()),
            earlier_keys: tokio::sync::OnceCell::new(),
            patience,
        }
    }

    /// DescribeKey by the first alias, then the key's tags and aliases, and its policy and
    /// rotation when the spec declares them.
    pub async fn read_key(&self, req: &ReadRequest) -> Result<Option<LiveResource>, AwsError> {
        self.key(&req.physical_id, Some(&req.declared)).await
    }

    /// A key by its id, ARN or alias; `None` when there is no such key. The policy and the
    /// rotation are read only when `declared` names them (or is `None`): an attribute the spec
    /// leaves unmanaged is never compared, so a call for it would be wasted.
    async fn key(
        &self,
        id: &str,
        declared: Option<&BTreeSet<String>>,
    ) -> Result<Option<LiveResource>, AwsError> {
        let wanted = |attribute: &str| declared.is_none_or(|d| d.contains(attribute));
        let described = not_found_as_none(
            self.client.describe_key().key_id(id).send().await,
            "kms:DescribeKey",
            NOT_FOUND,
        )?;
        let Some(meta) = described.and_then(|d| d.key_metadata) else {
            return Ok(None);
        };
        let key_id = meta.key_id().to_string();
        let key_spec = meta.key_spec().map_or(DEFAULT_KEY_SPEC, |s| s.as_str());
        // The four reads need only the key id, so they go out together: one round trip after
        // DescribeKey instead of four.
        let policy = async {
            if !wanted("policy") {
                return Ok(None);
            }
            self.key_policy(&key_id)
                .await
                .map(|policy| Some(policy.unwrap_or_default()))
        };
        let rotation = async {
            if !wanted("rotation") {
                return Ok(None);
            }
            // KMS rotates symmetric encryption keys only, and refuses to answer for the others.
            if key_spec != DEFAULT_KEY_SPEC {
                return Ok(Some(false));
            }
            self.client
                .get_key_rotation_status()
                .key_id(&key_id)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("kms:GetKeyRotationStatus", &e))
                .map(|out| Some(out.key_rotation_enabled))
        };
        let (tags, aliases, policy, rotation) = futures::try_join!(
            self.tags(&key_id),
            self.aliases(Some(&key_id)),
            policy,
            rotation
        )?;

        let (owner, address_tag, mut user_tags) = split_tags(tags);
        user_tags.remove(CREATE_TOKEN_TAG);
        let replaced = user_tags.remove(REPLACES_TAG);
        let shares = crate::model::shared::take_shares(&mut user_tags);
        let window = user_tags
            .remove(DELETION_WINDOW_TAG)
            .and_then(|d| d.parse::<i64>().ok());
        let mut attributes = Attributes::new();
        attributes.insert(
            "description".into(),
            Value::str(meta.description().unwrap_or_default()),
        );
        // A stack's record holds statements of a policy its block no longer declares: read
        // it after all, so that the plan removes them from what is there (one more round trip,
        // only then).
        if !shares.is_empty() {
            attributes.insert(
                crate::model::shared::SHARES_ATTRIBUTE.into(),
                crate::model::shared::shares_value(&shares),
            );
        }
        let recorded = crate::model::shared::recorded_documents(&attributes).contains("policy");
        let policy = match policy {
            None if recorded && declared.is_some() => {
                Some(self.key_policy(&key_id).await?.unwrap_or_default())
            }
            policy => policy,
        };
        if let Some(policy) = policy {
            attributes.insert(
                "policy".into(),
                match PolicyDocument::parse(&policy) {
                    Ok(doc) => Value::policy(doc),
                    // A policy KMS accepted but plinth cannot parse is still shown, never silently equal.
                    Err(_) => Value::Str(policy),
                },
            );
        }
        attributes.insert(
            "key_usage".into(),
            Value::str(meta.key_usage().map_or(DEFAULT_KEY_USAGE, |u| u.as_str())),
        );
        attributes.insert("key_spec".into(), Value::str(key_spec));
        if let Some(rotation) = rotation {
            attributes.insert("rotation".into(), Value::Bool(rotation));
        }
        attributes.insert(
            "enabled".into(),
            Value::Bool(meta.key_state() == Some(&KeyState::Enabled)),
        );
        attributes.insert("aliases".into(), Value::set(aliases));
        attributes.insert(
            "tags".into(),
            Value::Map(
                user_tags
                    .into_iter()
                    .map(|(k, v)| (k, Value::Str(v)))
                    .collect(),
            ),
        );
        if let Some(days) = window {
            attributes.insert("deletion_window_days".into(), Value::Int(days));
        }
        let arn = meta.arn().unwrap_or_default().to_string();
        let mut exports = BTreeMap::from([
            ("arn".to_string(), arn),
            ("key_id".to_string(), key_id.clone()),
        ]);
        if let Some(replaced) = replaced {
            exports.insert(crate::state::REPLACED_EXPORT.to_string(), replaced);
        }
        Ok(Some(LiveResource {
            kind: Kind::Key,
            physical_id: key_id,
            owner,
            address_tag,
            attributes: attributes.into(),
            exports,
            deletion_date: meta
                .deletion_date()
                .filter(|_| meta.key_state() == Some(&KeyState::PendingDeletion))
                .and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
        }))
    }

    /// The key's policy as KMS returns it (`None` when the answer holds none).
    pub(super) async fn key_policy(&self, key_id: &str) -> Result<Option<String>, AwsError> {
        self.client
            .get_key_policy()
            .key_id(key_id)
            .policy_name(POLICY_NAME)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("kms:GetKeyPolicy", &e))
            .map(|out| out.policy)
    }

    async fn tags(&self, key_id: &str) -> Result<Vec<(String, String)>, AwsError> {
        let tags: Result<Vec<Tag>, AwsError> = self
            .client
            .list_resource_tags()
            .key_id(key_id)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::from_sdk("kms:ListResourceTags", &e));
        // A key deleted since it was listed has no tags, so it is nobody's.
        let tags = match tags {
            Err(e) if e.is_code("NotFoundException") => Vec::new(),
            other => other?,
        };
        Ok(tags
            .into_iter()
            .map(|t| (t.tag_key().to_string(), t.tag_value().to_string()))
            .collect())
    }

    /// Alias names, of one key or of every key, by key id.
    async fn aliases(&self, key_id: Option<&str>) -> Result<Vec<String>, AwsError> {
        Ok(self
            .aliases_by_key(key_id)
            .await?
            .into_values()
            .flatten()
            .collect())
    }

    async fn aliases_by_key(
        &self,
        key_id: Option<&str>,
    ) -> Result<BTreeMap<String, Vec<String>>, AwsError> {
        let entries: Vec<_> = self
            .client
            .list_aliases()
            .set_key_id(key_id.map(str::to_string))
            // The largest pages KMS serves (the default is 50).
            .limit(100)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::from_sdk("kms:ListAliases", &e))?;
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for entry in entries {
            if let (Some(key), Some(name)) = (entry.target_key_id(), entry.alias_name()) {
                by_key
                    .entry(key.to_string())
                    .or_default()
                    .push(name.to_string());
            }
        }
        Ok(by_key)
    }

    /// Every key tagged as owned by `stack`, including those pending deletion. KMS cannot
    /// filter by tag: this lists the account's keys, skips those AWS manages for its services
    /// (they carry `alias/aws/...` aliases) and reads the tags of the rest.
    ///
    /// A key with an alias in `named` is left out: the spec reads it by that alias.
    pub async fn owned_keys(
        &self,
        stack: &str,
        named: &BTreeSet<String>,
    ) -> Result<Vec<LiveResource>, AwsError> {
        let record = crate::model::shared::tag_key(stack, 0);
        self.tagged_keys(named, |tags| {
            tags.iter()
                .any(|(k, v)| (k == STACK_TAG && v == stack) || *k == record)
        })
        .await
    }

    /// Keys, other than AWS's and those with an alias in `skip`, whose tags are `wanted`.
    async fn tagged_keys(
        &self,
        skip: &BTreeSet<String>,
        wanted: impl Fn(&[(String, String)]) -> bool,
    ) -> Result<Vec<LiveResource>, AwsError> {
        // The two listings need nothing of each other: one round trip, not two.
        let listed = async {
            let keys: Vec<_> = self
                .client
                .list_keys()
                .limit(1000)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| AwsError::from_sdk("kms:ListKeys", &e))?;
            Ok::<_, AwsError>(keys)
        };
        let (aliases, listed) = futures::try_join!(self.aliases_by_key(None), listed)?;
        let skipped: BTreeSet<&String> = aliases
            .iter()
            .filter(|(_, names)| {
                names
                    .iter()
                    .any(|n| n.starts_with(AWS_ALIAS_PREFIX) || skip.contains(n))
            })
            .map(|(k, _)| k)
            .collect();
        let keys: Vec<String> = listed
            .into_iter()
            .filter_map(|k| k.key_id)
            .filter(|id| !skipped.contains(id))
            .collect();
        let wanted = &wanted;
        let found: Vec<Option<LiveResource>> = stream::iter(keys)
            .map(|key_id| async move {
                let tags = match self.tags(&key_id).await {
                    Ok(tags) => tags,
                    // A key whose policy hides even its tags from this identity is not one
                    // plinth can manage, so it is not one plinth made.
                    Err(e) if e.is_code("AccessDeniedException") => {
                        tracing::debug!(key_id, "skipping a key whose tags cannot be read: {e}");
                        return Ok(None);
                    }
                    Err(e) => return Err(e),
                };
                if !wanted(&tags) {
                    return Ok(None);
                }
                self.key(&key_id, None).await
            })
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut found: Vec<LiveResource> = found.into_iter().flatten().collect();
        found.sort_by(|a, b| a.physical_id.cmp(&b.physical_id));
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The waits for a new principal double from the first and stop before `--max-wait` is
    /// spent in all.
    #[test]
    fn new_principal_waits_stay_within_max_wait() {
        let patience = |limit: u64| Patience {
            limit: Duration::from_secs(limit),
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
        };
        let secs = |limit| {
            new_principal_waits(patience(limit))
                .map(|d| d.as_secs())
                .collect::<Vec<_>>()
        };
        assert_eq!(secs(90), [1, 2, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8]);
        assert_eq!(secs(10), [1, 2, 4]);
        assert_eq!(secs(0), Vec::<u64>::new());
    }
}
