import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, test } from 'vitest';
import type { StockPage } from '../lib/bindings/StockPage';
import type { StockQuery } from '../lib/bindings/StockQuery';
import { app } from '../lib/state.svelte';
import App from '../App.svelte';
import type { AppStatus } from '../lib/bindings/AppStatus';
import Stock, { PAGE } from '../screens/Stock.svelte';
import { backend, deferred, session, SHOP, status, stockRow, WH1 } from './backend';

const queryOf = (args: Record<string, unknown>) => args.query as StockQuery;

beforeEach(() => {
  app.session = session('clerk');
  app.locations = [WH1, SHOP];
});

describe('stock table', () => {
  test('searches as you type and renders the rows stock_page returns', async () => {
    const user = userEvent.setup();
    const api = backend({
      stock_page: (a) => {
        const q = queryOf(a);
        if (q.search === 'BOLT') {
          return {
            rows: [
              stockRow(1, { sku: 'BOLT-10', name: 'Hex bolt M10', on_hand: -2 }),
              stockRow(2, { sku: 'BOLT-12', name: 'Hex bolt M12', location_id: SHOP.id, location_code: SHOP.code, on_hand: 3, reorder_point: 5 }),
              stockRow(3, { sku: 'BOLT-16', name: 'Hex bolt M16', on_hand: 1250, unit_scale: 2, unit: 'kg' }),
            ],
            total: 3,
            total_exact: true,
          } satisfies StockPage;
        }
        return { rows: [stockRow(9)], total: 1, total_exact: true } satisfies StockPage;
      },
    });
    const { container } = render(Stock);
    await waitFor(() => expect(screen.getAllByTestId('stock-row')).toHaveLength(1));

    await user.type(screen.getByRole('searchbox'), 'BOLT');
    await waitFor(() => expect(screen.getAllByTestId('stock-row')).toHaveLength(3));
    // The scroll area's height (header + rows) comes from the sizer alone, out of the flow.
    const sizer = container.querySelector<HTMLElement>('.sizer');
    expect(sizer?.style.height).toBe(`${36 + 3 * 36}px`);
    expect(container.querySelector<HTMLElement>('.rows')?.style.height).toBe('');

    const last = api.of('stock_page').slice(-1)[0]!;
    expect(queryOf(last.args)).toMatchObject({ search: 'BOLT', limit: PAGE, offset: 0, filter: 'all', sort: 'sku' });
    expect(screen.getByTestId('stock-total').textContent).toBe('3');

    const rows = screen.getAllByTestId('stock-row');
    expect(rows.map((r) => [r.dataset.sku, r.dataset.location])).toEqual([
      ['BOLT-10', 'WH1'],
      ['BOLT-12', 'SHOP'],
      ['BOLT-16', 'WH1'],
    ]);
    const onHand = rows.map((r) => r.querySelector('[data-testid=on-hand]')!);
    expect(onHand.map((c) => c.textContent?.trim())).toEqual(['-2', '3', '12.50']);
    expect(onHand[0]!.classList.contains('neg')).toBe(true);
    expect(onHand[1]!.classList.contains('low')).toBe(true);
    expect(onHand[2]!.classList.contains('neg') || onHand[2]!.classList.contains('low')).toBe(false);
  });

  test('a slow answer to an older search never replaces a newer one', async () => {
    const user = userEvent.setup();
    const slow = deferred<StockPage>();
    const api = backend({
      stock_page: (a) => {
        const q = queryOf(a);
        if (q.search === 'AB') return slow.promise;
        if (q.search === 'ABC') return { rows: [stockRow(3, { sku: 'ABC-NEW' })], total: 1, total_exact: true };
        return { rows: [], total: 0, total_exact: true };
      },
    });
    render(Stock);
    const search = screen.getByRole('searchbox');
    await user.type(search, 'AB');
    await waitFor(() => expect(api.of('stock_page').some((c) => queryOf(c.args).search === 'AB')).toBe(true));
    await user.type(search, 'C');
    await waitFor(() => expect(screen.getAllByTestId('stock-row')[0]?.dataset.sku).toBe('ABC-NEW'));

    slow.resolve({ rows: [stockRow(1, { sku: 'AB-OLD' }), stockRow(2, { sku: 'AB-OLD2' })], total: 2, total_exact: true });
    await new Promise((r) => setTimeout(r, 30));
    expect(screen.getAllByTestId('stock-row').map((r) => r.dataset.sku)).toEqual(['ABC-NEW']);
    expect(screen.getByTestId('stock-total').textContent).toBe('1');
  });

  test('the search field describes itself by a hint that hides once something is typed', async () => {
    const user = userEvent.setup();
    backend({ stock_page: () => ({ rows: [stockRow(9)], total: 1, total_exact: true }) satisfies StockPage });
    render(Stock);
    const field = screen.getByRole('searchbox');
    const hint = document.getElementById(field.getAttribute('aria-describedby')!)!;
    expect(hint.textContent?.trim()).toBe('SKU, name or barcode');
    expect(hint.classList.contains('typed')).toBe(false);
    await user.type(field, 'B');
    expect(hint.classList.contains('typed')).toBe(true);
    await user.clear(field);
    expect(hint.classList.contains('typed')).toBe(false);
  });

  test('while a search is on its way the last rows stay on screen, with no placeholder rows', async () => {
    const user = userEvent.setup();
    const pending = deferred<StockPage>();
    backend({
      stock_page: (a) =>
        queryOf(a).search === 'B'
          ? pending.promise
          : { rows: [stockRow(1, { sku: 'A-1' }), stockRow(2, { sku: 'A-2' })], total: 2, total_exact: true },
    });
    render(Stock);
    await waitFor(() => expect(screen.getAllByTestId('stock-row')).toHaveLength(2));
    await user.type(screen.getByRole('searchbox'), 'B');
    await new Promise((r) => setTimeout(r, 30));
    expect(screen.getAllByTestId('stock-row').map((r) => r.dataset.sku)).toEqual(['A-1', 'A-2']);
    expect(document.querySelector('[aria-busy=true]')).toBeNull();
    pending.resolve({ rows: [stockRow(3, { sku: 'B-1' })], total: 1, total_exact: true });
    await waitFor(() => expect(screen.getAllByTestId('stock-row').map((r) => r.dataset.sku)).toEqual(['B-1']));
  });

  test('renders only the visible rows of a 500,000-row result and sends filters and sort', async () => {
    const user = userEvent.setup();
    const api = backend({
      stock_page: (a) => {
        const q = queryOf(a);
        const rows = Array.from({ length: q.limit }, (_, i) => stockRow(q.offset + i));
        return { rows, total: 500_000, total_exact: true };
      },
    });
    render(Stock);
    await waitFor(() => expect(screen.getByTestId('stock-total').textContent).toBe('500,000'));
    const shown = screen.getAllByTestId('stock-row').length;
    expect(shown).toBeGreaterThan(5);
    expect(shown).toBeLessThan(60);
    expect(api.of('stock_page').every((c) => queryOf(c.args).offset === 0)).toBe(true);

    await user.selectOptions(screen.getByLabelText('Location'), SHOP.id);
    await user.selectOptions(screen.getByLabelText('Show'), 'negative');
    await user.click(screen.getByTestId('sort-on_hand'));
    await user.click(screen.getByTestId('sort-on_hand'));
    await waitFor(() =>
      expect(queryOf(api.of('stock_page').slice(-1)[0]!.args)).toMatchObject({
        location_id: SHOP.id,
        filter: 'negative',
        sort: 'on_hand',
        descending: true,
      }),
    );
  });

  test('a short search shows its lower-bound total with a plus, raised as the table scrolls', async () => {
    const user = userEvent.setup();
    const api = backend({
      stock_page: (a): StockPage => {
        const q = queryOf(a);
        const rows = Array.from({ length: q.limit }, (_, i) => stockRow(q.offset + i));
        if (q.search === 'h') {
          // What the store answers for a one-letter search: at least the next thousand past the page.
          return { rows, total: (Math.floor((q.offset + q.limit) / 1000) + 1) * 1000, total_exact: false };
        }
        return { rows, total: 5000, total_exact: true };
      },
    });
    render(Stock);
    await waitFor(() => expect(screen.getByTestId('stock-total').textContent).toBe('5,000'));
    await user.type(screen.getByRole('searchbox'), 'h');
    await waitFor(() => expect(screen.getByTestId('stock-total').textContent).toBe('1,000+'));
    expect(screen.getByRole('grid').getAttribute('aria-rowcount')).toBe('-1');

    // End goes to the last row counted so far: its page raises the bound.
    screen.getByRole('grid').focus();
    await user.keyboard('{End}');
    await waitFor(() => expect(api.of('stock_page').some((c) => queryOf(c.args).offset === 1000 - PAGE)).toBe(true));
    await waitFor(() => expect(screen.getByTestId('stock-total').textContent).toBe('2,000+'));

    // A new search starts from its own first answer, exact again.
    await user.clear(screen.getByRole('searchbox'));
    await waitFor(() => expect(screen.getByTestId('stock-total').textContent).toBe('5,000'));
    expect(screen.getByRole('grid').getAttribute('aria-rowcount')).toBe('5001');
  });

  test('Enter on a row opens the Product screen', async () => {
    const user = userEvent.setup();
    backend({ stock_page: () => ({ rows: [stockRow(1), stockRow(2)], total: 2, total_exact: true }) });
    render(Stock);
    await waitFor(() => expect(screen.getAllByTestId('stock-row')).toHaveLength(2));
    screen.getByRole('grid').focus();
    await user.keyboard('{ArrowDown}{ArrowDown}{Enter}');
    expect(app.screen).toBe('product');
    expect(app.productId).toBe('prod-2');
  });
});

