//! Two blocks that turn out to be one AWS resource once it is read: a key named by its alias
//! in one block and by its id or ARN in another. Names spelled the same are refused before
//! anything is read (`plan::duplicate-name`); these are found only by what the reads resolved
//! them to, and would fight over the resource on every apply just the same.

use std::collections::hash_map::Entry;

use crate::diag::{Code, Diagnostic};
use crate::hash::FastMap;
use crate::model::Kind;
use crate::spec::resolve::Resolver;
use crate::spec::{Resource, Spec};
use crate::state::LiveSnapshot;

/// A located error for each block whose resource, as read, another block already names.
pub fn named_twice(spec: &Spec, live: &LiveSnapshot, resolver: &Resolver<'_>) -> Vec<Diagnostic> {
    // A hash map: a large plan has thousands.
    let mut first: FastMap<(Kind, &str), &Resource> = FastMap::default();
    let mut out = Vec::new();
    for resource in spec.resources.values() {
        let Some(found) = live.by_address.get(&resource.address) else {
            continue;
        };
        match first.entry((found.kind, found.physical_id.as_str())) {
            Entry::Vacant(e) => {
                e.insert(resource);
            }
            Entry::Occupied(e) => {
                out.push(conflict(e.get(), resource, &found.physical_id, resolver));
            }
        }
    }
    out
}

fn conflict(first: &Resource, second: &Resource, id: &str, resolver: &Resolver<'_>) -> Diagnostic {
    let name = |r: &Resource| {
        r.body
            .physical_id(resolver)
            .ok()
            .flatten()
            .unwrap_or_else(|| id.to_string())
    };
    let kind = second.kind();
    Diagnostic::error(
        Code::PlanDuplicateName,
        format!(
            "{} and {} name one {kind}: `{}` and `{}` are both {kind} `{id}`",
            first.address,
            second.address,
            name(first),
            name(second),
        ),
    )
    .at_location(Some(second.location.clone()))
    .hint(format!(
        "declare each {kind} once: merge the settings into [{}], and refer to it from elsewhere",
        first.address
    ))
}
