import { emit } from '@tauri-apps/api/event';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, test } from 'vitest';
import App from '../App.svelte';
import Settings from '../screens/Settings.svelte';
import type { SessionInfo } from '../lib/bindings/SessionInfo';
import { updates } from '../lib/updates.svelte';
import { backend, fail, session, status, WH1 } from './backend';

const offer = { current_version: '0.1.0', version: '0.2.0', notes: 'Faster stock search.' };

function start(install: () => null) {
  return backend({
    preferences: () => ({ notify_low_stock: false, device_name: 'till-1' }),
    check_for_update: () => offer,
    install_update: install,
  });
}

beforeEach(() => updates.reset());

function startApp(check: () => unknown, who: SessionInfo = session('clerk')) {
  return backend({
    app_status: () => status(who),
    catalog: () => ({ locations: [WH1] }),
    alerts: () => [],
    stock_page: () => ({ rows: [], total: 0 }),
    in_transit: () => [],
    preferences: () => ({ notify_low_stock: false, device_name: 'till-1' }),
    check_for_update: check,
    install_update: () => null,
  });
}

describe('the update check at start', () => {
  test('a newer release is offered in a banner that leads to its notes; nothing installs without asking', async () => {
    const user = userEvent.setup();
    const api = startApp(() => offer);
    render(App);
    const banner = await screen.findByTestId('update-banner');
    expect(banner.textContent).toContain('0.2.0');
    expect(api.of('check_for_update')).toHaveLength(1);
    await user.click(screen.getByTestId('update-banner-open'));
    expect((await screen.findByTestId('update-notes')).textContent).toBe('Faster stock search.');
    expect(screen.queryByTestId('update-banner')).toBeNull();
    expect(api.of('install_update')).toHaveLength(0);
  });

  test('a build without an update key or an unreachable server shows nothing at start', async () => {
    const api = startApp(() => fail('updates_not_configured', 'this build has no update key'));
    render(App);
    await screen.findByTestId('nav-stock');
    await waitFor(() => expect(api.of('check_for_update')).toHaveLength(1));
    expect(screen.queryByTestId('update-banner')).toBeNull();
    expect(screen.queryByTestId('update-error')).toBeNull();
  });

  test('working offline only never asks a server', async () => {
    const api = startApp(() => offer, session('admin', { offline_only: true, server_url: null }));
    render(App);
    await screen.findByTestId('nav-stock');
    expect(api.of('check_for_update')).toHaveLength(0);
  });

  test('"Later" hides the banner for this run', async () => {
    const user = userEvent.setup();
    startApp(() => offer);
    render(App);
    await user.click(await screen.findByTestId('update-banner-later'));
    expect(screen.queryByTestId('update-banner')).toBeNull();
  });
});

describe('updates in settings', () => {
  test('shows the notes, asks before installing, and shows progress', async () => {
    const user = userEvent.setup();
    const api = start(() => null);
    render(Settings);
    await user.click(await screen.findByTestId('update-check'));
    expect((await screen.findByTestId('update-available')).textContent).toContain('0.2.0');
    expect(screen.getByTestId('update-notes').textContent).toBe('Faster stock search.');
    expect(api.of('install_update')).toHaveLength(0);
    await user.click(screen.getByTestId('update-ask'));
    expect(api.of('install_update')).toHaveLength(0);
    await user.click(screen.getByTestId('update-install'));
    expect(api.of('install_update')).toHaveLength(1);
  });

  test('an update whose signature fails is refused with its message', async () => {
    const user = userEvent.setup();
    start(() => fail('update_signature', "the update's signature does not verify; it was not installed"));
    render(Settings);
    await user.click(await screen.findByTestId('update-check'));
    await user.click(await screen.findByTestId('update-ask'));
    await user.click(screen.getByTestId('update-install'));
    expect((await screen.findByTestId('update-error')).textContent).toContain('does not verify');
    expect(screen.getByTestId('update-ask')).toBeTruthy();
  });

  test('progress events show the percentage', async () => {
    const user = userEvent.setup();
    start(() => new Promise<null>(() => undefined) as unknown as null);
    render(Settings);
    await user.click(await screen.findByTestId('update-check'));
    await user.click(await screen.findByTestId('update-ask'));
    await user.click(screen.getByTestId('update-install'));
    await emit('update-progress', { downloaded: 50, total: 200 });
    expect((await screen.findByTestId('update-progress')).textContent).toContain('25 %');
  });
});
