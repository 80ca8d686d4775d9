//! Read-only queries the UI needs: the stock table (search by SKU, name or barcode, filters,
//! sorting, paging), a product's movement history (keyset paging), transfers in transit, and
//! levels at or below their reorder point. All run on the reader connection.
//!
//! Must not: write, or build SQL from user text (search text is always a bound parameter;
//! sort columns come from a closed enum).

use crate::error::Result;
use crate::{sql, Store};
use rusqlite::{named_params, Row};
use serde::{Deserialize, Serialize};
use smartstock_core::{LocationId, Movement, MovementId, MovementKind, ProductId, Timestamp, TransferId, UserId};
use std::collections::HashMap;

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

const LIVE_TRANSFER_OUT: &str = "o.kind = 'transfer_out' AND o.voided_by IS NULL AND o.sync_state <> 'rejected' \
     AND NOT EXISTS (SELECT 1 FROM movements i WHERE i.kind = 'transfer_in' AND i.ref = o.ref \
     AND i.voided_by IS NULL AND i.sync_state <> 'rejected')";

fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Searches shorter than this (in characters) test every product (reading the narrow
/// `products_search` index, not the table); longer ones start from the indexes: the SKU prefix
/// (`products_sku_nocase`), the barcode, and the trigram index of names (`product_names`, which
/// cannot look up fewer than 3 characters).
const INDEXED_SEARCH_CHARS: usize = 3;

/// Searches count the stock table's rows only up to the next multiple of this past the rows
/// asked for: one letter matches most of a large catalog, a SKU prefix like "HW-" or a word like
/// "cable" a good part of it, and counting all of that would read every match at every
/// keystroke. The UI shows such a total as "1000+" and the count grows as the table is scrolled
/// towards it. (Short searches count the rows themselves; long ones the rows of at most this
/// many products of each kind of match: `LONG_SEARCH_ROWS_UP_TO`. Filtered views with a long
/// search count exactly.)
pub const SEARCH_COUNT_STEP: u64 = 1000;

/// Where a short search reads products in the unfiltered view: SKU, name, barcode and archived
/// flag in SKU order, so a walk in SKU order stops after its page and a text matching nothing
/// reads the narrow index, not the table.
const SHORT_SEARCH_PRODUCTS: &str = "products p INDEXED BY products_search";

/// How many rows the stock table has for a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StockTotal {
    /// The number of matching rows; when `exact` is false, a lower bound of it.
    pub rows: u64,
    /// Whether `rows` is the whole count (false: a search counted up to `SEARCH_COUNT_STEP`).
    pub exact: bool,
}

/// The bound forms of the stock table's search text.
struct StockSearch {
    text: Option<String>,
    prefix: Option<String>,
    contains: Option<String>,
    /// The text as one FTS5 phrase (a substring query on the trigram index).
    phrase: Option<String>,
}

impl StockSearch {
    fn of(query: &StockQuery) -> StockSearch {
        let text = query.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let escaped = text.map(like_escape);
        StockSearch {
            text: text.map(str::to_owned),
            prefix: escaped.as_ref().map(|e| format!("{e}%")),
            contains: escaped.as_ref().map(|e| format!("%{e}%")),
            phrase: text.map(|t| format!("\"{}\"", t.replace('"', "\"\""))),
        }
    }

    /// A search too short for the trigram index of names.
    fn is_short(&self) -> bool {
        self.text.as_deref().is_some_and(|t| t.chars().count() < INDEXED_SEARCH_CHARS)
    }

    /// The products the search matches: SKU prefix, barcode exactly, or name containing the
    /// text (ASCII case-insensitive). Long enough texts gather candidates from the indexes and
    /// re-check them with the same LIKEs (the trigram index folds more than ASCII case).
    fn predicate(&self) -> String {
        self.predicate_with_sku_arm("SELECT rowid FROM products WHERE sku LIKE :prefix ESCAPE '\\'")
    }

    /// [`Self::predicate`] for a page of products in SKU order (`direction`): of the products
    /// whose SKU starts with the text, only the first `:limit + :offset` unarchived ones in that
    /// order can be on the page, so the SKU prefix is read that far and no further (a prefix
    /// like "HW-" can match a sixth of a catalog).
    fn predicate_in_sku_order(&self, direction: &str) -> String {
        self.predicate_with_sku_arm(&format!(
            "SELECT rowid FROM (SELECT rowid FROM products WHERE sku LIKE :prefix ESCAPE '\\' \
             AND (:archived OR archived = 0) ORDER BY sku {direction} LIMIT :limit + :offset)"
        ))
    }

