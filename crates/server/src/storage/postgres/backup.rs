//! Online backup and restore of the PostgreSQL backend, in a file format of its own.
//!
//! Backup: every table of the schema (the migration history included; the rate-limit windows
//! left out: they only live a minute) read with `COPY … TO STDOUT` inside one REPEATABLE READ
//! READ ONLY transaction, so the file is one consistent snapshot while the server keeps running.
//! The file is written beside its target and renamed into place when complete.
//!
//! ```text
//! smartstock-server backup
//! format 1
//! backend postgres
//! schema_version <newest migration applied>
//! table <name> <column,column,…> <byte count>
//! <that many bytes of COPY text data>
//! … one table block per table …
//! end <SHA-256 of every byte before this line, hex>
//! ```
//!
//! Restore: the whole file is read and checked first (format, checksum, names); a backup from a
//! newer schema is refused and nothing is touched. The target must hold no SmartStock tables (a new
//! database, or a new schema): in one transaction the schema is built up to the backup's version
//! from the embedded migrations, every table is loaded with `COPY … FROM STDIN`, and identity
//! counters are moved past the loaded rows; then any newer migrations run as at start-up.
//!
//! Must not: write to the database it backs up, restore into a database that holds SmartStock
//! tables (it refuses: drop or create the database first), or build SQL from file contents
//! (names are checked, then quoted by the server with `format('%I')`).

use super::db::Db;
use super::{embedded, latest_migration, migrate};
use crate::storage::{Result, StorageError};
use postgres::{Client, IsolationLevel};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::Path;

const MAGIC: &str = "smartstock-server backup";
const FORMAT: u32 = 1;
/// Tables not backed up: per-minute rate-limit windows.
const SKIPPED: &[&str] = &["rate_limits"];
/// Refinery's history table, as refinery creates it (restored from the backup's rows).
const HISTORY_TABLE: &str = "CREATE TABLE refinery_schema_history (version int4 PRIMARY KEY, \
     name varchar(255), applied_on varchar(255), checksum varchar(255))";

/// One table of a backup.
struct Table {
    name: String,
    columns: Vec<String>,
    data: Vec<u8>,
}

/// A backup's contents.
struct Backup {
    schema_version: i32,
    tables: Vec<Table>,
}

fn invalid(message: impl Into<String>) -> StorageError {
    StorageError::Conflict { code: "backup_invalid", message: message.into() }
}

fn io(e: std::io::Error) -> StorageError {
    StorageError::Database(format!("backup file: {e}"))
}

/// A plain SQL name (lowercase letters, digits, `_`), as every table and column here is.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// `sql_template` with `%I` placeholders filled with quoted identifiers, by the server.
fn quoted(db: &mut Db<'_>, sql_template: &str, names: &[&str]) -> Result<String> {
    let params: Vec<&(dyn postgres::types::ToSql + Sync)> =
        std::iter::once(&sql_template as &(dyn postgres::types::ToSql + Sync))
            .chain(names.iter().map(|n| n as &(dyn postgres::types::ToSql + Sync)))
            .collect();
    let placeholders: Vec<String> = (2..=names.len() + 1).map(|i| format!("${i}::text")).collect();
    let sql = format!("SELECT format($1::text, {})", placeholders.join(", "));
    Ok(db.query_one(&sql, &params)?.try_get(0)?)
}

/// Reads every table in one snapshot.
fn snapshot(db: &mut Db<'_>) -> Result<Backup> {
    let schema_version: Option<i32> =
        db.query_one("SELECT max(version) FROM refinery_schema_history", &[])?.try_get(0)?;
    let names: Vec<String> = db
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() \
             AND table_type = 'BASE TABLE' ORDER BY table_name",
            &[],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<std::result::Result<_, _>>()?;
    let mut tables = Vec::new();
    for name in names.into_iter().filter(|n| !SKIPPED.contains(&n.as_str())) {
        let columns: Vec<String> = db
            .query(
                "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() \
                 AND table_name = $1 ORDER BY ordinal_position",
                &[&name],
            )?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()?;
        if !plain_name(&name) || !columns.iter().all(|c| plain_name(c)) {
            return Err(StorageError::Database(format!("table {name:?} has a name the backup format cannot hold")));
        }
        let sql = quoted(db, "COPY %I TO STDOUT", &[&name])?;
        let data = db.copy_out(&sql)?;
        tables.push(Table { name, columns, data });
    }
    Ok(Backup { schema_version: schema_version.unwrap_or(0), tables })
}

