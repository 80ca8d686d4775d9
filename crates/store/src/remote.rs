//! Applying what the server sends: a pull page (other devices' movements, catalog rows merged
//! per field with their stamps by `catalog_sync`, alerts, this device's catalog notices)
//! and the pull cursor move together in one transaction, so a crash between pages never skips
//! or repeats anything.
//!
//! Durability: a pull transaction commits with `synchronous=NORMAL` (see `apply_pull_pages`):
//! pulled rows can always be fetched again, local records cannot, and they keep `FULL`.
//!
//! Must not: talk to the network (the sync crate fetches pages) or apply the negative-stock
//! policy (remote movements physically happened).

use crate::alerts::upsert_alert;
use crate::catalog_sync;
use crate::error::{Result, StoreError};
use crate::ledger::{insert_remote, WriteCache};
use crate::waiting;
use crate::Store;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use smartstock_core::hlc::Hlc;
use smartstock_core::merge::Stamps;
use smartstock_core::validate::MAX_SCALE;
use smartstock_core::wire::{CatalogRow, PullPage};
use smartstock_core::{Location, Movement, Product, Timestamp, ValidationError};
use std::collections::HashMap;
use uuid::Uuid;

/// What a page changed locally.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PullApplied {
    /// Movements new to this device.
    pub movements: u64,
    /// Products created or updated.
    pub products: u64,
    /// Locations created or updated.
    pub locations: u64,
    /// Alerts stored or updated.
    pub alerts: u64,
    /// Catalog notices for this device.
    pub notices: u64,
    /// The cursor after the page.
    pub cursor: i64,
}

const CURSOR_KEY: &str = "pull_cursor";

pub(crate) fn upsert_product(conn: &Connection, p: &Product) -> Result<()> {
    let sql = format!("{} {}", crate::catalog::INSERT_PRODUCT, crate::catalog::PRODUCT_UPSERT);
    crate::catalog::execute_product(&mut *conn.prepare_cached(&sql)?, p).map_err(|e| clash(e, "product", &p.sku))?;
    Ok(())
}

pub(crate) fn upsert_location(conn: &Connection, l: &Location) -> Result<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO locations ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (id) DO UPDATE SET code = excluded.code, name = excluded.name, kind = excluded.kind, \
         parent_id = excluded.parent_id, archived = excluded.archived",
        crate::catalog::LOCATION_COLUMNS
    ))?
    .execute(params![l.id.0, l.code, l.name, l.kind.as_str(), l.parent_id.map(|p| p.0), l.archived])
    .map_err(|e| clash(e, "location", &l.code))?;
    Ok(())
}

/// A server catalog row whose unique code a different local row already uses (created twice
/// offline): reported, not guessed at.
fn clash(e: rusqlite::Error, what: &'static str, code: &str) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::Conflict(format!(
                "the server's {what} {code:?} clashes with a different local {what} of the same code; \
                 the catalog merge must resolve it"
            ))
        }
        _ => e.into(),
    }
}

/// Moves the pull cursor back to `to` if it stands beyond it (the server lost feed numbers).
pub(crate) fn rewind_cursor(conn: &Connection, to: i64) -> Result<()> {
    conn.execute(
        "UPDATE settings SET value = CAST(?2 AS TEXT) WHERE key = ?1 AND CAST(value AS INTEGER) > ?2",
        params![CURSOR_KEY, to],
    )?;
    Ok(())
}

impl Store {
    /// How many pulled movements and alerts wait for a product or location not held yet.
    pub fn pulled_waiting(&self) -> Result<u64> {
        waiting::count(&self.read())
    }

