//! Catalog pushes on PostgreSQL: the reads and writes of `storage::catalog` inside one
//! transaction that holds the feed lock from its start, so catalog pushes (and every other feed
//! writer) run one after the other and each sees what the previous one committed.
//!
//! Must not: decide anything (`storage::catalog` does).

use super::db::Db;
use super::feed;
use super::rows::{self, LOCATION_COLUMNS, PRODUCT_COLUMNS};
use crate::storage::catalog::{stamps_from_json, stamps_to_json, AuditRow, CatalogTx};
use crate::storage::{Result, StorageError};
use smartstock_core::merge::Stamps;
use smartstock_core::wire::{CatalogEntity, CatalogNotice, CatalogOutcome, CatalogRow};
use smartstock_core::{DeviceId, UserId};
use uuid::Uuid;

/// The catalog-push view of a write transaction.
pub(super) struct PgCatalog<'a, 'c>(pub &'a mut Db<'c>);

fn json_error(e: serde_json::Error) -> StorageError {
    StorageError::Database(format!("stored catalog JSON: {e}"))
}

impl CatalogTx for PgCatalog<'_, '_> {
    fn lock(&mut self) -> Result<()> {
        self.0.query_one("SELECT last_seq FROM feed_counter WHERE singleton = 1 FOR UPDATE", &[])?;
        Ok(())
    }

    fn device(&mut self, device: DeviceId) -> Result<Option<(UserId, i64)>> {
        let row = self.0.query_opt("SELECT user_id, catalog_seq FROM devices WHERE id = $1", &[&device.0])?;
        row.map(|r| Ok((UserId(r.try_get(0)?), r.try_get(1)?))).transpose()
    }

    fn set_device_seq(&mut self, device: DeviceId, seq: i64) -> Result<()> {
        self.0.execute("UPDATE devices SET catalog_seq = $2 WHERE id = $1", &[&device.0, &seq])?;
        Ok(())
    }

    fn stored_outcome(&mut self, device: DeviceId, seq: i64) -> Result<Option<CatalogOutcome>> {
        let row = self
            .0
            .query_opt("SELECT outcome FROM catalog_received WHERE device_id = $1 AND seq = $2", &[&device.0, &seq])?;
        match row {
            Some(r) => Ok(Some(serde_json::from_str(&r.try_get::<_, String>(0)?).map_err(json_error)?)),
            None => Ok(None),
        }
    }

    fn store_outcome(&mut self, device: DeviceId, outcome: &CatalogOutcome) -> Result<()> {
        let text = serde_json::to_string(outcome).map_err(json_error)?;
        self.0.execute(
            "INSERT INTO catalog_received (device_id, seq, outcome) VALUES ($1, $2, $3)",
            &[&device.0, &outcome.seq, &text],
        )?;
        Ok(())
    }

    fn row(&mut self, entity: CatalogEntity, id: Uuid) -> Result<Option<(CatalogRow, Stamps)>> {
        match entity {
            CatalogEntity::Product => {
                let sql = format!("SELECT {PRODUCT_COLUMNS}, stamps FROM products WHERE id = $1");
                let Some(r) = self.0.query_opt(&sql, &[&id])? else { return Ok(None) };
                Ok(Some((CatalogRow::Product(rows::product_from_row(&r)?), stamps_from_json(r.try_get(12)?)?)))
            }
            CatalogEntity::Location => {
                let sql = format!("SELECT {LOCATION_COLUMNS}, stamps FROM locations WHERE id = $1");
                let Some(r) = self.0.query_opt(&sql, &[&id])? else { return Ok(None) };
                Ok(Some((CatalogRow::Location(rows::location_from_row(&r)?), stamps_from_json(r.try_get(6)?)?)))
            }
        }
    }

    fn holder(&mut self, entity: CatalogEntity, field: &str, value: &str) -> Result<Option<Uuid>> {
        let sql = match (entity, field) {
            (CatalogEntity::Product, "sku") => "SELECT id FROM products WHERE sku = $1",
            (CatalogEntity::Product, "barcode") => "SELECT id FROM products WHERE barcode = $1",
            (CatalogEntity::Location, "code") => "SELECT id FROM locations WHERE code = $1",
            (_, other) => return Err(StorageError::Database(format!("{other} is not a unique catalog field"))),
        };
        let row = self.0.query_opt(sql, &[&value])?;
        row.map(|r| Ok(r.try_get(0)?)).transpose()
    }

    fn alias_of(&mut self, id: Uuid) -> Result<Option<Uuid>> {
        let row = self.0.query_opt("SELECT canonical_id FROM catalog_aliases WHERE alias_id = $1", &[&id])?;
        row.map(|r| Ok(r.try_get(0)?)).transpose()
    }

