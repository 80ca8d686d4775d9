//! `smartstock-server demo`: fills an empty database with a demo company, so a newcomer sees a
//! working product at once (`make run`): five locations, a few thousand products, two months of
//! history (receipts, sales, transfers, adjustments, counts), one user per role with printed
//! passwords, some low stock and one negative-stock alert from two devices' merge.
//!
//! Everything goes through the real paths: the catalog through the CSV import
//! (`crate::import`), the history recorded by a desktop ledger (`smartstock_store::Store`, with a
//! clock that walks through the two months) and pushed like any desktop's outbox.
//!
//! Must not: run on a database that holds anything (it refuses), or invent a rule of its own.

use crate::auth::hash_password;
use crate::import::{self, ImportError, ImportKind};
use crate::storage::{NewUser, Pusher, Role, Storage, StorageError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use smartstock_core::wire::{PushRequest, WIRE_VERSION};
use smartstock_core::{MovementIntent, Product, ReasonCode, Timestamp, UserId};
use smartstock_store::import::ImportOptions;
use smartstock_store::{Actor, ManualClock, Store};
use std::fmt::Write as _;
use std::sync::Arc;

const DAY_MS: i64 = 86_400_000;

/// How big a company to make.
#[derive(Clone, Copy, Debug)]
pub struct DemoSpec {
    /// Number of products.
    pub products: usize,
    /// Days of history.
    pub days: u32,
    /// Random seed (the same seed gives the same company).
    pub seed: u64,
}

impl Default for DemoSpec {
    fn default() -> DemoSpec {
        DemoSpec { products: 3000, days: 60, seed: 7 }
    }
}

/// A demo login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoUser {
    /// Login name.
    pub username: String,
    /// Password (demo only; printed).
    pub password: String,
    /// Role.
    pub role: Role,
}

/// What the demo made.
#[derive(Clone, Debug)]
pub struct DemoCompany {
    /// One user per role.
    pub users: Vec<DemoUser>,
    /// Products made.
    pub products: usize,
    /// Movements pushed.
    pub movements: usize,
}

