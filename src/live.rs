//! The live side of a plan: what AWS holds for the resources a spec names or a stack owns.

use std::collections::{BTreeMap, BTreeSet};

use futures::{stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::aws::{sts::Account, Aws, AwsError};
use crate::diag::Diagnostics;
use crate::index::StackIndex;
use crate::model::{Address, Attributes, Kind, Sensitive, Value, STACK_TAG};
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

/// What a read needs to know of the account, which `GetCallerIdentity` tells: the account, the
/// physical names resolved with it (by address), and the stack's index, read alongside.
pub struct Known {
    pub account: Account,
    pub physical_ids: BTreeMap<Address, String>,
    pub index: Option<StackIndex>,
}

/// Reads the live state of everything `spec` names or the stack owns.
///
/// `early` holds the physical names known before the account is (those that do not mention it):
/// those resources are read while `known` (the account, every name, the index) is on its way;
/// the rest once it is there. With the stack's index, what the stack owns outside the spec is
/// read by name from it; without, found by listing each kind.
pub async fn read<E: From<AwsError>>(
    aws: &Aws,
    spec: &Spec,
    early: &BTreeMap<Address, String>,
    known: impl std::future::Future<Output = Result<Known, E>>,
) -> Result<LiveSnapshot, E> {
    // Only the declared attributes' names and secrets are used here, which no account changes.
    let unknown = Account::unknown(aws.sts.region());
    let resolver = crate::plan::Resolver::new(spec, &unknown, None);
    let desired: BTreeMap<&Address, Attributes> = spec
        .resources
        .values()
        .map(|r| {
            (
                &r.address,
                r.body.desired(&resolver, &mut Diagnostics::default()),
            )
        })
        .collect();
    // The reads of the names in `ids` that `done` has not read already.
    let requests = |ids: &BTreeMap<Address, String>,
                    done: &BTreeMap<Address, String>|
     -> Vec<(ReadRequest, &Attributes)> {
        desired
            .iter()
            .filter(|(address, _)| !done.contains_key(*address))
            .filter_map(|(address, desired)| {
                let request = ReadRequest {
                    address: (*address).clone(),
                    physical_id: ids.get(*address)?.clone(),
                    declared: desired.keys().cloned().collect(),
                };
                Some((request, desired))
            })
            .collect()
    };
    // Reads by name share one limit, early or late.
    let limit = tokio::sync::Semaphore::new(READ_CONCURRENCY);
    let early_reads = read_named(aws, &limit, requests(early, &BTreeMap::new()));
    let rest = async {
        let known = known.await?;
        let late_reads = read_named(aws, &limit, requests(&known.physical_ids, early));
        // Discovery leaves out what the spec names: the reads by name find those, and tell
        // their owner, so discovery reading their tags too would double the calls of a plan.
        let mut names: BTreeMap<Kind, BTreeSet<String>> = BTreeMap::new();
        for (address, id) in &known.physical_ids {
            names.entry(address.kind).or_default().insert(id.clone());
        }
        let discovery = async {
            if known.index.is_some() {
                return Ok(Vec::new());
            }
            let no_names = BTreeSet::new();
            let owned = stream::iter(Kind::ALL)
                .map(|kind| {
                    aws.owned(
                        *kind,
                        &spec.stack.name,
                        names.get(kind).unwrap_or(&no_names),
                    )
                })
                .buffer_unordered(READ_CONCURRENCY)
                .try_collect::<Vec<_>>()
                .await?;
            Ok::<_, AwsError>(owned.into_iter().flatten().collect::<Vec<_>>())
        };
        let (late, discovered) = futures::try_join!(late_reads, discovery)?;
        Ok::<_, E>((known, names, late, discovered))
    };
    let (early_found, (known, names, late_found, discovered)) =
        futures::try_join!(async { early_reads.await.map_err(E::from) }, rest)?;
    let mut by_address: BTreeMap<Address, LiveResource> = early_found
        .into_iter()
        .chain(late_found)
        .flatten()
        .collect();
    let mut owned = match &known.index {
        None => discovered,
        Some(index) => {
            // The rest of the index, once the reads by name have found what they find: a key
            // the spec names by its alias is in the index under its id.
            let found: BTreeSet<(Kind, &str)> = by_address
                .values()
                .map(|l| (l.kind, l.physical_id.as_str()))
                .collect();
            let rest = index.entries().filter(|(kind, id)| {
                let named = kind.has_name() && names.get(kind).is_some_and(|n| n.contains(*id));
                !named && !found.contains(&(*kind, *id))
            });
            // Read for their tags alone: nothing is declared of them, so there is nothing to mask.
            let nothing = Attributes::new();
            let requests = rest
                .map(|(kind, id)| {
                    let address = Address::new(kind, format!("{kind}#{id}"));
                    (
                        ReadRequest {
                            address,
                            physical_id: id.to_string(),
                            declared: BTreeSet::new(),
                        },
                        &nothing,
                    )
                })
                .collect();
            read_named(aws, &limit, requests)
                .await?
                .into_iter()
                .flatten()
                .map(|(_, found)| found)
                .filter(|found| found.is_owned_by(&spec.stack.name))
                .collect()
        }
    };
    // ... and they join the owned ones here, so `owned` still holds everything the stack owns.
    owned.extend(
        by_address
            .values()
            .filter(|found| found.is_owned_by(&spec.stack.name))
            .cloned(),
    );
    let unnamed = spec
        .resources
        .keys()
        .filter(|a| !a.kind.has_name() && !by_address.contains_key(*a));
    let found_by_tag: Vec<(Address, LiveResource)> = unnamed
        .filter_map(|address| {
            // One in use before one pending deletion (a copy being retired); among those pending
            // deletion, the one scheduled last, which the spec declared last.
            let tagged = owned
                .iter()
                .filter(|o| o.address_tag.as_ref() == Some(address))
                .min_by_key(|o| {
                    (
                        o.is_pending_deletion(),
                        std::cmp::Reverse(o.deletion_date.clone()),
                    )
                });
            tagged.map(|found| (address.clone(), found.clone()))
        })
        .collect();
    by_address.extend(found_by_tag);
    Ok(LiveSnapshot {
        account: Some(known.account),
        by_address,
        owned,
        index: known.index,
    })
}

/// Reads resources by name, as many at once as `limit` lets through.
async fn read_named(
    aws: &Aws,
    limit: &tokio::sync::Semaphore,
    requests: Vec<(ReadRequest, &Attributes)>,
) -> Result<Vec<Option<(Address, LiveResource)>>, AwsError> {
    stream::iter(requests)
        .map(|(req, desired)| async move {
            let _turn = limit
                .acquire()
                .await
                .expect("the semaphore is never closed");
            let found = aws.read(&req).await?;
            Ok::<_, AwsError>(found.map(|mut found| {
                mask_sensitive(desired, &mut found.attributes);
                (req.address, found)
            }))
        })
        .buffer_unordered(usize::MAX)
        .try_collect()
        .await
}

/// Hides the live value of everything the spec marks secret, keeping only its hash, so no
/// snapshot, plan or view ever holds it.
fn mask_sensitive(desired: &Attributes, live: &mut Attributes) {
    for (name, want) in desired {
        let Some(have) = live.get_mut(name) else {
            continue;
        };
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
pub fn split_tags(
    tags: impl IntoIterator<Item = (String, String)>,
) -> (Option<String>, Option<Address>, BTreeMap<String, String>) {
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
