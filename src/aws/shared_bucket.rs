//! Writing plinth's parts of a bucket it shares with its owner (`existing = true`): the bucket
//! policy's statements by Sid, the CORS rules and notification entries by id, and the whole
//! settings it declares (`plan/shared_bucket.rs` decides them). Each collection is a
//! read-modify-write that reads again after writing (`shared::merge_collection`): the other
//! rules and entries are sent back as S3 returned them, in S3's own types, so another team's
//! filters, a topic's configuration and the EventBridge switch are kept byte for byte.
//!
//! The record goes on first (with the parts of the previous record, so that an apply stopped
//! half way leaves a record of everything it may have written) and is made exact last. S3 has
//! no write of a single tag: the record is written by a read-modify-write of the tag set.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_s3::types::{
    CorsConfiguration, CorsRule, LambdaFunctionConfiguration, NotificationConfiguration,
    QueueConfiguration,
};

use super::s3::{
    cors_rule, cors_value, invalid_config, map, notification_configurations, notification_values,
    BucketConfig, S3,
};
use super::shared::{
    merge_collection, merge_document, previous_record, record_in_place, with_record, SharedChange,
};
use super::{not_found_as_none, retry_transient, AwsError};
use crate::model::bucket::entry_id;
use crate::model::shared::Share;
use crate::model::{Attributes, Value};
use crate::plan::shared_bucket::{FOUND, SETTING, SETTINGS};
use crate::plan::{Action, ResourceChange};

impl S3 {
    /// A bucket someone else owns: plinth's parts are merged in and recorded in the stack's
    /// tag; nothing else about the bucket changes. Destroying the stack, or removing the
    /// block, removes exactly those parts and the record.
    pub(super) async fn apply_shared_bucket(
        &self,
        stack: &str,
        change: &ResourceChange,
        shared: &SharedChange,
    ) -> Result<(), AwsError> {
        let name = &change.physical_id;
        let Some(current) = self.tags(name).await? else {
            if change.action == Action::Delete {
                return Ok(());
            }
            return Err(AwsError {
                operation: format!("s3:GetBucketTagging ({name})"),
                code: Some("NoSuchBucket".into()),
                message: "the bucket no longer exists".into(),
                hint: Some("plan again".into()),
            });
        };
        let previous = previous_record(&current, stack);
        self.retag(name, stack, Some(&shared.record(Some(&previous))), false)
            .await?;
        self.merge_policy(name, shared, &previous).await?;
        self.merge_cors(name, shared, &previous).await?;
        self.merge_notifications(name, shared, &previous).await?;
        self.shared_settings(name, change, shared, &previous)
            .await?;
        let exact = shared.record(None);
        let exact = Some(&exact).filter(|r| !r.parts.is_empty());
        self.retag(name, stack, exact, true).await
    }

    /// Sets `stack`'s record among the bucket's tags (removes it for `None`), keeping every
    /// other tag. S3 writes the tag set only whole, so another stack's read-modify-write that
    /// crosses this one can put back the set it read, without this record (or, after a
    /// removal, with it): with `verify`, the tags are read again after the write and the
    /// record set again until it holds (`shared::merge_collection`). The final record is
    /// verified; the first, written before the parts, is made exact by it anyway.
    async fn retag(
        &self,
        name: &str,
        stack: &str,
        record: Option<&Share>,
        verify: bool,
    ) -> Result<(), AwsError> {
        // A bucket that is gone has no record to keep.
        let holds = |tags: &Option<BTreeMap<String, String>>| {
            tags.as_ref()
                .is_none_or(|t| record_in_place(stack, t, record))
        };
        let write = |tags: Option<BTreeMap<String, String>>| async move {
            match tags {
                Some(tags) => self.put_tags(name, &tags).await,
                None => Ok(()),
            }
        };
        let merge =
            |tags: Option<BTreeMap<String, String>>| tags.map(|t| with_record(stack, t, record));
        if !verify {
            let tags = self.tags(name).await?;
            return match holds(&tags) {
                true => Ok(()),
                false => write(merge(tags)).await,
            };
        }
        merge_collection(
            &format!("the tags of bucket {name}"),
            || self.tags(name),
            merge,
            holds,
            write,
        )
        .await
    }

