//! Catalog edits pushed by devices, once for every backend (DESIGN.md, "Catalog edits" and
//! "Catalog created twice offline"). The backend gives a transaction with a few small reads and
//! writes (`CatalogTx`); this module decides:
//!
//! - exactly once: edits carry the device's own gapless catalog `seq`; a replay returns the
//!   outcome stored under (device, seq), a gap refuses the batch, and every outcome is stored in
//!   the same transaction as what it did;
//! - per field, last writer wins by (hybrid logical clock, device id) (`smartstock_core::merge`);
//!   every value that lost is kept in the audit (field `<name>:lost`) and its device gets a
//!   notice it pulls;
//! - a creation whose SKU (or location code) the catalog already holds under another id becomes
//!   an alias of the kept row: its fields merge into the kept row, the merge is audited, and both
//!   the newcomer's device and the kept row's creator get a notice. The newcomer's device
//!   re-points its unsent movements to the kept row before pushing them, so every replica counts
//!   them toward the kept product (the outcome says so).
//!
//! Must not: run SQL (backends do) or decide HTTP matters.

use super::{Pusher, Result, Role, StorageError};
use smartstock_core::merge::{merge_entity, stamp_fields, CatalogFields, FieldStamp, Lost, Stamps};
use smartstock_core::wire::{
    CatalogEdit, CatalogEntity, CatalogNotice, CatalogOutcome, CatalogPushRequest, CatalogRow, CatalogStatus,
    NoticeKind, WIRE_VERSION,
};
use smartstock_core::{DeviceId, Timestamp, UserId, ValidationError};
use uuid::Uuid;

/// One audit row of the catalog.
#[derive(Clone, Debug)]
pub struct AuditRow {
    /// `product` or `location`.
    pub entity: CatalogEntity,
    /// The row.
    pub entity_id: Uuid,
    /// Field name; `created`, `alias`, or `<field>:lost` for a value that lost.
    pub field: String,
    /// Value before (for a lost value: the value that lost).
    pub old_value: Option<String>,
    /// Value after (for a lost value: the value kept).
    pub new_value: Option<String>,
    /// Who.
    pub user_id: UserId,
    /// Which device (none for an edit made on the server).
    pub device_id: Option<DeviceId>,
    /// When the server applied it.
    pub at: Timestamp,
}

/// A backend's reads and writes inside its one catalog-push transaction.
pub trait CatalogTx {
    /// Serializes catalog writers until the transaction ends (the backends take the feed lock).
    fn lock(&mut self) -> Result<()>;
    /// Owner and last acknowledged catalog seq of a device, if registered.
    fn device(&mut self, device: DeviceId) -> Result<Option<(UserId, i64)>>;
    /// Records the device's last acknowledged catalog seq.
    fn set_device_seq(&mut self, device: DeviceId, seq: i64) -> Result<()>;
    /// The outcome stored under (device, seq).
    fn stored_outcome(&mut self, device: DeviceId, seq: i64) -> Result<Option<CatalogOutcome>>;
    /// Stores an outcome under (device, seq).
    fn store_outcome(&mut self, device: DeviceId, outcome: &CatalogOutcome) -> Result<()>;
    /// A row by id, with its stamps.
    fn row(&mut self, entity: CatalogEntity, id: Uuid) -> Result<Option<(CatalogRow, Stamps)>>;
    /// The id holding a unique value (`sku`, `barcode` or `code`), if any.
    fn holder(&mut self, entity: CatalogEntity, field: &str, value: &str) -> Result<Option<Uuid>>;
    /// The kept row an alias id stands for.
    fn alias_of(&mut self, id: Uuid) -> Result<Option<Uuid>>;
    /// Records an alias.
    fn add_alias(&mut self, entity: CatalogEntity, alias: Uuid, canonical: Uuid, device: DeviceId) -> Result<()>;
    /// Inserts or updates a row and its stamps under a new feed number.
    fn save_row(&mut self, row: &CatalogRow, stamps: &Stamps) -> Result<()>;
    /// Appends to the catalog audit.
    fn audit(&mut self, row: &AuditRow) -> Result<()>;
    /// Stores a notice for `device` under a new feed number.
    fn notice(&mut self, device: DeviceId, notice: &CatalogNotice) -> Result<()>;
    /// The device that created a row (from the audit), if a device did.
    fn creator(&mut self, entity: CatalogEntity, id: Uuid) -> Result<Option<DeviceId>>;
    /// A user's login name and a device's name, for notices.
    fn names(&mut self, user: UserId, device: DeviceId) -> Result<(String, String)>;
}

