//! Native OS notifications for alerts (DESIGN.md: a negative-stock alert shows a native
//! notification once per alert per device). Which alerts were already shown is kept in
//! `notified.json` in the data directory, written before the notification is sent, so a restart
//! never repeats one. Low-stock alerts notify only when the user enabled them. Clicking a
//! notification sends the `open-alert` event so the window shows that alert.
//!
//! Must not: decide what an alert is (the server raises them; the store keeps them).

use crate::error::{AppError, AppResult};
use crate::ipc::AlertView;
use crate::state::Emit;
use smartstock_core::quantity::format_scaled;
use smartstock_core::{Alert, AlertId, AlertKind};
use smartstock_store::Store;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// More new alerts than this at once (a first sync of an old ledger) become one summary.
const MAX_SEPARATE: usize = 5;

/// Raises each alert's notification once.
pub struct Notifier {
    path: PathBuf,
    shown: Mutex<BTreeSet<AlertId>>,
    emit: Emit,
}

impl Notifier {
    /// Loads the ids already shown on this device.
    pub fn open(data_dir: &Path, emit: Emit) -> AppResult<Notifier> {
        let path = data_dir.join("notified.json");
        let shown = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "notified.json is damaged; starting a new list");
                BTreeSet::new()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
            Err(e) => return Err(e.into()),
        };
        Ok(Notifier { path, shown: Mutex::new(shown), emit })
    }

    /// Notifies every open alert not shown yet: negative stock always, low stock if enabled.
    pub fn notify_new_alerts(&self, store: &Store, low_stock: bool) -> AppResult<()> {
        let fresh: Vec<Alert> = {
            let shown = self.shown.lock().unwrap_or_else(|p| p.into_inner());
            store
                .open_alerts()?
                .into_iter()
                .filter(|a| !shown.contains(&a.id))
                .filter(|a| a.kind == AlertKind::NegativeStock || (low_stock && a.kind == AlertKind::LowStock))
                .collect()
        };
        if fresh.is_empty() {
            return Ok(());
        }
        self.remember(fresh.iter().map(|a| a.id))?;
        let views: Vec<AlertView> = fresh.into_iter().filter_map(|a| describe(store, a).ok()).collect();
        if views.len() > MAX_SEPARATE {
            show_summary(&views);
        } else {
            for view in views {
                self.show(view);
            }
        }
        Ok(())
    }

    fn remember(&self, ids: impl Iterator<Item = AlertId>) -> AppResult<()> {
        let mut shown = self.shown.lock().unwrap_or_else(|p| p.into_inner());
        shown.extend(ids);
        let text = serde_json::to_string(&*shown).map_err(|e| AppError::new("io", e.to_string()))?;
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.path)?;
        Ok(())
    }

    fn show(&self, view: AlertView) {
        let (summary, body) = wording(&view);
        let emit = self.emit.clone();
        let id = view.alert.id;
        std::thread::spawn(move || send(&summary, &body, Some((id, emit))));
    }
}

/// The alert with the names a person reads.
pub fn describe(store: &Store, alert: Alert) -> AppResult<AlertView> {
    let product = store.product(alert.product_id)?;
    let location = store.location(alert.location_id)?;
    Ok(AlertView {
        sku: product.sku,
        product_name: product.name,
        location_code: location.code,
        unit_scale: product.unit_scale,
        alert,
    })
}

fn wording(view: &AlertView) -> (String, String) {
    let what = match view.alert.kind {
        AlertKind::NegativeStock => "Negative stock",
        AlertKind::LowStock => "Low stock",
        AlertKind::CountReview => "Count to review",
        AlertKind::RejectedMovement => "Movement rejected",
    };
    let quantity = format_scaled(view.alert.quantity, view.unit_scale);
    (
        format!("{what}: {} at {}", view.sku, view.location_code),
        format!("{} — on hand {quantity} at {}. Open SmartStock to resolve it.", view.product_name, view.location_code),
    )
}

fn show_summary(views: &[AlertView]) {
    let summary = format!("{} new stock alerts", views.len());
    let body = views.iter().take(3).map(|v| format!("{} at {}", v.sku, v.location_code)).collect::<Vec<_>>().join(", ");
    std::thread::spawn(move || send(&summary, &format!("{body}, … Open SmartStock's inbox."), None));
}

#[cfg(all(unix, not(target_os = "macos")))]
fn send(summary: &str, body: &str, open: Option<(AlertId, Emit)>) {
    let mut notification = notify_rust::Notification::new();
    notification.appname("SmartStock").summary(summary).body(body).icon("smartstock");
    if open.is_some() {
        notification.action("default", "Open alert");
    }
    match notification.show() {
        Ok(handle) => {
            if let Some((id, emit)) = open {
                handle.wait_for_action(|action| {
                    if action == "default" {
                        emit("open-alert", serde_json::json!(id));
                    }
                });
            }
        }
        Err(e) => tracing::warn!(error = %e, "the desktop did not accept the notification"),
    }
}

#[cfg(any(not(unix), target_os = "macos"))]
fn send(summary: &str, body: &str, _open: Option<(AlertId, Emit)>) {
    if let Err(e) = notify_rust::Notification::new().appname("SmartStock").summary(summary).body(body).show() {
        tracing::warn!(error = %e, "the desktop did not accept the notification");
    }
}