describe('start-up', () => {
  test('the first stock page is asked for with the app status and shown from that answer', async () => {
    const statusAnswer = deferred<AppStatus>();
    const api = backend({
      app_status: () => statusAnswer.promise,
      catalog: () => ({ locations: [WH1] }),
      alerts: () => [],
      stock_page: () => ({ rows: [stockRow(1, { sku: 'FIRST-1' })], total: 1, total_exact: true }),
    });
    app.reset();
    render(App);
    await waitFor(() => expect(api.of('stock_page')).toHaveLength(1));
    expect(queryOf(api.of('stock_page')[0]!.args)).toMatchObject({ search: null, sort: 'sku', limit: PAGE, offset: 0 });
    expect(api.of('app_status')).toHaveLength(1);

    statusAnswer.resolve(status(session('clerk')));
    await waitFor(() => expect(screen.getAllByTestId('stock-row')[0]?.dataset.sku).toBe('FIRST-1'));
    expect(api.of('stock_page')).toHaveLength(1);
  });

  test('without a session the prefetched page is dropped: the table asks again after sign-in', async () => {
    const api = backend({
      app_status: () => status(null),
      catalog: () => ({ locations: [WH1] }),
      alerts: () => [],
      work_offline: () => session('admin', { offline_only: true, server_url: null }),
      stock_page: () => ({ rows: [stockRow(2, { sku: 'AFTER-2' })], total: 1, total_exact: true }),
    });
    app.reset();
    render(App);
    await screen.findByTestId('work-offline');
    expect(api.of('stock_page')).toHaveLength(1);
    await userEvent.setup().click(screen.getByTestId('work-offline'));
    await waitFor(() => expect(screen.getAllByTestId('stock-row')[0]?.dataset.sku).toBe('AFTER-2'));
    expect(api.of('stock_page')).toHaveLength(2);
  });
});
