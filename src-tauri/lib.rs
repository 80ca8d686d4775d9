//! The SmartStock desktop app: a thin Tauri 2 shell over the local ledger (`smartstock-store`)
//! and the sync engine (`smartstock-sync`). The UI (Svelte, `ui/`) calls the commands in
//! `commands` and listens to the events `sync-status`, `import-progress` and `open-alert`.
//!
//! Owns: start-up (data directory, logging, session resume), the commands, the OS integrations
//! (secret store in `secrets`, notifications in `notifier`).
//!
//! Must not: hold a business rule (the core, store and sync crates do), write SQL, or keep a
//! secret outside the OS secret store.

pub mod catalog;
pub mod commands;
pub mod error;
pub mod ipc;
pub mod notifier;
pub mod secrets;
pub mod settings;
pub mod state;
pub mod updater;

use state::{App, Emit};
use std::path::PathBuf;
use std::sync::Arc;
use tauri::{Emitter, Manager};

/// Where the ledger and settings live: `--data-dir DIR` (a second instance on one machine),
/// else `SMARTSTOCK_DATA_DIR`, else the OS data directory (`~/.local/share/app.smartstock.desktop`
/// on Linux).
fn data_dir(app: &tauri::App) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--data-dir" {
            return args.next().map(PathBuf::from).ok_or_else(|| "--data-dir needs a folder".into());
        }
    }
    if let Some(dir) = std::env::var_os("SMARTSTOCK_DATA_DIR") {
        return Ok(PathBuf::from(dir));
    }
    Ok(app.path().app_data_dir()?)
}

/// On a machine without a GPU (no DRM render node), WebKit's Skia "GPU" painting runs on Mesa's
/// software rasterizer (llvmpipe), which emulates a GPU on the same cores; Skia's own CPU
/// rasterizer does that work faster (WebKit's WPE port defaults to it on small devices).
/// Measured with `make bench-app` under Xvfb on 2 cores, two runs each way: keystroke to the next
/// frame p50 282/283 -> 209/207 ms, WebKit's processes 639/612 -> 549/552 MiB, start to rows
/// 1851/1833 -> 1598/1771 ms; rows in the DOM p50 the same, p99 47/49 -> 62/52 ms. A choice
/// the user made (`WEBKIT_SKIA_ENABLE_CPU_RENDERING` set) is kept. Runs first thing, before any
/// thread exists; WebKit's processes inherit the variable.
#[cfg(target_os = "linux")]
fn paint_on_the_cpu_without_a_gpu() {
    const CPU_RENDERING: &str = "WEBKIT_SKIA_ENABLE_CPU_RENDERING";
    let has_render_node = std::fs::read_dir("/dev/dri")
        .is_ok_and(|nodes| nodes.flatten().any(|node| node.file_name().to_string_lossy().starts_with("renderD")));
    if !has_render_node && std::env::var_os(CPU_RENDERING).is_none() {
        std::env::set_var(CPU_RENDERING, "1");
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SMARTSTOCK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

fn setup(app: &mut tauri::App) -> Result<(), Box<dyn std::error::Error>> {
    // Release builds from `make dist` carry the update key; development builds have no updater
    // (the plugin refuses to start without a key) and say so when asked to update.
    if updater::configured(app.handle()) {
        app.handle().plugin(tauri_plugin_updater::Builder::new().build())?;
    }
    let dir = data_dir(app)?;
    let handle = app.handle().clone();
    let emit: Emit = Arc::new(move |event, payload| {
        if event == "open-alert" {
            if let Some(window) = handle.get_webview_window("main") {
                let _ = window.unminimize();
                let _ = window.set_focus();
            }
        }
        if let Err(e) = handle.emit(event, payload) {
            tracing::warn!(error = %e, event, "could not send an event to the window");
        }
    });
    let state =
        App::open(&dir, emit).map_err(|e| format!("cannot open SmartStock's data in {}: {e}", dir.display()))?;
    tracing::info!(data_dir = %dir.display(), "SmartStock started");
    app.manage(state.clone());
    tauri::async_runtime::spawn(async move {
        if let Err(e) = state.resume().await {
            tracing::warn!(error = %e.message, "could not resume the last session");
        }
        state.publish_status(None);
    });
    Ok(())
}

/// Runs the app until its window closes.
pub fn run() {
    #[cfg(target_os = "linux")]
    paint_on_the_cpu_without_a_gpu();
    init_logging();
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .setup(setup)
        .invoke_handler(tauri::generate_handler![
            commands::app_status,
            commands::sign_in,
            commands::change_password,
            commands::work_offline,
            commands::sign_out,
            commands::sync_now,
            commands::stock_page,
            commands::catalog,
            commands::find_product,
            commands::product_detail,
            commands::ledger,
            commands::in_transit,
            commands::reorder_suggestions,
            commands::record_movement,
            commands::count_preview,
            commands::alerts,
            commands::resolve_alert,
            commands::rejected_movements,
            commands::void_rejected,
            commands::correct_rejected,
            commands::catalog_audit,
            commands::export_csv,
            commands::import_csv,
            commands::preferences,
            commands::set_preferences,
            commands::create_product,
            commands::update_product,
            commands::create_location,
            commands::update_location,
            commands::catalog_notices,
            commands::dismiss_catalog_notice,
            updater::check_for_update,
            updater::install_update,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("SmartStock could not start: {e}");
        std::process::exit(1);
    }
}
