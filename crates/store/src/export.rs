//! CSV export of the stock table and of the movement ledger, for spreadsheets and accountants.
//!
//! Owns: the export columns and the text form of their values (quantities in each product's
//! unit, times in RFC 3339 UTC with milliseconds, ids as hyphenated UUIDs, empty for none).
//! Quoting is the `csv` writer's, so commas, quotes and line breaks in names and notes survive a
//! round trip.
//!
//! Must not: write to the database (exports read through the reader connection, so a long export
//! does not hold the writer), or round a quantity.

use crate::error::Result;
use crate::Store;
use rusqlite::{Row, ToSql};
use smartstock_core::quantity::format_scaled;
use smartstock_core::ProductId;
use std::io::Write;

/// Header of `export_stock_csv`.
pub const STOCK_COLUMNS: [&str; 7] = ["sku", "name", "barcode", "location_code", "on_hand", "unit", "reorder_point"];

/// Header of `export_movements_csv`.
pub const MOVEMENT_COLUMNS: [&str; 18] = [
    "id",
    "occurred_at",
    "kind",
    "sku",
    "location_code",
    "delta",
    "counted_qty",
    "reason",
    "note",
    "ref",
    "peer_location_code",
    "device_id",
    "device_seq",
    "user_id",
    "qty_before",
    "qty_after",
    "sync_state",
    "voided_by",
];

const STOCK_SQL: &str = "SELECT p.sku, p.name, p.barcode, l.code, v.on_hand, p.unit, p.reorder_point, p.unit_scale \
     FROM levels v JOIN products p ON p.id = v.product_id JOIN locations l ON l.id = v.location_id \
     ORDER BY p.sku, l.code";

const MOVEMENTS_SELECT: &str = "SELECT m.id, m.occurred_at, m.kind, p.sku, l.code, m.delta, m.counted_qty, m.reason, \
     m.note, m.ref, peer.code, m.device_id, m.device_seq, m.user_id, m.qty_before, m.qty_after, m.sync_state, \
     m.voided_by, p.unit_scale \
     FROM movements m JOIN products p ON p.id = m.product_id JOIN locations l ON l.id = m.location_id \
     LEFT JOIN locations peer ON peer.id = m.peer_location_id";

impl Store {
    /// Writes the stock table as CSV (`sku,name,barcode,location_code,on_hand,unit,reorder_point`),
    /// one row per product × location with a level, by SKU then location code. Returns the rows
    /// written (the header not counted).
    #[tracing::instrument(skip_all)]
    pub fn export_stock_csv(&self, writer: impl Write) -> Result<u64> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(STOCK_SQL)?;
        let mut out = csv::Writer::from_writer(writer);
        out.write_record(STOCK_COLUMNS)?;
        let mut rows = stmt.query([])?;
        let mut written = 0;
        while let Some(row) = rows.next()? {
            write_stock_row(&mut out, row)?;
            written += 1;
        }
        out.flush()?;
        Ok(written)
    }

    /// Writes the movement ledger as CSV (columns in `MOVEMENT_COLUMNS`), optionally of one
    /// product only, ordered by `occurred_at` then id. Returns the rows written.
    #[tracing::instrument(skip_all)]
    pub fn export_movements_csv(&self, writer: impl Write, product: Option<ProductId>) -> Result<u64> {
        let conn = self.read();
        let (sql, params): (String, Vec<&dyn ToSql>) = match &product {
            Some(id) => {
                (format!("{MOVEMENTS_SELECT} WHERE m.product_id = ?1 ORDER BY m.occurred_at, m.id"), vec![&id.0])
            }
            None => (format!("{MOVEMENTS_SELECT} ORDER BY m.occurred_at, m.id"), Vec::new()),
        };
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut out = csv::Writer::from_writer(writer);
        out.write_record(MOVEMENT_COLUMNS)?;
        let mut rows = stmt.query(params.as_slice())?;
        let mut written = 0;
        while let Some(row) = rows.next()? {
            write_movement_row(&mut out, row)?;
            written += 1;
        }
        out.flush()?;
        Ok(written)
    }
}

fn write_stock_row<W: Write>(out: &mut csv::Writer<W>, row: &Row<'_>) -> Result<()> {
    let scale: u32 = row.get(7)?;
    out.write_record([
        row.get::<_, String>(0)?,
        row.get(1)?,
        row.get::<_, Option<String>>(2)?.unwrap_or_default(),
        row.get(3)?,
        format_scaled(row.get(4)?, scale),
        row.get(5)?,
        format_scaled(row.get(6)?, scale),
    ])?;
    Ok(())
}

fn write_movement_row<W: Write>(out: &mut csv::Writer<W>, row: &Row<'_>) -> Result<()> {
    let scale: u32 = row.get(18)?;
    let quantity = |idx: usize| -> rusqlite::Result<String> {
        Ok(row.get::<_, Option<i64>>(idx)?.map(|q| format_scaled(q, scale)).unwrap_or_default())
    };
    let text = |idx: usize| -> rusqlite::Result<String> { Ok(row.get::<_, Option<String>>(idx)?.unwrap_or_default()) };
    let uuid = |idx: usize| -> rusqlite::Result<String> {
        Ok(row.get::<_, Option<uuid::Uuid>>(idx)?.map(|u| u.hyphenated().to_string()).unwrap_or_default())
    };
    out.write_record([
        uuid(0)?,
        rfc3339_millis(row.get(1)?),
        text(2)?,
        text(3)?,
        text(4)?,
        quantity(5)?,
        quantity(6)?,
        text(7)?,
        text(8)?,
        text(9)?,
        text(10)?,
        uuid(11)?,
        row.get::<_, i64>(12)?.to_string(),
        uuid(13)?,
        quantity(14)?,
        quantity(15)?,
        text(16)?,
        uuid(17)?,
    ])?;
    Ok(())
}

/// Milliseconds since the epoch as RFC 3339 UTC, e.g. `2026-11-22T01:58:47.123Z`.
fn rfc3339_millis(millis: i64) -> String {
    const MS_PER_DAY: i64 = 86_400_000;
    let (year, month, day) = civil_from_days(millis.div_euclid(MS_PER_DAY));
    let in_day = millis.rem_euclid(MS_PER_DAY);
    let (hour, minute) = (in_day / 3_600_000, in_day / 60_000 % 60);
    let (second, milli) = (in_day / 1000 % 60, in_day % 1000);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z")
}

/// The proleptic Gregorian date of a day number (days since 1970-01-01), after Howard
/// Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146_096
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1, 0..=365
    let mp = (5 * doy + 2) / 153; // month from March, 0..=11
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::rfc3339_millis;

    #[test]
    fn formats_rfc3339_utc_with_millis() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_millis(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
        assert_eq!(rfc3339_millis(1_795_312_727_123), "2026-11-22T01:58:47.123Z");
        assert_eq!(rfc3339_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_millis(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
        assert_eq!(rfc3339_millis(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
    }
}