    /// The predicate, long texts taking their SKU-prefix candidates from `sku_arm`.
    fn predicate_with_sku_arm(&self, sku_arm: &str) -> String {
        match &self.text {
            None => "1".into(),
            Some(_) if self.is_short() => MATCHES.into(),
            Some(_) => format!(
                "p.rowid IN ({sku_arm} UNION SELECT rowid FROM products WHERE barcode = :search \
                 UNION SELECT rowid FROM product_names WHERE product_names MATCH :phrase) AND {MATCHES}"
            ),
        }
    }
}

/// Whether product `p` matches the search (the bound forms of `StockSearch`).
const MATCHES: &str = "(p.sku LIKE :prefix ESCAPE '\\' OR p.barcode = :search OR p.name LIKE :contains ESCAPE '\\')";

/// The unarchived (unless `:archived`) products a long search matches, at most `:cap` of each of
/// its three kinds (SKU prefix, barcode, name containing the text), and the stock table's rows
/// they make (`product_pairs`; a product never moved is one row). Fewer than `:cap` rows means
/// no kind was cut short: the rows are then all of them.
const LONG_SEARCH_ROWS_UP_TO: &str = "SELECT COALESCE(SUM(MAX(COALESCE(c.pairs, 0), 1)), 0) FROM ( \
     SELECT rowid FROM (SELECT rowid FROM products WHERE sku LIKE :prefix ESCAPE '\\' \
       AND (:archived OR archived = 0) LIMIT :cap) \
     UNION SELECT rowid FROM products WHERE barcode = :search AND (:archived OR archived = 0) \
     UNION SELECT rowid FROM (SELECT rowid FROM products p WHERE p.rowid IN \
       (SELECT rowid FROM product_names WHERE product_names MATCH :phrase) \
       AND p.name LIKE :contains ESCAPE '\\' AND (:archived OR p.archived = 0) LIMIT :cap) \
     ) m LEFT JOIN product_pairs c ON c.product_rowid = m.rowid";

/// Binds the named parameters a statement uses (the SQL varies with the query's shape).
fn bind_present(stmt: &mut rusqlite::Statement<'_>, params: &[(&str, &dyn rusqlite::ToSql)]) -> rusqlite::Result<()> {
    for (name, value) in params {
        if let Some(index) = stmt.parameter_index(name)? {
            stmt.raw_bind_parameter(index, value)?;
        }
    }
    Ok(())
}

/// Binds a stock-table statement's parameters from `query` (those the statement has).
fn bind_stock_query(
    stmt: &mut rusqlite::Statement<'_>,
    query: &StockQuery,
    search: &StockSearch,
) -> rusqlite::Result<()> {
    bind_present(
        stmt,
        &[
            (":archived", &query.include_archived),
            (":location", &query.location_id.map(|l| l.0)),
            (":search", &search.text),
            (":prefix", &search.prefix),
            (":contains", &search.contains),
            (":phrase", &search.phrase),
            (":limit", &query.limit),
            (":offset", &query.offset),
        ],
    )
}

/// Whether the query shows products that never moved (once, with no location).
fn shows_unstocked(query: &StockQuery) -> bool {
    query.filter == StockFilter::All && query.location_id.is_none()
}

/// The stock table's rows for `query`, unordered and unpaged, walked product by product (so that
/// a page in SKU or name order stops after its rows). Products never moved anywhere appear once,
/// with no location, in the unfiltered view (the LEFT JOIN). Parameters: `:archived`,
/// `:location`, `:search`, `:prefix`, `:contains`, `:phrase` (only those the SQL uses are bound).
fn stock_select(query: &StockQuery, search: &StockSearch) -> String {
    stock_select_from(query, search, "products p")
}

