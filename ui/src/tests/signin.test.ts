import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, test } from 'vitest';
import App from '../App.svelte';
import type { SessionInfo } from '../lib/bindings/SessionInfo';
import { backend, fail, session, status } from './backend';

function signInBackend(opts: { mustChange: boolean; refuseChange?: string }) {
  let current: SessionInfo | null = null;
  const api = backend({
    app_status: () => status(current, { secret_store: 'unavailable' }),
    sign_in: (a) => {
      if (a.password !== 'Bootstrap1') fail('unauthorized', 'wrong user name or password');
      current = session('admin', { username: String(a.username), must_change_password: opts.mustChange });
      return current;
    },
    change_password: (a) => {
      if (opts.refuseChange) fail('validation', opts.refuseChange);
      if (!current) fail('not_signed_in', 'sign in first');
      expect(a).toEqual({ current: 'Bootstrap1', new: 'Better-Pass9' });
      current = { ...current, must_change_password: false };
      return current;
    },
    catalog: () => ({ locations: [] }),
    alerts: () => [],
    stock_page: () => ({ rows: [], total: 0, total_exact: true }),
  });
  return api;
}

describe('first run', () => {
  test('prefills the server, warns without a secret store, signs in and forces a password change', async () => {
    const user = userEvent.setup();
    const api = signInBackend({ mustChange: true });
    render(App);

    const url = await screen.findByLabelText('Server address');
    expect(url).toHaveProperty('id', 'server-url');
    expect((url as HTMLInputElement).value).toBe('https://stock.test:8443');
    expect(screen.getByTestId('secret-store-notice').textContent).toContain('No OS secret store');

    await user.type(document.getElementById('username')!, 'admin');
    await user.type(document.getElementById('password')!, 'wrong');
    await user.click(screen.getByTestId('sign-in'));
    expect((await screen.findByTestId('form-error')).textContent).toContain('wrong user name or password');

    await user.clear(document.getElementById('password')!);
    await user.type(document.getElementById('password')!, 'Bootstrap1');
    await user.keyboard('{Enter}');

    await screen.findByTestId('change-password');
    expect(api.of('sign_in').slice(-1)[0]?.args).toEqual({
      serverUrl: 'https://stock.test:8443',
      username: 'admin',
      password: 'Bootstrap1',
    });

    // The policy is checked before asking the server.
    await user.type(document.getElementById('current-password')!, 'Bootstrap1');
    await user.type(document.getElementById('new-password')!, 'weakpass');
    await user.type(document.getElementById('confirm-password')!, 'weakpass');
    await user.click(screen.getByTestId('change-password'));
    expect((await screen.findByTestId('form-error')).textContent).toContain('upper and lower case');
    expect(api.of('change_password')).toHaveLength(0);

    await user.clear(document.getElementById('new-password')!);
    await user.type(document.getElementById('new-password')!, 'Better-Pass9');
    await user.click(screen.getByTestId('change-password'));
    expect((await screen.findByTestId('form-error')).textContent).toContain('differ');

    await user.clear(document.getElementById('confirm-password')!);
    await user.type(document.getElementById('confirm-password')!, 'Better-Pass9');
    await user.click(screen.getByTestId('change-password'));

    await screen.findByTestId('nav-stock');
    expect(api.of('change_password')).toHaveLength(1);
    expect(screen.getByTestId('sync-status').getAttribute('data-state')).toBe('online');
  });

  test("shows the server's refusal of the new password", async () => {
    const user = userEvent.setup();
    signInBackend({ mustChange: true, refuseChange: 'the new password was used before; choose another' });
    render(App);
    await user.type(await screen.findByLabelText('User name'), 'admin');
    await user.type(document.getElementById('password')!, 'Bootstrap1');
    await user.click(screen.getByTestId('sign-in'));
    await user.type(await screen.findByLabelText('Current password'), 'Bootstrap1');
    await user.type(document.getElementById('new-password')!, 'Better-Pass9');
    await user.type(document.getElementById('confirm-password')!, 'Better-Pass9');
    await user.click(screen.getByTestId('change-password'));
    expect((await screen.findByTestId('form-error')).textContent).toContain('the new password was used before');
    expect(screen.queryByTestId('nav-stock')).toBeNull();
  });

  test('work offline only opens the app without a server', async () => {
    const user = userEvent.setup();
    let current: SessionInfo | null = null;
    backend({
      app_status: () => status(current, { sync: { ...status(null).sync, state: current ? 'local_only' : 'signed_out' } }),
      work_offline: () => (current = session('admin', { server_url: null, username: 'local', offline_only: true })),
      catalog: () => ({ locations: [] }),
      alerts: () => [],
      stock_page: () => ({ rows: [], total: 0, total_exact: true }),
    });
    render(App);
    expect(screen.queryByTestId('secret-store-notice')).toBeNull();
    await user.click(await screen.findByTestId('work-offline'));
    await waitFor(() => expect(screen.getByTestId('sync-status').getAttribute('data-state')).toBe('local_only'));
  });
});
