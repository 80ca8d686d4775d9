//! `smartstock-server import products|locations|stock FILE`: the desktop store's CSV import, run
//! against the server. The columns, rules and per-row errors are the store's own
//! (`smartstock_store::import`), not a copy: the file is imported into a throwaway
//! [`Store`] that holds the server's current catalog (so a SKU, barcode or code the server already
//! has is refused, and opening stock finds the server's products and locations), and what that
//! import wrote is then written to the server:
//!
//! - products and locations with `Storage::save_product` / `save_location` (audited, in the feed,
//!   as the catalog endpoints do; parents before their children);
//! - opening stock as the `count` movements (reason `opening`) the store recorded, pushed in one
//!   `Storage::push` from the server's `import` device, which belongs to the bootstrap admin
//!   `admin` and is registered on first use; each import continues its sequence.
//!
//! A file with a bad row writes nothing unless the caller skips bad rows; a dry run writes nothing.
//! Catalog rows are saved one by one: if the server refuses one partway (another client took the
//! SKU meanwhile), the error says how many were written and how to finish.
//!
//! Must not: parse or validate a row itself (the store does), or write by any path but the
//! `Storage` trait.

use crate::storage::{Pusher, Role, Storage, StorageError};
use smartstock_core::wire::{Outcome, PushRequest, WIRE_VERSION};
use smartstock_core::{DeviceId, Location, LocationId, Product, ProductId, Timestamp, UserId};
use smartstock_store::import::{ImportOptions, ImportReport};
use smartstock_store::{Actor, Store, StoreError};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::path::Path;

/// The login whose `import` device records opening stock (the bootstrap admin made by `init`).
pub const IMPORT_USER: &str = "admin";

/// The device opening stock is pushed from. Fixed, so every import continues one sequence.
pub const IMPORT_DEVICE: DeviceId = DeviceId(uuid::Uuid::from_u128(0x5353_494d_504f_5254_8000_0000_0000_0001));

/// What a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportKind {
    /// `sku,name,barcode,unit,unit_scale,reorder_point,reorder_qty,cost,price`.
    Products,
    /// `code,name,kind,parent_code`.
    Locations,
    /// Opening stock: `sku,location_code,quantity`.
    Stock,
}

impl ImportKind {
    fn noun(self) -> &'static str {
        match self {
            ImportKind::Products => "products",
            ImportKind::Locations => "locations",
            ImportKind::Stock => "opening stock",
        }
    }
}

/// Why an import stopped (its rows' own errors are in the report instead).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The server has no bootstrap admin to import as.
    #[error("there is no user `{IMPORT_USER}` to import as; run `smartstock-server init` first")]
    NoAdmin,
    /// The server's database failed or refused.
    #[error("{0}")]
    Storage(#[from] StorageError),
    /// The file could not be read to the end.
    #[error("cannot read the file: {0}; check that it is a readable CSV file")]
    Read(String),
    /// The scratch store failed (disk, temporary folder).
    #[error("the scratch database used to check the file failed: {0}; check the space and permissions of the temporary folder (TMPDIR)")]
    Scratch(String),
    /// The server's own catalog could not be loaded into the scratch store.
    #[error("the server's {what} cannot be loaded to check the file against it: {error}; fix it on the server, then import again")]
    Catalog {
        /// The product or location, by SKU or code.
        what: String,
        /// Why.
        error: String,
    },
    /// The server refused a catalog row after others of the file were written.
    #[error(
        "the server refused {what} after {written} of {total} rows were written: {error}. \
         The {written} written rows stay; import the file again with --skip-bad-rows to write the rest \
         (the rows already written are then reported as duplicates)"
    )]
    Partial {
        /// The refused row, by SKU or code.
        what: String,
        /// Rows written before it.
        written: u64,
        /// Rows to write.
        total: u64,
        /// Why.
        error: StorageError,
    },
}

impl From<StoreError> for ImportError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Io(_) | StoreError::Csv(_) => ImportError::Read(e.to_string()),
            other => ImportError::Scratch(other.to_string()),
        }
    }
}

