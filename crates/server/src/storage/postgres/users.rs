//! Users, sessions, rate limits and devices on PostgreSQL: the statements behind the `Storage`
//! methods of sign-in, token rotation and device registration, and the one-statement session
//! check (`AUTH_PARTS`) that `authenticate` and the pull (`pull::signed_page`) start with.
//!
//! Must not: hash or compare secrets (the API does; only hashes reach storage), or open
//! transactions (the callers in `mod.rs` run each function in the right one).

use super::db::Db;
use crate::storage::{NewUser, Result, Role, SessionRecord, StorageError, TokenHashes, UserRecord};
use smartstock_core::ids::NewRandom;
use smartstock_core::{DeviceId, LocationId, Timestamp, UserId};

fn user_from_row(db: &mut Db<'_>, row: &::postgres::Row) -> Result<UserRecord> {
    let id = UserId(row.try_get(0)?);
    let role: String = row.try_get(3)?;
    let locations = db
        .query("SELECT location_id FROM user_locations WHERE user_id = $1", &[&id.0])?
        .iter()
        .map(|r| Ok(LocationId(r.try_get(0)?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(UserRecord {
        id,
        username: row.try_get(1)?,
        password_hash: row.try_get(2)?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        must_change_password: row.try_get(4)?,
        disabled: row.try_get(5)?,
        locations,
    })
}

/// The parts of `authenticate`'s statement (also the start of `pull::signed_page`'s): `found`,
/// the session and its user, and `counted`, the request counted in the user's rate-limit window
/// (`api_rate_key`). `$1` access hash, `$2` now, `$3` the window's start.
pub(super) const AUTH_PARTS: &str = "found AS (SELECT s.id AS session_id, u.id, u.username, u.password_hash, \
     u.role, u.must_change_password, u.disabled FROM sessions s JOIN users u ON u.id = s.user_id \
     WHERE s.access_hash = $1 AND s.revoked_at IS NULL AND s.access_expires_at > $2), \
     counted AS (INSERT INTO rate_limits (key, window_start, count) SELECT 'api:user:' || id::text, $3, 1 \
     FROM found ON CONFLICT (key) DO UPDATE SET count = CASE WHEN rate_limits.window_start = \
     excluded.window_start THEN rate_limits.count + 1 ELSE 1 END, window_start = excluded.window_start \
     RETURNING count)";

/// What `authenticate` selects from `found f` (read by [`session_at`]), and their types.
pub(super) const AUTH_COLUMNS: &str = "f.session_id, f.id, f.username, f.password_hash, f.role, \
     f.must_change_password, f.disabled, \
     ARRAY(SELECT location_id FROM user_locations WHERE user_id = f.id ORDER BY location_id), \
     (SELECT count FROM counted)";
pub(super) const AUTH_TYPES: [&str; 9] =
    ["uuid", "uuid", "text", "text", "text", "boolean", "boolean", "uuid[]", "bigint"];

/// `authenticate` in one statement (see [`AUTH_PARTS`]).
pub(super) fn authenticate_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| format!("WITH {AUTH_PARTS} SELECT {AUTH_COLUMNS} FROM found f"))
}

/// The session of a row with [`AUTH_COLUMNS`] from column `at`, and whether its request is
/// within `max` requests in the window.
pub(super) fn session_at(row: &::postgres::Row, at: usize, max: i64) -> Result<(SessionRecord, bool)> {
    let locations: Vec<uuid::Uuid> = row.try_get(at + 7)?;
    let role: String = row.try_get(at + 4)?;
    let user = UserRecord {
        id: UserId(row.try_get(at + 1)?),
        username: row.try_get(at + 2)?,
        password_hash: row.try_get(at + 3)?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        must_change_password: row.try_get(at + 5)?,
        disabled: row.try_get(at + 6)?,
        locations: locations.into_iter().map(LocationId).collect(),
    };
    let count: i64 = row.try_get(at + 8)?;
    Ok((SessionRecord { session_id: row.try_get(at)?, user }, count <= max))
}

/// The start of the rate-limit window `now` falls in.
pub(super) fn window_start(window_ms: i64, now: Timestamp) -> i64 {
    now.millis() - now.millis().rem_euclid(window_ms.max(1))
}

const USER_BY_ID: &str =
    "SELECT id, username, password_hash, role, must_change_password, disabled FROM users WHERE id = $1";
const USER_BY_NAME: &str =
    "SELECT id, username, password_hash, role, must_change_password, disabled FROM users WHERE username = $1";

fn user_by_id(db: &mut Db<'_>, id: uuid::Uuid) -> Result<Option<UserRecord>> {
    let row = db.query_opt(USER_BY_ID, &[&id])?;
    row.map(|r| user_from_row(db, &r)).transpose()
}

fn revoke_all(db: &mut Db<'_>, user: UserId) -> Result<()> {
    db.execute("UPDATE sessions SET revoked_at = 0 WHERE user_id = $1 AND revoked_at IS NULL", &[&user.0])?;
    Ok(())
}

pub(super) fn create_user(db: &mut Db<'_>, user: &NewUser, now: Timestamp) -> Result<UserId> {
    let id = UserId::new_random();
    db.execute_unique(
        "INSERT INTO users (id, username, password_hash, role, must_change_password, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        &[&id.0, &user.username, &user.password_hash, &user.role.as_str(), &user.must_change_password, &now.millis()],
        &format!("user name {:?}", user.username),
    )?;
    for location in &user.locations {
        db.execute("INSERT INTO user_locations (user_id, location_id) VALUES ($1, $2)", &[&id.0, &location.0])?;
    }
    Ok(id)
}

pub(super) fn user_by_name(db: &mut Db<'_>, username: &str) -> Result<Option<UserRecord>> {
    let row = db.query_opt(USER_BY_NAME, &[&username])?;
    row.map(|r| user_from_row(db, &r)).transpose()
}

pub(super) fn set_password(
    db: &mut Db<'_>,
    user: UserId,
    hash: &str,
    must_change: bool,
    revoke_sessions: bool,
) -> Result<()> {
    let changed = db.execute(
        "UPDATE users SET password_hash = $2, must_change_password = $3 WHERE id = $1",
        &[&user.0, &hash, &must_change],
    )?;
    if changed == 0 {
        return Err(StorageError::NotFound { what: "user", key: user.to_string() });
    }
    if revoke_sessions {
        revoke_all(db, user)?;
    }
    Ok(())
}

pub(super) fn set_disabled(db: &mut Db<'_>, user: UserId, disabled: bool) -> Result<()> {
    let changed = db.execute("UPDATE users SET disabled = $2 WHERE id = $1", &[&user.0, &disabled])?;
    if changed == 0 {
        return Err(StorageError::NotFound { what: "user", key: user.to_string() });
    }
    if disabled {
        revoke_all(db, user)?;
    }
    Ok(())
}

pub(super) fn create_session(
    db: &mut Db<'_>,
    user: UserId,
    tokens: &TokenHashes,
    now: Timestamp,
) -> Result<uuid::Uuid> {
    let id = uuid::Uuid::now_v7();
    db.execute(
        "INSERT INTO sessions (id, user_id, access_hash, access_expires_at, refresh_hash, refresh_expires_at, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &id,
            &user.0,
            &&tokens.access_hash[..],
            &tokens.access_expires_at.millis(),
            &&tokens.refresh_hash[..],
            &tokens.refresh_expires_at.millis(),
            &now.millis(),
        ],
    )?;
    Ok(id)
}

