//! `reconcile`: recomputes every level and checksum from the ledger alone (the level rule of
//! `smartstock-core`, voids and rejections applied from the movement rows themselves, not from
//! cached columns) and reports each product × location whose cache differs. With `repair` it
//! rewrites the differing cache rows in the same transaction; the ledger is never touched.
//!
//! Must not: change a movement, or trust the cache it is checking.

use crate::error::Result;
use crate::{sql, Store};
use rusqlite::{Connection, TransactionBehavior};
use smartstock_core::level::{entries_of, level_of};
use smartstock_core::{LedgerDigest, LocationId, Movement, ProductId};
use std::collections::HashMap;

/// One product × location whose cached level or checksum is not what the ledger says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LevelDifference {
    /// Product.
    pub product_id: ProductId,
    /// Location.
    pub location_id: LocationId,
    /// Cached level (`None`: no cache row).
    pub cached: Option<i64>,
    /// Level by the level rule over the ledger.
    pub computed: i64,
    /// Cached checksum.
    pub cached_digest: Option<LedgerDigest>,
    /// Checksum of the ledger.
    pub computed_digest: LedgerDigest,
}

/// What `reconcile` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Product × location pairs checked.
    pub pairs_checked: u64,
    /// Those that differ.
    pub differences: Vec<LevelDifference>,
    /// Whether the differences were repaired.
    pub repaired: bool,
}

impl Store {
    /// Checks every cached level and checksum against the ledger; `repair` rewrites the wrong
    /// ones.
    #[tracing::instrument(skip_all)]
    pub fn reconcile(&self, repair: bool) -> Result<ReconcileReport> {
        let mut conn = self.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut report = check_all(&tx)?;
        if repair && !report.differences.is_empty() {
            for d in &report.differences {
                crate::ledger::recompute_pair(&tx, d.product_id, d.location_id)?;
            }
            report.repaired = true;
        }
        tx.commit()?;
        Ok(report)
    }
}

fn check_all(conn: &Connection) -> Result<ReconcileReport> {
    let mut by_pair: HashMap<(ProductId, LocationId), Vec<Movement>> = HashMap::new();
    let mut stmt =
        conn.prepare(&format!("SELECT {} FROM movements WHERE sync_state <> 'rejected'", sql::MOVEMENT_COLUMNS))?;
    for row in stmt.query_map([], sql::movement_from_row)? {
        let m = row?;
        by_pair.entry((m.product_id, m.location_id)).or_default().push(m);
    }
    let mut cached_pairs = conn.prepare("SELECT product_id, location_id FROM levels")?;
    for row in cached_pairs.query_map([], |r| Ok((ProductId(r.get(0)?), LocationId(r.get(1)?))))? {
        by_pair.entry(row?).or_default();
    }
    let mut report = ReconcileReport::default();
    let mut pairs: Vec<_> = by_pair.into_iter().collect();
    pairs.sort_by_key(|(pair, _)| *pair);
    for ((product_id, location_id), movements) in pairs {
        report.pairs_checked += 1;
        let computed = level_of(&entries_of(&movements))?.on_hand;
        let computed_digest = LedgerDigest::of_all(&movements);
        let cached = sql::load_level(conn, product_id, location_id)?;
        let matches = cached.is_some_and(|(level, digest)| level.on_hand == computed && digest == computed_digest);
        let empty_and_absent = cached.is_none() && movements.is_empty();
        if !matches && !empty_and_absent {
            report.differences.push(LevelDifference {
                product_id,
                location_id,
                cached: cached.map(|(level, _)| level.on_hand),
                computed,
                cached_digest: cached.map(|(_, digest)| digest),
                computed_digest,
            });
        }
    }
    Ok(report)
}
