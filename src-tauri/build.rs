//! Tauri's build step: reads tauri.conf.json (beside Cargo.toml) and the capabilities it names.
fn main() {
    tauri_build::build()
}
