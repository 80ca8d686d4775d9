//! The Tauri commands: each one checks the session's role where it changes something, calls the
//! store or the sync engine, and returns a typed result or an `AppError`. Long work (import,
//! export, recording) runs on a blocking thread, never on the UI thread.
//!
//! Must not: hold a business rule (the store and `smartstock_core` do) or build SQL.

use crate::error::{AppError, AppResult};
use crate::ipc::{
    AlertView, AppStatus, Catalog, CountPreview, CsvKind, ImportProgressEvent, NewLocation, NewProduct, Preferences,
    ProductDetail, RecordedView, SessionInfo, StockPage, SyncView,
};
use crate::notifier::describe;
use crate::state::App;
use smartstock_core::wire::CatalogNotice;
use smartstock_core::{
    AlertId, CatalogChange, Location, LocationId, MovementId, MovementIntent, Permission, Product, ProductId,
};
use smartstock_store::import::{ImportOptions, ImportReport};
use smartstock_store::outbox::RejectedMovement;
use smartstock_store::queries::{HistoryRow, InTransit, LedgerQuery, ReorderRow, StockQuery};
use std::path::PathBuf;
use std::sync::Arc;
use tauri::State;

type AppState<'a> = State<'a, Arc<App>>;

/// Runs store work off the async runtime's threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> AppResult<T> + Send + 'static) -> AppResult<T> {
    tauri::async_runtime::spawn_blocking(f).await.map_err(|e| AppError::new("app", e.to_string()))?
}

/// What the window shows at start.
#[tauri::command]
pub async fn app_status(handle: tauri::AppHandle, app: AppState<'_>) -> AppResult<AppStatus> {
    app.wait_resumed(std::time::Duration::from_secs(15)).await;
    let settings = app.settings();
    Ok(AppStatus {
        session: app.session(),
        suggested_server_url: settings.server_url.clone().or_else(|| app.fleet().server_url.clone()),
        suggested_username: settings.username.clone(),
        secret_store: app.secret_store(),
        device_id: app.store().device_id()?,
        // The version the app was built as (a release's own, from tauri.conf.json or `make
        // dist DIST_VERSION=`), which is also what the updater compares.
        version: handle.package_info().version.to_string(),
        sync: app.sync_view(),
    })
}

/// Signs in to a server.
#[tauri::command]
pub async fn sign_in(
    app: AppState<'_>,
    server_url: String,
    username: String,
    password: String,
) -> AppResult<SessionInfo> {
    app.inner().sign_in(&server_url, &username, &password).await
}

/// Changes the password (forced after a bootstrap or reset password).
#[tauri::command]
pub async fn change_password(app: AppState<'_>, current: String, new: String) -> AppResult<SessionInfo> {
    app.change_password(&current, &new).await
}

/// Works without a server.
#[tauri::command]
pub async fn work_offline(app: AppState<'_>) -> AppResult<SessionInfo> {
    app.work_offline()
}

/// Signs out (the refresh token is deleted from the secret store).
#[tauri::command]
pub async fn sign_out(app: AppState<'_>) -> AppResult<()> {
    app.sign_out().await
}

/// Syncs now.
#[tauri::command]
pub async fn sync_now(app: AppState<'_>) -> AppResult<SyncView> {
    app.kick();
    Ok(app.sync_view())
}

/// One page of the stock table and the number of matching rows (for a search, counted up to a
/// bound past the page: then `total_exact` is false).
#[tauri::command]
pub async fn stock_page(app: AppState<'_>, query: StockQuery) -> AppResult<StockPage> {
    let (rows, total) = app.store().stock_page(&query)?;
    app.prepare_search_once();
    Ok(StockPage { rows, total: total.rows, total_exact: total.exact })
}

/// Locations for pickers and filters.
#[tauri::command]
pub async fn catalog(app: AppState<'_>) -> AppResult<Catalog> {
    Ok(Catalog { locations: app.store().locations()? })
}

/// Finds a product by SKU or barcode (a scanner's input).
#[tauri::command]
pub async fn find_product(app: AppState<'_>, code: String) -> AppResult<smartstock_core::Product> {
    Ok(app.store().product_by_code(code.trim())?)
}

/// A product with its levels per location.
#[tauri::command]
pub async fn product_detail(app: AppState<'_>, product_id: ProductId) -> AppResult<ProductDetail> {
    let store = app.store();
    let product = store.product(product_id)?;
    let query = StockQuery { search: Some(product.sku.clone()), limit: 1000, ..Default::default() };
    let levels = store.stock(&query)?.into_iter().filter(|r| r.product_id == product_id).collect();
    Ok(ProductDetail { product, levels })
}

