//! Read-only queries the UI needs: the stock table (search by SKU, name or barcode, filters,
//! sorting, paging), a product's movement history (keyset paging), transfers in transit, and
//! levels at or below their reorder point. All run on the reader connection.
//!
//! Must not: write, or build SQL from user text (search text is always a bound parameter;
//! sort columns come from a closed enum).

use crate::error::Result;
use crate::{sql, Store};
use rusqlite::named_params;
use serde::{Deserialize, Serialize};
use smartstock_core::{LocationId, Movement, MovementId, MovementKind, ProductId, Timestamp, TransferId, UserId};
use std::collections::HashMap;

mod stock;
pub use stock::{StockTotal, SEARCH_COUNT_STEP};

/// Which rows of the stock table to show.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StockFilter {
    /// Every product × location with a level, and products with no stock anywhere.
    #[default]
    All,
    /// Levels at or below the product's reorder point (reorder point > 0).
    Low,
    /// Levels below zero.
    Negative,
    /// Pairs with a dispatched transfer not yet received (leaving or arriving).
    InTransit,
}

/// Sort column of the stock table.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StockSort {
    /// By SKU.
    #[default]
    Sku,
    /// By product name.
    Name,
    /// By location code.
    Location,
    /// By quantity on hand.
    OnHand,
}

/// A request for one page of the stock table.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StockQuery {
    /// Matches SKU prefix, barcode exactly, or name containing it (case-insensitive ASCII).
    pub search: Option<String>,
    /// Only this location.
    pub location_id: Option<LocationId>,
    /// Which rows.
    pub filter: StockFilter,
    /// Sort column.
    pub sort: StockSort,
    /// Descending order.
    pub descending: bool,
    /// Include archived products.
    pub include_archived: bool,
    /// Page size.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

/// One row of the stock table.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StockRow {
    /// Product.
    pub product_id: ProductId,
    /// SKU.
    pub sku: String,
    /// Name.
    pub name: String,
    /// Barcode.
    pub barcode: Option<String>,
    /// Unit.
    pub unit: String,
    /// Unit decimal places.
    pub unit_scale: u32,
    /// Location (`None` for a product with no stock anywhere).
    pub location_id: Option<LocationId>,
    /// Location code.
    pub location_code: Option<String>,
    /// Quantity on hand in base units.
    pub on_hand: i64,
    /// Reorder point in base units.
    pub reorder_point: i64,
}

/// One movement in a product's history.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryRow {
    /// The movement.
    pub movement: Movement,
    /// The void that cancelled it.
    pub voided_by: Option<MovementId>,
    /// `pending`, `accepted` or `rejected`.
    pub sync_state: String,
    /// Its product's SKU.
    pub sku: String,
    /// Its product's unit.
    pub unit: String,
    /// Decimal places of the product's quantities (the movement's are integers in base units).
    pub unit_scale: u32,
}

/// Where a page of the ledger ends: the last row's time and id.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerCursor {
    /// The last row's `occurred_at`.
    pub occurred_at: Timestamp,
    /// The last row's id.
    pub id: MovementId,
}

/// A request for one page of the movement ledger.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LedgerQuery {
    /// Only this product.
    pub product_id: Option<ProductId>,
    /// Only this location.
    pub location_id: Option<LocationId>,
    /// Only this kind.
    pub kind: Option<MovementKind>,
    /// Only this user's.
    pub user_id: Option<UserId>,
    /// Occurred at or after.
    pub from: Option<Timestamp>,
    /// Occurred before.
    pub to: Option<Timestamp>,
    /// Continue after this row.
    pub before: Option<LedgerCursor>,
    /// Page size (1..=1000).
    pub limit: u32,
}

