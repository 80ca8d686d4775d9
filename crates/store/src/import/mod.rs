//! CSV import: products, locations and opening stock, each file in one transaction.
//!
//! Owns: reading the files (header matched by name, columns in any order, one row loop shared by
//! the three imports), turning every bad row into a `RowError` that names its physical line, its
//! column, the problem and the fix, and the all-or-nothing rule: nothing is committed on a dry run
//! or when a row is bad and the caller did not ask to skip bad rows.
//!
//! Must not: write a catalog row or a movement by any path but the catalog's and the ledger's own
//! (`catalog::insert_*` with its audit, `ledger::append` with its levels, checksum and
//! `device_seq`), leave a row half written, or guess a value (a bad value is an error, never
//! rounded or replaced by a default).

use crate::catalog::{self, AuditStamp};
use crate::error::{Result, StoreError};
use crate::ledger::{self, Draft, PolicyCheck, Stamp};
use crate::{Actor, Store};
use csv::ByteRecord;
use rusqlite::{Connection, TransactionBehavior};
use serde::Serialize;
use smartstock_core::ids::NewRandom;
use smartstock_core::quantity::parse_scaled;
use smartstock_core::validate::MAX_SCALE;
use smartstock_core::{
    Location, LocationId, LocationKind, MovementKind, Product, ProductId, ReasonCode, Timestamp, ValidationError,
};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io::Read;

mod sinks;
use sinks::{LocationSink, OpeningSink, ProductSink};

/// Most row errors a report holds; further bad rows are only counted.
pub const MAX_ERRORS: usize = 1000;
/// The progress callback runs after every this many rows (and once at the end).
pub const PROGRESS_EVERY: u64 = 1000;
/// Most columns any import knows.
const MAX_COLUMNS: usize = 9;

/// How an import runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Check every row (against the database too) and report, but write nothing.
    pub dry_run: bool,
    /// Import the good rows and report the bad ones, instead of refusing the whole file.
    pub skip_bad_rows: bool,
}

/// How far an import has read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportProgress {
    /// Data rows read so far (the header and blank lines not counted).
    pub rows_done: u64,
}

/// What an import did.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Data rows in the file (the header and blank lines not counted).
    pub rows_total: u64,
    /// Rows written (0 on a dry run or when the file was refused).
    pub rows_imported: u64,
    /// Rows refused; `errors` holds the first `MAX_ERRORS` of them.
    pub rows_failed: u64,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// One error per refused row (and one per header problem), in file order.
    pub errors: Vec<RowError>,
}

/// Why one line of the file was refused.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// Physical line in the file, from 1 (the header is line 1).
    pub line: u64,
    /// The column at fault, by its header name; `None` when the whole row is.
    pub column: Option<String>,
    /// The problem and the fix.
    pub message: String,
}

