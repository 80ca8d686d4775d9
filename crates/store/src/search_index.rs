//! The catalog's searchable text in memory, for the stock table's search as you type. SQLite
//! would answer a search by testing every product's SKU and name with LIKE, or read and
//! intersect the posting lists of a name index at every keystroke. Here the same test runs over
//! a case-folded copy of the SKUs and names in SKU order (a few MB for 100k products), and hands
//! the stock queries the rowids of the products that match, in SKU order, as many as they need.
//!
//! Owns: the folded copy, and knowing when it is stale: the writer connection's update hook
//! marks a write that touched `products`, and the generation moves on when that write's
//! connection guard is released (after its commit or rollback), so a copy read from a snapshot
//! older than a change is never taken as current.
//!
//! Must not: match differently from the SQL test of `queries` (SKU starting with the text, barcode
//! equal to it, name containing it; ASCII letters in any case, other characters exactly). The
//! barcode is looked up in SQL (its unique index) by the caller.

use crate::error::Result;
use memchr::memmem;
use rusqlite::hooks::Action;
use rusqlite::Connection;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Tells readers that the products table changed: the writer's update hook sets `touched`
/// during a write; [`CatalogChanges::write_ended`] turns it into a new generation once the write
/// is over (committed or rolled back).
#[derive(Debug, Default)]
pub(crate) struct CatalogChanges {
    touched: AtomicBool,
    generation: AtomicU64,
}

impl CatalogChanges {
    /// Watches `writer` for changes to `products`.
    pub(crate) fn watch(self: &Arc<Self>, writer: &Connection) -> Result<()> {
        let changes = Arc::clone(self);
        writer.update_hook(Some(move |_: Action, _db: &str, table: &str, _rowid: i64| {
            if table == "products" {
                changes.touched.store(true, Ordering::Release);
            }
        }))?;
        Ok(())
    }

    /// Called when the writer connection is released: a write that touched products is over.
    pub(crate) fn write_ended(&self) {
        if self.touched.swap(false, Ordering::AcqRel) {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The current generation (read before reading the products it describes).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

/// Which way to walk the catalog's SKU order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SkuOrder {
    Ascending,
    Descending,
}

/// The products a search matches, in SKU order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Matches {
    /// Rowids of the matching products, at most the number asked for.
    pub rowids: Vec<i64>,
    /// Whether these are all the matching products.
    pub complete: bool,
}

/// The folded catalog: for product `i` in SKU order (binary, as the `products_search` index),
/// its SKU is `folded[starts[i]..name_starts[i]]` and its name `folded[name_starts[i]..starts[i + 1]]`.
#[derive(Debug, Default)]
pub(crate) struct SearchIndex {
    /// The catalog generation it was read at.
    generation: u64,
    rowids: Vec<i64>,
    archived: Vec<bool>,
    starts: Vec<u32>,
    name_starts: Vec<u32>,
    folded: Vec<u8>,
}

impl SearchIndex {
    /// Reads the catalog (through the narrow `products_search` index) at `generation`.
    pub(crate) fn read(conn: &Connection, generation: u64) -> Result<SearchIndex> {
        let mut index = SearchIndex { generation, ..SearchIndex::default() };
        let mut stmt = conn.prepare_cached(
            "SELECT rowid, sku, name, archived FROM products INDEXED BY products_search ORDER BY sku",
        )?;
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next()? {
            index.push(row)?;
        }
        index.starts.push(index.folded.len() as u32);
        index.folded.shrink_to_fit();
        Ok(index)
    }

    /// Adds one product (the next in SKU order).
    fn push(&mut self, row: &rusqlite::Row<'_>) -> rusqlite::Result<()> {
        self.rowids.push(row.get(0)?);
        self.starts.push(self.folded.len() as u32);
        self.folded.extend(row.get_ref(1)?.as_str()?.bytes().map(|b| b.to_ascii_lowercase()));
        self.name_starts.push(self.folded.len() as u32);
        self.folded.extend(row.get_ref(2)?.as_str()?.bytes().map(|b| b.to_ascii_lowercase()));
        self.archived.push(row.get::<_, bool>(3)?);
        Ok(())
    }

    /// Whether it describes the catalog at `generation`.
    pub(crate) fn is_current(&self, generation: u64) -> bool {
        self.generation == generation
    }

    /// The first `want` products (in `order`) that `text` matches: SKU starting with it, name
    /// containing it (ignoring ASCII case), or the product whose barcode equals it
    /// (`barcode_rowid`); archived ones only with `include_archived`.
    pub(crate) fn matches(
        &self,
        text: &str,
        barcode_rowid: Option<i64>,
        include_archived: bool,
        order: SkuOrder,
        want: usize,
    ) -> Matches {
        let needle: Vec<u8> = text.bytes().map(|b| b.to_ascii_lowercase()).collect();
        let finder = memmem::Finder::new(&needle);
        let is_match = |i: usize| {
            let (start, name_start, end) =
                (self.starts[i] as usize, self.name_starts[i] as usize, self.starts[i + 1] as usize);
            (include_archived || !self.archived[i])
                && (self.folded[start..name_start].starts_with(&needle)
                    || barcode_rowid == Some(self.rowids[i])
                    || finder.find(&self.folded[name_start..end]).is_some())
        };
        match order {
            SkuOrder::Ascending => self.first_matching(0..self.rowids.len(), is_match, want),
            SkuOrder::Descending => self.first_matching((0..self.rowids.len()).rev(), is_match, want),
        }
    }