/// Applies a catalog push inside the backend's transaction: one outcome per edit, in order.
pub fn push(
    tx: &mut dyn CatalogTx,
    pusher: &Pusher,
    request: &CatalogPushRequest,
    now: Timestamp,
) -> Result<Vec<CatalogOutcome>> {
    if request.v != WIRE_VERSION {
        return Err(ValidationError::new("v", format!("this server speaks wire version {WIRE_VERSION}")).into());
    }
    if !pusher.role.at_least(Role::Manager) {
        return Err(StorageError::Forbidden("only managers and admins may edit the catalog".into()));
    }
    tx.lock()?;
    let device = request.device_id;
    let acknowledged = match tx.device(device)? {
        None => return Err(StorageError::NotFound { what: "device", key: format!("{device} (register it first)") }),
        Some((owner, _)) if owner != pusher.user_id => {
            return Err(StorageError::Forbidden(format!("device {device} is registered to another user")))
        }
        Some((_, last)) => last,
    };
    let mut last = acknowledged;
    let mut outcomes = Vec::with_capacity(request.edits.len());
    for edit in &request.edits {
        if edit.seq <= acknowledged {
            let stored = tx.stored_outcome(device, edit.seq)?;
            outcomes.push(stored.ok_or(StorageError::CatalogGap { last_acknowledged: acknowledged })?);
            continue;
        }
        if edit.seq != last + 1 {
            return Err(StorageError::CatalogGap { last_acknowledged: acknowledged });
        }
        last = edit.seq;
        let stamp = FieldStamp { hlc: edit.hlc, device_id: device, user_id: pusher.user_id };
        let outcome = apply(tx, edit, stamp, now)?;
        tx.store_outcome(device, &outcome)?;
        outcomes.push(outcome);
    }
    if last > acknowledged {
        tx.set_device_seq(device, last)?;
    }
    Ok(outcomes)
}

/// Applies one edit made on the server itself (a manager's `PUT`): stamped with the server's
/// time and no device, merged by the same rule; a device whose value it overwrites is told.
pub fn save_on_server(tx: &mut dyn CatalogTx, actor: UserId, row: &CatalogRow, now: Timestamp) -> Result<()> {
    tx.lock()?;
    validate(row)?;
    let hlc = smartstock_core::Hlc { wall: now.millis(), counter: 0 };
    let stamp = FieldStamp { hlc, device_id: DeviceId(Uuid::nil()), user_id: actor };
    let id = tx.alias_of(row.id())?.unwrap_or(row.id());
    let fields = match tx.row(row.entity(), id)? {
        Some((current, _)) => changed(&current, row),
        None => all_fields(row),
    };
    let edit = CatalogEdit { seq: 0, hlc, created: false, fields, row: row.clone() };
    match apply(tx, &edit, stamp, now)?.status {
        CatalogStatus::Rejected { code, message } => {
            Err(StorageError::Conflict { code: if code == "duplicate" { "duplicate" } else { "conflict" }, message })
        }
        _ => Ok(()),
    }
}

fn validate(row: &CatalogRow) -> Result<(), ValidationError> {
    match row {
        CatalogRow::Product(p) => p.validate(),
        CatalogRow::Location(l) => l.validate(),
    }
}

fn fields_of(row: &CatalogRow) -> Vec<(&'static str, Option<String>)> {
    match row {
        CatalogRow::Product(p) => p.fields(),
        CatalogRow::Location(l) => l.fields(),
    }
}

fn all_fields(row: &CatalogRow) -> Vec<String> {
    fields_of(row).into_iter().map(|(f, _)| f.to_string()).collect()
}

fn changed(old: &CatalogRow, new: &CatalogRow) -> Vec<String> {
    fields_of(new).into_iter().zip(fields_of(old)).filter(|(a, b)| a != b).map(|((f, _), _)| f.to_string()).collect()
}

/// The unique fields of a row: (field, value).
fn uniques(row: &CatalogRow) -> Vec<(&'static str, String)> {
    match row {
        CatalogRow::Product(p) => {
            std::iter::once(("sku", p.sku.clone())).chain(p.barcode.clone().map(|b| ("barcode", b))).collect()
        }
        CatalogRow::Location(l) => vec![("code", l.code.clone())],
    }
}

fn rejected(seq: i64, code: &str, message: String, row: Option<(CatalogRow, Stamps)>) -> CatalogOutcome {
    let (row, stamps) = match row {
        Some((row, stamps)) => (Some(row), stamps),
        None => (None, Stamps::new()),
    };
    CatalogOutcome { seq, status: CatalogStatus::Rejected { code: code.into(), message }, row, stamps }
}