/// `1 row`, `2 rows`.
fn rows(n: u64) -> String {
    if n == 1 {
        "1 row".into()
    } else {
        format!("{n} rows")
    }
}

/// What an import did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerImport {
    /// What the file held.
    pub kind: ImportKind,
    /// The store's report: rows, rows written to the server, and every refused row with its line,
    /// column and message.
    pub report: ImportReport,
    /// Rows that passed the file's checks but that the server refused (opening stock the
    /// server's rules rejected), as sentences naming the row.
    pub refused_by_server: Vec<String>,
}

impl ServerImport {
    /// Whether every row was accepted (a dry run: would be).
    pub fn clean(&self) -> bool {
        self.report.rows_failed == 0 && self.report.errors.is_empty() && self.refused_by_server.is_empty()
    }

    /// The printed report: a summary line, then one line per refused row.
    pub fn render(&self, file: &str, skip_bad_rows: bool) -> String {
        let r = &self.report;
        let noun = self.kind.noun();
        let mut out = if r.dry_run {
            format!(
                "Dry run of {file} ({noun}): {} checked, {} with errors; nothing was written.",
                rows(r.rows_total),
                r.rows_failed
            )
        } else if r.rows_total == 0 && !r.errors.is_empty() {
            format!("Refused {file} ({noun}): the header is wrong, so nothing was imported.")
        } else if r.rows_failed > 0 && !skip_bad_rows {
            format!(
                "Refused {file} ({noun}): {} of {} rows have errors, so nothing was imported. Fix them, or \
                 import the good rows with --skip-bad-rows.",
                r.rows_failed, r.rows_total
            )
        } else {
            let mut line = format!("Imported {} of {} rows ({noun}) from {file}", r.rows_imported, r.rows_total);
            if r.rows_failed > 0 {
                line.push_str(&format!("; {} with errors skipped", rows(r.rows_failed)));
            }
            if !self.refused_by_server.is_empty() {
                line.push_str(&format!("; the server refused {}", self.refused_by_server.len()));
            }
            line.push('.');
            line
        };
        for error in &r.errors {
            out.push_str(&format!("\n  {error}"));
        }
        let unlisted = r.rows_failed.saturating_sub(r.errors.len() as u64);
        if unlisted > 0 {
            out.push_str(&format!("\n  … and {} more with errors", rows(unlisted)));
        }
        for refusal in &self.refused_by_server {
            out.push_str(&format!("\n  refused by the server: {refusal}"));
        }
        out
    }
}

impl fmt::Display for ImportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.noun())
    }
}

/// Imports `input` (CSV of `kind`) into `storage` as the bootstrap admin, at `now`.
pub fn import(
    storage: &dyn Storage,
    kind: ImportKind,
    input: impl Read,
    options: &ImportOptions,
    now: Timestamp,
) -> Result<ServerImport, ImportError> {
    let admin = storage.user_by_name(IMPORT_USER)?.ok_or(ImportError::NoAdmin)?;
    let actor = Actor { user_id: admin.id };
    let scratch = tempfile::Builder::new()
        .prefix("smartstock-import-")
        .tempdir()
        .map_err(|e| ImportError::Scratch(format!("cannot create a temporary folder: {e}")))?;
    let store = Store::open(scratch.path().join("check.db"))?;
    let server_products = storage.products()?;
    let server_locations = storage.locations()?;
    load_catalog(store.path(), &server_products, &server_locations)?;
    let mut progress = |_| {};
    let mut report = match kind {
        ImportKind::Products => store.import_products(actor, input, options, &mut progress)?,
        ImportKind::Locations => store.import_locations(actor, input, options, &mut progress)?,
        ImportKind::Stock => store.import_opening_stock(actor, input, options, &mut progress)?,
    };
    let mut result = ServerImport { kind, report: report.clone(), refused_by_server: Vec::new() };
    if report.dry_run || report.rows_imported == 0 {
        return Ok(result);
    }
    match kind {
        ImportKind::Products => {
            let known: HashSet<ProductId> = server_products.iter().map(|p| p.id).collect();
            let new: Vec<Product> = scratch_products(&store)?.into_iter().filter(|p| !known.contains(&p.id)).collect();
            report.rows_imported =
                save_all(&new, |p| storage.save_product(admin.id, p, now), |p| format!("product {:?}", p.sku))?;
        }
        ImportKind::Locations => {
            let known: HashSet<LocationId> = server_locations.iter().map(|l| l.id).collect();
            let new: Vec<Location> =
                parents_first(store.locations()?).into_iter().filter(|l| !known.contains(&l.id)).collect();
            report.rows_imported =
                save_all(&new, |l| storage.save_location(admin.id, l, now), |l| format!("location {:?}", l.code))?;
        }
        ImportKind::Stock => {
            let (accepted, refused) = push_opening_stock(storage, &store, admin.id, now)?;
            report.rows_imported = accepted;
            result.refused_by_server = refused;
        }
    }
    result.report = report;
    Ok(result)
}

