//! The stock table: one page of products × locations for a search, filter, sort and offset, and
//! how many rows the table has (exactly, or up to a bound for searches).
//!
//! How a search finds its products: the in-memory copy of the catalog's text (`search_index`)
//! hands over the rowids of the matching products in SKU order, as many as the statement needs.
//! When another view would need more of them than `MATCHES_FOR_ANY_VIEW` (unfiltered) or
//! `MATCHES_FOR_FILTERED_VIEW` (a level filter or one location), SQL tests the text itself with
//! LIKE: it then matches so many products that a walk in the view's order finds its rows soon.
//!
//! Must not: build SQL from user text (search text is always a bound parameter, rowids are bound
//! as an array, sort columns come from a closed enum).

use super::{StockFilter, StockQuery, StockRow, StockSort, DISPATCHES, LIVE_TRANSFER_OUT};
use crate::error::Result;
use crate::search_index::{Matches, SkuOrder};
use crate::Store;
use rusqlite::types::Value;
use rusqlite::vtab::array::Array;
use rusqlite::Row;
use serde::Serialize;
use smartstock_core::{LocationId, ProductId};
use std::rc::Rc;

/// Searches count the stock table's rows only up to the next multiple of this past the rows
/// asked for: one letter matches most of a large catalog, a SKU prefix like "HW-" or a word like
/// "cable" a good part of it, and counting all of that would read every match at every
/// keystroke. The UI shows such a total as "1000+" and the count grows as the table is scrolled
/// towards it. (The unfiltered view counts the rows of at most this many matching products.)
pub const SEARCH_COUNT_STEP: u64 = 1000;

/// A search in an unfiltered view in another order than SKU hands SQL the rowids of its
/// products when it matches at most this many; more, and SQL tests the text itself, walking the
/// view's order (a name-ordered page of a text matching 16k of 100k products: 2 ms walking, 9 ms
/// through all its rowids).
const MATCHES_FOR_ANY_VIEW: usize = 5000;

/// The same bound for a filtered view (a level filter or one location), where a walk reads far
/// for the few rows the filter keeps: "cable" (16k products) with "low stock" 251 ms walking, 41
/// ms through its rowids. Past it the rowids cost more than the walk: "e" (90k products) at one
/// location 109 ms walking, 160 ms through them (`seed-bench-store views`, 100k products × 5
/// locations).
const MATCHES_FOR_FILTERED_VIEW: usize = 20_000;

/// How many rows the stock table has for a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StockTotal {
    /// The number of matching rows; when `exact` is false, a lower bound of it.
    pub rows: u64,
    /// Whether `rows` is the whole count (false: a search counted up to `SEARCH_COUNT_STEP`).
    pub exact: bool,
}

fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// The bound forms of the stock table's search, as one statement uses it.
#[derive(Default)]
struct StockSearch {
    text: Option<String>,
    prefix: Option<String>,
    contains: Option<String>,
    /// The matching products (or those of them the statement needs), found in memory: they
    /// stand in for the text.
    rowids: Option<Array>,
}

impl StockSearch {
    fn of(query: &StockQuery) -> StockSearch {
        let text = query.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let escaped = text.map(like_escape);
        StockSearch {
            text: text.map(str::to_owned),
            prefix: escaped.as_ref().map(|e| format!("{e}%")),
            contains: escaped.as_ref().map(|e| format!("%{e}%")),
            rowids: None,
        }
    }

    /// The same search, its products given as these rowids.
    fn with_rowids(&self, rowids: &[i64]) -> StockSearch {
        StockSearch { rowids: Some(Rc::new(rowids.iter().copied().map(Value::Integer).collect())), ..self.text_only() }
    }

    /// The same search, tested as text.
    fn text_only(&self) -> StockSearch {
        StockSearch {
            text: self.text.clone(),
            prefix: self.prefix.clone(),
            contains: self.contains.clone(),
            rowids: None,
        }
    }

    /// The products the search matches: their rowids when given, else SKU prefix, barcode
    /// exactly, or name containing the text (ASCII case-insensitive).
    fn predicate(&self) -> &'static str {
        match &self.text {
            _ if self.rowids.is_some() => "p.rowid IN rarray(:rowids)",
            None => "1",
            Some(_) => MATCHES,
        }
    }
}

