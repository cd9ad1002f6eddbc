//! A role someone else owns (existing = true), releasing a role, and the role adapter of the generic apply.

use super::*;

impl Iam {
    /// A role someone else owns (`existing = true`): the inline policies and attachments the
    /// block declares are put and attached, those it declared before and no longer does are
    /// removed, its trust statements are merged by Sid; the stack's record tag says which. The
    /// role's other policies, attachments, trust statements and settings are never touched.
    async fn apply_shared_role(
        &self,
        stack: &str,
        name: &str,
        change: &crate::aws::shared::SharedChange,
    ) -> Result<(), AwsError> {
        let previous = self.role_tagging(name).record_before(stack, change).await?;
        let declared = |prefix: &str| -> BTreeSet<String> {
            change
                .parts
                .iter()
                .filter_map(|p| p.strip_prefix(prefix)?.strip_prefix('/'))
                .map(str::to_string)
                .collect()
        };
        let (inline, attached) = (declared("inline"), declared("attached"));
        let documents = match change.desired().and_then(|d| d.get("policies")) {
            Some(Value::Map(m)) => m.clone(),
            _ => BTreeMap::new(),
        };
        for policy in &inline {
            let doc = documents
                .get(policy)
                .and_then(Value::as_policy)
                .ok_or_else(|| AwsError {
                    operation: format!("iam:PutRolePolicy ({name})"),
                    code: None,
                    message: format!(
                        "inline policy `{policy}` is not a resolved policy in the plan"
                    ),
                    hint: Some("plan again".into()),
                })?;
            self.put_role_policy(name, policy, doc).await?;
        }
        for policy in previous
            .with_prefix("inline")
            .filter(|p| !inline.contains(*p))
        {
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
        for arn in &attached {
            self.attach(name, arn).await?;
        }
        for arn in previous
            .with_prefix("attached")
            .filter(|a| !attached.contains(*a))
        {
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
        let ours = change.ours("trust");
        let drop = change.dropped(&previous, "trust");
        if ours.is_some() || !drop.is_empty() {
            let what = format!("the trust policy of role {name}");
            crate::aws::shared::merge_document(
                &what,
                ours.as_ref(),
                &drop,
                || async {
                    let out = self
                        .client
                        .get_role()
                        .role_name(name)
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("iam:GetRole", &e))?;
                    Ok(out.role.and_then(|r| r.assume_role_policy_document).map(|d| {
                        percent_encoding::percent_decode_str(&d)
                            .decode_utf8_lossy()
                            .into_owned()
                    }))
                },
                |merged| async move {
                    let merged = merged.ok_or_else(|| AwsError {
                        operation: format!("iam:UpdateAssumeRolePolicy ({name})"),
                        code: None,
                        message: "the trust policy would be left without statements, and IAM requires one".into(),
                        hint: Some("the role's owner must keep a statement of their own in its trust policy".into()),
                    })?;
                    retry_transient(self.patience, principal_not_seen_yet, || async {
                        self.client
                            .update_assume_role_policy()
                            .role_name(name)
                            .policy_document(merged.clone())
                            .send()
                            .await
                            .map_err(|e| AwsError::from_sdk("iam:UpdateAssumeRolePolicy", &e))
                    })
                    .await
                    .map(|_| ())
                },
            )
            .await?;
        }
        self.role_tagging(name).record_after(stack, change).await
    }

    /// `release = true`: the stack's tags come off the role; nothing else changes.
    pub async fn release_role(&self, stack: &str, name: &str) -> Result<(), AwsError> {
        self.role_tagging(name).release(stack).await
    }

    async fn role_tags(&self, name: &str) -> Result<BTreeMap<String, String>, AwsError> {
        let tags: Vec<Tag> = self
            .client
            .list_role_tags()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::from_sdk("iam:ListRoleTags", &e))?;
        Ok(tags
            .into_iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect())
    }
}

/// One role's tagging calls, by its name, and the role's tags as they are now: a role is the
/// one IAM entity other stacks may share.
pub(super) struct RoleTags<'a>(pub(super) IamTags<'a>);

impl Tagging for RoleTags<'_> {
    async fn tag(&self, tags: BTreeMap<String, String>) -> Result<(), AwsError> {
        self.0.tag(tags).await
    }

    async fn untag(&self, keys: Vec<String>) -> Result<(), AwsError> {
        self.0.untag(keys).await
    }
}

impl SharedTagging for RoleTags<'_> {
    async fn tags(&self) -> Result<BTreeMap<String, String>, AwsError> {
        self.0.iam.role_tags(self.0.id).await
    }
}

/// Roles through the generic apply.
pub(crate) struct RoleAdapter;

impl Adapter for RoleAdapter {
    type Client = Iam;
    type Config = RoleConfig;
    const SHARED: bool = true;
    const ACTIONS: &'static KindActions = &ROLE_ACTIONS;
    const FIRST_READ: &'static str = "iam:GetRole";
    const DOCUMENTS: &'static [(&'static str, &'static str)] =
        &[("trust", "iam:GetRole"), ("policies", "iam:GetRolePolicy")];

    fn client(aws: &Aws) -> &Iam {
        &aws.iam
    }

    async fn read(iam: &Iam, request: &ReadRequest) -> Result<Option<LiveResource>, AwsError> {
        iam.read_role(request).await
    }

    async fn owned(
        iam: &Iam,
        stack: &str,
        named: &BTreeSet<String>,
    ) -> Result<Vec<LiveResource>, AwsError> {
        iam.owned_roles(stack, named).await
    }

    async fn release(iam: &Iam, stack: &str, planned: &ResourceChange) -> Result<(), AwsError> {
        iam.release_role(stack, &planned.physical_id).await
    }

    fn config(
        change: &Change<'_>,
        attributes: &Attributes,
        side: Side,
    ) -> Result<RoleConfig, String> {
        RoleConfig::from_attributes(attributes, &change.ownership_of(side))
    }

    async fn create(iam: &Iam, _: &Change<'_>, desired: &RoleConfig) -> Result<Exports, AwsError> {
        iam.create_role(desired).await
    }

    async fn update(
        iam: &Iam,
        _: &Change<'_>,
        live: &RoleConfig,
        desired: &RoleConfig,
    ) -> Result<(), AwsError> {
        iam.update_role(live, desired).await
    }

    async fn delete(iam: &Iam, _: &Change<'_>, name: &str) -> Result<(), AwsError> {
        iam.delete_role(name).await
    }

    async fn shared(iam: &Iam, change: &Change<'_>, shared: &SharedChange) -> Result<(), AwsError> {
        iam.apply_shared_role(change.stack, &change.planned.physical_id, shared)
            .await
    }
}
