//! IAM roles: their trust and inline policies, managed-policy attachments and tags.

mod shared;

pub(crate) use shared::RoleAdapter;
use shared::RoleTags;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_iam::types::Tag;
use futures::{stream, StreamExt, TryStreamExt};

use super::tags::{Entity, IamTags};
use super::{decode_document, principal_not_seen_yet, tags_of, Iam, LIST_PAGE};
use crate::aws::adapter::{Adapter, Change, Side};
use crate::aws::shared::SharedChange;
use crate::aws::tagging::{SharedTagging, Tagging};
use crate::aws::{not_found_as_none, retry_transient, AwsError, Exports};
use crate::aws::{Aws, KindActions};
use crate::model::{Attributes, Kind, Value, STACK_TAG};
use crate::plan::ResourceChange;
use crate::policy::PolicyDocument;
use crate::state::{split_tags, LiveResource, ReadRequest, READ_CONCURRENCY};

/// See [`crate::aws::KindActions`].
pub const ROLE_ACTIONS: crate::aws::KindActions = crate::aws::KindActions {
    on_resource: &[
        "iam:GetRole",
        "iam:ListRolePolicies",
        "iam:GetRolePolicy",
        "iam:ListAttachedRolePolicies",
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:AttachRolePolicy",
        "iam:UpdateRole",
        "iam:UpdateAssumeRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy",
        "iam:PutRolePermissionsBoundary",
        "iam:TagRole",
        "iam:UntagRole",
        "iam:ListInstanceProfilesForRole",
        "iam:DeleteRole",
    ],
    account_wide: &["iam:ListRoles", "iam:ListRoleTags"],
    by_condition: &[],
    scope_key: "",
    // Deleting a role takes it out of whatever instance profiles hold it; the call is
    // authorized on the profile.
    elsewhere: &[("iam:RemoveRoleFromInstanceProfile", "instance-profile/*")],
    before_creation: &[],
};

/// A role as plinth wants it, taken from a plan's resolved attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleConfig {
    pub name: String,
    pub path: Option<String>,
    pub description: Option<String>,
    /// The longest session, in seconds, when the spec (or, on the live side, the role) sets it.
    pub max_session_seconds: Option<i32>,
    pub trust: PolicyDocument,
    pub managed_policies: Option<BTreeSet<String>>,
    pub inline_policies: Option<BTreeMap<String, PolicyDocument>>,
    pub permissions_boundary: Option<String>,
    /// The user's tags; `None` leaves them unmanaged.
    pub tags: Option<BTreeMap<String, String>>,
    /// plinth's own tags (`plinth:stack`, `plinth:address`).
    pub ownership: BTreeMap<String, String>,
}

