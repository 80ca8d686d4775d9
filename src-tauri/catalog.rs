//! Catalog edits made on this desktop: creating and editing products and locations (roles with
//! `edit_catalog`: managers and admins), and the catalog notices of the inbox (an edit of this
//! desktop that lost to a later one, a product or location created twice and merged).
//!
//! The store validates, audits, stamps and queues each edit in one transaction; the sync engine
//! sends it (kicked here so it leaves at once when online). Offline-only desktops keep the edit
//! locally, like every other write. The commands in `commands` delegate here.
//!
//! Must not: hold a catalog rule (the core validates, the store and the server merge).

use crate::error::AppResult;
use crate::ipc::{NewLocation, NewProduct};
use crate::state::App;
use smartstock_core::ids::NewRandom;
use smartstock_core::wire::CatalogNotice;
use smartstock_core::{Location, LocationId, Permission, Product, ProductId};
use smartstock_store::Actor;
use uuid::Uuid;

/// What the role check names when it refuses.
const EDITING: &str = "editing the catalog";

fn editor(app: &App) -> AppResult<Actor> {
    app.require(Permission::EditCatalog, EDITING)
}

/// Adds a product under a fresh id; returns it as stored.
pub fn create_product(app: &App, new: NewProduct) -> AppResult<Product> {
    let actor = editor(app)?;
    let product = new.with_id(ProductId::new_random());
    app.store().create_product(actor, &product)?;
    app.kick();
    Ok(app.store().product(product.id)?)
}

/// Saves a product's fields; returns it as stored.
pub fn update_product(app: &App, product: Product) -> AppResult<Product> {
    let actor = editor(app)?;
    app.store().update_product(actor, &product)?;
    app.kick();
    Ok(app.store().product(product.id)?)
}

/// Adds a location under a fresh id; returns it as stored.
pub fn create_location(app: &App, new: NewLocation) -> AppResult<Location> {
    let actor = editor(app)?;
    let location = new.with_id(LocationId::new_random());
    app.store().create_location(actor, &location)?;
    app.kick();
    Ok(app.store().location(location.id)?)
}

/// Saves a location's fields; returns it as stored.
pub fn update_location(app: &App, location: Location) -> AppResult<Location> {
    let actor = editor(app)?;
    app.store().update_location(actor, &location)?;
    app.kick();
    Ok(app.store().location(location.id)?)
}

/// The notices not dismissed yet, newest first.
pub fn notices(app: &App) -> AppResult<Vec<CatalogNotice>> {
    app.require_session()?;
    Ok(app.store().catalog_notices()?)
}