/// The code an alias row keeps on the device that made it, so the kept row can take the code.
pub fn alias_code(code: &str, alias: Uuid) -> String {
    let short: String = alias.simple().to_string().chars().take(8).collect();
    format!("{code}~{short}")
}

/// Decides one new edit.
fn apply(tx: &mut dyn CatalogTx, edit: &CatalogEdit, stamp: FieldStamp, now: Timestamp) -> Result<CatalogOutcome> {
    if let Err(invalid) = validate(&edit.row) {
        return Ok(rejected(edit.seq, "invalid", format!("{}: {}", invalid.field, invalid.rule), None));
    }
    let entity = edit.row.entity();
    let mut target = tx.alias_of(edit.row.id())?.unwrap_or(edit.row.id());
    let mut aliased = None;
    let mut current = tx.row(entity, target)?;
    if current.is_none() && edit.created {
        let code_field = if entity == CatalogEntity::Product { "sku" } else { "code" };
        if let Some(kept) = tx.holder(entity, code_field, edit.row.code())? {
            tx.add_alias(entity, edit.row.id(), kept, stamp.device_id)?;
            aliased = Some(kept);
            target = kept;
            current = tx.row(entity, kept)?;
        }
    }
    let incoming = retarget(&edit.row, target);
    let fields: Vec<&str> = edit.fields.iter().map(String::as_str).collect();
    let incoming_stamps = stamp_fields(fields, stamp);
    let (merged, stamps, lost) = match &current {
        None => (incoming.clone(), incoming_stamps, Vec::new()),
        Some((row, stamps)) => match merge_rows((row, stamps), (&incoming, &incoming_stamps)) {
            Ok(merged) => merged,
            Err(invalid) => return Ok(rejected(edit.seq, "invalid", invalid.to_string(), current.clone())),
        },
    };
    for (field, value) in uniques(&merged) {
        if tx.holder(entity, field, &value)?.is_some_and(|holder| holder != target) {
            let message =
                format!("the {field} {value:?} is already used by another {}; choose another", entity.as_str());
            return Ok(rejected(edit.seq, "duplicate", message, current.clone()));
        }
    }
    let changed_row = current.as_ref().is_none_or(|(row, s)| *row != merged || *s != stamps);
    if changed_row {
        tx.save_row(&merged, &stamps)?;
    }
    audit_edit(tx, current.as_ref().map(|(r, _)| r), &merged, stamp, now)?;
    let code = merged.code().to_string();
    for loss in &lost {
        // An overwritten stored value is in the change's audit row already (its old value).
        if loss.lost.stamp == stamp {
            audit_loss(tx, entity, target, loss, now)?;
        }
        tell_loser(tx, entity, target, &code, loss, now)?;
    }
    let status = match aliased {
        Some(kept) => {
            tell_merge(tx, entity, kept, &code, edit.row.id(), stamp, now)?;
            CatalogStatus::Aliased { canonical_id: kept, alias_code: alias_code(edit.row.code(), edit.row.id()) }
        }
        None => CatalogStatus::Merged {
            lost: lost.iter().filter(|l| l.lost.stamp == stamp).map(|l| l.field.clone()).collect(),
        },
    };
    Ok(CatalogOutcome { seq: edit.seq, status, row: Some(merged), stamps })
}

fn merge_rows(
    current: (&CatalogRow, &Stamps),
    incoming: (&CatalogRow, &Stamps),
) -> Result<(CatalogRow, Stamps, Vec<Lost>), ValidationError> {
    match (current.0, incoming.0) {
        (CatalogRow::Product(a), CatalogRow::Product(b)) => {
            merge_entity((a, current.1), (b, incoming.1)).map(|(p, s, l)| (CatalogRow::Product(p), s, l))
        }
        (CatalogRow::Location(a), CatalogRow::Location(b)) => {
            merge_entity((a, current.1), (b, incoming.1)).map(|(p, s, l)| (CatalogRow::Location(p), s, l))
        }
        _ => Err(ValidationError::new("entity", "an edit must name the same kind of row")),
    }
}

/// The row with another id (an edit of an alias lands on the kept row).
fn retarget(row: &CatalogRow, id: Uuid) -> CatalogRow {
    match row {
        CatalogRow::Product(p) => {
            CatalogRow::Product(smartstock_core::Product { id: smartstock_core::ProductId(id), ..p.clone() })
        }
        CatalogRow::Location(l) => {
            CatalogRow::Location(smartstock_core::Location { id: smartstock_core::LocationId(id), ..l.clone() })
        }
    }
}

