//! IAM instance profiles and the role each holds.

use std::collections::{BTreeMap, BTreeSet};

use futures::{stream, StreamExt, TryStreamExt};

use super::tags::Entity;
use super::{split_iam_tags, tags_of, Iam, LIST_PAGE};
use crate::aws::adapter::{Adapter, Change, Side};
use crate::aws::planned::{all_tags, Planned};
use crate::aws::tagging::Tagging;
use crate::aws::{not_found_as_none, AwsError, Exports};
use crate::aws::{Aws, KindActions};
use crate::model::{Attributes, Kind, Value};
use crate::state::{LiveResource, ReadRequest, READ_CONCURRENCY};

/// See [`crate::aws::KindActions`].
pub const INSTANCE_PROFILE_ACTIONS: crate::aws::KindActions = crate::aws::KindActions {
    on_resource: &[
        "iam:CreateInstanceProfile",
        "iam:AddRoleToInstanceProfile",
        "iam:RemoveRoleFromInstanceProfile",
        "iam:TagInstanceProfile",
        "iam:UntagInstanceProfile",
        "iam:DeleteInstanceProfile",
    ],
    account_wide: &["iam:ListInstanceProfiles", "iam:GetInstanceProfile"],
    by_condition: &[],
    scope_key: "",
    elsewhere: &[],
    before_creation: &[],
};

/// An instance profile as plinth wants it, taken from a plan's resolved attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceProfileConfig {
    pub name: String,
    pub path: Option<String>,
    /// The role it holds; `None` leaves the membership unmanaged.
    pub role: Option<String>,
    /// The user's tags; `None` leaves them unmanaged.
    pub tags: Option<BTreeMap<String, String>>,
}

impl InstanceProfileConfig {
    pub fn from_attributes(attrs: &Planned<'_>) -> Result<InstanceProfileConfig, String> {
        Ok(InstanceProfileConfig {
            name: attrs.required_str("name")?,
            path: attrs.str("path")?,
            role: attrs.str("role")?,
            tags: attrs.tags()?,
        })
    }
}

/// The attributes GetInstanceProfile returns, in plinth's terms.
fn instance_profile_resource(profile: &aws_sdk_iam::types::InstanceProfile) -> LiveResource {
    let (owner, address_tag, user_tags) = split_iam_tags(profile.tags());
    let mut attributes = Attributes::new();
    attributes.insert("name".into(), Value::str(profile.instance_profile_name()));
    attributes.insert("path".into(), Value::str(profile.path()));
    // IAM allows one role per profile.
    if let Some(role) = profile.roles().first() {
        attributes.insert("role".into(), Value::str(role.role_name()));
    }
    attributes.insert("tags".into(), user_tags);
    LiveResource {
        kind: Kind::InstanceProfile,
        physical_id: profile.instance_profile_name().to_string(),
        owner,
        address_tag,
        attributes: attributes.into(),
        exports: BTreeMap::from([
            ("arn".to_string(), profile.arn().to_string()),
            (
                "name".to_string(),
                profile.instance_profile_name().to_string(),
            ),
        ]),
        deletion_date: None,
    }
}

impl Iam {
    pub async fn read_instance_profile(
        &self,
        req: &ReadRequest,
    ) -> Result<Option<LiveResource>, AwsError> {
        self.instance_profile(&req.physical_id).await
    }

    async fn instance_profile(&self, name: &str) -> Result<Option<LiveResource>, AwsError> {
        let got = not_found_as_none(
            self.client
                .get_instance_profile()
                .instance_profile_name(name)
                .send()
                .await,
            "iam:GetInstanceProfile",
            &["NoSuchEntity"],
        )?;
        Ok(got
            .and_then(|o| o.instance_profile)
            .map(|p| instance_profile_resource(&p)))
    }

