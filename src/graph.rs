//! Dependency graphs over resource addresses: cycle detection for the loader, layering for apply.

use std::collections::{BTreeMap, BTreeSet};

/// The elementary cycles found by a depth-first search, each listed from its smallest node, so
/// the same spec always reports the same cycles.
pub fn cycles<'a, T: Ord>(edges: &BTreeMap<&'a T, BTreeSet<&'a T>>) -> Vec<Vec<&'a T>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Unseen,
        OnPath,
        Done,
    }
    fn visit<'a, T: Ord>(
        node: &'a T,
        edges: &BTreeMap<&'a T, BTreeSet<&'a T>>,
        marks: &mut BTreeMap<&'a T, Mark>,
        path: &mut Vec<&'a T>,
        found: &mut BTreeSet<Vec<&'a T>>,
    ) {
        marks.insert(node, Mark::OnPath);
        path.push(node);
        for &next in edges.get(node).into_iter().flatten() {
            match marks.get(next).copied().unwrap_or(Mark::Unseen) {
                Mark::OnPath => {
                    let start = path.iter().position(|n| *n == next).expect("on path");
                    let mut cycle = path[start..].to_vec();
                    let min = cycle
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, n)| **n)
                        .map_or(0, |(i, _)| i);
                    cycle.rotate_left(min);
                    found.insert(cycle);
                }
                Mark::Unseen => visit(next, edges, marks, path, found),
                Mark::Done => {}
            }
        }
        path.pop();
        marks.insert(node, Mark::Done);
    }
    let mut marks = BTreeMap::new();
    let mut found = BTreeSet::new();
    for &node in edges.keys() {
        if marks.get(node).copied().unwrap_or(Mark::Unseen) == Mark::Unseen {
            visit(node, edges, &mut marks, &mut Vec::new(), &mut found);
        }
    }
    found.into_iter().collect()
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

    #[test]
    fn acyclic_graphs_have_none() {
        let (a, b, c) = (&"a", &"b", &"c");
        let g = graph(&[(a, b), (a, c), (b, c)]);
        assert!(cycles(&g).is_empty());
    }
}
