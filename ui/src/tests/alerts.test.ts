import { emit } from '@tauri-apps/api/event';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, test } from 'vitest';
import App from '../App.svelte';
import type { AlertView } from '../lib/bindings/AlertView';
import type { Role } from '../lib/bindings/Role';
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

function start(role: Role, refuse = false) {
  let open = [alert('a-neg', 'negative_stock', -1), alert('a-low', 'low_stock', 2)];
  let refused = [
    { movement: movement({ id: 'mov-r', kind: 'issue', delta: -3 }), code: 'unknown_location', message: 'the location was archived' },
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
    stock_page: () => ({ rows: [], total: 0 }),
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
