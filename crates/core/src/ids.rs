//! Typed identifiers. Every id is a UUID made where the thing is created (on the device when
//! offline), so two replicas never hand out the same id. Movement ids are UUIDv7 (time-ordered).
//!
//! Must not: generate ids from anything but a caller-supplied UUID in pure code paths; the
//! `new_*` constructors exist for callers at the edges (store, server).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The field name used in validation errors.
            pub const FIELD: &'static str = $field;

            /// The raw 16 bytes, big-endian as written in the UUID text form.
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = crate::ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim())
                    .map($name)
                    .map_err(|_| crate::ValidationError::new($field, "must be a UUID like 0190c1f2-7a3b-7c4d-8e5f-0123456789ab"))
            }
        }
    };
}

uuid_id!(
    /// A movement (one immutable ledger row). UUIDv7, made on the recording device.
    MovementId, "id"
);
uuid_id!(
    /// A product of the catalog.
    ProductId, "product_id"
);
uuid_id!(
    /// A location (warehouse, store, bin, vehicle).
    LocationId, "location_id"
);
uuid_id!(
    /// A registered device (one desktop install's ledger).
    DeviceId, "device_id"
);
uuid_id!(
    /// A user account.
    UserId, "user_id"
);
uuid_id!(
    /// The id shared by a `transfer_out` and its `transfer_in`.
    TransferId, "transfer_id"
);
uuid_id!(
    /// An alert (negative stock, low stock, count review).
    AlertId, "alert_id"
);

impl MovementId {
    /// A fresh time-ordered id for a movement recorded now.
    pub fn new_v7() -> Self {
        MovementId(Uuid::now_v7())
    }
}

/// Fresh ids for catalog rows, devices, users, transfers and alerts: UUIDv7, so rows made
/// together sit together in every index (a bulk import inserts in key order).
pub trait NewRandom: Sized {
    /// A new unique id (UUIDv7: time-ordered, with 74 random bits).
    fn new_random() -> Self;
}

macro_rules! new_random {
    ($($name:ident),*) => {$(
        impl NewRandom for $name {
            fn new_random() -> Self {
                $name(Uuid::now_v7())
            }
        }
    )*};
}
new_random!(ProductId, LocationId, DeviceId, UserId, TransferId, AlertId);
