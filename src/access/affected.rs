//! Which resources' rows a plan can change, so that [`changes`](super::changes) computes the
//! rows of those alone: a resource left as it is, whose policies name only resources left as
//! they are, has the same rows on both sides, and those rows cancel.
//!
//! A resource's rows read, besides its own attributes, the resources its policies name: the
//! principals of its trust or resource policy (a stack role is shown by its address), the
//! targets of its identity policies' `Resource` patterns (their resource policies apply), its
//! managed policies and permissions boundary; and, through an assumed role, that role's rows.
//! Every one of these is a reference from one resource's attributes to another's ARN. Resources
//! joined by references, on either side of the plan, form groups; a group with a changed member
//! (created, deleted, or with any attribute or ARN different) is affected as a whole, and every
//! row has its origin and everything it read inside one group. The rest cancel.

use super::*;

/// For each side, which of its nodes belong to an affected group, by position in `nodes`.
pub(super) struct Affected {
    pub live: Vec<bool>,
    pub desired: Vec<bool>,
}

pub(super) fn affected<'s>(live: &'s Stack, desired: &'s Stack) -> Affected {
    let mut ids: FastMap<&'s str, usize> = FastMap::default();
    let mut id_of = |address: &'s str| -> usize {
        let next = ids.len();
        *ids.entry(address).or_insert(next)
    };
    let live_ids: Vec<usize> = live.nodes.iter().map(|n| id_of(&n.address)).collect();
    let desired_ids: Vec<usize> = desired.nodes.iter().map(|n| id_of(&n.address)).collect();
    let count = ids.len();

    // Changed: on one side only, or with a different ARN or attributes.
    let mut live_at: Vec<Option<usize>> = vec![None; count];
    for (index, &id) in live_ids.iter().enumerate() {
        live_at[id] = Some(index);
    }
    let mut changed = vec![true; count];
    for (index, &id) in desired_ids.iter().enumerate() {
        if let Some(at) = live_at[id] {
            let (before, after) = (&live.nodes[at], &desired.nodes[index]);
            changed[id] = before.arn != after.arn
                || before.kind != after.kind
                || !(std::ptr::eq(before.attributes, after.attributes)
                    || before.attributes == after.attributes);
        }
    }

    let mut groups = Groups::new(count);
    for (stack, node_ids) in [(live, &live_ids), (desired, &desired_ids)] {
        let arns = SortedArns::new(stack);
        let mut names = Vec::new();
        for (index, node) in stack.nodes.iter().enumerate() {
            names.clear();
            references(node.kind, node.attributes, &mut names);
            for name in &names {
                arns.each_match(stack, name, |other| {
                    groups.join(node_ids[index], node_ids[other]);
                });
            }
        }
    }

    let mut hit = vec![false; count];
    for id in 0..count {
        if changed[id] {
            let root = groups.root(id);
            hit[root] = true;
        }
    }
    let mut in_affected = |id: usize| hit[groups.root(id)];
    Affected {
        live: live_ids.iter().map(|&id| in_affected(id)).collect(),
        desired: desired_ids.iter().map(|&id| in_affected(id)).collect(),
    }
}

/// Every name in a resource's attributes that the access model may look up as another
/// resource: the principals of each policy document; the `Resource` patterns of its identity
/// policies (a `NotResource` names everything), which are the only ones read as targets (a
/// resource policy's own `Resource` names the resource itself); and the ARNs of its managed
/// policies and permissions boundary.
fn references<'a>(kind: Kind, attributes: &'a Attributes, out: &mut Vec<&'a str>) {
    for (name, value) in attributes {
        let identity = || {
            kind.attributes().iter().any(|a| {
                a.name == name
                    && a.policy
                        .as_ref()
                        .is_some_and(|p| p.document == crate::policy::DocumentKind::Identity)
            })
        };
        match (name.as_str(), value) {
            ("managed_policies", Value::Set(arns)) => out.extend(arns.iter().map(String::as_str)),
            ("permissions_boundary", Value::Str(arn)) => out.push(arn),
            (_, value) => policy_references(value, identity(), out),
        }
    }
}

fn policy_references<'a>(value: &'a Value, identity: bool, out: &mut Vec<&'a str>) {
    match value {
        Value::Policy(doc) => {
            for statement in doc.statements() {
                match &statement.principal {
                    Some(Clause::Is(Principals::Listed(listed)))
                    | Some(Clause::Not(Principals::Listed(listed))) => {
                        out.extend(listed.iter().map(|p| p.id.as_str()));
                    }
                    _ => {}
                }
                match &statement.resource {
                    Some(Clause::Is(patterns)) if identity => {
                        out.extend(patterns.iter().map(String::as_str))
                    }
                    Some(Clause::Not(_)) if identity => out.push("*"),
                    _ => {}
                }
            }
        }
        Value::Map(map) => map
            .values()
            .for_each(|v| policy_references(v, identity, out)),
        Value::List(list) => list
            .iter()
            .for_each(|v| policy_references(v, identity, out)),
        _ => {}
    }
}

/// A side's ARNs, sorted, to find those a pattern's literal beginning starts.
struct SortedArns<'s> {
    sorted: Vec<(&'s str, usize)>,
}

impl<'s> SortedArns<'s> {
    fn new(stack: &'s Stack) -> Self {
        let mut sorted: Vec<(&str, usize)> = stack
            .nodes
            .iter()
            .enumerate()
            .map(|(index, node)| (node.arn.as_str(), index))
            .collect();
        sorted.sort_unstable();
        SortedArns { sorted }
    }

    /// Calls `found` with each node `name` may stand for in `targets`, `principal_label` or a
    /// lookup of an ARN: at least every node those find, perhaps more. An exact name is looked
    /// up as it is and, cut at each `/`, as a bucket of an object ARN; a pattern finds every
    /// node whose ARN starts with its literal beginning, and each whose ARN is that beginning
    /// cut at a `/` (a bucket, for `arn:aws:s3:::bucket/*`).
    fn each_match(&self, stack: &Stack, name: &str, mut found: impl FnMut(usize)) {
        let literal = match name.find(['*', '?']) {
            Some(at) => &name[..at],
            None => {
                if let Some(&index) = stack.by_arn.get(name) {
                    found(index);
                }
                name
            }
        };
        for (at, _) in literal.match_indices('/') {
            if let Some(&index) = stack.by_arn.get(&literal[..at]) {
                found(index);
            }
        }
        if literal.len() == name.len() {
            return;
        }
        let start = self.sorted.partition_point(|(arn, _)| *arn < literal);
        for &(arn, index) in &self.sorted[start..] {
            if !arn.starts_with(literal) {
                break;
            }
            found(index);
        }
    }
}

/// Union-find over the resources of both sides.
struct Groups {
    parent: Vec<usize>,
}

impl Groups {
    fn new(count: usize) -> Self {
        Groups {
            parent: (0..count).collect(),
        }
    }

    fn root(&mut self, mut id: usize) -> usize {
        while self.parent[id] != id {
            self.parent[id] = self.parent[self.parent[id]];
            id = self.parent[id];
        }
        id
    }

    fn join(&mut self, a: usize, b: usize) {
        let (a, b) = (self.root(a), self.root(b));
        if a != b {
            self.parent[a.max(b)] = a.min(b);
        }
    }
}
