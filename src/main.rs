/// mimalloc instead of the system allocator: planning a large stack allocates and frees many
/// small strings and maps, where glibc's malloc spent a quarter of the time (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Transparent huge pages off before the Rust runtime's first allocation, which comes before
/// `main` (`memory::huge_pages_off`). The loader runs `.init_array` before handing over to
/// the runtime; the function makes one system call.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static HUGE_PAGES_OFF: extern "C" fn() = {
    extern "C" fn off() {
        plinth::memory::huge_pages_off();
    }
    off
};

fn main() {
    plinth::memory::configure();
    let code = plinth::cli::main();
    plinth::memory::exit(code)
}
