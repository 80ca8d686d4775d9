import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, test } from 'vitest';
import type { MovementIntent } from '../lib/bindings/MovementIntent';
import type { Role } from '../lib/bindings/Role';
import { app } from '../lib/state.svelte';
import RecordScreen from '../screens/Record.svelte';
import { backend, fail, inTransit, movement, product, session, SHOP, stockRow, WH1, type Args } from './backend';

const bolt = product();
const flour = product({ id: 'prod-2', sku: 'FLOUR', name: 'Flour', barcode: '123', unit: 'kg', unit_scale: 2 });

function setup(role: Role, record: (intent: MovementIntent) => unknown, extra: Record<string, (a: Args) => unknown> = {}) {
  app.session = session(role);
  app.locations = [WH1, SHOP];
  return backend({
    find_product: (a) => {
      const found = [bolt, flour].find((p) => p.sku === a.code || p.barcode === a.code);
      return found ?? fail('not_found', `no product with SKU or barcode ${String(a.code)}`);
    },
    product_detail: (a) => ({
      product: a.productId === flour.id ? flour : bolt,
      levels: [stockRow(1, { product_id: String(a.productId), location_id: WH1.id, location_code: 'WH1', on_hand: 10 })],
    }),
    count_preview: (a) => ({ on_hand: 10, counted: a.counted, variance: Number(a.counted) - 10 }),
    record_movement: (a) => record(a.intent as MovementIntent),
    alerts: () => [],
    ...extra,
  });
}

async function scan(user: ReturnType<typeof userEvent.setup>, code: string) {
  const input = document.getElementById('product') as HTMLInputElement;
  await user.click(input);
  await user.keyboard(`${code}{Enter}`);
}

beforeEach(() => {
  app.reset();
});