/// Why the demo could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The database already holds users.
    #[error("the database is not empty (user {0} exists); the demo needs a new database: pass another --database")]
    NotEmpty(String),
    /// The server's storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A catalog import failed.
    #[error("demo catalog: {0}")]
    Import(#[from] ImportError),
    /// The history ledger failed.
    #[error("demo history: {0}")]
    Store(#[from] smartstock_store::StoreError),
    /// Anything else.
    #[error("demo: {0}")]
    Other(String),
}

const LOCATIONS: [(&str, &str, &str); 5] = [
    ("WH1", "Main warehouse", "warehouse"),
    ("WH2", "North depot", "warehouse"),
    ("SHOP1", "City store", "store"),
    ("SHOP2", "Airport store", "store"),
    ("VAN1", "Service van", "vehicle"),
];

const ROLES: [(&str, Role); 4] =
    [("admin", Role::Admin), ("manager", Role::Manager), ("clerk", Role::Clerk), ("viewer", Role::Viewer)];

/// Makes the demo company in `storage`, which must be empty.
pub fn seed(storage: &dyn Storage, spec: DemoSpec, now: Timestamp) -> Result<DemoCompany, DemoError> {
    for (name, _) in ROLES {
        if storage.user_by_name(name)?.is_some() {
            return Err(DemoError::NotEmpty(name.into()));
        }
    }
    let admin = DemoUser { username: "admin".into(), password: demo_password("admin"), role: Role::Admin };
    let admin_id = create_user(storage, &admin, Vec::new(), now)?;
    let strict = ImportOptions { dry_run: false, skip_bad_rows: false };
    import::import(storage, ImportKind::Locations, locations_csv().as_bytes(), &strict, now)?;
    let mut rng = StdRng::seed_from_u64(spec.seed);
    import::import(storage, ImportKind::Products, products_csv(spec.products, &mut rng).as_bytes(), &strict, now)?;
    let locations = storage.locations()?;
    let clerk_sites: Vec<_> = locations.iter().filter(|l| l.code == "WH1" || l.code == "SHOP1").map(|l| l.id).collect();
    let mut users = vec![admin];
    for (name, role) in &ROLES[1..] {
        let user = DemoUser { username: (*name).into(), password: demo_password(name), role: *role };
        let sites = if *role == Role::Clerk { clerk_sites.clone() } else { Vec::new() };
        create_user(storage, &user, sites, now)?;
        users.push(user);
    }
    let manager = storage.user_by_name("manager")?.ok_or_else(|| DemoError::Other("manager missing".into()))?;
    let movements = history(storage, manager.id, spec, now, &mut rng)?;
    merge_two_sales_of_the_last_unit(storage, admin_id, now)?;
    Ok(DemoCompany { users, products: spec.products, movements })
}

fn demo_password(name: &str) -> String {
    let mut chars = name.chars();
    let capital: String = chars.next().map(|c| c.to_ascii_uppercase()).into_iter().chain(chars).collect();
    format!("Demo-{capital}-2026")
}

fn create_user(
    storage: &dyn Storage,
    user: &DemoUser,
    locations: Vec<smartstock_core::LocationId>,
    now: Timestamp,
) -> Result<UserId, DemoError> {
    let new = NewUser {
        username: user.username.clone(),
        password_hash: hash_password(&user.password).map_err(|e| DemoError::Other(e.to_string()))?,
        role: user.role,
        must_change_password: false,
        locations,
    };
    Ok(storage.create_user(&new, now)?)
}

fn locations_csv() -> String {
    let mut csv = String::from("code,name,kind,parent_code\n");
    for (code, name, kind) in LOCATIONS {
        let _ = writeln!(csv, "{code},{name},{kind},");
    }
    csv
}

const FAMILIES: [(&str, &str, &[&str], &[&str]); 6] = [
    ("HW", "pcs", &["Hex bolt", "Wood screw", "Wall plug", "Washer", "Hinge", "Bracket"], &["M6", "M8", "M10", "M12"]),
    (
        "EL",
        "pcs",
        &["LED bulb", "Cable tie", "Socket", "Switch", "Fuse", "Junction box"],
        &["5 W", "9 W", "13 A", "2-gang"],
    ),
    ("PT", "l", &["Wall paint", "Primer", "Varnish", "Wood stain", "Thinner"], &["white", "grey", "oak", "clear"]),
    ("PL", "pcs", &["Elbow", "Tee", "Valve", "Pipe clip", "Coupling"], &["15 mm", "22 mm", "28 mm"]),
    (
        "TL",
        "pcs",
        &["Hammer", "Screwdriver", "Tape measure", "Utility knife", "Spirit level"],
        &["small", "large", "pro"],
    ),
    ("CB", "m", &["Copper cable", "Speaker cable", "Garden hose", "Chain"], &["1.5 mm²", "2.5 mm²", "heavy"]),
];

/// `count` products: SKU, name, EAN-13-like barcode, unit (metres and litres with decimals),
/// reorder point and quantity, cost and price.
fn products_csv(count: usize, rng: &mut StdRng) -> String {
    let mut csv = String::from("sku,name,barcode,unit,unit_scale,reorder_point,reorder_qty,cost,price\n");
    for i in 0..count {
        let (prefix, unit, items, variants) = FAMILIES[i % FAMILIES.len()];
        let item = items[(i / FAMILIES.len()) % items.len()];
        let variant = variants[(i / (FAMILIES.len() * items.len())) % variants.len()];
        let scale = if unit == "pcs" { 0 } else { 2 };
        let cost = rng.gen_range(30..5000) as f64 / 100.0;
        let _ = writeln!(
            csv,
            "{prefix}-{:05},{item} {variant} #{},{},{unit},{scale},{},{},{cost:.2},{:.2}",
            i + 1,
            i / 30 + 1,
            4_000_000_000_000u64 + i as u64 * 7,
            rng.gen_range(2..15),
            rng.gen_range(20..60),
            cost * 1.6,
        );
    }
    csv
}

/// Two months of a shop's life recorded on a desktop ledger whose clock walks through them,
/// then pushed like any desktop's outbox. Returns the number of movements.
fn history(
    storage: &dyn Storage,
    user: UserId,
    spec: DemoSpec,
    now: Timestamp,
    rng: &mut StdRng,
) -> Result<usize, DemoError> {
    let scratch = scratch_dir()?;
    let start = Timestamp(now.millis() - i64::from(spec.days) * DAY_MS);
    let clock = Arc::new(ManualClock::new(start));
    let store = Store::open_with_clock(scratch.path().join("history.db"), clock.clone())?;
    let (products, locations) = (storage.products()?, storage.locations()?);
    import::load_catalog(store.path(), &products, &locations)?;
    let actor = Actor { user_id: user };
    let by_code = |code: &str| locations.iter().find(|l| l.code == code).map(|l| l.id);
    let (wh1, wh2, shop1, shop2) = match (by_code("WH1"), by_code("WH2"), by_code("SHOP1"), by_code("SHOP2")) {
        (Some(a), Some(b), Some(c), Some(d)) => (a, b, c, d),
        _ => return Err(DemoError::Other("demo locations missing".into())),
    };
    let record = |intent: MovementIntent| match store.record(actor, &intent) {
        Ok(_) | Err(smartstock_store::StoreError::NegativeStock { .. }) => Ok(()),
        Err(e) => Err(DemoError::Store(e)),
    };
    for (i, p) in products.iter().enumerate() {
        let unit = 10i64.pow(p.unit_scale);
        record(receive(p, wh1, rng.gen_range(20..200) * unit))?;
        if i % 2 == 0 {
            record(receive(p, shop1, rng.gen_range(0..25) * unit + unit))?;
        }
        if i % 3 == 0 {
            record(receive(p, shop2, rng.gen_range(0..12) * unit + unit))?;
        }
        if i % 5 == 0 {
            record(receive(p, wh2, rng.gen_range(10..80) * unit))?;
        }
    }
    for day in 1..i64::from(spec.days) {
        clock.set(Timestamp(start.millis() + day * DAY_MS + 8 * 3_600_000));
        for _ in 0..spec.products / 20 {
            let p = &products[rng.gen_range(0..products.len())];
            let unit = 10i64.pow(p.unit_scale);
            let shop = if rng.gen_bool(0.6) { shop1 } else { shop2 };
            record(issue(p, shop, rng.gen_range(1..4) * unit))?;
            clock.advance(rng.gen_range(60_000..600_000));
        }
        for _ in 0..spec.products / 100 {
            let p = &products[rng.gen_range(0..products.len())];
            let unit = 10i64.pow(p.unit_scale);
            let to = if rng.gen_bool(0.5) { shop1 } else { shop2 };
            record(MovementIntent::Transfer {
                product_id: p.id,
                from: wh1,
                to,
                quantity: rng.gen_range(5..20) * unit,
                note: Some("Weekly replenishment".into()),
            })?;
            record(receive(p, wh1, rng.gen_range(20..60) * unit))?;
        }
        let p = &products[rng.gen_range(0..products.len())];
        record(MovementIntent::Adjust {
            product_id: p.id,
            location_id: shop1,
            delta: -(10i64.pow(p.unit_scale)),
            reason: ReasonCode::Damaged,
            note: Some("Broken in handling".into()),
        })?;
        if day % 7 == 0 {
            let p = &products[rng.gen_range(0..products.len())];
            let on_hand = store.level(p.id, shop2)?;
            record(MovementIntent::Count {
                product_id: p.id,
                location_id: shop2,
                counted_qty: (on_hand - 10i64.pow(p.unit_scale)).max(0),
                note: Some("Weekly stocktake".into()),
            })?;
        }
    }
    push_outbox(storage, &store, user, "Demo back office", now)
}

/// A throwaway folder for the demo's desktop ledgers: in memory (`/dev/shm`) where there is one,
/// as each recorded movement is a durable transaction and a disk would make the demo slow.
fn scratch_dir() -> Result<tempfile::TempDir, DemoError> {
    let shm = std::path::Path::new("/dev/shm");
    let builder = tempfile::Builder::new().prefix("smartstock-demo-").tempdir_in(if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    });
    builder.map_err(|e| DemoError::Other(format!("cannot create a temporary folder: {e}")))
}

