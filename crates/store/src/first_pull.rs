//! A first sync into an empty ledger: the server's whole backlog written the way a bulk load
//! should be, in one transaction that readers do not see until it commits.
//!
//! - The `movements_pair` index is dropped at the start and built once at the end: inserting a
//!   million rows in random product order into it costs about three times the rows themselves,
//!   building it from the finished table costs a sort.
//! - Movements go in 256 to a statement. Whether a movement is new, and which void already waits
//!   for it, is known from this load alone (the ledger was empty), without asking SQLite per row.
//! - Levels and checksums are kept in memory by the level rule and written once per pair at the
//!   end; the tables derived from levels (the stock table's per-product pair counts and its low
//!   levels) are filled in one statement each, not by a trigger per level.
//!   A pair the incremental rule cannot answer (a count older than what it holds, a void) is
//!   recomputed from the ledger once the index exists.
//! - SQLite's foreign-key and CHECK constraints are off for the transaction; the same rules are
//!   checked in Rust before anything is written (`BulkSettings`).
//!
//! A crash rolls the whole transaction back (the cursor with it) and the next sync starts again
//! from an empty ledger. The load stops taking pages after `MAX_MOVEMENTS`, so a local record
//! waits for a bounded write; the rest of the backlog is pulled the usual way.
//!
//! Must not: run on a ledger that already holds movements (`Store::apply_first_pull` applies
//! one page the usual way then), or apply the negative-stock policy (pulled movements happened).

use crate::error::{Result, StoreError};
use crate::ledger::{insert_remote, recompute_pair, WriteCache};
use crate::remote::{apply_page, finish_pull, multi_row_sql, MovementSink, PullApplied, Relaxed};
use crate::waiting;
use crate::{sql, Store};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use smartstock_core::level::Applied;
use smartstock_core::wire::PullPage;
use smartstock_core::{LocationId, Movement, MovementId, MovementKind, ProductId};
use std::time::{Duration, Instant};

/// Most movements one first-pull transaction takes (about 250 MB of ledger).
pub const MAX_MOVEMENTS: u64 = 2_000_000;

/// Rows per multi-row movement insert (19 bound values each, under SQLite's 32,766).
const ROWS_PER_STATEMENT: usize = 256;

impl Store {
    /// Whether the ledger holds no movement yet (a first sync can take the bulk path).
    pub fn holds_no_movements(&self) -> Result<bool> {
        Ok(!self.read().query_row("SELECT EXISTS (SELECT 1 FROM movements)", [], |r| r.get::<_, bool>(0))?)
    }