/// Copies the server's catalog into the scratch store, in one transaction with the store's own
/// column lists. (`Store::create_product` would sync the disk once per row: minutes for a large
/// catalog. The copy needs no audit, and the rows were validated when the server saved them; the
/// store's constraints still apply.) Parents go before children; a parent the server does not
/// hold is left out of the copy, as only codes and ids matter to the checks.
pub(crate) fn load_catalog(path: &Path, products: &[Product], locations: &[Location]) -> Result<(), ImportError> {
    use rusqlite::params;
    use smartstock_store::catalog::LOCATION_COLUMNS;
    let scratch = |e: rusqlite::Error| ImportError::Scratch(e.to_string());
    let mut conn = rusqlite::Connection::open(path).map_err(scratch)?;
    let tx = conn.transaction().map_err(scratch)?;
    {
        let mut insert = tx
            .prepare(&format!("INSERT INTO locations ({LOCATION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"))
            .map_err(scratch)?;
        let mut loaded = HashSet::new();
        for l in parents_first(locations.to_vec()) {
            let parent = l.parent_id.filter(|p| loaded.contains(p)).map(|p| p.0);
            insert
                .execute(params![l.id.0, l.code, l.name, l.kind.as_str(), parent, l.archived])
                .map_err(|e| ImportError::Catalog { what: format!("location {:?}", l.code), error: e.to_string() })?;
            loaded.insert(l.id);
        }
        let mut insert = tx.prepare(smartstock_store::catalog::INSERT_PRODUCT).map_err(scratch)?;
        for p in products {
            smartstock_store::catalog::execute_product(&mut insert, p)
                .map_err(|e| ImportError::Catalog { what: format!("product {:?}", p.sku), error: e.to_string() })?;
        }
    }
    tx.commit().map_err(scratch)
}

/// `locations` reordered so that each comes after its parent (when the parent is among them);
/// a cycle, which the server should never hold, goes last in its original order.
fn parents_first(locations: Vec<Location>) -> Vec<Location> {
    let ids: HashSet<LocationId> = locations.iter().map(|l| l.id).collect();
    let mut placed = HashSet::new();
    let mut ordered = Vec::with_capacity(locations.len());
    let mut waiting = locations;
    while !waiting.is_empty() {
        let before = waiting.len();
        let (ready, rest): (Vec<Location>, Vec<Location>) =
            waiting.into_iter().partition(|l| l.parent_id.is_none_or(|p| placed.contains(&p) || !ids.contains(&p)));
        placed.extend(ready.iter().map(|l| l.id));
        ordered.extend(ready);
        waiting = rest;
        if waiting.len() == before {
            ordered.append(&mut waiting);
        }
    }
    ordered
}

/// The products the scratch store holds, in the order they were added.
fn scratch_products(store: &Store) -> Result<Vec<Product>, ImportError> {
    use smartstock_store::catalog::{product_from_row, PRODUCT_COLUMNS};
    let conn = rusqlite::Connection::open_with_flags(store.path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| ImportError::Scratch(e.to_string()))?;
    let mut stmt = conn
        .prepare(&format!("SELECT {PRODUCT_COLUMNS} FROM products ORDER BY rowid"))
        .map_err(|e| ImportError::Scratch(e.to_string()))?;
    let rows = stmt.query_map([], product_from_row).map_err(|e| ImportError::Scratch(e.to_string()))?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| ImportError::Scratch(e.to_string()))
}

