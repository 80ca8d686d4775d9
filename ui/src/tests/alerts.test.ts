import { emit } from '@tauri-apps/api/event';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, test } from 'vitest';
import App from '../App.svelte';
import type { AlertView } from '../lib/bindings/AlertView';
import type { CatalogNotice } from '../lib/bindings/CatalogNotice';
import type { Role } from '../lib/bindings/Role';
import { app } from '../lib/state.svelte';
import { backend, fail, movement, session, status, WH1 } from './backend';

function alert(id: string, kind: AlertView['alert']['kind'], quantity: number): AlertView {
  return {
    alert: {
      id,
      kind,
      product_id: 'prod-1',
      location_id: WH1.id,
      quantity,
      movement_id: null,
      message: `${kind} on BOLT-10 at WH1`,
      raised_at: 1_700_000_000_000,
      resolved_by: null,
      resolved_at: null,
    },
    sku: 'BOLT-10',
    product_name: 'Hex bolt M10',
    location_code: 'WH1',
    unit_scale: 0,
  };
}

function notice(id: string, kind: CatalogNotice['kind'], extra: Partial<CatalogNotice> = {}): CatalogNotice {
  return {
    id,
    kind,
    entity: 'product',
    entity_id: 'prod-1',
    code: 'BOLT-10',
    field: 'price',
    lost_value: '500',
    kept_value: '700',
    message: 'your edit of price of BOLT-10 lost to anna on Laptop 2: kept 700',
    at: 1_700_000_000_000,
    ...extra,
  };
}

function start(role: Role, refuse = false, notices: CatalogNotice[] = []) {
  let open = [alert('a-neg', 'negative_stock', -1), alert('a-low', 'low_stock', 2)];
  let told = notices;
  let refused = [
    {
      movement: movement({ id: 'mov-r', kind: 'issue', delta: -1250 }),
      sku: 'ROPE-6',
      product_name: 'Rope 6 mm',
      unit: 'm',
      unit_scale: 2,
      code: 'unknown_location',
      message: 'the location was archived',
    },
  ];
  const api = backend({
    app_status: () => status(session(role)),
    catalog: () => ({ locations: [WH1] }),
    alerts: () => open,
    rejected_movements: () => refused,
    void_rejected: (a) => {
      refused = refused.filter((r) => r.movement.id !== a.movementId);
      return null;
    },
    resolve_alert: (a) => {
      if (refuse) fail('offline', 'resolving an alert needs the server; sign in');
      open = open.filter((x) => x.alert.id !== a.alertId);
      return null;
    },
    stock_page: () => ({ rows: [], total: 0, total_exact: true }),
    catalog_notices: () => told,
    dismiss_catalog_notice: (a) => {
      told = told.filter((n) => n.id !== a.noticeId);
      return null;
    },
  });
  return api;
}

