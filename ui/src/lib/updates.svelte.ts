// The app's self-update as the user sees it: one state for the start-up check (a banner in the
// shell) and the Settings card (notes, the question before installing, progress, refusals).
// The check, the download and the signature check are the Rust side's (src-tauri/updater.rs);
// this only asks, remembers the answer and never installs without the user's click.

import { api } from './api';
import type { AppError } from './bindings/AppError';
import type { UpdateInfo } from './bindings/UpdateInfo';
import type { UpdateProgress } from './bindings/UpdateProgress';

export type UpdatePhase = 'idle' | 'checking' | 'current' | 'available' | 'confirm' | 'installing';

class Updates {
  phase = $state<UpdatePhase>('idle');
  offer = $state<UpdateInfo | null>(null);
  error = $state<AppError | null>(null);
  progress = $state<UpdateProgress | null>(null);
  /** The banner was closed for this run. */
  dismissed = $state(false);
  private checkedAtStart = false;

  /** Asks the server for a newer release. `quiet`: the start-up check, which shows no error (a
   *  development build has no updater, the server may be unreachable: neither should nag). */
  async check(quiet = false): Promise<void> {
    if (this.phase === 'checking' || this.phase === 'installing') return;
    this.phase = 'checking';
    this.error = null;
    try {
      this.offer = await api.checkForUpdate();
      this.phase = this.offer ? 'available' : 'current';
    } catch (e) {
      if (!quiet) this.error = e as AppError;
      this.phase = 'idle';
    }
  }

  /** The one automatic check of this run, once the app is online. */
  checkAtStart(): void {
    if (this.checkedAtStart) return;
    this.checkedAtStart = true;
    void this.check(true);
  }

  /** Shows the question before installing. */
  ask(): void {
    if (this.offer) this.phase = 'confirm';
  }

  /** Back from the question without installing. */
  notNow(): void {
    if (this.offer) this.phase = 'available';
  }

  /** Downloads, verifies and installs (the user said yes); the app restarts when it worked. */
  async install(): Promise<void> {
    this.phase = 'installing';
    this.error = null;
    this.progress = null;
    try {
      await api.installUpdate();
    } catch (e) {
      this.error = e as AppError;
      this.phase = this.offer ? 'available' : 'idle';
    }
  }

  /** Percentage downloaded, when the server told the size. */
  get percent(): number | null {
    const p = this.progress;
    return p?.total ? Math.min(100, Math.round((p.downloaded / p.total) * 100)) : null;
  }

  /** Back to the start (tests). */
  reset(): void {
    this.phase = 'idle';
    this.offer = null;
    this.error = null;
    this.progress = null;
    this.dismissed = false;
    this.checkedAtStart = false;
  }
}

export const updates = new Updates();