fn audit_edit(
    tx: &mut dyn CatalogTx,
    before: Option<&CatalogRow>,
    after: &CatalogRow,
    stamp: FieldStamp,
    now: Timestamp,
) -> Result<()> {
    let base = AuditRow {
        entity: after.entity(),
        entity_id: after.id(),
        field: String::new(),
        old_value: None,
        new_value: None,
        user_id: stamp.user_id,
        device_id: stamp.from_device().then_some(stamp.device_id),
        at: now,
    };
    let Some(before) = before else {
        let fields: serde_json::Map<String, serde_json::Value> =
            fields_of(after).into_iter().map(|(f, v)| (f.to_string(), v.into())).collect();
        let new_value = Some(serde_json::Value::Object(fields).to_string());
        return tx.audit(&AuditRow { field: "created".into(), new_value, ..base });
    };
    for ((field, new), (_, old)) in fields_of(after).into_iter().zip(fields_of(before)) {
        if new != old {
            tx.audit(&AuditRow { field: field.into(), old_value: old, new_value: new, ..base.clone() })?;
        }
    }
    Ok(())
}

fn audit_loss(tx: &mut dyn CatalogTx, entity: CatalogEntity, id: Uuid, loss: &Lost, now: Timestamp) -> Result<()> {
    let stamp = loss.lost.stamp;
    tx.audit(&AuditRow {
        entity,
        entity_id: id,
        field: format!("{}:lost", loss.field),
        old_value: loss.lost.value.clone(),
        new_value: loss.kept.value.clone(),
        user_id: stamp.user_id,
        device_id: stamp.from_device().then_some(stamp.device_id),
        at: now,
    })
}

fn shown(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "(empty)".into())
}

fn tell_loser(
    tx: &mut dyn CatalogTx,
    entity: CatalogEntity,
    id: Uuid,
    code: &str,
    loss: &Lost,
    now: Timestamp,
) -> Result<()> {
    if !loss.lost.stamp.from_device() {
        return Ok(());
    }
    let winner = loss.kept.stamp;
    let (user, device) = tx.names(winner.user_id, winner.device_id)?;
    let message =
        format!("your edit of {} of {code} lost to {user} on {device}: kept {}", loss.field, shown(&loss.kept.value));
    let notice = CatalogNotice {
        id: Uuid::now_v7(),
        kind: NoticeKind::EditLost,
        entity,
        entity_id: id,
        code: code.to_string(),
        field: loss.field.clone(),
        lost_value: loss.lost.value.clone(),
        kept_value: loss.kept.value.clone(),
        message,
        at: now,
    };
    tx.notice(loss.lost.stamp.device_id, &notice)
}

fn tell_merge(
    tx: &mut dyn CatalogTx,
    entity: CatalogEntity,
    kept: Uuid,
    code: &str,
    alias: Uuid,
    stamp: FieldStamp,
    now: Timestamp,
) -> Result<()> {
    let what = entity.as_str();
    let (user, device) = tx.names(stamp.user_id, stamp.device_id)?;
    let notice = |message: String| CatalogNotice {
        id: Uuid::now_v7(),
        kind: NoticeKind::Merged,
        entity,
        entity_id: kept,
        code: code.to_string(),
        field: "created".into(),
        lost_value: Some(alias.to_string()),
        kept_value: Some(kept.to_string()),
        message,
        at: now,
    };
    tx.notice(
        stamp.device_id,
        &notice(format!(
            "your new {what} {code} was also created on another device: merged into the existing one; \
             its stock counts there"
        )),
    )?;
    if let Some(creator) = tx.creator(entity, kept)?.filter(|c| *c != stamp.device_id) {
        tx.notice(
            creator,
            &notice(format!("the {what} {code} was also created by {user} on {device}: merged into yours")),
        )?;
    }
    tx.audit(&AuditRow {
        entity,
        entity_id: kept,
        field: "alias".into(),
        old_value: Some(alias.to_string()),
        new_value: Some(kept.to_string()),
        user_id: stamp.user_id,
        device_id: Some(stamp.device_id),
        at: now,
    })?;
    Ok(())
}

/// Parses stored stamps (JSON text); a corrupt value is a database error.
pub fn stamps_from_json(text: &str) -> Result<Stamps> {
    serde_json::from_str(text).map_err(|e| StorageError::Database(format!("stored field stamps: {e}")))
}

/// Stamps as stored.
pub fn stamps_to_json(stamps: &Stamps) -> String {
    serde_json::to_string(stamps).unwrap_or_else(|_| "{}".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_code_keeps_the_code_and_names_the_alias() {
        let id = Uuid::from_u128(0x0190_c1f2_7a3b_7c4d_8e5f_0123_4567_89ab);
        assert_eq!(alias_code("SKU-1", id), "SKU-1~0190c1f2");
    }
}