describe('alerts and conflicts inbox', () => {
  test('a manager resolves an alert', async () => {
    const user = userEvent.setup();
    const api = start('manager');
    render(App);
    await waitFor(() => expect(screen.getByTestId('alerts-badge').textContent).toBe('2'));
    await user.click(screen.getByTestId('nav-alerts'));
    const items = await screen.findAllByTestId('alert-item');
    expect(items.map((i) => i.dataset.kind)).toEqual(['negative_stock', 'low_stock']);
    expect(screen.getAllByTestId('rejected-item')[0]?.textContent).toContain('the location was archived');
    // The refused movement names its product and shows its quantity in the product's unit.
    expect(screen.getByTestId('rejected-product').textContent).toBe('ROPE-6 Rope 6 mm');
    expect(screen.getByTestId('rejected-quantity').textContent?.trim()).toBe('-12.50 m');

    await user.click(screen.getAllByTestId('resolve-alert')[0]!);
    await waitFor(() => expect(screen.getAllByTestId('alert-item')).toHaveLength(1));
    expect(api.of('resolve_alert')[0]?.args).toEqual({ alertId: 'a-neg' });
    expect(screen.getByTestId('alert-item').dataset.kind).toBe('low_stock');
  });

  test('a refused resolve shows the message and keeps the alert', async () => {
    const user = userEvent.setup();
    start('manager', true);
    render(App);
    await user.click(await screen.findByTestId('nav-alerts'));
    await user.click((await screen.findAllByTestId('resolve-alert'))[0]!);
    expect((await screen.findByTestId('form-error')).textContent).toContain('needs the server');
    expect(screen.getAllByTestId('alert-item')).toHaveLength(2);
  });

  test('a refused movement is closed for good from the inbox', async () => {
    const user = userEvent.setup();
    const api = start('clerk');
    render(App);
    await user.click(await screen.findByTestId('nav-alerts'));
    await user.click(await screen.findByTestId('close-rejected'));
    await waitFor(() => expect(screen.queryByTestId('rejected-item')).toBeNull());
    expect(api.of('void_rejected')[0]?.args).toEqual({ movementId: 'mov-r' });
  });

  test('a viewer cannot close a refused movement', async () => {
    const user = userEvent.setup();
    start('viewer');
    render(App);
    await user.click(await screen.findByTestId('nav-alerts'));
    expect(await screen.findAllByTestId('rejected-item')).toHaveLength(1);
    expect(screen.queryByTestId('close-rejected')).toBeNull();
  });

  test('a clerk sees alerts but cannot resolve them', async () => {
    const user = userEvent.setup();
    start('clerk');
    render(App);
    await user.click(await screen.findByTestId('nav-alerts'));
    expect(await screen.findAllByTestId('alert-item')).toHaveLength(2);
    expect(screen.queryByTestId('resolve-alert')).toBeNull();
  });

  test('catalog notices are listed with the alerts, counted in the badge, and dismissed', async () => {
    const user = userEvent.setup();
    const api = start('clerk', false, [
      notice('n-lost', 'edit_lost'),
      notice('n-merged', 'merged', {
        code: 'ROPE-6',
        entity_id: 'prod-2',
        field: 'created',
        message: 'your new product ROPE-6 was also created on another device: merged into the existing one; its stock counts there',
      }),
    ]);
    render(App);
    await waitFor(() => expect(screen.getByTestId('alerts-badge').textContent).toBe('4'));
    await user.click(screen.getByTestId('nav-alerts'));
    const items = await screen.findAllByTestId('catalog-notice');
    expect(items.map((i) => [i.dataset.kind, i.dataset.code])).toEqual([
      ['edit_lost', 'BOLT-10'],
      ['merged', 'ROPE-6'],
    ]);
    // The values are shown as the product screen shows them (cents), not as stored.
    expect(items[0]!.textContent).toContain('Edit lost');
    expect(items[0]!.textContent).toContain('Unit price');
    expect(screen.getByTestId('notice-values').textContent?.replace(/\s+/g, ' ')).toMatch(/Your value 5\.00 was replaced .* 7\.00 is kept/);
    expect(items[1]!.textContent).toContain('Created twice');
    expect(items[1]!.textContent).toContain('merged into the existing one');

    await user.click(screen.getAllByTestId('dismiss-notice')[0]!);
    await waitFor(() => expect(screen.getAllByTestId('catalog-notice')).toHaveLength(1));
    expect(api.of('dismiss_catalog_notice')[0]?.args).toEqual({ noticeId: 'n-lost' });
    expect(screen.getByTestId('alerts-badge').textContent).toBe('3');
    await user.click(screen.getByText('View product', { selector: '[data-testid=catalog-notice] button' }));
    await waitFor(() => expect(app.productId).toBe('prod-2'));
  });

  test('the open-alert event opens the inbox on that alert', async () => {
    start('manager');
    render(App);
    await screen.findByTestId('nav-stock');
    await emit('open-alert', 'a-low');
    const item = await waitFor(() => {
      const el = document.getElementById('alert-a-low');
      if (!el) throw new Error('not shown yet');
      return el;
    });
    expect(item.classList.contains('highlight')).toBe(true);
    expect(document.getElementById('alert-a-neg')?.classList.contains('highlight')).toBe(false);
  });
});
