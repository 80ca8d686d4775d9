//! Alerts kept on this device: those the server raised (negative stock after a merge, low
//! stock, count review) and those the device raises itself (a movement the server rejected).
//! Resolving one is audited.
//!
//! Must not: show notifications (the desktop shell does, once per alert, from `open_alerts`).

use crate::catalog::AuditStamp;
use crate::error::{Result, StoreError};
use crate::{Actor, Store};
use rusqlite::{params, Connection, Row, TransactionBehavior};
use smartstock_core::{Alert, AlertId, LocationId, MovementId, ProductId, Timestamp, UserId};

/// Columns of `alerts` in the order `alert_from_row` reads them (the server uses the same).
pub const ALERT_COLUMNS: &str =
    "id, kind, product_id, location_id, quantity, movement_id, message, raised_at, resolved_by, resolved_at";

/// Maps a row selected with `ALERT_COLUMNS`.
pub fn alert_from_row(row: &Row<'_>) -> rusqlite::Result<Alert> {
    let kind: String = row.get(1)?;
    Ok(Alert {
        id: AlertId(row.get(0)?),
        kind: kind
            .parse()
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e)))?,
        product_id: ProductId(row.get(2)?),
        location_id: LocationId(row.get(3)?),
        quantity: row.get(4)?,
        movement_id: row.get::<_, Option<uuid::Uuid>>(5)?.map(MovementId),
        message: row.get(6)?,
        raised_at: Timestamp(row.get(7)?),
        resolved_by: row.get::<_, Option<uuid::Uuid>>(8)?.map(UserId),
        resolved_at: row.get::<_, Option<i64>>(9)?.map(Timestamp),
    })
}

/// Stores an alert, or updates its resolution if it is already known (alerts arrive again on
/// every pull that mentions them).
pub(crate) fn upsert_alert(conn: &Connection, alert: &Alert) -> Result<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO alerts ({ALERT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
         ON CONFLICT (id) DO UPDATE SET resolved_by = excluded.resolved_by, resolved_at = excluded.resolved_at"
    ))?
    .execute(params![
        alert.id.0,
        alert.kind.as_str(),
        alert.product_id.0,
        alert.location_id.0,
        alert.quantity,
        alert.movement_id.map(|m| m.0),
        alert.message,
        alert.raised_at.millis(),
        alert.resolved_by.map(|u| u.0),
        alert.resolved_at.map(|t| t.millis()),
    ])?;
    Ok(())
}

impl Store {
    /// Alerts not yet resolved, newest first.
    pub fn open_alerts(&self) -> Result<Vec<Alert>> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE resolved_at IS NULL ORDER BY raised_at DESC, id"
        ))?;
        let rows = stmt.query_map([], alert_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Stores alerts received from the server.
    pub fn save_alerts(&self, alerts: &[Alert]) -> Result<()> {
        let mut conn = self.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for alert in alerts {
            upsert_alert(&tx, alert)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Marks an alert resolved by `actor` (audited).
    pub fn resolve_alert(&self, actor: Actor, id: AlertId) -> Result<()> {
        let now = self.clock().now();
        let mut conn = self.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            "UPDATE alerts SET resolved_by = ?2, resolved_at = ?3 WHERE id = ?1 AND resolved_at IS NULL",
            params![id.0, actor.user_id.0, now.millis()],
        )?;
        if changed == 0 {
            return Err(StoreError::not_found("open alert", id));
        }
        AuditStamp::begin(&tx, actor, now)?.record(
            &tx,
            "alert",
            id.0,
            Some(&[("resolved", Some("false".into()))]),
            &[("resolved", Some("true".into()))],
        )?;
        tx.commit()?;
        Ok(())
    }
}
