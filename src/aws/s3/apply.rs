//! Changing buckets: create, every declared setting, tags, release, update, and delete (emptied first when force_destroy says so).

use super::*;
use crate::aws::planned::same_owner;

impl S3 {
    /// CreateBucket, then its tags and every declared setting.
    ///
    /// The bucket is tagged as it is created, so that an apply killed right after CreateBucket
    /// does not leave a bucket the next plan must treat as someone else's. Tags are put again
    /// after, for endpoints that ignore them at creation (moto does).
    pub async fn create_bucket(&self, b: &BucketConfig) -> Result<Exports, AwsError> {
        let tags = b.all_tags(None);
        let tag_set = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid_config(&b.name, e))?;
        // us-east-1 is the one region that takes no location constraint.
        let location = (self.region != "us-east-1")
            .then(|| BucketLocationConstraint::from(self.region.as_str()));
        // In us-east-1, S3 answers CreateBucket with success for a bucket the account already
        // has: one made by someone else since the plan would be taken over and its tags
        // replaced. A bucket of that name is used only if it is this block's (a step run
        // again); one whose tags are another's is left as it is. (An untagged bucket made
        // meanwhile cannot be told from a new one here: moto, too, keeps no tags at creation.)
        let mut exists = false;
        if location.is_none() {
            if let Ok(Some(found)) = self.tags(&b.name).await {
                let ours = same_owner(|k| found.get(k), |k| tags.get(k));
                if !ours && !found.is_empty() {
                    return Err(crate::aws::taken_since_the_plan(
                        "s3:CreateBucket",
                        "bucket",
                        &b.name,
                    ));
                }
                exists = ours;
            }
        }
        let configuration = CreateBucketConfiguration::builder()
            .set_location_constraint(location)
            .set_tags(Some(tag_set))
            .build();
        // A bucket of this name deleted a moment ago (a replacement, or `destroy` then `apply`)
        // is refused for a while with OperationAborted ("a conflicting conditional operation is
        // currently in progress").
        let created = if exists {
            Ok(())
        } else {
            crate::aws::retry_transient(
                self.patience,
                |e| e.is_code("OperationAborted"),
                || async {
                    self.client
                        .create_bucket()
                        .bucket(&b.name)
                        .create_bucket_configuration(configuration.clone())
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| AwsError::from_sdk("s3:CreateBucket", &e))
                },
            )
            .await
        };
        if let Err(e) = created {
            // Outside us-east-1 a retry after a lost answer meets its own bucket; it is ours
            // only if it carries this bucket's ownership tags (moto ignores tags at creation).
            let ours = e.is_code("BucketAlreadyOwnedByYou")
                && self
                    .tags(&b.name)
                    .await?
                    .is_some_and(|found| same_owner(|k| found.get(k), |k| tags.get(k)));
            if !ours {
                return Err(e);
            }
        }
        // S3 is eventually consistent: the first call after CreateBucket may not find the
        // bucket yet (NoSuchBucket). Once one has, the settings follow.
        let finish = async {
            crate::aws::retry_transient(
                self.patience,
                |e| e.is_code("NoSuchBucket"),
                || self.put_tags(&b.name, &tags),
            )
            .await?;
            self.put_settings(b, None).await
        };
        finish
            .await
            .map_err(crate::aws::created_unfinished("bucket", &b.name))?;
        Ok(b.exports())
    }

    /// Writes every declared setting that differs from `before` (all of them without it). The
    /// public access block goes first: it decides whether a public policy is accepted.
    pub(in crate::aws) async fn put_settings(
        &self,
        b: &BucketConfig,
        before: Option<&BucketConfig>,
    ) -> Result<(), AwsError> {
        let name = &b.name;
        let differs = |after: &Option<Value>, pick: fn(&BucketConfig) -> &Option<Value>| {
            after.is_some()
                && before.is_none_or(|before| {
                    !pick(before)
                        .as_ref()
                        .zip(after.as_ref())
                        .is_some_and(|(x, y)| x.equivalent(y))
                })
        };
        if differs(&b.public_access_block, |c| &c.public_access_block) {
            let m = b
                .public_access_block
                .as_ref()
                .and_then(map)
                .cloned()
                .unwrap_or_default();
            let on = |k: &str| matches!(m.get(k), Some(Value::Bool(true)));
            let config = PublicAccessBlockConfiguration::builder()
                .block_public_acls(on("block_public_acls"))
                .ignore_public_acls(on("ignore_public_acls"))
                .block_public_policy(on("block_public_policy"))
                .restrict_public_buckets(on("restrict_public_buckets"))
                .build();
            self.client
                .put_public_access_block()
                .bucket(name)
                .public_access_block_configuration(config)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("s3:PutPublicAccessBlock", &e))?;
        }
        if differs(&b.encryption, |c| &c.encryption) {
            let m = b
                .encryption
                .as_ref()
                .and_then(map)
                .cloned()
                .unwrap_or_default();
            let kms = m.get("sse").and_then(Value::as_str) == Some("kms");
            let default = ServerSideEncryptionByDefault::builder()
                .sse_algorithm(if kms {
                    ServerSideEncryption::AwsKms
                } else {
                    ServerSideEncryption::Aes256
                })
                .set_kms_master_key_id(m.get("kms_key").and_then(Value::as_str).map(str::to_string))
                .build()
                .map_err(|e| invalid_config(name, e))?;
            let rule = ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(default)
                .bucket_key_enabled(matches!(m.get("bucket_key"), Some(Value::Bool(true))))
                .build();
            let config = ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .map_err(|e| invalid_config(name, e))?;
            self.client
                .put_bucket_encryption()
                .bucket(name)
                .server_side_encryption_configuration(config)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("s3:PutBucketEncryption", &e))?;
        }
        if differs(&b.cors, |c| &c.cors) {
            let rules = match &b.cors {
                Some(Value::List(rules)) => rules
                    .iter()
                    .filter_map(map)
                    .map(|r| cors_rule(name, r))
                    .collect::<Result<Vec<_>, _>>()?,
                _ => Vec::new(),
            };
            if rules.is_empty() {
                self.client
                    .delete_bucket_cors()
                    .bucket(name)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("s3:DeleteBucketCors", &e))?;
            } else {
                let config = CorsConfiguration::builder()
                    .set_cors_rules(Some(rules))
                    .build()
                    .map_err(|e| invalid_config(name, e))?;
                self.client
                    .put_bucket_cors()
                    .bucket(name)
                    .cors_configuration(config)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("s3:PutBucketCors", &e))?;
            }
        }
        if differs(&b.policy, |c| &c.policy) {
            let policy = b
                .policy
                .as_ref()
                .and_then(Value::as_policy)
                .map(PolicyDocument::to_aws_json)
                .unwrap_or_default();
            retry_transient(self.patience, principal_not_seen_yet, || {
                let request = self.client.put_bucket_policy().bucket(name).policy(&policy);
                async move {
                    request
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("s3:PutBucketPolicy", &e))
                }
            })
            .await?;
        }
        if differs(&b.notifications, |c| &c.notifications) {
            let entries = match &b.notifications {
                Some(Value::List(entries)) => entries.iter().filter_map(map).collect(),
                _ => Vec::new(),
            };
            self.put_notifications(name, &entries).await?;
        }
        Ok(())
    }

    /// Writes the whole notification document (an empty one removes every notification).
    async fn put_notifications(&self, name: &str, entries: &[&Attributes]) -> Result<(), AwsError> {
        let (queues, functions) = notification_configurations(name, entries)?;
        let config = NotificationConfiguration::builder()
            .set_queue_configurations(Some(queues))
            .set_lambda_function_configurations(Some(functions))
            .build();
        self.put_notification_configuration(name, config).await
    }

    /// PutBucketNotificationConfiguration, waiting while S3 cannot yet validate a destination.
    pub(in crate::aws) async fn put_notification_configuration(
        &self,
        name: &str,
        config: NotificationConfiguration,
    ) -> Result<(), AwsError> {
        retry_transient(self.patience, destination_not_validated_yet, || {
            let request = self
                .client
                .put_bucket_notification_configuration()
                .bucket(name)
                .notification_configuration(config.clone());
            async move {
                request
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("s3:PutBucketNotificationConfiguration", &e))
            }
        })
        .await?;
        Ok(())
    }

    /// `release = true`: the stack's tags come off the bucket (its whole tag set is written
    /// back without them); its settings stay as they are. Checked after writing, like a
    /// shared bucket's record: another stack's write of the whole set, from a read taken
    /// before this one, would put them back.
    pub async fn release_bucket(&self, stack: &str, name: &str) -> Result<(), AwsError> {
        use crate::aws::shared::{merge_collection, released_tag_keys};
        let gone = |tags: &Option<BTreeMap<String, String>>| {
            tags.as_ref()
                .is_none_or(|t| released_tag_keys(t, stack).is_empty())
        };
        let without = |tags: Option<BTreeMap<String, String>>| {
            tags.map(|mut t| {
                for k in released_tag_keys(&t, stack) {
                    t.remove(&k);
                }
                t
            })
        };
        merge_collection(
            &format!("the tags of bucket {name}"),
            || self.tags(name),
            without,
            gone,
            |tags| async move {
                match tags {
                    Some(tags) => self.put_tags(name, &tags).await,
                    None => Ok(()),
                }
            },
        )
        .await
    }

    /// Replaces the bucket's whole tag set (S3 has no add or remove of single tags).
    pub(in crate::aws) async fn put_tags(
        &self,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        if tags.is_empty() {
            self.client
                .delete_bucket_tagging()
                .bucket(name)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("s3:DeleteBucketTagging", &e))?;
            return Ok(());
        }
        let set = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid_config(name, e))?;
        let tagging = Tagging::builder()
            .set_tag_set(Some(set))
            .build()
            .map_err(|e| invalid_config(name, e))?;
        self.client
            .put_bucket_tagging()
            .bucket(name)
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("s3:PutBucketTagging", &e))?;
        Ok(())
    }

    pub async fn update_bucket(
        &self,
        before: &BucketConfig,
        after: &BucketConfig,
    ) -> Result<(), AwsError> {
        self.put_settings(after, Some(before)).await?;
        let current = before.all_tags(None);
        let mut wanted = after.all_tags(before.tags.as_ref());
        if current != wanted {
            // Other stacks' records of their parts are tags too, and S3 writes the set whole:
            // those on the bucket now (one may have been added since the plan) stay. So do
            // AWS's own `aws:` tags (CloudFormation's, on a bucket it made), which no caller
            // may remove.
            if let Some(now) = self.tags(&after.name).await? {
                wanted.extend(
                    now.into_iter()
                        .filter(|(k, _)| is_record_tag(k) || crate::state::is_system_tag(k)),
                );
            }
            self.put_tags(&after.name, &wanted).await?;
        }
        Ok(())
    }

    /// Deletes an owned bucket (emptied first only with force_destroy).
    pub async fn delete_bucket(
        &self,
        b: &BucketConfig,
        force_destroy: bool,
    ) -> Result<(), AwsError> {
        let name = &b.name;
        if force_destroy {
            self.empty(name).await?;
        }
        match self.client.delete_bucket().bucket(name).send().await {
            Ok(_) => Ok(()),
            Err(e) => match ProvideErrorMetadata::code(&e) {
                Some(c) if NO_BUCKET.contains(&c) => Ok(()),
                Some("BucketNotEmpty") => Err(AwsError {
                    operation: "s3:DeleteBucket".into(),
                    code: Some("BucketNotEmpty".into()),
                    message: format!("bucket `{name}` still holds objects, and plinth deletes them only with force_destroy = true"),
                    hint: Some("empty the bucket yourself, or set force_destroy = true on it and apply before removing it".into()),
                }),
                _ => Err(AwsError::from_sdk("s3:DeleteBucket", &e)),
            },
        }
    }

    /// Removes one whole setting plinth managed on a shared bucket (encryption, public
    /// access block).
    pub(in crate::aws) async fn delete_setting(
        &self,
        name: &str,
        setting: &str,
    ) -> Result<(), AwsError> {
        match setting {
            "encryption" => not_found_as_none(
                self.client
                    .delete_bucket_encryption()
                    .bucket(name)
                    .send()
                    .await,
                "s3:DeleteBucketEncryption",
                NO_BUCKET,
            )
            .map(|_| ()),
            "public_access_block" => not_found_as_none(
                self.client
                    .delete_public_access_block()
                    .bucket(name)
                    .send()
                    .await,
                "s3:DeletePublicAccessBlock",
                NO_BUCKET,
            )
            .map(|_| ()),
            _ => Ok(()),
        }
    }

    /// Deletes every object version and delete marker, a thousand at a time.
    async fn empty(&self, name: &str) -> Result<(), AwsError> {
        let (mut key_marker, mut version_marker) = (None, None);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(name)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("s3:ListObjectVersions", &e))?;
            let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
            let markers = page
                .delete_markers()
                .iter()
                .map(|m| (m.key(), m.version_id()));
            let objects = versions
                .chain(markers)
                .filter_map(|(key, version)| {
                    // Unversioned objects are listed with the version id "null".
                    let version = version.filter(|v| *v != "null").map(str::to_string);
                    ObjectIdentifier::builder()
                        .key(key?)
                        .set_version_id(version)
                        .build()
                        .ok()
                })
                .collect::<Vec<_>>();
            if !objects.is_empty() {
                let delete = Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()
                    .map_err(|e| invalid_config(name, e))?;
                self.client
                    .delete_objects()
                    .bucket(name)
                    .delete(delete)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("s3:DeleteObjects", &e))?;
            }
            if page.is_truncated() != Some(true) {
                return Ok(());
            }
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
        }
    }
}

/// A tag that holds a stack's record of the parts it manages on the bucket.
fn is_record_tag(key: &str) -> bool {
    key.starts_with(crate::model::shared::SHARES_TAG_PREFIX)
}
