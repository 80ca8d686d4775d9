import { emit } from '@tauri-apps/api/event';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, test } from 'vitest';
import Settings from '../screens/Settings.svelte';
import { backend, fail } from './backend';

const offer = { current_version: '0.1.0', version: '0.2.0', notes: 'Faster stock search.' };

function start(install: () => null) {
  return backend({
    preferences: () => ({ notify_low_stock: false, device_name: 'till-1' }),
    check_for_update: () => offer,
    install_update: install,
  });
}

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
