/// mimalloc instead of the system allocator: planning a large stack allocates and frees many
/// small strings and maps, where glibc's malloc spent a quarter of the time (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    plinth::memory::configure();
    plinth::cli::main()
}
