//! The concurrent read of everything a spec concerns, above the adapters that do each read.

use std::collections::{BTreeMap, BTreeSet};

use futures::{stream, StreamExt, TryStreamExt};

use crate::aws::{Aws, AwsError};
use crate::diag::Diagnostics;
use crate::model::{Address, Attributes, Kind, Sensitive, Value};
use crate::spec::Spec;
use crate::state::{
    Account, LiveResource, LiveSnapshot, ReadRequest, StackIndex, READ_CONCURRENCY,
};

tokio::task_local! {
    /// The limit of reads by name in flight, when several stacks are read in one run.
    pub static READ_LIMIT: std::sync::Arc<tokio::sync::Semaphore>;
    /// Set (`plinth access`): every resource's policies are read, the spec's or not. A plan
    /// reads what the spec declares only, as it compares nothing else; a report of who can do
    /// what must see a policy attached by hand all the same.
    pub static EVERY_POLICY: bool;
}

/// The attributes that hold what a resource grants, read for [`EVERY_POLICY`].
const POLICY_ATTRIBUTES: &[&str] = &[
    "trust",
    "policies",
    "managed_policies",
    "permissions_boundary",
    "policy",
];

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
    let resolver = crate::spec::resolve::Resolver::new(spec, &unknown, None);
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
                let mut declared: BTreeSet<String> = desired.keys().cloned().collect();
                if EVERY_POLICY.try_with(|every| *every).unwrap_or(false) {
                    declared.extend(POLICY_ATTRIBUTES.iter().map(|a| a.to_string()));
                }
                let request = ReadRequest {
                    address: (*address).clone(),
                    physical_id: ids.get(*address)?.clone(),
                    declared,
                };
                Some((request, desired))
            })
            .collect()
    };
    // Reads by name share one limit, early or late (and with the other environments planned
    // in the same run, when there are).
    let limit = READ_LIMIT
        .try_with(std::sync::Arc::clone)
        .unwrap_or_else(|_| std::sync::Arc::new(tokio::sync::Semaphore::new(READ_CONCURRENCY)));
    let limit = limit.as_ref();
    let early_reads = read_named(aws, limit, requests(early, &BTreeMap::new()));
    let rest = async {
        let known = known.await?;
        let late_reads = read_named(aws, limit, requests(&known.physical_ids, early));
        // Discovery leaves out what the spec names: the reads by name find those, and tell
        // their owner, so discovery reading their tags too would double the calls of a plan.
        let mut names: BTreeMap<Kind, BTreeSet<String>> = BTreeMap::new();
        for (address, id) in &known.physical_ids {
            names.entry(address.kind).or_default().insert(id.clone());
        }
        // With the index, only a key an apply stopped creating is looked for: it is in no
        // index, and KMS finds keys only by listing them.
        let kinds: &[Kind] = match &known.index {
            None => Kind::ALL,
            Some(index) if !index.keys_in_flight.is_empty() => &[Kind::Key],
            Some(_) => &[],
        };
        let discovery = async {
            if kinds.is_empty() {
                return Ok(Vec::new());
            }
            // The lock's bucket holds the stack's lock and index, never a resource that left
            // its spec (one the spec still names is left out above): reading its tags would be
            // a round trip of its own in an account with no other bucket to look at.
            let no_names = BTreeSet::new();
            let buckets = spec.stack.lock.as_ref().map(|lock| {
                let mut buckets = names.get(&Kind::Bucket).unwrap_or(&no_names).clone();
                buckets.insert(lock.bucket.clone());
                buckets
            });
            let skipped = |kind: &Kind| match (kind, &buckets) {
                (Kind::Bucket, Some(buckets)) => buckets,
                _ => names.get(kind).unwrap_or(&no_names),
            };
            let owned = stream::iter(kinds)
                .map(|kind| aws.owned(*kind, &spec.stack.name, skipped(kind)))
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
            let mut owned: Vec<LiveResource> = read_named(aws, limit, requests)
                .await?
                .into_iter()
                .flatten()
                .map(|(_, found)| found)
                .filter(|found| found.is_held_by(&spec.stack.name))
                .collect();
            // Keys found by listing that the index does not name.
            let indexed: BTreeSet<(Kind, String)> = owned
                .iter()
                .map(|o| (o.kind, o.physical_id.clone()))
                .collect();
            owned.extend(
                discovered
                    .into_iter()
                    .filter(|d| !indexed.contains(&(d.kind, d.physical_id.clone()))),
            );
            owned
        }
    };
    // A resource whose name the spec changed is found by its address tag among what the
    // stack owns, read for its tags alone: read in full, as the spec declares it, so that the
    // plan of its replacement compares with all of it (and the access review sees what the
    // old one granted). `owned` holds nothing the spec reads by name (discovery and the index
    // leave those out), so one another block holds by its name is never taken for it.
    let mut by_tag: BTreeMap<&Address, &LiveResource> = BTreeMap::new();
    for o in owned.iter().filter(|o| o.kind.has_name()) {
        if let Some(tag) = &o.address_tag {
            by_tag.entry(tag).or_insert(o);
        }
    }
    let renamed: Vec<(ReadRequest, &Attributes)> = spec
        .resources
        .values()
        .filter(|r| !by_address.contains_key(&r.address))
        .filter_map(|r| {
            let old = by_tag.get(&r.address)?;
            let desired = desired.get(&r.address)?;
            let request = ReadRequest {
                address: r.address.clone(),
                physical_id: old.physical_id.clone(),
                declared: desired.keys().cloned().collect(),
            };
            Some((request, desired))
        })
        .collect();
    if !renamed.is_empty() {
        for (_, full) in read_named(aws, limit, renamed).await?.into_iter().flatten() {
            let slot = (owned.iter_mut())
                .find(|o| o.kind == full.kind && o.physical_id == full.physical_id);
            if let Some(slot) = slot {
                *slot = full;
            }
        }
    }
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