    async fn merge_policy(
        &self,
        name: &str,
        shared: &SharedChange,
        previous: &Share,
    ) -> Result<(), AwsError> {
        let ours = shared.ours("policy");
        let drop = shared.dropped(previous, "policy");
        if ours.is_none() && drop.is_empty() {
            return Ok(());
        }
        merge_document(
            &format!("the policy of bucket {name}"),
            ours.as_ref(),
            &drop,
            || async move {
                let out = not_found_as_none(
                    self.client.get_bucket_policy().bucket(name).send().await,
                    "s3:GetBucketPolicy",
                    &["NoSuchBucketPolicy"],
                )?;
                Ok(out.and_then(|o| o.policy).filter(|p| !p.trim().is_empty()))
            },
            |merged| async move {
                let Some(policy) = merged else {
                    self.client
                        .delete_bucket_policy()
                        .bucket(name)
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("s3:DeleteBucketPolicy", &e))?;
                    return Ok(());
                };
                retry_transient(self.patience, principal_not_seen_yet, || {
                    let request = self.client.put_bucket_policy().bucket(name).policy(&policy);
                    async move {
                        request
                            .send()
                            .await
                            .map_err(|e| AwsError::from_sdk("s3:PutBucketPolicy", &e))
                    }
                })
                .await
                .map(|_| ())
            },
        )
        .await
    }

    async fn merge_cors(
        &self,
        name: &str,
        shared: &SharedChange,
        previous: &Share,
    ) -> Result<(), AwsError> {
        let ids = shared.ids("cors");
        let drop = shared.dropped_ids(previous, "cors");
        if ids.is_empty() && drop.is_empty() {
            return Ok(());
        }
        let wanted = declared_entries(shared, "cors", &ids);
        let ours = wanted
            .iter()
            .map(|m| cors_rule(name, m))
            .collect::<Result<Vec<CorsRule>, _>>()?;
        let ours_values: Vec<Value> = wanted.iter().map(|m| Value::Map((*m).clone())).collect();
        merge_collection(
            &format!("the CORS rules of bucket {name}"),
            || self.cors_rules(name),
            |live| merge_by_id(live, &ours, &drop, |r| r.id()),
            |live| {
                holds(
                    &live.iter().map(cors_value).collect::<Vec<_>>(),
                    &ours_values,
                    &drop,
                )
            },
            |rules| async move {
                if rules.is_empty() {
                    self.client
                        .delete_bucket_cors()
                        .bucket(name)
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("s3:DeleteBucketCors", &e))?;
                    return Ok(());
                }
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
                Ok(())
            },
        )
        .await
    }

    async fn merge_notifications(
        &self,
        name: &str,
        shared: &SharedChange,
        previous: &Share,
    ) -> Result<(), AwsError> {
        let ids = shared.ids("notification");
        let drop = shared.dropped_ids(previous, "notification");
        if ids.is_empty() && drop.is_empty() {
            return Ok(());
        }
        let wanted = declared_entries(shared, "notifications", &ids);
        let (queues, functions) = notification_configurations(name, &wanted)?;
        let ours_values: Vec<Value> = wanted.iter().map(|m| Value::Map((*m).clone())).collect();
        let replaced =
            |id: Option<&str>| id.is_some_and(|id| ids.contains(id) || drop.contains(id));
        let merge = |live: NotificationConfiguration| {
            merge_notification_entries(&live, &queues, &functions, replaced)
        };
        merge_collection(
            &format!("the notifications of bucket {name}"),
            || self.notification_configuration(name),
            merge,
            |live| holds(&notification_values(live), &ours_values, &drop),
            |config| self.put_notification_configuration(name, config),
        )
        .await
    }

    /// The whole settings plinth manages on a shared bucket: written when they differ from
    /// what the plan read, removed when the stack no longer declares them.
    async fn shared_settings(
        &self,
        name: &str,
        change: &ResourceChange,
        shared: &SharedChange,
        previous: &Share,
    ) -> Result<(), AwsError> {
        let ours = shared.ids(SETTING);
        // A setting the bucket had as declared when the stack took it on stays.
        let found: BTreeSet<&str> = previous.with_prefix(FOUND).collect();
        for setting in shared.dropped_ids(previous, SETTING) {
            if !found.contains(setting.as_str()) {
                self.delete_setting(name, &setting).await?;
            }
        }
        if ours.is_empty() {
            return Ok(());
        }
        let only = |attrs: Option<&Attributes>| BucketConfig {
            name: name.to_string(),
            force_destroy: false,
            policy: None,
            cors: None,
            public_access_block: attrs
                .filter(|_| ours.contains("public_access_block"))
                .and_then(|a| a.get("public_access_block").cloned()),
            encryption: attrs
                .filter(|_| ours.contains("encryption"))
                .and_then(|a| a.get("encryption").cloned()),
            notifications: None,
            tags: None,
            ownership: Default::default(),
        };
        debug_assert!(ours.iter().all(|s| SETTINGS.contains(&s.as_str())));
        let before = only(change.live.as_deref());
        self.put_settings(&only(shared.desired()), Some(&before))
            .await
    }
}

