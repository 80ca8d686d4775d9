//! The store's errors. Each says what was wrong and, where a user can act, the fix; `code()`
//! gives a stable identifier the UI branches on (never the text).

use smartstock_core::{LevelError, ValidationError};

/// Anything the store refuses or fails at.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A field broke a rule.
    #[error("invalid {0}")]
    Invalid(#[from] ValidationError),

    /// A referenced row does not exist.
    #[error("{what} {key} does not exist")]
    NotFound {
        /// `product`, `location`, `movement`, `transfer`, `alert`.
        what: &'static str,
        /// The id or code that was looked up.
        key: String,
    },

    /// A unique value is already taken.
    #[error("{field} {value:?} is already used by another {what}; choose another {field}")]
    Duplicate {
        /// `product`, `location`.
        what: &'static str,
        /// `sku`, `barcode`, `code`.
        field: &'static str,
        /// The value.
        value: String,
    },

    /// The negative-stock policy refused the movement; nothing was written.
    #[error(
        "not enough stock of {sku} at {location}: {on_hand} on hand, {requested} requested \
         (negative stock is forbidden for this product; record a receipt or a count first)"
    )]
    NegativeStock {
        /// Product SKU.
        sku: String,
        /// Location code.
        location: String,
        /// Level before, as text in the product's unit.
        on_hand: String,
        /// Quantity the movement takes away, as text in the product's unit.
        requested: String,
    },

    /// The movement cannot be recorded in the current state (voiding twice, receiving a transfer
    /// twice, moving stock at an archived location, ...).
    #[error("{0}")]
    Conflict(String),

    /// The level arithmetic overflowed.
    #[error(transparent)]
    Level(#[from] LevelError),

    /// The database file was written by a newer SmartStock.
    #[error("the database at {path} has a newer schema than this version of SmartStock understands; update the app")]
    DatabaseTooNew {
        /// File path.
        path: String,
    },

    /// Applying the schema migrations failed.
    #[error("could not update the database schema: {0}")]
    Migration(#[from] rusqlite_migration::Error),

    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    /// Reading or writing CSV failed (the underlying reader or writer).
    #[error("CSV error: {0}")]
    Csv(#[from] csv::Error),

    /// Reading or writing a file failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// A stable code for the UI and logs.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Invalid(_) => "invalid",
            StoreError::NotFound { .. } => "not_found",
            StoreError::Duplicate { .. } => "duplicate",
            StoreError::NegativeStock { .. } => "negative_stock",
            StoreError::Conflict(_) => "conflict",
            StoreError::Level(_) => "level_overflow",
            StoreError::DatabaseTooNew { .. } => "database_too_new",
            StoreError::Migration(_) => "migration_failed",
            StoreError::Sqlite(_) => "database",
            StoreError::Csv(_) => "csv",
            StoreError::Io(_) => "io",
        }
    }

    pub(crate) fn not_found(what: &'static str, key: impl ToString) -> Self {
        StoreError::NotFound { what, key: key.to_string() }
    }
}

/// Shorthand for the store's results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
