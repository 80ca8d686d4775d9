import { emit } from '@tauri-apps/api/event';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, test } from 'vitest';
import App from '../App.svelte';
import type { Role } from '../lib/bindings/Role';
import { backend, session, status, syncView, WH1 } from './backend';

function start(role: Role, sync = syncView()) {
  return backend({
    app_status: () => status(session(role), { sync }),
    catalog: () => ({ locations: [WH1] }),
    alerts: () => [],
    stock_page: () => ({ rows: [], total: 0, total_exact: true }),
    in_transit: () => [],
    preferences: () => ({ notify_low_stock: false, device_name: 'till-1' }),
  });
}

describe('roles', () => {
  test('a viewer sees no Record and no Import', async () => {
    const user = userEvent.setup();
    start('viewer');
    render(App);
    await screen.findByTestId('nav-stock');
    for (const id of ['nav-stock', 'nav-alerts', 'nav-audit', 'nav-settings']) expect(screen.getByTestId(id)).toBeTruthy();
    expect(screen.queryByTestId('nav-record')).toBeNull();
    expect(screen.queryByTestId('nav-import')).toBeNull();
    // Alt+2 (Record) does nothing for a viewer; Alt+6 opens Settings.
    await user.keyboard('{Alt>}2{/Alt}');
    expect(screen.queryByTestId('kind-receive')).toBeNull();
    await user.keyboard('{Alt>}6{/Alt}');
    expect(await screen.findByTestId('session-role')).toHaveProperty('textContent', 'viewer');
  });

  test('a clerk records movements but not counts', async () => {
    const user = userEvent.setup();
    start('clerk');
    render(App);
    await user.click(await screen.findByTestId('nav-record'));
    expect(await screen.findByTestId('kind-receive')).toBeTruthy();
    expect(screen.getByTestId('kind-issue')).toBeTruthy();
    expect(screen.getByTestId('kind-void')).toBeTruthy();
    expect(screen.queryByTestId('kind-count')).toBeNull();
  });

  test('a manager records counts', async () => {
    const user = userEvent.setup();
    start('manager');
    render(App);
    await user.keyboard('{Alt>}2{/Alt}');
    await waitFor(() => expect(screen.getByTestId('kind-count')).toBeTruthy());
  });

  test('the sync indicator shows state and pending count, and a session the server ended asks to sign in again', async () => {
    start('clerk', syncView({ state: 'signed_out', reason: 'the session expired', pending: 4 }));
    render(App);
    const indicator = await screen.findByTestId('sync-status');
    expect(indicator.getAttribute('data-state')).toBe('signed_out');
    expect(screen.getByTestId('pending-count').textContent).toBe('4');
    expect(screen.getByTestId('signed-out-banner').textContent).toContain('sign in again');
  });

  test('sync-status events update the indicator, and / focuses the stock search from any screen', async () => {
    const user = userEvent.setup();
    start('clerk');
    render(App);
    await user.click(await screen.findByTestId('nav-settings'));
    await emit('sync-status', syncView({ state: 'offline', reason: 'cannot reach the server', pending: 7 }));
    await waitFor(() => expect(screen.getByTestId('pending-count').textContent).toBe('7'));
    expect(screen.getByTestId('sync-status').getAttribute('data-state')).toBe('offline');
    expect(screen.getByTestId('sync-status').querySelector('button')?.getAttribute('title')).toBe('cannot reach the server');

    (document.activeElement as HTMLElement | null)?.blur();
    await user.keyboard('/');
    await waitFor(() => expect(document.activeElement?.id).toBe('stock-search'));
  });

  test('locations a first pull brings in after the shell shows reach the forms', async () => {
    const user = userEvent.setup();
    let pulled = false;
    backend({
      app_status: () => status(session('clerk')),
      catalog: () => ({ locations: pulled ? [WH1] : [] }),
      alerts: () => [],
      catalog_notices: () => [],
      stock_page: () => ({ rows: [], total: 0, total_exact: true }),
      in_transit: () => [],
    });
    render(App);
    await user.click(await screen.findByTestId('nav-record'));
    await screen.findByTestId('kind-receive');
    const codes = () => [...(document.getElementById('location') as HTMLSelectElement).options].map((o) => o.text);
    expect(codes().some((t) => t.startsWith('WH1'))).toBe(false);
    pulled = true;
    await emit('sync-status', syncView({ cursor: 7 }));
    await waitFor(() => expect(codes().some((t) => t.startsWith('WH1'))).toBe(true));
  });
});