    fn add_alias(&mut self, entity: CatalogEntity, alias: Uuid, canonical: Uuid, device: DeviceId) -> Result<()> {
        self.0.execute(
            "INSERT INTO catalog_aliases (alias_id, canonical_id, entity, device_id) VALUES ($1, $2, $3, $4)",
            &[&alias, &canonical, &entity.as_str(), &device.0],
        )?;
        Ok(())
    }

    fn save_row(&mut self, row: &CatalogRow, stamps: &Stamps) -> Result<()> {
        let seq = feed::next_feed_seq(self.0)?;
        let stamps = stamps_to_json(stamps);
        match row {
            CatalogRow::Product(p) => {
                self.0.execute_unique(
                    &format!(
                        "INSERT INTO products ({PRODUCT_COLUMNS}, feed_seq, stamps) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                         ON CONFLICT (id) DO UPDATE SET sku = excluded.sku, name = excluded.name, \
                         barcode = excluded.barcode, unit = excluded.unit, unit_scale = excluded.unit_scale, \
                         reorder_point = excluded.reorder_point, reorder_qty = excluded.reorder_qty, \
                         cost_minor = excluded.cost_minor, price_minor = excluded.price_minor, \
                         archived = excluded.archived, negative_stock = excluded.negative_stock, \
                         feed_seq = excluded.feed_seq, stamps = excluded.stamps"
                    ),
                    &[
                        &p.id.0,
                        &p.sku,
                        &p.name,
                        &p.barcode,
                        &p.unit,
                        &i64::from(p.unit_scale),
                        &p.reorder_point,
                        &p.reorder_qty,
                        &p.cost_minor,
                        &p.price_minor,
                        &p.archived,
                        &p.negative_stock.map(|n| n.as_str()),
                        &seq,
                        &stamps,
                    ],
                    &format!("SKU {:?} or barcode {:?}", p.sku, p.barcode),
                )?;
            }
            CatalogRow::Location(l) => {
                self.0.execute_unique(
                    &format!(
                        "INSERT INTO locations ({LOCATION_COLUMNS}, feed_seq, stamps) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                         ON CONFLICT (id) DO UPDATE SET code = excluded.code, name = excluded.name, \
                         kind = excluded.kind, parent_id = excluded.parent_id, archived = excluded.archived, \
                         feed_seq = excluded.feed_seq, stamps = excluded.stamps"
                    ),
                    &[
                        &l.id.0,
                        &l.code,
                        &l.name,
                        &l.kind.as_str(),
                        &l.parent_id.map(|p| p.0),
                        &l.archived,
                        &seq,
                        &stamps,
                    ],
                    &format!("location code {:?}", l.code),
                )?;
            }
        }
        Ok(())
    }

    fn audit(&mut self, row: &AuditRow) -> Result<()> {
        self.0.execute(
            "INSERT INTO catalog_audit (entity, entity_id, field, old_value, new_value, user_id, device_id, changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &row.entity.as_str(),
                &row.entity_id,
                &row.field,
                &row.old_value,
                &row.new_value,
                &row.user_id.0,
                &row.device_id.map(|d| d.0),
                &row.at.millis(),
            ],
        )?;
        Ok(())
    }

    fn notice(&mut self, device: DeviceId, notice: &CatalogNotice) -> Result<()> {
        let seq = feed::next_feed_seq(self.0)?;
        let body = serde_json::to_string(notice).map_err(json_error)?;
        self.0.execute(
            "INSERT INTO catalog_notices (id, device_id, body, feed_seq) VALUES ($1, $2, $3, $4)",
            &[&notice.id, &device.0, &body, &seq],
        )?;
        Ok(())
    }

    fn creator(&mut self, entity: CatalogEntity, id: Uuid) -> Result<Option<DeviceId>> {
        let row = self.0.query_opt(
            "SELECT device_id FROM catalog_audit WHERE entity = $1 AND entity_id = $2 AND field = 'created' \
             ORDER BY seq LIMIT 1",
            &[&entity.as_str(), &id],
        )?;
        Ok(row.map(|r| r.try_get::<_, Option<Uuid>>(0)).transpose()?.flatten().map(DeviceId))
    }

    fn names(&mut self, user: UserId, device: DeviceId) -> Result<(String, String)> {
        let user_name = self.0.query_opt("SELECT username FROM users WHERE id = $1", &[&user.0])?;
        let device_name = self.0.query_opt("SELECT name FROM devices WHERE id = $1", &[&device.0])?;
        Ok((
            user_name.map(|r| r.try_get(0)).transpose()?.unwrap_or_else(|| "an unknown user".into()),
            device_name.map(|r| r.try_get(0)).transpose()?.unwrap_or_else(|| "the server".into()),
        ))
    }
}