/// Hides a notice from the inbox (any signed-in user: it only tells this desktop something).
pub fn dismiss_notice(app: &App, notice_id: Uuid) -> AppResult<()> {
    app.require_session()?;
    app.store().dismiss_catalog_notice(notice_id)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::SessionInfo;
    use smartstock_core::wire::{CatalogOutcome, CatalogStatus, NoticeKind};
    use smartstock_core::{LocationKind, Role, UserId};
    use std::sync::Arc;

    fn open(dir: &tempfile::TempDir) -> Arc<App> {
        App::open(dir.path(), Arc::new(|_, _| {})).unwrap()
    }

    fn signed_in(app: &App, role: Role) {
        app.set_session(Some(SessionInfo {
            server_url: Some("https://stock.test:8443".into()),
            username: role.as_str().into(),
            user_id: UserId::new_random(),
            role,
            permissions: role.permissions(),
            must_change_password: false,
            offline_only: false,
        }));
    }

    fn bolt() -> NewProduct {
        NewProduct {
            sku: "BOLT-10".into(),
            name: "Hex bolt M10".into(),
            barcode: None,
            unit: "pcs".into(),
            unit_scale: 0,
            reorder_point: 5,
            reorder_qty: 50,
            cost_minor: 12,
            price_minor: 30,
            negative_stock: None,
        }
    }

    fn shelf() -> NewLocation {
        NewLocation { code: "WH9".into(), name: "Overflow".into(), kind: LocationKind::Warehouse, parent_id: None }
    }

    #[test]
    fn clerks_and_viewers_are_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let app = open(&dir);
        for role in [Role::Clerk, Role::Viewer] {
            signed_in(&app, role);
            let refused = create_product(&app, bolt()).unwrap_err();
            assert_eq!(refused.code, "forbidden");
            assert!(refused.message.contains("editing the catalog"), "{}", refused.message);
            assert_eq!(create_location(&app, shelf()).unwrap_err().code, "forbidden");
        }
        assert_eq!(app.store().product_by_code("BOLT-10").unwrap_err().code(), "not_found");
        assert!(app.store().locations().unwrap().is_empty());
        assert_eq!(app.store().pending_catalog_count().unwrap(), 0);

        signed_in(&app, Role::Manager);
        let product = create_product(&app, bolt()).unwrap();
        signed_in(&app, Role::Clerk);
        let edit = Product { price_minor: 1, ..product.clone() };
        assert_eq!(update_product(&app, edit).unwrap_err().code, "forbidden");
        assert_eq!(app.store().product(product.id).unwrap().price_minor, 30);
    }

    #[test]
    fn signed_out_desktops_are_asked_to_sign_in() {
        let dir = tempfile::tempdir().unwrap();
        let app = open(&dir);
        assert_eq!(create_product(&app, bolt()).unwrap_err().code, "not_signed_in");
        assert_eq!(notices(&app).unwrap_err().code, "not_signed_in");
    }

    #[test]
    fn a_manager_creates_and_edits_and_each_edit_waits_for_the_server() {
        let dir = tempfile::tempdir().unwrap();
        let app = open(&dir);
        signed_in(&app, Role::Manager);
        let product = create_product(&app, bolt()).unwrap();
        assert_eq!(product.sku, "BOLT-10");
        let edited = update_product(&app, Product { price_minor: 45, archived: true, ..product.clone() }).unwrap();
        assert_eq!((edited.price_minor, edited.archived), (45, true));
        let location = create_location(&app, shelf()).unwrap();
        let renamed = update_location(&app, Location { name: "Overflow hall".into(), ..location }).unwrap();
        assert_eq!(renamed.name, "Overflow hall");
        assert_eq!(app.store().pending_catalog_count().unwrap(), 4);
        let audit = app.store().catalog_audit(Some(product.id.0), 10, 0).unwrap();
        assert!(audit.iter().any(|c| c.field == "price" && c.new_value.as_deref() == Some("45")));
    }

    #[test]
    fn the_offline_only_admin_edits_the_catalog_locally() {
        let dir = tempfile::tempdir().unwrap();
        let app = open(&dir);
        app.work_offline().unwrap();
        let product = create_product(&app, bolt()).unwrap();
        assert_eq!(app.store().product_by_code("BOLT-10").unwrap(), product);
    }

    #[test]
    fn bad_input_names_the_field_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let app = open(&dir);
        signed_in(&app, Role::Admin);
        let invalid = create_product(&app, NewProduct { sku: String::new(), ..bolt() }).unwrap_err();
        assert_eq!((invalid.code.as_str(), invalid.field.as_deref()), ("invalid", Some("sku")));
        let negative = create_product(&app, NewProduct { price_minor: -1, ..bolt() }).unwrap_err();
        assert_eq!(negative.field.as_deref(), Some("price"), "{}", negative.message);
        create_product(&app, bolt()).unwrap();
        let taken = create_product(&app, NewProduct { name: "Another".into(), ..bolt() }).unwrap_err();
        assert_eq!((taken.code.as_str(), taken.field.as_deref()), ("duplicate", Some("sku")));
        assert!(taken.message.contains("choose another sku"), "{}", taken.message);
        let unknown = bolt().with_id(ProductId::new_random());
        assert_eq!(update_product(&app, unknown).unwrap_err().code, "not_found");
    }

    #[test]
    fn notices_are_listed_and_dismissed_once() {
        let dir = tempfile::tempdir().unwrap();
        let app = open(&dir);
        signed_in(&app, Role::Manager);
        create_product(&app, bolt()).unwrap();
        let refused = CatalogOutcome {
            seq: app.store().pending_catalog_edits(1).unwrap()[0].seq,
            status: CatalogStatus::Rejected { code: "forbidden".into(), message: "ask a manager".into() },
            row: None,
            stamps: Default::default(),
        };
        app.store().acknowledge_catalog(&[refused]).unwrap();
        signed_in(&app, Role::Viewer);
        let listed = notices(&app).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].kind, listed[0].code.as_str()), (NoticeKind::Rejected, "BOLT-10"));
        dismiss_notice(&app, listed[0].id).unwrap();
        assert!(notices(&app).unwrap().is_empty());
        assert_eq!(dismiss_notice(&app, listed[0].id).unwrap_err().code, "not_found");
    }
}
