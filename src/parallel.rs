//! Two pieces of CPU-bound work at once, for the large stacks that have enough of it: loading
//! (the policies' lints beside the kinds' rules), planning (every other resource on each), the
//! access review (its two sides) and a text plan's resources.

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
}
