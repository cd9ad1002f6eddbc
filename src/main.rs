/// mimalloc instead of the system allocator: planning a large stack allocates and frees many
/// small strings and maps, where glibc's malloc spent a quarter of the time (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

unsafe extern "C" {
    /// mimalloc's `mi_option_set` (mimalloc.h), part of the library the `mimalloc` crate links.
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e`.
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

fn main() -> std::process::ExitCode {
    // mimalloc 3 gives memory it no longer uses back to the system after a second, which suits
    // a server; plinth runs for under a second, so it never did, and memory freed by one phase
    // (the spec's TOML tree, the snapshot's text) stayed resident while the next allocated
    // more: 10 ms (mimalloc 2's delay) keeps a 10,000-resource plan's peak RSS about 20 MiB
    // lower (docs/benchmarks.md, section 3). SAFETY: plain C call, made before any other thread
    // starts; mimalloc reads the option when it next considers purging.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 10) };
    plinth::cli::main()
}
