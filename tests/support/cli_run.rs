//! Running the `promptls` binary from async tests, and reading what it printed.

#![allow(dead_code)] // each test binary uses a different part of it

use std::path::Path;
use std::process::Output;

use serde_json::Value;

/// Runs promptls in `dir` (without `PROMPTLS_LOG` from the environment).
pub async fn promptls(dir: &Path, args: &[&str]) -> Output {
    promptls_with_env(dir, args, &[]).await
}

/// As `promptls`, with `env` set in its environment.
pub async fn promptls_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_promptls"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("PROMPTLS_LOG");
    for (k, v) in env {
        command.env(k, v);
    }
    tokio::task::spawn_blocking(move || command.output().expect("promptls runs"))
        .await
        .unwrap()
}

/// stdout as JSON; a clear panic with both streams otherwise.
pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// stdout then stderr, as text.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
