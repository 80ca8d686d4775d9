//! The PostgreSQL backend, for scale (DESIGN.md, "Scale"): several server instances share one
//! database. Schema from `migrations/server/postgres`, applied by `refinery` (embedded at build
//! time) under an advisory lock, so instances that start together migrate once. Synchronous
//! `postgres` clients in an `r2d2` pool: the `Storage` methods are sync and the API runs them on
//! tokio's blocking pool. Semantics are the SQLite backend's, outcome for outcome and error
//! variant for error variant; the push rules live in `rules`, for both backends. Writers of the
//! feed serialize on the feed counter's row lock (`feed.rs`), which is what keeps pulls from
//! skipping under concurrent pushes; since that lock is held through each commit's WAL flush,
//! concurrent pushes commit together in groups (`group.rs`). Every transaction that moves the feed
//! also sends `NOTIFY smartstock_feed` (delivered at commit), and `listen.rs` turns the notices of
//! other instances into event-stream wake-ups. Signed-in requests (`authenticate`) are one
//! statement each, and a pull with its session check one too (`pull::signed_page`), outside any
//! transaction, on a pool of their own whose connections keep generic plans (`db::Plans`:
//! planning those statements cost more than running them); the
//! writers' pool leaves the choice to PostgreSQL (`auto`: forcing custom plans there re-planned
//! the foreign-key check of every inserted movement). `backup.rs` writes and restores online
//! backups.
//!
//! Must not: be called from inside an async task (the sync client blocks; use `spawn_blocking`),
//! keep state another instance would need (everything shared lives in the database), or build SQL
//! from values (parameters only; the one identifier, a test schema name, is validated and quoted by
//! the server).

mod backup;
mod catalog;
mod db;
mod feed;
mod listen;
mod pull;
mod push;
mod rows;
mod users;

use crate::storage::group;
use crate::storage::push::PushJob;
use crate::storage::{
    NewUser, PageRequest, PoolState, Pusher, RateLimit, Result, SessionRecord, SignedPage, StockLevel, Storage,
    StorageError, TokenHashes, UserRecord,
};
use ::postgres::{Client, Config, IsolationLevel};
use db::{Db, Manager, Plans};
use rows::{ALERT_COLUMNS, LOCATION_COLUMNS, PRODUCT_COLUMNS};
use smartstock_core::wire::{CatalogOutcome, CatalogPushRequest, CatalogRow, MovementOutcome, PullPage, PushRequest};
use smartstock_core::{
    Alert, AlertId, CatalogChange, DeviceId, LedgerDigest, Location, LocationId, NegativeStockPolicy, Product,
    ProductId, Timestamp, UserId,
};
use std::time::Duration;

mod embedded {
    refinery::embed_migrations!("../../migrations/server/postgres");
}

/// Most connections one server instance holds for writes and reads.
const POOL_SIZE: u32 = 16;
/// Most connections one server instance holds for the per-request lookups (sessions, pulls).
const LOOKUP_POOL_SIZE: u32 = 16;
/// First key of the advisory lock held while migrating (the second is the schema's hash).
const MIGRATION_LOCK: i32 = 0x5353_4D47; // "SSMG"

/// The PostgreSQL backend.
pub struct PgStorage {
    /// `None` only while dropping.
    pool: Option<r2d2::Pool<Manager>>,
    /// Connections for the single-statement lookups of every request (`authenticate`, `pull`),
    /// on generic plans (`db::Plans`). `None` only while dropping.
    lookups: Option<r2d2::Pool<Manager>>,
    /// Where the change listener connects (the pool's database and schema).
    listen: listen::Target,
    /// Set on drop: the change listener, if started, stops.
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Concurrent pushes, committed in groups.
    pushes: group::GroupCommit,
    /// Catalog rows' stamps parsed for pulls.
    stamps: crate::storage::stamps_memo::StampsMemo,
}

impl std::fmt::Debug for PgStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStorage").field("pool", &self.pool.as_ref().map(|p| p.state())).finish()
    }
}

impl Drop for PgStorage {
    /// The sync client closes its connection by blocking on its own small runtime, which panics
    /// inside an async context — and the server drops its state inside tokio at shutdown. So the
    /// pooled connections are closed on a plain thread when a runtime is current.
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let pools = (self.pool.take(), self.lookups.take());
        if tokio::runtime::Handle::try_current().is_err() {
            return drop(pools);
        }
        let closer = std::thread::Builder::new().name("pg-pool-close".into()).spawn(move || drop(pools));
        if let Ok(handle) = closer {
            let _ = handle.join();
        }
    }
}

