//! The catalog: products and locations, with every creation and edit audited per field (old and
//! new value, who, when, which device) in the same transaction.
//!
//! Each creation and edit is also stamped per field and queued for the server in the same
//! transaction (`catalog_sync`), which merges concurrent edits by hybrid logical clock.
//!
//! Must not: delete a product or location (archive instead: the ledger references them).

use crate::catalog_sync::queue_edit;
use crate::error::{Result, StoreError};
use crate::{sql, Actor, Store};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use smartstock_core::merge::{changed_fields, CatalogFields};
use smartstock_core::wire::CatalogRow;
use smartstock_core::{
    CatalogChange, DeviceId, Location, LocationId, LocationKind, NegativeStockPolicy, Product, ProductId, Timestamp,
    UserId,
};

/// Columns of `products` in the order `product_from_row` reads them (the server uses the same).
pub const PRODUCT_COLUMNS: &str = "id, sku, name, barcode, unit, unit_scale, reorder_point, reorder_qty, cost_minor, \
     price_minor, archived, negative_stock";
/// Columns of `locations` in the order `location_from_row` reads them.
pub const LOCATION_COLUMNS: &str = "id, code, name, kind, parent_id, archived";

/// Maps a row selected with `PRODUCT_COLUMNS`.
pub fn product_from_row(row: &Row<'_>) -> rusqlite::Result<Product> {
    Ok(Product {
        id: ProductId(row.get(0)?),
        sku: row.get(1)?,
        name: row.get(2)?,
        barcode: row.get(3)?,
        unit: row.get(4)?,
        unit_scale: row.get(5)?,
        reorder_point: row.get(6)?,
        reorder_qty: row.get(7)?,
        cost_minor: row.get(8)?,
        price_minor: row.get(9)?,
        archived: row.get(10)?,
        negative_stock: row.get::<_, Option<String>>(11)?.and_then(|p| NegativeStockPolicy::parse(&p)),
    })
}

/// Maps a row selected with `LOCATION_COLUMNS`.
pub fn location_from_row(row: &Row<'_>) -> rusqlite::Result<Location> {
    let kind: String = row.get(3)?;
    Ok(Location {
        id: LocationId(row.get(0)?),
        code: row.get(1)?,
        name: row.get(2)?,
        kind: LocationKind::parse("kind", &kind).unwrap_or(LocationKind::Other),
        parent_id: row.get::<_, Option<uuid::Uuid>>(4)?.map(LocationId),
        archived: row.get(5)?,
    })
}

/// Field-by-field text form of a product, as the audit records it.
pub(crate) fn product_fields(p: &Product) -> Vec<(&'static str, Option<String>)> {
    vec![
        ("sku", Some(p.sku.clone())),
        ("name", Some(p.name.clone())),
        ("barcode", p.barcode.clone()),
        ("unit", Some(p.unit.clone())),
        ("unit_scale", Some(p.unit_scale.to_string())),
        ("reorder_point", Some(p.reorder_point.to_string())),
        ("reorder_qty", Some(p.reorder_qty.to_string())),
        ("cost", Some(p.cost_minor.to_string())),
        ("price", Some(p.price_minor.to_string())),
        ("archived", Some(p.archived.to_string())),
        ("negative_stock", p.negative_stock.map(|n| n.as_str().to_string())),
    ]
}

/// Field-by-field text form of a location, as the audit records it.
pub(crate) fn location_fields(l: &Location) -> Vec<(&'static str, Option<String>)> {
    vec![
        ("code", Some(l.code.clone())),
        ("name", Some(l.name.clone())),
        ("kind", Some(l.kind.as_str().to_string())),
        ("parent_id", l.parent_id.map(|p| p.to_string())),
        ("archived", Some(l.archived.to_string())),
    ]
}

/// Who/when/where of one catalog write.
pub(crate) struct AuditStamp {
    pub user_id: UserId,
    pub device_id: DeviceId,
    pub at: Timestamp,
}