/// Writes `backup` to `file` (through a temporary file in the same folder, renamed at the end).
fn write_file(backup: &Backup, file: &Path) -> Result<()> {
    let mut body = Vec::new();
    body.extend(
        format!("{MAGIC}\nformat {FORMAT}\nbackend postgres\nschema_version {}\n", backup.schema_version).bytes(),
    );
    for table in &backup.tables {
        body.extend(format!("table {} {} {}\n", table.name, table.columns.join(","), table.data.len()).bytes());
        body.extend(&table.data);
    }
    let sum = Sha256::digest(&body);
    body.extend(format!("end {}\n", hex(&sum)).bytes());
    let folder = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut staged = tempfile::NamedTempFile::new_in(folder).map_err(io)?;
    staged.write_all(&body).map_err(io)?;
    staged.as_file().sync_all().map_err(io)?;
    staged.persist_noclobber(file).map_err(|e| io(e.error))?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Takes one line (without its newline) off the front of `rest`.
fn line<'a>(rest: &mut &'a [u8]) -> Result<&'a str> {
    let end = rest.iter().position(|b| *b == b'\n').ok_or_else(|| invalid("the backup file is cut short"))?;
    let text = std::str::from_utf8(&rest[..end]).map_err(|_| invalid("the backup file has a damaged line"))?;
    *rest = &rest[end + 1..];
    Ok(text)
}

fn field<'a>(text: &'a str, key: &str) -> Result<&'a str> {
    text.strip_prefix(key)
        .and_then(|v| v.strip_prefix(' '))
        .ok_or_else(|| invalid(format!("expected {key:?} in the backup header")))
}

/// Reads and checks a backup file.
fn read_file(file: &Path) -> Result<Backup> {
    let mut bytes = Vec::new();
    std::fs::File::open(file).and_then(|mut f| f.read_to_end(&mut bytes)).map_err(io)?;
    let end = bytes[..bytes.len().saturating_sub(1)]
        .iter()
        .rposition(|b| *b == b'\n')
        .map(|i| i + 1)
        .ok_or_else(|| invalid(format!("{} is not a smartstock-server backup", file.display())))?;
    let (body, mut trailer) = bytes.split_at(end);
    let sum = field(line(&mut trailer)?, "end")?;
    if sum != hex(&Sha256::digest(body)) {
        return Err(invalid(format!(
            "{} is damaged (its checksum does not match); choose another backup",
            file.display()
        )));
    }
    let mut rest = body;
    if line(&mut rest)? != MAGIC {
        return Err(invalid(format!("{} is not a smartstock-server backup", file.display())));
    }
    let format: u32 = field(line(&mut rest)?, "format")?.parse().map_err(|_| invalid("bad format number"))?;
    if format != FORMAT {
        return Err(StorageError::Conflict {
            code: "database_too_new",
            message: format!(
                "{} uses backup format {format}; restore it with the server that wrote it",
                file.display()
            ),
        });
    }
    let backend = field(line(&mut rest)?, "backend")?;
    if backend != "postgres" {
        return Err(invalid(format!("{} is a {backend} backup, not a PostgreSQL one", file.display())));
    }
    let schema_version =
        field(line(&mut rest)?, "schema_version")?.parse().map_err(|_| invalid("bad schema version"))?;
    let mut tables = Vec::new();
    while !rest.is_empty() {
        let header = field(line(&mut rest)?, "table")?;
        let mut parts = header.split(' ');
        let (Some(name), Some(columns), Some(size), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid(format!("bad table line {header:?}")));
        };
        let columns: Vec<String> = columns.split(',').map(str::to_owned).collect();
        let size: usize = size.parse().map_err(|_| invalid(format!("bad table size in {header:?}")))?;
        if !plain_name(name) || !columns.iter().all(|c| plain_name(c)) || size > rest.len() {
            return Err(invalid(format!("bad table line {header:?}")));
        }
        let (data, after) = rest.split_at(size);
        tables.push(Table { name: name.to_owned(), columns, data: data.to_vec() });
        rest = after;
    }
    Ok(Backup { schema_version, tables })
}

