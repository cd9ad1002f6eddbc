//! IAM: roles (with their trust and inline policies, managed-policy attachments and tags),
//! customer-managed policies, instance profiles and OpenID Connect providers.
//!
//! IAM returns policy documents URL-encoded; they are decoded and parsed here so that nothing
//! above this module ever compares policy text.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_iam::types::Tag;

use crate::aws::{AwsError, Patience};
use crate::model::Value;
use crate::policy::PolicyDocument;
use crate::state::split_tags;

/// The largest page IAM's listings serve (their default is 100): an account of 1,000 roles is
/// listed in one call instead of ten made one after another.
const LIST_PAGE: i32 = 1000;

mod instance_profile;
mod oidc_provider;
mod policy;
mod role;
mod tags;

pub(crate) use instance_profile::InstanceProfileAdapter;
pub use instance_profile::{InstanceProfileConfig, INSTANCE_PROFILE_ACTIONS};
pub(crate) use oidc_provider::OidcProviderAdapter;
pub use oidc_provider::{OidcProviderConfig, OIDC_PROVIDER_ACTIONS};
pub(crate) use policy::ManagedPolicyAdapter;
pub use policy::{ManagedPolicyConfig, MANAGED_POLICY_ACTIONS};
pub(crate) use role::RoleAdapter;
pub use role::{RoleConfig, ROLE_ACTIONS};

#[derive(Clone, Debug)]
pub struct Iam {
    client: aws_sdk_iam::Client,
    patience: Patience,
}

/// A trust policy naming a principal created a moment ago is rejected until IAM has
/// propagated it.
fn principal_not_seen_yet(e: &AwsError) -> bool {
    e.is_code("MalformedPolicyDocument") && e.message.contains("Invalid principal")
}

fn tags_of(map: &BTreeMap<String, String>) -> Vec<Tag> {
    map.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .expect("key and value are set")
        })
        .collect()
}

/// IAM hands policy documents back URL-encoded.
fn decode_document(raw: &str) -> Value {
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned();
    match PolicyDocument::parse(&decoded) {
        Ok(doc) => Value::policy(doc),
        // A document IAM accepted but plinth cannot parse is still shown, never silently equal.
        Err(_) => Value::Str(decoded),
    }
}

impl Iam {
    pub fn new(config: &SdkConfig, patience: Patience) -> Self {
        Self {
            client: aws_sdk_iam::Client::new(config),
            patience,
        }
    }

    /// The ARN of the role `name`, path included; `None` when there is no such role.
    pub async fn role_arn(&self, name: &str) -> Result<Option<String>, AwsError> {
        let got = crate::aws::not_found_as_none(
            self.client.get_role().role_name(name).send().await,
            "iam:GetRole",
            &["NoSuchEntity"],
        )?;
        Ok(got.and_then(|o| o.role).map(|r| r.arn().to_string()))
    }
}

/// The user's tags and plinth's ownership tags, split out of IAM's tag list.
fn split_iam_tags(tags: &[Tag]) -> (Option<String>, Option<crate::model::Address>, Value) {
    let (owner, address_tag, user) = split_tags(
        tags.iter()
            .map(|t| (t.key().to_string(), t.value().to_string())),
    );
    (
        owner,
        address_tag,
        Value::Map(user.into_iter().map(|(k, v)| (k, Value::Str(v))).collect()),
    )
}