/// Saves each row in order; returns how many were saved.
fn save_all<T>(
    rows: &[T],
    mut save: impl FnMut(&T) -> crate::storage::Result<()>,
    name: impl Fn(&T) -> String,
) -> Result<u64, ImportError> {
    for (written, row) in rows.iter().enumerate() {
        save(row).map_err(|error| ImportError::Partial {
            what: name(row),
            written: written as u64,
            total: rows.len() as u64,
            error,
        })?;
    }
    Ok(rows.len() as u64)
}

/// Pushes the scratch store's opening counts from the import device in one transaction. Returns
/// how many the server accepted and a sentence for each it refused.
fn push_opening_stock(
    storage: &dyn Storage,
    store: &Store,
    admin: UserId,
    now: Timestamp,
) -> Result<(u64, Vec<String>), ImportError> {
    let mut movements = store.pending(u32::MAX)?;
    let last = storage.register_device(admin, IMPORT_DEVICE, "import", now)?;
    let levels: HashMap<(ProductId, LocationId), i64> =
        storage.stock(None)?.into_iter().map(|l| ((l.product_id, l.location_id), l.on_hand)).collect();
    for (seq, m) in (last + 1..).zip(movements.iter_mut()) {
        m.device_id = IMPORT_DEVICE;
        m.device_seq = seq;
        // What the server held before the count, not the scratch store's empty ledger.
        m.qty_before = levels.get(&(m.product_id, m.location_id)).copied().unwrap_or(0);
        m.qty_after = m.counted_qty.unwrap_or(m.qty_before);
    }
    let pusher = Pusher { user_id: admin, role: Role::Admin, locations: Vec::new() };
    let request = PushRequest { v: WIRE_VERSION, device_id: IMPORT_DEVICE, movements };
    let outcomes = storage.push(&pusher, &request, now).map_err(|e| match e {
        StorageError::SequenceGap { .. } | StorageError::DeviceRestored { .. } => {
            ImportError::Storage(StorageError::Conflict {
                code: "import_busy",
                message: "another opening-stock import ran at the same time; nothing of this file was written: \
                          import it again"
                    .into(),
            })
        }
        other => ImportError::Storage(other),
    })?;
    let mut accepted = 0;
    let mut refused = Vec::new();
    for (outcome, m) in outcomes.iter().zip(&request.movements) {
        match &outcome.outcome {
            Outcome::Accepted { .. } | Outcome::AcceptedFlagged { .. } => accepted += 1,
            Outcome::Rejected { message, .. } => {
                let sku = store.product(m.product_id).map(|p| p.sku).unwrap_or_else(|_| m.product_id.to_string());
                let code = store.location(m.location_id).map(|l| l.code).unwrap_or_else(|_| m.location_id.to_string());
                refused.push(format!("sku {sku:?} at location {code:?}: {message}"));
            }
        }
    }
    Ok((accepted, refused))
}

#[cfg(test)]
mod tests {
    use super::*;
    use smartstock_core::LocationKind;

    fn location(code: &str, parent: Option<LocationId>) -> Location {
        Location {
            id: LocationId(uuid::Uuid::new_v4()),
            code: code.into(),
            name: code.into(),
            kind: LocationKind::Warehouse,
            parent_id: parent,
            archived: false,
        }
    }

    #[test]
    fn parents_come_before_their_children() {
        let root = location("root", None);
        let mid = location("mid", Some(root.id));
        let leaf = location("leaf", Some(mid.id));
        let orphan = location("orphan", Some(LocationId(uuid::Uuid::new_v4())));
        let ordered = parents_first(vec![leaf.clone(), mid.clone(), orphan.clone(), root.clone()]);
        let codes: Vec<&str> = ordered.iter().map(|l| l.code.as_str()).collect();
        assert_eq!(codes, ["orphan", "root", "mid", "leaf"]);

        let mut a = location("a", None);
        let b = location("b", Some(a.id));
        a.parent_id = Some(b.id);
        assert_eq!(parents_first(vec![a, b]).len(), 2, "a cycle is kept, not lost");
    }
}