/// `stock_select` over `products` (the table, or a subquery of the page's products named `p`).
fn stock_select_from(query: &StockQuery, search: &StockSearch, products: &str) -> String {
    let filter = match query.filter {
        StockFilter::All => "1",
        StockFilter::Low => "p.reorder_point > 0 AND l.on_hand <= p.reorder_point",
        StockFilter::Negative => "l.on_hand < 0",
        StockFilter::InTransit => {
            "EXISTS (SELECT 1 FROM movements o WHERE o.product_id = l.product_id \
             AND (o.location_id = l.location_id OR o.peer_location_id = l.location_id) AND {LIVE})"
        }
    }
    .replace("{LIVE}", LIVE_TRANSFER_OUT);
    let join = if shows_unstocked(query) { "LEFT JOIN" } else { "JOIN" };
    let location = if query.location_id.is_some() { "l.location_id = :location" } else { "1" };
    format!(
        "SELECT p.id, p.sku, p.name, p.barcode, p.unit, p.unit_scale, l.location_id, loc.code AS location_code, \
         COALESCE(l.on_hand, 0) AS on_hand, p.reorder_point FROM {products} \
         {join} levels l ON l.product_id = p.id {join} locations loc ON loc.id = l.location_id \
         WHERE (:archived OR p.archived = 0) AND {location} AND {} AND {filter}",
        search.predicate()
    )
}

/// The table's size when a page is its last one: fewer rows than asked for (and not a page
/// past the end, which says nothing about where the end is).
fn total_from_last_page(query: &StockQuery, rows: usize) -> Option<u64> {
    let rows = rows as u64;
    (rows < u64::from(query.limit) && (rows > 0 || query.offset == 0)).then(|| u64::from(query.offset) + rows)
}

/// The bound a search counts to: the next multiple of `SEARCH_COUNT_STEP` past the rows asked
/// for, so the table can always scroll past its page.
fn search_count_cap(query: &StockQuery) -> u64 {
    let seen = u64::from(query.offset) + u64::from(query.limit);
    (seen / SEARCH_COUNT_STEP + 1) * SEARCH_COUNT_STEP
}

fn stock_row(row: &Row<'_>) -> rusqlite::Result<StockRow> {
    Ok(StockRow {
        product_id: ProductId(row.get(0)?),
        sku: row.get(1)?,
        name: row.get(2)?,
        barcode: row.get(3)?,
        unit: row.get(4)?,
        unit_scale: row.get(5)?,
        location_id: row.get::<_, Option<uuid::Uuid>>(6)?.map(LocationId),
        location_code: row.get(7)?,
        on_hand: row.get(8)?,
        reorder_point: row.get(9)?,
    })
}

