//! The SmartStock desktop app (Tauri shell). Not built yet — issue #5 brings the shell and the
//! UI. Until then this binary says so and exits with an error rather than pretending to run.

fn main() {
    eprintln!("The SmartStock desktop app is not built yet (issue #5). The local ledger lives in crates/store.");
    std::process::exit(2);
}
