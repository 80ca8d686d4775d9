//! The three imports' row checks and writes: products, locations, opening stock. The row loop,
//! the header and the report live in the parent module.
//!
//! Must not: write by any path but the catalog's and the ledger's own functions.

use super::*;

// ---------------------------------------------------------------------------------------------
// Products.

pub(super) struct ProductSink {
    audit: AuditStamp,
    skus: HashMap<String, u64>,
    barcodes: HashMap<String, u64>,
}

impl ProductSink {
    const SKU: usize = 0;
    const NAME: usize = 1;
    const BARCODE: usize = 2;
    const UNIT: usize = 3;
    const UNIT_SCALE: usize = 4;
    const REORDER_POINT: usize = 5;
    const REORDER_QTY: usize = 6;
    const COST: usize = 7;
    const PRICE: usize = 8;
    /// Unit of a product whose row leaves `unit` empty.
    const DEFAULT_UNIT: &'static str = "pcs";
    /// Decimal places of money (cost, price) in the file.
    const MONEY_SCALE: u32 = 2;

    pub(super) fn open(tx: &Connection, actor: Actor, now: Timestamp) -> Result<ProductSink> {
        Ok(ProductSink { audit: AuditStamp::begin(tx, actor, now)?, skus: HashMap::new(), barcodes: HashMap::new() })
    }

    fn check(&mut self, tx: &Connection, row: &Row<'_>) -> RowResult<Product> {
        let sku = row.text(Self::SKU);
        first_in_file(&mut self.skus, row, Self::SKU, sku)?;
        let barcode = row.opt(Self::BARCODE);
        if let Some(barcode) = barcode {
            first_in_file(&mut self.barcodes, row, Self::BARCODE, barcode)?;
        }
        let unit_scale = Self::unit_scale(row)?;
        let product = Product {
            id: ProductId::new_random(),
            sku: sku.to_owned(),
            name: row.text(Self::NAME).to_owned(),
            barcode: barcode.map(str::to_owned),
            unit: row.opt(Self::UNIT).unwrap_or(Self::DEFAULT_UNIT).to_owned(),
            unit_scale,
            reorder_point: row.quantity(Self::REORDER_POINT, unit_scale)?,
            reorder_qty: row.quantity(Self::REORDER_QTY, unit_scale)?,
            cost_minor: row.quantity(Self::COST, Self::MONEY_SCALE)?,
            price_minor: row.quantity(Self::PRICE, Self::MONEY_SCALE)?,
            archived: false,
            negative_stock: None,
        };
        product.validate().map_err(|e| row.invalid(&e))?;
        catalog::check_product_unique(tx, &product).map_err(|e| row.fault(None, e))?;
        Ok(product)
    }

    fn unit_scale(row: &Row<'_>) -> std::result::Result<u32, RowError> {
        let Some(text) = row.opt(Self::UNIT_SCALE) else { return Ok(0) };
        text.parse::<u32>().ok().filter(|s| *s <= MAX_SCALE).ok_or_else(|| {
            row.error(
                Self::UNIT_SCALE,
                format!(
                    "unit_scale must be a whole number from 0 to {MAX_SCALE}, the decimal places of the unit \
                     (got {text:?})"
                ),
            )
        })
    }
}

impl RowSink for ProductSink {
    const COLUMNS: &'static [Column] = &[
        required("sku"),
        required("name"),
        optional("barcode"),
        optional("unit"),
        optional("unit_scale"),
        optional("reorder_point"),
        optional("reorder_qty"),
        optional("cost"),
        optional("price"),
    ];

    fn row(&mut self, tx: &Connection, row: &Row<'_>, write: bool) -> RowResult<bool> {
        let product = self.check(tx, row)?;
        if !write {
            return Ok(false);
        }
        catalog::insert_product(tx, &product).map_err(|e| row.fault(None, e))?;
        let fields = catalog::product_fields(&product);
        self.audit.record(tx, "product", product.id.0, None, &fields).map_err(|e| row.fault(None, e))?;
        Ok(true)
    }
}

