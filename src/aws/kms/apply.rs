//! Changing keys: creating one exactly once, updating, scheduling deletion, sharing and
//! releasing, and the key adapter of the generic apply.

use super::*;

/// Where a key being set up comes from: a key CreateKey has just answered with cannot be
/// pending deletion, so its state needs no DescribeKey.
#[derive(Debug, Clone, Copy, PartialEq)]
enum KeyOrigin {
    JustCreated,
    Existing,
}

impl Kms {
    /// A key an earlier apply created for `address` and did not finish setting up: it carries
    /// the address tag but its alias was never created, so the plan did not see it.
    async fn unfinished_key(
        &self,
        stack: &str,
        address: &Address,
        key: &KeyConfig,
        except: Option<&str>,
    ) -> Result<Option<LiveResource>, AwsError> {
        let read = || async {
            let keys = self
                .tagged_keys(&BTreeSet::new(), |tags| {
                    tags.iter().any(|(k, v)| k == STACK_TAG && v == stack)
                        && !tags
                            .iter()
                            .any(|(k, v)| k == CREATE_TOKEN_TAG && *v == self.create_token)
                })
                .await?;
            Ok::<_, AwsError>((stack.to_string(), keys))
        };
        let (read_for, earlier) = self.earlier_keys.get_or_try_init(read).await?;
        let fresh;
        let earlier = if read_for == stack {
            earlier
        } else {
            fresh = read().await?.1;
            &fresh
        };
        Ok(earlier
            .iter()
            .find(|c| {
                c.address_tag.as_ref() == Some(address)
                    && !c.is_pending_deletion()
                    && Some(c.physical_id.as_str()) != except
                    && c.attributes.get("key_usage") == Some(&Value::str(&key.key_usage))
                    && c.attributes.get("key_spec") == Some(&Value::str(&key.key_spec))
            })
            .cloned())
    }

    /// The key this process created for `address`, if a CreateKey whose answer was lost did
    /// create it.
    async fn key_created_by_this_apply(
        &self,
        address: &Address,
    ) -> Result<Option<LiveResource>, AwsError> {
        let address = address.to_string();
        let mine = self
            .tagged_keys(&BTreeSet::new(), |tags| {
                tags.iter()
                    .any(|(k, v)| k == CREATE_TOKEN_TAG && *v == self.create_token)
                    && tags.iter().any(|(k, v)| k == ADDRESS_TAG && *v == address)
            })
            .await?;
        Ok(mine.into_iter().next())
    }