/// Backs up the schema `db` reads (call inside a REPEATABLE READ READ ONLY transaction) to `file`.
pub(super) fn backup(db: &mut Db<'_>, file: &Path) -> Result<()> {
    let backup = snapshot(db)?;
    write_file(&backup, file)
}

/// Restores `file` into the schema of `client` (its `search_path`), which must hold no
/// SmartStock tables; then applies newer migrations.
pub(super) fn restore(client: Client, file: &Path) -> Result<()> {
    let backup = read_file(file)?;
    if backup.schema_version > latest_migration() {
        return Err(StorageError::Conflict {
            code: "database_too_new",
            message: format!(
                "{} was written by a newer smartstock-server (schema {}); restore it with that version",
                file.display(),
                backup.schema_version
            ),
        });
    }
    let mut conn = super::db::PgConn::new(client);
    let mut db = conn.begin(IsolationLevel::ReadCommitted, false)?;
    load(&mut db, &backup)?;
    db.commit()?;
    migrate(conn.client_mut())
}

/// The tables in an order that loads every referenced row before the rows that reference it
/// (the schema's foreign keys, read from the catalog).
fn in_reference_order<'b>(db: &mut Db<'_>, tables: &'b [Table]) -> Result<Vec<&'b Table>> {
    let references: Vec<(String, String)> = db
        .query(
            "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c \
             WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace",
            &[],
        )?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_>>()?;
    let mut ordered: Vec<&Table> = Vec::with_capacity(tables.len());
    let mut waiting: Vec<&Table> = tables.iter().collect();
    while !waiting.is_empty() {
        let ready = |t: &&Table| {
            references
                .iter()
                .filter(|(from, to)| *from == t.name && *to != t.name)
                .all(|(_, to)| ordered.iter().any(|o| o.name == *to) || !waiting.iter().any(|w| w.name == *to))
        };
        let (now, later): (Vec<&Table>, Vec<&Table>) = waiting.iter().copied().partition(ready);
        if now.is_empty() {
            return Err(StorageError::Database("the schema's foreign keys form a cycle".into()));
        }
        ordered.extend(now);
        waiting = later;
    }
    Ok(ordered)
}

/// Builds the schema up to the backup's version and loads every table, in the caller's
/// transaction.
fn load(db: &mut Db<'_>, backup: &Backup) -> Result<()> {
    let taken: bool = db.query_one("SELECT to_regclass('refinery_schema_history') IS NOT NULL", &[])?.try_get(0)?;
    if taken {
        return Err(StorageError::Conflict {
            code: "restore_target_not_empty",
            message: "the target database already holds a SmartStock schema; restore into a new database \
                      (or drop this one first)"
                .into(),
        });
    }
    let mut migrations = embedded::migrations::runner().get_migrations().clone();
    migrations.sort_by_key(|m| m.version());
    for migration in migrations.iter().filter(|m| m.version() <= backup.schema_version) {
        db.batch_execute(migration.sql().unwrap_or_default())?;
    }
    db.batch_execute(HISTORY_TABLE)?;
    for table in in_reference_order(db, &backup.tables)? {
        // Migrations seed some rows (settings, the feed counter): the backup's replace them.
        let clear = quoted(db, "DELETE FROM %I", &[&table.name])?;
        db.batch_execute(&clear)?;
        let columns: Vec<&str> = table.columns.iter().map(String::as_str).collect();
        let template = format!("COPY %I ({}) FROM STDIN", vec!["%I"; columns.len()].join(", "));
        let mut names = vec![table.name.as_str()];
        names.extend(columns);
        let copy = quoted(db, &template, &names)?;
        db.copy_in(&copy, &table.data)?;
    }
    // Identity columns continue after the loaded rows.
    let identities = db.query(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
        &[],
    )?;
    for row in identities {
        let (table, column): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        let sequence: String =
            db.query_one("SELECT pg_get_serial_sequence(quote_ident($1), $2)", &[&table, &column])?.try_get(0)?;
        let next_sql = quoted(db, "SELECT coalesce(max(%I), 0) + 1 FROM %I", &[&column, &table])?;
        let next: i64 = db.query_one(&next_sql, &[])?.try_get(0)?;
        db.query_one("SELECT setval($1::text::regclass, $2, false)", &[&sequence, &next])?;
    }
    Ok(())
}