/// The live notification document without the entries `replaced` names, with plinth's queue
/// and function entries added: every other entry (a topic's, another team's with its
/// filters) and the EventBridge switch are kept as S3 returned them.
fn merge_notification_entries(
    live: &NotificationConfiguration,
    queues: &[QueueConfiguration],
    functions: &[LambdaFunctionConfiguration],
    replaced: impl Fn(Option<&str>) -> bool,
) -> NotificationConfiguration {
    let queues_kept = live
        .queue_configurations()
        .iter()
        .filter(|q| !replaced(q.id()));
    let functions_kept = live
        .lambda_function_configurations()
        .iter()
        .filter(|l| !replaced(l.id()));
    let topics_kept = live
        .topic_configurations()
        .iter()
        .filter(|t| !replaced(t.id()));
    NotificationConfiguration::builder()
        .set_queue_configurations(Some(queues_kept.chain(queues).cloned().collect()))
        .set_lambda_function_configurations(Some(
            functions_kept.chain(functions).cloned().collect(),
        ))
        .set_topic_configurations(Some(topics_kept.cloned().collect()))
        .set_event_bridge_configuration(live.event_bridge_configuration().cloned())
        .build()
}

/// S3 refuses a bucket policy naming a principal IAM created moments ago, until it propagates.
fn principal_not_seen_yet(e: &AwsError) -> bool {
    e.is_code("MalformedPolicy") && e.message.contains("Invalid principal")
}

/// plinth's entries of a collection (`cors`, `notifications`), from the plan's merged one.
fn declared_entries<'a>(
    shared: &'a SharedChange,
    attribute: &str,
    ids: &BTreeSet<String>,
) -> Vec<&'a Attributes> {
    match shared.desired().and_then(|d| d.get(attribute)) {
        Some(Value::List(entries)) => entries
            .iter()
            .filter(|e| entry_id(e).is_some_and(|id| ids.contains(id)))
            .filter_map(map)
            .collect(),
        _ => Vec::new(),
    }
}

