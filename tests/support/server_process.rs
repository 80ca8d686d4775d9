//! The real `smartstock-server` binary as a child process, for tests and benchmarks that must kill
//! it (`kill -9`) and start it again on the same database file and port.
//!
//! The binary is found beside the running test or bench executable (`target/<profile>/`); it is
//! built first with `cargo build -p smartstock-server` in that profile unless
//! `SMARTSTOCK_SERVER_BIN` names one. The database is prepared in-process (users, catalog) with
//! `smartstock_server::storage::sqlite::SqliteStorage` before the process opens it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Whether to serve HTTPS (self-signed) or plain HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Https,
    Http,
}

/// A running `smartstock-server`.
pub struct ServerProcess {
    child: Option<Child>,
    database: PathBuf,
    transport: Transport,
    /// Where it listens (kept across restarts).
    pub address: SocketAddr,
}

/// The path of the server binary, built once per test process.
pub fn server_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(build_server).clone()
}

fn build_server() -> PathBuf {
    if let Ok(path) = std::env::var("SMARTSTOCK_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the running executable");
    // target/<profile>/deps/<test> → target/<profile>
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps").to_path_buf();
    let target_dir = profile_dir.parent().expect("target").to_path_buf();
    let release = profile_dir.file_name().is_some_and(|name| name == "release");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "--locked", "-p", "smartstock-server", "--bin", "smartstock-server", "--manifest-path"]);
    build.arg(&manifest).env("CARGO_TARGET_DIR", &target_dir);
    if release {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "building smartstock-server failed");
    profile_dir.join(format!("smartstock-server{}", std::env::consts::EXE_SUFFIX))
}

impl ServerProcess {
    /// Starts the server on `database` (prepared beforehand) on a free loopback port.
    pub fn start(database: &Path, transport: Transport) -> ServerProcess {
        let mut server = ServerProcess {
            child: None,
            database: database.to_path_buf(),
            transport,
            address: "127.0.0.1:0".parse().unwrap(),
        };
        server.spawn();
        server
    }

    /// The base URL clients use.
    pub fn base(&self) -> String {
        match self.transport {
            Transport::Https => format!("https://{}", self.address),
            Transport::Http => format!("http://{}", self.address),
        }
    }

    /// Runs an administration command of the binary on this database (e.g. `backup FILE`,
    /// `restore FILE`) and returns what it printed; panics if it fails.
    pub fn admin(&self, args: &[&str]) -> String {
        let output = Command::new(server_binary()).arg("--database").arg(&self.database).args(args).output().unwrap();
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `kill -9`: the process ends at once, mid-transaction or not.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same file and port (after `kill`).
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // The port may linger for a moment after the kill.
            match self.try_spawn() {
                Ok(()) => return,
                Err(why) if Instant::now() < deadline => {
                    eprintln!("server restart: {why}; retrying");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(why) => panic!("the server did not restart: {why}"),
            }
        }
    }

    fn spawn(&mut self) {
        self.try_spawn().unwrap_or_else(|why| panic!("the server did not start: {why}"));
    }

    fn try_spawn(&mut self) -> Result<(), String> {
        let mut command = Command::new(server_binary());
        command
            .arg("--database")
            .arg(&self.database)
            .args(["serve", "--listen", &self.address.to_string()])
            .args(["--api-per-minute", "100000000", "--login-per-minute", "100000", "--body-limit", "16777216"])
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if self.transport == Transport::Http {
            command.arg("--insecure-http");
        }
        let mut child = command.spawn().map_err(|e| e.to_string())?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let address = loop {
            let Some(Ok(line)) = lines.next() else {
                let status = child.wait().map_err(|e| e.to_string())?;
                return Err(format!("exited with {status} before listening"));
            };
            if let Some(rest) = line.split("listening on ").nth(1) {
                let url = rest.split_whitespace().next().unwrap_or_default();
                let address = url.rsplit("//").next().unwrap_or_default();
                break address.parse::<SocketAddr>().map_err(|e| format!("{line:?}: {e}"))?;
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        self.address = address;
        self.child = Some(child);
        Ok(())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
