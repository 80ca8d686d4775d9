//! The embedded SQLite backend: one database file, schema from `migrations/server/sqlite`
//! applied by `rusqlite_migration`. One writer connection (SQLite has one writer; it is also the
//! lock that keeps feed numbers in commit order) and a small pool of WAL readers. Concurrent
//! pushes commit together in groups (`storage::group`): one sync to disk per group.
//!
//! Must not: be used by more than one server process at a time (use PostgreSQL to scale out).

mod catalog;
mod feed;
mod pull;
mod push;

use crate::storage::group;
use crate::storage::push::PushJob;
use crate::storage::{
    NewUser, PoolState, Pusher, Result, Role, SessionRecord, StockLevel, Storage, StorageError, TokenHashes, UserRecord,
};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use rusqlite_migration::{Migrations, M};
use smartstock_core::ids::NewRandom;
use smartstock_core::wire::{CatalogOutcome, CatalogPushRequest, CatalogRow, MovementOutcome, PullPage, PushRequest};
use smartstock_core::{
    Alert, AlertId, CatalogChange, DeviceId, LedgerDigest, Location, LocationId, NegativeStockPolicy, Product,
    ProductId, Timestamp, UserId,
};
pub(crate) use smartstock_store::alerts::{alert_from_row, ALERT_COLUMNS};
pub(crate) use smartstock_store::catalog::{location_from_row, product_from_row, LOCATION_COLUMNS, PRODUCT_COLUMNS};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

const SERVER_MIGRATIONS: &[&str] = &[
    include_str!("../../../../../migrations/server/sqlite/0001_init.sql"),
    include_str!("../../../../../migrations/server/sqlite/0002_alerts_by_movement.sql"),
    include_str!("../../../../../migrations/server/sqlite/0003_catalog_merge.sql"),
];

/// The server schema migrations.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(SERVER_MIGRATIONS.iter().map(|sql| M::up(sql)).collect())
}

/// The SQLite backend.
pub struct SqliteStorage {
    /// Rate-limit windows: key → (window start, count).
    limits: Mutex<std::collections::HashMap<String, (i64, i64)>>,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Readers checked out of `readers` now.
    readers_busy: std::sync::atomic::AtomicU32,
    path: PathBuf,
    /// Catalog rows' stamps parsed for pulls.
    stamps: crate::storage::stamps_memo::StampsMemo,
    /// Concurrent pushes, committed in groups (one sync of the WAL file for a whole group).
    pushes: group::GroupCommit,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", -65_536)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

impl SqliteStorage {
    /// Opens (creating and migrating) the database at `path`. A database from a newer server is
    /// refused untouched.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStorage> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open(&path)?;
        configure(&conn)?;
        migrations().to_latest(&mut conn).map_err(|e| match e {
            rusqlite_migration::Error::MigrationDefinition(
                rusqlite_migration::MigrationDefinitionError::DatabaseTooFarAhead,
            ) => StorageError::Conflict {
                code: "database_too_new",
                message: format!("{} was written by a newer smartstock-server; upgrade the server", path.display()),
            },
            other => StorageError::Database(other.to_string()),
        })?;
        Ok(SqliteStorage {
            limits: Mutex::default(),
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            readers_busy: Default::default(),
            path,
            stamps: Default::default(),
            pushes: Default::default(),
        })
    }

    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let pooled = self.pool().pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => {
                let conn = Connection::open(&self.path)?;
                configure(&conn)?;
                conn
            }
        };
        self.readers_busy.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let out = f(&conn);
        self.readers_busy.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.pool().push(conn);
        out
    }

    fn pool(&self) -> MutexGuard<'_, Vec<Connection>> {
        self.readers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the database at `target` with the backup at `backup` (the server must be
    /// stopped). A backup from a newer server is refused, and nothing is touched.
    pub fn restore(backup: &Path, target: &Path) -> Result<()> {
        let source = Connection::open_with_flags(backup, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let version: i64 = source.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version as usize > SERVER_MIGRATIONS.len() {
            return Err(StorageError::Conflict {
                code: "database_too_new",
                message: format!(
                    "{} was written by a newer smartstock-server; restore it with that version",
                    backup.display()
                ),
            });
        }
        let check: String = source.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(StorageError::Conflict {
                code: "backup_damaged",
                message: format!("{} fails its integrity check ({check}); choose another backup", backup.display()),
            });
        }
        drop(source);
        let staged = target.with_extension("restoring");
        std::fs::copy(backup, &staged).map_err(|e| StorageError::Database(format!("cannot copy the backup: {e}")))?;
        for suffix in ["-wal", "-shm"] {
            let side = PathBuf::from(format!("{}{suffix}", target.display()));
            if side.exists() {
                std::fs::remove_file(&side).map_err(|e| StorageError::Database(e.to_string()))?;
            }
        }
        std::fs::rename(&staged, target)
            .map_err(|e| StorageError::Database(format!("cannot replace the database: {e}")))?;
        SqliteStorage::open(target).map(|_| ())
    }

    /// Copies the live database to `target` (consistent online backup).
    pub fn backup_to(&self, target: &Path) -> Result<()> {
        self.read(|conn| {
            conn.execute("VACUUM INTO ?1", [target.display().to_string()])?;
            Ok(())
        })
    }
}

