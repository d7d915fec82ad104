fn main() {
    std::process::exit(promptls::cli::main());
}