/// Reads resources by name, as many at once as `limit` lets through. At most
/// [`READ_CONCURRENCY`] reads of one call wait for the limit at a time: a read's future holds
/// the state of every SDK call it may make (tens of kilobytes), so making all of a large
/// stack's at once took hundreds of megabytes before the first answer came back.
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
                // Just read: the attributes are this resource's alone, and changed in place.
                let attributes = std::sync::Arc::make_mut(&mut found.attributes);
                mask_sensitive(desired, attributes);
                mask_environment(desired, attributes);
                (req.address, found)
            }))
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await
}

/// Hides the live value of every environment variable of a function but those the spec
/// declares plain, under a name and with a value that do not look like a secret's: a variable
/// added by hand, or one the spec renamed, removed or made plain (once a secret, its live
/// value still is one), shows only whether it changes. A plain value compares with the hash.
fn mask_environment(desired: &Attributes, live: &mut Attributes) {
    use crate::spec::kinds::function::{looks_secret, value_looks_secret};
    let Some(Value::Map(have)) = live.get_mut("environment") else {
        return;
    };
    let want = match desired.get("environment") {
        Some(Value::Map(want)) => Some(want),
        _ => None,
    };
    for (name, value) in have.iter_mut() {
        let Value::Str(text) = &*value else {
            continue;
        };
        let plain = want
            .and_then(|w| w.get(name))
            .is_some_and(|w| matches!(w, Value::Str(_)));
        if !plain || looks_secret(name) || value_looks_secret(text) {
            *value = Value::Sensitive(Sensitive::masked(text));
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, Value)]) -> Attributes {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        Attributes::from([("environment".to_string(), Value::Map(map))])
    }

    /// What the spec does not declare plain is read as a secret: a variable added by hand, one
    /// renamed or removed, one now plain whose name or value looks secret. A plain value the
    /// spec declares is shown, and one hidden compares equal to the same plain value.
    #[test]
    fn live_environment_values_are_shown_only_where_the_spec_declares_them_plain() {
        let desired = env(&[
            ("MODE", Value::str("fast")),
            ("API_TOKEN", Value::str("now-plain")),
            ("DB_URL", Value::str("postgres://app:hunter2@db/x")),
            ("KEY", Value::Sensitive(Sensitive::new("spec-secret"))),
        ]);
        let mut live = env(&[
            ("MODE", Value::str("slow")),
            ("API_TOKEN", Value::str("OldLiveSecret1")),
            ("DB_URL", Value::str("postgres://app:hunter2@db/x")),
            ("KEY", Value::str("LiveSecretKey2")),
            ("EXTRA_PASSWORD", Value::str("HandAdded3")),
            ("RENAMED", Value::str("WasASecret4")),
        ]);
        mask_sensitive(&desired, &mut live);
        mask_environment(&desired, &mut live);
        let shown = Value::Map(live.clone()).display();
        for secret in [
            "OldLiveSecret1",
            "hunter2",
            "LiveSecretKey2",
            "HandAdded3",
            "WasASecret4",
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("MODE = \"slow\""), "{shown}");
        let (Some(Value::Map(have)), Some(Value::Map(want))) =
            (live.get("environment"), desired.get("environment"))
        else {
            unreachable!()
        };
        assert!(have["DB_URL"].equivalent(&want["DB_URL"]));
        assert!(!have["API_TOKEN"].equivalent(&want["API_TOKEN"]));
    }
}
