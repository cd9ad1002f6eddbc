//! How the process's memory is set up, before anything else runs: by the binary (`main.rs`)
//! and by the benchmarks, so that what they time is what a user's `plinth` does.

unsafe extern "C" {
    /// mimalloc's `mi_option_set` (mimalloc.h), part of the library the `mimalloc` crate links.
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e`.
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

#[cfg(target_os = "linux")]
unsafe extern "C" {
    /// Linux's `prctl(2)`, from the C library.
    fn prctl(option: std::ffi::c_int, ...) -> std::ffi::c_int;
}

/// `PR_SET_THP_DISABLE` in linux/prctl.h.
#[cfg(target_os = "linux")]
const PR_SET_THP_DISABLE: std::ffi::c_int = 41;

/// Sets mimalloc's purge delay and turns transparent huge pages off for the process. Call it
/// first, before any other thread starts; the process must allocate with mimalloc.
pub fn configure() {
    // Keeps the `mimalloc` crate, and with it the library that defines `mi_option_set`, in
    // every binary that links plinth.
    use mimalloc as _;
    // mimalloc 3 gives memory it no longer uses back to the system after a second, which suits
    // a server; plinth runs for under a second, so it never did, and memory freed by one phase
    // (the spec's TOML tree, the snapshot's text) stayed resident while the next allocated
    // more: 10 ms (mimalloc 2's delay) keeps a 10,000-resource plan's peak RSS about 20 MiB
    // lower (docs/benchmarks.md, section 3). SAFETY: plain C call, made before any other thread
    // starts; mimalloc reads the option when it next considers purging.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 10) };
    huge_pages_off();
}

/// Turns transparent huge pages off for the process. The binary calls it before `main` too
/// (a constructor in `main.rs`): the Rust runtime's first allocation, before `main`, touched
/// the first page of mimalloc's arena, and the kernel backed it with a whole 2 MiB page it
/// zeroed, half a millisecond of every run's start-up (docs/benchmarks.md, section 2).
pub fn huge_pages_off() {
    // mimalloc asks Linux for transparent huge pages on the memory it reserves (its first arena
    // is reserved before `main`); a 2 MiB page is resident as a whole once any of it is touched,
    // which cost a 10,000-resource validate 9 MiB of its peak RSS (126 MiB; 117 without), and
    // on a machine whose kernel compacts memory to find huge pages (`defrag` set to `madvise`)
    // a fault could stall the planner for a quarter of a second (docs/benchmarks.md, section
    // 3). Turning them off for the process applies to every page touched from here on
    // (mimalloc's own option is read only at its start); a program the SDK runs for
    // credentials (`credential_process`) inherits it, which changes only how its memory is
    // backed. SAFETY: plain C call with constant arguments; its result does not matter (a
    // kernel without the option keeps huge pages, which is only memory).
    #[cfg(target_os = "linux")]
    unsafe {
        prctl(
            PR_SET_THP_DISABLE,
            1 as std::ffi::c_ulong,
            0 as std::ffi::c_ulong,
            0 as std::ffi::c_ulong,
            0 as std::ffi::c_ulong,
        )
    };
}