/// One page of the movement ledger (a product's history, or the audit screen).
#[tauri::command]
pub async fn ledger(app: AppState<'_>, query: LedgerQuery) -> AppResult<Vec<HistoryRow>> {
    Ok(app.store().ledger(&query)?)
}

/// Transfers dispatched and not yet received.
#[tauri::command]
pub async fn in_transit(app: AppState<'_>) -> AppResult<Vec<InTransit>> {
    Ok(app.store().in_transit()?)
}

/// Levels at or below their reorder point with suggested orders.
#[tauri::command]
pub async fn reorder_suggestions(app: AppState<'_>) -> AppResult<Vec<ReorderRow>> {
    Ok(app.store().below_reorder_point()?)
}

/// Records a movement; the level updates at once and the movement syncs in the background.
#[tauri::command]
pub async fn record_movement(app: AppState<'_>, intent: MovementIntent) -> AppResult<RecordedView> {
    let actor = app.require(Permission::to_record(&intent), "recording this movement")?;
    let store = app.store().clone();
    let recorded = blocking(move || Ok(store.record(actor, &intent)?)).await?;
    app.kick();
    Ok(RecordedView { movements: recorded.movements })
}

/// What a stocktake count would change, before confirming.
#[tauri::command]
pub async fn count_preview(
    app: AppState<'_>,
    product_id: ProductId,
    location_id: LocationId,
    counted: i64,
) -> AppResult<CountPreview> {
    let on_hand = app.store().level(product_id, location_id)?;
    Ok(CountPreview { on_hand, counted, variance: counted.saturating_sub(on_hand) })
}

/// Open alerts with product and location names.
#[tauri::command]
pub async fn alerts(app: AppState<'_>) -> AppResult<Vec<AlertView>> {
    let store = app.store();
    store.open_alerts()?.into_iter().map(|a| describe(store, a)).collect()
}

/// Resolves an alert: on the server (audited there) and then locally.
#[tauri::command]
pub async fn resolve_alert(app: AppState<'_>, alert_id: AlertId) -> AppResult<()> {
    let actor = app.require(Permission::ResolveAlerts, "resolving alerts")?;
    app.resolve_on_server(alert_id).await?;
    Ok(app.store().resolve_alert(actor, alert_id)?)
}

/// Movements the server refused that the user has not voided or corrected yet, with the reasons.
#[tauri::command]
pub async fn rejected_movements(app: AppState<'_>) -> AppResult<Vec<RejectedMovement>> {
    Ok(app.store().open_rejections()?)
}

/// Closes a refused movement for good: it stays out of every level (audited).
#[tauri::command]
pub async fn void_rejected(app: AppState<'_>, movement_id: MovementId) -> AppResult<()> {
    let actor = app.require(Permission::RecordMovements, "closing a refused movement")?;
    app.store().void_rejected(actor, movement_id)?;
    app.publish_status(None);
    Ok(())
}

/// Records what really happened instead of a refused movement, at the refused one's time.
#[tauri::command]
pub async fn correct_rejected(
    app: AppState<'_>,
    movement_id: MovementId,
    intent: MovementIntent,
) -> AppResult<RecordedView> {
    let actor = app.require(Permission::to_record(&intent), "recording this movement")?;
    let store = app.store().clone();
    let recorded = blocking(move || Ok(store.correct_rejected(actor, movement_id, &intent)?)).await?;
    app.kick();
    Ok(RecordedView { movements: recorded.movements })
}

/// The catalog audit, newest first.
#[tauri::command]
pub async fn catalog_audit(
    app: AppState<'_>,
    entity_id: Option<uuid::Uuid>,
    limit: u32,
    offset: u32,
) -> AppResult<Vec<CatalogChange>> {
    Ok(app.store().catalog_audit(entity_id, limit.clamp(1, 1000), offset)?)
}

/// Writes a CSV export to `path`; returns the number of rows.
#[tauri::command]
pub async fn export_csv(app: AppState<'_>, kind: CsvKind, path: PathBuf) -> AppResult<u64> {
    app.actor()?;
    let store = app.store().clone();
    blocking(move || {
        let file = std::fs::File::create(&path)
            .map_err(|e| AppError::new("io", format!("cannot write {}: {e}", path.display())))?;
        let out = std::io::BufWriter::new(file);
        let rows = match kind {
            CsvKind::Stock => store.export_stock_csv(out)?,
            CsvKind::Movements => store.export_movements_csv(out, None)?,
            other => {
                return Err(AppError::new(
                    "validation",
                    format!("{other:?} cannot be exported; choose stock or movements"),
                ))
            }
        };
        Ok(rows)
    })
    .await
}

