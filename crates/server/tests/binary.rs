//! The real `smartstock-server` binary: `init` prints a one-time admin password, `serve` speaks
//! HTTPS with a self-signed certificate on a free port, the bootstrap admin is held to the
//! password change, and SIGTERM shuts the server down cleanly.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn init_then_serve_over_tls_and_stop_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let bin = env!("CARGO_BIN_EXE_smartstock-server");
    let init = Command::new(bin).args(["--database", db.to_str().unwrap(), "init"]).output().unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let stdout = String::from_utf8(init.stdout).unwrap();
    let password = stdout.split("one-time password: ").nth(1).unwrap().lines().next().unwrap().trim().to_string();
    let again = Command::new(bin).args(["--database", db.to_str().unwrap(), "init"]).output().unwrap();
    assert!(!again.status.success(), "a second init is refused");

    let mut child = Command::new(bin)
        .args(["--database", db.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let fingerprint = lines.next().unwrap().unwrap();
    assert!(fingerprint.starts_with("TLS certificate SHA-256 fingerprint: "), "{fingerprint}");
    let listening = lines.next().unwrap().unwrap();
    let base = listening.split("listening on ").nth(1).unwrap().trim().to_string();
    assert!(base.starts_with("https://127.0.0.1:"), "{listening}");

    let http = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    assert_eq!(http.get(format!("{base}/healthz")).send().await.unwrap().text().await.unwrap(), "ok");
    let plain = reqwest::get(format!("{}/healthz", base.replace("https://", "http://"))).await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success(), "no plain HTTP on the TLS port");
    let login: serde_json::Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({ "username": "admin", "password": password }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(login["user"]["must_change_password"], true);
    let token = login["access_token"].as_str().unwrap();
    let stock = http.get(format!("{base}/api/v1/stock")).bearer_auth(token).send().await.unwrap();
    assert_eq!(stock.status(), reqwest::StatusCode::FORBIDDEN);

    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
}
