// mimalloc for the command line, the system allocator for the language server; why, in
// `allocator.rs`.
#[global_allocator]
static GLOBAL: promptls::allocator::Allocator = promptls::allocator::Allocator::new();

fn main() {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|command| command == "lsp")
    {
        GLOBAL.use_system();
    }
    std::process::exit(promptls::cli::main());
}
