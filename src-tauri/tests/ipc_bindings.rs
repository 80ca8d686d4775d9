//! The UI's IPC types are generated from the Rust types (ts-rs) into `ui/src/lib/bindings/`.
//! This test regenerates them and fails when the committed files differ (drift): run
//! `make bindings` (this test with `UPDATE_BINDINGS=1`) and commit the result.
//!
//! 64-bit integers cross the IPC as JSON numbers (quantities are bounded by 10^12, times are
//! milliseconds, both far below 2^53), so the generated `bigint` is written as `number`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use smartstock_app::error::AppError;
use smartstock_app::ipc::{
    AlertView, AppStatus, Catalog, CountPreview, CsvKind, ImportProgressEvent, NewLocation, NewProduct, Preferences,
    ProductDetail, RecordedView, SessionInfo, StockPage, SyncView,
};
use smartstock_app::updater::{UpdateInfo, UpdateProgress};
use smartstock_core::wire::CatalogNotice;
use smartstock_core::{CatalogChange, Location, MovementIntent, Product};
use smartstock_store::import::ImportReport;
use smartstock_store::outbox::RejectedMovement;
use smartstock_store::queries::{HistoryRow, InTransit, LedgerQuery, ReorderRow, StockQuery};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use ts_rs::TS;

fn export_all(dir: &Path) {
    macro_rules! export {
        ($($t:ty),* $(,)?) => { $( <$t as TS>::export_all_to(dir).unwrap(); )* };
    }
    export!(
        AppError,
        AppStatus,
        SessionInfo,
        SyncView,
        StockPage,
        StockQuery,
        ProductDetail,
        CountPreview,
        AlertView,
        Catalog,
        CsvKind,
        ImportProgressEvent,
        ImportReport,
        RecordedView,
        Preferences,
        MovementIntent,
        LedgerQuery,
        HistoryRow,
        InTransit,
        ReorderRow,
        RejectedMovement,
        CatalogChange,
        Product,
        Location,
        UpdateInfo,
        UpdateProgress,
        NewProduct,
        NewLocation,
        CatalogNotice,
    );
}

fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ts") {
            let text = std::fs::read_to_string(&path).unwrap().replace("bigint", "number");
            files.insert(path.file_name().unwrap().to_string_lossy().into_owned(), text);
        }
    }
    files
}

fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/lib/bindings")
}

#[test]
fn ui_bindings_match_the_rust_types() {
    let fresh = tempfile::tempdir().unwrap();
    export_all(fresh.path());
    let generated = read_tree(fresh.path());
    assert!(generated.contains_key("MovementIntent.ts") && generated.contains_key("AppStatus.ts"));
    let target = committed_dir();
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        let _ = std::fs::remove_dir_all(&target);
        std::fs::create_dir_all(&target).unwrap();
        for (name, text) in &generated {
            std::fs::write(target.join(name), text).unwrap();
        }
        return;
    }
    let committed = if target.exists() { read_tree(&target) } else { BTreeMap::new() };
    let stale: Vec<&String> = generated
        .iter()
        .filter(|(name, text)| committed.get(*name) != Some(*text))
        .map(|(name, _)| name)
        .chain(committed.keys().filter(|name| !generated.contains_key(*name)))
        .collect();
    assert!(
        stale.is_empty(),
        "ui/src/lib/bindings is out of date with the Rust types ({stale:?}); run `make bindings` and commit"
    );
}