impl RoleConfig {
    /// Reads a role's configuration out of planned attributes. Fails only if the plan is not
    /// one the planner makes (a missing name or trust, or a value still unknown).
    pub fn from_attributes(
        attrs: &Attributes,
        ownership: &BTreeMap<String, String>,
    ) -> Result<RoleConfig, String> {
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
        let policy = |v: &Value, what: &str| -> Result<PolicyDocument, String> {
            v.as_policy()
                .cloned()
                .ok_or_else(|| format!("{what} is not a resolved policy"))
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
        Ok(RoleConfig {
            name: text("name")?.ok_or("a role needs a name")?,
            path: text("path")?,
            description: text("description")?,
            max_session_seconds: match attrs.get("max_session_hours") {
                Some(Value::Int(h)) => Some(
                    i32::try_from(h * 3600).map_err(|_| format!("{h} hours is out of range"))?,
                ),
                Some(Value::Str(s)) => Some(session_seconds(s).ok_or_else(|| {
                    format!("max_session_hours is `{s}`, neither hours nor seconds")
                })?),
                _ => None,
            },
            trust: policy(
                attrs.get("trust").ok_or("a role needs a trust policy")?,
                "trust",
            )?,
            managed_policies: match attrs.get("managed_policies") {
                Some(Value::Set(s)) => Some(s.iter().cloned().collect()),
                _ => None,
            },
            inline_policies: match attrs.get("policies") {
                Some(Value::Map(m)) => Some(
                    m.iter()
                        .map(|(k, v)| Ok((k.clone(), policy(v, &format!("inline policy `{k}`"))?)))
                        .collect::<Result<_, String>>()?,
                ),
                _ => None,
            },
            permissions_boundary: text("permissions_boundary")?,
            tags,
            ownership: ownership.clone(),
        })
    }

    /// Every tag the role carries: the user's (or, when unmanaged, those it has) and plinth's.
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

impl Iam {
    /// GetRole, then the inline and attached policies when the spec manages them, read
    /// together: they are independent, and waiting for one before asking for the other would
    /// add a round trip to every role's read.
    pub async fn read_role(&self, req: &ReadRequest) -> Result<Option<LiveResource>, AwsError> {
        let got = not_found_as_none(
            self.client
                .get_role()
                .role_name(&req.physical_id)
                .send()
                .await,
            "iam:GetRole",
            &["NoSuchEntity"],
        )?;
        let Some(role) = got.and_then(|o| o.role) else {
            return Ok(None);
        };
        let mut live = role_resource(&role);
        let name = &req.physical_id;
        let (inline, attached) = futures::try_join!(
            async {
                if req.declared.contains("policies") {
                    self.inline_policies(name).await.map(Some)
                } else {
                    Ok(None)
                }
            },
            async {
                if req.declared.contains("managed_policies") {
                    self.attached_policies(name).await.map(Some)
                } else {
                    Ok(None)
                }
            },
        )?;
        if let Some(inline) = inline {
            std::sync::Arc::make_mut(&mut live.attributes)
                .insert("policies".into(), Value::Map(inline));
        }
        if let Some(attached) = attached {
            std::sync::Arc::make_mut(&mut live.attributes)
                .insert("managed_policies".into(), Value::set(attached));
        }
        Ok(Some(live))
    }

    async fn inline_policies(&self, role: &str) -> Result<BTreeMap<String, Value>, AwsError> {
        let names: Vec<String> = self
            .client
            .list_role_policies()
            .role_name(role)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::from_sdk("iam:ListRolePolicies", &e))?;
        stream::iter(names)
            .map(|name| async move {
                let out = not_found_as_none(
                    self.client
                        .get_role_policy()
                        .role_name(role)
                        .policy_name(&name)
                        .send()
                        .await,
                    "iam:GetRolePolicy",
                    &["NoSuchEntity"],
                )?;
                Ok::<_, AwsError>(out.map(|out| (name, decode_document(out.policy_document()))))
            })
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await
            .map(|found| found.into_iter().flatten().collect())
    }

    async fn attached_policies(&self, role: &str) -> Result<Vec<String>, AwsError> {
        let attached: Vec<_> = self
            .client
            .list_attached_role_policies()
            .role_name(role)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::from_sdk("iam:ListAttachedRolePolicies", &e))?;
        Ok(attached.into_iter().filter_map(|p| p.policy_arn).collect())
    }