    /// Copies the write-ahead log into the database file from a connection of its own, without
    /// blocking readers or the writer (SQLite's passive checkpoint). Call it in the background
    /// after a first pull, which leaves about the whole ledger in the log.
    pub fn checkpoint(&self) -> Result<()> {
        let conn = Connection::open(self.path())?;
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Applies a first sync's pages as `pages` yields them, all in one transaction with the
    /// cursor of the last page taken. On an empty ledger with more than one page to come this is
    /// the bulk path (module doc) and it takes pages until the last one (`has_more` false), until
    /// `pages` ends, or past `MAX_MOVEMENTS`; otherwise it applies the first page the usual way.
    /// A page `pages` never yields is left to the caller.
    #[tracing::instrument(skip_all)]
    pub fn apply_first_pull(&self, pages: &mut dyn Iterator<Item = PullPage>) -> Result<PullApplied> {
        let Some(first) = pages.next() else {
            return Ok(PullApplied { cursor: self.pull_cursor()?, ..PullApplied::default() });
        };
        let now = self.clock().now();
        let mut conn = self.write();
        // Nobody else writes while the writer lock is held: the answer holds for the transaction.
        let empty: bool = conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM movements)", [], |r| r.get(0))?;
        let relaxed = Relaxed::new(&mut conn)?;
        let mut applied = PullApplied::default();
        let mut newest = None;
        if !(empty && first.has_more) {
            let tx = relaxed.0.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut cache = WriteCache::default();
            apply_page(&tx, &mut cache, &first, &mut applied, &mut newest)?;
            applied.movements += waiting::release(&tx, &mut cache)?;
            cache.flush(&tx)?;
            finish_pull(&tx, newest, first.next_after, now)?;
            tx.commit()?;
            applied.cursor = first.next_after;
            return Ok(applied);
        }
        let bulk = BulkSettings::new(relaxed.0)?;
        let tx = bulk.0.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut load = BulkMovements::begin(&tx)?;
        let mut page = first;
        let (mut writing, mut waited) = (Duration::ZERO, Duration::ZERO);
        loop {
            let started = Instant::now();
            apply_page(&tx, &mut load, &page, &mut applied, &mut newest)?;
            writing += started.elapsed();
            applied.cursor = page.next_after;
            if !page.has_more || applied.movements >= MAX_MOVEMENTS {
                break;
            }
            let asked = Instant::now();
            let next = pages.next();
            waited += asked.elapsed();
            match next {
                Some(next) => page = next,
                None => break,
            }
        }
        let started = Instant::now();
        let (index, levels, joined) = load.finish(&tx)?;
        applied.movements += joined;
        finish_pull(&tx, newest, applied.cursor, now)?;
        tx.commit()?;
        tracing::info!(
            movements = applied.movements,
            products = applied.products,
            pages_ms = writing.as_millis() as u64,
            waiting_for_pages_ms = waited.as_millis() as u64,
            pair_index_ms = index.as_millis() as u64,
            levels_ms = levels.as_millis() as u64,
            end_ms = started.elapsed().as_millis() as u64,
            "first pull written"
        );
        Ok(applied)
    }
}

/// The movements of a first pull (module doc).
pub(crate) struct BulkMovements {
    /// `CREATE INDEX movements_pair …` as the schema holds it, run again at the end.
    pair_index: Option<String>,
    /// `CREATE TRIGGER …` of the level-insert triggers of `LEVEL_DERIVED`, likewise, with the
    /// statement that fills their table at the end.
    level_triggers: Vec<(String, &'static str)>,
    levels: WriteCache,
    held: HashSet<MovementId>,
    /// Movement id → the void that arrived before it.
    void_waiting: HashMap<MovementId, MovementId>,
    recompute: HashSet<(ProductId, LocationId)>,
    /// Products and locations known to exist (SQLite's foreign-key checks are off).
    known_products: HashSet<ProductId>,
    known_locations: HashSet<LocationId>,
    /// Movements whose product or location no page had brought yet (`waiting`).
    held_back: Vec<Movement>,
}

impl BulkMovements {
    fn begin(tx: &Connection) -> Result<BulkMovements> {
        Ok(BulkMovements {
            pair_index: drop_schema_object(tx, "index", "movements_pair")?,
            level_triggers: drop_level_triggers(tx)?,
            levels: WriteCache::for_empty_ledger(),
            held: HashSet::default(),
            void_waiting: HashMap::default(),
            recompute: HashSet::default(),
            known_products: HashSet::default(),
            known_locations: HashSet::default(),
            held_back: Vec::new(),
        })
    }