/// A query's search, with its first matching products found in memory.
struct FoundSearch {
    search: StockSearch,
    /// The first matching products in SKU order (descending when the query sorts by SKU
    /// descending).
    found: Option<Matches>,
}

impl FoundSearch {
    /// The search as the page statement of `query` uses it: in the unfiltered view in SKU order,
    /// the first `offset + limit` matching products (a page's rows belong to those); elsewhere
    /// all of them when they are few enough, or the text.
    fn for_page(&self, query: &StockQuery) -> StockSearch {
        match &self.found {
            Some(found) if in_sku_order_unfiltered(query) => {
                self.search.with_rowids(&found.rowids[..found.rowids.len().min(page_end(query))])
            }
            _ => self.for_any_view(),
        }
    }

    /// The search for a statement that needs every matching product: the rowids when all were
    /// found, else the text.
    fn for_any_view(&self) -> StockSearch {
        match &self.found {
            Some(found) if found.complete => self.search.with_rowids(&found.rowids),
            _ => self.search.text_only(),
        }
    }
}

/// Whether product `p` matches the search (the bound forms of `StockSearch`).
const MATCHES: &str = "(p.sku LIKE :prefix ESCAPE '\\' OR p.barcode = :search OR p.name LIKE :contains ESCAPE '\\')";

/// The stock table's rows of the products `:rowids` (a product never moved is one row).
const ROWS_OF_PRODUCTS: &str = "SELECT COALESCE(SUM(MAX(COALESCE(c.pairs, 0), 1)), 0) \
     FROM rarray(:rowids) m LEFT JOIN product_pairs c ON c.product_rowid = m.value";

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
            (":rowids", &search.rowids),
            (":limit", &query.limit),
            (":offset", &query.offset),
        ],
    )
}

/// Runs a statement that answers one number.
fn count_of(
    conn: &rusqlite::Connection,
    sql: &str,
    query: &StockQuery,
    search: &StockSearch,
    cap: Option<u64>,
) -> Result<u64> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind_stock_query(&mut stmt, query, search)?;
    if let Some(cap) = cap {
        bind_present(&mut stmt, &[(":cap", &i64::try_from(cap).unwrap_or(i64::MAX))])?;
    }
    let mut rows = stmt.raw_query();
    let counted: i64 = match rows.next()? {
        Some(row) => row.get(0)?,
        None => 0,
    };
    Ok(counted.max(0) as u64)
}

/// Whether the query shows products that never moved (once, with no location).
fn shows_unstocked(query: &StockQuery) -> bool {
    query.filter == StockFilter::All && query.location_id.is_none()
}

/// One location, every level, in SKU or name order: nearly every product has a level there, so
/// walking the products in that order (their SKU index, or the name index that ends with the SKU:
/// schema 11; CROSS JOIN fixes SQLite's join order) and looking up each one's level fills a page
/// at once, where reading the location's levels first sorts all of them (100k products × 5
/// locations: a page in SKU order 1.4 ms instead of 232 ms, in name order under 1 ms instead of
/// 118 ms).
fn walks_products_at_one_location(query: &StockQuery) -> bool {
    query.location_id.is_some()
        && query.filter == StockFilter::All
        && matches!(query.sort, StockSort::Sku | StockSort::Name)
}

/// The default view: every row, in SKU order.
fn in_sku_order_unfiltered(query: &StockQuery) -> bool {
    shows_unstocked(query) && query.sort == StockSort::Sku
}

/// The rows (and, in the unfiltered view, products) up to the end of the page asked for.
fn page_end(query: &StockQuery) -> usize {
    query.offset as usize + query.limit as usize
}

/// The stock table's rows for `query`, unordered and unpaged, walked product by product (so that
/// a page in SKU or name order stops after its rows). Products never moved anywhere appear once,
/// with no location, in the unfiltered view (the LEFT JOIN). Parameters: `:archived`,
/// `:location`, `:search`, `:prefix`, `:contains`, `:rowids` (only those the SQL uses are
/// bound).
fn stock_select(query: &StockQuery, search: &StockSearch) -> String {
    stock_select_from(query, search, "products p")
}

