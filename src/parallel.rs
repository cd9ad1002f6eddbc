//! CPU-bound work on two cores, or every core, for the large stacks that have enough of it:
//! loading (runs of blocks taken as loaders are free; the checks laid out on two cores),
//! planning (runs of resources taken as threads are free), the access review (its two sides)
//! and a text plan's resources (every other one on each).

use std::sync::atomic::{AtomicUsize, Ordering};

/// `items` split every other one, for two threads that should each get a share of every kind
/// of work (a plan's order groups resources by kind, and kinds differ in cost): those at even
/// places, and those at odd places. [`interleave`] puts their results back in order.
pub(crate) fn every_other<T: Copy>(items: &[T]) -> (Vec<T>, Vec<T>) {
    (
        items.iter().step_by(2).copied().collect(),
        items.iter().skip(1).step_by(2).copied().collect(),
    )
}

/// `even` and `odd` taken in turn, from `even`: the results of [`every_other`]'s halves, in
/// the order of the items they came from.
pub(crate) fn interleave<T>(even: Vec<T>, odd: Vec<T>) -> Vec<T> {
    let mut all = Vec::with_capacity(even.len() + odd.len());
    let mut odd = odd.into_iter();
    for item in even {
        all.push(item);
        all.extend(odd.next());
    }
    all.extend(odd);
    all
}

/// `first()` and `second()`, the first on a thread of its own when `parallel`; a panic in
/// either is the caller's.
pub(crate) fn two_at_once<A: Send, B>(
    parallel: bool,
    first: impl FnOnce() -> A + Send,
    second: impl FnOnce() -> B,
) -> (A, B) {
    if !parallel {
        return (first(), second());
    }
    std::thread::scope(|scope| {
        let first = scope.spawn(first);
        let second = second();
        let first = first
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (first, second)
    })
}

/// `items` handed out a run at a time, from the first, to whichever thread asks next: two
/// threads given halves fixed in advance finish apart by as much as the halves' work differs
/// (the thread started second also starts later, with its caches cold), and one of the two
/// cores waits meanwhile. Each run comes with the place of its first item; [`in_order`] puts
/// the runs' results back in the items' order.
pub(crate) struct Runs<'r, T> {
    items: &'r [T],
    next: &'r AtomicUsize,
    run: usize,
}

impl<'r, T> Runs<'r, T> {
    /// Runs of `run` items of `items`, handed out from the place `next` holds, which every
    /// thread taking runs of these items shares (starting at 0).
    pub(crate) fn new(items: &'r [T], next: &'r AtomicUsize, run: usize) -> Self {
        Runs {
            items,
            next,
            run: run.max(1),
        }
    }
}

impl<'r, T> Iterator for Runs<'r, T> {
    type Item = (usize, &'r [T]);

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.next.fetch_add(self.run, Ordering::Relaxed);
        let end = start.saturating_add(self.run).min(self.items.len());
        (start < self.items.len()).then(|| (start, &self.items[start..end]))
    }
}

/// `first` and `second`, each taking [`Runs`] of `run` items of `items` until none is left:
/// the first on a thread of its own when `parallel`; otherwise the second, here, takes every
/// run, and the first is given none. A panic in either is the caller's.
pub(crate) fn in_runs<T: Sync, A: Send, B>(
    parallel: bool,
    items: &[T],
    run: usize,
    first: impl for<'r> FnOnce(Runs<'r, T>) -> A + Send,
    second: impl for<'r> FnOnce(Runs<'r, T>) -> B,
) -> (A, B) {
    let next = AtomicUsize::new(0);
    let runs = || Runs::new(items, &next, run);
    if !parallel {
        let second = second(runs());
        return (first(runs()), second);
    }
    two_at_once(true, || first(runs()), || second(runs()))
}

/// The results of runs taken by several threads, each a list of (place of the run's first
/// item, its items' results), as one list in the items' order.
pub(crate) fn in_order<R>(parts: impl IntoIterator<Item = Vec<(usize, Vec<R>)>>) -> Vec<R> {
    let mut runs: Vec<(usize, Vec<R>)> = parts.into_iter().flatten().collect();
    runs.sort_unstable_by_key(|(start, _)| *start);
    // Sized once: a plan's results are large, and moving them at every doubling shows.
    let mut all = Vec::with_capacity(runs.iter().map(|(_, results)| results.len()).sum());
    for (_, results) in runs {
        all.extend(results);
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Split every other one and taken in turn, any number of items comes back in its order.
    #[test]
    fn every_other_and_interleave_give_the_items_back_in_order() {
        for n in 0..7 {
            let items: Vec<usize> = (0..n).collect();
            let (even, odd) = every_other(&items);
            assert!(even.iter().all(|i| i % 2 == 0) && odd.iter().all(|i| i % 2 == 1));
            assert_eq!(interleave(even, odd), items);
        }
    }

    /// Two threads taking runs as they are free, however the runs fall between them, give
    /// every item's result once, in the items' order; without a second thread the one here
    /// takes every run.
    #[test]
    fn runs_taken_by_two_threads_come_back_in_order() {
        for (n, run, parallel) in [
            (0, 4, true),
            (1, 4, true),
            (103, 4, true),
            (103, 7, false),
            (64, 1, true),
        ] {
            let items: Vec<usize> = (0..n).collect();
            let work = |runs: Runs<'_, usize>| -> Vec<(usize, Vec<usize>)> {
                runs.map(|(start, run)| {
                    assert_eq!(
                        run[0], start,
                        "a run comes with the place of its first item"
                    );
                    (start, run.iter().map(|i| i * 10).collect())
                })
                .collect()
            };
            let (first, second) = in_runs(parallel, &items, run, work, work);
            if !parallel {
                assert!(first.is_empty(), "the second took every run");
            }
            let taken: usize = first.iter().chain(&second).map(|(_, r)| r.len()).sum();
            assert_eq!(taken, n, "every item taken once");
            let all = in_order([first, second]);
            assert_eq!(all, items.iter().map(|i| i * 10).collect::<Vec<_>>());
        }
    }
}