    /// The rowids of the first `want` products of `walk` that `is_match`.
    fn first_matching(
        &self,
        walk: impl Iterator<Item = usize>,
        is_match: impl Fn(usize) -> bool,
        want: usize,
    ) -> Matches {
        let mut rowids = Vec::new();
        for i in walk.filter(|&i| is_match(i)) {
            if rowids.len() == want {
                return Matches { rowids, complete: false };
            }
            rowids.push(self.rowids[i]);
        }
        Matches { rowids, complete: true }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE products (sku TEXT NOT NULL, name TEXT NOT NULL, barcode TEXT, archived INTEGER NOT NULL);
             CREATE INDEX products_search ON products (sku, name, barcode, archived);
             INSERT INTO products VALUES ('TL-2', 'Torx driver', '77', 0), ('AB-1', 'Flat washer', NULL, 0),
               ('hw-9', 'Élan strap', '4000000000017', 0), ('TL-1', 'Old drill', NULL, 1), ('CB-5', 'Cable tie', 'x', 0);",
        )
        .unwrap();
        conn
    }

    fn barcode_rowid(conn: &Connection, text: &str) -> Option<i64> {
        conn.query_row("SELECT rowid FROM products WHERE barcode = ?1", [text], |r| r.get(0)).ok()
    }

    fn skus(conn: &Connection, m: &Matches) -> Vec<String> {
        m.rowids
            .iter()
            .map(|r| conn.query_row("SELECT sku FROM products WHERE rowid = ?1", [r], |row| row.get(0)).unwrap())
            .collect()
    }

    #[test]
    fn matches_what_the_sql_like_matches_in_sku_order() {
        let conn = catalog();
        let index = SearchIndex::read(&conn, 0).unwrap();
        let texts = [
            ("t", false),
            ("T", true),
            ("tl", true),
            ("tl-", true),
            ("ÉL", false),
            ("él", false),
            ("É", false),
            ("7", false),
            ("77", false),
            ("x", false),
            ("X", false),
            ("zz", false),
            ("%", false),
            ("4000000000017", false),
            ("cable TIE", false),
            ("drill", false),
        ];
        for (text, archived) in texts {
            let found = index.matches(text, barcode_rowid(&conn, text), archived, SkuOrder::Ascending, 100);
            assert!(found.complete);
            let expected: Vec<String> = conn
                .prepare(
                    "SELECT sku FROM products WHERE (?2 OR archived = 0) AND (sku LIKE ?1 || '%' ESCAPE '\\' \
                     OR barcode = ?1 OR name LIKE '%' || ?1 || '%' ESCAPE '\\') ORDER BY sku",
                )
                .unwrap()
                .query_map(rusqlite::params![text.replace('%', "\\%"), archived], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert_eq!(skus(&conn, &found), expected, "search {text:?}, archived {archived}");
        }
    }

    #[test]
    fn stops_at_the_number_asked_for_in_either_order() {
        let conn = catalog();
        let index = SearchIndex::read(&conn, 0).unwrap();
        let first = index.matches("r", None, true, SkuOrder::Ascending, 2);
        assert_eq!((skus(&conn, &first), first.complete), (vec!["AB-1".to_owned(), "TL-1".to_owned()], false));
        let last = index.matches("r", None, true, SkuOrder::Descending, 2);
        assert_eq!((skus(&conn, &last), last.complete), (vec!["hw-9".to_owned(), "TL-2".to_owned()], false));
        let all = index.matches("r", None, true, SkuOrder::Ascending, 4);
        assert_eq!((all.rowids.len(), all.complete), (4, true));
    }

    #[test]
    fn a_write_touching_products_moves_the_generation_on_only_when_it_ends() {
        let conn = catalog();
        let changes = Arc::new(CatalogChanges::default());
        changes.watch(&conn).unwrap();
        conn.execute("CREATE TABLE other (x INTEGER)", []).unwrap();
        conn.execute("INSERT INTO other VALUES (1)", []).unwrap();
        changes.write_ended();
        assert_eq!(changes.generation(), 0, "a write to another table");
        conn.execute("UPDATE products SET name = 'Hex key' WHERE sku = 'AB-1'", []).unwrap();
        assert_eq!(changes.generation(), 0, "not while the write is under way");
        changes.write_ended();
        assert_eq!(changes.generation(), 1);
        changes.write_ended();
        assert_eq!(changes.generation(), 1, "one change, one generation");
    }
}