/// Remembers the first line of a unique value; a repeat is refused.
fn first_in_file(
    seen: &mut HashMap<String, u64>,
    row: &Row<'_>,
    col: usize,
    value: &str,
) -> std::result::Result<(), RowError> {
    if value.is_empty() {
        return Ok(());
    }
    if let Some(first) = seen.get(value) {
        let name = row.name(col);
        return Err(row.error(
            col,
            format!("{name} \"{value}\" is repeated in this file (first on line {first}); keep one row per {name}"),
        ));
    }
    seen.insert(value.to_owned(), row.line);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Locations.

pub(super) struct LocationSink {
    audit: AuditStamp,
    /// Every stored location by code.
    stored: HashMap<String, LocationId>,
    /// Codes met in the file: their line and, if the row was good, the new id.
    in_file: HashMap<String, (u64, Option<LocationId>)>,
}

impl LocationSink {
    const CODE: usize = 0;
    const NAME: usize = 1;
    const KIND: usize = 2;
    const PARENT_CODE: usize = 3;

    pub(super) fn open(tx: &Connection, actor: Actor, now: Timestamp) -> Result<LocationSink> {
        let mut stmt = tx.prepare("SELECT code, id FROM locations")?;
        let stored = stmt
            .query_map([], |r| Ok((r.get(0)?, LocationId(r.get(1)?))))?
            .collect::<rusqlite::Result<HashMap<String, LocationId>>>()?;
        Ok(LocationSink { audit: AuditStamp::begin(tx, actor, now)?, stored, in_file: HashMap::new() })
    }

    fn check(&mut self, row: &Row<'_>) -> std::result::Result<Location, RowError> {
        let code = row.text(Self::CODE);
        if let Some((first, _)) = self.in_file.get(code) {
            let message = format!(
                "location code \"{code}\" is repeated in this file (first on line {first}); keep one row per code"
            );
            return Err(row.error(Self::CODE, message));
        }
        if self.stored.contains_key(code) {
            let message = format!("location code \"{code}\" already exists; choose another code or leave the row out");
            return Err(row.error(Self::CODE, message));
        }
        if !code.is_empty() {
            self.in_file.insert(code.to_owned(), (row.line, None));
        }
        let kind = match row.opt(Self::KIND) {
            Some(text) => LocationKind::parse("kind", text).map_err(|e| row.invalid(&e))?,
            None => LocationKind::default(),
        };
        let parent_id = row.opt(Self::PARENT_CODE).map(|parent| self.parent(row, code, parent)).transpose()?;
        let location = Location {
            id: LocationId::new_random(),
            code: code.to_owned(),
            name: row.text(Self::NAME).to_owned(),
            kind,
            parent_id,
            archived: false,
        };
        location.validate().map_err(|e| match e.field.as_str() {
            "parent" => row.error(Self::PARENT_CODE, format!("parent_code {}", e.rule)),
            _ => row.invalid(&e),
        })?;
        self.mark(code, Some(location.id));
        Ok(location)
    }

    fn parent(&self, row: &Row<'_>, code: &str, parent: &str) -> std::result::Result<LocationId, RowError> {
        if parent == code {
            let message =
                "parent_code must not be the location's own code; leave it empty or give the enclosing location";
            return Err(row.error(Self::PARENT_CODE, message));
        }
        match self.in_file.get(parent) {
            Some((_, Some(id))) => Ok(*id),
            Some((line, None)) => Err(row.error(
                Self::PARENT_CODE,
                format!(
                    "parent_code \"{parent}\" is the location on line {line}, which has an error; fix that row first"
                ),
            )),
            None => self.stored.get(parent).copied().ok_or_else(|| {
                row.error(
                    Self::PARENT_CODE,
                    format!(
                        "parent_code \"{parent}\" does not exist; list the parent on an earlier line or import it \
                         first"
                    ),
                )
            }),
        }
    }

    /// Records whether the location of `code` can be a parent to later rows.
    fn mark(&mut self, code: &str, id: Option<LocationId>) {
        if let Some(entry) = self.in_file.get_mut(code) {
            entry.1 = id;
        }
    }
}

impl RowSink for LocationSink {
    const COLUMNS: &'static [Column] = &[required("code"), required("name"), optional("kind"), optional("parent_code")];

    fn row(&mut self, tx: &Connection, row: &Row<'_>, write: bool) -> RowResult<bool> {
        let location = self.check(row)?;
        if !write {
            return Ok(false);
        }
        let written = catalog::insert_location(tx, &location).and_then(|()| {
            let fields = catalog::location_fields(&location);
            self.audit.record(tx, "location", location.id.0, None, &fields)
        });
        if let Err(e) = written {
            self.mark(&location.code, None);
            return Err(row.fault(None, e));
        }
        Ok(true)
    }
}

// ---------------------------------------------------------------------------------------------
// Opening stock.

/// A stored product as opening stock needs it; `key` numbers it for the pair set.
struct ProductRef {
    key: u32,
    id: ProductId,
    unit_scale: u32,
    archived: bool,
}

/// A stored location as opening stock needs it.
struct LocationRef {
    key: u32,
    id: LocationId,
    archived: bool,
}

pub(super) struct OpeningSink {
    stamp: Stamp,
    products: HashMap<String, ProductRef>,
    locations: HashMap<String, LocationRef>,
    /// Product × location pairs met in the file, with their first line.
    pairs: HashMap<u64, u64>,
}

impl OpeningSink {
    const SKU: usize = 0;
    const LOCATION_CODE: usize = 1;
    const QUANTITY: usize = 2;

    pub(super) fn open(tx: &Connection, actor: Actor, now: Timestamp) -> Result<OpeningSink> {
        let mut products = HashMap::new();
        let mut stmt = tx.prepare("SELECT sku, id, unit_scale, archived FROM products")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let key = products.len() as u32;
            products.insert(
                r.get(0)?,
                ProductRef { key, id: ProductId(r.get(1)?), unit_scale: r.get(2)?, archived: r.get(3)? },
            );
        }
        let mut locations = HashMap::new();
        let mut stmt = tx.prepare("SELECT code, id, archived FROM locations")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let key = locations.len() as u32;
            locations.insert(r.get(0)?, LocationRef { key, id: LocationId(r.get(1)?), archived: r.get(2)? });
        }
        let stamp = Stamp::begin(tx, actor, now, None)?;
        Ok(OpeningSink { stamp, products, locations, pairs: HashMap::new() })
    }

    /// The product, location and counted quantity of a good row.
    fn check(&mut self, row: &Row<'_>) -> std::result::Result<(ProductId, LocationId, i64), RowError> {
        let sku = row.text(Self::SKU);
        let product = self.products.get(sku).ok_or_else(|| match sku {
            "" => row.error(Self::SKU, "sku is empty; give the SKU of a product in the catalog"),
            _ => row.error(Self::SKU, format!("sku \"{sku}\" does not exist; import products first or fix the sku")),
        })?;
        let code = row.text(Self::LOCATION_CODE);
        let location = self.locations.get(code).ok_or_else(|| match code {
            "" => row.error(Self::LOCATION_CODE, "location code is empty; give the code of a location"),
            _ => row.error(
                Self::LOCATION_CODE,
                format!("location code \"{code}\" does not exist; import locations first or fix the code"),
            ),
        })?;
        if product.archived {
            return Err(
                row.error(Self::SKU, format!("product \"{sku}\" is archived; restore it before importing its stock"))
            );
        }
        if location.archived {
            let message = format!("location \"{code}\" is archived; restore it or choose another location");
            return Err(row.error(Self::LOCATION_CODE, message));
        }
        let pair = (u64::from(product.key) << 32) | u64::from(location.key);
        if let Some(first) = self.pairs.get(&pair) {
            return Err(RowError::new(
                row.line,
                None,
                format!("sku \"{sku}\" at location \"{code}\" is already on line {first}; keep one row per product and location"),
            ));
        }
        self.pairs.insert(pair, row.line);
        let counted = Self::quantity(row, product.unit_scale)?;
        Ok((product.id, location.id, counted))
    }

    fn quantity(row: &Row<'_>, unit_scale: u32) -> std::result::Result<i64, RowError> {
        let text = row.text(Self::QUANTITY);
        if text.is_empty() {
            return Err(row.error(Self::QUANTITY, "quantity is empty; give the quantity on hand (0 or more)"));
        }
        let counted = parse_scaled("quantity", text, unit_scale).map_err(|e| row.invalid(&e))?;
        if counted < 0 {
            let message =
                format!("quantity must be 0 or more for opening stock (got {text:?}); give the quantity on hand");
            return Err(row.error(Self::QUANTITY, message));
        }
        Ok(counted)
    }
}

