// The Record screen's form as plain data: checking what was typed into the movement intent the
// store records, and wording what was recorded for the person at the scanner. No I/O and no
// Svelte here: the screen resolves the product (or the transfer's unit) first and hands it in.

import type { CountPreview } from './bindings/CountPreview';
import type { InTransit } from './bindings/InTransit';
import type { LocationId } from './bindings/LocationId';
import type { MovementIntent } from './bindings/MovementIntent';
import type { Product } from './bindings/Product';
import type { ReasonCode } from './bindings/ReasonCode';
import { formatDelta, formatQtyUnit, humanize, parseQty } from './format';
import type { RecordKind } from './state.svelte';

/** What the person typed or chose, as the form holds it. */
export interface FormFields {
  kind: RecordKind;
  locationId: LocationId | '';
  toLocationId: LocationId | '';
  quantity: string;
  delta: string;
  reason: ReasonCode | '';
  reference: string;
  note: string;
  movementId: string;
}

/** What the form moves, resolved by the screen: the product, or the transfer that arrived. */
export type FormSubject = { product: Product } | { transfer: InTransit | null } | null;

export type FormCheck = { ok: true; intent: MovementIntent } | { ok: false; message: string };

const refuse = (message: string): FormCheck => ({ ok: false, message });
const optional = (s: string) => (s.trim() === '' ? null : s.trim());

/** True when the kind names a product and location in the form (all but receive-transfer and void). */
export function kindNeedsProduct(kind: RecordKind): boolean {
  return kind !== 'receive_transfer' && kind !== 'void';
}

/** True when the kind moves stock between two locations chosen in the form. */
export function kindHasDestination(kind: RecordKind): boolean {
  return kind === 'transfer' || kind === 'dispatch';
}

/** The intent the form describes, or the reason it cannot be recorded, in words for the form. */
export function intentFromForm(form: FormFields, subject: FormSubject): FormCheck {
  if (form.kind === 'void') return voidIntent(form);
  if (form.kind === 'receive_transfer') {
    return receiveTransferIntent(form, subject && 'transfer' in subject ? subject.transfer : null);
  }
  if (!subject || !('product' in subject)) return refuse('Scan or type the product SKU or barcode');
  return productIntent(form, subject.product);
}

function voidIntent(form: FormFields): FormCheck {
  if (!form.movementId.trim()) return refuse('Enter the id of the movement to void');
  if (!form.note.trim()) return refuse('A void needs a note saying why');
  return { ok: true, intent: { kind: 'void', movement_id: form.movementId.trim(), note: form.note.trim() } };
}

function receiveTransferIntent(form: FormFields, transfer: InTransit | null): FormCheck {
  if (!transfer) return refuse('Choose the transfer that arrived');
  let quantity: number | null = null;
  if (form.quantity.trim() !== '') {
    const parsed = parseQty(form.quantity, transfer.unit_scale, false);
    if (!parsed.ok) return refuse(parsed.message);
    if (parsed.value <= 0) return refuse('The quantity must be more than zero');
    quantity = parsed.value;
  }
  return {
    ok: true,
    intent: { kind: 'receive_transfer', transfer_id: transfer.transfer_id, quantity, note: optional(form.note) },
  };
}

function productIntent(form: FormFields, product: Product): FormCheck {
  const { kind, locationId, toLocationId } = form;
  const hasTo = kindHasDestination(kind);
  if (!locationId) return refuse(hasTo ? 'Choose the location it leaves from' : 'Choose the location');
  if (hasTo) {
    if (!toLocationId) return refuse('Choose the destination');
    if (toLocationId === locationId) return refuse('The destination must differ from the source');
  }
  const product_id = product.id;
  const scale = product.unit_scale;
  const note = optional(form.note);
  if (kind === 'adjust') {
    const delta = parseQty(form.delta, scale, true);
    if (!delta.ok) return refuse(delta.message);
    if (delta.value === 0) return refuse('An adjustment must change the level');
    if (!form.reason) return refuse('Choose a reason for the adjustment');
    return { ok: true, intent: { kind, product_id, location_id: locationId, delta: delta.value, reason: form.reason, note } };
  }
  const q = parseQty(form.quantity, scale, false);
  if (!q.ok) return refuse(q.message);
  if (kind === 'count') {
    return { ok: true, intent: { kind, product_id, location_id: locationId, counted_qty: q.value, note } };
  }
  if (q.value <= 0) return refuse('The quantity must be more than zero');
  const quantity = q.value;
  const reference = optional(form.reference);
  switch (kind) {
    case 'receive':
      return { ok: true, intent: { kind, product_id, location_id: locationId, quantity, reference, note } };
    case 'issue': {
      const reason = form.reason === '' ? 'sale' : form.reason;
      return { ok: true, intent: { kind, product_id, location_id: locationId, quantity, reason, reference, note } };
    }
    case 'transfer':
    case 'dispatch':
      return { ok: true, intent: { kind, product_id, from: locationId, to: toLocationId, quantity, note } };
    default:
      return refuse(`A ${humanize(kind)} is not recorded from this form`);
  }
}

/** What a recorded movement is worded with: its product, where the locations are, the count's variance. */
export interface RecordedContext {
  product: Product | null;
  /** Shown when the product is unknown (a receive-transfer names only the SKU). */
  fallbackName: string;
  locationCode: (id: LocationId) => string;
  /** The destination's code, for a receive-transfer. */
  transferTo: string;
  countPreview: CountPreview | null;
}

/** One sentence saying what was recorded: `Received 5 kg of SKU — Name at MAIN`. */
export function describeRecorded(intent: MovementIntent, ctx: RecordedContext): string {
  const p = ctx.product;
  const name = p ? `${p.sku} — ${p.name}` : ctx.fallbackName;
  const scale = p?.unit_scale ?? 0;
  const qty = (n: number) => formatQtyUnit(n, scale, p?.unit ?? '');
  const at = ctx.locationCode;
  switch (intent.kind) {
    case 'receive':
      return `Received ${qty(intent.quantity)} of ${name} at ${at(intent.location_id)}`;
    case 'issue':
      return `Issued ${qty(intent.quantity)} of ${name} from ${at(intent.location_id)} (${humanize(intent.reason ?? 'sale')})`;
    case 'adjust':
      return `Adjusted ${name} at ${at(intent.location_id)} by ${formatDelta(intent.delta, scale)} (${humanize(intent.reason)})`;
    case 'transfer':
      return `Transferred ${qty(intent.quantity)} of ${name} from ${at(intent.from)} to ${at(intent.to)}`;
    case 'dispatch':
      return `Dispatched ${qty(intent.quantity)} of ${name} from ${at(intent.from)} to ${at(intent.to)}: in transit`;
    case 'receive_transfer':
      return `Received transfer of ${name} at ${ctx.transferTo}`;
    case 'count': {
      const variance = ctx.countPreview ? ` (variance ${formatDelta(ctx.countPreview.variance, scale)})` : '';
      return `Counted ${qty(intent.counted_qty)} of ${name} at ${at(intent.location_id)}${variance}`;
    }
    case 'void':
      return `Voided movement ${intent.movement_id}`;
  }
}
