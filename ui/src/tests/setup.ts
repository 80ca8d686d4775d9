import { clearMocks } from '@tauri-apps/api/mocks';
import { cleanup, configure } from '@testing-library/svelte';
import { afterEach } from 'vitest';
import { app } from '../lib/state.svelte';

// The machine is shared with Rust builds: give findBy/waitFor room before calling it a failure.
configure({ asyncUtilTimeout: 5000 });

afterEach(() => {
  // Unmount first: the components' event listeners unregister through the mocked IPC.
  cleanup();
  clearMocks();
  app.reset();
});
