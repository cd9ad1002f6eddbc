//! Customer-managed IAM policies and their versions.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_iam::types::Tag;
use futures::{stream, StreamExt, TryStreamExt};

use super::tags::Entity;
use super::{decode_document, split_iam_tags, tags_of, Iam, LIST_PAGE};
use crate::aws::adapter::{Adapter, Change, Side};
use crate::aws::planned::{all_tags, Planned};
use crate::aws::tagging::Tagging;
use crate::aws::{not_found_as_none, AwsError, Exports};
use crate::aws::{Aws, KindActions};
use crate::model::{Attributes, Kind, Value, STACK_TAG};
use crate::policy::PolicyDocument;
use crate::state::{LiveResource, ReadRequest, READ_CONCURRENCY};

/// See [`crate::aws::KindActions`].
pub const MANAGED_POLICY_ACTIONS: crate::aws::KindActions = crate::aws::KindActions {
    on_resource: &[
        "iam:GetPolicy",
        "iam:GetPolicyVersion",
        "iam:CreatePolicy",
        "iam:CreatePolicyVersion",
        "iam:ListPolicyVersions",
        "iam:DeletePolicyVersion",
        "iam:TagPolicy",
        "iam:UntagPolicy",
        "iam:ListEntitiesForPolicy",
        "iam:DeletePolicy",
    ],
    account_wide: &["iam:ListPolicies", "iam:ListPolicyTags"],
    // Replacing or deleting a policy detaches it from (and reattaches it to) whoever holds it:
    // calls authorized on those roles, users and groups.
    by_condition: &[
        "iam:AttachRolePolicy",
        "iam:AttachUserPolicy",
        "iam:AttachGroupPolicy",
        "iam:DetachRolePolicy",
        "iam:DetachUserPolicy",
        "iam:DetachGroupPolicy",
    ],
    scope_key: "iam:PolicyARN",
    elsewhere: &[],
    before_creation: &[],
};

/// A managed policy as plinth wants it, taken from a plan's resolved attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedPolicyConfig {
    pub name: String,
    pub path: Option<String>,
    pub description: Option<String>,
    pub document: PolicyDocument,
    /// The user's tags; `None` leaves them unmanaged.
    pub tags: Option<BTreeMap<String, String>>,
}

impl ManagedPolicyConfig {
    pub fn from_attributes(attrs: &Planned<'_>) -> Result<ManagedPolicyConfig, String> {
        Ok(ManagedPolicyConfig {
            name: attrs.required_str("name")?,
            path: attrs.str("path")?,
            description: attrs.str("description")?,
            document: attrs
                .policy("document")?
                .ok_or("a managed policy needs a document")?,
            tags: attrs.tags()?,
        })
    }
}

/// The roles, users and groups a managed policy is attached to.
#[derive(Debug, Default)]
struct PolicyAttachments {
    roles: Vec<String>,
    users: Vec<String>,
    groups: Vec<String>,
}

impl PolicyAttachments {
    /// The commands that attach `arn` again to each of them: what a person runs when the
    /// policy was detached and deleted and its replacement could not be attached. Nothing
    /// else remembers them: the stack declares its roles' attachments, never a user's.
    fn reattach_commands(&self, arn: &str) -> Vec<String> {
        let each = |what: &str, option: &str, names: &[String]| {
            names
                .iter()
                .map(|name| {
                    format!("aws iam attach-{what}-policy --{option} {name} --policy-arn {arn}")
                })
                .collect::<Vec<_>>()
        };
        [
            each("role", "role-name", &self.roles),
            each("user", "user-name", &self.users),
            each("group", "group-name", &self.groups),
        ]
        .concat()
    }
}

impl Iam {
    /// GetPolicy by ARN, with its default version's document and its tags.
    pub async fn read_managed_policy(
        &self,
        req: &ReadRequest,
    ) -> Result<Option<LiveResource>, AwsError> {
        self.read_managed_policy_arn(&req.physical_id).await
    }

    /// A create without an idempotency token whose first attempt succeeded but whose response
    /// was lost meets its own result on the retry (`EntityAlreadyExists`): a resource carrying
    /// this resource's ownership tags is that result, and counts as created. `existing` reads
    /// the resource under the planned name; it runs only when the create failed so.
    pub(super) async fn adopt_own_create(
        &self,
        created: Result<Exports, AwsError>,
        existing: impl std::future::Future<Output = Result<Option<LiveResource>, AwsError>>,
        ownership: &BTreeMap<String, String>,
    ) -> Result<Exports, AwsError> {
        match created {
            Err(e) if e.is_code("EntityAlreadyExists") => match existing.await {
                Ok(Some(found))
                    if ownership.get(STACK_TAG) == found.owner.as_ref()
                        && ownership.get(crate::model::ADDRESS_TAG)
                            == found.address_tag.as_ref().map(ToString::to_string).as_ref() =>
                {
                    Ok(found.exports)
                }
                _ => Err(e),
            },
            other => other,
        }
    }