impl RowError {
    fn new(line: u64, column: Option<&str>, message: impl Into<String>) -> RowError {
        RowError { line, column: column.map(str::to_owned), message: message.into() }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(f, "line {}, column {column}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

impl Store {
    /// Imports products from CSV with the header `sku,name,barcode,unit,unit_scale,reorder_point,
    /// reorder_qty,cost,price` (any order; only `sku` and `name` required). Each product is
    /// audited like `create_product`.
    #[tracing::instrument(skip_all, fields(dry_run = options.dry_run, skip_bad_rows = options.skip_bad_rows))]
    pub fn import_products(
        &self,
        actor: Actor,
        input: impl Read,
        options: &ImportOptions,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportReport> {
        self.import_with(input, options, progress, |tx, now| ProductSink::open(tx, actor, now))
    }

    /// Imports locations from CSV with the header `code,name,kind,parent_code` (only `code` and
    /// `name` required). A parent may be an earlier line of the file or a stored location.
    #[tracing::instrument(skip_all, fields(dry_run = options.dry_run, skip_bad_rows = options.skip_bad_rows))]
    pub fn import_locations(
        &self,
        actor: Actor,
        input: impl Read,
        options: &ImportOptions,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportReport> {
        self.import_with(input, options, progress, |tx, now| LocationSink::open(tx, actor, now))
    }

    /// Imports opening stock from CSV with the header `sku,location_code,quantity`: each row
    /// records a `count` (reason `opening`) of the product at the location, in the product's
    /// unit.
    #[tracing::instrument(skip_all, fields(dry_run = options.dry_run, skip_bad_rows = options.skip_bad_rows))]
    pub fn import_opening_stock(
        &self,
        actor: Actor,
        input: impl Read,
        options: &ImportOptions,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportReport> {
        self.import_with(input, options, progress, |tx, now| OpeningSink::open(tx, actor, now))
    }

    /// Runs one import in one immediate transaction; commits only what `Tally::writing` allows.
    fn import_with<S: RowSink>(
        &self,
        input: impl Read,
        options: &ImportOptions,
        progress: &mut dyn FnMut(ImportProgress),
        open: impl FnOnce(&Connection, Timestamp) -> Result<S>,
    ) -> Result<ImportReport> {
        let now = self.clock().now();
        let mut conn = self.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut sink = open(&tx, now)?;
        let tally = read_rows(&tx, &mut sink, input, options, progress)?;
        let commit = tally.writing(options);
        if commit {
            sink.finish(&tx)?;
            tx.commit()?;
        } else {
            tx.rollback()?;
        }
        let report = tally.report(options.dry_run, commit);
        tracing::info!(
            rows = report.rows_total,
            imported = report.rows_imported,
            failed = report.rows_failed,
            "import finished"
        );
        Ok(report)
    }
}

// ---------------------------------------------------------------------------------------------
// The shared row loop.

/// A column an import knows.
struct Column {
    name: &'static str,
    required: bool,
}

const fn required(name: &'static str) -> Column {
    Column { name, required: true }
}

const fn optional(name: &'static str) -> Column {
    Column { name, required: false }
}

/// Why a row was not imported: its own fault, or a failure that stops the whole import.
enum Refusal {
    Row(RowError),
    Fatal(StoreError),
}

impl From<RowError> for Refusal {
    fn from(e: RowError) -> Self {
        Refusal::Row(e)
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Fatal(e)
    }
}

type RowResult<T> = std::result::Result<T, Refusal>;

/// One kind of import: checks rows and writes them inside the caller's transaction.
trait RowSink {
    /// The columns a file may have; `Row` holds their values in this order.
    const COLUMNS: &'static [Column];

    /// Checks one row and, when `write` is true, writes it. Returns whether it wrote.
    fn row(&mut self, tx: &Connection, row: &Row<'_>, write: bool) -> RowResult<bool>;

    /// Runs once before commit.
    fn finish(&mut self, _tx: &Connection) -> Result<()> {
        Ok(())
    }
}

/// One data row: its line and the trimmed text of each known column.
struct Row<'r> {
    line: u64,
    columns: &'static [Column],
    fields: [Option<&'r str>; MAX_COLUMNS],
}

impl<'r> Row<'r> {
    /// The column's text; empty when the file has no such column.
    fn text(&self, col: usize) -> &'r str {
        self.fields.get(col).copied().flatten().unwrap_or("")
    }

    /// The column's text, `None` when absent or empty.
    fn opt(&self, col: usize) -> Option<&'r str> {
        Some(self.text(col)).filter(|t| !t.is_empty())
    }

    fn name(&self, col: usize) -> &'static str {
        self.columns.get(col).map_or("", |c| c.name)
    }

    fn error(&self, col: usize, message: impl Into<String>) -> RowError {
        RowError::new(self.line, Some(self.name(col)), message)
    }

    /// A field that broke a rule; the column is the rule's field.
    fn invalid(&self, e: &ValidationError) -> RowError {
        RowError::new(self.line, Some(&e.field), format!("{} {}", e.field, e.rule))
    }

    /// A store error met on this row: the row's fault (a rule, a constraint) or the import's.
    fn fault(&self, column: Option<&str>, err: StoreError) -> Refusal {
        match err {
            StoreError::Invalid(e) => Refusal::Row(self.invalid(&e)),
            StoreError::Duplicate { field, .. } => Refusal::Row(RowError::new(self.line, Some(field), err.to_string())),
            StoreError::Sqlite(ref e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => {
                let message = format!("the database refused this row ({e}); fix the row and import again");
                Refusal::Row(RowError::new(self.line, column, message))
            }
            StoreError::Sqlite(_)
            | StoreError::Io(_)
            | StoreError::Csv(_)
            | StoreError::Migration(_)
            | StoreError::DatabaseTooNew { .. } => Refusal::Fatal(err),
            other => Refusal::Row(RowError::new(self.line, column, other.to_string())),
        }
    }

    /// An optional quantity column in base units of `scale` (0 when empty).
    fn quantity(&self, col: usize, scale: u32) -> std::result::Result<i64, RowError> {
        self.opt(col).map_or(Ok(0), |text| parse_scaled(self.name(col), text, scale).map_err(|e| self.invalid(&e)))
    }
}

/// Counts rows and errors while reading.
#[derive(Default)]
struct Tally {
    rows_total: u64,
    rows_imported: u64,
    rows_failed: u64,
    errors: Vec<RowError>,
    /// The whole file is refused whatever the options: a bad header, or a row written in part.
    refused: bool,
}

impl Tally {
    /// Whether rows are being written (and will be committed).
    fn writing(&self, options: &ImportOptions) -> bool {
        !options.dry_run && !self.refused && (options.skip_bad_rows || self.rows_failed == 0)
    }

    fn fail(&mut self, error: RowError) {
        self.rows_failed += 1;
        self.push(error);
    }

    fn push(&mut self, error: RowError) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(error);
        }
    }

    /// Counts one data row's outcome; a fatal failure ends the import.
    fn count(&mut self, outcome: RowResult<bool>) -> Result<()> {
        self.rows_total += 1;
        match outcome {
            Ok(true) => self.rows_imported += 1,
            Ok(false) => {}
            Err(Refusal::Row(e)) => self.fail(e),
            Err(Refusal::Fatal(e)) => return Err(e),
        }
        Ok(())
    }

    fn report(self, dry_run: bool, committed: bool) -> ImportReport {
        ImportReport {
            rows_total: self.rows_total,
            rows_imported: if committed { self.rows_imported } else { 0 },
            rows_failed: self.rows_failed,
            dry_run,
            errors: self.errors,
        }
    }
}

/// Reads the header and every row, handing good rows to the sink.
fn read_rows<S: RowSink>(
    tx: &Connection,
    sink: &mut S,
    input: impl Read,
    options: &ImportOptions,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<Tally> {
    let mut csv = CsvInput::new(input);
    let mut tally = Tally::default();
    let header = match read_header(&mut csv, S::COLUMNS)? {
        Ok(header) => header,
        Err(errors) => {
            tally.refused = true;
            errors.into_iter().for_each(|e| tally.push(e));
            progress(ImportProgress { rows_done: 0 });
            return Ok(tally);
        }
    };
    loop {
        let outcome = match csv.next()? {
            Next::End => break,
            Next::Malformed(e) => Err(Refusal::Row(e)),
            Next::Record(_) if is_blank(&csv.record) => continue,
            Next::Record(line) => {
                let write = tally.writing(options);
                one_row(tx, sink, &header, &csv.record, line, write, &mut tally)
            }
        };
        tally.count(outcome)?;
        if tally.rows_total % PROGRESS_EVERY == 0 {
            progress(ImportProgress { rows_done: tally.rows_total });
        }
    }
    progress(ImportProgress { rows_done: tally.rows_total });
    Ok(tally)
}

/// Checks one record and, when `write` is true, writes it. A row refused after part of it was
/// written cannot be skipped (the transaction holds the part), so it refuses the whole file.
fn one_row<S: RowSink>(
    tx: &Connection,
    sink: &mut S,
    header: &Header,
    record: &ByteRecord,
    line: u64,
    write: bool,
    tally: &mut Tally,
) -> RowResult<bool> {
    let changes = tx.total_changes();
    let row = header.row(S::COLUMNS, record, line)?;
    match sink.row(tx, &row, write) {
        Err(Refusal::Row(mut e)) if tx.total_changes() != changes => {
            tally.refused = true;
            e.message.push_str("; this row was partly written, so nothing was imported");
            Err(Refusal::Row(e))
        }
        other => other,
    }
}

/// A record whose every field is empty or spaces (`,,` from a spreadsheet, a line of spaces).
fn is_blank(record: &ByteRecord) -> bool {
    record.iter().all(|field| field.iter().all(u8::is_ascii_whitespace))
}

fn column_list(columns: &[Column]) -> String {
    columns.iter().map(|c| c.name).collect::<Vec<_>>().join(",")
}

/// Which known column each field of the file is.
struct Header {
    known_at: Vec<usize>,
}

fn read_header<R: Read>(
    csv: &mut CsvInput<R>,
    columns: &'static [Column],
) -> Result<std::result::Result<Header, Vec<RowError>>> {
    match csv.next()? {
        Next::Record(line) => Ok(Header::parse(columns, &csv.record, line)),
        Next::Malformed(e) => Ok(Err(vec![e])),
        Next::End => Ok(Err(vec![RowError::new(
            1,
            None,
            format!("the file is empty; its first line must be the header ({})", column_list(columns)),
        )])),
    }
}

impl Header {
    fn parse(columns: &[Column], record: &ByteRecord, line: u64) -> std::result::Result<Header, Vec<RowError>> {
        let mut errors = Vec::new();
        let mut known_at = Vec::with_capacity(record.len());
        let mut seen = [false; MAX_COLUMNS];
        for (position, raw) in record.iter().enumerate() {
            let Ok(text) = std::str::from_utf8(raw) else {
                let message = format!("header column {} is not valid UTF-8; save the file as UTF-8", position + 1);
                errors.push(RowError::new(line, None, message));
                continue;
            };
            let name = text.trim_start_matches('\u{feff}').trim();
            match columns.iter().position(|c| c.name.eq_ignore_ascii_case(name)) {
                Some(known) if seen[known] => errors.push(RowError::new(
                    line,
                    Some(columns[known].name),
                    format!("column \"{}\" appears twice in the header; keep one", columns[known].name),
                )),
                Some(known) => {
                    seen[known] = true;
                    known_at.push(known);
                }
                None => errors.push(RowError::new(
                    line,
                    Some(name),
                    format!(
                        "unknown column \"{name}\"; the known columns are {}; rename or remove it",
                        column_list(columns)
                    ),
                )),
            }
        }
        for (known, column) in columns.iter().enumerate() {
            if column.required && !seen[known] {
                errors.push(RowError::new(
                    line,
                    Some(column.name),
                    format!("required column \"{}\" is missing from the header; add it", column.name),
                ));
            }
        }
        if errors.is_empty() {
            Ok(Header { known_at })
        } else {
            Err(errors)
        }
    }

    /// The row's fields by known column: the column count must match the header's and every
    /// field must be UTF-8.
    fn row<'r>(
        &self,
        columns: &'static [Column],
        record: &'r ByteRecord,
        line: u64,
    ) -> std::result::Result<Row<'r>, RowError> {
        let expected = self.known_at.len();
        if record.len() != expected {
            let message = format!(
                "expected {expected} columns, found {}; every row needs the header's columns (check for a \
                 missing or extra comma, or a value with a comma that is not in quotes)",
                record.len()
            );
            return Err(RowError::new(line, None, message));
        }
        let mut fields = [None; MAX_COLUMNS];
        for (raw, &known) in record.iter().zip(&self.known_at) {
            let text = std::str::from_utf8(raw).map_err(|e| {
                let name = columns.get(known).map_or("", |c| c.name);
                let message = format!(
                    "column \"{name}\" is not valid UTF-8 text (bad byte after {} valid bytes); save the file \
                     as UTF-8 and import again",
                    e.valid_up_to()
                );
                RowError::new(line, Some(name), message)
            })?;
            if let Some(slot) = fields.get_mut(known) {
                *slot = Some(text.trim());
            }
        }
        Ok(Row { line, columns, fields })
    }
}

/// What the CSV reader gave.
enum Next {
    /// A record (in `CsvInput::record`) starting on this physical line.
    Record(u64),
    /// A line the reader could not parse.
    Malformed(RowError),
    End,
}

/// The CSV reader and its reused record. Only `\n` ends a record, so the physical line of each
/// record is known (a `\r` before it is trimmed with the field).
struct CsvInput<R> {
    reader: csv::Reader<LineBreaks<R>>,
    record: ByteRecord,
}

impl<R: Read> CsvInput<R> {
    fn new(input: R) -> Self {
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(LineBreaks { inner: input, offset: 0, breaks: VecDeque::new() });
        CsvInput { reader, record: ByteRecord::new() }
    }

    fn next(&mut self) -> Result<Next> {
        let at = self.reader.position().clone();
        match self.reader.read_byte_record(&mut self.record) {
            Ok(true) => Ok(Next::Record(self.reader.get_mut().record_line(&at))),
            Ok(false) => Ok(Next::End),
            Err(e) => match (e.kind(), e.position()) {
                (csv::ErrorKind::Io(_), _) | (_, None) => Err(e.into()),
                (_, Some(pos)) => {
                    let message = format!("this line is not valid CSV ({e}); fix its quoting and import again");
                    Ok(Next::Malformed(RowError::new(pos.line(), None, message)))
                }
            },
        }
    }
}

/// The input, remembering where its line breaks are until the CSV reader has passed them: the
/// reader skips empty lines without counting them into a record's position.
struct LineBreaks<R> {
    inner: R,
    offset: u64,
    breaks: VecDeque<u64>,
}

impl<R: Read> Read for LineBreaks<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let start = self.offset;
        let read = buf.get(..n).unwrap_or_default();
        self.breaks.extend(read.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| start + i as u64));
        self.offset += n as u64;
        Ok(n)
    }
}

impl<R> LineBreaks<R> {
    /// The line a record starts on, given where the reader was before reading it: the empty
    /// lines it skipped first are line breaks right at that offset.
    fn record_line(&mut self, before: &csv::Position) -> u64 {
        while self.breaks.front().is_some_and(|&b| b < before.byte()) {
            self.breaks.pop_front();
        }
        let mut line = before.line();
        while self.breaks.front() == Some(&(before.byte() + line - before.line())) {
            self.breaks.pop_front();
            line += 1;
        }
        line
    }
}