pub(super) fn session_by_access(
    db: &mut Db<'_>,
    access_hash: &[u8; 32],
    now: Timestamp,
) -> Result<Option<SessionRecord>> {
    let found = db.query_opt(
        "SELECT id, user_id FROM sessions WHERE access_hash = $1 AND revoked_at IS NULL \
             AND access_expires_at > $2",
        &[&&access_hash[..], &now.millis()],
    )?;
    let Some(row) = found else { return Ok(None) };
    let session_id: uuid::Uuid = row.try_get(0)?;
    let user = user_by_id(db, row.try_get(1)?)?;
    Ok(user.map(|user| SessionRecord { session_id, user }))
}

pub(super) fn rotate_session(
    db: &mut Db<'_>,
    refresh_hash: &[u8; 32],
    new: &TokenHashes,
    now: Timestamp,
) -> Result<Option<UserRecord>> {
    // FOR UPDATE: of two concurrent rotations with one token, the second waits, then finds
    // the token gone (the row is rechecked after the wait) and gets `None`, as on SQLite.
    let found = db.query_opt(
        "SELECT id, user_id, revoked_at, refresh_expires_at FROM sessions WHERE refresh_hash = $1 FOR UPDATE",
        &[&&refresh_hash[..]],
    )?;
    let Some(row) = found else { return Ok(None) };
    let session: uuid::Uuid = row.try_get(0)?;
    let user: uuid::Uuid = row.try_get(1)?;
    let revoked: Option<i64> = row.try_get(2)?;
    let expires: i64 = row.try_get(3)?;
    if revoked.is_some() || expires <= now.millis() {
        return Ok(None);
    }
    db.execute(
        "UPDATE sessions SET access_hash = $2, access_expires_at = $3, refresh_hash = $4, \
             refresh_expires_at = $5 WHERE id = $1",
        &[
            &session,
            &&new.access_hash[..],
            &new.access_expires_at.millis(),
            &&new.refresh_hash[..],
            &new.refresh_expires_at.millis(),
        ],
    )?;
    user_by_id(db, user)
}

pub(super) fn revoke_session(db: &mut Db<'_>, session_id: uuid::Uuid, now: Timestamp) -> Result<()> {
    db.execute(
        "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        &[&session_id, &now.millis()],
    )?;
    Ok(())
}

pub(super) fn rate_limit(db: &mut Db<'_>, key: &str, window_ms: i64, max: i64, now: Timestamp) -> Result<bool> {
    let window_start = window_start(window_ms, now);
    let count: i64 = db
        .query_one(
            "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1) \
                 ON CONFLICT (key) DO UPDATE SET count = CASE WHEN rate_limits.window_start = \
                 excluded.window_start THEN rate_limits.count + 1 ELSE 1 END, \
                 window_start = excluded.window_start RETURNING count",
            &[&key, &window_start],
        )?
        .try_get(0)?;
    Ok(count <= max)
}

pub(super) fn register_device(
    db: &mut Db<'_>,
    user: UserId,
    device: DeviceId,
    name: &str,
    now: Timestamp,
) -> Result<i64> {
    // ON CONFLICT DO NOTHING: two concurrent registrations of one id cannot both insert.
    let inserted = db.execute(
        "INSERT INTO devices (id, user_id, name, registered_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO NOTHING",
        &[&device.0, &user.0, &name, &now.millis()],
    )?;
    if inserted == 1 {
        return Ok(0);
    }
    let row = db.query_one("SELECT user_id, last_seq FROM devices WHERE id = $1", &[&device.0])?;
    let owner: uuid::Uuid = row.try_get(0)?;
    if owner != user.0 {
        return Err(StorageError::Conflict {
            code: "device_taken",
            message: format!("device {device} is registered to another user; register a new device id"),
        });
    }
    Ok(row.try_get(1)?)
}