fn receive(p: &Product, location: smartstock_core::LocationId, quantity: i64) -> MovementIntent {
    MovementIntent::Receive {
        product_id: p.id,
        location_id: location,
        quantity,
        reference: Some(format!("PO-{}", &p.sku)),
        note: None,
    }
}

fn issue(p: &Product, location: smartstock_core::LocationId, quantity: i64) -> MovementIntent {
    MovementIntent::Issue {
        product_id: p.id,
        location_id: location,
        quantity,
        reason: Some(ReasonCode::Sale),
        reference: None,
        note: None,
    }
}

/// Pushes a ledger's whole outbox from its own device, in batches. Returns how many.
fn push_outbox(
    storage: &dyn Storage,
    store: &Store,
    user: UserId,
    name: &str,
    now: Timestamp,
) -> Result<usize, DemoError> {
    let device = store.device_id()?;
    storage.register_device(user, device, name, now)?;
    let pusher = Pusher { user_id: user, role: Role::Admin, locations: Vec::new() };
    let movements = store.pending(u32::MAX)?;
    for batch in movements.chunks(1000) {
        let request = PushRequest { v: WIRE_VERSION, device_id: device, movements: batch.to_vec() };
        storage.push(&pusher, &request, now)?;
    }
    Ok(movements.len())
}

