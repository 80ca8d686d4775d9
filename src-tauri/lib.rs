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

/// On a machine without a GPU (no DRM render node), WebKit composites every frame on Mesa's
/// software rasterizer (llvmpipe), on the same cores as everything else (`perf` under Xvfb on 2
/// cores: 83% of the CPU in the first seconds after start; see also the stock table's CSS, which
/// avoids a rounded clip that cost 131 ms a frame there). So there:
/// - `WEBKIT_SKIA_ENABLE_CPU_RENDERING=1`: Skia's own CPU rasterizer paints the page instead of
///   emulating a GPU through llvmpipe (WebKit's WPE port defaults to it on small devices).
///   `make bench-app`, two runs each way: keystroke to the next frame p50 282/283 -> 209/207 ms,
///   WebKit's processes 639/612 -> 549/552 MiB, start to rows 1851/1833 -> 1598/1771 ms.
/// - `GTK_OVERLAY_SCROLLING=0`: an overlay scrollbar fades out by animation, one composited frame
///   per step, which kept both cores busy for about 3.5 s each time it showed (after start-up, and
///   after every scroll). In the first 10 s after start the web process's llvmpipe threads took 7.2
///   CPU-seconds with it, 1.2 without (`perf record`, samples per thread). Classic scrollbars
///   never animate.
/// - `WEBKIT_DISABLE_COMPOSITING_MODE=1`: WebKit paints the page into one image and sends the
///   changed parts, instead of re-compositing every layer of the whole window in llvmpipe at each
///   frame. On the stock screen (1280×800, 2 cores) one frame took the web process 37 ms of CPU
///   composited however little changed, 3-6 ms this way (a diagnostic counting its CPU time over
///   200 frames). `make bench-app`, two runs each way: keystroke to rows p99 22/25 -> 16/19 ms
///   (p50 8 -> 10/11 ms), to the next frame p99 58/77 -> 35/41 ms, WebKit's processes 549/545 ->
///   449/451 MiB; the cores are now mostly idle while typing (`perf`: 78% idle), so the answers
///   to the UI's commands no longer wait behind compositing. It needs the UI's shadows unblurred
///   (`ui/src/app.css`): uncomposited, a blurred one around the table cost 90 ms a repaint.
/// - `GDK_GL=disable`, `WEBKIT_DISABLE_DMABUF_RENDERER=1`, `WEBKIT_WEB_RENDER_DEVICE_FILE=/dev/null`:
///   uncomposited, the app's own process draws nothing with GL, yet three probes loaded Mesa's
///   software driver into it, and with it libLLVM (43 MiB resident): GTK's X11 backend asks GLX
///   for visuals when it opens the display, and WebKit asks EGL for a DMA-BUF renderer and for
///   the GPU's render node when it starts its web process (backtraces in gdb, `catch load
///   swrast`). These say there is no GL, no DMA-BUF renderer and no render node (the path
///   matches no DRM device, which is what WebKit concludes itself without a GPU). Only while
///   uncomposited. The app's resident memory after load went from 187 to 133 MiB; the web
///   process renders as before.
///
/// A choice the user made (the variable set) is kept. Runs first thing, before any thread exists;
/// WebKit's processes inherit the variables.
#[cfg(target_os = "linux")]
fn render_in_software_cheaply_without_a_gpu() {
    let has_render_node = std::fs::read_dir("/dev/dri")
        .is_ok_and(|nodes| nodes.flatten().any(|node| node.file_name().to_string_lossy().starts_with("renderD")));
    for (name, value) in software_rendering_settings(has_render_node, |name| {
        std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
    }) {
        std::env::set_var(name, value);
    }
}

/// The variables `render_in_software_cheaply_without_a_gpu` sets: none with a GPU, and none the
/// user has set (`user_value` reads the environment). The three that stop the GL probes only
/// while the app stays uncomposited: a user who sets `WEBKIT_DISABLE_COMPOSITING_MODE=0`
/// composites, and then WebKit's renderer needs GL in this process.
#[cfg(target_os = "linux")]
fn software_rendering_settings(
    has_render_node: bool,
    user_value: impl Fn(&str) -> Option<String>,
) -> Vec<(&'static str, &'static str)> {
    const WITHOUT_A_GPU: [(&str, &str); 3] = [
        ("WEBKIT_SKIA_ENABLE_CPU_RENDERING", "1"),
        ("GTK_OVERLAY_SCROLLING", "0"),
        ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
    ];
    const NO_GL_PROBES: [(&str, &str); 3] = [
        ("GDK_GL", "disable"),
        ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
        ("WEBKIT_WEB_RENDER_DEVICE_FILE", "/dev/null"),
    ];
    if has_render_node {
        return Vec::new();
    }
    let composited = user_value("WEBKIT_DISABLE_COMPOSITING_MODE").as_deref() == Some("0");
    let probes = if composited { &[][..] } else { &NO_GL_PROBES[..] };
    WITHOUT_A_GPU.iter().chain(probes).copied().filter(|(name, _)| user_value(name).is_none()).collect()
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
    render_in_software_cheaply_without_a_gpu();
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::software_rendering_settings;

    #[test]
    fn without_a_gpu_webkit_paints_on_the_cpu_uncomposited_with_classic_scrollbars_unless_the_user_chose() {
        let none_set = |_: &str| None;
        assert_eq!(
            software_rendering_settings(false, none_set),
            [
                ("WEBKIT_SKIA_ENABLE_CPU_RENDERING", "1"),
                ("GTK_OVERLAY_SCROLLING", "0"),
                ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
                ("GDK_GL", "disable"),
                ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
                ("WEBKIT_WEB_RENDER_DEVICE_FILE", "/dev/null")
            ]
        );
        assert!(software_rendering_settings(true, none_set).is_empty(), "a GPU renders as WebKit likes");
        let chosen = |name: &str| match name {
            "GTK_OVERLAY_SCROLLING" | "GDK_GL" | "WEBKIT_DISABLE_COMPOSITING_MODE" => Some("1".to_string()),
            _ => None,
        };
        assert_eq!(
            software_rendering_settings(false, chosen),
            [
                ("WEBKIT_SKIA_ENABLE_CPU_RENDERING", "1"),
                ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
                ("WEBKIT_WEB_RENDER_DEVICE_FILE", "/dev/null")
            ]
        );
    }

    #[test]
    fn a_user_who_composites_keeps_webkits_gl_probes() {
        let composited = |name: &str| (name == "WEBKIT_DISABLE_COMPOSITING_MODE").then(|| "0".to_string());
        assert_eq!(
            software_rendering_settings(false, composited),
            [("WEBKIT_SKIA_ENABLE_CPU_RENDERING", "1"), ("GTK_OVERLAY_SCROLLING", "0")]
        );
    }
}