    /// Builds the pair index again, writes every level once, and recomputes the pairs the
    /// incremental rule could not answer; then the movements held back join the ledger the usual
    /// way if what they name came in a later page, or wait (`waiting`). Returns how long the
    /// index and the levels took, and how many held-back or earlier parked movements joined.
    fn finish(mut self, tx: &Connection) -> Result<(Duration, Duration, u64)> {
        let started = Instant::now();
        if let Some(index) = &self.pair_index {
            // The sort may use a second core: the pages are all fetched by now.
            tx.pragma_update(None, "threads", SORT_THREADS)?;
            let built = tx.execute_batch(index);
            tx.pragma_update(None, "threads", 0)?;
            built?;
        }
        let index = started.elapsed();
        let started = Instant::now();
        self.levels.flush_into_empty(tx)?;
        for (trigger, fill) in &self.level_triggers {
            tx.execute_batch(trigger)?;
            tx.execute_batch(fill)?;
        }
        check_foreign_keys(tx, "locations")?;
        check_foreign_keys(tx, "alerts")?;
        let mut pairs: Vec<_> = self.recompute.into_iter().collect();
        pairs.sort_unstable();
        for (product, location) in pairs {
            recompute_pair(tx, product, location)?;
        }
        let levels = started.elapsed();
        // SQLite's foreign keys are still off: `catalog_known` checks before anything joins.
        let mut cache = WriteCache::default();
        let mut joined = 0;
        for movement in &self.held_back {
            match waiting::catalog_known(tx, movement.product_id, &waiting::movement_locations(movement))? {
                true => joined += u64::from(insert_remote(tx, &mut cache, movement)?),
                false => waiting::park_movement(tx, movement)?,
            }
        }
        joined += waiting::release(tx, &mut cache)?;
        cache.flush(tx)?;
        Ok((index, levels, joined))
    }

    /// What SQLite's foreign keys would check: whether the movement's product and locations
    /// exist (each id found is looked up once per load).
    fn catalog_known(&mut self, tx: &Connection, movement: &Movement) -> Result<bool> {
        if !self.known_products.contains(&movement.product_id) {
            if !waiting::product_known(tx, movement.product_id)? {
                return Ok(false);
            }
            self.known_products.insert(movement.product_id);
        }
        for location in waiting::movement_locations(movement) {
            if !self.known_locations.contains(&location) {
                if !waiting::location_known(tx, location)? {
                    return Ok(false);
                }
                self.known_locations.insert(location);
            }
        }
        Ok(true)
    }

    /// Takes one movement into the levels held in memory; `voided_by` is the void that already
    /// cancelled it.
    fn take_level(&mut self, movement: &Movement, voided_by: Option<MovementId>) -> Result<()> {
        let pair = (movement.product_id, movement.location_id);
        let (mut level, mut digest) = self.levels.cached_level(pair);
        digest.add(movement);
        if voided_by.is_none() {
            if let Some(entry) = movement.level_entry() {
                if level.apply(&entry)? == Applied::NeedsRecompute {
                    self.recompute.insert(pair);
                }
            }
        }
        self.levels.set_level(pair.0, pair.1, level, digest);
        Ok(())
    }

