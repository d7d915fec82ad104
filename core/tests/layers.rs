//! The engine's layers, held by a test: a module of the core imports only modules of
//! lower layers (docs/architecture.md draws the same table), and the core crate depends,
//! directly or not, on no protocol or front-end crate. The crate boundary already keeps
//! the front-ends out of the core; this keeps the core's own modules in order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each module of the core and its layer, lowest first. A module may import modules of
/// lower layers only; `config::file` (the parsed `promptls.toml`) sits below `config`
/// (which builds model clients from it), `config::editor` (the editor's settings over a
/// config) above it, and `llm::clients` (a client per workspace) above `llm`.
const LAYERS: &[(&str, u32)] = &[
    ("syntax", 0),
    ("folder", 0),
    ("jobs", 0),
    ("trust", 1),
    ("confine", 0),
    ("secrets", 0),
    ("catalog", 0),
    ("sqlite", 0),
    ("config::file", 1),
    ("problem", 1),
    ("data", 1),
    ("render", 1),
    ("program", 2),
    ("settings", 2),
    ("workspace", 2),
    ("analysis", 3),
    ("check", 4),
    ("store", 4),
    ("llm", 4),
    ("llm::clients", 5),
    ("config", 5),
    ("config::editor", 6),
    ("ide", 5),
    ("eval", 6),
    ("optimize", 7),
    ("service", 8),
];

/// Crates a front-end uses and the core must never reach, even through another crate.
const FRONT_END_CRATES: &[&str] = &[
    "tower-lsp-server",
    "lsp-types",
    "ls-types",
    "clap",
    // The HTTP server (reqwest, the core's HTTP client, brings only tower-http's client
    // parts).
    "axum",
    "indicatif",
    "ropey",
    "tracing-subscriber",
    "annotate-snippets",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The `.rs` files under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A sub-module that has a layer of its own in `LAYERS` (`config::file`).
fn is_own_layer(name: &str) -> bool {
    name.contains("::") && LAYERS.iter().any(|(n, _)| *n == name)
}

/// The module a file belongs to, as `LAYERS` names it (`config/file.rs` is
/// `config::file`, `eval/run.rs` is `eval`).
fn module_of(file: &Path) -> String {
    let relative = file.strip_prefix(src()).unwrap();
    let parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.len() >= 2 {
        let sub = format!("{}::{}", parts[0], parts[1]);
        if is_own_layer(&sub) {
            return sub;
        }
    }
    parts[0].clone()
}

/// The code of a file without its unit tests (a trailing `#[cfg(test)] mod ...`), which
/// may use any module.
fn code_without_tests(text: &str) -> &str {
    let mut cut = text.len();
    let mut at = 0;
    while let Some(i) = text[at..].find("#[cfg(test)]") {
        let start = at + i;
        let rest = text[start + "#[cfg(test)]".len()..].trim_start();
        if rest.starts_with("mod ") || rest.starts_with("pub(crate) mod ") {
            cut = start;
            break;
        }
        at = start + 1;
    }
    &text[..cut]
}

/// The core modules `code` names through `crate::` paths (`crate::config::file` counts as
/// `config::file`, as does every sub-module with a layer of its own).
fn imports(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let sub = after[name.len()..].strip_prefix("::").unwrap_or("");
        let sub: String = sub
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &after[name.len()..];
        let qualified = format!("{name}::{sub}");
        if is_own_layer(&qualified) {
            out.insert(qualified);
        } else if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

#[test]
fn every_module_imports_only_lower_layers() {
    let layer: BTreeMap<&str, u32> = LAYERS.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let mut wrong = Vec::new();
    let mut seen = BTreeSet::new();
    for file in &files {
        if file
            .file_name()
            .is_some_and(|n| n == "lib.rs" || n == "tests.rs")
        {
            continue;
        }
        let module = module_of(file);
        seen.insert(module.clone());
        let Some(&mine) = layer.get(module.as_str()) else {
            wrong.push(format!(
                "{}: module `{module}` is not in LAYERS (give it a layer)",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for imported in imports(code_without_tests(&text)) {
            // Its own module, or `config` reading its own `config::file`.
            if imported == module || (module == "config" && imported == "config::file") {
                continue;
            }
            match layer.get(imported.as_str()) {
                Some(&theirs) if theirs < mine => {}
                Some(&theirs) => wrong.push(format!(
                    "{}: `{module}` (layer {mine}) imports `{imported}` (layer {theirs})",
                    file.display()
                )),
                None => wrong.push(format!(
                    "{}: imports `crate::{imported}`, which is not in LAYERS",
                    file.display()
                )),
            }
        }
    }
    assert!(wrong.is_empty(), "upward imports:\n{}", wrong.join("\n"));
    // The table names no module that is gone.
    for (name, _) in LAYERS {
        assert!(
            seen.contains(*name),
            "LAYERS names `{name}`, which has no file"
        );
    }
}

#[test]
fn the_scanner_sees_an_upward_import() {
    let code = "use crate::eval::run;\nfn f() { crate::config::file::parse_file(\"\"); }\nuse crate::llm::clients::Clients;\nuse crate::llm::client::Client;\n#[cfg(test)]\nmod tests { use crate::optimize; }\n";
    let found = imports(code_without_tests(code));
    let found: Vec<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(found, ["config::file", "eval", "llm", "llm::clients"]);
    let config_editor = src().join("config").join("editor.rs");
    assert_eq!(module_of(&config_editor), "config::editor");
    assert_eq!(module_of(&src().join("config").join("mod.rs")), "config");
}

/// The crates `package` builds with (normal dependencies, transitively; not the dev- or
/// build-dependencies), as `cargo tree` lists them.
fn normal_dependencies(package: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            package,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(' ').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_core_reaches_no_front_end_crate() {
    // The front-end crate does reach them: the listing works.
    assert!(normal_dependencies("promptls").contains("tower-lsp-server"));
    let core = normal_dependencies("promptls-core");
    assert!(
        core.contains("reqwest"),
        "the listing has the core's own dependencies"
    );
    let found: Vec<&&str> = FRONT_END_CRATES
        .iter()
        .filter(|c| core.contains(**c))
        .collect();
    assert!(
        found.is_empty(),
        "promptls-core depends on front-end crates: {found:?}"
    );
}