    /// CreateKey, without the SDK's own retries: a retried CreateKey whose first answer was lost
    /// leaves two keys. After such a failure the key tagged with this apply's token is looked
    /// for before trying again.
    async fn create_key_exactly_once(
        &self,
        address: &Address,
        key: &KeyConfig,
        tags: &BTreeMap<String, String>,
    ) -> Result<(String, String), AwsError> {
        let mut waits = new_principal_waits(self.patience);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let result = self
                .client
                .create_key()
                .set_description(key.description.clone())
                .set_policy(key.policy.as_ref().map(PolicyDocument::to_aws_json))
                .bypass_policy_lockout_safety_check(key.bypass_lockout_check)
                .key_usage(KeyUsageType::from(key.key_usage.as_str()))
                .key_spec(KeySpec::from(key.key_spec.as_str()))
                .set_tags(Some(tags_of(tags)))
                .customize()
                .config_override(
                    aws_sdk_kms::config::Builder::default().retry_config(RetryConfig::disabled()),
                )
                .send()
                .await;
            match result {
                Ok(out) => {
                    let meta = out.key_metadata.ok_or_else(|| AwsError {
                        operation: "kms:CreateKey".into(),
                        code: None,
                        message: "KMS answered without describing the key it created".into(),
                        hint: None,
                    })?;
                    return Ok((
                        meta.key_id().to_string(),
                        meta.arn().unwrap_or_default().to_string(),
                    ));
                }
                Err(e) if outcome_unknown(&e) && attempts < self.create_attempts => {
                    tracing::debug!(%address, "kms:CreateKey failed with an unknown outcome, looking for the key: {e}");
                    if let Some(found) = self.key_created_by_this_apply(address).await? {
                        return Ok((
                            found.physical_id.clone(),
                            found.exports.get("arn").cloned().unwrap_or_default(),
                        ));
                    }
                    let err = AwsError::from_sdk("kms:CreateKey", &e);
                    crate::aws::wait(self.create_backoff * (1 << attempts.min(4)), &err).await?;
                }
                Err(e) => {
                    let err = AwsError::from_sdk("kms:CreateKey", &e);
                    match waits.next() {
                        Some(delay) if new_principal_not_seen_yet(&err) => {
                            crate::aws::wait(delay, &err).await?
                        }
                        _ => return Err(err),
                    }
                }
            }
        }
    }

    /// Creates the key, or takes over one an interrupted earlier apply created, and sets it up.
    /// `replacing` is the key this one replaces: its aliases move over to the new key.
    async fn create_key(
        &self,
        stack: &str,
        address: &Address,
        key: &KeyConfig,
        replacing: Option<(&str, &KeyConfig)>,
    ) -> Result<Exports, AwsError> {
        let ownership = ownership_tags(stack, address);
        if let Some(found) = self
            .unfinished_key(stack, address, key, replacing.map(|(id, _)| id))
            .await?
        {
            let before = KeyConfig::from_attributes(&Planned(&found.attributes))
                .map_err(|e| AwsError::invalid_plan(address, e))?;
            self.update_key(
                &found.physical_id,
                (&before, &before.plinth_tags(&ownership)),
                (key, &ownership),
                replacing,
                KeyOrigin::Existing,
            )
            .await?;
            return Ok(found.exports);
        }
        let mut tags = all_tags(key.tags.as_ref(), None, &key.plinth_tags(&ownership));
        tags.insert(CREATE_TOKEN_TAG.to_string(), self.create_token.clone());
        if let Some((replaced, _)) = replacing {
            tags.insert(REPLACES_TAG.to_string(), replaced.to_string());
        }
        let (key_id, arn) = self.create_key_exactly_once(address, key, &tags).await?;
        let created = KeyConfig {
            rotation: Some(false),
            enabled: Some(true),
            aliases: Some(BTreeSet::new()),
            tags: key.tags.clone(),
            ..key.clone()
        };
        self.update_key(
            &key_id,
            (&created, &key.plinth_tags(&ownership)),
            (key, &ownership),
            replacing,
            KeyOrigin::JustCreated,
        )
        .await?;
        Ok(BTreeMap::from([
            ("arn".to_string(), arn),
            ("key_id".to_string(), key_id),
        ]))
    }

    /// Brings a key from `before` to `after`, one call per difference. A key pending deletion
    /// is recovered first: KMS changes nothing else about a key in that state.
    async fn update_key(
        &self,
        key_id: &str,
        (before, before_plinth_tags): (&KeyConfig, &BTreeMap<String, String>),
        (after, ownership): (&KeyConfig, &BTreeMap<String, String>),
        replacing: Option<(&str, &KeyConfig)>,
        origin: KeyOrigin,
    ) -> Result<(), AwsError> {
        let mut enabled = before.enabled;
        let state = match origin {
            KeyOrigin::JustCreated => None,
            KeyOrigin::Existing => self
                .client
                .describe_key()
                .key_id(key_id)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("kms:DescribeKey", &e))?
                .key_metadata
                .and_then(|m| m.key_state),
        };
        if state == Some(KeyState::PendingDeletion) {
            self.client
                .cancel_key_deletion()
                .key_id(key_id)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("kms:CancelKeyDeletion", &e))?;
            // A recovered key comes back disabled; it was in use before it was deleted.
            enabled = Some(false);
            if after.enabled.is_none() {
                self.client
                    .enable_key()
                    .key_id(key_id)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("kms:EnableKey", &e))?;
                enabled = Some(true);
            }
        }
        if let Some(description) = after
            .description
            .as_ref()
            .filter(|d| before.description.as_ref() != Some(*d))
        {
            self.client
                .update_key_description()
                .key_id(key_id)
                .description(description)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("kms:UpdateKeyDescription", &e))?;
        }
        if let Some(policy) = after
            .policy
            .as_ref()
            .filter(|p| !before.policy.as_ref().is_some_and(|b| b.equivalent(p)))
        {
            self.put_key_policy(key_id, policy, after.bypass_lockout_check)
                .await?;
        }
        // KMS is eventually consistent: a key CreateKey has just answered with may be unknown
        // (NotFoundException) to the next calls for a few seconds, in rare cases minutes.
        let not_seen_yet =
            |e: &AwsError| origin == KeyOrigin::JustCreated && e.is_code("NotFoundException");
        if let Some(rotation) = after.rotation.filter(|r| before.rotation != Some(*r)) {
            if rotation {
                retry_transient(self.patience, not_seen_yet, || async {
                    self.client
                        .enable_key_rotation()
                        .key_id(key_id)
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("kms:EnableKeyRotation", &e))
                })
                .await?;
            } else {
                self.client
                    .disable_key_rotation()
                    .key_id(key_id)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("kms:DisableKeyRotation", &e))?;
            }
        }
        if let Some(wanted) = after.enabled.filter(|e| enabled != Some(*e)) {
            if wanted {
                self.client
                    .enable_key()
                    .key_id(key_id)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("kms:EnableKey", &e))?;
            } else {
                self.client
                    .disable_key()
                    .key_id(key_id)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("kms:DisableKey", &e))?;
            }
        }
        // A replacement takes over the aliases of the key it replaces (all of them when the
        // spec leaves aliases unmanaged).
        let moving: BTreeSet<String> = replacing
            .and_then(|(_, old)| old.aliases.clone())
            .unwrap_or_default();
        let current = before.aliases.clone().unwrap_or_default();
        let wanted = after.aliases.clone().unwrap_or_else(|| moving.clone());
        for alias in wanted.difference(&current) {
            if moving.contains(alias) {
                // Deleted and created again rather than moved with UpdateAlias, which moto (the
                // test emulator) fails on every call. The alias is missing for one round trip,
                // during a replacement that is disruptive anyway: the old key stops decrypting.
                self.delete_alias(alias).await?;
            }
            let created = retry_transient(self.patience, not_seen_yet, || {
                self.create_alias(alias, key_id)
            })
            .await;
            if let Err(e) = created {
                if !e.is_code("AlreadyExistsException") {
                    return Err(e);
                }
                let named = self.client.describe_key().key_id(alias).send().await.ok();
                let holder = named
                    .and_then(|o| o.key_metadata)
                    .map(|m| m.key_id().to_string());
                // An alias an earlier attempt created (its response lost) already names this key.
                if holder.as_deref() == Some(key_id) {
                    continue;
                }
                // A replacement that stopped part way through moving the aliases left this one
                // on another key of the stack at the same address: the key this one replaces,
                // or (the spec gone back to the old key, or on to yet another) a key made to
                // replace one of them. It moves now.
                let Some(holder) = holder else {
                    return Err(e);
                };
                let Some(ours) = self.stack_and_address(key_id).await? else {
                    return Err(e);
                };
                if self.stack_and_address(&holder).await? != Some(ours) {
                    return Err(e);
                }
                self.delete_alias(alias).await?;
                self.create_alias(alias, key_id).await?;
            }
        }
        if after.aliases.is_some() {
            for alias in current.difference(&wanted) {
                self.delete_alias(alias).await?;
            }
        }
        let current = all_tags(before.tags.as_ref(), None, before_plinth_tags);
        let wanted = all_tags(
            after.tags.as_ref(),
            before.tags.as_ref(),
            &after.plinth_tags(ownership),
        );
        self.tagging(key_id).retag(&current, &wanted).await
    }

    /// CreateAlias: `alias` names `key_id`.
    async fn create_alias(&self, alias: &str, key_id: &str) -> Result<(), AwsError> {
        (self.client.create_alias())
            .alias_name(alias)
            .target_key_id(key_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("kms:CreateAlias", &e))
    }

    /// DeleteAlias; an alias already gone counts as deleted.
    async fn delete_alias(&self, alias: &str) -> Result<(), AwsError> {
        not_found_as_none(
            self.client.delete_alias().alias_name(alias).send().await,
            "kms:DeleteAlias",
            NOT_FOUND,
        )
        .map(|_| ())
    }

    /// The stack and the address a key is tagged with, when it carries both.
    async fn stack_and_address(&self, key_id: &str) -> Result<Option<(String, Address)>, AwsError> {
        let (owner, address, _) = split_tags(self.tags(key_id).await?);
        Ok(owner.zip(address))
    }

    /// The key `key_id`'s tagging calls.
    fn tagging<'a>(&'a self, key_id: &'a str) -> KeyTags<'a> {
        KeyTags { kms: self, key_id }
    }

    async fn put_key_policy(
        &self,
        key_id: &str,
        policy: &PolicyDocument,
        bypass_lockout_check: bool,
    ) -> Result<(), AwsError> {
        self.put_key_policy_text(key_id, &policy.to_aws_json(), bypass_lockout_check)
            .await
    }

    async fn put_key_policy_text(
        &self,
        key_id: &str,
        policy: &str,
        bypass_lockout_check: bool,
    ) -> Result<(), AwsError> {
        let mut waits = new_principal_waits(self.patience);
        loop {
            let result = self
                .client
                .put_key_policy()
                .key_id(key_id)
                .policy_name(POLICY_NAME)
                .policy(policy)
                .bypass_policy_lockout_safety_check(bypass_lockout_check)
                .send()
                .await;
            match result.map_err(|e| AwsError::from_sdk("kms:PutKeyPolicy", &e)) {
                Ok(_) => return Ok(()),
                Err(e) => match waits.next() {
                    Some(delay) if new_principal_not_seen_yet(&e) => {
                        crate::aws::wait(delay, &e).await?
                    }
                    _ => return Err(e),
                },
            }
        }
    }

    /// Deletes the key's aliases and schedules the key's deletion after `window_days`. A key
    /// already gone or already scheduled counts as done, so a re-run finishes the job.
    async fn schedule_deletion(&self, key_id: &str, window_days: i32) -> Result<(), AwsError> {
        let described = not_found_as_none(
            self.client.describe_key().key_id(key_id).send().await,
            "kms:DescribeKey",
            NOT_FOUND,
        )?;
        let Some(meta) = described.and_then(|d| d.key_metadata) else {
            return Ok(());
        };
        for alias in self.aliases(Some(key_id)).await? {
            self.delete_alias(&alias).await?;
        }
        if matches!(meta.key_state(), Some(KeyState::PendingDeletion)) {
            return Ok(());
        }
        self.client
            .schedule_key_deletion()
            .key_id(key_id)
            .pending_window_in_days(window_days)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("kms:ScheduleKeyDeletion", &e))?;
        Ok(())
    }

    /// A key someone else owns (`existing = true`): plinth's statements are merged into its
    /// policy by Sid and recorded in the stack's tag; letting go removes exactly those. The key
    /// itself is never created, changed otherwise, or scheduled for deletion.
    async fn apply_shared_key(
        &self,
        stack: &str,
        key_id: &str,
        change: &crate::aws::shared::SharedChange,
    ) -> Result<(), AwsError> {
        let previous = self.tagging(key_id).record_before(stack, change).await?;
        let ours = change.ours("policy");
        let drop = change.dropped(&previous, "policy");
        let bypass = change
            .desired()
            .and_then(|d| d.get("bypass_lockout_check"))
            .is_some_and(|b| *b == Value::Bool(true));
        let what = format!("the key policy of {key_id}");
        crate::aws::shared::merge_document(
            &what,
            ours.as_ref(),
            &drop,
            || self.key_policy(key_id),
            |merged| async move {
                let Some(merged) = merged else {
                    return Err(AwsError {
                        operation: format!("kms:PutKeyPolicy ({key_id})"),
                        code: None,
                        message:
                            "the key policy would be left without statements, and KMS requires one"
                                .into(),
                        hint: Some(
                            "the key's owner must keep a statement of their own in its policy"
                                .into(),
                        ),
                    });
                };
                self.put_key_policy_text(key_id, &merged, bypass).await
            },
        )
        .await?;
        self.tagging(key_id).record_after(stack, change).await
    }

    /// `release = true`: the stack's tags come off the key; nothing else changes.
    pub async fn release_key(&self, stack: &str, key_id: &str) -> Result<(), AwsError> {
        self.tagging(key_id).release(stack).await
    }
}