impl PgStorage {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/database`, no TLS), applies
    /// pending migrations, and pools connections. A database migrated by a newer server is
    /// refused untouched (`Conflict` with code `database_too_new`). Call from a blocking thread.
    pub fn connect(url: &str) -> Result<PgStorage> {
        PgStorage::open(url, None)
    }

    /// Like [`PgStorage::connect`], inside `schema` (created if missing; its name is lowercase
    /// letters, digits and `_`, at most 63, starting with a letter or `_`). Every pooled connection
    /// sets `search_path` to it, so the tables and the migration history live there: tests each
    /// get an isolated schema in one database.
    pub fn connect_in_schema(url: &str, schema: &str) -> Result<PgStorage> {
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !schema.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(smartstock_core::ValidationError::new(
                "schema",
                "must be 1 to 63 lowercase letters, digits or _, not starting with a digit",
            )
            .into());
        }
        PgStorage::open(url, Some(schema.to_owned()))
    }

    fn open(url: &str, schema: Option<String>) -> Result<PgStorage> {
        let mut config: Config = url.parse()?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let listen = listen::Target { config: config.clone(), schema: schema.clone() };
        let manager = Manager { config: config.clone(), schema: schema.clone(), plans: Plans::Auto };
        {
            let mut client = manager.config.connect(::postgres::NoTls)?;
            if let Some(schema) = &manager.schema {
                let create: String = client
                    .query_one("SELECT format('CREATE SCHEMA IF NOT EXISTS %I', $1::text)", &[schema])?
                    .try_get(0)?;
                client.batch_execute(&create)?;
                client.execute("SELECT set_config('search_path', quote_ident($1), false)", &[schema])?;
            }
            migrate(&mut client)?;
        }
        let pool = build_pool(manager, POOL_SIZE);
        let lookups = build_pool(Manager { config, schema, plans: Plans::Generic }, LOOKUP_POOL_SIZE);
        Ok(PgStorage {
            pool: Some(pool),
            lookups: Some(lookups),
            listen,
            stop: Default::default(),
            pushes: Default::default(),
            stamps: Default::default(),
        })
    }

    fn connection(&self) -> Result<r2d2::PooledConnection<Manager>> {
        let pool = self.pool.as_ref().ok_or_else(|| StorageError::Database("the storage is closed".into()))?;
        Ok(pool.get()?)
    }

    /// A connection for a per-request lookup (generic plans).
    fn lookup_connection(&self) -> Result<r2d2::PooledConnection<Manager>> {
        let pool = self.lookups.as_ref().ok_or_else(|| StorageError::Database("the storage is closed".into()))?;
        Ok(pool.get()?)
    }

    /// Runs `f` in a READ COMMITTED read-write transaction and commits; an error rolls back.
    fn write<T>(&self, f: impl FnOnce(&mut Db<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.connection()?;
        let mut db = conn.begin(IsolationLevel::ReadCommitted, false)?;
        let out = f(&mut db)?;
        db.commit()?;
        Ok(out)
    }

    /// Runs pushes of distinct devices in one transaction, with the result each would have had
    /// alone in the order given (what concurrent pushes go through; public for tests). When the
    /// group fails as a whole, each push runs alone, so a failure belongs to the push that caused
    /// it.
    pub fn push_group(&self, jobs: &[PushJob<'_>]) -> Vec<Result<Vec<MovementOutcome>>> {
        group::run_group(jobs, |jobs| self.write(|db| push::push_group(db, jobs)))
    }

    /// Writes a consistent online backup of the database to `file` (which must not exist): one
    /// snapshot of every table, in `backup.rs`'s format.
    pub fn backup_to(&self, file: &std::path::Path) -> Result<()> {
        if file.exists() {
            return Err(StorageError::Conflict {
                code: "exists",
                message: format!("{} exists; choose a new file name", file.display()),
            });
        }
        self.read(|db| backup::backup(db, file))
    }

    /// Restores a backup into the database at `url` (inside `schema` when given, created if
    /// missing), which must hold no SmartStock tables. A backup from a newer server is refused and
    /// nothing is touched; newer migrations run after the load. Call from a blocking thread.
    pub fn restore(url: &str, schema: Option<&str>, file: &std::path::Path) -> Result<()> {
        let config: Config = url.parse()?;
        let mut client = config.connect(::postgres::NoTls)?;
        if let Some(schema) = schema {
            let create: String = client
                .query_one("SELECT format('CREATE SCHEMA IF NOT EXISTS %I', $1::text)", &[&schema])?
                .try_get(0)?;
            client.batch_execute(&create)?;
            client.execute("SELECT set_config('search_path', quote_ident($1), false)", &[&schema])?;
        }
        backup::restore(client, file)
    }

    /// Runs `f` in one REPEATABLE READ read-only snapshot.
    fn read<T>(&self, f: impl FnOnce(&mut Db<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.connection()?;
        let mut db = conn.begin(IsolationLevel::RepeatableRead, true)?;
        let out = f(&mut db)?;
        db.commit()?;
        Ok(out)
    }
}

/// A pool of at most `size` connections; connections open on demand.
fn build_pool(manager: Manager, size: u32) -> r2d2::Pool<Manager> {
    r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        // A broken connection fails its first statement and `has_broken` drops it; testing
        // every checkout would cost a round trip per request.
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(30))
        .build_unchecked(manager)
}

/// The result of a group of one.
/// The newest migration this build knows.
fn latest_migration() -> i32 {
    embedded::migrations::runner().get_migrations().iter().map(|m| m.version()).max().unwrap_or(0)
}

/// Applies pending migrations on `client` (in its `search_path`), one instance at a time per schema.
fn migrate(client: &mut Client) -> Result<()> {
    client.execute("SELECT pg_advisory_lock($1, hashtext(current_schema()))", &[&MIGRATION_LOCK])?;
    let result = migrate_locked(client);
    let unlocked = client.execute("SELECT pg_advisory_unlock($1, hashtext(current_schema()))", &[&MIGRATION_LOCK]);
    result?;
    unlocked?;
    Ok(())
}

fn migrate_locked(client: &mut Client) -> Result<()> {
    if applied_version(client)?.is_some_and(|v| v > latest_migration()) {
        return Err(StorageError::Conflict {
            code: "database_too_new",
            message: "the PostgreSQL schema was written by a newer smartstock-server; upgrade the server".into(),
        });
    }
    embedded::migrations::runner().run(client).map_err(|e| {
        // refinery's message names the step; the driver's reason is in the source chain.
        let mut text = format!("migrating: {e}");
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            text.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        StorageError::Database(text)
    })?;
    Ok(())
}

/// The newest migration applied in the current schema (`None` before the first).
fn applied_version(client: &mut Client) -> Result<Option<i32>> {
    let exists: bool =
        client.query_one("SELECT to_regclass('refinery_schema_history') IS NOT NULL", &[])?.try_get(0)?;
    if !exists {
        return Ok(None);
    }
    Ok(client.query_one("SELECT max(version) FROM refinery_schema_history", &[])?.try_get(0)?)
}

fn audit(
    db: &mut Db<'_>,
    entity: &str,
    id: uuid::Uuid,
    actor: UserId,
    old: Option<String>,
    new: String,
    now: Timestamp,
) -> Result<()> {
    let field = if old.is_some() { "updated" } else { "created" };
    db.execute(
        "INSERT INTO catalog_audit (entity, entity_id, field, old_value, new_value, user_id, changed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&entity, &id, &field, &old, &new, &actor.0, &now.millis()],
    )?;
    Ok(())
}

impl Storage for PgStorage {
    fn backup(&self, file: &std::path::Path) -> Result<()> {
        self.backup_to(file)
    }

    fn pool_state(&self) -> PoolState {
        let mut total = PoolState::default();
        for pool in [self.pool.as_ref(), self.lookups.as_ref()].into_iter().flatten() {
            let state = pool.state();
            total.in_use += state.connections.saturating_sub(state.idle_connections);
            total.idle += state.idle_connections;
            total.max += pool.max_size();
        }
        total
    }

    fn ready(&self) -> Result<()> {
        self.read(|db| {
            let version: Option<i32> =
                db.query_one("SELECT max(version) FROM refinery_schema_history", &[])?.try_get(0)?;
            let version = version.unwrap_or(0);
            if version != latest_migration() {
                return Err(StorageError::Database(format!("schema version {version} is not current")));
            }
            Ok(())
        })
    }

    fn head_seq(&self) -> Result<i64> {
        self.read(feed::head)
    }

    fn set_negative_stock_policy(&self, policy: NegativeStockPolicy) -> Result<()> {
        self.write(|db| {
            db.execute("UPDATE settings SET value = $1 WHERE key = 'negative_stock_policy'", &[&policy.as_str()])?;
            Ok(())
        })
    }

    fn create_user(&self, user: &NewUser, now: Timestamp) -> Result<UserId> {
        self.write(|db| users::create_user(db, user, now))
    }

    fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>> {
        self.read(|db| users::user_by_name(db, username))
    }

    fn set_password(&self, user: UserId, hash: &str, must_change: bool, revoke_sessions: bool) -> Result<()> {
        self.write(|db| users::set_password(db, user, hash, must_change, revoke_sessions))
    }

    fn set_disabled(&self, user: UserId, disabled: bool) -> Result<()> {
        self.write(|db| users::set_disabled(db, user, disabled))
    }

    fn create_session(&self, user: UserId, tokens: &TokenHashes, now: Timestamp) -> Result<uuid::Uuid> {
        self.write(|db| users::create_session(db, user, tokens, now))
    }

    fn session_by_access(&self, access_hash: &[u8; 32], now: Timestamp) -> Result<Option<SessionRecord>> {
        self.read(|db| users::session_by_access(db, access_hash, now))
    }

    fn rotate_session(&self, refresh_hash: &[u8; 32], new: &TokenHashes, now: Timestamp) -> Result<Option<UserRecord>> {
        self.write(|db| users::rotate_session(db, refresh_hash, new, now))
    }

    fn revoke_session(&self, session_id: uuid::Uuid, now: Timestamp) -> Result<()> {
        self.write(|db| users::revoke_session(db, session_id, now))
    }

    fn rate_limit(&self, key: &str, window_ms: i64, max: i64, now: Timestamp) -> Result<bool> {
        self.write(|db| users::rate_limit(db, key, window_ms, max, now))
    }

    fn register_device(&self, user: UserId, device: DeviceId, name: &str, now: Timestamp) -> Result<i64> {
        self.write(|db| users::register_device(db, user, device, name, now))
    }

    fn authenticate(
        &self,
        access_hash: &[u8; 32],
        limit: RateLimit,
        now: Timestamp,
    ) -> Result<Option<(SessionRecord, bool)>> {
        let mut conn = self.lookup_connection()?;
        let mut db = conn.autocommit();
        let window = users::window_start(limit.window_ms, now);
        let row = db.query_opt(users::authenticate_sql(), &[&&access_hash[..], &now.millis(), &window])?;
        row.map(|row| users::session_at(&row, 0, limit.max)).transpose()
    }

    fn authenticate_and_pull(
        &self,
        access_hash: &[u8; 32],
        limit: RateLimit,
        now: Timestamp,
        page: PageRequest,
    ) -> Result<SignedPage> {
        let mut conn = self.lookup_connection()?;
        let check =
            pull::Check { access_hash, now, window_start: users::window_start(limit.window_ms, now), max: limit.max };
        let found = pull::signed_page(&mut conn.autocommit(), &self.stamps, &check, page);
        found
    }

    fn push(&self, pusher: &Pusher, request: &PushRequest, now: Timestamp) -> Result<Vec<MovementOutcome>> {
        let job = group::Job { pusher: pusher.clone(), request: request.clone(), now };
        self.pushes.submit(job, |jobs| self.push_group(&jobs.iter().map(|j| j.as_push()).collect::<Vec<_>>()))
    }

    fn pull(&self, device: DeviceId, after: i64, limit: u32) -> Result<PullPage> {
        // One statement: one snapshot without a transaction, one round trip.
        self.lookup_connection()
            .and_then(|mut conn| pull::pull(&mut conn.autocommit(), &self.stamps, device, after, limit))
    }

    fn catalog_push(
        &self,
        pusher: &Pusher,
        request: &CatalogPushRequest,
        now: Timestamp,
    ) -> Result<Vec<CatalogOutcome>> {
        self.write(|db| crate::storage::catalog::push(&mut catalog::PgCatalog(db), pusher, request, now))
    }

    fn catalog_audit(&self, entity_id: Option<uuid::Uuid>) -> Result<Vec<CatalogChange>> {
        self.read(|db| {
            let rows = db.query(
                "SELECT entity, entity_id, field, old_value, new_value, user_id, device_id, changed_at \
                 FROM catalog_audit WHERE $1::uuid IS NULL OR entity_id = $1 ORDER BY seq",
                &[&entity_id],
            )?;
            rows.iter()
                .map(|r| {
                    Ok(CatalogChange {
                        entity: r.try_get(0)?,
                        entity_id: r.try_get::<_, uuid::Uuid>(1)?.to_string(),
                        field: r.try_get(2)?,
                        old_value: r.try_get(3)?,
                        new_value: r.try_get(4)?,
                        user_id: UserId(r.try_get(5)?),
                        device_id: DeviceId(r.try_get::<_, Option<uuid::Uuid>>(6)?.unwrap_or_default()),
                        changed_at: Timestamp(r.try_get(7)?),
                    })
                })
                .collect()
        })
    }

    fn save_product(&self, actor: UserId, product: &Product, now: Timestamp) -> Result<()> {
        let row = CatalogRow::Product(product.clone());
        self.write(|db| crate::storage::catalog::save_on_server(&mut catalog::PgCatalog(db), actor, &row, now))
    }

    fn save_location(&self, actor: UserId, location: &Location, now: Timestamp) -> Result<()> {
        let row = CatalogRow::Location(location.clone());
        self.write(|db| crate::storage::catalog::save_on_server(&mut catalog::PgCatalog(db), actor, &row, now))
    }

    fn products(&self) -> Result<Vec<Product>> {
        self.read(|db| {
            db.query(&format!("SELECT {PRODUCT_COLUMNS} FROM products ORDER BY sku"), &[])?
                .iter()
                .map(rows::product_from_row)
                .collect()
        })
    }

    fn locations(&self) -> Result<Vec<Location>> {
        self.read(|db| {
            db.query(&format!("SELECT {LOCATION_COLUMNS} FROM locations ORDER BY code"), &[])?
                .iter()
                .map(rows::location_from_row)
                .collect()
        })
    }

    fn stock(&self, location: Option<LocationId>) -> Result<Vec<StockLevel>> {
        self.read(|db| {
            let found = db.query(
                "SELECT product_id, location_id, on_hand, movement_count, digest FROM levels \
                 WHERE $1::uuid IS NULL OR location_id = $1 ORDER BY product_id, location_id",
                &[&location.map(|l| l.0)],
            )?;
            found
                .iter()
                .map(|r| {
                    let digest = rows::digest_from(r.try_get(3)?, r.try_get(4)?);
                    Ok(StockLevel {
                        product_id: ProductId(r.try_get(0)?),
                        location_id: LocationId(r.try_get(1)?),
                        on_hand: r.try_get(2)?,
                        checksum: digest.to_string(),
                    })
                })
                .collect()
        })
    }

    fn checksum(&self, product: ProductId, location: LocationId) -> Result<LedgerDigest> {
        self.read(|db| Ok(rows::load_level(db, product, location)?.map(|(_, digest)| digest).unwrap_or_default()))
    }

    fn alerts(&self, open_only: bool) -> Result<Vec<Alert>> {
        self.read(|db| {
            db.query(
                &format!(
                    "SELECT {ALERT_COLUMNS} FROM alerts WHERE NOT $1::boolean OR resolved_at IS NULL \
                     ORDER BY raised_at DESC, id"
                ),
                &[&open_only],
            )?
            .iter()
            .map(rows::alert_from_row)
            .collect()
        })
    }

    fn resolve_alert(&self, actor: UserId, alert: AlertId, now: Timestamp) -> Result<()> {
        self.write(|db| {
            let seq = feed::next_feed_seq(db)?;
            let changed = db.execute(
                "UPDATE alerts SET resolved_by = $2, resolved_at = $3, feed_seq = $4 \
                 WHERE id = $1 AND resolved_at IS NULL",
                &[&alert.0, &actor.0, &now.millis(), &seq],
            )?;
            if changed == 0 {
                return Err(StorageError::NotFound { what: "open alert", key: alert.to_string() });
            }
            audit(db, "alert", alert.0, actor, Some("open".into()), "resolved".into(), now)
        })
    }

    fn subscribe_changes(&self, events: crate::events::Events) -> Result<()> {
        listen::start(self.listen.clone(), events, std::sync::Arc::clone(&self.stop))
    }
}
