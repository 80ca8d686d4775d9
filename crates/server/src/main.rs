//! smartstock-server: the command line. `serve` runs the API; `init` creates the database and
//! the bootstrap admin; `user …` manages accounts; `backup` / `restore` copy the database out and
//! back (a file copy on SQLite, a snapshot in its own format on PostgreSQL); `import` loads a
//! CSV file of products, locations or opening stock. Each command is a call into the library;
//! this file parses arguments and reports errors.

use anyhow::{bail, Context, Result};
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use smartstock_server::api::{self, AppState};
use smartstock_server::auth::{check_password_policy, generate_password, hash_password};
use smartstock_server::config::{DatabaseTarget, ServeConfig, ServeSettings, TlsMode, DEFAULT_DATABASE};
use smartstock_server::events::Events;
use smartstock_server::import::ImportKind;
use smartstock_server::storage::{self, NewUser, Role, Storage};
use smartstock_server::tls;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "smartstock-server", version, about = "SmartStock's central HTTPS server")]
struct Cli {
    /// SQLite file path, or a postgres:// URL [default: smartstock.db; for serve, the config file's
    /// `database` first].
    #[arg(long, global = true, env = "DATABASE_URL")]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the API. Each setting comes from its flag or environment variable, else from the
    /// config file, else from its default.
    Serve {
        /// TOML file with any of the settings below (keys: database, listen, tls_cert, tls_key,
        /// insecure_http, allow_negative_stock, body_limit, access_ttl, login_per_minute, api_per_minute,
        /// cors_origins); relative paths in it are taken from its folder.
        #[arg(long, env = "SMARTSTOCK_CONFIG")]
        config: Option<PathBuf>,
        /// Address and port (port 0 picks a free one, printed at start) [default: 127.0.0.1:8443].
        #[arg(long, env = "SMARTSTOCK_LISTEN")]
        listen: Option<SocketAddr>,
        /// PEM certificate chain (with --tls-key); without both, a self-signed certificate is made.
        #[arg(long, env = "SMARTSTOCK_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key.
        #[arg(long, env = "SMARTSTOCK_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Plain HTTP, for tests or behind a TLS-terminating proxy only.
        #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
        insecure_http: bool,
        /// Allow devices to record movements that take stock below zero.
        #[arg(long, env = "ALLOW_NEGATIVE_STOCK")]
        allow_negative_stock: bool,
        /// Largest request body in bytes [default: 4194304].
        #[arg(long, env = "SMARTSTOCK_BODY_LIMIT")]
        body_limit: Option<usize>,
        /// Access token lifetime in seconds [default: 900].
        #[arg(long, env = "SMARTSTOCK_ACCESS_TTL")]
        access_ttl: Option<i64>,
        /// Sign-in attempts per minute per user name and per address [default: 10].
        #[arg(long, env = "SMARTSTOCK_LOGIN_PER_MINUTE")]
        login_per_minute: Option<i64>,
        /// Signed-in API requests per minute per user [default: 1200].
        #[arg(long, env = "SMARTSTOCK_API_PER_MINUTE")]
        api_per_minute: Option<i64>,
        /// A browser origin allowed to call the API, as https://host[:port] (repeat; the
        /// environment variable takes a comma-separated list). None: CORS stays closed.
        #[arg(long = "cors-origin", env = "SMARTSTOCK_CORS_ORIGINS", value_delimiter = ',')]
        cors_origins: Vec<String>,
        /// Folder of desktop releases to serve as the app's update feed (one sub-folder per
        /// version with the signed artifacts `make dist` builds).
        #[arg(long, env = "SMARTSTOCK_UPDATES_DIR")]
        updates_dir: Option<PathBuf>,
    },
    /// Imports a CSV file into the server with the desktop app's columns and rules: every bad row
    /// is listed with its line and column, and nothing is written unless all rows are good (or
    /// --skip-bad-rows). Opening stock is recorded as counts by the `import` device of `admin`.
    Import {
        /// What the file holds: products (sku,name,barcode,unit,unit_scale,reorder_point,
        /// reorder_qty,cost,price), locations (code,name,kind,parent_code) or stock
        /// (sku,location_code,quantity).
        kind: ImportKind,
        /// The CSV file (header on the first line, columns in any order).
        file: PathBuf,
        /// Check every row and report, but write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Import the good rows and report the bad ones instead of refusing the file.
        #[arg(long)]
        skip_bad_rows: bool,
    },
    /// Creates the database and prints a one-time password for the bootstrap admin `admin`.
    Init,
    /// Fills a new database with a demo company (locations, products, two months of history, one
    /// user per role) and prints the demo passwords. Optionally writes a self-signed TLS
    /// certificate and key for localhost into a folder, for `serve --tls-cert/--tls-key`.
    Demo {
        /// Number of products.
        #[arg(long, default_value_t = 3000)]
        products: usize,
        /// Days of history.
        #[arg(long, default_value_t = 60)]
        days: u32,
        /// Write `cert.pem` and `key.pem` for localhost into this folder.
        #[arg(long)]
        write_tls: Option<PathBuf>,
    },
    /// Manages users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Writes a consistent copy of the live database to FILE (the server may keep running).
    Backup {
        /// Target file (must not exist).
        file: PathBuf,
    },
    /// Restores a backup (a newer schema is refused). SQLite: replaces the database file (stop the
    /// server first). PostgreSQL: loads it into a database that holds no SmartStock tables yet.
    Restore {
        /// The backup file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Adds a user; the password comes from SMARTSTOCK_PASSWORD or is generated and printed.
    Add {
        /// Login name.
        name: String,
        /// admin, manager, clerk or viewer.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Location ids a clerk may record at (repeat).
        #[arg(long = "location")]
        locations: Vec<uuid::Uuid>,
    },
    /// Sets a new one-time password (printed) and ends the user's sessions.
    ResetPassword {
        /// Login name.
        name: String,
    },
    /// Disables the user and ends their sessions.
    Disable {
        /// Login name.
        name: String,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| "must be admin, manager, clerk or viewer".to_string())
}

fn open(database: &str) -> Result<Arc<dyn Storage>> {
    let target = DatabaseTarget::parse(database);
    storage::open(&target).with_context(|| format!("cannot open the database ({})", target.redacted()))
}

fn password_from_env_or_generated() -> Result<(String, bool)> {
    match std::env::var("SMARTSTOCK_PASSWORD") {
        Ok(password) => {
            check_password_policy(&password).map_err(anyhow::Error::msg).context("SMARTSTOCK_PASSWORD")?;
            Ok((password, false))
        }
        Err(_) => Ok((generate_password(), true)),
    }
}

fn main() -> Result<()> {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches)?;
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let database = cli.database.clone().unwrap_or_else(|| DEFAULT_DATABASE.to_string());
    match cli.command {
        Command::Init => init(&database),
        Command::Demo { products, days, write_tls } => demo(&database, products, days, write_tls.as_deref()),
        Command::User { command } => user(&database, command),
        Command::Backup { file } => backup(&database, &file),
        Command::Restore { file } => restore(&database, &file),
        Command::Import { kind, file, dry_run, skip_bad_rows } => {
            import(&database, kind, &file, dry_run, skip_bad_rows)
        }
        Command::Serve {
            config,
            listen,
            tls_cert,
            tls_key,
            insecure_http,
            allow_negative_stock,
            body_limit,
            access_ttl,
            login_per_minute,
            api_per_minute,
            cors_origins,
            updates_dir,
        } => {
            let serve_matches = matches.subcommand_matches("serve");
            let given = |id: &str| serve_matches.is_some_and(|m| explicit(m, id));
            let flags = ServeSettings {
                database: cli.database,
                listen,
                tls_cert,
                tls_key,
                insecure_http: given("insecure_http").then_some(insecure_http),
                allow_negative_stock: given("allow_negative_stock").then_some(allow_negative_stock),
                body_limit,
                access_ttl,
                login_per_minute,
                api_per_minute,
                cors_origins: (!cors_origins.is_empty()).then_some(cors_origins),
                updates_dir,
            };
            let file = match &config {
                Some(path) => ServeSettings::load(path)?,
                None => ServeSettings::default(),
            };
            let (target, config) = flags.over(file).resolve()?;
            let storage =
                storage::open(&target).with_context(|| format!("cannot open the database ({})", target.redacted()))?;
            // Storage calls block: make them before the runtime starts.
            let policy = if config.allow_negative_stock {
                smartstock_core::NegativeStockPolicy::Allow
            } else {
                smartstock_core::NegativeStockPolicy::Forbid
            };
            storage.set_negative_stock_policy(policy)?;
            let events = Events::default();
            // Writes committed by other instances on the same database wake this one's event streams.
            storage
                .subscribe_changes(events.clone())
                .context("cannot listen for changes made by other server instances")?;
            tokio::runtime::Runtime::new()?.block_on(serve(storage, events, config))
        }
    }
}