/// `live` with the entries whose id is in `drop` removed, each of `ours` replacing the live
/// entry with its id in place, and the rest of `ours` appended; the others as they were.
fn merge_by_id<T: Clone>(
    live: Vec<T>,
    ours: &[T],
    drop: &BTreeSet<String>,
    id: impl Fn(&T) -> Option<&str>,
) -> Vec<T> {
    let mut placed = BTreeSet::new();
    let mut out = Vec::new();
    for entry in live {
        let entry_id = id(&entry).map(str::to_string);
        match entry_id {
            Some(i) if ours.iter().any(|o| id(o) == Some(&i)) => {
                if placed.insert(i.clone()) {
                    out.extend(ours.iter().find(|o| id(o) == Some(&i)).cloned());
                }
            }
            Some(i) if drop.contains(&i) => {}
            _ => out.push(entry),
        }
    }
    for entry in ours {
        if !id(entry).is_some_and(|i| placed.contains(i)) {
            out.push(entry.clone());
        }
    }
    out
}

/// Whether every one of `ours` is among `live` (by id, with the same content) and no entry
/// with an id of `drop` is: the check after a write that no other writer's replaced it.
fn holds(live: &[Value], ours: &[Value], drop: &BTreeSet<String>) -> bool {
    let present = ours.iter().all(|mine| {
        live.iter()
            .any(|l| entry_id(l) == entry_id(mine) && l.equivalent(mine))
    });
    let absent = live
        .iter()
        .all(|l| !entry_id(l).is_some_and(|id| drop.contains(id)));
    present && absent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn others_entries_stay_as_they_were_and_ours_replace_theirs_by_id() {
        let rule = |id: Option<&str>, origin: &str| {
            CorsRule::builder()
                .set_id(id.map(str::to_string))
                .allowed_origins(origin)
                .allowed_methods("GET")
                .build()
                .unwrap()
        };
        let theirs = rule(None, "https://theirs.example");
        let old_ours = rule(Some("app"), "https://old.example");
        let new_ours = rule(Some("app"), "https://app.example");
        let gone = rule(Some("plinth-s-data-cors-2"), "https://gone.example");
        let live = vec![old_ours, theirs.clone(), gone];
        let drop = BTreeSet::from(["plinth-s-data-cors-2".to_string()]);
        let merged = merge_by_id(live, std::slice::from_ref(&new_ours), &drop, |r| r.id());
        assert_eq!(merged, [new_ours.clone(), theirs.clone()]);
        let values: Vec<Value> = merged.iter().map(cors_value).collect();
        assert!(holds(&values, &[cors_value(&new_ours)], &drop));
        assert!(!holds(
            &[cors_value(&theirs)],
            &[cors_value(&new_ours)],
            &drop
        ));
    }

    #[test]
    fn a_merged_notification_document_keeps_topics_and_the_eventbridge_switch() {
        use aws_sdk_s3::types::{Event, EventBridgeConfiguration, TopicConfiguration};
        let queue = |id: &str, arn: &str| {
            QueueConfiguration::builder()
                .id(id)
                .queue_arn(arn)
                .events(Event::from("s3:ObjectCreated:*"))
                .build()
                .unwrap()
        };
        let topic = TopicConfiguration::builder()
            .id("alerts")
            .topic_arn("arn:aws:sns:us-east-1:1:alerts")
            .events(Event::from("s3:ObjectRemoved:*"))
            .build()
            .unwrap();
        let theirs = queue("theirs", "arn:aws:sqs:us-east-1:1:theirs");
        let live = NotificationConfiguration::builder()
            .queue_configurations(theirs.clone())
            .queue_configurations(queue("mine", "arn:aws:sqs:us-east-1:1:old"))
            .topic_configurations(topic.clone())
            .event_bridge_configuration(EventBridgeConfiguration::builder().build())
            .build();
        let mine = queue("mine", "arn:aws:sqs:us-east-1:1:new");
        let merged = merge_notification_entries(&live, std::slice::from_ref(&mine), &[], |id| {
            id == Some("mine")
        });
        assert_eq!(merged.queue_configurations(), [theirs, mine]);
        assert_eq!(merged.topic_configurations(), [topic]);
        assert!(merged.event_bridge_configuration().is_some());
    }
}
