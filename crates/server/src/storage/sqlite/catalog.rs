//! Catalog pushes on SQLite: the reads and writes of `storage::catalog` inside the writer's one
//! IMMEDIATE transaction (SQLite's single writer serializes catalog pushes).
//!
//! Must not: decide anything (`storage::catalog` does).

use super::{feed, location_from_row, product_from_row, LOCATION_COLUMNS, PRODUCT_COLUMNS};
use crate::storage::catalog::{stamps_from_json, stamps_to_json, AuditRow, CatalogTx};
use crate::storage::{Result, StorageError};
use rusqlite::{params, Connection, OptionalExtension};
use smartstock_core::merge::Stamps;
use smartstock_core::wire::{CatalogEntity, CatalogNotice, CatalogOutcome, CatalogRow};
use smartstock_core::{DeviceId, UserId};
use uuid::Uuid;

/// The catalog-push view of a write transaction.
pub(super) struct SqliteCatalog<'c>(pub &'c Connection);

fn table(entity: CatalogEntity) -> &'static str {
    match entity {
        CatalogEntity::Product => "products",
        CatalogEntity::Location => "locations",
    }
}

fn json_error(e: serde_json::Error) -> StorageError {
    StorageError::Database(format!("stored catalog JSON: {e}"))
}

impl CatalogTx for SqliteCatalog<'_> {
    fn lock(&mut self) -> Result<()> {
        Ok(())
    }

    fn device(&mut self, device: DeviceId) -> Result<Option<(UserId, i64)>> {
        Ok(self
            .0
            .prepare_cached("SELECT user_id, catalog_seq FROM devices WHERE id = ?1")?
            .query_row([device.0], |r| Ok((UserId(r.get(0)?), r.get(1)?)))
            .optional()?)
    }

    fn set_device_seq(&mut self, device: DeviceId, seq: i64) -> Result<()> {
        self.0.prepare_cached("UPDATE devices SET catalog_seq = ?2 WHERE id = ?1")?.execute(params![device.0, seq])?;
        Ok(())
    }

    fn stored_outcome(&mut self, device: DeviceId, seq: i64) -> Result<Option<CatalogOutcome>> {
        let text: Option<String> = self
            .0
            .prepare_cached("SELECT outcome FROM catalog_received WHERE device_id = ?1 AND seq = ?2")?
            .query_row(params![device.0, seq], |r| r.get(0))
            .optional()?;
        text.map(|t| serde_json::from_str(&t).map_err(json_error)).transpose()
    }

    fn store_outcome(&mut self, device: DeviceId, outcome: &CatalogOutcome) -> Result<()> {
        let text = serde_json::to_string(outcome).map_err(json_error)?;
        self.0
            .prepare_cached("INSERT INTO catalog_received (device_id, seq, outcome) VALUES (?1, ?2, ?3)")?
            .execute(params![device.0, outcome.seq, text])?;
        Ok(())
    }

    fn row(&mut self, entity: CatalogEntity, id: Uuid) -> Result<Option<(CatalogRow, Stamps)>> {
        let found = match entity {
            CatalogEntity::Product => self
                .0
                .prepare_cached(&format!("SELECT {PRODUCT_COLUMNS}, stamps FROM products WHERE id = ?1"))?
                .query_row([id], |r| Ok((CatalogRow::Product(product_from_row(r)?), r.get::<_, String>(12)?)))
                .optional()?,
            CatalogEntity::Location => self
                .0
                .prepare_cached(&format!("SELECT {LOCATION_COLUMNS}, stamps FROM locations WHERE id = ?1"))?
                .query_row([id], |r| Ok((CatalogRow::Location(location_from_row(r)?), r.get::<_, String>(6)?)))
                .optional()?,
        };
        found.map(|(row, stamps)| Ok((row, stamps_from_json(&stamps)?))).transpose()
    }

    fn holder(&mut self, entity: CatalogEntity, field: &str, value: &str) -> Result<Option<Uuid>> {
        let column = match field {
            "sku" | "barcode" | "code" => field,
            other => return Err(StorageError::Database(format!("{other} is not a unique catalog field"))),
        };
        let sql = format!("SELECT id FROM {} WHERE {column} = ?1", table(entity));
        Ok(self.0.prepare_cached(&sql)?.query_row([value], |r| r.get(0)).optional()?)
    }

    fn alias_of(&mut self, id: Uuid) -> Result<Option<Uuid>> {
        Ok(self
            .0
            .prepare_cached("SELECT canonical_id FROM catalog_aliases WHERE alias_id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?)
    }

    fn add_alias(&mut self, entity: CatalogEntity, alias: Uuid, canonical: Uuid, device: DeviceId) -> Result<()> {
        self.0
            .prepare_cached(
                "INSERT INTO catalog_aliases (alias_id, canonical_id, entity, device_id) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![alias, canonical, entity.as_str(), device.0])?;
        Ok(())
    }

    fn save_row(&mut self, row: &CatalogRow, stamps: &Stamps) -> Result<()> {
        let seq = feed::next_feed_seq(self.0)?;
        let stamps = stamps_to_json(stamps);
        match row {
            CatalogRow::Product(p) => {
                self.0
                    .prepare_cached(&format!(
                        "INSERT INTO products ({PRODUCT_COLUMNS}, feed_seq, stamps) VALUES (?1, ?2, ?3, ?4, ?5, ?6, \
                         ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) {}, feed_seq = excluded.feed_seq, stamps = excluded.stamps",
                        smartstock_store::catalog::PRODUCT_UPSERT
                    ))?
                    .execute(params![
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
                        seq,
                        stamps
                    ])?;
            }
            CatalogRow::Location(l) => {
                self.0
                    .prepare_cached(&format!(
                        "INSERT INTO locations ({LOCATION_COLUMNS}, feed_seq, stamps) VALUES (?1, ?2, ?3, ?4, ?5, ?6, \
                         ?7, ?8) ON CONFLICT (id) DO UPDATE SET code = excluded.code, name = excluded.name, \
                         kind = excluded.kind, parent_id = excluded.parent_id, archived = excluded.archived, \
                         feed_seq = excluded.feed_seq, stamps = excluded.stamps"
                    ))?
                    .execute(params![
                        l.id.0,
                        l.code,
                        l.name,
                        l.kind.as_str(),
                        l.parent_id.map(|p| p.0),
                        l.archived,
                        seq,
                        stamps
                    ])?;
            }
        }
        Ok(())
    }

    fn audit(&mut self, row: &AuditRow) -> Result<()> {
        self.0
            .prepare_cached(
                "INSERT INTO catalog_audit (entity, entity_id, field, old_value, new_value, user_id, device_id, \
                 changed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                row.entity.as_str(),
                row.entity_id,
                row.field,
                row.old_value,
                row.new_value,
                row.user_id.0,
                row.device_id.map(|d| d.0),
                row.at.millis()
            ])?;
        Ok(())
    }

    fn notice(&mut self, device: DeviceId, notice: &CatalogNotice) -> Result<()> {
        let seq = feed::next_feed_seq(self.0)?;
        let body = serde_json::to_string(notice).map_err(json_error)?;
        self.0
            .prepare_cached("INSERT INTO catalog_notices (id, device_id, body, feed_seq) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![notice.id, device.0, body, seq])?;
        Ok(())
    }

    fn creator(&mut self, entity: CatalogEntity, id: Uuid) -> Result<Option<DeviceId>> {
        let found: Option<Option<Uuid>> = self
            .0
            .prepare_cached(
                "SELECT device_id FROM catalog_audit WHERE entity = ?1 AND entity_id = ?2 AND field = 'created' \
                 ORDER BY seq LIMIT 1",
            )?
            .query_row(params![entity.as_str(), id], |r| r.get(0))
            .optional()?;
        Ok(found.flatten().map(DeviceId))
    }

    fn names(&mut self, user: UserId, device: DeviceId) -> Result<(String, String)> {
        let user_name: Option<String> = self
            .0
            .prepare_cached("SELECT username FROM users WHERE id = ?1")?
            .query_row([user.0], |r| r.get(0))
            .optional()?;
        let device_name: Option<String> = self
            .0
            .prepare_cached("SELECT name FROM devices WHERE id = ?1")?
            .query_row([device.0], |r| r.get(0))
            .optional()?;
        Ok((user_name.unwrap_or_else(|| "an unknown user".into()), device_name.unwrap_or_else(|| "the server".into())))
    }
}
