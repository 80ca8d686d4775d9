//! `serve --config FILE` / `SMARTSTOCK_CONFIG` through the real binary: the file's settings apply
//! (relative paths from the file's folder), a flag overrides the file, and an unknown key stops
//! the server with a message naming the key and the file.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn server() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_smartstock-server"));
    for var in ["DATABASE_URL", "SMARTSTOCK_CONFIG", "SMARTSTOCK_LISTEN", "SMARTSTOCK_CORS_ORIGINS"] {
        command.env_remove(var);
    }
    command
}

/// Starts `serve` and returns it with its base URL (from the line it prints).
fn start(mut command: Command) -> (Child, String) {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let listening = lines.next().unwrap().unwrap();
    let base = listening.split("listening on ").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{listening}");
    (child, base)
}

fn stop(mut child: Child) {
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    assert!(child.wait().unwrap().success());
}

async fn allowed_origin(base: &str, origin: &str) -> Option<String> {
    let response = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{base}/api/v1/sync/push"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    response.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_string())
}

fn write_config(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("server.toml");
    std::fs::write(&path, text).unwrap();
    path
}

const CONFIG: &str = r#"
listen = "127.0.0.1:0"
insecure_http = true
database = "data/server.db"
cors_origins = ["https://stock.example.com"]
"#;

#[tokio::test]
async fn the_config_file_applies_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let config = write_config(dir.path(), CONFIG);
    let elsewhere = tempfile::tempdir().unwrap();

    let mut command = server();
    command.current_dir(elsewhere.path()).args(["serve", "--config", config.to_str().unwrap()]);
    let (child, base) = start(command);
    assert_eq!(reqwest::get(format!("{base}/healthz")).await.unwrap().text().await.unwrap(), "ok");
    assert_eq!(allowed_origin(&base, "https://stock.example.com").await.as_deref(), Some("https://stock.example.com"));
    assert_eq!(allowed_origin(&base, "https://other.example.com").await, None);
    stop(child);
    assert!(dir.path().join("data/server.db").exists(), "the database path is taken from the file's folder");
    assert!(!elsewhere.path().join("data").exists());

    // SMARTSTOCK_CONFIG names the file; a flag replaces the file's origin list.
    let mut command = server();
    command.current_dir(elsewhere.path()).env("SMARTSTOCK_CONFIG", &config).args([
        "serve",
        "--cors-origin",
        "https://other.example.com",
    ]);
    let (child, base) = start(command);
    assert_eq!(allowed_origin(&base, "https://other.example.com").await.as_deref(), Some("https://other.example.com"));
    assert_eq!(allowed_origin(&base, "https://stock.example.com").await, None);
    stop(child);

    // SMARTSTOCK_CORS_ORIGINS takes a comma-separated list.
    let mut command = server();
    command
        .current_dir(elsewhere.path())
        .env("SMARTSTOCK_CORS_ORIGINS", "https://a.example.com,https://b.example.com")
        .args(["serve", "--config", config.to_str().unwrap()]);
    let (child, base) = start(command);
    assert!(allowed_origin(&base, "https://b.example.com").await.is_some());
    assert_eq!(allowed_origin(&base, "https://stock.example.com").await, None);
    stop(child);
}

#[test]
fn an_unknown_key_stops_the_server_naming_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "listen = \"127.0.0.1:0\"\ninsecure_http = true\ncors_origin = []\n");
    let out = server().current_dir(dir.path()).args(["serve", "--config", config.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("unknown key `cors_origin`"), "{stderr}");
    assert!(stderr.contains(config.to_str().unwrap()), "{stderr}");
    assert!(!dir.path().join("smartstock.db").exists(), "nothing is opened before the configuration is good");

    let wildcard = write_config(dir.path(), "insecure_http = true\ncors_origins = [\"*\"]\n");
    let out =
        server().current_dir(dir.path()).args(["serve", "--config", wildcard.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("CORS origin \"*\""), "{stderr}");
}