/// One key's tagging calls, by its id.
struct KeyTags<'a> {
    kms: &'a Kms,
    key_id: &'a str,
}

impl Tagging for KeyTags<'_> {
    async fn tag(&self, tags: BTreeMap<String, String>) -> Result<(), AwsError> {
        (self.kms.client.tag_resource())
            .key_id(self.key_id)
            .set_tags(Some(tags_of(&tags)))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("kms:TagResource", &e))
            .map(|_| ())
    }

    async fn untag(&self, keys: Vec<String>) -> Result<(), AwsError> {
        (self.kms.client.untag_resource())
            .key_id(self.key_id)
            .set_tag_keys(Some(keys))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("kms:UntagResource", &e))
            .map(|_| ())
    }
}

impl SharedTagging for KeyTags<'_> {
    async fn tags(&self) -> Result<BTreeMap<String, String>, AwsError> {
        Ok(self.kms.tags(self.key_id).await?.into_iter().collect())
    }
}

/// Keys through the generic apply.
pub(crate) struct KeyAdapter;

impl Adapter for KeyAdapter {
    type Client = Kms;
    type Config = KeyConfig;
    const SHARED: bool = true;
    const ACTIONS: &'static KindActions = &ACTIONS;
    const FIRST_READ: &'static str = "kms:DescribeKey";
    const DOCUMENTS: &'static [(&'static str, &'static str)] = &[("policy", "kms:GetKeyPolicy")];

