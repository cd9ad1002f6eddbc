//! The live side of a plan: what AWS holds for the resources a spec names or a stack owns.

use std::collections::{BTreeMap, BTreeSet};

use futures::{stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::aws::{sts::Account, Aws, AwsError};
use crate::model::{Address, Attributes, Kind, Sensitive, Value, STACK_TAG};
use crate::diag::Diagnostics;
use crate::index::StackIndex;
use crate::spec::Spec;

/// The tag that records which address of the stack a resource was created for, so a resource
/// that left the spec can be shown under its old address, and a renamed one is seen as replaced.
pub const ADDRESS_TAG: &str = "plinth:address";

/// Everything the planner needs from AWS, read up front so that planning is a pure function.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LiveSnapshot {
    pub account: Option<Account>,
    /// What exists under the physical names the spec declares, keyed by spec address,
    /// whoever owns it. A resource with no name of its own (a KMS key) that its name does not
    /// find is the one the stack tagged with its address.
    pub by_address: BTreeMap<Address, LiveResource>,
    /// Every resource tagged as owned by the stack, wherever it is in the spec (or not). Those
    /// found by name are also in `by_address`.
    pub owned: Vec<LiveResource>,
    /// The stack's index as read, when the read used one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<StackIndex>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveResource {
    pub kind: Kind,
    /// The name AWS knows the resource by (a role name, a queue name, a key id).
    pub physical_id: String,
    /// The `plinth:stack` tag, if any.
    pub owner: Option<String>,
    /// The `plinth:address` tag, if any.
    pub address_tag: Option<Address>,
    pub attributes: Attributes,
    /// Values other resources may reference (`arn`, `unique_id`, ...).
    pub exports: BTreeMap<String, String>,
    /// When AWS deletes the resource, if it is already scheduled for deletion (a KMS key in its
    /// waiting period): it is not deleted again, and declaring it again recovers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<String>,
}

impl LiveResource {
    pub fn is_owned_by(&self, stack: &str) -> bool {
        self.owner.as_deref() == Some(stack)
    }

    pub fn is_pending_deletion(&self) -> bool {
        self.deletion_date.is_some()
    }
}

/// What the spec wants read for one resource: its physical name, and the attributes it
/// declares (some cost extra calls, made only when declared).
#[derive(Debug, Clone)]
pub struct ReadRequest {
    pub address: Address,
    pub physical_id: String,
    pub declared: BTreeSet<String>,
}

/// How many reads run at once.
pub const READ_CONCURRENCY: usize = 16;