fn user_from_row(conn: &Connection, row: &rusqlite::Row<'_>) -> rusqlite::Result<UserRecord> {
    let id = UserId(row.get(0)?);
    let role: String = row.get(3)?;
    let mut stmt = conn.prepare_cached("SELECT location_id FROM user_locations WHERE user_id = ?1")?;
    let locations = stmt.query_map([id.0], |r| r.get(0).map(LocationId))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(UserRecord {
        id,
        username: row.get(1)?,
        password_hash: row.get(2)?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        must_change_password: row.get(4)?,
        disabled: row.get(5)?,
        locations,
    })
}

const USER_COLUMNS: &str = "id, username, password_hash, role, must_change_password, disabled";

fn user_where(conn: &Connection, filter: &str, value: &dyn rusqlite::ToSql) -> Result<Option<UserRecord>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {filter}");
    Ok(conn.prepare_cached(&sql)?.query_row([value], |r| user_from_row(conn, r)).optional()?)
}

/// Stores an alert under a feed number taken by the caller.
pub(crate) fn insert_alert_at(tx: &Connection, alert: &Alert, seq: i64) -> Result<()> {
    tx.prepare_cached(&format!(
        "INSERT INTO alerts ({ALERT_COLUMNS}, feed_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?
    .execute(params![
        alert.id.0,
        alert.kind.as_str(),
        alert.product_id.0,
        alert.location_id.0,
        alert.quantity,
        alert.movement_id.map(|m| m.0),
        alert.message,
        alert.raised_at.millis(),
        alert.resolved_by.map(|u| u.0),
        alert.resolved_at.map(|t| t.millis()),
        seq,
    ])?;
    Ok(())
}

fn audit(
    tx: &Connection,
    entity: &str,
    id: uuid::Uuid,
    actor: UserId,
    old: Option<String>,
    new: String,
    now: Timestamp,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO catalog_audit (entity, entity_id, field, old_value, new_value, user_id, changed_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        entity,
        id,
        if old.is_some() { "updated" } else { "created" },
        old,
        new,
        actor.0,
        now.millis()
    ])?;
    Ok(())
}

fn unique_violation(e: rusqlite::Error, what: &str) -> StorageError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            StorageError::Conflict { code: "duplicate", message: format!("{what} is already used; choose another") }
        }
        _ => e.into(),
    }
}

impl Storage for SqliteStorage {
    fn backup(&self, file: &std::path::Path) -> Result<()> {
        self.backup_to(file)
    }

