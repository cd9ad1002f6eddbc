//! How the process's memory is set up, before anything else runs: by the binary (`main.rs`)
//! and by the benchmarks, so that what they time is what a user's `plinth` does.

#[cfg(target_os = "linux")]
unsafe extern "C" {
    /// Linux's `prctl(2)`, from the C library.
    fn prctl(option: std::ffi::c_int, ...) -> std::ffi::c_int;
}

#[cfg(unix)]
unsafe extern "C" {
    /// POSIX `_exit(2)`: ends the process without the C library's exit handlers.
    fn _exit(status: std::ffi::c_int) -> !;
}

/// `PR_SET_THP_DISABLE` in linux/prctl.h.
#[cfg(target_os = "linux")]
const PR_SET_THP_DISABLE: std::ffi::c_int = 41;

/// Sets up the process's memory: turns transparent huge pages off. Call it first, before any
/// other thread starts; the process must allocate with mimalloc.
pub fn configure() {
    // Keeps the `mimalloc` crate in every binary that links plinth.
    use mimalloc as _;
    // mimalloc gives memory it no longer uses back to the system after a second (its
    // `purge_delay`), so within a plan what one phase frees (the spec's TOML tree, the
    // snapshot's text) is there for the next to reuse without faulting it in again. plinth
    // once gave it back after 10 ms, for a lower peak: since the plan's memory came down, a
    // 10,000-resource offline plan keeps 15,000 fewer page faults and 20 ms without it, for a
    // peak of 171 MiB instead of 143 (validate: 107 MiB instead of 88; docs/benchmarks.md,
    // section 3, "Less processor time, the round after").
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

/// Ends the process with `code`. Call it last, once everything the process made is dropped and
/// its output flushed (`cli::main` flushes stdout and stderr before it returns). It skips the C
/// library's exit handlers, among them mimalloc's, which (linked into the binary) frees every
/// page it still holds and hands its memory back to the system page by page before the process
/// ends: 2 to 3 ms at the end of a 10,000-resource plan, on one core, for memory the kernel
/// takes back anyway (docs/benchmarks.md, section 3, "The last milliseconds"). Nothing of
/// plinth's runs at exit but a build instrumented for coverage (`cargo llvm-cov`), which writes
/// its counts then, and so ends through `std::process::exit`.
pub fn exit(code: u8) -> ! {
    #[cfg(all(unix, not(coverage)))]
    // SAFETY: `_exit` takes any status and does not return; what the process wrote is in the
    // kernel's hands (plinth writes through Rust's standard streams and files, flushed or
    // closed by now, not through the C library's buffers).
    unsafe {
        _exit(code.into())
    }
    #[cfg(not(all(unix, not(coverage))))]
    std::process::exit(code.into())
}