impl AuditStamp {
    pub fn begin(conn: &Connection, actor: Actor, at: Timestamp) -> Result<AuditStamp> {
        let device_id = conn.query_row("SELECT device_id FROM device", [], |r| r.get(0).map(DeviceId))?;
        Ok(AuditStamp { user_id: actor.user_id, device_id, at })
    }

    /// Writes the audit of a write: for a creation (`old` is `None`) one `created` row holding
    /// every field as a JSON object; for an edit one row per field that differs.
    pub fn record(
        &self,
        conn: &Connection,
        entity: &str,
        id: uuid::Uuid,
        old: Option<&[(&'static str, Option<String>)]>,
        new: &[(&'static str, Option<String>)],
    ) -> Result<usize> {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO catalog_audit (entity, entity_id, field, old_value, new_value, user_id, device_id, changed_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let mut write = |field: &str, before: Option<&str>, after: Option<&str>| {
            stmt.execute(params![entity, id, field, before, after, self.user_id.0, self.device_id.0, self.at.millis()])
        };
        let Some(old) = old else {
            let fields: serde_json::Map<String, serde_json::Value> =
                new.iter().map(|(field, value)| (field.to_string(), value.clone().into())).collect();
            write("created", None, Some(&serde_json::Value::Object(fields).to_string()))?;
            return Ok(1);
        };
        let mut written = 0;
        for ((field, after), (_, before)) in new.iter().zip(old) {
            if before != after {
                write(field, before.as_deref(), after.as_deref())?;
                written += 1;
            }
        }
        Ok(written)
    }
}

fn refuse_taken(
    conn: &Connection,
    what: &'static str,
    field: &'static str,
    sql: &str,
    value: &str,
    own: uuid::Uuid,
) -> Result<()> {
    let taken: Option<uuid::Uuid> = conn.prepare_cached(sql)?.query_row([value], |r| r.get(0)).optional()?;
    match taken {
        Some(other) if other != own => Err(StoreError::Duplicate { what, field, value: value.to_string() }),
        _ => Ok(()),
    }
}

/// Checks a product's uniques against the catalog (clear errors instead of constraint failures).
pub(crate) fn check_product_unique(conn: &Connection, p: &Product) -> Result<()> {
    refuse_taken(conn, "product", "sku", "SELECT id FROM products WHERE sku = ?1", &p.sku, p.id.0)?;
    if let Some(barcode) = &p.barcode {
        refuse_taken(conn, "product", "barcode", "SELECT id FROM products WHERE barcode = ?1", barcode, p.id.0)?;
    }
    Ok(())
}

/// Runs a prepared `INSERT … (PRODUCT_COLUMNS) VALUES (?1 … ?12) [ON CONFLICT …]` for `p`: the
/// one place that binds a product's columns (the store's catalog, pulled rows, the server's import
/// all use it).
pub fn execute_product(stmt: &mut rusqlite::Statement<'_>, p: &Product) -> rusqlite::Result<usize> {
    stmt.execute(params![
        p.id.0,
        p.sku,
        p.name,
        p.barcode,
        p.unit,
        p.unit_scale,
        p.reorder_point,
        p.reorder_qty,
        p.cost_minor,
        p.price_minor,
        p.archived,
        p.negative_stock.map(|n| n.as_str()),
    ])
}

/// `INSERT INTO products` with every column bound by `execute_product`.
pub const INSERT_PRODUCT: &str = "INSERT INTO products (id, sku, name, barcode, unit, unit_scale, reorder_point, \
     reorder_qty, cost_minor, price_minor, archived, negative_stock) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

/// The `ON CONFLICT (id) DO UPDATE` clause that makes `INSERT_PRODUCT` an upsert of every
/// column but the id (pulled rows; the server's catalog adds its own columns after it).
pub const PRODUCT_UPSERT: &str = "ON CONFLICT (id) DO UPDATE SET sku = excluded.sku, name = excluded.name, \
     barcode = excluded.barcode, unit = excluded.unit, unit_scale = excluded.unit_scale, \
     reorder_point = excluded.reorder_point, reorder_qty = excluded.reorder_qty, cost_minor = excluded.cost_minor, \
     price_minor = excluded.price_minor, archived = excluded.archived, negative_stock = excluded.negative_stock";

/// Inserts a validated product (no uniqueness check, no audit).
pub(crate) fn insert_product(conn: &Connection, p: &Product) -> Result<()> {
    execute_product(&mut *conn.prepare_cached(INSERT_PRODUCT)?, p)?;
    Ok(())
}

/// Inserts a validated location (no uniqueness check, no audit).
pub(crate) fn insert_location(conn: &Connection, l: &Location) -> Result<()> {
    conn.prepare_cached(&format!("INSERT INTO locations ({LOCATION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"))?
        .execute(params![l.id.0, l.code, l.name, l.kind.as_str(), l.parent_id.map(|p| p.0), l.archived])?;
    Ok(())
}

pub(crate) fn check_location(conn: &Connection, l: &Location) -> Result<()> {
    refuse_taken(conn, "location", "code", "SELECT id FROM locations WHERE code = ?1", &l.code, l.id.0)?;
    if let Some(parent) = l.parent_id {
        sql::location_brief(conn, parent)?;
    }
    Ok(())
}

impl Store {
    /// Adds a product to the catalog (audited).
    pub fn create_product(&self, actor: Actor, product: &Product) -> Result<()> {
        product.validate()?;
        let now = self.clock().now();
        let mut conn = self.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        check_product_unique(&tx, product)?;
        insert_product(&tx, product)?;
        AuditStamp::begin(&tx, actor, now)?.record(&tx, "product", product.id.0, None, &product_fields(product))?;
        let fields: Vec<&str> = product.fields().into_iter().map(|(f, _)| f).collect();
        queue_edit(&tx, actor, now, &CatalogRow::Product(product.clone()), true, &fields)?;
        tx.commit()?;
        Ok(())
    }

    /// Changes a product; one audit row per changed field. Returns how many fields changed.
    pub fn update_product(&self, actor: Actor, product: &Product) -> Result<usize> {
        product.validate()?;
        let now = self.clock().now();
        let mut conn = self.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let old =
            product_by(&tx, "id = ?1", product.id.0)?.ok_or_else(|| StoreError::not_found("product", product.id))?;
        check_product_unique(&tx, product)?;
        tx.execute(
            "UPDATE products SET sku = ?2, name = ?3, barcode = ?4, unit = ?5, unit_scale = ?6, reorder_point = ?7, \
             reorder_qty = ?8, cost_minor = ?9, price_minor = ?10, archived = ?11, negative_stock = ?12 WHERE id = ?1",
            params![
                product.id.0,
                product.sku,
                product.name,
                product.barcode,
                product.unit,
                product.unit_scale,
                product.reorder_point,
                product.reorder_qty,
                product.cost_minor,
                product.price_minor,
                product.archived,
                product.negative_stock.map(|n| n.as_str()),
            ],
        )?;
        let changed = AuditStamp::begin(&tx, actor, now)?.record(
            &tx,
            "product",
            product.id.0,
            Some(&product_fields(&old)),
            &product_fields(product),
        )?;
        queue_edit(&tx, actor, now, &CatalogRow::Product(product.clone()), false, &changed_fields(&old, product))?;
        tx.commit()?;
        Ok(changed)
    }

    /// Adds a location (audited).
    pub fn create_location(&self, actor: Actor, location: &Location) -> Result<()> {
        location.validate()?;
        let now = self.clock().now();
        let mut conn = self.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        check_location(&tx, location)?;
        insert_location(&tx, location)?;
        AuditStamp::begin(&tx, actor, now)?.record(&tx, "location", location.id.0, None, &location_fields(location))?;
        let fields: Vec<&str> = location.fields().into_iter().map(|(f, _)| f).collect();
        queue_edit(&tx, actor, now, &CatalogRow::Location(location.clone()), true, &fields)?;
        tx.commit()?;
        Ok(())
    }

    /// Changes a location; one audit row per changed field. Returns how many fields changed.
    pub fn update_location(&self, actor: Actor, location: &Location) -> Result<usize> {
        location.validate()?;
        let now = self.clock().now();
        let mut conn = self.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let old = location_by(&tx, "id = ?1", location.id.0)?
            .ok_or_else(|| StoreError::not_found("location", location.id))?;
        check_location(&tx, location)?;
        tx.execute(
            "UPDATE locations SET code = ?2, name = ?3, kind = ?4, parent_id = ?5, archived = ?6 WHERE id = ?1",
            params![
                location.id.0,
                location.code,
                location.name,
                location.kind.as_str(),
                location.parent_id.map(|p| p.0),
                location.archived
            ],
        )?;
        let changed = AuditStamp::begin(&tx, actor, now)?.record(
            &tx,
            "location",
            location.id.0,
            Some(&location_fields(&old)),
            &location_fields(location),
        )?;
        queue_edit(&tx, actor, now, &CatalogRow::Location(location.clone()), false, &changed_fields(&old, location))?;
        tx.commit()?;
        Ok(changed)
    }

    /// A product by id.
    pub fn product(&self, id: ProductId) -> Result<Product> {
        product_by(&self.read(), "id = ?1", id.0)?.ok_or_else(|| StoreError::not_found("product", id))
    }

    /// A product by what a scanner or a person typed: its SKU or its barcode.
    pub fn product_by_code(&self, code: &str) -> Result<Product> {
        let conn = self.read();
        let code = code.trim();
        match product_by(&conn, "sku = ?1", code)? {
            Some(p) => Ok(p),
            None => product_by(&conn, "barcode = ?1", code)?.ok_or_else(|| StoreError::not_found("product", code)),
        }
    }

    /// A location by id.
    pub fn location(&self, id: LocationId) -> Result<Location> {
        location_by(&self.read(), "id = ?1", id.0)?.ok_or_else(|| StoreError::not_found("location", id))
    }

    /// A location by its code.
    pub fn location_by_code(&self, code: &str) -> Result<Location> {
        location_by(&self.read(), "code = ?1", code.trim())?.ok_or_else(|| StoreError::not_found("location", code))
    }

    /// Every location, by code.
    pub fn locations(&self) -> Result<Vec<Location>> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&format!("SELECT {LOCATION_COLUMNS} FROM locations ORDER BY code"))?;
        let rows = stmt.query_map([], location_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The catalog audit, newest first; optionally of one entity only.
    pub fn catalog_audit(&self, entity_id: Option<uuid::Uuid>, limit: u32, offset: u32) -> Result<Vec<CatalogChange>> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(
            "SELECT entity, entity_id, field, old_value, new_value, user_id, device_id, changed_at FROM catalog_audit \
             WHERE ?1 IS NULL OR entity_id = ?1 ORDER BY seq DESC LIMIT ?2 OFFSET ?3",
        )?;
        let rows = stmt
            .query_map(params![entity_id, limit, offset], |r| {
                Ok(CatalogChange {
                    entity: r.get(0)?,
                    entity_id: r.get::<_, uuid::Uuid>(1)?.to_string(),
                    field: r.get(2)?,
                    old_value: r.get(3)?,
                    new_value: r.get(4)?,
                    user_id: UserId(r.get(5)?),
                    device_id: DeviceId(r.get(6)?),
                    changed_at: Timestamp(r.get(7)?),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

pub(crate) fn product_by(conn: &Connection, filter: &str, value: impl rusqlite::ToSql) -> Result<Option<Product>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE {filter}"))?;
    Ok(stmt.query_row([value], product_from_row).optional()?)
}

pub(crate) fn location_by(conn: &Connection, filter: &str, value: impl rusqlite::ToSql) -> Result<Option<Location>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {LOCATION_COLUMNS} FROM locations WHERE {filter}"))?;
    Ok(stmt.query_row([value], location_from_row).optional()?)
}

/// The rowid of the product whose barcode is exactly `text` (the stock search's barcode match).
pub(crate) fn product_rowid_by_barcode(conn: &Connection, text: &str) -> Result<Option<i64>> {
    let mut stmt = conn.prepare_cached("SELECT rowid FROM products WHERE barcode = ?1")?;
    Ok(stmt.query_row([text], |r| r.get(0)).optional()?)
}
