//! A bucket the stack shares with its owner (`existing = true`): besides the bucket policy's
//! statements (by Sid, as for keys and queues), plinth owns the CORS rules and notification
//! entries it names by id, and the whole settings it declares (default encryption, public
//! access block). Every other rule and entry (another team's, S3's EventBridge switch, a
//! topic) is kept as it is. The parts are recorded in the stack's `plinth:shares:STACK` tag
//! as `cors/ID`, `notification/ID` and `setting/NAME`, and a setting that was there as declared
//! when the stack took it on also as `found/NAME`: letting go keeps that one.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use crate::diag::{Code, Diagnostic};
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
/// The record prefix of a setting that was already there, as the block declares it, when the
/// stack started to manage it (a bucket's own public access block, after an import): letting
/// go keeps it, as removing it would leave the bucket less protected than the stack found it.
pub const FOUND: &str = "found";

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
        let Some(value) = desired.get(setting) else {
            continue;
        };
        parts.insert(format!("{SETTING}/{setting}"));
        let managed_before = previous.with_prefix(SETTING).any(|s| s == setting);
        let found_before = previous.with_prefix(FOUND).any(|s| s == setting);
        let there_as_declared =
            !managed_before && found.attributes.get(setting).is_some_and(|l| l == value);
        if found_before || there_as_declared {
            parts.insert(format!("{FOUND}/{setting}"));
        }
    }
}

/// The settings of a record's `parts` recorded as [`FOUND`]: letting go keeps them.
pub fn found_settings(parts: &[String]) -> Vec<&str> {
    parts.iter().filter_map(|p| found_setting(p)).collect()
}

/// The setting a record's part names as [`FOUND`], if it is such a part.
fn found_setting(part: &str) -> Option<&str> {
    part.strip_prefix(FOUND)?.strip_prefix('/')
}

/// Whether a record's part is one recorded as [`FOUND`].
pub fn is_found(part: &str) -> bool {
    found_setting(part).is_some()
}

/// Whether a record's part is a setting ([`SETTING`]) among `found`, which letting go keeps.
pub fn is_kept(part: &str, found: &[&str]) -> bool {
    part.strip_prefix(SETTING)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|setting| found.contains(&setting))
}

/// On a shared bucket, the first of the stack's notifications (by the ids its record will
/// hold) that overlaps one of the owner's: an event of one object could match both, and S3
/// refuses the whole notification document ("Configurations overlap"), so the apply would fail
/// after the plan's other steps. Two of the stack's own were compared by validate.
pub fn overlapping_notifications<'a>(
    resource: &Resource,
    desired: &'a Attributes,
) -> Option<Diagnostic> {
    use crate::spec::kinds::bucket::EventFilter;
    let Some(Value::List(entries)) = desired.get("notifications") else {
        return None;
    };
    let ours: BTreeSet<&str> = match desired.get(super::shared::MANAGES) {
        Some(Value::Set(parts)) => parts
            .iter()
            .filter_map(|p| p.strip_prefix("notification/"))
            .collect(),
        _ => BTreeSet::new(),
    };
    // Each entry's id and what decides its events.
    let fields = |entry: &'a Value| -> Option<(Option<&'a str>, EventFilter<'a>)> {
        let Value::Map(m) = entry else { return None };
        let events = match m.get("events") {
            Some(Value::Set(events)) => events.as_slice(),
            _ => &[],
        };
        let text = |key: &str| m.get(key).and_then(Value::as_str);
        let filter = EventFilter {
            events,
            prefix: text("prefix"),
            suffix: text("suffix"),
        };
        Some((text("id"), filter))
    };
    let all: Vec<_> = entries.iter().filter_map(fields).collect();
    let is_ours = |id: &Option<&str>| id.is_some_and(|id| ours.contains(id));
    for mine in all.iter().filter(|e| is_ours(&e.0)) {
        for theirs in all.iter().filter(|e| !is_ours(&e.0)) {
            if mine.1.overlaps(&theirs.1) {
                let name = |id: Option<&'a str>| id.unwrap_or("(no id)");
                return Some(
                    Diagnostic::error(
                        Code::PlanNotificationOverlap,
                        format!(
                            "{}: the stack's notification `{}` overlaps the bucket's own `{}`: an event of one object could match both, which S3 refuses",
                            resource.address,
                            name(mine.0),
                            name(theirs.0)
                        ),
                    )
                    .at_location(Some(resource.location.clone()))
                    .hint("give the notification a prefix, suffix or event types the owner's does not match; S3 refuses the whole notification document otherwise"),
                );
            }
        }
    }
    None
}

/// The CORS rules and notifications the block starts to manage (not in the stack's record)
/// that the bucket already holds under the same id, written differently: the stack would
/// rewrite the owner's, and remove it when it lets go. Each as the plan names it.
pub fn taken_over_differently(
    resource: &Resource,
    desired: &Attributes,
    found: &LiveResource,
    stack: &str,
    recorded: &BTreeSet<&str>,
) -> Vec<String> {
    let mut out = Vec::new();
    for &(attribute, prefix) in ENTRIES {
        let (Some(Value::List(declared)), Some(Value::List(live))) =
            (desired.get(attribute), found.attributes.get(attribute))
        else {
            continue;
        };
        for entry in name_entries(declared, stack, &resource.address.name, prefix) {
            let Some(id) = entry_id(&entry) else {
                continue;
            };
            if recorded.contains(format!("{prefix}/{id}").as_str()) {
                continue;
            }
            if let Some(theirs) = live.iter().find(|l| entry_id(l) == Some(id)) {
                if !theirs.equivalent(&entry) {
                    out.push(format!(
                        "the {}",
                        super::shared::describe(&format!("{prefix}/{id}"))
                    ));
                }
            }
        }
    }
    out
}

