//! IAM: roles (with their trust and inline policies, managed-policy attachments and tags),
//! customer-managed policies, instance profiles and OpenID Connect providers.
//!
//! IAM returns policy documents URL-encoded; they are decoded and parsed here so that nothing
//! above this module ever compares policy text.

use std::collections::{BTreeMap, BTreeSet};

use aws_config::SdkConfig;
use aws_sdk_iam::types::Tag;
use futures::{stream, StreamExt, TryStreamExt};

use super::planned::{all_tags, tag_changes, Planned};
use super::{not_found_as_none, ownership_tags, retry_transient, AwsError, Exports, Patience};
use crate::live::{split_tags, LiveResource, ReadRequest, READ_CONCURRENCY};
use crate::model::{Attributes, Kind, Value, STACK_TAG};
use crate::plan::{Action, ResourceChange};
use crate::policy::PolicyDocument;

/// The largest page IAM's listings serve (their default is 100): an account of 1,000 roles is
/// listed in one call instead of ten made one after another.
const LIST_PAGE: i32 = 1000;

/// See [`super::KindActions`].
pub const ROLE_ACTIONS: super::KindActions = super::KindActions {
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

/// See [`super::KindActions`].
pub const MANAGED_POLICY_ACTIONS: super::KindActions = super::KindActions {
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

/// See [`super::KindActions`].
pub const INSTANCE_PROFILE_ACTIONS: super::KindActions = super::KindActions {
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

/// See [`super::KindActions`].
pub const OIDC_PROVIDER_ACTIONS: super::KindActions = super::KindActions {
    on_resource: &[
        "iam:CreateOpenIDConnectProvider",
        "iam:AddClientIDToOpenIDConnectProvider",
        "iam:RemoveClientIDFromOpenIDConnectProvider",
        "iam:UpdateOpenIDConnectProviderThumbprint",
        "iam:TagOpenIDConnectProvider",
        "iam:UntagOpenIDConnectProvider",
        "iam:DeleteOpenIDConnectProvider",
    ],
    account_wide: &[
        "iam:ListOpenIDConnectProviders",
        "iam:GetOpenIDConnectProvider",
    ],
    by_condition: &[],
    scope_key: "",
    elsewhere: &[],
    before_creation: &[],
};

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

/// A role as plinth wants it, taken from a plan's resolved attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleConfig {
    pub name: String,
    pub path: Option<String>,
    pub description: Option<String>,
    pub max_session_hours: Option<i64>,
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
            max_session_hours: match attrs.get("max_session_hours") {
                Some(Value::Int(h)) => Some(*h),
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
            live.attributes
                .insert("policies".into(), Value::Map(inline));
        }
        if let Some(attached) = attached {
            live.attributes
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
                tags.iter()
                    .any(|t| t.key() == STACK_TAG && t.value() == stack)
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
                .set_max_session_duration(role.max_session_hours.map(|h| (h * 3600) as i32))
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
        for (name, doc) in role.inline_policies.iter().flatten() {
            self.put_role_policy(&role.name, name, doc).await?;
        }
        for arn in role.managed_policies.iter().flatten() {
            self.attach(&role.name, arn).await?;
        }
        Ok(made.map(|r| role_resource(&r).exports).unwrap_or_default())
    }

    /// Brings an existing role from `before` to `after`, one call per difference.
    pub async fn update_role(
        &self,
        before: &RoleConfig,
        after: &RoleConfig,
    ) -> Result<(), AwsError> {
        let name = &after.name;
        if (after.description.is_some() && after.description != before.description)
            || (after.max_session_hours.is_some()
                && after.max_session_hours != before.max_session_hours)
        {
            self.client
                .update_role()
                .role_name(name)
                .set_description(after.description.clone())
                .set_max_session_duration(after.max_session_hours.map(|h| (h * 3600) as i32))
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
        let current = before.all_tags(None);
        let wanted = after.all_tags(before.tags.as_ref());
        let added: Vec<Tag> = tags_of(
            &wanted
                .iter()
                .filter(|(k, v)| current.get(*k) != Some(v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        );
        if !added.is_empty() {
            self.client
                .tag_role()
                .role_name(name)
                .set_tags(Some(added))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:TagRole", &e))?;
        }
        let removed: Vec<String> = current
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        if !removed.is_empty() {
            self.client
                .untag_role()
                .role_name(name)
                .set_tag_keys(Some(removed))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:UntagRole", &e))?;
        }
        Ok(())
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
        not_found_as_none(
            self.client.delete_role().role_name(name).send().await,
            "iam:DeleteRole",
            &gone,
        )?;
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

    async fn attach(&self, role: &str, arn: &str) -> Result<(), AwsError> {
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

/// The attributes GetRole returns, in plinth's terms.
fn role_resource(role: &aws_sdk_iam::types::Role) -> LiveResource {
    let (owner, address_tag, user_tags) = split_tags(
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
        Value::Int(i64::from(role.max_session_duration().unwrap_or(3600)) / 3600),
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
        attributes,
        exports,
        deletion_date: None,
    }
}

impl Iam {
    /// Carries out one planned change to a role; returns the role's exports when created.
    pub async fn apply_role(
        &self,
        stack: &str,
        change: &ResourceChange,
    ) -> Result<Exports, AwsError> {
        let ownership = ownership_tags(stack, &change.address);
        let invalid = |message: String| AwsError::invalid_plan(&change.address, message);
        let config = |attrs: &Option<Attributes>,
                      ownership: &BTreeMap<String, String>|
         -> Result<RoleConfig, AwsError> {
            let attrs = attrs
                .as_ref()
                .ok_or_else(|| invalid("attributes missing from the plan".into()))?;
            RoleConfig::from_attributes(attrs, ownership).map_err(invalid)
        };
        match change.action {
            Action::Create => {
                self.create_role(&config(&change.desired, &ownership)?)
                    .await
            }
            Action::Update => {
                let after = config(&change.desired, &ownership)?;
                // An adopted role carries no ownership tags yet.
                let before_ownership = if change.take_ownership {
                    BTreeMap::new()
                } else {
                    ownership.clone()
                };
                let before = config(&change.live, &before_ownership)?;
                self.update_role(&before, &after)
                    .await
                    .map(|()| Exports::new())
            }
            Action::Replace => {
                self.delete_role(change.replaces.as_deref().unwrap_or(&change.physical_id))
                    .await?;
                self.create_role(&config(&change.desired, &ownership)?)
                    .await
            }
            Action::Delete => self
                .delete_role(&change.physical_id)
                .await
                .map(|()| Exports::new()),
            Action::NoOp => Ok(Exports::new()),
        }
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

/// The ownership tags the resource carries before this change: none yet for an adopted one.
fn ownership_before(
    change: &ResourceChange,
    ownership: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    if change.take_ownership {
        BTreeMap::new()
    } else {
        ownership.clone()
    }
}

fn planned<'a>(
    change: &ResourceChange,
    attrs: &'a Option<Attributes>,
) -> Result<Planned<'a>, AwsError> {
    attrs.as_ref().map(Planned).ok_or_else(|| {
        AwsError::invalid_plan(&change.address, "attributes missing from the plan".into())
    })
}

// ---------------------------------------------------------------------------------------------
// Customer-managed policies

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

/// IAM keeps at most this many versions of a managed policy.
const POLICY_VERSION_LIMIT: usize = 5;

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
    async fn adopt_own_create(
        &self,
        created: Result<Exports, AwsError>,
        existing: impl std::future::Future<Output = Result<Option<LiveResource>, AwsError>>,
        ownership: &BTreeMap<String, String>,
    ) -> Result<Exports, AwsError> {
        match created {
            Err(e) if e.is_code("EntityAlreadyExists") => match existing.await {
                Ok(Some(found))
                    if ownership.get(STACK_TAG) == found.owner.as_ref()
                        && ownership.get(crate::live::ADDRESS_TAG)
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
            attributes,
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

    /// A new document becomes a new default version; when IAM's five versions are used up, the
    /// oldest version that is not the default makes room first.
    async fn update_managed_policy(
        &self,
        arn: &str,
        (before, before_ownership): (&ManagedPolicyConfig, &BTreeMap<String, String>),
        (after, ownership): (&ManagedPolicyConfig, &BTreeMap<String, String>),
    ) -> Result<(), AwsError> {
        if !after.document.equivalent(&before.document) {
            let versions = self
                .client
                .list_policy_versions()
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:ListPolicyVersions", &e))?
                .versions
                .unwrap_or_default();
            if versions.len() >= POLICY_VERSION_LIMIT {
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
            }
            self.client
                .create_policy_version()
                .policy_arn(arn)
                .policy_document(after.document.to_aws_json())
                .set_as_default(true)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:CreatePolicyVersion", &e))?;
        }
        let current = all_tags(before.tags.as_ref(), None, before_ownership);
        let (set, removed) = tag_changes(
            &current,
            &all_tags(after.tags.as_ref(), before.tags.as_ref(), ownership),
        );
        if !set.is_empty() {
            self.client
                .tag_policy()
                .policy_arn(arn)
                .set_tags(Some(tags_of(&set)))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:TagPolicy", &e))?;
        }
        if !removed.is_empty() {
            self.client
                .untag_policy()
                .policy_arn(arn)
                .set_tag_keys(Some(removed))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:UntagPolicy", &e))?;
        }
        Ok(())
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

    /// Carries out one planned change to a managed policy; returns its exports when created.
    pub async fn apply_managed_policy(
        &self,
        stack: &str,
        change: &ResourceChange,
    ) -> Result<Exports, AwsError> {
        let ownership = ownership_tags(stack, &change.address);
        let config = |attrs: &Option<Attributes>| {
            ManagedPolicyConfig::from_attributes(&planned(change, attrs)?)
                .map_err(|e| AwsError::invalid_plan(&change.address, e))
        };
        match change.action {
            Action::Create => {
                self.adopt_own_create(
                    self.create_managed_policy(&config(&change.desired)?, &ownership)
                        .await,
                    self.read_managed_policy_arn(&change.physical_id),
                    &ownership,
                )
                .await
            }
            Action::Update => {
                let before = config(&change.live)?;
                let after = config(&change.desired)?;
                let before_ownership = ownership_before(change, &ownership);
                self.update_managed_policy(
                    &change.physical_id,
                    (&before, &before_ownership),
                    (&after, &ownership),
                )
                .await?;
                Ok(Exports::new())
            }
            Action::Replace => {
                // IAM has no way to change a policy's name, path or description but to delete it:
                // what it was attached to is attached to its replacement.
                let attachments = self
                    .delete_managed_policy(
                        change.replaces.as_deref().unwrap_or(&change.physical_id),
                    )
                    .await?;
                let exports = self
                    .adopt_own_create(
                        self.create_managed_policy(&config(&change.desired)?, &ownership)
                            .await,
                        self.read_managed_policy_arn(&change.physical_id),
                        &ownership,
                    )
                    .await?;
                self.reattach_managed_policy(
                    exports
                        .get("arn")
                        .map_or(change.physical_id.as_str(), String::as_str),
                    &attachments,
                )
                .await?;
                Ok(exports)
            }
            Action::Delete => self
                .delete_managed_policy(&change.physical_id)
                .await
                .map(|_| Exports::new()),
            Action::NoOp => Ok(Exports::new()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Instance profiles

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
        attributes,
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
        // A profile an earlier attempt created (its response lost) may already hold the role.
        let exports = self
            .adopt_own_create(created, self.instance_profile(&profile.name), ownership)
            .await?;
        if let Some(role) = &profile.role {
            let held = self
                .instance_profile(&profile.name)
                .await?
                .and_then(|p| p.attributes.get("role").cloned());
            if held.as_ref().and_then(Value::as_str) != Some(role.as_str()) {
                self.add_role_to_instance_profile(&profile.name, role)
                    .await?;
            }
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
        let (set, removed) = tag_changes(
            &current,
            &all_tags(after.tags.as_ref(), before.tags.as_ref(), ownership),
        );
        if !set.is_empty() {
            self.client
                .tag_instance_profile()
                .instance_profile_name(name)
                .set_tags(Some(tags_of(&set)))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:TagInstanceProfile", &e))?;
        }
        if !removed.is_empty() {
            self.client
                .untag_instance_profile()
                .instance_profile_name(name)
                .set_tag_keys(Some(removed))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:UntagInstanceProfile", &e))?;
        }
        Ok(())
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

    /// Carries out one planned change to an instance profile; returns its exports when created.
    pub async fn apply_instance_profile(
        &self,
        stack: &str,
        change: &ResourceChange,
    ) -> Result<Exports, AwsError> {
        let ownership = ownership_tags(stack, &change.address);
        let config = |attrs: &Option<Attributes>| {
            InstanceProfileConfig::from_attributes(&planned(change, attrs)?)
                .map_err(|e| AwsError::invalid_plan(&change.address, e))
        };
        match change.action {
            Action::Create => {
                self.create_instance_profile(&config(&change.desired)?, &ownership)
                    .await
            }
            Action::Update => {
                let before = config(&change.live)?;
                let after = config(&change.desired)?;
                let before_ownership = ownership_before(change, &ownership);
                self.update_instance_profile((&before, &before_ownership), (&after, &ownership))
                    .await?;
                Ok(Exports::new())
            }
            Action::Replace => {
                self.delete_instance_profile(
                    change.replaces.as_deref().unwrap_or(&change.physical_id),
                )
                .await?;
                self.create_instance_profile(&config(&change.desired)?, &ownership)
                    .await
            }
            Action::Delete => self
                .delete_instance_profile(&change.physical_id)
                .await
                .map(|()| Exports::new()),
            Action::NoOp => Ok(Exports::new()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// OpenID Connect providers

/// An OIDC provider as plinth wants it, taken from a plan's resolved attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct OidcProviderConfig {
    pub url: String,
    /// `None` leaves the audiences unmanaged.
    pub client_ids: Option<BTreeSet<String>>,
    /// `None` leaves the thumbprints to IAM.
    pub thumbprints: Option<Vec<String>>,
    /// The user's tags; `None` leaves them unmanaged.
    pub tags: Option<BTreeMap<String, String>>,
}

impl OidcProviderConfig {
    pub fn from_attributes(attrs: &Planned<'_>) -> Result<OidcProviderConfig, String> {
        Ok(OidcProviderConfig {
            url: attrs.required_str("url")?,
            client_ids: attrs.set("client_ids")?,
            thumbprints: attrs.strings("thumbprints")?,
            tags: attrs.tags()?,
        })
    }
}

impl Iam {
    /// GetOpenIDConnectProvider by ARN. IAM returns the URL without its scheme; plinth shows it
    /// as written in specs, with `https://`.
    pub async fn read_oidc_provider(
        &self,
        req: &ReadRequest,
    ) -> Result<Option<LiveResource>, AwsError> {
        self.oidc_provider(&req.physical_id).await
    }

    async fn oidc_provider(&self, arn: &str) -> Result<Option<LiveResource>, AwsError> {
        let got = not_found_as_none(
            self.client
                .get_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .send()
                .await,
            "iam:GetOpenIDConnectProvider",
            &["NoSuchEntity"],
        )?;
        let Some(provider) = got else { return Ok(None) };
        let (owner, address_tag, user_tags) = split_iam_tags(provider.tags());
        let mut attributes = Attributes::new();
        attributes.insert(
            "url".into(),
            Value::Str(format!("https://{}", provider.url().unwrap_or_default())),
        );
        attributes.insert(
            "client_ids".into(),
            Value::set(provider.client_id_list().iter().cloned()),
        );
        attributes.insert(
            "thumbprints".into(),
            Value::List(
                provider
                    .thumbprint_list()
                    .iter()
                    .map(|t| Value::Str(t.to_ascii_lowercase()))
                    .collect(),
            ),
        );
        attributes.insert("tags".into(), user_tags);
        Ok(Some(LiveResource {
            kind: Kind::OidcProvider,
            physical_id: arn.to_string(),
            owner,
            address_tag,
            attributes,
            exports: BTreeMap::from([("arn".to_string(), arn.to_string())]),
            deletion_date: None,
        }))
    }

    /// Every OIDC provider tagged as owned by `stack`; each is read for its tags.
    pub async fn owned_oidc_providers(
        &self,
        stack: &str,
        named: &BTreeSet<String>,
    ) -> Result<Vec<LiveResource>, AwsError> {
        let listed = self
            .client
            .list_open_id_connect_providers()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("iam:ListOpenIDConnectProviders", &e))?;
        let arns: Vec<String> = listed
            .open_id_connect_provider_list()
            .iter()
            .filter_map(|p| p.arn().map(str::to_string))
            .filter(|arn| !named.contains(arn))
            .collect();
        let read: Vec<Option<LiveResource>> = stream::iter(arns)
            .map(|arn| async move { self.oidc_provider(&arn).await })
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

    async fn create_oidc_provider(
        &self,
        provider: &OidcProviderConfig,
        ownership: &BTreeMap<String, String>,
    ) -> Result<Exports, AwsError> {
        let out = self
            .client
            .create_open_id_connect_provider()
            .url(&provider.url)
            .set_client_id_list(
                provider
                    .client_ids
                    .as_ref()
                    .map(|ids| ids.iter().cloned().collect()),
            )
            .set_thumbprint_list(provider.thumbprints.clone())
            .set_tags(Some(tags_of(&all_tags(
                provider.tags.as_ref(),
                None,
                ownership,
            ))))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("iam:CreateOpenIDConnectProvider", &e))?;
        Ok(out
            .open_id_connect_provider_arn
            .map(|arn| BTreeMap::from([("arn".to_string(), arn)]))
            .unwrap_or_default())
    }

    async fn update_oidc_provider(
        &self,
        arn: &str,
        (before, before_ownership): (&OidcProviderConfig, &BTreeMap<String, String>),
        (after, ownership): (&OidcProviderConfig, &BTreeMap<String, String>),
    ) -> Result<(), AwsError> {
        if let Some(wanted) = &after.client_ids {
            let current = before.client_ids.clone().unwrap_or_default();
            for id in wanted.difference(&current) {
                self.client
                    .add_client_id_to_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .client_id(id)
                    .send()
                    .await
                    .map_err(|e| {
                        AwsError::from_sdk("iam:AddClientIDToOpenIDConnectProvider", &e)
                    })?;
            }
            for id in current.difference(wanted) {
                self.client
                    .remove_client_id_from_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .client_id(id)
                    .send()
                    .await
                    .map_err(|e| {
                        AwsError::from_sdk("iam:RemoveClientIDFromOpenIDConnectProvider", &e)
                    })?;
            }
        }
        if after.thumbprints.is_some() && after.thumbprints != before.thumbprints {
            self.client
                .update_open_id_connect_provider_thumbprint()
                .open_id_connect_provider_arn(arn)
                .set_thumbprint_list(after.thumbprints.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:UpdateOpenIDConnectProviderThumbprint", &e))?;
        }
        let current = all_tags(before.tags.as_ref(), None, before_ownership);
        let (set, removed) = tag_changes(
            &current,
            &all_tags(after.tags.as_ref(), before.tags.as_ref(), ownership),
        );
        if !set.is_empty() {
            self.client
                .tag_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .set_tags(Some(tags_of(&set)))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:TagOpenIDConnectProvider", &e))?;
        }
        if !removed.is_empty() {
            self.client
                .untag_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .set_tag_keys(Some(removed))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:UntagOpenIDConnectProvider", &e))?;
        }
        Ok(())
    }

    async fn delete_oidc_provider(&self, arn: &str) -> Result<(), AwsError> {
        not_found_as_none(
            self.client
                .delete_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .send()
                .await,
            "iam:DeleteOpenIDConnectProvider",
            &["NoSuchEntity"],
        )?;
        Ok(())
    }

    /// Carries out one planned change to an OIDC provider; returns its exports when created.
    pub async fn apply_oidc_provider(
        &self,
        stack: &str,
        change: &ResourceChange,
    ) -> Result<Exports, AwsError> {
        let ownership = ownership_tags(stack, &change.address);
        let config = |attrs: &Option<Attributes>| {
            OidcProviderConfig::from_attributes(&planned(change, attrs)?)
                .map_err(|e| AwsError::invalid_plan(&change.address, e))
        };
        match change.action {
            Action::Create => {
                self.adopt_own_create(
                    self.create_oidc_provider(&config(&change.desired)?, &ownership)
                        .await,
                    self.oidc_provider(&change.physical_id),
                    &ownership,
                )
                .await
            }
            Action::Update => {
                let before = config(&change.live)?;
                let after = config(&change.desired)?;
                let before_ownership = ownership_before(change, &ownership);
                self.update_oidc_provider(
                    &change.physical_id,
                    (&before, &before_ownership),
                    (&after, &ownership),
                )
                .await?;
                Ok(Exports::new())
            }
            Action::Replace => {
                self.delete_oidc_provider(
                    change.replaces.as_deref().unwrap_or(&change.physical_id),
                )
                .await?;
                self.adopt_own_create(
                    self.create_oidc_provider(&config(&change.desired)?, &ownership)
                        .await,
                    self.oidc_provider(&change.physical_id),
                    &ownership,
                )
                .await
            }
            Action::Delete => self
                .delete_oidc_provider(&change.physical_id)
                .await
                .map(|()| Exports::new()),
            Action::NoOp => Ok(Exports::new()),
        }
    }
}
