//! `plinth graph`: the stack's resources and their references as a picture for a pull request
//! or a design document, in Graphviz dot or Mermaid. An edge goes from a resource to one it
//! refers to, labelled with the attributes it uses; a solid edge also orders apply (the other
//! resource is created first), a dashed one does not (an ARN in a policy's Resource). With a
//! plan, each resource is labelled with its planned action.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::model::Address;
use crate::plan::{Action, Plan};
use crate::spec::template::Reference;
use crate::spec::Spec;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GraphFormat {
    #[default]
    Dot,
    Mermaid,
}

/// One edge: the attributes used, and whether it orders apply.
#[derive(Default)]
struct Edge {
    attributes: BTreeSet<String>,
    orders: bool,
}

/// The edges of `spec`, by (from, to), in address order.
fn edges(spec: &Spec) -> BTreeMap<(&Address, &Address), Edge> {
    let mut edges: BTreeMap<(&Address, &Address), Edge> = BTreeMap::new();
    for (from, resource) in &spec.resources {
        let ordering: BTreeSet<&Address> = resource
            .dependencies()
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        for (reference, _) in resource.references() {
            if let Reference::Resource { address, attribute } = reference {
                // A resource naming itself (a queue policy's own ARN) is no edge.
                let Some((to, _)) = spec
                    .resources
                    .get_key_value(address)
                    .filter(|(to, _)| *to != from)
                else {
                    continue;
                };
                let edge = edges.entry((from, to)).or_default();
                edge.attributes.insert(attribute.clone());
                edge.orders |= ordering.contains(to);
            }
        }
    }
    edges
}

fn action_word(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Delete => "delete",
        Action::NoOp => "no change",
    }
}

/// The resources to draw: the spec's, and with a plan those it deletes too; each with its
/// planned action.
fn nodes<'a>(spec: &'a Spec, plan: Option<&'a Plan>) -> Vec<(&'a Address, Option<Action>)> {
    let mut nodes: BTreeMap<&Address, Option<Action>> =
        spec.resources.keys().map(|a| (a, None)).collect();
    for change in plan.iter().flat_map(|p| &p.changes) {
        nodes.insert(&change.address, Some(change.action));
    }
    nodes.into_iter().collect()
}

/// The graph of `spec` in `format`; with `plan`, each resource carries its planned action.
pub fn render(spec: &Spec, plan: Option<&Plan>, format: GraphFormat) -> String {
    let nodes = nodes(spec, plan);
    let edges = edges(spec);
    match format {
        GraphFormat::Dot => dot(&spec.stack.name, &nodes, &edges),
        GraphFormat::Mermaid => mermaid(&nodes, &edges),
    }
}

fn dot(
    stack: &str,
    nodes: &[(&Address, Option<Action>)],
    edges: &BTreeMap<(&Address, &Address), Edge>,
) -> String {
    let mut out = format!(
        "digraph {:?} {{\n  rankdir = LR;\n  node [shape = box];\n",
        stack
    );
    for (address, action) in nodes {
        let label = match action {
            Some(a) => format!("{address}\\n({})", action_word(*a)),
            None => address.to_string(),
        };
        let style = match action {
            Some(Action::Create) => ", color = \"darkgreen\"",
            Some(Action::Update) => ", color = \"goldenrod\"",
            Some(Action::Replace) => ", color = \"purple\"",
            Some(Action::Delete) => ", color = \"red\", style = \"dashed\"",
            _ => "",
        };
        let _ = writeln!(out, "  \"{address}\" [label = \"{label}\"{style}];");
    }
    for ((from, to), edge) in edges {
        let label = edge
            .attributes
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let style = if edge.orders {
            ""
        } else {
            ", style = \"dashed\""
        };
        let _ = writeln!(
            out,
            "  \"{from}\" -> \"{to}\" [label = \"{label}\"{style}];"
        );
    }
    out.push_str("}\n");
    out
}

/// Mermaid ids may not hold dots or dashes: `role.lambda` is `role_lambda`, labelled with the
/// address, and an address that would give an id already taken (`queue.a-b` beside
/// `queue.a_b`) gets a number after it.
fn mermaid_ids<'a>(nodes: &[(&'a Address, Option<Action>)]) -> BTreeMap<&'a Address, String> {
    let mut ids = BTreeMap::new();
    let mut taken = std::collections::BTreeSet::new();
    for (address, _) in nodes {
        let base = address.to_string().replace(['.', '-'], "_");
        let mut id = base.clone();
        let mut n = 2;
        while !taken.insert(id.clone()) {
            id = format!("{base}_{n}");
            n += 1;
        }
        ids.insert(*address, id);
    }
    ids
}

fn mermaid(
    nodes: &[(&Address, Option<Action>)],
    edges: &BTreeMap<(&Address, &Address), Edge>,
) -> String {
    let ids = mermaid_ids(nodes);
    let mermaid_id = |address: &Address| {
        ids.get(address)
            .cloned()
            .unwrap_or_else(|| address.to_string().replace(['.', '-'], "_"))
    };
    let mut out = String::from("flowchart LR\n");
    for (address, action) in nodes {
        let label = match action {
            Some(a) => format!("{address}<br/>({})", action_word(*a)),
            None => address.to_string(),
        };
        let _ = writeln!(out, "  {}[\"{label}\"]", mermaid_id(address));
    }
    for ((from, to), edge) in edges {
        let label = edge
            .attributes
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let arrow = if edge.orders { "-->" } else { "-.->" };
        let _ = writeln!(
            out,
            "  {} {arrow}|{label}| {}",
            mermaid_id(from),
            mermaid_id(to)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `queue.a-b` and `queue.a_b` are two nodes in Mermaid too, and the reference between
    /// them is an edge from one to the other, not a loop.
    #[test]
    fn mermaid_gives_each_resource_its_own_node() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plinth.toml");
        std::fs::write(
            &path,
            "[stack]\nname = \"g\"\n\n[queue.a-b]\nname = \"g-dlq\"\n\n[queue.a_b]\nname = \"g-work\"\nredrive = { queue = \"${queue.a-b.arn}\", max_receive_count = 5 }\n",
        )
        .unwrap();
        let spec = crate::spec::load(&path, &crate::spec::LoadOptions::default())
            .unwrap_or_else(|d| panic!("{}", d.render(false)));
        let graph = render(&spec, None, GraphFormat::Mermaid);
        assert!(graph.contains("  queue_a_b[\"queue.a-b\"]\n"), "{graph}");
        assert!(graph.contains("  queue_a_b_2[\"queue.a_b\"]\n"), "{graph}");
        assert!(graph.contains("  queue_a_b_2 -->|"), "{graph}");
        assert!(graph.contains("| queue_a_b\n"), "{graph}");
    }
}