    /// A void: cancels its target if the ledger holds it already, or waits for it. Either way
    /// its pair is recomputed at the end (voids are rare; the incremental removal is not worth a
    /// second code path here).
    fn take_void(&mut self, tx: &Connection, void: &Movement) -> Result<()> {
        let target_id = void.voided_id()?;
        self.recompute.insert((void.product_id, void.location_id));
        if !self.held.contains(&target_id) {
            self.void_waiting.entry(target_id).or_insert(void.id);
            return Ok(());
        }
        if let Some((target, None, _)) = sql::movement_by_id(tx, target_id)? {
            if (target.product_id, target.location_id) != (void.product_id, void.location_id) {
                return Err(smartstock_core::ValidationError::new(
                    "ref",
                    format!("void {} names movement {target_id} of another product or location", void.id),
                )
                .into());
            }
            tx.prepare_cached("UPDATE movements SET voided_by = ?1 WHERE id = ?2")?
                .execute([void.id.0, target_id.0])?;
        }
        Ok(())
    }
}

impl MovementSink for BulkMovements {
    fn add_page(&mut self, tx: &Connection, movements: &[Movement]) -> Result<u64> {
        let mut rows: Vec<(&Movement, Option<MovementId>)> = Vec::with_capacity(movements.len());
        let mut added = 0;
        for movement in movements {
            movement.validate()?;
            if !self.held.insert(movement.id) {
                continue;
            }
            if !self.catalog_known(tx, movement)? {
                self.held_back.push(movement.clone());
                continue;
            }
            added += 1;
            if movement.kind == MovementKind::Void {
                // Its target must be in the ledger before the void marks it.
                write_rows(tx, &mut self.levels, &rows)?;
                rows.clear();
                write_rows(tx, &mut self.levels, &[(movement, None)])?;
                self.take_level(movement, None)?;
                self.take_void(tx, movement)?;
                continue;
            }
            let voided_by = self.void_waiting.remove(&movement.id);
            self.take_level(movement, voided_by)?;
            rows.push((movement, voided_by));
        }
        write_rows(tx, &mut self.levels, &rows)?;
        Ok(added)
    }
}

/// The triggers that keep a table derived from levels as each level is inserted, and the
/// statement that fills that table from every level at once (the ledger was empty, so each
/// adds to nothing the load did not write).
const LEVEL_DERIVED: [(&str, &str); 2] = [
    (
        "product_pairs_insert",
        "INSERT INTO product_pairs (product_rowid, pairs) \
         SELECT p.rowid, COUNT(*) FROM levels l JOIN products p ON p.id = l.product_id GROUP BY p.rowid \
         ON CONFLICT (product_rowid) DO UPDATE SET pairs = pairs + excluded.pairs",
    ),
    (
        "low_levels_insert",
        "INSERT OR IGNORE INTO low_levels (product_rowid, location_id) \
         SELECT p.rowid, l.location_id FROM levels l JOIN products p ON p.id = l.product_id \
         WHERE p.reorder_point > 0 AND l.on_hand <= p.reorder_point",
    ),
];

/// Drops the level-insert triggers of `LEVEL_DERIVED` for the load; returns each one's SQL with
/// its fill statement.
fn drop_level_triggers(tx: &Connection) -> Result<Vec<(String, &'static str)>> {
    let mut dropped = Vec::new();
    for (name, fill) in LEVEL_DERIVED {
        if let Some(sql) = drop_schema_object(tx, "trigger", name)? {
            dropped.push((sql, fill));
        }
    }
    Ok(dropped)
}

/// Drops a schema object (inside the caller's transaction) and returns the SQL that makes it
/// again, `None` if there is none of that name.
fn drop_schema_object(tx: &Connection, kind: &str, name: &str) -> Result<Option<String>> {
    let sql: Option<String> = tx
        .query_row("SELECT sql FROM sqlite_schema WHERE type = ?1 AND name = ?2", [kind, name], |r| r.get(0))
        .optional()?;
    if sql.is_some() {
        tx.execute_batch(&format!("DROP {kind} {name}"))?;
    }
    Ok(sql)
}

/// Sorter threads for building the pair index.
const SORT_THREADS: i64 = 2;

/// SQLite's default: a commit that leaves more log pages than this copies them into the file.
const AUTOCHECKPOINT_PAGES: i64 = 1000;

/// The writer connection set up for one first-pull transaction, back to normal when dropped
/// (whatever happened):
/// - SQLite's foreign-key checks off: `BulkMovements::check_catalog` does the movements' checks
///   once per id instead of twice per row, `check_foreign_keys` the small tables';
/// - SQLite's CHECK constraints off: they cost about a quarter of each movement insert (1.1 of
///   3.7 s for a million movements), and every row this transaction writes was checked in Rust
///   already: movements by `Movement::validate`, pulled products by the same rules as their
///   table's checks (`remote::check_product_columns`), and the rest (locations, levels, alerts,
///   stamps, pair counts) holds only values typed in Rust that those checks cannot refuse. SQLite reads the setting when it compiles a statement
///   and expires every prepared statement when it changes, so the statements cached during the
///   load are compiled again, with their checks, at their next use after it;
/// - no checkpoint inside the commit: the log then holds about the whole ledger, and copying it
///   into the file is left to `Store::checkpoint` on a connection of its own, so the pulled
///   stock is readable without waiting for that copy.
struct BulkSettings<'c>(&'c mut Connection);