/// The few levels a filter keeps, as `s` (`product_rowid` or `product_id`, `location_id`) joined
/// to their product `p`, when the filter has them apart: the view then reads those levels, not
/// every level tested (CROSS JOIN fixes that order; SQLite would otherwise walk every level).
/// "Low stock": `low_levels`, kept by triggers (schema 10); "in transit": the pairs of the live
/// dispatches, found through their partial index. "Negative" needs none: its partial index of
/// levels serves the test itself.
fn filtered_levels(filter: StockFilter) -> Option<String> {
    match filter {
        StockFilter::Low => Some("low_levels s CROSS JOIN products p ON p.rowid = s.product_rowid".to_owned()),
        StockFilter::InTransit => Some(format!(
            "(SELECT o.product_id, o.location_id FROM {DISPATCHES} WHERE {LIVE_TRANSFER_OUT} \
             UNION SELECT o.product_id, o.peer_location_id FROM {DISPATCHES} WHERE {LIVE_TRANSFER_OUT}) s \
             CROSS JOIN products p ON p.id = s.product_id"
        )),
        StockFilter::All | StockFilter::Negative => None,
    }
}

/// `stock_select` over `products` (the table, or a subquery of the page's products named `p`).
fn stock_select_from(query: &StockQuery, search: &StockSearch, products: &str) -> String {
    let (rows, location) = match filtered_levels(query.filter) {
        Some(kept) => (
            format!(
                "{kept} CROSS JOIN levels l ON l.product_id = p.id AND l.location_id = s.location_id \
                 JOIN locations loc ON loc.id = l.location_id"
            ),
            "s.location_id = :location",
        ),
        None => {
            let join = if shows_unstocked(query) {
                "LEFT JOIN"
            } else if walks_products_at_one_location(query) {
                "CROSS JOIN"
            } else {
                "JOIN"
            };
            (
                format!(
                    "{products} {join} levels l ON l.product_id = p.id {join} locations loc ON loc.id = l.location_id"
                ),
                "l.location_id = :location",
            )
        }
    };
    let location = if query.location_id.is_some() { location } else { "1" };
    let filter = if query.filter == StockFilter::Negative { "l.on_hand < 0" } else { "1" };
    format!(
        "SELECT p.id, p.sku, p.name, p.barcode, p.unit, p.unit_scale, l.location_id, loc.code AS location_code, \
         COALESCE(l.on_hand, 0) AS on_hand, p.reorder_point FROM {rows} \
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
        let found = self.find_search(query)?;
        self.stock_rows(query, &found.for_page(query))
    }

    /// One page of the stock table and the table's size: what the UI asks for at each keystroke.
    /// The size comes from the page itself when it is the last one (fewer rows than asked for);
    /// searches count up to a bound (see `SEARCH_COUNT_STEP`); the rest count exactly.
    pub fn stock_page(&self, query: &StockQuery) -> Result<(Vec<StockRow>, StockTotal)> {
        let found = self.find_search(query)?;
        let rows = self.stock_rows(query, &found.for_page(query))?;
        let total = match total_from_last_page(query, rows.len()) {
            Some(total) => StockTotal { rows: total, exact: true },
            None if found.found.is_some() => self.search_rows_up_to(query, &found, search_count_cap(query))?,
            None => StockTotal { rows: self.count_rows(query, &found.search)?, exact: true },
        };
        Ok((rows, total))
    }

    /// Counts the stock table's rows for `query`, stopping at `cap` (then not `exact`).
    pub fn stock_count_up_to(&self, query: &StockQuery, cap: u64) -> Result<StockTotal> {
        let found = self.find_search(query)?;
        self.search_rows_up_to(query, &found, cap)
    }

    /// How many rows the stock table has for `query` (its `limit`, `offset` and sort ignored),
    /// so the UI can size a virtualized table.
    pub fn stock_count(&self, query: &StockQuery) -> Result<u64> {
        let found = self.find_search(query)?;
        self.count_rows(query, &found.for_any_view())
    }

    /// The query's search, with its first matching products found in memory: as many as any
    /// statement of the query needs (the page's, the bounded count's, and enough to tell whether
    /// they are few).
    fn find_search(&self, query: &StockQuery) -> Result<FoundSearch> {
        let search = StockSearch::of(query);
        let found = match &search.text {
            Some(text) => {
                let order = if query.sort == StockSort::Sku && query.descending {
                    SkuOrder::Descending
                } else {
                    SkuOrder::Ascending
                };
                let for_any_view =
                    if shows_unstocked(query) { MATCHES_FOR_ANY_VIEW } else { MATCHES_FOR_FILTERED_VIEW };
                let want = page_end(query).max(search_count_cap(query) as usize).max(for_any_view);
                Some(self.search_matches(text, query.include_archived, order, want)?)
            }
            None => None,
        };
        Ok(FoundSearch { search, found })
    }

    /// The page of `query` for `search`.
    fn stock_rows(&self, query: &StockQuery, search: &StockSearch) -> Result<Vec<StockRow>> {
        let order = match query.sort {
            StockSort::Sku => "p.sku",
            StockSort::Name => "p.name COLLATE NOCASE",
            StockSort::Location => "location_code",
            StockSort::OnHand => "on_hand",
        };
        let direction = if query.descending { "DESC" } else { "ASC" };
        // In the unfiltered view every product is at least one row, so the rows of a page in SKU
        // or name order belong to the first `offset + limit` products in that order: those are
        // picked (and sorted) first, and only their levels are read. A search matching thousands
        // of products then sorts products, not all their levels.
        let select = match query.sort {
            StockSort::Sku | StockSort::Name if shows_unstocked(query) => {
                let products = format!(
                    "(SELECT p.* FROM products p WHERE (:archived OR p.archived = 0) AND {} \
                     ORDER BY {order} {direction}{} LIMIT :limit + :offset) p",
                    search.predicate(),
                    if query.sort == StockSort::Sku { "" } else { ", p.sku" }
                );
                stock_select_from(query, &StockSearch::default(), &products)
            }
            _ => stock_select(query, search),
        };
        let sql = format!("{select} ORDER BY {order} {direction}, p.sku, location_code LIMIT :limit OFFSET :offset");
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&sql)?;
        bind_stock_query(&mut stmt, query, search)?;
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(stock_row(row)?);
        }
        Ok(out)
    }

    /// The stock table's rows for `found`, counted up to `cap` (then not `exact`).
    fn search_rows_up_to(&self, query: &StockQuery, found: &FoundSearch, cap: u64) -> Result<StockTotal> {
        match &found.found {
            Some(matches) if shows_unstocked(query) => self.rows_of_products_up_to(query, found, matches, cap),
            _ => self.count_rows_up_to(query, &found.for_any_view(), cap),
        }
    }

    /// The unfiltered table's rows of the first `cap` matching products (each is at least one
    /// row): exact when those are all of them.
    fn rows_of_products_up_to(
        &self,
        query: &StockQuery,
        found: &FoundSearch,
        matches: &Matches,
        cap: u64,
    ) -> Result<StockTotal> {
        let counted_products = matches.rowids.len().min(usize::try_from(cap).unwrap_or(usize::MAX));
        let search = found.search.with_rowids(&matches.rowids[..counted_products]);
        let rows = count_of(&self.read(), ROWS_OF_PRODUCTS, query, &search, None)?;
        if matches.complete && counted_products == matches.rowids.len() {
            Ok(StockTotal { rows, exact: true })
        } else {
            Ok(StockTotal { rows: rows.min(cap), exact: false })
        }
    }

    /// Counts the rows of `query` for `search`, stopping at `cap` (then not `exact`).
    fn count_rows_up_to(&self, query: &StockQuery, search: &StockSearch, cap: u64) -> Result<StockTotal> {
        let sql = format!("SELECT COUNT(*) FROM ({} LIMIT :cap)", stock_select(query, search));
        let counted = count_of(&self.read(), &sql, query, search, Some(cap))?;
        Ok(StockTotal { rows: counted, exact: counted < cap })
    }

    /// Counts the rows of `query` for `search` exactly. In the unfiltered view this sums each
    /// matching product's number of levels (`product_pairs`, at least 1: a product never moved
    /// is one row) instead of joining every level.
    fn count_rows(&self, query: &StockQuery, search: &StockSearch) -> Result<u64> {
        let sql = if shows_unstocked(query) {
            format!(
                "SELECT COALESCE(SUM(MAX(COALESCE(c.pairs, 0), 1)), 0) FROM products p \
                 LEFT JOIN product_pairs c ON c.product_rowid = p.rowid \
                 WHERE (:archived OR p.archived = 0) AND {}",
                search.predicate()
            )
        } else {
            format!("SELECT COUNT(*) FROM ({})", stock_select(query, search))
        };
        count_of(&self.read(), &sql, query, search, None)
    }
}