/// Imports a CSV file (dry run first, then for real), sending `import-progress` events.
#[tauri::command]
pub async fn import_csv(
    app: AppState<'_>,
    window: tauri::Window,
    kind: CsvKind,
    path: PathBuf,
    dry_run: bool,
    skip_bad_rows: bool,
) -> AppResult<ImportReport> {
    use tauri::Emitter;
    let actor = match kind {
        CsvKind::OpeningStock => app.require(Permission::RecordMovements, "importing stock")?,
        _ => app.require(Permission::EditCatalog, "importing the catalog")?,
    };
    if !matches!(kind, CsvKind::OpeningStock) && !app.require_session()?.offline_only {
        return Err(AppError::new(
            "server_catalog",
            "the catalog is kept by the server: import products and locations there (smartstock-server import); they reach this desktop at the next sync",
        ));
    }
    let store = app.store().clone();
    let options = ImportOptions { dry_run, skip_bad_rows };
    let report = blocking(move || {
        let file = std::fs::File::open(&path)
            .map_err(|e| AppError::new("io", format!("cannot read {}: {e}", path.display())))?;
        let input = std::io::BufReader::new(file);
        let mut progress = |p: smartstock_store::import::ImportProgress| {
            if p.rows_done.is_multiple_of(500) {
                let _ = window.emit("import-progress", ImportProgressEvent { rows_done: p.rows_done });
            }
        };
        let report = match kind {
            CsvKind::Products => store.import_products(actor, input, &options, &mut progress)?,
            CsvKind::Locations => store.import_locations(actor, input, &options, &mut progress)?,
            CsvKind::OpeningStock => store.import_opening_stock(actor, input, &options, &mut progress)?,
            other => return Err(AppError::new("validation", format!("{other:?} cannot be imported"))),
        };
        Ok(report)
    })
    .await?;
    if !dry_run {
        app.kick();
    }
    Ok(report)
}

/// The user's preferences.
#[tauri::command]
pub async fn preferences(app: AppState<'_>) -> AppResult<Preferences> {
    let s = app.settings();
    Ok(Preferences { notify_low_stock: s.notify_low_stock, device_name: s.device_name })
}

/// Saves the user's preferences.
#[tauri::command]
pub async fn set_preferences(app: AppState<'_>, preferences: Preferences) -> AppResult<Preferences> {
    let name = preferences.device_name.trim().to_string();
    if name.is_empty() || name.len() > 64 {
        return Err(AppError::new("validation", "the device name must be 1 to 64 characters"));
    }
    let s = app.update_settings(|s| {
        s.notify_low_stock = preferences.notify_low_stock;
        s.device_name = name;
    })?;
    Ok(Preferences { notify_low_stock: s.notify_low_stock, device_name: s.device_name })
}

/// Adds a product (managers and admins); it syncs like a movement.
#[tauri::command]
pub async fn create_product(app: AppState<'_>, product: NewProduct) -> AppResult<Product> {
    let app = app.inner().clone();
    blocking(move || crate::catalog::create_product(&app, product)).await
}

/// Saves a product's fields (managers and admins).
#[tauri::command]
pub async fn update_product(app: AppState<'_>, product: Product) -> AppResult<Product> {
    let app = app.inner().clone();
    blocking(move || crate::catalog::update_product(&app, product)).await
}

/// Adds a location (managers and admins).
#[tauri::command]
pub async fn create_location(app: AppState<'_>, location: NewLocation) -> AppResult<Location> {
    let app = app.inner().clone();
    blocking(move || crate::catalog::create_location(&app, location)).await
}

/// Saves a location's fields (managers and admins).
#[tauri::command]
pub async fn update_location(app: AppState<'_>, location: Location) -> AppResult<Location> {
    let app = app.inner().clone();
    blocking(move || crate::catalog::update_location(&app, location)).await
}

/// Catalog notices for the inbox: edits of this desktop that lost, rows created twice and merged.
#[tauri::command]
pub async fn catalog_notices(app: AppState<'_>) -> AppResult<Vec<CatalogNotice>> {
    crate::catalog::notices(&app)
}

/// Dismisses a catalog notice.
#[tauri::command]
pub async fn dismiss_catalog_notice(app: AppState<'_>, notice_id: uuid::Uuid) -> AppResult<()> {
    crate::catalog::dismiss_notice(&app, notice_id)
}