/// Whether argument `id` was given on the command line or in the environment (not defaulted).
fn explicit(matches: &ArgMatches, id: &str) -> bool {
    matches!(matches.value_source(id), Some(ValueSource::CommandLine | ValueSource::EnvVariable))
}

fn import(database: &str, kind: ImportKind, file: &std::path::Path, dry_run: bool, skip_bad_rows: bool) -> Result<()> {
    let input = std::fs::File::open(file).with_context(|| format!("cannot read {}; check the path", file.display()))?;
    let storage = open(database)?;
    let options = smartstock_store::import::ImportOptions { dry_run, skip_bad_rows };
    let done = smartstock_server::import::import(
        storage.as_ref(),
        kind,
        std::io::BufReader::new(input),
        &options,
        api::now(),
    )?;
    println!("{}", done.render(&file.display().to_string(), skip_bad_rows));
    if !done.clean() {
        bail!("{} has rows that were refused (listed above)", file.display());
    }
    Ok(())
}

fn demo(database: &str, products: usize, days: u32, write_tls: Option<&std::path::Path>) -> Result<()> {
    let storage = open(database)?;
    let spec = smartstock_server::demo::DemoSpec { products, days, ..Default::default() };
    let company = smartstock_server::demo::seed(storage.as_ref(), spec, api::now())?;
    println!(
        "Demo company ready: {} products, {} movements of history, 5 locations.",
        company.products, company.movements
    );
    println!("Demo users (change these before real use):");
    for user in &company.users {
        println!("  {:<8} {:<20} role {}", user.username, user.password, user.role.as_str());
    }
    if let Some(dir) = write_tls {
        let (cert, key) = smartstock_server::tls::self_signed_pem()?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::write(dir.join("cert.pem"), cert)?;
        std::fs::write(dir.join("key.pem"), key)?;
        println!("TLS certificate and key for localhost written to {}", dir.display());
    }
    Ok(())
}

