//! A memo of parsed field stamps by their stored text. Every pull page that holds a catalog row
//! parses the row's stamps (JSON text) again, and a catalog row changes rarely while many
//! devices pull it: parsing was the largest single cost of a pull. Parsing is a pure function
//! of the text, so the memo can never answer anything but what parsing would (nothing goes
//! stale: a changed row has other text).
//!
//! Must not: grow without bound (it forgets everything once it holds [`MOST_ENTRIES`]), or hold
//! its lock while parsing.

use super::catalog::stamps_from_json;
use super::Result;
use smartstock_core::Stamps;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Most texts remembered (a product's stamps take about 1.5 kB of text and as much parsed).
pub const MOST_ENTRIES: usize = 4096;

/// Parsed stamps by their text.
#[derive(Debug, Default)]
pub struct StampsMemo {
    parsed: Mutex<HashMap<Box<str>, Stamps>>,
}

impl StampsMemo {
    /// The stamps stored as `text` (a corrupt value is a database error, as with
    /// [`stamps_from_json`]).
    pub fn parse(&self, text: &str) -> Result<Stamps> {
        if let Some(stamps) = self.lock().get(text) {
            return Ok(stamps.clone());
        }
        let stamps = stamps_from_json(text)?;
        let mut parsed = self.lock();
        if parsed.len() >= MOST_ENTRIES {
            parsed.clear();
        }
        parsed.insert(text.into(), stamps.clone());
        Ok(stamps)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Box<str>, Stamps>> {
        self.parsed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::catalog::stamps_to_json;
    use smartstock_core::merge::FieldStamp;

    #[test]
    fn answers_what_parsing_answers_and_refuses_what_parsing_refuses() {
        let memo = StampsMemo::default();
        let mut stamps = Stamps::new();
        stamps.insert("name".into(), FieldStamp::UNSTAMPED);
        let text = stamps_to_json(&stamps);
        assert_eq!(memo.parse(&text).unwrap(), stamps);
        assert_eq!(memo.parse(&text).unwrap(), stamps, "remembered");
        assert!(memo.parse("{not json").is_err());
        assert!(memo.parse("{not json").is_err(), "a refusal is not remembered as stamps");
    }

    #[test]
    fn forgets_everything_when_full() {
        let memo = StampsMemo::default();
        for i in 0..=MOST_ENTRIES {
            let mut stamps = Stamps::new();
            stamps.insert(format!("field{i}"), FieldStamp::UNSTAMPED);
            memo.parse(&stamps_to_json(&stamps)).unwrap();
        }
        assert_eq!(memo.lock().len(), 1);
    }
}
