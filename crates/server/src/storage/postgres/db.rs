//! Connections of the PostgreSQL backend: an `r2d2` pool of synchronous `postgres` clients, each
//! with its own cache of prepared statements, optionally pinned to one schema (`search_path`), and
//! [`Db`], the transaction handle every query of the backend goes through (parameterized SQL only).
//!
//! Must not: decide isolation levels or locking for a use case (the callers in `mod.rs`, `push.rs`
//! and `pull.rs` do), build SQL from values, or be used from inside an async task (the sync
//! `postgres` client runs its own small runtime: call it from a blocking thread).

use crate::storage::{Result, StorageError};
use ::postgres::types::ToSql;
use ::postgres::{Client, Config, NoTls, Row, Statement, Transaction};
use std::collections::HashMap;

/// Parameters of one statement.
pub(super) type Params<'p> = [&'p (dyn ToSql + Sync)];

/// A pooled connection: the client and the statements it has prepared, by SQL text.
pub(super) struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl PgConn {
    /// A connection with an empty statement cache.
    pub(super) fn new(client: Client) -> PgConn {
        PgConn { client, statements: HashMap::new() }
    }

    /// The client, outside any transaction.
    pub(super) fn client_mut(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Starts a transaction; `Db` commits it with [`Db::commit`] or rolls it back on drop.
    pub(super) fn begin(&mut self, isolation: ::postgres::IsolationLevel, read_only: bool) -> Result<Db<'_>> {
        let PgConn { client, statements } = self;
        let tx = client.build_transaction().isolation_level(isolation).read_only(read_only).start()?;
        Ok(Db { tx: Session::Transaction(tx), statements })
    }

    /// No transaction: each statement commits on its own (one round trip; a statement sees one
    /// snapshot whatever the isolation level). For use cases that are a single statement.
    pub(super) fn autocommit(&mut self) -> Db<'_> {
        let PgConn { client, statements } = self;
        Db { tx: Session::Autocommit(client), statements }
    }
}

/// How a pool's connections plan the statements they keep prepared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Plans {
    /// PostgreSQL's own choice (`plan_cache_mode = auto`): custom plans for a statement's first
    /// executions, then its generic plan unless that looks dearer. For the writers: besides
    /// their own statements, this setting also plans the foreign-key checks PostgreSQL runs for
    /// every inserted row, and forcing custom plans there re-planned each check: the write of a
    /// push of 500 movements spent 9 of its 12 ms in those checks (1.4 ms with their plans kept),
    /// and its read of the 500 ids took 3.3 ms instead of 0.4 ms. A generic plan is made again whenever its tables'
    /// statistics change (ANALYZE, also autovacuum's), so one made while a table was small does not
    /// stay as it grows.
    Auto,
    /// The generic plan at every execution (`plan_cache_mode = force_generic_plan`: no planning
    /// per execution). For the per-request lookups (a session by its token's hash, the feed after
    /// a cursor: key and index-range reads whose plans do not depend on the values), where
    /// planning costs more than running. PostgreSQL's own choice (`auto`) kept planning the pull
    /// page afresh: its generic plan's estimate for an unknown `LIMIT` looked dearer than the
    /// custom plans. A plan is made again whenever its tables' statistics change (ANALYZE, also
    /// autovacuum's), so it follows a growing table.
    Generic,
}

/// Opens the pool's connections: connect, then pin `search_path` to the schema if one is given.
pub(super) struct Manager {
    pub(super) config: Config,
    pub(super) schema: Option<String>,
    pub(super) plans: Plans,
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = ::postgres::Error;

    fn connect(&self) -> std::result::Result<PgConn, ::postgres::Error> {
        let mut client = self.config.connect(NoTls)?;
        match self.plans {
            Plans::Auto => client.batch_execute("SET plan_cache_mode = auto")?,
            Plans::Generic => client.batch_execute("SET plan_cache_mode = force_generic_plan")?,
        }
        if let Some(schema) = &self.schema {
            // quote_ident on the server: the schema name travels as a parameter, never as SQL.
            client.execute("SELECT set_config('search_path', quote_ident($1), false)", &[schema])?;
        }
        Ok(PgConn::new(client))
    }

    fn is_valid(&self, conn: &mut PgConn) -> std::result::Result<(), ::postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.client.is_closed()
    }
}

/// One open transaction (or a connection in autocommit) and the connection's statement cache.
pub(super) struct Db<'c> {
    tx: Session<'c>,
    statements: &'c mut HashMap<String, Statement>,
}

/// Where statements run.
enum Session<'c> {
    Transaction(Transaction<'c>),
    Autocommit(&'c mut Client),
}

impl Session<'_> {
    fn client(&mut self) -> &mut dyn Run {
        match self {
            Session::Transaction(tx) => tx,
            Session::Autocommit(client) => *client,
        }
    }
}

