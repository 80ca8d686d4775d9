//! Quantities as integers in a product's base unit. A unit with scale 3 (kg stored as grams)
//! turns "1.5" into 1500. Parsing is exact: no floating point ever touches a quantity.
//!
//! Must not: round. Input with more decimals than the unit's scale is an error, not a guess.

use crate::validate::{ValidationError, MAX_QUANTITY, MAX_SCALE};

/// Parses a decimal text (`"12"`, `"-3"`, `"1.250"`) into base units for a unit of `scale`.
pub fn parse_scaled(field: &str, text: &str, scale: u32) -> Result<i64, ValidationError> {
    let bad = |why: &str| ValidationError::new(field, format!("{why} (got {text:?})"));
    if scale > MAX_SCALE {
        return Err(ValidationError::new("scale", format!("must be 0 to {MAX_SCALE}")));
    }
    let s = text.trim();
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && frac.is_empty() {
        return Err(bad("must be a number"));
    }
    if !whole.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad("must be a number like 12 or 1.5"));
    }
    if frac.len() > scale as usize {
        return Err(bad(&format!("has more than {scale} decimal places for this product's unit")));
    }
    let mut padded = String::with_capacity(whole.len() + scale as usize);
    padded.push_str(if whole.is_empty() { "0" } else { whole });
    padded.push_str(frac);
    padded.extend(std::iter::repeat_n('0', scale as usize - frac.len()));
    let magnitude: i64 = padded
        .parse()
        .ok()
        .filter(|v| *v <= MAX_QUANTITY)
        .ok_or_else(|| bad(&format!("is too large (at most {MAX_QUANTITY} base units)")))?;
    Ok(if negative { -magnitude } else { magnitude })
}

/// Formats base units back to the decimal text of a unit of `scale`.
pub fn format_scaled(value: i64, scale: u32) -> String {
    if scale == 0 {
        return value.to_string();
    }
    let sign = if value < 0 { "-" } else { "" };
    let magnitude = value.unsigned_abs();
    let divisor = 10u64.pow(scale);
    format!("{sign}{}.{:0width$}", magnitude / divisor, magnitude % divisor, width = scale as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_scale() {
        assert_eq!(parse_scaled("q", "12", 0).unwrap(), 12);
        assert_eq!(parse_scaled("q", "1.5", 3).unwrap(), 1500);
        assert_eq!(parse_scaled("q", "-0.25", 2).unwrap(), -25);
        assert_eq!(parse_scaled("q", ".5", 1).unwrap(), 5);
    }

    #[test]
    fn refuses_what_it_cannot_represent() {
        assert!(parse_scaled("q", "1.5", 0).unwrap_err().rule.contains("decimal places"));
        assert!(parse_scaled("q", "abc", 0).is_err());
        assert!(parse_scaled("q", "", 0).is_err());
        assert!(parse_scaled("q", "1e5", 0).is_err());
        assert!(parse_scaled("q", "99999999999999999999999", 0).unwrap_err().rule.contains("too large"));
    }

    #[test]
    fn formats_round_trip() {
        for (v, s) in [(1500, 3), (-25, 2), (7, 0), (5, 1)] {
            assert_eq!(parse_scaled("q", &format_scaled(v, s), s).unwrap(), v);
        }
        assert_eq!(format_scaled(1500, 3), "1.500");
    }
}