fn init(database: &str) -> Result<()> {
    let storage = open(database)?;
    if storage.user_by_name("admin")?.is_some() {
        bail!("the database is already initialised (user admin exists); use `user reset-password admin`");
    }
    let password = generate_password();
    let user = NewUser {
        username: "admin".into(),
        password_hash: hash_password(&password).map_err(anyhow::Error::msg)?,
        role: Role::Admin,
        must_change_password: true,
        locations: Vec::new(),
    };
    storage.create_user(&user, api::now())?;
    println!("Database ready. Bootstrap admin: user `admin`, one-time password: {password}");
    println!("Sign in and change it: the server refuses everything else until you do.");
    Ok(())
}

fn user(database: &str, command: UserCommand) -> Result<()> {
    let storage = open(database)?;
    match command {
        UserCommand::Add { name, role, locations } => {
            let (password, generated) = password_from_env_or_generated()?;
            let user = NewUser {
                username: name.clone(),
                password_hash: hash_password(&password).map_err(anyhow::Error::msg)?,
                role,
                must_change_password: generated,
                locations: locations.into_iter().map(smartstock_core::LocationId).collect(),
            };
            storage.create_user(&user, api::now())?;
            match generated {
                true => println!("User {name} ({}) added; one-time password: {password}", role.as_str()),
                false => println!("User {name} ({}) added with the password from SMARTSTOCK_PASSWORD", role.as_str()),
            }
        }
        UserCommand::ResetPassword { name } => {
            let found = storage.user_by_name(&name)?.with_context(|| format!("no user named {name}"))?;
            let password = generate_password();
            storage.set_password(found.id, &hash_password(&password).map_err(anyhow::Error::msg)?, true, true)?;
            println!("New one-time password for {name}: {password}");
        }
        UserCommand::Disable { name } => {
            let found = storage.user_by_name(&name)?.with_context(|| format!("no user named {name}"))?;
            storage.set_disabled(found.id, true)?;
            println!("User {name} disabled; their sessions ended");
        }
    }
    Ok(())
}

fn backup(database: &str, file: &std::path::Path) -> Result<()> {
    if file.exists() {
        bail!("{} exists; choose a new file name", file.display());
    }
    open(database)?.backup(file)?;
    println!("Backup written to {}", file.display());
    Ok(())
}

fn restore(database: &str, file: &std::path::Path) -> Result<()> {
    match DatabaseTarget::parse(database) {
        DatabaseTarget::Sqlite(path) => {
            storage::sqlite::SqliteStorage::restore(file, &path)?;
            println!("Restored {} from {}", path.display(), file.display());
        }
        DatabaseTarget::Postgres(url) => {
            storage::postgres::PgStorage::restore(&url, None, file)?;
            println!("Restored the PostgreSQL database from {}", file.display());
        }
    }
    Ok(())
}

async fn serve(storage: Arc<dyn Storage>, events: Events, config: ServeConfig) -> Result<()> {
    let state = AppState { storage, events, settings: Arc::new(config.api.clone()), metrics: Default::default() };
    let app = api::app(state).into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    let shutdown = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        // Finish in-flight requests (a push commits or rolls back whole) before exiting.
        shutdown.graceful_shutdown(Some(std::time::Duration::from_secs(30)));
    });
    let listener =
        std::net::TcpListener::bind(config.listen).with_context(|| format!("cannot listen on {}", config.listen))?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    match config.tls {
        TlsMode::InsecureHttp => {
            println!(
                "smartstock-server listening on http://{address} (plain HTTP: use only behind a TLS proxy or in tests)"
            );
            axum_server::from_tcp(listener)?.handle(handle).serve(app).await?;
        }
        mode => {
            let identity = match mode {
                TlsMode::Files { cert, key } => tls::load(&cert, &key)?,
                _ => tls::self_signed()?,
            };
            println!("TLS certificate SHA-256 fingerprint: {}", identity.fingerprint);
            let rustls = axum_server::tls_rustls::RustlsConfig::from_config(tls::server_config(identity)?);
            println!("smartstock-server listening on https://{address}");
            axum_server::from_tcp_rustls(listener, rustls)?.handle(handle).serve(app).await?;
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