    /// Where the next pull starts (0 before the first).
    pub fn pull_cursor(&self) -> Result<i64> {
        let conn = self.read();
        let value: Option<String> = conn
            .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
            .query_row([CURSOR_KEY], |r| r.get(0))
            .optional()?;
        Ok(value.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// Moves the pull cursor back to `head` if it stands beyond it, and returns the cursor. The
    /// server announced `head` as its newest feed number: a cursor beyond it means the server
    /// was restored from an older backup and will number new rows again from `head` on
    /// (pulled rows already held are recognised by id). A negative `head` (none announced yet)
    /// changes nothing.
    pub fn rewind_pull_cursor(&self, head: i64) -> Result<i64> {
        if head >= 0 {
            rewind_cursor(&self.write(), head)?;
        }
        self.pull_cursor()
    }

    /// Applies one pull page and moves the cursor, in one transaction: locations, then products,
    /// then movements (any order is fine for them), then alerts.
    #[tracing::instrument(skip_all, fields(movements = page.movements.len(), next = page.next_after))]
    pub fn apply_pull(&self, page: &PullPage) -> Result<PullApplied> {
        self.apply_pull_pages(std::slice::from_ref(page))
    }

    /// Applies consecutive pull pages (in feed order) and moves the cursor to the last one's,
    /// all in one transaction: a sync that fetched several pages while the previous write ran
    /// writes them together, and each touched level once. Nothing is written if any page fails.
    #[tracing::instrument(skip_all, fields(pages = pages.len()))]
    pub fn apply_pull_pages(&self, pages: &[PullPage]) -> Result<PullApplied> {
        let Some(last) = pages.last() else {
            return Ok(PullApplied { cursor: self.pull_cursor()?, ..PullApplied::default() });
        };
        let now = self.clock().now();
        let mut conn = self.write();
        let relaxed = Relaxed::new(&mut conn)?;
        apply_pages(relaxed.0, pages, last.next_after, now)
    }
}

/// The writer connection with `synchronous=NORMAL` for one pull transaction, back to `FULL`
/// when dropped (whatever happened, a panic included: local records must stay durable).
///
/// Pulled rows are a copy of the server's: their transaction need not wait for the disk. A
/// power cut can only lose the newest pages together with the cursor that covers them (WAL
/// keeps a consistent prefix), and the next pull fetches them again; the next local record's
/// sync covers them too.
pub(crate) struct Relaxed<'c>(pub(crate) &'c mut Connection);

impl<'c> Relaxed<'c> {
    pub(crate) fn new(conn: &'c mut Connection) -> Result<Relaxed<'c>> {
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(Relaxed(conn))
    }
}

impl Drop for Relaxed<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.pragma_update(None, "synchronous", "FULL") {
            tracing::error!(error = %e, "could not restore synchronous=FULL after a pull");
        }
    }
}

fn apply_pages(conn: &mut Connection, pages: &[PullPage], cursor: i64, now: Timestamp) -> Result<PullApplied> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut applied = PullApplied { cursor, ..PullApplied::default() };
    let mut cache = WriteCache::default();
    let mut pairs: Vec<_> =
        pages.iter().flat_map(|p| p.movements.iter().map(|m| (m.product_id, m.location_id))).collect();
    cache.preload_levels(&tx, &mut pairs)?;
    let mut newest = None;
    for page in pages {
        apply_page(&tx, &mut cache, page, &mut applied, &mut newest)?;
    }
    applied.movements += waiting::release(&tx, &mut cache)?;
    cache.flush(&tx)?;
    finish_pull(&tx, newest, cursor, now)?;
    tx.commit()?;
    Ok(applied)
}

/// The end of every pull transaction: the device clock learns the newest catalog stamp
/// received, and the cursor moves to `cursor`.
pub(crate) fn finish_pull(tx: &Connection, newest: Option<Hlc>, cursor: i64, now: Timestamp) -> Result<()> {
    if let Some(hlc) = newest {
        catalog_sync::observe(tx, hlc, now)?;
    }
    tx.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![CURSOR_KEY, cursor.to_string()],
    )?;
    Ok(())
}

