//! `promptls trust [PATH]`, `--list`, `--remove PATH`: the workspaces whose files may
//! choose where the user's own keys go. The list lives in the user config folder, never
//! in a workspace (a repository cannot trust itself).

use std::path::PathBuf;

use clap::Args;

use promptls_core::config;
use promptls_core::trust::{self, TrustList};

#[derive(Args)]
pub struct TrustArgs {
    /// A file or folder of the workspace to trust (its root is recorded; default: the
    /// current folder).
    path: Option<PathBuf>,
    /// Print the trusted folders.
    #[arg(long, conflicts_with_all = ["path", "remove"])]
    list: bool,
    /// Stop trusting this folder.
    #[arg(long, value_name = "PATH", conflicts_with = "path")]
    remove: Option<PathBuf>,
}

pub fn run(args: TrustArgs) -> i32 {
    let Some(folder) = trust::user_config_dir() else {
        eprintln!("error: no user config folder: set XDG_CONFIG_HOME or HOME");
        return 2;
    };
    let file = folder.join("trusted.toml");
    let mut list = match TrustList::load(&file) {
        Ok(list) => list,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    if args.list {
        if list.folders.is_empty() {
            println!("no trusted workspaces ({})", file.display());
        }
        for folder in &list.folders {
            println!("{}", folder.display());
        }
        return 0;
    }
    if let Some(path) = args.remove {
        let root = if path.exists() {
            config::find_root(&path)
        } else {
            path.clone()
        };
        let removed = list
            .remove(&path)
            .and_then(|a| if a { Ok(a) } else { list.remove(&root) });
        return match removed {
            Ok(true) => {
                println!("no longer trusted: {}", root.display());
                0
            }
            Ok(false) => {
                eprintln!("error: {} is not in {}", path.display(), file.display());
                1
            }
            Err(e) => {
                eprintln!("error: {e}");
                2
            }
        };
    }
    let path = args.path.unwrap_or_else(|| PathBuf::from("."));
    if !path.exists() {
        eprintln!("error: {} does not exist", path.display());
        return 2;
    }
    let root = config::find_root(&path);
    match list.add(&root) {
        Ok(added) => {
            println!(
                "{} {} (in {}): its promptls.toml, .env and editor workspace settings may choose where your keys go",
                if added { "trusted" } else { "already trusted" },
                root.display(),
                file.display()
            );
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}
