// Many small JSON values are allocated per render and per check; mimalloc is faster at
// that than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(promptls::cli::main());
}