impl RowSink for OpeningSink {
    const COLUMNS: &'static [Column] = &[required("sku"), required("location_code"), required("quantity")];

    fn row(&mut self, tx: &Connection, row: &Row<'_>, write: bool) -> RowResult<bool> {
        let (product_id, location_id, counted) = self.check(row)?;
        if !write {
            return Ok(false);
        }
        let mut draft = Draft::new(MovementKind::Count, product_id, location_id);
        (draft.counted_qty, draft.reason) = (Some(counted), Some(ReasonCode::Opening));
        let seq = self.stamp.next_seq;
        if let Err(e) = ledger::append(tx, &mut self.stamp, draft, PolicyCheck::Enforce) {
            // Nothing of the row was written (or the loop refuses the file): keep device_seq gapless.
            self.stamp.next_seq = seq;
            return Err(row.fault(None, e));
        }
        Ok(true)
    }

    fn finish(&mut self, tx: &Connection) -> Result<()> {
        self.stamp.finish(tx)
    }
}

const _: () = assert!(ProductSink::COLUMNS.len() <= MAX_COLUMNS);
const _: () = assert!(LocationSink::COLUMNS.len() <= MAX_COLUMNS);
const _: () = assert!(OpeningSink::COLUMNS.len() <= MAX_COLUMNS);
