//! `smartstock-server import products|locations|stock FILE` through the real binary on a SQLite
//! file: good files land on the server (catalog rows, opening counts from the `import` device), a
//! bad file is refused with every bad line and column and writes nothing, `--skip-bad-rows` writes
//! the good rows, and a dry run writes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use smartstock_core::{Location, Product};
use smartstock_server::storage::sqlite::SqliteStorage;
use smartstock_server::storage::{StockLevel, Storage};
use std::path::{Path, PathBuf};
use std::process::Command;

struct Server {
    dir: tempfile::TempDir,
    db: PathBuf,
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Server {
    fn init() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("server.db");
        let server = Server { dir, db };
        let init = server.command().arg("init").output().unwrap();
        assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
        server
    }

    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_smartstock-server"));
        command.env_remove("DATABASE_URL").args(["--database", self.db.to_str().unwrap()]);
        command
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn import(&self, kind: &str, file: &Path, flags: &[&str]) -> Run {
        let out = self.command().args(["import", kind, file.to_str().unwrap()]).args(flags).output().unwrap();
        Run {
            ok: out.status.success(),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    fn storage(&self) -> SqliteStorage {
        SqliteStorage::open(&self.db).unwrap()
    }

    fn products(&self) -> Vec<Product> {
        self.storage().products().unwrap()
    }

    fn locations(&self) -> Vec<Location> {
        self.storage().locations().unwrap()
    }

    fn stock(&self) -> Vec<StockLevel> {
        self.storage().stock(None).unwrap()
    }
}

fn on_hand(server: &Server, sku: &str, code: &str) -> Option<i64> {
    let product = server.products().into_iter().find(|p| p.sku == sku)?;
    let location = server.locations().into_iter().find(|l| l.code == code)?;
    server.stock().into_iter().find(|l| l.product_id == product.id && l.location_id == location.id).map(|l| l.on_hand)
}

const LOCATIONS: &str = "code,name,kind,parent_code\nWH,Main warehouse,warehouse,\nWH-A1,Aisle 1,bin,WH\n";
const PRODUCTS: &str = "sku,name,unit,unit_scale,reorder_point,cost,price\n\
                        A-1,Apples,kg,3,1.5,0.99,1.49\n\
                        B-2,Bolts,,,,,\n";

#[test]
fn good_files_are_imported_into_the_server() {
    let server = Server::init();
    let run = server.import("locations", &server.file("locations.csv", LOCATIONS), &[]);
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Imported 2 of 2 rows (locations)"), "{}", run.stdout);
    let locations = server.locations();
    let wh = locations.iter().find(|l| l.code == "WH").unwrap();
    let aisle = locations.iter().find(|l| l.code == "WH-A1").unwrap();
    assert_eq!(aisle.parent_id, Some(wh.id));

    let run = server.import("products", &server.file("products.csv", PRODUCTS), &[]);
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Imported 2 of 2 rows (products)"), "{}", run.stdout);
    let products = server.products();
    let apples = products.iter().find(|p| p.sku == "A-1").unwrap();
    assert_eq!((apples.unit.as_str(), apples.unit_scale, apples.reorder_point), ("kg", 3, 1500));
    assert_eq!((apples.cost_minor, apples.price_minor), (99, 149));
    let bolts = products.iter().find(|p| p.sku == "B-2").unwrap();
    assert_eq!((bolts.unit.as_str(), bolts.unit_scale), ("pcs", 0));

    let stock = "sku,location_code,quantity\nA-1,WH-A1,12.25\nB-2,WH,40\n";
    let run = server.import("stock", &server.file("stock.csv", stock), &[]);
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Imported 2 of 2 rows (opening stock)"), "{}", run.stdout);
    assert_eq!(on_hand(&server, "A-1", "WH-A1"), Some(12_250));
    assert_eq!(on_hand(&server, "B-2", "WH"), Some(40));

    // A later import continues the import device's sequence; its count sets the level.
    let recount = "sku,location_code,quantity\nB-2,WH,35\n";
    let run = server.import("stock", &server.file("recount.csv", recount), &[]);
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    assert_eq!(on_hand(&server, "B-2", "WH"), Some(35));
    assert_eq!(server.storage().head_seq().unwrap(), 7, "2 locations, 2 products and 3 counts are in the feed");

    // The server's catalog is what later files are checked against.
    let parent_on_server = "code,name,parent_code\nWH-A2,Aisle 2,WH\n";
    let run = server.import("locations", &server.file("more.csv", parent_on_server), &[]);
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    let aisle2 = server.locations().into_iter().find(|l| l.code == "WH-A2").unwrap();
    assert_eq!(aisle2.parent_id, Some(wh.id));
}

#[test]
fn a_bad_file_is_refused_with_its_lines_and_nothing_is_written() {
    let server = Server::init();
    assert!(server.import("products", &server.file("products.csv", PRODUCTS), &[]).ok);
    let head = server.storage().head_seq().unwrap();

    let bad = "sku,name,unit_scale,cost\n\
               N-1,New one,0,1.00\n\
               A-1,Already on the server,0,\n\
               N-2,,0,\n\
               N-3,Bad scale,9,\n\
               N-1,Repeat,0,\n";
    let file = server.file("bad.csv", bad);
    let run = server.import("products", &file, &[]);
    assert!(!run.ok, "refused rows exit non-zero: {}", run.stdout);
    assert!(run.stdout.contains("4 of 5 rows have errors, so nothing was imported"), "{}", run.stdout);
    for expected in ["line 3, column sku", "line 4, column name", "line 5, column unit_scale", "line 6, column sku"] {
        assert!(run.stdout.contains(expected), "{expected} missing from:\n{}", run.stdout);
    }
    assert!(run.stdout.contains("\"A-1\""), "the duplicate names the SKU: {}", run.stdout);
    assert!(run.stdout.contains("first on line 2"), "the repeat names the first line: {}", run.stdout);
    assert!(run.stderr.contains("bad.csv"), "{}", run.stderr);
    assert_eq!(server.products().len(), 2, "nothing written");
    assert_eq!(server.storage().head_seq().unwrap(), head, "nothing written");

    let bad_stock = "sku,location_code,quantity\nA-1,NOWHERE,1\nZ-9,WH,1\nB-2,WH,-3\n";
    assert!(server.import("locations", &server.file("locations.csv", LOCATIONS), &[]).ok);
    let head = server.storage().head_seq().unwrap();
    let run = server.import("stock", &server.file("bad-stock.csv", bad_stock), &[]);
    assert!(!run.ok);
    for expected in ["line 2, column location_code", "line 3, column sku", "line 4, column quantity"] {
        assert!(run.stdout.contains(expected), "{expected} missing from:\n{}", run.stdout);
    }
    assert!(server.stock().is_empty(), "no count recorded");
    assert_eq!(server.storage().head_seq().unwrap(), head);

    let header = server.import("stock", &server.file("header.csv", "sku,qty\nA-1,1\n"), &[]);
    assert!(!header.ok);
    assert!(header.stdout.contains("the header is wrong") && header.stdout.contains("line 1"), "{}", header.stdout);

    // --skip-bad-rows writes the good row and still lists (and exits non-zero for) the bad ones.
    let run = server.import("products", &file, &["--skip-bad-rows"]);
    assert!(!run.ok);
    assert!(
        run.stdout.contains("Imported 1 of 5 rows (products)") && run.stdout.contains("4 rows with errors skipped"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("line 4, column name"), "{}", run.stdout);
    let skus: Vec<String> = server.products().into_iter().map(|p| p.sku).collect();
    assert_eq!(skus, ["A-1", "B-2", "N-1"]);
}

#[test]
fn a_dry_run_checks_against_the_server_and_writes_nothing() {
    let server = Server::init();
    let file = server.file("products.csv", PRODUCTS);
    let run = server.import("products", &file, &["--dry-run"]);
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("Dry run of") && run.stdout.contains("2 rows checked, 0 with errors"),
        "{}",
        run.stdout
    );
    assert!(server.products().is_empty());
    assert_eq!(server.storage().head_seq().unwrap(), 0);

    assert!(server.import("products", &file, &[]).ok);
    let again = server.import("products", &file, &["--dry-run"]);
    assert!(!again.ok, "duplicates against the server are refused: {}", again.stdout);
    assert!(
        again.stdout.contains("line 2, column sku") && again.stdout.contains("line 3, column sku"),
        "{}",
        again.stdout
    );
    assert_eq!(server.products().len(), 2);

    let stock = server.file("stock.csv", "sku,location_code,quantity\nA-1,WH,1\n");
    assert!(server.import("locations", &server.file("locations.csv", LOCATIONS), &[]).ok);
    let run = server.import("stock", &stock, &["--dry-run"]);
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    assert!(server.stock().is_empty(), "a dry run records no count");
}

#[test]
fn importing_needs_an_initialised_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server { db: dir.path().join("empty.db"), dir };
    let run = server.import("products", &server.file("products.csv", PRODUCTS), &[]);
    assert!(!run.ok);
    assert!(run.stderr.contains("no user `admin`") && run.stderr.contains("smartstock-server init"), "{}", run.stderr);
    let missing = server.import("products", &server.dir.path().join("missing.csv"), &[]);
    assert!(!missing.ok);
    assert!(missing.stderr.contains("missing.csv"), "{}", missing.stderr);
}
