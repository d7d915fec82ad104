//! The workspace trust model, through the real binary against listeners on 127.0.0.1
//! that record every request: a hostile workspace's files cannot send the user's own
//! keys (from the process environment) to a host they chose, nor name any environment
//! variable as a key; the refusal is exit 2 before any connection, naming the file, line
//! and setting. The same workspace trusted (`promptls trust`, `PROMPTLS_TRUST_WORKSPACE=1`)
//! works, and so do keyless local endpoints, the workspace's own `.env` key, and
//! endpoints the user chose (environment, user config).

#[path = "support/mock_llm.rs"]
mod mock_llm;

use std::path::{Path, PathBuf};
use std::process::Output;

use mock_llm::{Mock, Received, Reply};
use serde_json::json;

/// The user's own key, in the process environment.
const USER_KEY: &str = "sk-user-OWN-KEY-5a1c9e7d3b";
/// A secret of the user's that is no model key at all.
const OTHER_SECRET: &str = "aws-secret-9f8e7d6c5b4a";
/// The workspace's own key, in its `.env`.
const WORKSPACE_KEY: &str = "sk-workspace-KEY-0b1c2d";

fn answer(request: &Received) -> Reply {
    if request.path.ends_with("/models") {
        return Reply::ok(json!({"data": []}));
    }
    Reply::ok(json!({
        "choices": [{"message": {"role": "assistant", "content": "positive"}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 1}
    }))
}

struct Workspace {
    dir: tempfile::TempDir,
    /// The user's config folder (`XDG_CONFIG_HOME`), outside the workspace.
    home: tempfile::TempDir,
}

impl Workspace {
    /// A workspace with `promptls.toml` = `toml` and a prompt using `model`.
    fn new(toml: &str, model: &str) -> Workspace {
        let ws = Workspace {
            dir: tempfile::tempdir().unwrap(),
            home: tempfile::tempdir().unwrap(),
        };
        ws.write("promptls.toml", toml);
        ws.write(
            "data/reviews.csv",
            "text,label\nI love it,positive\nGreat,positive\n",
        );
        ws.write(
            "p.prompt",
            &format!("---\nmodel: {model}\npromptls.dataset: data/reviews.csv\npromptls.target: label\n---\nClassify: {{{{text}}}}\n"),
        );
        ws
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.root().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn config_home(&self) -> PathBuf {
        self.home.path().to_path_buf()
    }

    /// Runs promptls in the workspace with only `env` of the provider variables.
    async fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_promptls"));
        command
            .args(args)
            .current_dir(self.root())
            .env("XDG_CONFIG_HOME", self.config_home())
            .env_remove("PROMPTLS_LOG")
            .env_remove("PROMPTLS_TRUST_WORKSPACE");
        for var in [
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
            "GROQ_API_KEY",
            "ANTHROPIC_API_KEY",
            "GEMINI_API_KEY",
            "GOOGLE_API_KEY",
        ] {
            command.env_remove(var);
        }
        for (k, v) in env {
            command.env(k, v);
        }
        tokio::task::spawn_blocking(move || command.output().expect("promptls runs"))
            .await
            .unwrap()
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts the run was refused before any connection, naming `file:line` and `setting`,
/// and that no secret reached the listener or the output.
fn assert_refused(out: &Output, mock: &Mock, file_line: &str, setting: &str) {
    let all = text(out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains(file_line), "names {file_line}: {all}");
    assert!(all.contains(setting), "names {setting}: {all}");
    assert!(all.contains("promptls trust"), "says how to trust: {all}");
    assert!(all.contains("PROMPTLS_TRUST_WORKSPACE=1"), "{all}");
    assert!(
        !all.contains(USER_KEY) && !all.contains(OTHER_SECRET),
        "{all}"
    );
    assert!(
        mock.requests().is_empty(),
        "nothing may reach the workspace's endpoint: {:?}",
        mock.requests()
    );
}

fn authorization(mock: &Mock) -> Vec<Option<String>> {
    mock.requests()
        .iter()
        .filter(|r| r.path.ends_with("/chat/completions"))
        .map(|r| r.header("authorization").map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_workspace_endpoint_never_gets_the_users_key() {
    let mock = Mock::start_with(answer).await;
    let ws = Workspace::new(
        &format!(
            "# committed by someone else\n[providers.openai]\nbase_url = \"{}/v1\"\n",
            mock.base_url
        ),
        "openai/gpt-4o-mini",
    );
    let env = [("OPENAI_API_KEY", USER_KEY)];
    let toml = format!("{}:3", ws.root().join("promptls.toml").display());
    for args in [
        &["eval", "p.prompt", "--no-cache"][..],
        &["doctor"][..],
        &["optimize", "p.prompt", "--optimizer", "bootstrap"][..],
    ] {
        let out = ws.run(args, &env).await;
        assert_refused(&out, &mock, &toml, "providers.openai.base_url");
    }
    // Offline work goes on: check and render need no model.
    let out = ws.run(&["check", "p.prompt"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = ws.run(&["render", "p.prompt", "--row", "1"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(mock.requests().is_empty());

    // Trusted for one process, the same workspace works, with the user's key.
    let out = ws
        .run(
            &["eval", "p.prompt", "--no-cache"],
            &[
                ("OPENAI_API_KEY", USER_KEY),
                ("PROMPTLS_TRUST_WORKSPACE", "1"),
            ],
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        authorization(&mock),
        vec![Some(format!("Bearer {USER_KEY}")); 2]
    );
    // A `.env` cannot trust its own workspace.
    ws.write(".env", "PROMPTLS_TRUST_WORKSPACE=1\n");
    let before = mock.requests().len();
    let out = ws.run(&["eval", "p.prompt", "--no-cache"], &env).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(mock.requests().len(), before);
}

#[tokio::test]
async fn promptls_trust_records_the_root_outside_the_workspace() {
    let mock = Mock::start_with(answer).await;
    let ws = Workspace::new(
        &format!("[providers.openai]\nbase_url = \"{}/v1\"\n", mock.base_url),
        "openai/gpt-4o-mini",
    );
    let env = [("OPENAI_API_KEY", USER_KEY)];
    let out = ws.run(&["trust", "--list"], &[]).await;
    assert!(
        text(&out).contains("no trusted workspaces"),
        "{}",
        text(&out)
    );
    let out = ws.run(&["trust", "data"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let root = std::fs::canonicalize(ws.root()).unwrap();
    // The root is recorded (not the subfolder named), in the user config folder.
    let list = std::fs::read_to_string(ws.config_home().join("promptls/trusted.toml")).unwrap();
    assert!(list.contains(&root.display().to_string()), "{list}");
    assert!(!list.contains("/data"), "{list}");
    assert!(!ws.root().join(".promptls/trusted.toml").exists());
    let out = ws.run(&["trust", "--list"], &[]).await;
    assert_eq!(text(&out).trim(), root.display().to_string());
    let out = ws.run(&["doctor", "--offline"], &env).await;
    assert!(text(&out).contains("trusted (recorded"), "{}", text(&out));

    let out = ws.run(&["eval", "p.prompt", "--no-cache"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(authorization(&mock).len(), 2);

    let out = ws.run(&["trust", "--remove", "."], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let before = mock.requests().len();
    let out = ws.run(&["eval", "p.prompt", "--no-cache"], &env).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(mock.requests().len(), before);
    let out = ws.run(&["trust", "--remove", "."], &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[tokio::test]
async fn a_workspace_cannot_name_an_environment_variable_as_a_key() {
    let mock = Mock::start_with(answer).await;
    let ws = Workspace::new(
        &format!(
            "[providers.mine]\nbase_url = \"{}/v1\"\napi_key_env = \"AWS_SECRET_ACCESS_KEY\"\n",
            mock.base_url
        ),
        "mine/tiny",
    );
    let toml = format!("{}:3", ws.root().join("promptls.toml").display());
    let env = [("AWS_SECRET_ACCESS_KEY", OTHER_SECRET)];
    let out = ws.run(&["eval", "p.prompt"], &env).await;
    assert_refused(&out, &mock, &toml, "providers.mine.api_key_env");
    // A `.env` defining the variable does not help while the environment's value wins.
    ws.write(".env", "AWS_SECRET_ACCESS_KEY=decoy\n");
    let out = ws.run(&["eval", "p.prompt"], &env).await;
    assert_refused(&out, &mock, &toml, "providers.mine.api_key_env");
    // Even a built-in endpoint is refused a variable the workspace named.
    let ws = Workspace::new(
        "[providers.openai]\napi_key_env = \"AWS_SECRET_ACCESS_KEY\"\n",
        "openai/gpt-4o-mini",
    );
    let out = ws
        .run(
            &["eval", "p.prompt"],
            &[
                ("AWS_SECRET_ACCESS_KEY", OTHER_SECRET),
                ("OPENAI_BASE_URL", &format!("{}/v1", mock.base_url)),
            ],
        )
        .await;
    let toml = format!("{}:2", ws.root().join("promptls.toml").display());
    assert_refused(&out, &mock, &toml, "providers.openai.api_key_env");
}

#[tokio::test]
async fn a_dotenv_endpoint_is_the_workspaces_choice_too() {
    let mock = Mock::start_with(answer).await;
    let ws = Workspace::new("", "openai/gpt-4o-mini");
    ws.write(
        ".env",
        &format!("# local overrides\nOPENAI_BASE_URL={}/v1\n", mock.base_url),
    );
    let dotenv = format!("{}:2", ws.root().join(".env").display());
    let out = ws
        .run(&["eval", "p.prompt"], &[("OPENAI_API_KEY", USER_KEY)])
        .await;
    assert_refused(&out, &mock, &dotenv, "OPENAI_BASE_URL");
}

#[tokio::test]
async fn what_stays_allowed_in_an_untrusted_workspace() {
    let mock = Mock::start_with(answer).await;
    // A keyless local endpoint the workspace names (an Ollama), with the user's keys in
    // the environment: they are not sent.
    let ws = Workspace::new(
        &format!("[providers.local]\nbase_url = \"{}/v1\"\n", mock.base_url),
        "local/llama3",
    );
    let env = [("OPENAI_API_KEY", USER_KEY), ("LOCAL_API_KEY", "")];
    let out = ws.run(&["eval", "p.prompt"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(authorization(&mock), vec![None, None]);

    // The workspace's own key (its `.env`) goes where the workspace says.
    let mock = Mock::start_with(answer).await;
    let ws = Workspace::new(
        &format!(
            "[providers.mine]\nbase_url = \"{}/v1\"\napi_key_env = \"MINE_KEY\"\n",
            mock.base_url
        ),
        "mine/tiny",
    );
    ws.write(".env", &format!("MINE_KEY={WORKSPACE_KEY}\n"));
    let out = ws.run(&["eval", "p.prompt"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        authorization(&mock),
        vec![Some(format!("Bearer {WORKSPACE_KEY}")); 2]
    );

    // An endpoint the user chose, in the environment or the user config, takes the
    // user's key.
    let mock = Mock::start_with(answer).await;
    let ws = Workspace::new("", "openai/gpt-4o-mini");
    let url = format!("{}/v1", mock.base_url);
    let out = ws
        .run(
            &["eval", "p.prompt", "--no-cache"],
            &[("OPENAI_API_KEY", USER_KEY), ("OPENAI_BASE_URL", &url)],
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let user_config = ws.config_home().join("promptls/config.toml");
    std::fs::create_dir_all(user_config.parent().unwrap()).unwrap();
    std::fs::write(
        &user_config,
        format!("[providers.openai]\nbase_url = \"{url}\"\n"),
    )
    .unwrap();
    let out = ws
        .run(
            &["eval", "p.prompt", "--no-cache"],
            &[("OPENAI_API_KEY", USER_KEY)],
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        authorization(&mock),
        vec![Some(format!("Bearer {USER_KEY}")); 4]
    );
}

#[tokio::test]
async fn a_redirect_does_not_carry_the_key_elsewhere() {
    let elsewhere = Mock::start_with(answer).await;
    let location = format!("{}/v1/messages", elsewhere.base_url);
    let endpoint = Mock::start(vec![Reply::Json(
        307,
        vec![("Location".into(), location)],
        String::new(),
    )])
    .await;
    // The user's own endpoint (their config) and key: a redirect is not followed.
    let ws = Workspace::new("", "anthropic/claude-3-5-haiku-latest");
    let user_config = ws.config_home().join("promptls/config.toml");
    std::fs::create_dir_all(user_config.parent().unwrap()).unwrap();
    std::fs::write(
        &user_config,
        format!(
            "[providers.anthropic]\nbase_url = \"{}/v1\"\n",
            endpoint.base_url
        ),
    )
    .unwrap();
    let out = ws
        .run(&["eval", "p.prompt"], &[("ANTHROPIC_API_KEY", USER_KEY)])
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("307"), "{}", text(&out));
    assert!(!endpoint.requests().is_empty());
    assert!(
        elsewhere.requests().is_empty(),
        "{:?}",
        elsewhere.requests()
    );
}

#[cfg(unix)]
#[tokio::test]
async fn check_does_not_follow_a_link_out_of_the_folder() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("id_rsa");
    std::fs::write(&secret, "---\nmodel: {{ PRIVATE-KEY-MARKER-83f1\n---\n").unwrap();
    let ws = Workspace::new("", "openai/gpt-4o-mini");
    std::os::unix::fs::symlink(&secret, ws.root().join("evil.prompt")).unwrap();
    std::os::unix::fs::symlink(ws.root().join("p.prompt"), ws.root().join("alias.prompt")).unwrap();
    for format in ["human", "json", "sarif"] {
        let out = ws.run(&["check", ".", "--format", format], &[]).await;
        let all = text(&out);
        assert!(!all.contains("PRIVATE-KEY-MARKER"), "{all}");
        assert!(
            all.contains("skipped") && all.contains("evil.prompt"),
            "{all}"
        );
        assert_eq!(out.status.code(), Some(0), "{all}");
    }
    // A link inside the folder is checked; a link named on the command line is the
    // user's choice and is read.
    let out = ws.run(&["check", ".", "--format", "json"], &[]).await;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["files"], 2, "p.prompt and alias.prompt: {report}");
    let out = ws.run(&["check", "evil.prompt"], &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}
