//! What a stack manages on a resource it shares with others (`existing = true`), recorded on
//! the resource itself so that plinth stays stateless: one tag per stack,
//! `plinth:shares:STACK = ADDRESS PART PART ...`, where a part is `policy/SID` (a statement of
//! a key, queue or bucket policy), `trust/SID` (a statement of a role's trust policy),
//! `inline/NAME` (a role's inline policy) or `attached/ARN` (a managed policy attached to a
//! role). A record longer than a tag value takes more tags: `plinth:shares:STACK:2`, ...
//!
//! Each stack's tag is its own, so two stacks recording their parts at once never overwrite
//! each other's records.

use std::collections::{BTreeMap, BTreeSet};

use super::{Address, Value};

pub const SHARES_TAG_PREFIX: &str = "plinth:shares:";
/// The longest tag value every service accepts (IAM, KMS, SQS and S3 alike).
const TAG_VALUE_MAX: usize = 256;

/// The attribute that carries every stack's record when read (`{stack: [address, parts...]}`)
/// and, on the desired side, this stack's parts.
pub const SHARES_ATTRIBUTE: &str = "shares";

/// One stack's record on a shared resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Share {
    pub address: Option<Address>,
    pub parts: BTreeSet<String>,
}

impl Share {
    /// The statement ids this record owns in a policy document (`policy` or `trust`).
    pub fn sids<'a>(&'a self, document: &'a str) -> impl Iterator<Item = &'a str> {
        self.with_prefix(document)
    }

    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> {
        self.parts.iter().filter_map(move |p| {
            p.strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('/'))
        })
    }

    /// The tags that hold this record, the first named `plinth:shares:STACK`.
    pub fn tags(&self, stack: &str) -> BTreeMap<String, String> {
        let mut values: Vec<String> = Vec::new();
        let mut current = self
            .address
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_default();
        for part in &self.parts {
            if !current.is_empty() && current.len() + 1 + part.len() > TAG_VALUE_MAX {
                values.push(std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(part);
        }
        values.push(current);
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| (tag_key(stack, i), v))
            .collect()
    }
}

/// The key of the `i`th tag of `stack`'s record.
pub fn tag_key(stack: &str, i: usize) -> String {
    match i {
        0 => format!("{SHARES_TAG_PREFIX}{stack}"),
        n => format!("{SHARES_TAG_PREFIX}{stack}:{}", n + 1),
    }
}

/// Takes every stack's record out of a resource's tags, leaving the others.
pub fn take_shares(tags: &mut BTreeMap<String, String>) -> BTreeMap<String, Share> {
    let keys: Vec<String> = tags
        .keys()
        .filter(|k| k.starts_with(SHARES_TAG_PREFIX))
        .cloned()
        .collect();
    let mut out: BTreeMap<String, Share> = BTreeMap::new();
    for key in keys {
        let value = tags.remove(&key).unwrap_or_default();
        let rest = &key[SHARES_TAG_PREFIX.len()..];
        let (stack, first) = match rest.split_once(':') {
            Some((stack, _)) => (stack, false),
            None => (rest, true),
        };
        let share = out.entry(stack.to_string()).or_default();
        let mut words = value.split_whitespace();
        if first {
            share.address = words
                .next()
                .and_then(|a| Address::try_from(a.to_string()).ok());
        }
        share.parts.extend(words.map(str::to_string));
    }
    out
}

/// The records as a live attribute.
pub fn shares_value(shares: &BTreeMap<String, Share>) -> Value {
    Value::Map(
        shares
            .iter()
            .map(|(stack, share)| {
                let mut items: Vec<String> = share.address.iter().map(|a| a.to_string()).collect();
                items.extend(share.parts.iter().cloned());
                (
                    stack.clone(),
                    Value::List(items.into_iter().map(Value::Str).collect()),
                )
            })
            .collect(),
    )
}

/// Reads one stack's record back from a live attribute made by [`shares_value`].
pub fn share_of(value: Option<&Value>, stack: &str) -> Option<Share> {
    let Some(Value::Map(by_stack)) = value else {
        return None;
    };
    let Some(Value::List(items)) = by_stack.get(stack) else {
        return None;
    };
    let mut words = items.iter().filter_map(Value::as_str);
    let first = words.next()?;
    let (address, first_part) = match Address::try_from(first.to_string()) {
        Ok(a) if !first.contains('/') => (Some(a), None),
        _ => (None, Some(first.to_string())),
    };
    let mut parts: BTreeSet<String> = words.map(str::to_string).collect();
    parts.extend(first_part);
    Some(Share { address, parts })
}

/// Every stack's record on a resource, from a live attribute made by [`shares_value`].
pub fn all_shares(value: Option<&Value>) -> BTreeMap<String, Share> {
    let Some(Value::Map(by_stack)) = value else {
        return BTreeMap::new();
    };
    by_stack
        .keys()
        .filter_map(|stack| Some((stack.clone(), share_of(value, stack)?)))
        .collect()
}

/// The documents of a live resource's attributes (`policy`, `cors`, `notifications`) that some stack's
/// record on it holds parts of. A reader reads these even when the block no longer declares
/// them, so that the plan removes those parts from what is there.
pub fn recorded_documents(live: &super::Attributes) -> BTreeSet<&'static str> {
    let shares = all_shares(live.get(SHARES_ATTRIBUTE));
    let parts = shares.values().flat_map(|share| share.parts.iter());
    parts
        .filter_map(|part| match part.split_once('/')?.0 {
            "policy" => Some("policy"),
            "cors" => Some("cors"),
            "notification" => Some("notifications"),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;

    #[test]
    fn a_record_survives_its_tags_and_long_ones_take_more_tags() {
        let share = Share {
            address: Some(Address::new(Kind::Key, "customer")),
            parts: (0..40).map(|i| format!("policy/Statement{i:03}")).collect(),
        };
        let tags = share.tags("tonic");
        assert!(tags.len() > 1, "{tags:?}");
        assert!(tags.values().all(|v| v.len() <= TAG_VALUE_MAX));
        assert!(tags.contains_key("plinth:shares:tonic"));
        let mut all: BTreeMap<String, String> = tags;
        all.insert("team".into(), "data".into());
        let read = take_shares(&mut all);
        assert_eq!(read.get("tonic"), Some(&share));
        assert_eq!(all.len(), 1, "the customer's own tags stay");
        let value = shares_value(&read);
        assert_eq!(share_of(Some(&value), "tonic"), Some(share.clone()));
        assert_eq!(
            share.sids("policy").next(),
            Some("Statement000"),
            "parts by document"
        );
    }
}