    /// Every instance profile tagged as owned by `stack`. ListInstanceProfiles leaves tags out,
    /// so each profile is read with GetInstanceProfile.
    pub async fn owned_instance_profiles(
        &self,
        stack: &str,
        named: &BTreeSet<String>,
    ) -> Result<Vec<LiveResource>, AwsError> {
        let profiles: Vec<aws_sdk_iam::types::InstanceProfile> = self
            .client
            .list_instance_profiles()
            .max_items(LIST_PAGE)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::from_sdk("iam:ListInstanceProfiles", &e))?;
        let unnamed = profiles
            .into_iter()
            .filter(|p| !named.contains(p.instance_profile_name()));
        let read: Vec<Option<LiveResource>> = stream::iter(unnamed)
            .map(|p| async move { self.instance_profile(p.instance_profile_name()).await })
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut owned: Vec<LiveResource> = read
            .into_iter()
            .flatten()
            .filter(|p| p.is_owned_by(stack))
            .collect();
        owned.sort_by(|a, b| a.physical_id.cmp(&b.physical_id));
        Ok(owned)
    }

    async fn create_instance_profile(
        &self,
        profile: &InstanceProfileConfig,
        ownership: &BTreeMap<String, String>,
    ) -> Result<Exports, AwsError> {
        let created = self
            .client
            .create_instance_profile()
            .instance_profile_name(&profile.name)
            .set_path(profile.path.clone())
            .set_tags(Some(tags_of(&all_tags(
                profile.tags.as_ref(),
                None,
                ownership,
            ))))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("iam:CreateInstanceProfile", &e))
            .map(|out| {
                out.instance_profile
                    .map(|p| instance_profile_resource(&p).exports)
                    .unwrap_or_default()
            });
        // A profile an earlier attempt created (its response lost) may already hold the role;
        // one this call created holds none.
        let fresh = created.is_ok();
        let exports = self
            .adopt_own_create(created, self.instance_profile(&profile.name), ownership)
            .await?;
        if let Some(role) = &profile.role {
            let finish = async {
                let held = match fresh {
                    true => None,
                    false => self
                        .instance_profile(&profile.name)
                        .await?
                        .and_then(|p| p.attributes.get("role").cloned()),
                };
                if held.as_ref().and_then(Value::as_str) != Some(role.as_str()) {
                    self.add_role_to_instance_profile(&profile.name, role)
                        .await?;
                }
                Ok(())
            };
            finish.await.map_err(crate::aws::created_unfinished(
                "instance profile",
                &profile.name,
            ))?;
        }
        Ok(exports)
    }

    async fn add_role_to_instance_profile(
        &self,
        profile: &str,
        role: &str,
    ) -> Result<(), AwsError> {
        let added = self
            .client
            .add_role_to_instance_profile()
            .instance_profile_name(profile)
            .role_name(role)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("iam:AddRoleToInstanceProfile", &e));
        match added {
            // A retry after a lost response meets its own result: the profile is full
            // (LimitExceeded, InstanceSessionsPerInstanceProfile) or holds the role already.
            Err(e) if e.is_code("LimitExceeded") || e.is_code("EntityAlreadyExists") => {
                let held = self
                    .instance_profile(profile)
                    .await?
                    .and_then(|p| p.attributes.get("role").cloned());
                if held.as_ref().and_then(Value::as_str) == Some(role) {
                    Ok(())
                } else {
                    Err(e.about(profile))
                }
            }
            other => other.map(|_| ()),
        }
    }

    async fn update_instance_profile(
        &self,
        (before, before_ownership): (&InstanceProfileConfig, &BTreeMap<String, String>),
        (after, ownership): (&InstanceProfileConfig, &BTreeMap<String, String>),
    ) -> Result<(), AwsError> {
        let name = &after.name;
        if after.role.is_some() && after.role != before.role {
            // A profile holds one role: the old one leaves before the new one joins.
            if let Some(old) = &before.role {
                not_found_as_none(
                    self.client
                        .remove_role_from_instance_profile()
                        .instance_profile_name(name)
                        .role_name(old)
                        .send()
                        .await,
                    "iam:RemoveRoleFromInstanceProfile",
                    &["NoSuchEntity"],
                )?;
            }
            if let Some(new) = &after.role {
                self.add_role_to_instance_profile(name, new).await?;
            }
        }
        let current = all_tags(before.tags.as_ref(), None, before_ownership);
        let wanted = all_tags(after.tags.as_ref(), before.tags.as_ref(), ownership);
        (self.tagging(Entity::InstanceProfile, name))
            .retag(&current, &wanted)
            .await
    }

    /// Removes the profile's roles (IAM refuses to delete a profile that holds one), then the
    /// profile. Already gone counts as done.
    async fn delete_instance_profile(&self, name: &str) -> Result<(), AwsError> {
        let gone = ["NoSuchEntity"];
        let got = not_found_as_none(
            self.client
                .get_instance_profile()
                .instance_profile_name(name)
                .send()
                .await,
            "iam:GetInstanceProfile",
            &gone,
        )?;
        let Some(profile) = got.and_then(|o| o.instance_profile) else {
            return Ok(());
        };
        for role in profile.roles() {
            not_found_as_none(
                self.client
                    .remove_role_from_instance_profile()
                    .instance_profile_name(name)
                    .role_name(role.role_name())
                    .send()
                    .await,
                "iam:RemoveRoleFromInstanceProfile",
                &gone,
            )?;
        }
        not_found_as_none(
            self.client
                .delete_instance_profile()
                .instance_profile_name(name)
                .send()
                .await,
            "iam:DeleteInstanceProfile",
            &gone,
        )?;
        Ok(())
    }
}

/// Instance profiles through the generic apply.
pub(crate) struct InstanceProfileAdapter;

impl Adapter for InstanceProfileAdapter {
    type Client = Iam;
    type Config = InstanceProfileConfig;
    const ACTIONS: &'static KindActions = &INSTANCE_PROFILE_ACTIONS;
    const FIRST_READ: &'static str = "iam:GetInstanceProfile";

    fn client(aws: &Aws) -> &Iam {
        &aws.iam
    }

    async fn read(iam: &Iam, request: &ReadRequest) -> Result<Option<LiveResource>, AwsError> {
        iam.read_instance_profile(request).await
    }

    async fn owned(
        iam: &Iam,
        stack: &str,
        named: &BTreeSet<String>,
    ) -> Result<Vec<LiveResource>, AwsError> {
        iam.owned_instance_profiles(stack, named).await
    }

    fn config(
        _: &Change<'_>,
        attributes: &Attributes,
        _: Side,
    ) -> Result<InstanceProfileConfig, String> {
        InstanceProfileConfig::from_attributes(&Planned(attributes))
    }

    async fn create(
        iam: &Iam,
        change: &Change<'_>,
        desired: &InstanceProfileConfig,
    ) -> Result<Exports, AwsError> {
        iam.create_instance_profile(desired, &change.ownership)
            .await
    }

    async fn update(
        iam: &Iam,
        change: &Change<'_>,
        live: &InstanceProfileConfig,
        desired: &InstanceProfileConfig,
    ) -> Result<(), AwsError> {
        iam.update_instance_profile(
            (live, &change.ownership_of(Side::Live)),
            (desired, &change.ownership),
        )
        .await
    }

    async fn delete(iam: &Iam, _: &Change<'_>, name: &str) -> Result<(), AwsError> {
        iam.delete_instance_profile(name).await
    }
}