impl<'c> BulkSettings<'c> {
    fn new(conn: &'c mut Connection) -> Result<BulkSettings<'c>> {
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        conn.pragma_update(None, "ignore_check_constraints", true)?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(BulkSettings(conn))
    }
}

impl Drop for BulkSettings<'_> {
    fn drop(&mut self) {
        let restored = self
            .0
            .pragma_update(None, "foreign_keys", "ON")
            .and_then(|()| self.0.pragma_update(None, "ignore_check_constraints", false))
            .and_then(|()| self.0.pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES));
        if let Err(e) = restored {
            tracing::error!(error = %e, "could not restore the writer's settings after a first pull");
        }
    }
}

/// Fails if a row of `table` names a parent that does not exist.
fn check_foreign_keys(tx: &Connection, table: &str) -> Result<()> {
    let broken: Option<(String, String)> =
        tx.query_row(&format!("PRAGMA foreign_key_check({table})"), [], |r| Ok((r.get(0)?, r.get(2)?))).optional()?;
    match broken {
        Some((child, parent)) => Err(StoreError::Conflict(format!(
            "the server sent a row of {child} that names a missing row of {parent}; sync again to fetch it"
        ))),
        None => Ok(()),
    }
}

/// Writes rows `ROWS_PER_STATEMENT` to a statement. A chunk SQLite refuses is written again row
/// by row, so the error names the movement and what it lacks.
fn write_rows(tx: &Connection, cache: &mut WriteCache, rows: &[(&Movement, Option<MovementId>)]) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        match insert_chunk(tx, chunk) {
            Ok(()) => {}
            Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)))
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                for (movement, voided_by) in chunk {
                    if let Err(e) = sql::insert_accepted_movement(tx, movement, *voided_by) {
                        cache.name_missing_catalog(tx, movement)?;
                        return Err(e);
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn insert_chunk(tx: &Connection, chunk: &[(&Movement, Option<MovementId>)]) -> Result<()> {
    let sql = multi_row_sql(
        &format!("INSERT INTO movements ({}, sync_state, voided_by)", sql::MOVEMENT_COLUMNS),
        &format!("{}, 'accepted', ?", vec!["?"; 18].join(", ")),
        chunk.len(),
        "",
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    let mut index = 0;
    for (m, voided_by) in chunk {
        let values: [&dyn rusqlite::ToSql; 19] = [
            &m.id.0,
            &m.device_id.0,
            &m.device_seq,
            &m.user_id.0,
            &m.kind.as_str(),
            &m.product_id.0,
            &m.location_id.0,
            &m.delta,
            &m.counted_qty,
            &m.reason.map(|r| r.as_str()),
            &m.note,
            &m.reference,
            &m.peer_location_id.map(|l| l.0),
            &m.occurred_at.millis(),
            &m.recorded_at.millis(),
            &m.server_seq,
            &m.qty_before,
            &m.qty_after,
            &voided_by.map(|v| v.0),
        ];
        for value in values {
            index += 1;
            stmt.raw_bind_parameter(index, value)?;
        }
    }
    stmt.raw_execute()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_constraints_are_off_only_while_the_bulk_settings_live() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("ledger.sqlite3")).unwrap();
        let mut conn = store.write();
        let negative = "INSERT INTO product_pairs (product_rowid, pairs) VALUES (?1, -1)";
        {
            let bulk = BulkSettings::new(&mut conn).unwrap();
            bulk.0.prepare_cached(negative).unwrap().execute([1]).unwrap();
        }
        let setting: bool = conn.query_row("PRAGMA ignore_check_constraints", [], |r| r.get(0)).unwrap();
        assert!(!setting, "the writer checks again");
        let again = conn.prepare_cached(negative).unwrap().execute([2]);
        assert!(again.is_err(), "a statement cached during the load is compiled again, with its checks");
    }
}
