import { emit } from '@tauri-apps/api/event';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, test } from 'vitest';
import type { HistoryRow } from '../lib/bindings/HistoryRow';
import type { ImportReport } from '../lib/bindings/ImportReport';
import type { LedgerQuery } from '../lib/bindings/LedgerQuery';
import { app } from '../lib/state.svelte';
import Audit from '../screens/Audit.svelte';
import Import from '../screens/Import.svelte';
import Product from '../screens/Product.svelte';
import { backend, deferred, fail, movement, product, session, SHOP, stockRow, WH1 } from './backend';

beforeEach(() => {
  app.locations = [WH1, SHOP];
});

function history(from: number, count: number): HistoryRow[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return {
      movement: movement({
        id: `mov-${i}`,
        location_id: i % 2 ? SHOP.id : WH1.id,
        occurred_at: 1_700_000_000_000 - i * 60_000,
        delta: 2,
        qty_after: 100 - i,
      }),
      voided_by: null,
      sync_state: 'accepted',
      sku: 'ROPE-6',
      unit: 'm',
      unit_scale: 2,
    };
  });
}

describe('product screen', () => {
  test('shows details, levels, a chart and pages the history by keyset', async () => {
    const user = userEvent.setup();
    app.session = session('clerk');
    app.productId = 'prod-1';
    const api = backend({
      product_detail: () => ({
        product: product(),
        levels: [stockRow(1, { product_id: 'prod-1', on_hand: 40 }), stockRow(1, { product_id: 'prod-1', location_id: SHOP.id, location_code: 'SHOP', on_hand: -1 })],
      }),
      ledger: (a) => {
        const q = a.query as LedgerQuery;
        expect(q.product_id).toBe('prod-1');
        return q.before ? history(50, 3) : history(0, 50);
      },
    });
    render(Product);
    expect((await screen.findByText('Hex bolt M10')).tagName).toBe('H2');
    await waitFor(() => expect(screen.getAllByTestId('history-row')).toHaveLength(50));
    const chart = screen.getByTestId('stock-chart');
    expect(chart.tagName.toLowerCase()).toBe('svg');
    expect(chart.querySelectorAll('path.line')).toHaveLength(2);

    await user.click(screen.getByText('Load older movements'));
    await waitFor(() => expect(screen.getAllByTestId('history-row')).toHaveLength(53));
    const second = api.of('ledger')[1]!.args.query as LedgerQuery;
    expect(second.before).toEqual({ occurred_at: 1_700_000_000_000 - 49 * 60_000, id: 'mov-49' });
    expect(screen.queryByText('Load older movements')).toBeNull();
  });
});

describe('import screen', () => {
  test('dry run first, per-row errors, then import with progress', async () => {
    const user = userEvent.setup();
    app.session = session('manager');
    const running = deferred<ImportReport>();
    const api = backend({
      'plugin:dialog|open': () => '/home/me/opening.csv',
      import_csv: (a) => {
        if (a.dryRun) {
          return {
            rows_total: 1000,
            rows_imported: 0,
            rows_failed: 1,
            dry_run: true,
            errors: [{ line: 7, column: 'quantity', message: '"ten" is not a number' }],
          } satisfies ImportReport;
        }
        return running.promise;
      },
      catalog: () => ({ locations: [WH1, SHOP] }),
    });
    render(Import);
    await user.click(screen.getByTestId('choose-file'));
    expect(await screen.findByText('opening.csv')).toBeTruthy();
    expect((screen.getByTestId('import-run') as HTMLButtonElement).disabled).toBe(true);

    await user.click(screen.getByTestId('dry-run'));
    const row = await screen.findByTestId('row-error');
    expect(row.textContent).toContain('7');
    expect(row.textContent).toContain('quantity');
    expect(row.textContent).toContain('"ten" is not a number');
    expect(api.of('import_csv')[0]!.args).toEqual({ kind: 'opening_stock', path: '/home/me/opening.csv', dryRun: true, skipBadRows: false });
    // A bad row blocks the import until it is fixed or skipped.
    expect((screen.getByTestId('import-run') as HTMLButtonElement).disabled).toBe(true);
    await user.click(screen.getByTestId('skip-bad-rows'));
    await user.click(screen.getByTestId('import-run'));

    await emit('import-progress', { rows_done: 500 });
    await waitFor(() => expect(screen.getByTestId('import-progress').getAttribute('aria-valuenow')).toBe('50'));
    running.resolve({ rows_total: 1000, rows_imported: 999, rows_failed: 1, dry_run: false, errors: [] });
    expect((await screen.findByText('999 imported')).textContent).toBe('999 imported');
    expect(api.of('import_csv')[1]!.args).toMatchObject({ dryRun: false, skipBadRows: true });
  });

  test("shows the server_catalog refusal in the command's words", async () => {
    const user = userEvent.setup();
    app.session = session('manager');
    backend({
      'plugin:dialog|open': () => '/home/me/products.csv',
      import_csv: () => fail('server_catalog', 'the catalog is kept by the server: import products and locations there'),
    });
    render(Import);
    await user.selectOptions(screen.getByLabelText('What the file holds'), 'products');
    await user.click(screen.getByTestId('choose-file'));
    await user.click(await screen.findByTestId('dry-run'));
    expect((await screen.findByTestId('form-error')).textContent).toContain('the catalog is kept by the server');
  });

  test('a clerk may import opening stock only', async () => {
    app.session = session('clerk');
    backend({});
    render(Import);
    const options = [...(screen.getByLabelText('What the file holds') as HTMLSelectElement).options].map((o) => o.value);
    expect(options).toEqual(['opening_stock']);
  });
});

describe('audit screen', () => {
  test('filters the ledger and exports CSV to the chosen path', async () => {
    const user = userEvent.setup();
    app.session = session('viewer');
    const api = backend({
      ledger: () => history(0, 3),
      'plugin:dialog|save': () => '/home/me/stock.csv',
      export_csv: () => 1234,
    });
    render(Audit);
    await waitFor(() => expect(screen.getAllByTestId('ledger-row')).toHaveLength(3));
    // Each row names its product and shows quantities in the product's unit and decimals.
    const first = screen.getAllByTestId('ledger-row')[0]!.textContent ?? '';
    expect(first).toContain('ROPE-6');
    expect(first).toContain('+0.02');
    expect(first).toContain('1.00 m');
    await user.selectOptions(screen.getByLabelText('Kind'), 'count');
    await user.selectOptions(screen.getByLabelText('Location'), SHOP.id);
    await waitFor(() => expect((api.of('ledger').slice(-1)[0]!.args.query as LedgerQuery).kind).toBe('count'));
    expect(api.of('ledger').slice(-1)[0]!.args.query).toMatchObject({ kind: 'count', location_id: SHOP.id, before: null, limit: 100 });

    await user.click(screen.getByTestId('export-stock'));
    expect((await screen.findByTestId('export-result')).textContent).toContain('1234 rows written to /home/me/stock.csv');
    expect(api.of('export_csv')[0]!.args).toEqual({ kind: 'stock', path: '/home/me/stock.csv' });
  });
});