    fn client(aws: &Aws) -> &Kms {
        &aws.kms
    }

    async fn read(kms: &Kms, request: &ReadRequest) -> Result<Option<LiveResource>, AwsError> {
        kms.read_key(request).await
    }

    async fn owned(
        kms: &Kms,
        stack: &str,
        named: &BTreeSet<String>,
    ) -> Result<Vec<LiveResource>, AwsError> {
        kms.owned_keys(stack, named).await
    }

    async fn release(kms: &Kms, stack: &str, planned: &ResourceChange) -> Result<(), AwsError> {
        kms.release_key(stack, &planned.physical_id).await
    }

    fn config(_: &Change<'_>, attributes: &Attributes, _: Side) -> Result<KeyConfig, String> {
        KeyConfig::from_attributes(&Planned(attributes))
    }

    async fn create(
        kms: &Kms,
        change: &Change<'_>,
        desired: &KeyConfig,
    ) -> Result<Exports, AwsError> {
        kms.create_key(change.stack, &change.planned.address, desired, None)
            .await
    }

    async fn update(
        kms: &Kms,
        change: &Change<'_>,
        live: &KeyConfig,
        desired: &KeyConfig,
    ) -> Result<(), AwsError> {
        // An adopted key carries no ownership tags yet.
        let live_tags = if change.planned.take_ownership {
            BTreeMap::new()
        } else {
            live.plinth_tags(&change.ownership)
        };
        kms.update_key(
            &change.planned.physical_id,
            (live, &live_tags),
            (desired, &change.ownership),
            None,
            KeyOrigin::Existing,
        )
        .await
    }

    async fn delete(kms: &Kms, change: &Change<'_>, key_id: &str) -> Result<(), AwsError> {
        let live = change.config::<Self>(Side::Live)?;
        kms.schedule_deletion(key_id, live.window()).await
    }

    /// The new key first: the old one keeps working until its aliases have moved.
    async fn replace(kms: &Kms, change: &Change<'_>, _: &str) -> Result<Exports, AwsError> {
        let old_id = change
            .planned
            .replaces
            .as_deref()
            .ok_or_else(|| change.invalid("a replacement names no key to replace".into()))?;
        let old = change.config::<Self>(Side::Live)?;
        let new = change.config::<Self>(Side::Desired)?;
        let exports = kms
            .create_key(
                change.stack,
                &change.planned.address,
                &new,
                Some((old_id, &old)),
            )
            .await?;
        kms.schedule_deletion(old_id, new.window()).await?;
        Ok(exports)
    }

    async fn shared(kms: &Kms, change: &Change<'_>, shared: &SharedChange) -> Result<(), AwsError> {
        kms.apply_shared_key(change.stack, &change.planned.physical_id, shared)
            .await
    }
}
