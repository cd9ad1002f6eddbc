//! A bucket the stack shares with its owner (`existing = true`): besides the bucket policy's
//! statements (by Sid, as for keys and queues), plinth owns the CORS rules and notification
//! entries it names by id, and the whole settings it declares (default encryption, public
//! access block). Every other rule and entry (another team's, S3's EventBridge switch, a
//! topic) is kept as it is. The parts are recorded in the stack's `plinth:shares:STACK` tag
//! as `cors/ID`, `notification/ID` and `setting/NAME`.

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::model::bucket::{derived_id, entry_id, notifications_value, with_id, without_id};
use crate::model::shared::Share;
use crate::model::{Attributes, Value};
use crate::spec::Resource;
use crate::state::LiveResource;

/// The collections of entries plinth merges by id: (attribute, record prefix).
pub const ENTRIES: &[(&str, &str)] = &[("cors", "cors"), ("notifications", "notification")];
/// The settings plinth owns whole on a shared bucket.
pub const SETTINGS: &[&str] = &["encryption", "public_access_block"];
/// The record prefix of a whole setting.
pub const SETTING: &str = "setting";

/// Merges the block's entries into the live bucket's, by id: `desired` becomes what the
/// bucket's CORS rules and notifications will be, and `parts` gains plinth's.
pub fn merge(
    resource: &Resource,
    desired: &mut Attributes,
    found: &LiveResource,
    stack: &str,
    previous: &Share,
    parts: &mut BTreeSet<String>,
) {
    for &(attribute, prefix) in ENTRIES {
        let declared = match desired.get(attribute) {
            Some(Value::List(entries)) => {
                Some(name_entries(entries, stack, &resource.address.name, prefix))
            }
            _ => None,
        };
        let ours: BTreeSet<String> = declared
            .iter()
            .flatten()
            .filter_map(|e| entry_id(e).map(str::to_string))
            .collect();
        parts.extend(ours.iter().map(|id| format!("{prefix}/{id}")));
        let drop: BTreeSet<String> = previous
            .with_prefix(prefix)
            .filter(|id| !ours.contains(*id))
            .map(str::to_string)
            .collect();
        if declared.is_none() && drop.is_empty() {
            continue;
        }
        let live = match found.attributes.get(attribute) {
            Some(Value::List(entries)) => entries.as_slice(),
            _ => &[],
        };
        let merged = merge_by_id(live, declared.as_deref().unwrap_or_default(), &drop);
        let merged = if attribute == "notifications" {
            notifications_value(merged)
        } else {
            Value::List(merged)
        };
        desired.insert(attribute.into(), merged);
    }
    for &setting in SETTINGS {
        if desired.contains_key(setting) {
            parts.insert(format!("{SETTING}/{setting}"));
        }
    }
}

/// The block's entries, each with its id: the one it names, or one derived from the stack,
/// the block and its place.
fn name_entries(entries: &[Value], stack: &str, block: &str, what: &str) -> Vec<Value> {
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| match entry_id(entry) {
            Some(_) => entry.clone(),
            None => with_id(entry.clone(), &derived_id(stack, block, what, i + 1)),
        })
        .collect()
}

/// `live` with the entries whose id is in `drop` removed, each of `ours` replacing the live
/// entry with its id in place, and the rest of `ours` appended (a CORS rule's place decides
/// which rule S3 applies).
pub fn merge_by_id(live: &[Value], ours: &[Value], drop: &BTreeSet<String>) -> Vec<Value> {
    let mine = |id: Option<&str>| id.and_then(|id| ours.iter().find(|o| entry_id(o) == Some(id)));
    let mut placed = BTreeSet::new();
    let mut out = Vec::new();
    for entry in live {
        let id = entry_id(entry);
        if let Some(m) = mine(id) {
            if placed.insert(id.unwrap_or_default().to_string()) {
                out.push(m.clone());
            }
        } else if !id.is_some_and(|id| drop.contains(id)) {
            out.push(entry.clone());
        }
    }
    for entry in ours {
        if !entry_id(entry).is_some_and(|id| placed.contains(id)) {
            out.push(entry.clone());
        }
    }
    out
}

/// How many entries of a shared bucket's merged collection are someone else's.
pub fn kept_entries(merged: &Value, prefix: &str, parts: &[String]) -> usize {
    let Value::List(entries) = merged else {
        return 0;
    };
    entries
        .iter()
        .filter(|e| {
            !entry_id(e).is_some_and(|id| parts.iter().any(|p| *p == format!("{prefix}/{id}")))
        })
        .count()
}

/// An owned bucket as the planner compares it: S3 gives every notification an id when the
/// request names none, so when the block names none the live ids are left out of the
/// comparison (the block owns the whole document either way).
pub fn compared_view<'a>(desired: &Attributes, found: &'a LiveResource) -> Cow<'a, LiveResource> {
    let names_ids = match desired.get("notifications") {
        Some(Value::List(entries)) => entries.iter().any(|e| entry_id(e).is_some()),
        _ => true,
    };
    let Some(Value::List(live)) = found.attributes.get("notifications") else {
        return Cow::Borrowed(found);
    };
    if names_ids || !live.iter().any(|e| entry_id(e).is_some()) {
        return Cow::Borrowed(found);
    }
    let mut view = found.clone();
    view.attributes.insert(
        "notifications".into(),
        notifications_value(live.iter().map(without_id).collect()),
    );
    Cow::Owned(view)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::bucket::notification;

    fn entry(id: Option<&str>, queue: &str) -> Value {
        let e = notification(
            "queue",
            Value::str(queue),
            ["s3:ObjectCreated:*".to_string()],
            None,
            None,
        );
        match id {
            Some(id) => with_id(e, id),
            None => e,
        }
    }

    #[test]
    fn entries_merge_by_id_and_the_others_stay_in_place() {
        let theirs = entry(Some("analytics"), "arn:aws:sqs:us-east-1:1:theirs");
        let bridge = Value::Map([("eventbridge".to_string(), Value::Bool(true))].into());
        let old = entry(
            Some("plinth-s-data-notification-2"),
            "arn:aws:sqs:us-east-1:1:old",
        );
        let mine_before = entry(Some("uploads"), "arn:aws:sqs:us-east-1:1:a");
        let mine_after = entry(Some("uploads"), "arn:aws:sqs:us-east-1:1:b");
        let live = [mine_before, theirs.clone(), bridge.clone(), old];
        let drop = BTreeSet::from(["plinth-s-data-notification-2".to_string()]);
        let merged = merge_by_id(&live, std::slice::from_ref(&mine_after), &drop);
        assert_eq!(merged, [mine_after.clone(), theirs.clone(), bridge.clone()]);
        let again = merge_by_id(&merged, std::slice::from_ref(&mine_after), &BTreeSet::new());
        assert_eq!(again, merged, "merging twice changes nothing");
        let released = merge_by_id(&merged, &[], &BTreeSet::from(["uploads".to_string()]));
        assert_eq!(released, [theirs, bridge.clone()]);
        assert_eq!(
            kept_entries(
                &Value::List(merged),
                "notification",
                &["notification/uploads".into()]
            ),
            2
        );
        let named = name_entries(
            &[entry(None, "q"), entry(Some("x"), "r")],
            "s",
            "data",
            "cors",
        );
        assert_eq!(entry_id(&named[0]), Some("plinth-s-data-cors-1"));
        assert_eq!(entry_id(&named[1]), Some("x"));
    }
}
