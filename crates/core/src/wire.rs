//! Versioned wire types of the sync protocol (DESIGN.md, "Sync"). Every request and response
//! carries `v`; a peer refuses a version it does not speak instead of guessing.
//!
//! Must not: hold transport detail (URLs, headers, retries): that is the sync client's and the
//! server's.

use crate::alert::Alert;
use crate::catalog::{Location, Product};
use crate::ids::{DeviceId, MovementId};
use crate::movement::Movement;
use serde::{Deserialize, Serialize};

/// The protocol version this build speaks.
pub const WIRE_VERSION: u32 = 1;

/// `POST /api/v1/sync/push`: a device's outbox, in `device_seq` order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// Protocol version.
    pub v: u32,
    /// The pushing device.
    pub device_id: DeviceId,
    /// Movements in ascending `device_seq`, no gaps.
    pub movements: Vec<Movement>,
}

/// What the server did with one pushed movement.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Stored at `server_seq`.
    Accepted {
        /// Global position.
        server_seq: i64,
    },
    /// Stored, and it raised an alert (e.g. negative stock after a merge).
    AcceptedFlagged {
        /// Global position.
        server_seq: i64,
        /// The alert raised.
        alert: Alert,
    },
    /// Not stored; the reason is for the user, who can fix and re-record.
    Rejected {
        /// Stable code the UI branches on.
        code: String,
        /// A sentence naming the problem and the fix.
        message: String,
    },
}

/// One movement's outcome in a push response.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovementOutcome {
    /// The movement.
    pub id: MovementId,
    /// Its device sequence number.
    pub device_seq: i64,
    /// What happened.
    pub outcome: Outcome,
}

/// The answer to a push.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    /// Protocol version.
    pub v: u32,
    /// One outcome per movement, in request order.
    pub outcomes: Vec<MovementOutcome>,
}

/// `GET /api/v1/sync/pull`: one page of what other devices did, in `server_seq` order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullPage {
    /// Protocol version.
    pub v: u32,
    /// Movements with `server_seq` set.
    pub movements: Vec<Movement>,
    /// Products created or changed.
    pub products: Vec<Product>,
    /// Locations created or changed.
    pub locations: Vec<Location>,
    /// Alerts raised or resolved.
    pub alerts: Vec<Alert>,
    /// The cursor to pull after next time.
    pub next_after: i64,
    /// Whether more pages wait.
    pub has_more: bool,
}