    /// Every role tagged as owned by `stack`. IAM cannot filter by tag, so this lists roles and
    /// reads each one's tags.
    pub async fn owned_roles(
        &self,
        stack: &str,
        named: &BTreeSet<String>,
    ) -> Result<Vec<LiveResource>, AwsError> {
        let roles: Vec<aws_sdk_iam::types::Role> = self
            .client
            .list_roles()
            .max_items(LIST_PAGE)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::from_sdk("iam:ListRoles", &e))?;
        let tagged = stream::iter(roles.into_iter().filter(|r| !named.contains(r.role_name())))
            .map(|role| async move {
                // A role deleted between the listing and this call is simply not there.
                let tags = not_found_as_none::<Vec<Tag>, _>(
                    self.client
                        .list_role_tags()
                        .role_name(role.role_name())
                        .into_paginator()
                        .items()
                        .send()
                        .try_collect()
                        .await,
                    "iam:ListRoleTags",
                    &["NoSuchEntity"],
                )?;
                Ok::<_, AwsError>(tags.map(|tags| (role, tags)))
            })
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
        let mut owned: Vec<LiveResource> = tagged
            .into_iter()
            .flatten()
            .filter(|(_, tags)| {
                let record = crate::model::shared::tag_key(stack, 0);
                tags.iter()
                    .any(|t| (t.key() == STACK_TAG && t.value() == stack) || t.key() == record)
            })
            .map(|(role, tags)| {
                let role = aws_sdk_iam::types::Role::builder()
                    .set_path(Some(role.path().to_string()))
                    .set_role_name(Some(role.role_name().to_string()))
                    .set_role_id(Some(role.role_id().to_string()))
                    .set_arn(Some(role.arn().to_string()))
                    .set_create_date(Some(*role.create_date()))
                    .set_assume_role_policy_document(
                        role.assume_role_policy_document().map(str::to_string),
                    )
                    .set_description(role.description().map(str::to_string))
                    .set_max_session_duration(role.max_session_duration())
                    .set_tags(Some(tags))
                    .build()
                    .expect("required fields are copied");
                role_resource(&role)
            })
            .collect();
        owned.sort_by(|a, b| a.physical_id.cmp(&b.physical_id));
        Ok(owned)
    }

    /// Creates the role with its policies; returns its exports (`arn`, `unique_id`, ...).
    ///
    /// CreateRole has no idempotency token: when a response is lost and the SDK retries, the
    /// retry finds the role the first attempt made. A role carrying this resource's ownership
    /// tags is that role, and the create carries on with it; any other is a real conflict.
    pub async fn create_role(&self, role: &RoleConfig) -> Result<Exports, AwsError> {
        let created = retry_transient(self.patience, principal_not_seen_yet, || async {
            self.client
                .create_role()
                .role_name(&role.name)
                .set_path(role.path.clone())
                .set_description(role.description.clone())
                .set_max_session_duration(role.max_session_seconds)
                .assume_role_policy_document(role.trust.to_aws_json())
                .set_permissions_boundary(role.permissions_boundary.clone())
                .set_tags(Some(tags_of(&role.all_tags(None))))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:CreateRole", &e))
        })
        .await;
        let made = match created {
            Ok(out) => out.role,
            Err(e) if e.is_code("EntityAlreadyExists") => {
                let existing = self
                    .client
                    .get_role()
                    .role_name(&role.name)
                    .send()
                    .await
                    .ok()
                    .and_then(|o| o.role);
                match existing.filter(|r| {
                    role.ownership
                        .iter()
                        .all(|(k, v)| r.tags().iter().any(|t| t.key() == k && t.value() == v))
                }) {
                    Some(ours) => Some(ours),
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        // IAM is eventually consistent: the calls right after CreateRole may not find the
        // role yet (NoSuchEntity), nor a managed policy this apply created a moment ago.
        let finish = async {
            for (name, doc) in role.inline_policies.iter().flatten() {
                retry_transient(self.patience, not_visible_yet, || {
                    self.put_role_policy(&role.name, name, doc)
                })
                .await?;
            }
            for arn in role.managed_policies.iter().flatten() {
                retry_transient(self.patience, not_visible_yet, || {
                    self.attach(&role.name, arn)
                })
                .await?;
            }
            Ok(())
        };
        finish
            .await
            .map_err(crate::aws::created_unfinished("role", &role.name))?;
        self.wait_until_readable(&role.name).await?;
        Ok(made.map(|r| role_resource(&r).exports).unwrap_or_default())
    }

    /// IAM is eventually consistent: GetRole may answer NoSuchEntity for a while after
    /// CreateRole succeeded. Waiting for it here (bounded by the patience, and shown) means a
    /// plan right after the apply finds the role instead of planning to create it again; once
    /// the patience runs out the apply's own work is still done.
    async fn wait_until_readable(&self, name: &str) -> Result<(), AwsError> {
        let read = retry_transient(
            self.patience,
            |e| e.is_code("NoSuchEntity"),
            || async {
                self.client
                    .get_role()
                    .role_name(name)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| AwsError::from_sdk("iam:GetRole", &e))
            },
        )
        .await;
        match read {
            Err(e) if e.is_code("NoSuchEntity") => Ok(()),
            other => other,
        }
    }

    /// Brings an existing role from `before` to `after`, one call per difference.
    pub async fn update_role(
        &self,
        before: &RoleConfig,
        after: &RoleConfig,
    ) -> Result<(), AwsError> {
        let name = &after.name;
        if (after.description.is_some() && after.description != before.description)
            || (after.max_session_seconds.is_some()
                && after.max_session_seconds != before.max_session_seconds)
        {
            // UpdateRole sets the session length back to one hour when the call leaves it
            // out: a spec that leaves it (or the description) unset keeps the role's own.
            self.client
                .update_role()
                .role_name(name)
                .set_description(after.description.clone().or(before.description.clone()))
                .set_max_session_duration(after.max_session_seconds.or(before.max_session_seconds))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:UpdateRole", &e))?;
        }
        if !after.trust.equivalent(&before.trust) {
            retry_transient(self.patience, principal_not_seen_yet, || async {
                self.client
                    .update_assume_role_policy()
                    .role_name(name)
                    .policy_document(after.trust.to_aws_json())
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("iam:UpdateAssumeRolePolicy", &e))
            })
            .await?;
        }
        if let Some(wanted) = &after.inline_policies {
            let current = before.inline_policies.clone().unwrap_or_default();
            for (policy, doc) in wanted {
                if !current.get(policy).is_some_and(|c| c.equivalent(doc)) {
                    self.put_role_policy(name, policy, doc).await?;
                }
            }
            for policy in current.keys().filter(|p| !wanted.contains_key(*p)) {
                // Gone already (a retry whose first response was lost) is done.
                not_found_as_none(
                    self.client
                        .delete_role_policy()
                        .role_name(name)
                        .policy_name(policy)
                        .send()
                        .await,
                    "iam:DeleteRolePolicy",
                    &["NoSuchEntity"],
                )?;
            }
        }
        if let Some(wanted) = &after.managed_policies {
            let current = before.managed_policies.clone().unwrap_or_default();
            for arn in wanted.difference(&current) {
                self.attach(name, arn).await?;
            }
            for arn in current.difference(wanted) {
                // A policy deleted (or replaced) by this apply has already been detached.
                not_found_as_none(
                    self.client
                        .detach_role_policy()
                        .role_name(name)
                        .policy_arn(arn)
                        .send()
                        .await,
                    "iam:DetachRolePolicy",
                    &["NoSuchEntity"],
                )?;
            }
        }
        match (&before.permissions_boundary, &after.permissions_boundary) {
            (b, Some(a)) if b.as_ref() != Some(a) => {
                self.client
                    .put_role_permissions_boundary()
                    .role_name(name)
                    .permissions_boundary(a)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("iam:PutRolePermissionsBoundary", &e))?;
            }
            _ => {}
        }
        let wanted = after.all_tags(before.tags.as_ref());
        (self.role_tagging(name))
            .retag(&before.all_tags(None), &wanted)
            .await
    }

    /// The role `name`'s tagging calls.
    fn role_tagging<'a>(&'a self, name: &'a str) -> RoleTags<'a> {
        RoleTags(self.tagging(Entity::Role, name))
    }

    /// Deletes a role and what IAM requires gone first: inline policies, attachments and
    /// instance-profile memberships. Already gone counts as done, so a re-run finishes the job.
    pub async fn delete_role(&self, name: &str) -> Result<(), AwsError> {
        let gone = ["NoSuchEntity"];
        let Some(inline) = not_found_as_none::<Vec<String>, _>(
            self.client
                .list_role_policies()
                .role_name(name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await,
            "iam:ListRolePolicies",
            &gone,
        )?
        else {
            return Ok(());
        };
        for policy in inline {
            not_found_as_none(
                self.client
                    .delete_role_policy()
                    .role_name(name)
                    .policy_name(&policy)
                    .send()
                    .await,
                "iam:DeleteRolePolicy",
                &gone,
            )?;
        }
        for arn in self.attached_policies(name).await? {
            not_found_as_none(
                self.client
                    .detach_role_policy()
                    .role_name(name)
                    .policy_arn(&arn)
                    .send()
                    .await,
                "iam:DetachRolePolicy",
                &gone,
            )?;
        }
        let profiles: Vec<_> = self
            .client
            .list_instance_profiles_for_role()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::from_sdk("iam:ListInstanceProfilesForRole", &e))?;
        for profile in profiles {
            not_found_as_none(
                self.client
                    .remove_role_from_instance_profile()
                    .instance_profile_name(profile.instance_profile_name())
                    .role_name(name)
                    .send()
                    .await,
                "iam:RemoveRoleFromInstanceProfile",
                &gone,
            )?;
        }
        // IAM may still count a policy or profile just taken off the role (DeleteConflict).
        retry_transient(
            self.patience,
            |e| e.is_code("DeleteConflict"),
            || async {
                not_found_as_none(
                    self.client.delete_role().role_name(name).send().await,
                    "iam:DeleteRole",
                    &gone,
                )
            },
        )
        .await?;
        Ok(())
    }

    async fn put_role_policy(
        &self,
        role: &str,
        name: &str,
        doc: &PolicyDocument,
    ) -> Result<(), AwsError> {
        self.client
            .put_role_policy()
            .role_name(role)
            .policy_name(name)
            .policy_document(doc.to_aws_json())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("iam:PutRolePolicy", &e))?;
        Ok(())
    }

    pub(super) async fn attach(&self, role: &str, arn: &str) -> Result<(), AwsError> {
        self.client
            .attach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("iam:AttachRolePolicy", &e))?;
        Ok(())
    }
}