impl Store {
    /// One page of the stock table.
    pub fn stock(&self, query: &StockQuery) -> Result<Vec<StockRow>> {
        let order = match query.sort {
            StockSort::Sku => "p.sku",
            StockSort::Name => "p.name COLLATE NOCASE",
            StockSort::Location => "location_code",
            StockSort::OnHand => "on_hand",
        };
        let direction = if query.descending { "DESC" } else { "ASC" };
        let search = StockSearch::of(query);
        // In the unfiltered view every product is at least one row, so the rows of a page in SKU
        // or name order belong to the first `offset + limit` products in that order: those are
        // picked (and sorted) first, and only their levels are read. A search matching thousands
        // of products then sorts products, not all their levels.
        let select = match query.sort {
            StockSort::Sku | StockSort::Name if shows_unstocked(query) => {
                let source = if search.is_short() && query.sort == StockSort::Sku {
                    SHORT_SEARCH_PRODUCTS
                } else {
                    "products p"
                };
                let products = format!(
                    "(SELECT p.* FROM {source} WHERE (:archived OR p.archived = 0) AND {} \
                     ORDER BY {order} {direction}{} LIMIT :limit + :offset) p",
                    match query.sort {
                        StockSort::Sku => search.predicate_in_sku_order(direction),
                        _ => search.predicate(),
                    },
                    if query.sort == StockSort::Sku { "" } else { ", p.sku" }
                );
                let outer = StockSearch { text: None, prefix: None, contains: None, phrase: None };
                stock_select_from(query, &outer, &products)
            }
            _ => stock_select(query, &search),
        };
        let sql = format!("{select} ORDER BY {order} {direction}, p.sku, location_code LIMIT :limit OFFSET :offset");
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&sql)?;
        bind_stock_query(&mut stmt, query, &search)?;
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(stock_row(row)?);
        }
        Ok(out)
    }

    /// One page of the stock table and the table's size: what the UI asks for at each keystroke.
    /// The size comes from the page itself when it is the last one (fewer rows than asked for);
    /// searches count up to a bound (see `SEARCH_COUNT_STEP`); the rest count exactly.
    pub fn stock_page(&self, query: &StockQuery) -> Result<(Vec<StockRow>, StockTotal)> {
        let rows = self.stock(query)?;
        let search = StockSearch::of(query);
        let total = match total_from_last_page(query, rows.len()) {
            Some(total) => StockTotal { rows: total, exact: true },
            None if search.is_short() => self.stock_count_up_to(query, search_count_cap(query))?,
            None if search.text.is_some() && shows_unstocked(query) => {
                self.long_search_rows_up_to(query, &search, search_count_cap(query))?
            }
            None => StockTotal { rows: self.stock_count(query)?, exact: true },
        };
        Ok((rows, total))
    }

    /// The unfiltered stock table's rows for a long search, counted up to `cap` (then not
    /// `exact`), from at most `cap` products of each kind of match (`LONG_SEARCH_ROWS_UP_TO`).
    fn long_search_rows_up_to(&self, query: &StockQuery, search: &StockSearch, cap: u64) -> Result<StockTotal> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(LONG_SEARCH_ROWS_UP_TO)?;
        bind_stock_query(&mut stmt, query, search)?;
        bind_present(&mut stmt, &[(":cap", &i64::try_from(cap).unwrap_or(i64::MAX))])?;
        let mut rows = stmt.raw_query();
        let counted: i64 = match rows.next()? {
            Some(row) => row.get(0)?,
            None => 0,
        };
        let counted = counted.max(0) as u64;
        Ok(StockTotal { rows: counted.min(cap), exact: counted < cap })
    }

    /// Counts the stock table's rows for `query`, stopping at `cap` (then not `exact`).
    pub fn stock_count_up_to(&self, query: &StockQuery, cap: u64) -> Result<StockTotal> {
        let search = StockSearch::of(query);
        let products = if search.is_short() && shows_unstocked(query) { SHORT_SEARCH_PRODUCTS } else { "products p" };
        let sql = format!("SELECT COUNT(*) FROM ({} LIMIT :cap)", stock_select_from(query, &search, products));
        let cap = i64::try_from(cap).unwrap_or(i64::MAX);
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&sql)?;
        bind_stock_query(&mut stmt, query, &search)?;
        bind_present(&mut stmt, &[(":cap", &cap)])?;
        let mut rows = stmt.raw_query();
        let counted: i64 = match rows.next()? {
            Some(row) => row.get(0)?,
            None => 0,
        };
        Ok(StockTotal { rows: counted.max(0) as u64, exact: counted < cap })
    }

    /// How many rows the stock table has for `query` (its `limit`, `offset` and sort ignored),
    /// so the UI can size a virtualized table. In the unfiltered view this sums each matching
    /// product's number of levels (`product_pairs`, at least 1: a product never moved is one
    /// row) instead of joining every level.
    pub fn stock_count(&self, query: &StockQuery) -> Result<u64> {
        let search = StockSearch::of(query);
        let sql = if shows_unstocked(query) {
            format!(
                "SELECT COALESCE(SUM(MAX(COALESCE(c.pairs, 0), 1)), 0) FROM products p \
                 LEFT JOIN product_pairs c ON c.product_rowid = p.rowid \
                 WHERE (:archived OR p.archived = 0) AND {}",
                search.predicate()
            )
        } else {
            format!("SELECT COUNT(*) FROM ({})", stock_select(query, &search))
        };
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&sql)?;
        bind_stock_query(&mut stmt, query, &search)?;
        let mut rows = stmt.raw_query();
        let count: i64 = match rows.next()? {
            Some(row) => row.get(0)?,
            None => 0,
        };
        Ok(count.max(0) as u64)
    }

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
            "SELECT o.ref, o.product_id, p.sku, src.code, dst.code, -o.delta, o.occurred_at FROM movements o \
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
                    dispatched_at: Timestamp(row.get(6)?),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Levels at or below their product's reorder point (products with a reorder point), lowest
    /// first, with the quantity to order.
    pub fn below_reorder_point(&self) -> Result<Vec<ReorderRow>> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(
            "SELECT p.id, p.sku, l.location_id, loc.code, l.on_hand, p.reorder_point, p.reorder_qty FROM levels l \
             JOIN products p ON p.id = l.product_id JOIN locations loc ON loc.id = l.location_id \
             WHERE p.archived = 0 AND p.reorder_point > 0 AND l.on_hand <= p.reorder_point \
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