/// Where a pull page's movements go: one by one through the ledger (`WriteCache`), or in bulk
/// into an empty ledger (`first_pull`).
pub(crate) trait MovementSink {
    /// Writes the movements of one page; returns how many were new.
    fn add_page(&mut self, tx: &Connection, movements: &[Movement]) -> Result<u64>;
}

impl MovementSink for WriteCache {
    fn add_page(&mut self, tx: &Connection, movements: &[Movement]) -> Result<u64> {
        let mut added = 0;
        for movement in movements {
            added += u64::from(insert_remote(tx, self, movement)?);
        }
        Ok(added)
    }
}

/// One page inside the caller's transaction: locations, then products, then movements (any
/// order is fine for them), then alerts. Levels stay in `sink` until the caller flushes;
/// `newest` keeps the newest catalog stamp seen.
pub(crate) fn apply_page(
    tx: &Connection,
    sink: &mut impl MovementSink,
    page: &PullPage,
    applied: &mut PullApplied,
    newest: &mut Option<Hlc>,
) -> Result<()> {
    let stamps: HashMap<Uuid, &Stamps> = page.stamps.iter().map(|s| (s.id, &s.stamps)).collect();
    let unstamped = Stamps::new();
    let stamps_of = |id: Uuid| stamps.get(&id).copied().unwrap_or(&unstamped);
    for product in &page.products {
        check_product_columns(product)?;
    }
    for location in &page.locations {
        catalog_sync::merge_from_server(tx, &CatalogRow::Location(location.clone()), stamps_of(location.id.0))?;
        applied.locations += 1;
    }
    apply_products(tx, &page.products, &stamps_of)?;
    applied.products += page.products.len() as u64;
    applied.movements += sink.add_page(tx, &page.movements)?;
    for alert in &page.alerts {
        match waiting::catalog_known(tx, alert.product_id, &[alert.location_id])? {
            true => upsert_alert(tx, alert)?,
            false => waiting::park_alert(tx, alert)?,
        }
        applied.alerts += 1;
    }
    for notice in &page.notices {
        catalog_sync::store_notice(tx, notice)?;
        applied.notices += 1;
    }
    *newest = (*newest).max(page.stamps.iter().filter_map(|s| catalog_sync::newest(&s.stamps)).max());
    Ok(())
}

/// What the products table's CHECK constraints check, in Rust: a first pull writes with them off
/// (`first_pull::BulkSettings`). Exactly those rules and no stricter ones, so a row the table
/// would take is never refused here (a pull that always fails would stop the device syncing).
/// A location's checked columns (its kind, archived) cannot hold a wrong value once typed.
fn check_product_columns(product: &Product) -> Result<()> {
    let sku = &product.sku;
    let non_negative = [
        ("reorder_point", product.reorder_point),
        ("reorder_qty", product.reorder_qty),
        ("cost", product.cost_minor),
        ("price", product.price_minor),
    ];
    if let Some((field, value)) = non_negative.into_iter().find(|(_, value)| *value < 0) {
        return Err(ValidationError::new(field, format!("of product {sku} must not be negative (got {value})")).into());
    }
    if product.unit_scale > MAX_SCALE {
        return Err(ValidationError::new("unit_scale", format!("of product {sku} must be 0 to {MAX_SCALE}")).into());
    }
    Ok(())
}

/// Rows per multi-row statement of a pull's bulk writes, largest first: fewer statements mean
/// fewer round trips into SQLite (binding, stepping, index upkeep per statement).
const CHUNKS: [usize; 3] = [256, 16, 1];

/// Calls `write` with `rows` split into chunks of the `CHUNKS` sizes (a few prepared statements
/// serve any count).
fn in_chunks<T>(rows: &[T], mut write: impl FnMut(&[T]) -> Result<()>) -> Result<()> {
    let mut rest = rows;
    for size in CHUNKS {
        while rest.len() >= size {
            let (chunk, tail) = rest.split_at(size);
            write(chunk)?;
            rest = tail;
        }
    }
    Ok(())
}