/// Two tills each sell the last unit of one product offline; the server keeps both sales and
/// raises one negative-stock alert (DESIGN.md, "Conflicts and alerts").
fn merge_two_sales_of_the_last_unit(storage: &dyn Storage, admin: UserId, now: Timestamp) -> Result<(), DemoError> {
    let locations = storage.locations()?;
    let Some(shop1) = locations.iter().find(|l| l.code == "SHOP1") else { return Ok(()) };
    let Some(product) = storage.products()?.into_iter().find(|p| p.unit_scale == 0) else { return Ok(()) };
    let on_hand = storage
        .stock(None)?
        .into_iter()
        .find(|l| l.product_id == product.id && l.location_id == shop1.id)
        .map_or(0, |l| l.on_hand);
    for (till, quantity) in [("Till 1", on_hand), ("Till 2", 1)] {
        let scratch = scratch_dir()?;
        let clock = Arc::new(ManualClock::new(Timestamp(now.millis() - 3_600_000)));
        let store = Store::open_with_clock(scratch.path().join("till.db"), clock)?;
        import::load_catalog(store.path(), std::slice::from_ref(&product), std::slice::from_ref(shop1))?;
        store.set_negative_stock_policy(smartstock_core::NegativeStockPolicy::Allow)?;
        if quantity > 0 {
            store.record(Actor { user_id: admin }, &issue(&product, shop1.id, quantity))?;
        }
        push_outbox(storage, &store, admin, till, now)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_passwords_meet_the_policy() {
        for (name, _) in ROLES {
            let password = demo_password(name);
            assert!(crate::auth::check_password_policy(&password).is_ok(), "{password}");
        }
    }

    #[test]
    fn product_rows_are_unique_and_well_formed() {
        let csv = products_csv(500, &mut StdRng::seed_from_u64(1));
        let rows: Vec<&str> = csv.lines().skip(1).collect();
        assert_eq!(rows.len(), 500);
        let skus: std::collections::HashSet<&str> = rows.iter().map(|r| r.split(',').next().unwrap()).collect();
        assert_eq!(skus.len(), 500);
    }
}