/// A dispatched transfer not yet received.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InTransit {
    /// Transfer id (to receive it).
    pub transfer_id: TransferId,
    /// Product.
    pub product_id: ProductId,
    /// SKU.
    pub sku: String,
    /// Source location code.
    pub from_code: String,
    /// Destination location code.
    pub to_code: String,
    /// Quantity sent (base units, positive).
    pub quantity: i64,
    /// The product's unit, to show the quantity in.
    pub unit: String,
    /// Decimal places of that unit (DESIGN.md: quantities are integers in base units).
    pub unit_scale: u32,
    /// When it was dispatched.
    pub dispatched_at: Timestamp,
}

/// A level at or below its reorder point, with the suggested order.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReorderRow {
    /// Product.
    pub product_id: ProductId,
    /// SKU.
    pub sku: String,
    /// Location.
    pub location_id: LocationId,
    /// Location code.
    pub location_code: String,
    /// On hand.
    pub on_hand: i64,
    /// Reorder point.
    pub reorder_point: i64,
    /// Quantity to order: the product's reorder quantity, or enough to get back above the point.
    pub suggested_qty: i64,
}

/// The dispatches of transfers (`o`), read through their partial index (schema 10). Named, not
/// left to the planner: without statistics SQLite prefers walking a wider index of every
/// movement in the order a UNION or a join wants (40 ms on 500k movements, 0.1 ms this
/// way).
const DISPATCHES: &str = "movements o INDEXED BY movements_transfer_out";

/// A dispatched transfer (`o`) that is live and not yet received.
const LIVE_TRANSFER_OUT: &str = "o.kind = 'transfer_out' AND o.voided_by IS NULL AND o.sync_state <> 'rejected' \
     AND NOT EXISTS (SELECT 1 FROM movements i WHERE i.kind = 'transfer_in' AND i.ref = o.ref \
     AND i.voided_by IS NULL AND i.sync_state <> 'rejected')";

impl Store {
    /// A product's movements, newest first, `limit` at a time. Pass the last row's
    /// (`occurred_at`, `id`) as `before` for the next page.
    pub fn history(
        &self,
        product: ProductId,
        location: Option<LocationId>,
        before: Option<(Timestamp, MovementId)>,
        limit: u32,
    ) -> Result<Vec<HistoryRow>> {
        self.ledger(&LedgerQuery {
            product_id: Some(product),
            location_id: location,
            before: before.map(|(occurred_at, id)| LedgerCursor { occurred_at, id }),
            limit,
            ..LedgerQuery::default()
        })
    }

