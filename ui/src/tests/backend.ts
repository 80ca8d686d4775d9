// A fake Tauri backend for component tests: real components, IPC answered here through
// `mockIPC`, every call recorded. An unknown command fails the test's expectations loudly.

import { mockIPC, mockWindows } from '@tauri-apps/api/mocks';
import type { AppError } from '../lib/bindings/AppError';
import type { AppStatus } from '../lib/bindings/AppStatus';
import type { InTransit } from '../lib/bindings/InTransit';
import type { Location } from '../lib/bindings/Location';
import type { Permission } from '../lib/bindings/Permission';
import type { Product } from '../lib/bindings/Product';
import type { Role } from '../lib/bindings/Role';
import type { SessionInfo } from '../lib/bindings/SessionInfo';
import type { StockRow } from '../lib/bindings/StockRow';
import type { SyncView } from '../lib/bindings/SyncView';
import type { Movement } from '../lib/bindings/Movement';

export type Args = Record<string, unknown>;
export type Handler = (args: Args) => unknown;

export interface Call {
  cmd: string;
  args: Args;
}

export function backend(handlers: Record<string, Handler>) {
  const calls: Call[] = [];
  mockWindows('main');
  mockIPC(
    (cmd, payload) => {
      const args = (payload ?? {}) as Args;
      calls.push({ cmd, args });
      const handler = handlers[cmd];
      if (!handler) throw { code: 'test', message: `the test backend has no command ${cmd}` } satisfies AppError;
      return handler(args);
    },
    { shouldMockEvents: true },
  );
  return {
    calls,
    of: (cmd: string) => calls.filter((c) => c.cmd === cmd),
  };
}

/** What a failing command rejects with. */
export function fail(code: string, message: string): never {
  throw { code, message } satisfies AppError;
}

const PERMISSIONS: Record<Role, Permission[]> = {
  viewer: [],
  clerk: ['record_movements'],
  manager: ['record_movements', 'record_counts', 'edit_catalog', 'resolve_alerts'],
  admin: ['record_movements', 'record_counts', 'edit_catalog', 'resolve_alerts', 'manage_users'],
};

export function session(role: Role, extra: Partial<SessionInfo> = {}): SessionInfo {
  return {
    server_url: 'https://stock.test:8443',
    username: role,
    user_id: `user-${role}`,
    role,
    permissions: PERMISSIONS[role],
    must_change_password: false,
    offline_only: false,
    ...extra,
  };
}

export function syncView(extra: Partial<SyncView> = {}): SyncView {
  return { state: 'online', reason: null, pending: 0, rejected: 0, last_success_ms: null, cursor: 0, ...extra };
}

export function status(s: SessionInfo | null, extra: Partial<AppStatus> = {}): AppStatus {
  return {
    session: s,
    suggested_server_url: 'https://stock.test:8443',
    suggested_username: null,
    secret_store: 'secret_service',
    device_id: 'device-1',
    version: '0.1.0',
    sync: syncView(),
    ...extra,
  };
}

export const WH1: Location = { id: 'loc-wh1', code: 'WH1', name: 'Main warehouse', kind: 'warehouse', parent_id: null, archived: false };
export const SHOP: Location = { id: 'loc-shop', code: 'SHOP', name: 'Shop', kind: 'store', parent_id: null, archived: false };

export function product(extra: Partial<Product> = {}): Product {
  return {
    id: 'prod-1',
    sku: 'BOLT-10',
    name: 'Hex bolt M10',
    barcode: '4006381333931',
    unit: 'pcs',
    unit_scale: 0,
    reorder_point: 5,
    reorder_qty: 50,
    cost_minor: 12,
    price_minor: 30,
    archived: false,
    negative_stock: null,
    ...extra,
  };
}

export function stockRow(i: number, extra: Partial<StockRow> = {}): StockRow {
  return {
    product_id: `prod-${i}`,
    sku: `SKU-${String(i).padStart(6, '0')}`,
    name: `Product ${i}`,
    barcode: null,
    unit: 'pcs',
    unit_scale: 0,
    location_id: WH1.id,
    location_code: WH1.code,
    on_hand: 10,
    reorder_point: 0,
    ...extra,
  };
}

export function movement(extra: Partial<Movement>): Movement {
  return {
    id: 'mov-1',
    device_id: 'device-1',
    device_seq: 1,
    user_id: 'user-manager',
    kind: 'receive',
    product_id: 'prod-1',
    location_id: WH1.id,
    delta: 1,
    counted_qty: null,
    reason: null,
    note: null,
    ref: null,
    peer_location_id: null,
    occurred_at: 1_700_000_000_000,
    recorded_at: 1_700_000_000_000,
    server_seq: null,
    qty_before: 0,
    qty_after: 1,
    ...extra,
  };
}

/** A promise settled from outside (to answer a command late). */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** 5.00 kg of flour dispatched from WH1 to SHOP, not yet received. */
export function inTransit(extra: Partial<InTransit> = {}): InTransit {
  return {
    transfer_id: 'tr-1',
    product_id: 'prod-2',
    sku: 'FLOUR',
    from_code: 'WH1',
    to_code: 'SHOP',
    quantity: 500,
    unit: 'kg',
    unit_scale: 2,
    dispatched_at: 0,
    ...extra,
  };
}
