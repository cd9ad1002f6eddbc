//! Tags, for every service through one small trait: a service says how it sets and removes
//! one resource's tags (and, for a resource other stacks share, how it reads them); the
//! difference to send, the stack's record on a shared resource and letting go are written
//! here once.

use std::collections::BTreeMap;

use super::planned::tag_changes;
use super::shared::{previous_record, record_tags, released_tag_keys, SharedChange};
use super::AwsError;
use crate::model::shared::Share;

/// One resource's tagging calls: a handle holding the client and the resource's id as the
/// service's tagging calls take it (a role's name, a queue's URL, a function's ARN, a key's
/// id).
pub(crate) trait Tagging {
    /// Sets `tags` (never empty) on the resource, leaving its other tags alone.
    async fn tag(&self, tags: BTreeMap<String, String>) -> Result<(), AwsError>;

    /// Removes the tags with `keys` (never empty).
    async fn untag(&self, keys: Vec<String>) -> Result<(), AwsError>;

    /// Sets and removes tags, one call each, only when there is something to send.
    async fn write_tags(
        &self,
        set: BTreeMap<String, String>,
        removed: Vec<String>,
    ) -> Result<(), AwsError> {
        if !set.is_empty() {
            self.tag(set).await?;
        }
        if !removed.is_empty() {
            self.untag(removed).await?;
        }
        Ok(())
    }

    /// Takes the resource's tags from `current` to `wanted`: what is new or changed is set,
    /// what is gone is removed.
    async fn retag(
        &self,
        current: &BTreeMap<String, String>,
        wanted: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let (set, removed) = tag_changes(current, wanted);
        self.write_tags(set, removed).await
    }
}

/// The tags of a resource other stacks may share (`existing = true`), where each stack keeps
/// its record of the parts it manages.
pub(crate) trait SharedTagging: Tagging {
    /// The resource's tags as they are now.
    async fn tags(&self) -> Result<BTreeMap<String, String>, AwsError>;

    /// Sets `stack`'s record among `current` tags (removes it for `None`), touching no other.
    async fn write_record(
        &self,
        current: &BTreeMap<String, String>,
        stack: &str,
        record: Option<&Share>,
    ) -> Result<(), AwsError> {
        let (set, removed) = record_tags(stack, current, record);
        self.write_tags(set, removed).await
    }

    /// Before a change to a shared resource: records what the change may write (what the
    /// stack had and what it will have), so that an apply stopped half way leaves nothing
    /// plinth would not find and remove again. Returns the record as it was.
    async fn record_before(&self, stack: &str, change: &SharedChange) -> Result<Share, AwsError> {
        let current = self.tags().await?;
        let previous = previous_record(&current, stack);
        let widened = change.record(Some(&previous));
        self.write_record(&current, stack, Some(&widened)).await?;
        Ok(previous)
    }

    /// After a change to a shared resource: records exactly the parts the stack now manages
    /// (none: the record is removed), read from the tags as they are now.
    async fn record_after(&self, stack: &str, change: &SharedChange) -> Result<(), AwsError> {
        let now = self.tags().await?;
        let exact = change.record(None);
        let record = Some(&exact).filter(|r| !r.parts.is_empty());
        self.write_record(&now, stack, record).await
    }

    /// `release = true`: the stack's tags come off the resource; nothing else changes.
    async fn release(&self, stack: &str) -> Result<(), AwsError> {
        let current = self.tags().await?;
        self.write_tags(BTreeMap::new(), released_tag_keys(&current, stack))
            .await
    }
}