/// `INSERT INTO <table> (<columns>) VALUES (<row>), … <tail>` for `rows` rows.
pub(crate) fn multi_row_sql(head: &str, row: &str, rows: usize, tail: &str) -> String {
    let row = format!("({row})");
    format!("{head} VALUES {} {tail}", vec![row.as_str(); rows].join(", "))
}

/// `?, ?, …` for `columns` columns.
fn placeholders(columns: usize) -> String {
    vec!["?"; columns].join(", ")
}

/// A page's products: those this device holds stamps for merge field by field
/// (`catalog_sync::merge_from_server`); the others take the server's row and stamps as they
/// are (what that merge gives them), written many to a statement.
fn apply_products<'s>(tx: &Connection, products: &[Product], stamps_of: &impl Fn(Uuid) -> &'s Stamps) -> Result<()> {
    let mut unstamped = Vec::with_capacity(products.len());
    for product in products {
        if catalog_sync::load_stamps(tx, product.id.0)?.is_empty() {
            unstamped.push(product);
        } else {
            catalog_sync::merge_from_server(tx, &CatalogRow::Product(product.clone()), stamps_of(product.id.0))?;
        }
    }
    in_chunks(&unstamped, |chunk| upsert_products(tx, chunk))?;
    let stamps: Vec<(Uuid, String)> = unstamped
        .iter()
        .map(|p| (p.id.0, stamps_of(p.id.0)))
        .filter(|(_, stamps)| !stamps.is_empty())
        .map(|(id, stamps)| (id, catalog_sync::encode_stamps(stamps)))
        .collect();
    in_chunks(&stamps, |chunk| save_row_stamps(tx, chunk))
}

const PRODUCT_COLUMN_COUNT: usize = 12;

/// Upserts server products in one statement; a unique-code clash is retried row by row, so the
/// error names the product.
fn upsert_products(tx: &Connection, chunk: &[&Product]) -> Result<()> {
    let sql = multi_row_sql(
        &format!("INSERT INTO products ({})", crate::catalog::PRODUCT_COLUMNS),
        &placeholders(PRODUCT_COLUMN_COUNT),
        chunk.len(),
        crate::catalog::PRODUCT_UPSERT,
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    let mut index = 0;
    let mut bind = |value: &dyn rusqlite::ToSql| {
        index += 1;
        stmt.raw_bind_parameter(index, value)
    };
    for p in chunk {
        bind(&p.id.0)?;
        bind(&p.sku)?;
        bind(&p.name)?;
        bind(&p.barcode)?;
        bind(&p.unit)?;
        bind(&p.unit_scale)?;
        bind(&p.reorder_point)?;
        bind(&p.reorder_qty)?;
        bind(&p.cost_minor)?;
        bind(&p.price_minor)?;
        bind(&p.archived)?;
        bind(&p.negative_stock.map(|n| n.as_str()))?;
    }
    match stmt.raw_execute() {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            chunk.iter().try_for_each(|p| upsert_product(tx, p))
        }
        Err(e) => Err(e.into()),
    }
}

/// Stores the stamps of rows that held none, `(entity id, encoded stamps)`, in one statement.
fn save_row_stamps(tx: &Connection, chunk: &[(Uuid, String)]) -> Result<()> {
    let sql = multi_row_sql(
        "INSERT INTO catalog_row_stamps (entity_id, stamps)",
        &placeholders(2),
        chunk.len(),
        "ON CONFLICT (entity_id) DO UPDATE SET stamps = excluded.stamps",
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    let mut index = 0;
    for (id, stamps) in chunk {
        index += 1;
        stmt.raw_bind_parameter(index, id)?;
        index += 1;
        stmt.raw_bind_parameter(index, stamps)?;
    }
    stmt.raw_execute()?;
    Ok(())
}
