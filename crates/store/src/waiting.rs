//! Pulled rows that name a product or location this device does not hold yet.
//!
//! The server's feed can hold a catalog row after the movements and alerts that name it (an edit
//! moves the row to a later feed position), so a device catching up from far behind can meet a
//! movement before its product. Such a row is parked in `pulled_waiting`, outside the ledger (no
//! level or checksum counts it), and joins the ledger by the usual path (`insert_remote`,
//! `upsert_alert`) at the end of the pull transaction that brings what it names.
//!
//! Must not: drop a parked row, or let a row join the ledger before its product and locations.

use crate::alerts::upsert_alert;
use crate::error::{Result, StoreError};
use crate::ledger::{insert_remote, WriteCache};
use rusqlite::{params, Connection};
use smartstock_core::{Alert, LocationId, Movement, ProductId};

/// What a parked row is.
const MOVEMENT: &str = "movement";
const ALERT: &str = "alert";

/// Whether the product and every location named are held.
pub(crate) fn catalog_known(tx: &Connection, product: ProductId, locations: &[LocationId]) -> Result<bool> {
    if !product_known(tx, product)? {
        return Ok(false);
    }
    for location in locations {
        if !location_known(tx, *location)? {
            return Ok(false);
        }
    }
    Ok(true)
}

pub(crate) fn product_known(tx: &Connection, product: ProductId) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM products WHERE id = ?1)")?
        .query_row([product.0], |r| r.get(0))?)
}

pub(crate) fn location_known(tx: &Connection, location: LocationId) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM locations WHERE id = ?1)")?
        .query_row([location.0], |r| r.get(0))?)
}

/// The locations a movement names.
pub(crate) fn movement_locations(m: &Movement) -> Vec<LocationId> {
    [Some(m.location_id), m.peer_location_id].into_iter().flatten().collect()
}

/// Parks a movement (once: a page fetched again parks nothing new).
pub(crate) fn park_movement(tx: &Connection, m: &Movement) -> Result<()> {
    park(tx, m.id.0, MOVEMENT, serde_json::to_string(m))
}

/// Parks an alert; a newer state of an alert already parked replaces it.
pub(crate) fn park_alert(tx: &Connection, a: &Alert) -> Result<()> {
    park(tx, a.id.0, ALERT, serde_json::to_string(a))
}

fn park(tx: &Connection, id: uuid::Uuid, kind: &str, body: serde_json::Result<String>) -> Result<()> {
    let body = body.map_err(|e| StoreError::Conflict(format!("a pulled {kind} could not be kept: {e}")))?;
    tx.prepare_cached(
        "INSERT INTO pulled_waiting (id, kind, body) VALUES (?1, ?2, ?3) \
         ON CONFLICT (id) DO UPDATE SET body = excluded.body WHERE excluded.kind = 'alert'",
    )?
    .execute(params![id, kind, body])?;
    Ok(())
}

/// Moves into the ledger every parked row whose product and locations are held now; returns
/// how many movements joined. Call at the end of a pull transaction, before `cache` is flushed.
pub(crate) fn release(tx: &Connection, cache: &mut WriteCache) -> Result<u64> {
    let parked: Vec<(uuid::Uuid, String, String)> = {
        let mut stmt = tx.prepare_cached("SELECT id, kind, body FROM pulled_waiting")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut joined = 0;
    for (id, kind, body) in parked {
        let unreadable =
            |e: serde_json::Error| StoreError::Conflict(format!("a parked pulled {kind} is unreadable: {e}"));
        let released = if kind == MOVEMENT {
            let m: Movement = serde_json::from_str(&body).map_err(unreadable)?;
            let known = catalog_known(tx, m.product_id, &movement_locations(&m))?;
            if known {
                joined += u64::from(insert_remote(tx, cache, &m)?);
            }
            known
        } else {
            let a: Alert = serde_json::from_str(&body).map_err(unreadable)?;
            let known = catalog_known(tx, a.product_id, &[a.location_id])?;
            if known {
                upsert_alert(tx, &a)?;
            }
            known
        };
        if released {
            tx.prepare_cached("DELETE FROM pulled_waiting WHERE id = ?1")?.execute([id])?;
        }
    }
    Ok(joined)
}

/// How many pulled rows wait for their product or location.
pub(crate) fn count(conn: &Connection) -> Result<u64> {
    Ok(conn.query_row("SELECT count(*) FROM pulled_waiting", [], |r| r.get::<_, i64>(0))? as u64)
}
