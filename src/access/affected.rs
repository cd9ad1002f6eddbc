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
//! (created, deleted, updated or replaced: anything but a no-op) is affected as a whole, and
//! every row has its origin and everything it read inside one group. The rest cancel. A no-op
//! resource whose live policy says the same as the spec's in other words (another order,
//! another case of a condition key) has no access change, though its rows' text may differ.

use super::*;

/// For each side, which of its nodes belong to an affected group, by position in `nodes`.
pub(super) struct Affected {
    pub live: Vec<bool>,
    pub desired: Vec<bool>,
}

/// The references of one side, as pairs of places in the plan's changes (`Node::change`):
/// each side's are found on its own, on the thread that built it.
pub(super) fn links(stack: &Stack) -> Vec<(usize, usize)> {
    let arns = SortedArns::new(stack);
    let mut names = Vec::new();
    let mut links = Vec::new();
    for node in &stack.nodes {
        names.clear();
        references(node.kind, &node.attributes, &mut names);
        for name in &names {
            arns.each_match(name, |other| {
                links.push((node.change, stack.nodes[other].change))
            });
        }
    }
    links
}

/// Which nodes of each side are in an affected group, from both sides' [`links`].
pub(super) fn affected(live: &Stack, desired: &Stack, links: [&[(usize, usize)]; 2]) -> Affected {
    // A resource is the same on both sides when the plan leaves it as it is; it is known by
    // its place in the plan's changes on either side.
    let count = live
        .nodes
        .iter()
        .chain(&desired.nodes)
        .map(|n| n.change + 1)
        .max()
        .unwrap_or(0);
    let mut sides = vec![0u8; count];
    let mut changed = vec![false; count];
    for node in live.nodes.iter().chain(&desired.nodes) {
        sides[node.change] += 1;
        changed[node.change] |= !node.unchanged;
    }
    for (id, sides) in sides.iter().enumerate() {
        // On one side only: created or deleted.
        changed[id] |= *sides == 1;
    }

    let mut groups = Groups::new(count);
    for &(a, b) in links.into_iter().flatten() {
        groups.join(a, b);
    }

    let mut hit = vec![false; count];
    for (id, _) in changed.iter().enumerate().filter(|(_, changed)| **changed) {
        hit[groups.root(id)] = true;
    }
    let mut in_affected = |node: &Node| hit[groups.root(node.change)];
    Affected {
        live: live.nodes.iter().map(&mut in_affected).collect(),
        desired: desired.nodes.iter().map(&mut in_affected).collect(),
    }
}

/// Every name in a resource's attributes that the access model may look up as another
/// resource: the principals of each policy document; the `Resource` patterns of its identity
/// policies (a `NotResource` names everything), which are the only ones read as targets (a
/// resource policy's own `Resource` names the resource itself); and the ARNs of its managed
/// policies and permissions boundary. Its table says which attributes hold policies.
fn references<'a>(kind: Kind, attributes: &'a Attributes, out: &mut Vec<&'a str>) {
    for column in kind.attributes() {
        let Some(policy) = &column.policy else {
            continue;
        };
        if let Some(value) = attributes.get(column.name) {
            let identity = policy.document == crate::policy::DocumentKind::Identity;
            policy_references(value, identity, out);
        }
    }
    if let Some(Value::Set(arns)) = attributes.get("managed_policies") {
        out.extend(arns.iter().map(String::as_str));
    }
    if let Some(Value::Str(arn)) = attributes.get("permissions_boundary") {
        out.push(arn);
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

/// A side's ARNs, sorted when a pattern first needs them, to find those its literal beginning
/// starts.
struct SortedArns<'s> {
    stack: &'s Stack<'s>,
    sorted: std::cell::OnceCell<Vec<(&'s str, usize)>>,
}

impl<'s> SortedArns<'s> {
    fn new(stack: &'s Stack<'s>) -> Self {
        SortedArns {
            stack,
            sorted: std::cell::OnceCell::new(),
        }
    }

    fn sorted(&self) -> &[(&'s str, usize)] {
        self.sorted.get_or_init(|| {
            let mut sorted: Vec<(&str, usize)> = self
                .stack
                .nodes
                .iter()
                .enumerate()
                .map(|(index, node)| (node.arn.as_str(), index))
                .collect();
            sorted.sort_unstable();
            sorted
        })
    }

    /// Calls `found` with each node `name` may stand for in `targets`, `principal_label` or a
    /// lookup of an ARN: at least every node those find, perhaps more. An exact name is looked
    /// up as it is and, cut at each `/`, as a bucket of an object ARN; a pattern finds every
    /// node whose ARN starts with its literal beginning, and each whose ARN is that beginning
    /// cut at a `/` (a bucket, for `arn:aws:s3:::bucket/*`).
    fn each_match(&self, name: &str, mut found: impl FnMut(usize)) {
        let stack = self.stack;
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
        let sorted = self.sorted();
        let start = sorted.partition_point(|(arn, _)| *arn < literal);
        for &(arn, index) in &sorted[start..] {
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