    async fn read_managed_policy_arn(&self, arn: &str) -> Result<Option<LiveResource>, AwsError> {
        let got = not_found_as_none(
            self.client.get_policy().policy_arn(arn).send().await,
            "iam:GetPolicy",
            &["NoSuchEntity"],
        )?;
        match got.and_then(|o| o.policy) {
            // GetPolicy answers with the tags (ListPolicies does not).
            Some(policy) => {
                let tags = policy.tags().to_vec();
                Ok(Some(self.managed_policy_resource(&policy, tags).await?))
            }
            None => Ok(None),
        }
    }

    /// The policy as a live resource, from GetPolicy's or ListPolicies' answer and its tags.
    async fn managed_policy_resource(
        &self,
        policy: &aws_sdk_iam::types::Policy,
        tags: Vec<Tag>,
    ) -> Result<LiveResource, AwsError> {
        let arn = policy.arn().unwrap_or_default();
        let version = self
            .client
            .get_policy_version()
            .policy_arn(arn)
            .version_id(policy.default_version_id().unwrap_or("v1"))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("iam:GetPolicyVersion", &e))?;
        let (owner, address_tag, user_tags) = split_iam_tags(&tags);
        let name = policy.policy_name().unwrap_or_default();
        let mut attributes = Attributes::new();
        attributes.insert("name".into(), Value::str(name));
        attributes.insert("path".into(), Value::str(policy.path().unwrap_or("/")));
        attributes.insert(
            "description".into(),
            Value::str(policy.description().unwrap_or_default()),
        );
        if let Some(doc) = version.policy_version.as_ref().and_then(|v| v.document()) {
            attributes.insert("document".into(), decode_document(doc));
        }
        attributes.insert("tags".into(), user_tags);
        Ok(LiveResource {
            kind: Kind::Policy,
            physical_id: arn.to_string(),
            owner,
            address_tag,
            attributes: attributes.into(),
            exports: BTreeMap::from([
                ("arn".to_string(), arn.to_string()),
                ("name".to_string(), name.to_string()),
            ]),
            deletion_date: None,
        })
    }

    async fn managed_policy_tags(&self, arn: &str) -> Result<Vec<Tag>, AwsError> {
        self.client
            .list_policy_tags()
            .policy_arn(arn)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::from_sdk("iam:ListPolicyTags", &e))
    }

    /// Every customer-managed policy tagged as owned by `stack` (ListPolicies cannot filter by
    /// tag, so each policy's tags are read).
    pub async fn owned_managed_policies(
        &self,
        stack: &str,
        named: &BTreeSet<String>,
    ) -> Result<Vec<LiveResource>, AwsError> {
        let policies: Vec<aws_sdk_iam::types::Policy> = self
            .client
            .list_policies()
            .scope(aws_sdk_iam::types::PolicyScopeType::Local)
            .max_items(LIST_PAGE)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::from_sdk("iam:ListPolicies", &e))?;
        let unnamed = policies
            .into_iter()
            .filter(|p| !p.arn().is_some_and(|arn| named.contains(arn)));
        let owned: Vec<Option<LiveResource>> = stream::iter(unnamed)
            .map(|policy| async move {
                // A policy deleted since the listing (by another actor) is simply not there.
                let tags = match self
                    .managed_policy_tags(policy.arn().unwrap_or_default())
                    .await
                {
                    Err(e) if e.is_code("NoSuchEntity") => return Ok(None),
                    other => other?,
                };
                if !tags
                    .iter()
                    .any(|t| t.key() == STACK_TAG && t.value() == stack)
                {
                    return Ok(None);
                }
                match self.managed_policy_resource(&policy, tags).await {
                    Err(e) if e.is_code("NoSuchEntity") => Ok(None),
                    other => other.map(Some),
                }
            })
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut owned: Vec<LiveResource> = owned.into_iter().flatten().collect();
        owned.sort_by(|a, b| a.physical_id.cmp(&b.physical_id));
        Ok(owned)
    }

    async fn create_managed_policy(
        &self,
        policy: &ManagedPolicyConfig,
        ownership: &BTreeMap<String, String>,
    ) -> Result<Exports, AwsError> {
        let out = self
            .client
            .create_policy()
            .policy_name(&policy.name)
            .set_path(policy.path.clone())
            .set_description(policy.description.clone())
            .policy_document(policy.document.to_aws_json())
            .set_tags(Some(tags_of(&all_tags(
                policy.tags.as_ref(),
                None,
                ownership,
            ))))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("iam:CreatePolicy", &e))?;
        let arn = out
            .policy
            .as_ref()
            .and_then(|p| p.arn())
            .unwrap_or_default();
        Ok(BTreeMap::from([
            ("arn".to_string(), arn.to_string()),
            ("name".to_string(), policy.name.clone()),
        ]))
    }

    async fn create_default_version(
        &self,
        arn: &str,
        policy: &ManagedPolicyConfig,
    ) -> Result<(), AwsError> {
        self.client
            .create_policy_version()
            .policy_arn(arn)
            .policy_document(policy.document.to_aws_json())
            .set_as_default(true)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("iam:CreatePolicyVersion", &e))?;
        Ok(())
    }

    /// Deletes the policy's oldest version that is not the default.
    async fn delete_oldest_version(&self, arn: &str) -> Result<(), AwsError> {
        let versions = self
            .client
            .list_policy_versions()
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("iam:ListPolicyVersions", &e))?
            .versions
            .unwrap_or_default();
        let oldest = versions
            .iter()
            .filter(|v| !v.is_default_version())
            .min_by_key(|v| v.create_date().map(|d| (d.secs(), d.subsec_nanos())));
        if let Some(id) = oldest.and_then(|v| v.version_id()) {
            self.client
                .delete_policy_version()
                .policy_arn(arn)
                .version_id(id)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:DeletePolicyVersion", &e))?;
        }
        Ok(())
    }

    /// A new document becomes a new default version; when IAM refuses it because its five
    /// versions are used up, the oldest version that is not the default makes room first. Most
    /// policies hold fewer, so the versions are listed only then.
    async fn update_managed_policy(
        &self,
        arn: &str,
        (before, before_ownership): (&ManagedPolicyConfig, &BTreeMap<String, String>),
        (after, ownership): (&ManagedPolicyConfig, &BTreeMap<String, String>),
    ) -> Result<(), AwsError> {
        if !after.document.equivalent(&before.document) {
            match self.create_default_version(arn, after).await {
                Err(e) if e.is_code("LimitExceeded") => {
                    self.delete_oldest_version(arn).await?;
                    self.create_default_version(arn, after).await?;
                }
                other => other?,
            }
        }
        let current = all_tags(before.tags.as_ref(), None, before_ownership);
        let wanted = all_tags(after.tags.as_ref(), before.tags.as_ref(), ownership);
        (self.tagging(Entity::Policy, arn))
            .retag(&current, &wanted)
            .await
    }

    /// Detaches the policy from every role, user and group (IAM refuses to delete an attached
    /// policy), deletes its other versions, then the policy. Already gone counts as done.
    /// Returns what it was attached to.
    async fn delete_managed_policy(&self, arn: &str) -> Result<PolicyAttachments, AwsError> {
        let gone = ["NoSuchEntity"];
        let Some(pages) = not_found_as_none::<Vec<_>, _>(
            // moto looks only at the first page of the account's roles, whatever the marker, so
            // its default page of 100 misses attachments.
            self.client
                .list_entities_for_policy()
                .policy_arn(arn)
                .max_items(LIST_PAGE)
                .into_paginator()
                .send()
                .try_collect()
                .await,
            "iam:ListEntitiesForPolicy",
            &gone,
        )?
        else {
            return Ok(PolicyAttachments::default());
        };
        let attachments = PolicyAttachments {
            roles: pages
                .iter()
                .flat_map(|p| p.policy_roles())
                .filter_map(|r| r.role_name().map(str::to_string))
                .collect(),
            users: pages
                .iter()
                .flat_map(|p| p.policy_users())
                .filter_map(|u| u.user_name().map(str::to_string))
                .collect(),
            groups: pages
                .iter()
                .flat_map(|p| p.policy_groups())
                .filter_map(|g| g.group_name().map(str::to_string))
                .collect(),
        };
        for role in &attachments.roles {
            not_found_as_none(
                self.client
                    .detach_role_policy()
                    .role_name(role)
                    .policy_arn(arn)
                    .send()
                    .await,
                "iam:DetachRolePolicy",
                &gone,
            )?;
        }
        for user in &attachments.users {
            not_found_as_none(
                self.client
                    .detach_user_policy()
                    .user_name(user)
                    .policy_arn(arn)
                    .send()
                    .await,
                "iam:DetachUserPolicy",
                &gone,
            )?;
        }
        for group in &attachments.groups {
            not_found_as_none(
                self.client
                    .detach_group_policy()
                    .group_name(group)
                    .policy_arn(arn)
                    .send()
                    .await,
                "iam:DetachGroupPolicy",
                &gone,
            )?;
        }
        let versions = not_found_as_none(
            self.client
                .list_policy_versions()
                .policy_arn(arn)
                .send()
                .await,
            "iam:ListPolicyVersions",
            &gone,
        )?
        .and_then(|o| o.versions)
        .unwrap_or_default();
        for version in versions.iter().filter(|v| !v.is_default_version()) {
            not_found_as_none(
                self.client
                    .delete_policy_version()
                    .policy_arn(arn)
                    .set_version_id(version.version_id().map(str::to_string))
                    .send()
                    .await,
                "iam:DeletePolicyVersion",
                &gone,
            )?;
        }
        not_found_as_none(
            self.client.delete_policy().policy_arn(arn).send().await,
            "iam:DeletePolicy",
            &gone,
        )?;
        Ok(attachments)
    }

    /// Attaches a replacement policy wherever the policy it replaces was attached.
    async fn reattach_managed_policy(
        &self,
        arn: &str,
        attachments: &PolicyAttachments,
    ) -> Result<(), AwsError> {
        for role in &attachments.roles {
            self.attach(role, arn).await?;
        }
        for user in &attachments.users {
            self.client
                .attach_user_policy()
                .user_name(user)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:AttachUserPolicy", &e))?;
        }
        for group in &attachments.groups {
            self.client
                .attach_group_policy()
                .group_name(group)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:AttachGroupPolicy", &e))?;
        }
        Ok(())
    }
}