describe('record movement', () => {
  test('a count shows its variance before it is confirmed, then records', async () => {
    const user = userEvent.setup();
    const api = setup('manager', (intent) => {
      expect(intent).toEqual({ kind: 'count', product_id: bolt.id, location_id: WH1.id, counted_qty: 7, note: null });
      return { movements: [movement({ kind: 'count', delta: null, counted_qty: 7, qty_before: 10, qty_after: 7 })] };
    });
    render(RecordScreen);
    await user.click(screen.getByTestId('kind-count'));
    await scan(user, bolt.barcode!);
    expect(await screen.findByTestId('product-name')).toHaveProperty('textContent', expect.stringContaining('Hex bolt M10'));
    await user.selectOptions(document.getElementById('location')!, WH1.id);
    expect((await screen.findByTestId('current-level')).textContent).toBe('10');

    await user.type(document.getElementById('quantity')!, '7');
    await user.click(screen.getByTestId('record-submit'));

    const variance = await screen.findByTestId('count-variance');
    expect(variance.textContent).toContain('-3');
    expect(api.of('count_preview').slice(-1)[0]?.args).toEqual({ productId: bolt.id, locationId: WH1.id, counted: 7 });
    expect(api.of('record_movement')).toHaveLength(0);

    await user.keyboard('{Enter}');
    const result = await screen.findByTestId('record-result');
    expect(result.textContent).toContain('Counted 7 pcs');
    expect(result.textContent).toContain('7 pcs');
    expect(api.of('record_movement')).toHaveLength(1);
    // The level shown updates at once and the form is ready for the next scan.
    expect(screen.getByTestId('current-level').textContent).toBe('7');
    await waitFor(() => expect(document.activeElement?.id).toBe('product'));
    expect(screen.queryByTestId('count-variance')).toBeNull();
  });

  test('a changed count quantity needs a new preview', async () => {
    const user = userEvent.setup();
    const api = setup('manager', () => ({ movements: [movement({ kind: 'count', qty_after: 12 })] }));
    render(RecordScreen);
    await user.click(screen.getByTestId('kind-count'));
    await scan(user, bolt.sku);
    await user.selectOptions(document.getElementById('location')!, WH1.id);
    await user.type(document.getElementById('quantity')!, '7');
    await user.click(screen.getByTestId('record-submit'));
    await screen.findByTestId('count-variance');
    await user.type(document.getElementById('quantity')!, '0');
    expect(screen.queryByTestId('count-variance')).toBeNull();
    await user.click(screen.getByTestId('record-submit'));
    expect((await screen.findByTestId('count-variance')).textContent).toContain('+60');
    expect(api.of('record_movement')).toHaveLength(0);
  });

  test('the negative-stock refusal is shown as a clear message', async () => {
    const user = userEvent.setup();
    setup('clerk', () =>
      fail('negative_stock', 'BOLT-10 at WH1: 10 on hand, 25 requested; the level may not go below zero'),
    );
    render(RecordScreen);
    await user.click(screen.getByTestId('kind-issue'));
    await scan(user, bolt.sku);
    await user.selectOptions(document.getElementById('location')!, WH1.id);
    await user.type(document.getElementById('quantity')!, '25{Enter}');
    const error = await screen.findByTestId('form-error');
    expect(error.textContent).toContain('Not enough stock');
    expect(error.textContent).toContain('10 on hand, 25 requested');
    expect(screen.queryByTestId('record-result')).toBeNull();
  });

  test('decimal quantities become base units by the product scale', async () => {
    const user = userEvent.setup();
    let sent: MovementIntent | null = null;
    setup('clerk', (intent) => {
      sent = intent;
      return { movements: [movement({ product_id: flour.id, delta: 150, qty_before: 1000, qty_after: 1150 })] };
    });
    render(RecordScreen);
    await user.click(screen.getByTestId('kind-receive'));
    await scan(user, flour.barcode!);
    await user.selectOptions(document.getElementById('location')!, WH1.id);
    await user.type(document.getElementById('quantity')!, '1.555{Enter}');
    expect((await screen.findByTestId('form-error')).textContent).toContain('At most 2 decimal places');
    expect(sent).toBeNull();

    await user.clear(document.getElementById('quantity')!);
    await user.type(document.getElementById('quantity')!, '1.5');
    await user.type(document.getElementById('reference')!, 'PO-77{Enter}');
    const result = await screen.findByTestId('record-result');
    expect(sent).toEqual({
      kind: 'receive',
      product_id: flour.id,
      location_id: WH1.id,
      quantity: 150,
      reference: 'PO-77',
      note: null,
    });
    expect(result.textContent).toContain('11.50 kg');
  });

  test('an unknown scanned code is reported and nothing is recorded', async () => {
    const user = userEvent.setup();
    const api = setup('clerk', () => ({ movements: [] }));
    render(RecordScreen);
    await scan(user, '999999');
    expect((await screen.findByText(/no product with SKU or barcode 999999/)).textContent).toBeTruthy();
    await user.click(screen.getByTestId('record-submit'));
    expect((await screen.findByTestId('form-error')).textContent).toContain('no product');
    expect(api.of('record_movement')).toHaveLength(0);
  });

  test('a forbidden answer is shown with its message', async () => {
    const user = userEvent.setup();
    setup('clerk', () => fail('forbidden', 'recording this movement is not allowed for the clerk role; ask a manager'));
    render(RecordScreen);
    await user.click(screen.getByTestId('kind-adjust'));
    await scan(user, bolt.sku);
    await user.selectOptions(document.getElementById('location')!, WH1.id);
    await user.type(document.getElementById('delta')!, '-2');
    await user.selectOptions(document.getElementById('reason')!, 'damaged');
    await user.click(screen.getByTestId('record-submit'));
    const error = await screen.findByTestId('form-error');
    expect(error.textContent).toContain('Not allowed');
    expect(error.textContent).toContain('ask a manager');
  });

  test('a void needs a note', async () => {
    const user = userEvent.setup();
    const api = setup('clerk', (intent) => {
      expect(intent).toEqual({ kind: 'void', movement_id: 'mov-9', note: 'typed twice' });
      return { movements: [movement({ kind: 'void', delta: -1, qty_after: 9 })] };
    });
    render(RecordScreen);
    await user.click(screen.getByTestId('kind-void'));
    await user.type(document.getElementById('movement-id')!, 'mov-9{Enter}');
    expect((await screen.findByTestId('form-error')).textContent).toContain('note');
    expect(api.of('record_movement')).toHaveLength(0);
    await user.type(document.getElementById('note')!, 'typed twice{Enter}');
    expect((await screen.findByTestId('record-result')).textContent).toContain('Voided movement mov-9');
    // Another kind of movement: the void's confirmation would read as this form's.
    await user.click(screen.getByTestId('kind-receive'));
    expect(screen.queryByTestId('record-result')).toBeNull();
  });

  test('a transfer in transit is shown and received in its product unit', async () => {
    const user = userEvent.setup();
    const sent = inTransit({ product_id: flour.id });
    const api = setup(
      'clerk',
      (intent) => {
        expect(intent).toEqual({ kind: 'receive_transfer', transfer_id: 'tr-1', quantity: 250, note: null });
        return { movements: [movement({ kind: 'transfer_in', product_id: flour.id, location_id: SHOP.id, delta: 250, qty_after: 250 })] };
      },
      { in_transit: () => [sent] },
    );
    render(RecordScreen);
    await user.click(screen.getByTestId('kind-receive_transfer'));
    const option = await screen.findByRole('option', { name: /FLOUR: WH1 → SHOP, 5\.00 kg sent/ });
    expect(option).toBeTruthy();
    expect((document.getElementById('quantity') as HTMLInputElement).placeholder).toBe('All that was sent');
    await user.type(document.getElementById('quantity')!, '2.555{Enter}');
    expect((await screen.findByTestId('form-error')).textContent).toContain('At most 2 decimal places');
    expect(api.of('record_movement')).toHaveLength(0);
    await user.clear(document.getElementById('quantity')!);
    await user.type(document.getElementById('quantity')!, '2.5{Enter}');
    expect((await screen.findByTestId('record-result')).textContent).toContain('2.50 kg');
  });
});