/// The calls `Db` makes, on a transaction or a bare client.
trait Run {
    fn prepare(&mut self, sql: &str) -> std::result::Result<Statement, ::postgres::Error>;
    fn query(&mut self, s: &Statement, p: &Params<'_>) -> std::result::Result<Vec<Row>, ::postgres::Error>;
    fn execute(&mut self, s: &Statement, p: &Params<'_>) -> std::result::Result<u64, ::postgres::Error>;
}

impl Run for Transaction<'_> {
    fn prepare(&mut self, sql: &str) -> std::result::Result<Statement, ::postgres::Error> {
        Transaction::prepare(self, sql)
    }
    fn query(&mut self, s: &Statement, p: &Params<'_>) -> std::result::Result<Vec<Row>, ::postgres::Error> {
        Transaction::query(self, s, p)
    }
    fn execute(&mut self, s: &Statement, p: &Params<'_>) -> std::result::Result<u64, ::postgres::Error> {
        Transaction::execute(self, s, p)
    }
}

impl Run for Client {
    fn prepare(&mut self, sql: &str) -> std::result::Result<Statement, ::postgres::Error> {
        Client::prepare(self, sql)
    }
    fn query(&mut self, s: &Statement, p: &Params<'_>) -> std::result::Result<Vec<Row>, ::postgres::Error> {
        Client::query(self, s, p)
    }
    fn execute(&mut self, s: &Statement, p: &Params<'_>) -> std::result::Result<u64, ::postgres::Error> {
        Client::execute(self, s, p)
    }
}

impl Db<'_> {
    /// The prepared statement for `sql`, preparing it once per connection. (A statement prepared
    /// in a transaction that later rolls back stays prepared: statements are session state.)
    fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.tx.client().prepare(sql)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Every row of a query.
    pub(super) fn query(&mut self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>> {
        let statement = self.statement(sql)?;
        Ok(self.tx.client().query(&statement, params)?)
    }

    /// At most one row.
    pub(super) fn query_opt(&mut self, sql: &str, params: &Params<'_>) -> Result<Option<Row>> {
        let mut rows = self.query(sql, params)?;
        match rows.len() {
            0 | 1 => Ok(rows.pop()),
            n => Err(StorageError::Database(format!("a query for at most one row returned {n}"))),
        }
    }

    /// Exactly one row.
    pub(super) fn query_one(&mut self, sql: &str, params: &Params<'_>) -> Result<Row> {
        self.query_opt(sql, params)?
            .ok_or_else(|| StorageError::Database("a query for exactly one row returned none".into()))
    }

    /// Rows changed.
    pub(super) fn execute(&mut self, sql: &str, params: &Params<'_>) -> Result<u64> {
        let statement = self.statement(sql)?;
        Ok(self.tx.client().execute(&statement, params)?)
    }

    /// Rows changed; a unique-key violation becomes the `duplicate` conflict naming `what`.
    pub(super) fn execute_unique(&mut self, sql: &str, params: &Params<'_>, what: &str) -> Result<u64> {
        let statement = self.statement(sql)?;
        self.tx.client().execute(&statement, params).map_err(|e| match e.code() {
            Some(code) if *code == ::postgres::error::SqlState::UNIQUE_VIOLATION => {
                StorageError::Conflict { code: "duplicate", message: format!("{what} is already used; choose another") }
            }
            _ => e.into(),
        })
    }

    /// Runs statements without parameters (simple protocol: DDL, several statements).
    pub(super) fn batch_execute(&mut self, sql: &str) -> Result<()> {
        match &mut self.tx {
            Session::Transaction(tx) => tx.batch_execute(sql)?,
            Session::Autocommit(client) => client.batch_execute(sql)?,
        }
        Ok(())
    }

    /// The data of a `COPY … TO STDOUT`.
    pub(super) fn copy_out(&mut self, sql: &str) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let read = match &mut self.tx {
            Session::Transaction(tx) => std::io::Read::read_to_end(&mut tx.copy_out(sql)?, &mut out),
            Session::Autocommit(client) => std::io::Read::read_to_end(&mut client.copy_out(sql)?, &mut out),
        };
        read.map_err(|e| StorageError::Database(format!("COPY out: {e}")))?;
        Ok(out)
    }

    /// Feeds `data` to a `COPY … FROM STDIN`; the rows copied.
    pub(super) fn copy_in(&mut self, sql: &str, data: &[u8]) -> Result<u64> {
        let mut writer = match &mut self.tx {
            Session::Transaction(tx) => tx.copy_in(sql)?,
            Session::Autocommit(client) => client.copy_in(sql)?,
        };
        std::io::Write::write_all(&mut writer, data).map_err(|e| StorageError::Database(format!("COPY in: {e}")))?;
        Ok(writer.finish()?)
    }

    /// Commits (nothing to do in autocommit).
    pub(super) fn commit(self) -> Result<()> {
        match self.tx {
            Session::Transaction(tx) => Ok(tx.commit()?),
            Session::Autocommit(_) => Ok(()),
        }
    }
}

impl From<::postgres::Error> for StorageError {
    fn from(e: ::postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => StorageError::Database(db.to_string()),
            None => StorageError::Database(e.to_string()),
        }
    }
}

impl From<r2d2::Error> for StorageError {
    fn from(e: r2d2::Error) -> Self {
        StorageError::Database(format!("no PostgreSQL connection: {e}"))
    }
}