/// Managed policies through the generic apply.
pub(crate) struct ManagedPolicyAdapter;

impl Adapter for ManagedPolicyAdapter {
    type Client = Iam;
    type Config = ManagedPolicyConfig;
    const ACTIONS: &'static KindActions = &MANAGED_POLICY_ACTIONS;
    const FIRST_READ: &'static str = "iam:GetPolicy";
    const DOCUMENTS: &'static [(&'static str, &'static str)] =
        &[("document", "iam:GetPolicyVersion")];

    fn client(aws: &Aws) -> &Iam {
        &aws.iam
    }

    async fn read(iam: &Iam, request: &ReadRequest) -> Result<Option<LiveResource>, AwsError> {
        iam.read_managed_policy(request).await
    }

    async fn owned(
        iam: &Iam,
        stack: &str,
        named: &BTreeSet<String>,
    ) -> Result<Vec<LiveResource>, AwsError> {
        iam.owned_managed_policies(stack, named).await
    }

    fn config(
        _: &Change<'_>,
        attributes: &Attributes,
        _: Side,
    ) -> Result<ManagedPolicyConfig, String> {
        ManagedPolicyConfig::from_attributes(&Planned(attributes))
    }

    async fn create(
        iam: &Iam,
        change: &Change<'_>,
        desired: &ManagedPolicyConfig,
    ) -> Result<Exports, AwsError> {
        iam.adopt_own_create(
            iam.create_managed_policy(desired, &change.ownership).await,
            iam.read_managed_policy_arn(&change.planned.physical_id),
            &change.ownership,
        )
        .await
    }

