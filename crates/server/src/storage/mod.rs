//! Storage behind one trait. The API layer holds an `Arc<dyn Storage>` and never sees SQL; each
//! backend owns its schema (`migrations/server/<backend>`) and its transactions. Methods are
//! synchronous: the API runs them on the blocking pool, so a backend may use a blocking driver.
//!
//! Must not: decide HTTP matters (status codes, headers) or hold per-process state that another
//! instance would need to see.

pub mod catalog;
pub(crate) mod group;
pub mod page;
pub mod postgres;
pub mod push;
pub mod rules;
pub mod sqlite;
pub mod stamps_memo;

use serde::{Deserialize, Serialize};
use smartstock_core::wire::{CatalogOutcome, CatalogPushRequest, MovementOutcome, PullPage, PushRequest};
use smartstock_core::{
    Alert, AlertId, DeviceId, LedgerDigest, Location, LocationId, Product, ProductId, Timestamp, UserId,
};

/// Opens the backend the target names (creating and migrating its schema).
pub fn open(target: &crate::config::DatabaseTarget) -> Result<std::sync::Arc<dyn Storage>> {
    match target {
        crate::config::DatabaseTarget::Sqlite(path) => Ok(std::sync::Arc::new(sqlite::SqliteStorage::open(path)?)),
        crate::config::DatabaseTarget::Postgres(url) => Ok(std::sync::Arc::new(postgres::PgStorage::connect(url)?)),
    }
}

/// A user's role (DESIGN.md, "Security").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Users and settings, and everything a manager may do.
    Admin,
    /// Catalog, counts, resolving alerts, and everything a clerk may do.
    Manager,
    /// Movements at assigned locations.
    Clerk,
    /// Read only.
    Viewer,
}

impl Role {
    /// Text form as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Clerk => "clerk",
            Role::Viewer => "viewer",
        }
    }

    /// Parses the stored form.
    pub fn parse(text: &str) -> Option<Role> {
        [Role::Admin, Role::Manager, Role::Clerk, Role::Viewer].into_iter().find(|r| r.as_str() == text)
    }

    /// Whether this role includes everything `other` may do.
    pub fn at_least(self, other: Role) -> bool {
        self.rank() >= other.rank()
    }

    fn rank(self) -> u8 {
        match self {
            Role::Viewer => 0,
            Role::Clerk => 1,
            Role::Manager => 2,
            Role::Admin => 3,
        }
    }
}

/// A stored user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    /// Id.
    pub id: UserId,
    /// Login name.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Role.
    pub role: Role,
    /// The bootstrap admin (or a reset user) must change the password before anything else.
    pub must_change_password: bool,
    /// Disabled users cannot sign in and their sessions stop working.
    pub disabled: bool,
    /// Locations a clerk may record movements at.
    pub locations: Vec<LocationId>,
}

/// A user to create.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Role.
    pub role: Role,
    /// Must change the password at first sign-in.
    pub must_change_password: bool,
    /// Assigned locations (clerks).
    pub locations: Vec<LocationId>,
}

/// Hashes of a session's tokens and their expiry.
#[derive(Clone, Debug)]
pub struct TokenHashes {
    /// SHA-256 of the access token.
    pub access_hash: [u8; 32],
    /// Access token expiry.
    pub access_expires_at: Timestamp,
    /// SHA-256 of the refresh token.
    pub refresh_hash: [u8; 32],
    /// Refresh token expiry.
    pub refresh_expires_at: Timestamp,
}

/// The session an access token belongs to, with its user.
#[derive(Clone, Debug)]
pub struct SessionRecord {
    /// Session id.
    pub session_id: uuid::Uuid,
    /// The user (current state: role, disabled, must change password).
    pub user: UserRecord,
}

/// Who pushes: the authenticated user and what they may do.
#[derive(Clone, Debug)]
pub struct Pusher {
    /// User.
    pub user_id: UserId,
    /// Role.
    pub role: Role,
    /// Locations a clerk may use.
    pub locations: Vec<LocationId>,
}

/// A backend's connections in this process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolState {
    /// Checked out, running a statement or a transaction.
    pub in_use: u32,
    /// Open and waiting for work.
    pub idle: u32,
    /// The most the pool holds (SQLite: one writer and the readers open now; readers open on
    /// demand).
    pub max: u32,
}

/// What [`Storage::authenticate`] found, and the page [`Storage::pull`] would answer (`None`
/// when the token is unknown).
pub type SignedPage = (Option<(SessionRecord, bool)>, Option<PullPage>);

