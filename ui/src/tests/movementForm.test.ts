import { describe, expect, test } from 'vitest';
import { describeRecorded, intentFromForm, type FormFields } from '../lib/movementForm';
import { inTransit, product, SHOP, WH1 } from './backend';

const flour = product({ id: 'prod-2', sku: 'FLOUR', name: 'Flour', unit: 'kg', unit_scale: 2 });

function form(extra: Partial<FormFields>): FormFields {
  return {
    kind: 'receive',
    locationId: WH1.id,
    toLocationId: '',
    quantity: '',
    delta: '',
    reason: '',
    reference: '',
    note: '',
    movementId: '',
    ...extra,
  };
}

const transfer = inTransit({ product_id: flour.id });

describe('the movement form', () => {
  test.each([
    ['receive', { quantity: '0' }, 'The quantity must be more than zero'],
    ['receive', { quantity: '-3' }, 'Enter the quantity without a sign'],
    ['receive', { quantity: '1.234' }, 'At most 2 decimal places for this product'],
    ['receive', { quantity: '99999999999999999' }, 'That quantity is too large'],
    ['receive', { quantity: '5', locationId: '' }, 'Choose the location'],
    ['transfer', { quantity: '5' }, 'Choose the destination'],
    ['transfer', { quantity: '5', toLocationId: WH1.id }, 'The destination must differ from the source'],
    ['transfer', { quantity: '5', locationId: '' }, 'Choose the location it leaves from'],
    ['adjust', { delta: '0', reason: 'lost' }, 'An adjustment must change the level'],
    ['adjust', { delta: '-2' }, 'Choose a reason for the adjustment'],
    ['adjust', { delta: 'two' }, '"two" is not a number'],
  ] as const)('a %s with %o is refused: %s', (kind, fields, message) => {
    expect(intentFromForm(form({ kind, ...fields }), { product: flour })).toEqual({ ok: false, message });
  });

  test('a product kind without a product asks for one', () => {
    expect(intentFromForm(form({ quantity: '1' }), null)).toEqual({
      ok: false,
      message: 'Scan or type the product SKU or barcode',
    });
  });

  test('quantities become base units and empty texts become null', () => {
    const checked = intentFromForm(form({ kind: 'issue', quantity: '1,5', reference: '  ', note: ' broken ' }), {
      product: flour,
    });
    expect(checked).toEqual({
      ok: true,
      intent: {
        kind: 'issue',
        product_id: flour.id,
        location_id: WH1.id,
        quantity: 150,
        reason: 'sale',
        reference: null,
        note: 'broken',
      },
    });
  });

  test('a count of zero is a count, and an adjustment keeps its sign', () => {
    expect(intentFromForm(form({ kind: 'count', quantity: '0' }), { product: flour })).toMatchObject({
      ok: true,
      intent: { kind: 'count', counted_qty: 0 },
    });
    expect(intentFromForm(form({ kind: 'adjust', delta: '-0.5', reason: 'damaged' }), { product: flour })).toMatchObject({
      ok: true,
      intent: { kind: 'adjust', delta: -50, reason: 'damaged' },
    });
  });

  test('a receive-transfer takes all that was sent unless a quantity is typed', () => {
    const all = intentFromForm(form({ kind: 'receive_transfer' }), { transfer });
    expect(all).toEqual({ ok: true, intent: { kind: 'receive_transfer', transfer_id: 'tr-1', quantity: null, note: null } });
    const part = intentFromForm(form({ kind: 'receive_transfer', quantity: '2.5' }), { transfer });
    expect(part).toMatchObject({ ok: true, intent: { quantity: 250 } });
    expect(intentFromForm(form({ kind: 'receive_transfer' }), { transfer: null })).toEqual({
      ok: false,
      message: 'Choose the transfer that arrived',
    });
  });

  test('a void needs the movement id and a note', () => {
    expect(intentFromForm(form({ kind: 'void', note: 'wrong' }), null)).toEqual({
      ok: false,
      message: 'Enter the id of the movement to void',
    });
    expect(intentFromForm(form({ kind: 'void', movementId: 'mv-1' }), null)).toEqual({
      ok: false,
      message: 'A void needs a note saying why',
    });
    expect(intentFromForm(form({ kind: 'void', movementId: ' mv-1 ', note: 'typo' }), null)).toEqual({
      ok: true,
      intent: { kind: 'void', movement_id: 'mv-1', note: 'typo' },
    });
  });

  test('what was recorded is said in the product unit, with location codes', () => {
    const codes = (id: string) => (id === WH1.id ? 'WH1' : 'SHOP');
    const ctx = { product: flour, fallbackName: '?', locationCode: codes, transferTo: 'SHOP', countPreview: null };
    const dispatch = { kind: 'dispatch', product_id: flour.id, from: WH1.id, to: SHOP.id, quantity: 250, note: null } as const;
    expect(describeRecorded(dispatch, ctx)).toBe('Dispatched 2.50 kg of FLOUR — Flour from WH1 to SHOP: in transit');
    const count = { kind: 'count', product_id: flour.id, location_id: WH1.id, counted_qty: 900, note: null } as const;
    const preview = { on_hand: 1000, counted: 900, variance: -100 };
    expect(describeRecorded(count, { ...ctx, countPreview: preview })).toBe(
      'Counted 9.00 kg of FLOUR — Flour at WH1 (variance -1.00)',
    );
    const arrived = { kind: 'receive_transfer', transfer_id: 'tr-1', quantity: null, note: null } as const;
    expect(describeRecorded(arrived, { ...ctx, product: null, fallbackName: 'FLOUR' })).toBe(
      'Received transfer of FLOUR at SHOP',
    );
  });
});