    fn pool_state(&self) -> PoolState {
        let writer_busy = u32::from(self.writer.try_lock().is_err());
        let readers_idle = u32::try_from(self.pool().len()).unwrap_or(u32::MAX);
        let readers_busy = self.readers_busy.load(std::sync::atomic::Ordering::Relaxed);
        PoolState {
            in_use: writer_busy + readers_busy,
            idle: (1 - writer_busy) + readers_idle,
            max: 1 + readers_busy + readers_idle,
        }
    }

    fn ready(&self) -> Result<()> {
        self.read(|conn| {
            let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if version as usize != SERVER_MIGRATIONS.len() {
                return Err(StorageError::Database(format!("schema version {version} is not current")));
            }
            Ok(())
        })
    }

    fn head_seq(&self) -> Result<i64> {
        self.read(feed::head)
    }

    fn set_negative_stock_policy(&self, policy: NegativeStockPolicy) -> Result<()> {
        self.write(|tx| {
            tx.execute("UPDATE settings SET value = ?1 WHERE key = 'negative_stock_policy'", [policy.as_str()])?;
            Ok(())
        })
    }

    fn create_user(&self, user: &NewUser, now: Timestamp) -> Result<UserId> {
        let id = UserId::new_random();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO users (id, username, password_hash, role, must_change_password, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    id.0,
                    user.username,
                    user.password_hash,
                    user.role.as_str(),
                    user.must_change_password,
                    now.millis()
                ],
            )
            .map_err(|e| unique_violation(e, &format!("user name {:?}", user.username)))?;
            for location in &user.locations {
                tx.execute(
                    "INSERT INTO user_locations (user_id, location_id) VALUES (?1, ?2)",
                    params![id.0, location.0],
                )?;
            }
            Ok(id)
        })
    }

    fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>> {
        self.read(|conn| user_where(conn, "username = ?1", &username))
    }

    fn set_password(&self, user: UserId, hash: &str, must_change: bool, revoke_sessions: bool) -> Result<()> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE users SET password_hash = ?2, must_change_password = ?3 WHERE id = ?1",
                params![user.0, hash, must_change],
            )?;
            if changed == 0 {
                return Err(StorageError::NotFound { what: "user", key: user.to_string() });
            }
            if revoke_sessions {
                tx.execute("UPDATE sessions SET revoked_at = 0 WHERE user_id = ?1 AND revoked_at IS NULL", [user.0])?;
            }
            Ok(())
        })
    }

    fn set_disabled(&self, user: UserId, disabled: bool) -> Result<()> {
        self.write(|tx| {
            let changed = tx.execute("UPDATE users SET disabled = ?2 WHERE id = ?1", params![user.0, disabled])?;
            if changed == 0 {
                return Err(StorageError::NotFound { what: "user", key: user.to_string() });
            }
            if disabled {
                tx.execute("UPDATE sessions SET revoked_at = 0 WHERE user_id = ?1 AND revoked_at IS NULL", [user.0])?;
            }
            Ok(())
        })
    }

    fn create_session(&self, user: UserId, tokens: &TokenHashes, now: Timestamp) -> Result<uuid::Uuid> {
        let id = uuid::Uuid::now_v7();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO sessions (id, user_id, access_hash, access_expires_at, refresh_hash, refresh_expires_at, \
                 created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    id,
                    user.0,
                    &tokens.access_hash[..],
                    tokens.access_expires_at.millis(),
                    &tokens.refresh_hash[..],
                    tokens.refresh_expires_at.millis(),
                    now.millis()
                ],
            )?;
            Ok(id)
        })
    }

    fn session_by_access(&self, access_hash: &[u8; 32], now: Timestamp) -> Result<Option<SessionRecord>> {
        self.read(|conn| {
            let found: Option<(uuid::Uuid, uuid::Uuid)> = conn
                .prepare_cached(
                    "SELECT id, user_id FROM sessions WHERE access_hash = ?1 AND revoked_at IS NULL \
                     AND access_expires_at > ?2",
                )?
                .query_row(params![&access_hash[..], now.millis()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((session_id, user_id)) = found else { return Ok(None) };
            let user = user_where(conn, "id = ?1", &user_id)?;
            Ok(user.map(|user| SessionRecord { session_id, user }))
        })
    }

    fn rotate_session(&self, refresh_hash: &[u8; 32], new: &TokenHashes, now: Timestamp) -> Result<Option<UserRecord>> {
        self.write(|tx| {
            let found: Option<(uuid::Uuid, uuid::Uuid, Option<i64>, i64)> = tx
                .query_row(
                    "SELECT id, user_id, revoked_at, refresh_expires_at FROM sessions WHERE refresh_hash = ?1",
                    [&refresh_hash[..]],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((session, user, revoked, expires)) = found else { return Ok(None) };
            if revoked.is_some() || expires <= now.millis() {
                return Ok(None);
            }
            tx.execute(
                "UPDATE sessions SET access_hash = ?2, access_expires_at = ?3, refresh_hash = ?4, \
                 refresh_expires_at = ?5 WHERE id = ?1",
                params![
                    session,
                    &new.access_hash[..],
                    new.access_expires_at.millis(),
                    &new.refresh_hash[..],
                    new.refresh_expires_at.millis()
                ],
            )?;
            user_where(tx, "id = ?1", &user)
        })
    }

    fn revoke_session(&self, session_id: uuid::Uuid, now: Timestamp) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![session_id, now.millis()],
            )?;
            Ok(())
        })
    }

    /// In memory: the SQLite backend serves one instance, so its memory is the shared state, and
    /// a counter checked on every request must not cost a synchronous disk write.
    fn rate_limit(&self, key: &str, window_ms: i64, max: i64, now: Timestamp) -> Result<bool> {
        let window_start = now.millis() - now.millis().rem_euclid(window_ms.max(1));
        let mut limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        if limits.len() > 100_000 {
            limits.retain(|_, (start, _)| *start == window_start);
        }
        let entry = limits.entry(key.to_string()).or_insert((window_start, 0));
        if entry.0 != window_start {
            *entry = (window_start, 0);
        }
        entry.1 += 1;
        Ok(entry.1 <= max)
    }

    fn register_device(&self, user: UserId, device: DeviceId, name: &str, now: Timestamp) -> Result<i64> {
        self.write(|tx| {
            let owner: Option<(uuid::Uuid, i64)> = tx
                .query_row("SELECT user_id, last_seq FROM devices WHERE id = ?1", [device.0], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            match owner {
                Some((owner, last)) if owner == user.0 => Ok(last),
                Some(_) => Err(StorageError::Conflict {
                    code: "device_taken",
                    message: format!("device {device} is registered to another user; register a new device id"),
                }),
                None => {
                    tx.execute(
                        "INSERT INTO devices (id, user_id, name, registered_at) VALUES (?1, ?2, ?3, ?4)",
                        params![device.0, user.0, name, now.millis()],
                    )?;
                    Ok(0)
                }
            }
        })
    }

    fn push(&self, pusher: &Pusher, request: &PushRequest, now: Timestamp) -> Result<Vec<MovementOutcome>> {
        let job = group::Job { pusher: pusher.clone(), request: request.clone(), now };
        self.pushes.submit(job, |jobs| {
            let jobs: Vec<PushJob<'_>> = jobs.iter().map(|j| j.as_push()).collect();
            group::run_group(&jobs, |jobs| self.write(|tx| push::push_group(tx, jobs)))
        })
    }

    fn pull(&self, device: DeviceId, after: i64, limit: u32) -> Result<PullPage> {
        self.read(|conn| {
            let tx = conn.unchecked_transaction()?;
            let page = pull::pull(&tx, &self.stamps, device, after, limit)?;
            tx.finish()?;
            Ok(page)
        })
    }

    fn catalog_push(
        &self,
        pusher: &Pusher,
        request: &CatalogPushRequest,
        now: Timestamp,
    ) -> Result<Vec<CatalogOutcome>> {
        self.write(|tx| crate::storage::catalog::push(&mut catalog::SqliteCatalog(tx), pusher, request, now))
    }

    fn catalog_audit(&self, entity_id: Option<uuid::Uuid>) -> Result<Vec<CatalogChange>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT entity, entity_id, field, old_value, new_value, user_id, device_id, changed_at \
                 FROM catalog_audit WHERE ?1 IS NULL OR entity_id = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map([entity_id], |r| {
                Ok(CatalogChange {
                    entity: r.get(0)?,
                    entity_id: r.get::<_, uuid::Uuid>(1)?.to_string(),
                    field: r.get(2)?,
                    old_value: r.get(3)?,
                    new_value: r.get(4)?,
                    user_id: UserId(r.get(5)?),
                    device_id: DeviceId(r.get::<_, Option<uuid::Uuid>>(6)?.unwrap_or_default()),
                    changed_at: Timestamp(r.get(7)?),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn save_product(&self, actor: UserId, product: &Product, now: Timestamp) -> Result<()> {
        let row = CatalogRow::Product(product.clone());
        self.write(|tx| crate::storage::catalog::save_on_server(&mut catalog::SqliteCatalog(tx), actor, &row, now))
    }

    fn save_location(&self, actor: UserId, location: &Location, now: Timestamp) -> Result<()> {
        let row = CatalogRow::Location(location.clone());
        self.write(|tx| crate::storage::catalog::save_on_server(&mut catalog::SqliteCatalog(tx), actor, &row, now))
    }

    fn products(&self) -> Result<Vec<Product>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!("SELECT {PRODUCT_COLUMNS} FROM products ORDER BY sku"))?;
            let rows = stmt.query_map([], product_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn locations(&self) -> Result<Vec<Location>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!("SELECT {LOCATION_COLUMNS} FROM locations ORDER BY code"))?;
            let rows = stmt.query_map([], location_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn stock(&self, location: Option<LocationId>) -> Result<Vec<StockLevel>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT product_id, location_id, on_hand, movement_count, digest FROM levels \
                 WHERE ?1 IS NULL OR location_id = ?1 ORDER BY product_id, location_id",
            )?;
            let rows = stmt.query_map([location.map(|l| l.0)], |r| {
                let digest = digest_from(r.get(3)?, r.get(4)?);
                Ok(StockLevel {
                    product_id: ProductId(r.get(0)?),
                    location_id: LocationId(r.get(1)?),
                    on_hand: r.get(2)?,
                    checksum: digest.to_string(),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn checksum(&self, product: ProductId, location: LocationId) -> Result<LedgerDigest> {
        self.read(|conn| {
            Ok(smartstock_store::sql::load_level(conn, product, location)?
                .map(|(_, digest)| digest)
                .unwrap_or_default())
        })
    }

    fn alerts(&self, open_only: bool) -> Result<Vec<Alert>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE NOT ?1 OR resolved_at IS NULL ORDER BY raised_at DESC, id"
            ))?;
            let rows = stmt.query_map([open_only], alert_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn resolve_alert(&self, actor: UserId, alert: AlertId, now: Timestamp) -> Result<()> {
        self.write(|tx| {
            let seq = feed::next_feed_seq(tx)?;
            let changed = tx.execute(
                "UPDATE alerts SET resolved_by = ?2, resolved_at = ?3, feed_seq = ?4 WHERE id = ?1 AND resolved_at IS NULL",
                params![alert.0, actor.0, now.millis(), seq],
            )?;
            if changed == 0 {
                return Err(StorageError::NotFound { what: "open alert", key: alert.to_string() });
            }
            audit(tx, "alert", alert.0, actor, Some("open".into()), "resolved".into(), now)
        })
    }

    /// One process owns the file, and its API announces its own writes: nothing to listen to.
    fn subscribe_changes(&self, _events: crate::events::Events) -> Result<()> {
        Ok(())
    }
}

fn digest_from(count: i64, bytes: Vec<u8>) -> LedgerDigest {
    let mut sum = [0u8; 16];
    if bytes.len() == 16 {
        sum.copy_from_slice(&bytes);
    }
    LedgerDigest::from_parts(count as u64, sum)
}