/// Which pull page a device asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// The pulling device (its own movements are left out).
    pub device: DeviceId,
    /// The feed cursor.
    pub after: i64,
    /// Most items.
    pub limit: u32,
}

/// A fixed-window rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Window length.
    pub window_ms: i64,
    /// Most requests in one window.
    pub max: i64,
}

/// The key a user's API requests count against.
pub fn api_rate_key(user: UserId) -> String {
    format!("api:user:{user}")
}

/// One cached level, for stock queries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    /// Product.
    pub product_id: ProductId,
    /// Location.
    pub location_id: LocationId,
    /// On hand (base units).
    pub on_hand: i64,
    /// Ledger checksum of the pair.
    pub checksum: String,
}

/// A storage failure or refusal.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A referenced row does not exist.
    #[error("{what} {key} does not exist")]
    NotFound {
        /// Kind of row.
        what: &'static str,
        /// Its id or name.
        key: String,
    },
    /// The request conflicts with what is stored.
    #[error("{message}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// Sentence naming the problem and the fix.
        message: String,
    },
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// A field is wrong.
    #[error("invalid {0}")]
    Invalid(#[from] smartstock_core::ValidationError),
    /// A pushed batch skips sequence numbers: resend from `last_acknowledged + 1`.
    #[error("device sequence gap: the server has every movement up to {last_acknowledged}; resend from {}", last_acknowledged + 1)]
    SequenceGap {
        /// Highest `device_seq` the server holds for this device.
        last_acknowledged: i64,
    },
    /// The device pushed a different movement under a sequence number already used: its
    /// database was restored or copied. It must register anew and re-sequence.
    #[error("device_seq {device_seq} of this device already holds another movement: this database was restored or copied; register the device anew")]
    DeviceRestored {
        /// The reused number.
        device_seq: i64,
    },
    /// A pushed batch of catalog edits skips numbers: resend from `last_acknowledged + 1`.
    #[error("catalog edit gap: the server has every catalog edit up to {last_acknowledged}; resend from {}", last_acknowledged + 1)]
    CatalogGap {
        /// Highest catalog `seq` the server holds for this device.
        last_acknowledged: i64,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
}

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        StorageError::Database(e.to_string())
    }
}

impl From<smartstock_store::StoreError> for StorageError {
    fn from(e: smartstock_store::StoreError) -> Self {
        match e {
            smartstock_store::StoreError::Invalid(v) => StorageError::Invalid(v),
            other => StorageError::Database(other.to_string()),
        }
    }
}