/// Reads the live state of everything `spec` names or the stack owns.
///
/// `physical_ids` are the resolved physical names, by address (the planner's resolver computes
/// them from the spec and the account). With the stack's `index`, what the stack owns outside
/// the spec is read by name from it; without, found by listing each kind.
pub async fn read(
    aws: &Aws,
    spec: &Spec,
    account: Account,
    physical_ids: &BTreeMap<Address, String>,
    index: Option<&StackIndex>,
) -> Result<LiveSnapshot, AwsError> {
    let resolver = crate::plan::Resolver::new(spec, &account, None);
    let requests: Vec<(ReadRequest, Attributes)> = spec
        .resources
        .values()
        .filter_map(|r| {
            let desired = r.body.desired(&resolver, &mut Diagnostics::default());
            let declared = desired.keys().cloned().collect();
            let request = ReadRequest { address: r.address.clone(), physical_id: physical_ids.get(&r.address)?.clone(), declared };
            Some((request, desired))
        })
        .collect();

    let named = stream::iter(requests)
        .map(|(req, desired)| async move {
            let found = aws.read(&req).await?;
            Ok::<_, AwsError>(found.map(|mut found| {
                mask_sensitive(&desired, &mut found.attributes);
                (req.address, found)
            }))
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect::<Vec<_>>();
    // Discovery leaves out what the spec names: the reads by name above find those, and tell
    // their owner, so discovery reading their tags too would double the calls of a plan.
    let mut names: BTreeMap<Kind, BTreeSet<String>> = BTreeMap::new();
    for (address, id) in physical_ids {
        names.entry(address.kind).or_default().insert(id.clone());
    }
    let no_names = BTreeSet::new();
    let names = &names;
    let no_names = &no_names;
    let (by_address, mut owned) = match index {
        None => {
            let owned = stream::iter(Kind::ALL)
                .map(|kind| aws.owned(*kind, &spec.stack.name, names.get(kind).unwrap_or(no_names)))
                .buffer_unordered(READ_CONCURRENCY)
                .try_collect::<Vec<_>>();
            let (named, owned) = futures::try_join!(named, owned)?;
            (named.into_iter().flatten().collect::<BTreeMap<_, _>>(), owned.into_iter().flatten().collect::<Vec<_>>())
        }
        Some(index) => {
            let by_address: BTreeMap<Address, LiveResource> = named.await?.into_iter().flatten().collect();
            // The rest of the index, once the reads by name have found what they find: a key
            // the spec names by its alias is in the index under its id.
            let found: BTreeSet<(Kind, &str)> = by_address.values().map(|l| (l.kind, l.physical_id.as_str())).collect();
            let rest = index.entries().filter(|(kind, id)| {
                let named = kind.has_name() && names.get(kind).is_some_and(|n| n.contains(*id));
                !named && !found.contains(&(*kind, *id))
            });
            let owned: Vec<LiveResource> = stream::iter(rest)
                .map(|(kind, id)| {
                    let request = ReadRequest {
                        address: Address::new(kind, format!("{kind}#{id}")),
                        physical_id: id.to_string(),
                        declared: BTreeSet::new(),
                    };
                    async move { aws.read(&request).await }
                })
                .buffer_unordered(READ_CONCURRENCY)
                .try_collect::<Vec<_>>()
                .await?
                .into_iter()
                .flatten()
                .filter(|found| found.is_owned_by(&spec.stack.name))
                .collect();
            (by_address, owned)
        }
    };
    let mut by_address = by_address;
    // ... and they join the owned ones here, so `owned` still holds everything the stack owns.
    owned.extend(by_address.values().filter(|found| found.is_owned_by(&spec.stack.name)).cloned());
    let unnamed = spec.resources.keys().filter(|a| !a.kind.has_name() && !by_address.contains_key(*a));
    let found_by_tag: Vec<(Address, LiveResource)> = unnamed
        .filter_map(|address| {
            // One in use before one pending deletion (a copy being retired); among those pending
            // deletion, the one scheduled last, which the spec declared last.
            let tagged = owned
                .iter()
                .filter(|o| o.address_tag.as_ref() == Some(address))
                .min_by_key(|o| (o.is_pending_deletion(), std::cmp::Reverse(o.deletion_date.clone())));
            tagged.map(|found| (address.clone(), found.clone()))
        })
        .collect();
    by_address.extend(found_by_tag);
    Ok(LiveSnapshot { account: Some(account), by_address, owned, index: index.cloned() })
}

/// Hides the live value of everything the spec marks secret, keeping only its hash, so no
/// snapshot, plan or view ever holds it.
fn mask_sensitive(desired: &Attributes, live: &mut Attributes) {
    for (name, want) in desired {
        let Some(have) = live.get_mut(name) else { continue };
        match (want, &*have) {
            (Value::Sensitive(_), Value::Str(s)) => *have = Value::Sensitive(Sensitive::masked(s)),
            (Value::Map(want), Value::Map(_)) => {
                if let Value::Map(have) = have {
                    mask_sensitive(want, have);
                }
            }
            _ => {}
        }
    }
}

/// Splits AWS tags into plinth's ownership tags and the user's own.
pub fn split_tags(tags: impl IntoIterator<Item = (String, String)>) -> (Option<String>, Option<Address>, BTreeMap<String, String>) {
    let mut owner = None;
    let mut address = None;
    let mut user = BTreeMap::new();
    for (k, v) in tags {
        match k.as_str() {
            STACK_TAG => owner = Some(v),
            ADDRESS_TAG => address = Address::try_from(v).ok(),
            _ => {
                user.insert(k, v);
            }
        }
    }
    (owner, address, user)
}