/// A role or managed policy made a moment ago that IAM does not show everywhere yet: "The role
/// with name NAME cannot be found", or a customer managed policy that "does not exist". An AWS
/// managed policy always exists: its NoSuchEntity is a wrong ARN, reported at once.
fn not_visible_yet(e: &AwsError) -> bool {
    e.is_code("NoSuchEntity") && !e.message.contains(":aws:policy/")
}

/// The attributes GetRole returns, in plinth's terms.
fn role_resource(role: &aws_sdk_iam::types::Role) -> LiveResource {
    let (owner, address_tag, mut user_tags) = split_tags(
        role.tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string())),
    );
    let mut attributes = Attributes::new();
    attributes.insert("name".into(), Value::str(role.role_name()));
    attributes.insert("path".into(), Value::str(role.path()));
    attributes.insert(
        "description".into(),
        Value::str(role.description().unwrap_or_default()),
    );
    attributes.insert(
        "max_session_hours".into(),
        session_hours(role.max_session_duration().unwrap_or(3600)),
    );
    if let Some(doc) = role.assume_role_policy_document() {
        attributes.insert("trust".into(), decode_document(doc));
    }
    if let Some(b) = role
        .permissions_boundary()
        .and_then(|b| b.permissions_boundary_arn())
    {
        attributes.insert("permissions_boundary".into(), Value::str(b));
    }
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
    let exports = BTreeMap::from([
        ("arn".to_string(), role.arn().to_string()),
        ("name".to_string(), role.role_name().to_string()),
        ("path".to_string(), role.path().to_string()),
        ("unique_id".to_string(), role.role_id().to_string()),
    ]);
    LiveResource {
        kind: Kind::Role,
        physical_id: role.role_name().to_string(),
        owner,
        address_tag,
        attributes: attributes.into(),
        exports,
        deletion_date: None,
    }
}

/// A role's longest session as plinth shows it: whole hours, as the spec gives them, or (one
/// set outside plinth to a part of an hour) `"5400 seconds"`, which no spec value equals.
fn session_hours(seconds: i32) -> Value {
    if seconds % 3600 == 0 {
        Value::Int(i64::from(seconds / 3600))
    } else {
        Value::Str(format!("{seconds} seconds"))
    }
}

/// The seconds of a [`session_hours`] string.
fn session_seconds(shown: &str) -> Option<i32> {
    shown.strip_suffix(" seconds")?.parse().ok()
}
