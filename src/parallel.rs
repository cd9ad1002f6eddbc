//! Two pieces of CPU-bound work at once, for the large stacks that have enough of it: loading
//! (the policies' lints beside the kinds' rules), planning (two halves of the resources) and the
//! access review (its two sides).

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
