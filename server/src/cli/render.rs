//! `promptls render FILE`.

use std::path::PathBuf;

use clap::Args;

#[derive(Args)]
pub struct RenderArgs {
    /// The .prompt file.
    file: PathBuf,
}

pub fn run(_args: RenderArgs) -> i32 {
    2
}