    /// The movement ledger (the audit screen), newest first, filtered, `limit` at a time; pass
    /// the last row's (`occurred_at`, `id`) as `before` for the next page.
    pub fn ledger(&self, query: &LedgerQuery) -> Result<Vec<HistoryRow>> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {}, voided_by, sync_state FROM movements \
             WHERE (:product IS NULL OR product_id = :product) \
             AND (:location IS NULL OR location_id = :location) \
             AND (:kind IS NULL OR kind = :kind) AND (:user IS NULL OR user_id = :user) \
             AND (:from IS NULL OR occurred_at >= :from) AND (:to IS NULL OR occurred_at < :to) \
             AND (:before_at IS NULL OR (occurred_at, id) < (:before_at, :before_id)) \
             ORDER BY occurred_at DESC, id DESC LIMIT :limit",
            sql::MOVEMENT_COLUMNS
        ))?;
        let rows = stmt
            .query_map(
                named_params! {
                    ":product": query.product_id.map(|p| p.0),
                    ":location": query.location_id.map(|l| l.0),
                    ":kind": query.kind.map(|k| k.as_str()),
                    ":user": query.user_id.map(|u| u.0),
                    ":from": query.from.map(|t| t.millis()),
                    ":to": query.to.map(|t| t.millis()),
                    ":before_at": query.before.map(|c| c.occurred_at.millis()),
                    ":before_id": query.before.map(|c| c.id.0),
                    ":limit": query.limit.clamp(1, 1000),
                },
                |row| {
                    Ok((
                        sql::movement_from_row(row)?,
                        row.get::<_, Option<uuid::Uuid>>(18)?.map(MovementId),
                        row.get::<_, String>(19)?,
                    ))
                },
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        // A page holds at most 1,000 rows: each distinct product is looked up once.
        let mut products: HashMap<ProductId, (String, String, u32)> = HashMap::new();
        let mut unit_of = conn.prepare_cached("SELECT sku, unit, unit_scale FROM products WHERE id = ?1")?;
        rows.into_iter()
            .map(|(movement, voided_by, sync_state)| {
                let (sku, unit, unit_scale) = match products.get(&movement.product_id) {
                    Some(known) => known.clone(),
                    None => {
                        let found: (String, String, u32) =
                            unit_of.query_row([movement.product_id.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                        products.insert(movement.product_id, found.clone());
                        found
                    }
                };
                Ok(HistoryRow { movement, voided_by, sync_state, sku, unit, unit_scale })
            })
            .collect()
    }

    /// Transfers dispatched and not yet received, oldest first.
    pub fn in_transit(&self) -> Result<Vec<InTransit>> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT o.ref, o.product_id, p.sku, src.code, dst.code, -o.delta, p.unit, p.unit_scale, o.occurred_at \
             FROM {DISPATCHES} \
             JOIN products p ON p.id = o.product_id JOIN locations src ON src.id = o.location_id \
             JOIN locations dst ON dst.id = o.peer_location_id WHERE {LIVE_TRANSFER_OUT} \
             ORDER BY o.occurred_at, o.id"
        ))?;
        let rows = stmt
            .query_map([], |row| {
                let reference: String = row.get(0)?;
                let transfer_id = reference.parse::<TransferId>().map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
                })?;
                Ok(InTransit {
                    transfer_id,
                    product_id: ProductId(row.get(1)?),
                    sku: row.get(2)?,
                    from_code: row.get(3)?,
                    to_code: row.get(4)?,
                    quantity: row.get(5)?,
                    unit: row.get(6)?,
                    unit_scale: row.get(7)?,
                    dispatched_at: Timestamp(row.get(8)?),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Levels at or below their product's reorder point (products with a reorder point), lowest
    /// first, with the quantity to order (read from `low_levels`, schema 10).
    pub fn below_reorder_point(&self) -> Result<Vec<ReorderRow>> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(
            "SELECT p.id, p.sku, l.location_id, loc.code, l.on_hand, p.reorder_point, p.reorder_qty FROM low_levels s \
             CROSS JOIN products p ON p.rowid = s.product_rowid \
             CROSS JOIN levels l ON l.product_id = p.id AND l.location_id = s.location_id \
             JOIN locations loc ON loc.id = l.location_id WHERE p.archived = 0 \
             ORDER BY l.on_hand - p.reorder_point, p.sku, loc.code",
        )?;
        let rows = stmt
            .query_map([], |row| {
                let on_hand: i64 = row.get(4)?;
                let reorder_point: i64 = row.get(5)?;
                let reorder_qty: i64 = row.get(6)?;
                Ok(ReorderRow {
                    product_id: ProductId(row.get(0)?),
                    sku: row.get(1)?,
                    location_id: LocationId(row.get(2)?),
                    location_code: row.get(3)?,
                    on_hand,
                    reorder_point,
                    suggested_qty: reorder_qty.max(reorder_point - on_hand + 1),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The cached level of one product × location (0 when it never moved there).
    pub fn level(&self, product: ProductId, location: LocationId) -> Result<i64> {
        Ok(sql::load_level(&self.read(), product, location)?.map_or(0, |(level, _)| level.on_hand))
    }

    /// The ledger checksum of one product × location, to compare with the server's.
    pub fn checksum(&self, product: ProductId, location: LocationId) -> Result<smartstock_core::LedgerDigest> {
        Ok(sql::load_level(&self.read(), product, location)?.map(|(_, digest)| digest).unwrap_or_default())
    }
}
