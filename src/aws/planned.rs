//! Reading a planned change's resolved attributes back into the adapters' own types.
//!
//! Every accessor fails only on a plan plinth does not make (a value of the wrong type, or one
//! still unknown at apply time); an absent attribute is `None`, meaning "unmanaged".

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Attributes, Value};
use crate::policy::PolicyDocument;

pub struct Planned<'a>(pub &'a Attributes);

impl Planned<'_> {
    fn wrong(key: &str, value: &Value, what: &str) -> String {
        format!("attribute `{key}` is {}, not {what}", value.display())
    }

    pub fn str(&self, key: &str) -> Result<Option<String>, String> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s.clone())),
            Some(other) => Err(Self::wrong(key, other, "a string")),
        }
    }

    pub fn required_str(&self, key: &str) -> Result<String, String> {
        self.str(key)?
            .ok_or_else(|| format!("attribute `{key}` is missing"))
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, String> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(Self::wrong(key, other, "true or false")),
        }
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, String> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::Int(i)) => Ok(Some(*i)),
            Some(other) => Err(Self::wrong(key, other, "a whole number")),
        }
    }

    pub fn set(&self, key: &str) -> Result<Option<BTreeSet<String>>, String> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::Set(items)) => Ok(Some(items.iter().cloned().collect())),
            Some(other) => Err(Self::wrong(key, other, "a set of strings")),
        }
    }

    pub fn strings(&self, key: &str) -> Result<Option<Vec<String>>, String> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::List(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| Self::wrong(key, v, "a string"))
                })
                .collect::<Result<_, _>>()
                .map(Some),
            Some(other) => Err(Self::wrong(key, other, "a list of strings")),
        }
    }

    pub fn policy(&self, key: &str) -> Result<Option<PolicyDocument>, String> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::Policy(p)) => Ok(Some((**p).clone())),
            Some(other) => Err(Self::wrong(key, other, "a resolved policy")),
        }
    }

    pub fn tags(&self) -> Result<Option<BTreeMap<String, String>>, String> {
        match self.0.get("tags") {
            None => Ok(None),
            Some(Value::Map(m)) => m
                .iter()
                .map(|(k, v)| {
                    Ok((
                        k.clone(),
                        v.as_str()
                            .ok_or_else(|| Self::wrong(k, v, "a string"))?
                            .to_string(),
                    ))
                })
                .collect::<Result<_, String>>()
                .map(Some),
            Some(other) => Err(Self::wrong("tags", other, "a map of strings")),
        }
    }
}

/// Whether a resource whose tags are `found` carries the ownership tags (`plinth:stack` and
/// `plinth:address`) of `ours`, the tags plinth writes on it: it is that block's own.
pub(crate) fn same_owner<'f, 'o>(
    found: impl Fn(&str) -> Option<&'f String>,
    ours: impl Fn(&str) -> Option<&'o String>,
) -> bool {
    [crate::model::STACK_TAG, crate::model::ADDRESS_TAG]
        .iter()
        .all(|k| found(k).is_some() && found(k) == ours(k))
}

/// The tags to set and the keys to remove to bring `current` to `wanted`.
pub fn tag_changes(
    current: &BTreeMap<String, String>,
    wanted: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let set = wanted
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // AWS's own `aws:` tags are never plinth's to remove (AWS refuses it).
    let removed = current
        .keys()
        .filter(|k| !wanted.contains_key(*k) && !crate::state::is_system_tag(k))
        .cloned()
        .collect();
    (set, removed)
}

/// Every tag a resource should carry: the user's (when the spec leaves them unmanaged, those it
/// has now) and plinth's own.
pub fn all_tags(
    user: Option<&BTreeMap<String, String>>,
    unmanaged: Option<&BTreeMap<String, String>>,
    ownership: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut all = user.or(unmanaged).cloned().unwrap_or_default();
    all.extend(ownership.clone());
    all
}