    async fn update(
        iam: &Iam,
        change: &Change<'_>,
        live: &ManagedPolicyConfig,
        desired: &ManagedPolicyConfig,
    ) -> Result<(), AwsError> {
        iam.update_managed_policy(
            &change.planned.physical_id,
            (live, &change.ownership_of(Side::Live)),
            (desired, &change.ownership),
        )
        .await
    }

    async fn delete(iam: &Iam, _: &Change<'_>, arn: &str) -> Result<(), AwsError> {
        iam.delete_managed_policy(arn).await.map(|_| ())
    }

    /// IAM has no way to change a policy's name, path or description but to delete it: what
    /// it was attached to is attached to its replacement.
    /// IAM keeps one policy per name and path, so the old one goes first: detached from each
    /// role, user and group, deleted, made again and attached to them again. Should making or
    /// attaching the new one fail, the error lists the commands that attach it to each again.
    async fn replace(iam: &Iam, change: &Change<'_>, old_arn: &str) -> Result<Exports, AwsError> {
        let desired = change.config::<Self>(Side::Desired)?;
        let attachments = iam.delete_managed_policy(old_arn).await?;
        let remade = async {
            let exports = Self::create(iam, change, &desired).await?;
            let arn = exports
                .get("arn")
                .map_or(change.planned.physical_id.as_str(), String::as_str);
            iam.reattach_managed_policy(arn, &attachments).await?;
            Ok(exports)
        };
        remade.await.map_err(|mut e: AwsError| {
            let commands = attachments.reattach_commands(&change.planned.physical_id);
            if !commands.is_empty() {
                let detached = format!(
                    "the old policy was detached from {} before it was deleted; once the new one exists (`plinth apply` again), attach it again where the stack does not: {}",
                    commands.len(),
                    commands.join("; ")
                );
                e.hint = Some(match e.hint.take() {
                    Some(hint) => format!("{hint}; {detached}"),
                    None => detached,
                });
            }
            e
        })
    }
}