/// Shorthand.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// The contract every backend fulfils. One method per use case.
pub trait Storage: Send + Sync + 'static {
    /// Database reachable and schema current.
    fn ready(&self) -> Result<()>;
    /// Writes a consistent online backup to `file` (which must not exist); each backend has its
    /// own restore (`SqliteStorage::restore`, `PgStorage::restore`).
    fn backup(&self, file: &std::path::Path) -> Result<()>;
    /// This instance's database connections (for the metrics; never blocks).
    fn pool_state(&self) -> PoolState;
    /// The highest feed number committed (what a fully synced client has pulled up to).
    fn head_seq(&self) -> Result<i64>;
    /// The global negative-stock policy (`forbid` or `allow`) pushed to clients.
    fn set_negative_stock_policy(&self, policy: smartstock_core::NegativeStockPolicy) -> Result<()>;

    /// Creates a user; `Conflict` if the name is taken.
    fn create_user(&self, user: &NewUser, now: Timestamp) -> Result<UserId>;
    /// A user by login name.
    fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>>;
    /// Sets a new password hash (and whether it must be changed at next sign-in); revokes the
    /// user's sessions when `revoke_sessions`.
    fn set_password(&self, user: UserId, hash: &str, must_change: bool, revoke_sessions: bool) -> Result<()>;
    /// Disables or enables a user; disabling revokes every session.
    fn set_disabled(&self, user: UserId, disabled: bool) -> Result<()>;

    /// Stores a new session.
    fn create_session(&self, user: UserId, tokens: &TokenHashes, now: Timestamp) -> Result<uuid::Uuid>;
    /// The live session of an access token.
    fn session_by_access(&self, access_hash: &[u8; 32], now: Timestamp) -> Result<Option<SessionRecord>>;
    /// Swaps a refresh token for new tokens: the old refresh and access tokens stop working, so
    /// a refresh token works once.
    fn rotate_session(&self, refresh_hash: &[u8; 32], new: &TokenHashes, now: Timestamp) -> Result<Option<UserRecord>>;
    /// Ends a session.
    fn revoke_session(&self, session_id: uuid::Uuid, now: Timestamp) -> Result<()>;
    /// Counts one attempt against `key` in a fixed window; `false` when over `max`.
    fn rate_limit(&self, key: &str, window_ms: i64, max: i64, now: Timestamp) -> Result<bool>;
    /// What every signed-in request needs: the live session of an access token, and whether this
    /// request is within its user's API limit (counted against [`api_rate_key`], as
    /// [`Storage::rate_limit`] would). An unknown token counts nothing. A backend with round
    /// trips answers it in one.
    fn authenticate(
        &self,
        access_hash: &[u8; 32],
        limit: RateLimit,
        now: Timestamp,
    ) -> Result<Option<(SessionRecord, bool)>> {
        let Some(record) = self.session_by_access(access_hash, now)? else { return Ok(None) };
        let within = self.rate_limit(&api_rate_key(record.user.id), limit.window_ms, limit.max, now)?;
        Ok(Some((record, within)))
    }

    /// [`Storage::authenticate`] and the page [`Storage::pull`] would answer, together (`None`
    /// for the page when the token is unknown). The caller hands the page out only once it has
    /// admitted the session. A backend with round trips answers it in one.
    fn authenticate_and_pull(
        &self,
        access_hash: &[u8; 32],
        limit: RateLimit,
        now: Timestamp,
        page: PageRequest,
    ) -> Result<SignedPage> {
        let Some(found) = self.authenticate(access_hash, limit, now)? else { return Ok((None, None)) };
        Ok((Some(found), Some(self.pull(page.device, page.after, page.limit)?)))
    }

    /// Binds a device id to a user (idempotent for the same user). Returns the device's last
    /// acknowledged sequence number.
    fn register_device(&self, user: UserId, device: DeviceId, name: &str, now: Timestamp) -> Result<i64>;
    /// Applies a push in one transaction (DESIGN.md, "Identity, ordering, exactly-once").
    fn push(&self, pusher: &Pusher, request: &PushRequest, now: Timestamp) -> Result<Vec<MovementOutcome>>;
    /// One page of what other devices did after `after`, in feed order.
    fn pull(&self, device: DeviceId, after: i64, limit: u32) -> Result<PullPage>;

    /// Applies a device's catalog edits in one transaction: merged per field by (HLC, device),
    /// duplicates aliased, losers audited and told (`catalog`). One outcome per edit.
    fn catalog_push(
        &self,
        pusher: &Pusher,
        request: &CatalogPushRequest,
        now: Timestamp,
    ) -> Result<Vec<CatalogOutcome>>;
    /// The catalog audit, oldest first; optionally of one row only.
    fn catalog_audit(&self, entity_id: Option<uuid::Uuid>) -> Result<Vec<smartstock_core::CatalogChange>>;

    /// Creates or updates a product (audited; merged per field, stamped with the server's time).
    fn save_product(&self, actor: UserId, product: &Product, now: Timestamp) -> Result<()>;
    /// Creates or updates a location (audited).
    fn save_location(&self, actor: UserId, location: &Location, now: Timestamp) -> Result<()>;
    /// Every product (archived ones too), by SKU.
    fn products(&self) -> Result<Vec<Product>>;
    /// Every location (archived ones too), by code.
    fn locations(&self) -> Result<Vec<Location>>;
    /// Cached levels, optionally of one location.
    fn stock(&self, location: Option<LocationId>) -> Result<Vec<StockLevel>>;
    /// The ledger checksum of one product × location.
    fn checksum(&self, product: ProductId, location: LocationId) -> Result<LedgerDigest>;
    /// Alerts, newest first.
    fn alerts(&self, open_only: bool) -> Result<Vec<Alert>>;
    /// Resolves an alert (audited; pulled by every device).
    fn resolve_alert(&self, actor: UserId, alert: AlertId, now: Timestamp) -> Result<()>;

    /// Publishes to `events` the feed head of every write that other server instances commit on
    /// the same database, for as long as the storage lives (DESIGN.md, "Scale"). Writes through
    /// this instance's API are announced by the API itself. SQLite serves one instance: nothing
    /// to do. PostgreSQL: a listener thread (LISTEN/NOTIFY) that reconnects when the connection
    /// drops. Call once, from a blocking thread; an error means the listener could not start.
    fn subscribe_changes(&self, events: crate::events::Events) -> Result<()>;
}