/// On a bucket the stack owns (and so writes its CORS rules and notifications whole): the
/// entries other stacks' records hold stay, after the owner's own. Returns those the owner's
/// block declares too, by id: (the other stack, the part), a conflict.
pub fn keep_others_entries(
    desired: &mut Attributes,
    found: &LiveResource,
    others: &BTreeMap<String, Share>,
) -> Vec<(String, String)> {
    let mut conflicts = Vec::new();
    for &(attribute, prefix) in ENTRIES {
        // A collection the owner does not declare is not written: nothing to keep.
        let Some(Value::List(mine)) = desired.get(attribute) else {
            continue;
        };
        let mine_ids: BTreeSet<&str> = mine.iter().filter_map(entry_id).collect();
        let mut kept_ids = BTreeSet::new();
        for (other, share) in others {
            for id in share.with_prefix(prefix) {
                if mine_ids.contains(id) {
                    conflicts.push((other.clone(), format!("{prefix}/{id}")));
                } else {
                    kept_ids.insert(id);
                }
            }
        }
        let live = match found.attributes.get(attribute) {
            Some(Value::List(entries)) => entries.as_slice(),
            _ => &[],
        };
        let kept: Vec<Value> = live
            .iter()
            .filter(|e| entry_id(e).is_some_and(|id| kept_ids.contains(id)))
            .cloned()
            .collect();
        if kept.is_empty() {
            continue;
        }
        let all: Vec<Value> = mine.iter().cloned().chain(kept).collect();
        let merged = if attribute == "notifications" {
            notifications_value(all)
        } else {
            Value::List(all)
        };
        desired.insert(attribute.into(), merged);
    }
    conflicts
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
/// request names none, so the live ids the desired entries do not name (the block's own
/// entries without one) are left out of the comparison; those it names (its own, and those
/// kept for other stacks) are compared (the block owns the whole document either way).
pub fn compared_view<'a>(desired: &Attributes, found: &'a LiveResource) -> Cow<'a, LiveResource> {
    let Some(Value::List(entries)) = desired.get("notifications") else {
        return Cow::Borrowed(found);
    };
    let named: BTreeSet<&str> = entries.iter().filter_map(entry_id).collect();
    let Some(Value::List(live)) = found.attributes.get("notifications") else {
        return Cow::Borrowed(found);
    };
    let unnamed = |e: &Value| entry_id(e).is_some_and(|id| !named.contains(id));
    if !live.iter().any(unnamed) {
        return Cow::Borrowed(found);
    }
    let mut view = found.clone();
    let compared = live
        .iter()
        .map(|e| if unnamed(e) { without_id(e) } else { e.clone() })
        .collect();
    std::sync::Arc::make_mut(&mut view.attributes)
        .insert("notifications".into(), notifications_value(compared));
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

    fn live_bucket(notifications: Vec<Value>, cors: Vec<Value>, shares: Value) -> LiveResource {
        LiveResource {
            kind: crate::model::Kind::Bucket,
            physical_id: "data".into(),
            owner: Some("owner".into()),
            address_tag: None,
            attributes: [
                (
                    "notifications".to_string(),
                    notifications_value(notifications),
                ),
                ("cors".to_string(), Value::List(cors)),
                (crate::model::shared::SHARES_ATTRIBUTE.to_string(), shares),
            ]
            .into_iter()
            .collect::<crate::model::Attributes>()
            .into(),
            exports: Default::default(),
            deletion_date: None,
        }
    }

    #[test]
    fn the_owner_keeps_the_entries_other_stacks_recorded_and_compares_s3s_ids_only_where_named() {
        let theirs = entry(Some("plinth-b-shared-notification-1"), "arn:q:theirs");
        let rule = |origin: &str| {
            Value::Map(
                [(
                    "allowed_origins".to_string(),
                    Value::set([origin.to_string()]),
                )]
                .into(),
            )
        };
        let their_rule = with_id(rule("https://b"), "plinth-b-shared-cors-1");
        let mut shares = Share::default();
        shares.parts.insert("cors/plinth-b-shared-cors-1".into());
        shares
            .parts
            .insert("notification/plinth-b-shared-notification-1".into());
        let others = BTreeMap::from([("b".to_string(), shares)]);
        // S3 gave the owner's notification an id; the sharer's has its own.
        let found = live_bucket(
            vec![entry(Some("NjE2MzQ"), "arn:q:mine"), theirs.clone()],
            vec![rule("https://a"), their_rule.clone()],
            Value::Map(Default::default()),
        );
        let mut desired: Attributes = [
            (
                "notifications".to_string(),
                notifications_value(vec![entry(None, "arn:q:mine")]),
            ),
            ("cors".to_string(), Value::List(vec![rule("https://a2")])),
        ]
        .into();
        assert!(keep_others_entries(&mut desired, &found, &others).is_empty());
        assert_eq!(
            desired["cors"],
            Value::List(vec![rule("https://a2"), their_rule.clone()])
        );
        assert_eq!(
            desired["notifications"],
            notifications_value(vec![entry(None, "arn:q:mine"), theirs.clone()])
        );
        let view = compared_view(&desired, &found);
        assert_eq!(view.attributes["notifications"], desired["notifications"]);

        // Declaring the sharer's rule is a conflict.
        let mut taking: Attributes = [("cors".to_string(), Value::List(vec![their_rule]))].into();
        assert_eq!(
            keep_others_entries(&mut taking, &found, &others),
            [("b".to_string(), "cors/plinth-b-shared-cors-1".to_string())]
        );
        // A collection the owner does not declare is left alone.
        let mut none = Attributes::new();
        assert!(keep_others_entries(&mut none, &found, &others).is_empty());
        assert!(none.is_empty());
    }
}
