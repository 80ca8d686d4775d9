//! Field validation shared by every entry point (UI, CSV import, server API).
//!
//! Owns: the limits (lengths, ranges) and the error that names the field and the rule broken.
//! Must not: know where the input came from; callers add the line number or request path.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Largest absolute quantity of one movement or one count, in base units. Small enough that the
/// sum of a million movements of this size still fits in an `i64`, so levels never overflow
/// silently.
pub const MAX_QUANTITY: i64 = 1_000_000_000_000;
/// Largest money amount (cost, price) in minor units.
pub const MAX_MONEY_MINOR: i64 = 1_000_000_000_000_000;
/// Most decimal places a unit may have (a unit with scale 3 stores thousandths).
pub const MAX_SCALE: u32 = 6;

/// A field that broke a rule. `field` is the wire/CSV name; `rule` says what a right value is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct ValidationError {
    /// The field's name as the user sees it (`sku`, `delta`, `location_code`, ...).
    pub field: String,
    /// What the field must be, phrased so the user knows the fix.
    pub rule: String,
}

impl ValidationError {
    /// A field and the rule it broke.
    pub fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        ValidationError { field: field.into(), rule: rule.into() }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.rule)
    }
}

/// A required single-line text of `min..=max` characters with no control characters and no
/// leading or trailing spaces.
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<(), ValidationError> {
    let chars = value.chars().count();
    if chars < min || chars > max {
        let got = if chars == 0 { "it is empty".to_string() } else { format!("got {chars}") };
        return Err(ValidationError::new(field, format!("must be {min} to {max} characters ({got})")));
    }
    if value.chars().any(char::is_control) {
        return Err(ValidationError::new(field, "must not contain control characters (tabs, line breaks)"));
    }
    if value.trim() != value {
        return Err(ValidationError::new(field, "must not start or end with spaces"));
    }
    Ok(())
}

/// Free text (notes): up to `max` characters, line breaks allowed, other control characters not.
pub fn free_text(field: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    let chars = value.chars().count();
    if chars > max {
        return Err(ValidationError::new(field, format!("must be at most {max} characters (got {chars})")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(ValidationError::new(field, "must not contain control characters other than line breaks"));
    }
    Ok(())
}

/// A code (SKU, location code, barcode): printable, no spaces at the ends, at most `max` chars.
pub fn code(field: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    text(field, value, 1, max)
}

/// A quantity in `0..=MAX_QUANTITY`.
pub fn non_negative_quantity(field: &str, value: i64) -> Result<(), ValidationError> {
    if !(0..=MAX_QUANTITY).contains(&value) {
        return Err(ValidationError::new(field, format!("must be between 0 and {MAX_QUANTITY} (got {value})")));
    }
    Ok(())
}

/// A quantity in `1..=MAX_QUANTITY`.
pub fn positive_quantity(field: &str, value: i64) -> Result<(), ValidationError> {
    if !(1..=MAX_QUANTITY).contains(&value) {
        return Err(ValidationError::new(
            field,
            format!("must be a whole number of base units from 1 to {MAX_QUANTITY} (got {value})"),
        ));
    }
    Ok(())
}

/// A money amount in minor units in `0..=MAX_MONEY_MINOR`.
pub fn money(field: &str, value: i64) -> Result<(), ValidationError> {
    if !(0..=MAX_MONEY_MINOR).contains(&value) {
        return Err(ValidationError::new(
            field,
            format!("must be between 0 and {MAX_MONEY_MINOR} minor units (got {value})"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_names_field_and_limits() {
        let err = text("sku", "", 1, 64).unwrap_err();
        assert_eq!(err.field, "sku");
        assert!(err.rule.contains("1 to 64"), "{err}");
        assert!(text("sku", "A\tB", 1, 64).is_err());
        assert!(text("sku", " A", 1, 64).is_err());
        assert!(text("sku", &"x".repeat(65), 1, 64).is_err());
        assert!(text("sku", "SKU-1", 1, 64).is_ok());
    }

    #[test]
    fn quantities_reject_zero_negative_and_overflow() {
        assert!(positive_quantity("quantity", 0).is_err());
        assert!(positive_quantity("quantity", -1).is_err());
        assert!(positive_quantity("quantity", MAX_QUANTITY + 1).is_err());
        assert!(positive_quantity("quantity", i64::MAX).is_err());
        assert!(positive_quantity("quantity", 1).is_ok());
        assert!(non_negative_quantity("counted_qty", 0).is_ok());
        assert!(non_negative_quantity("counted_qty", -5).is_err());
    }

    #[test]
    fn free_text_allows_line_breaks_only() {
        assert!(free_text("note", "two\nlines", 100).is_ok());
        assert!(free_text("note", "bell\u{7}", 100).is_err());
        assert!(free_text("note", &"n".repeat(101), 100).is_err());
    }
}
