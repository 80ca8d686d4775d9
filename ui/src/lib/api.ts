// One typed wrapper per Tauri command (src-tauri/commands.rs) and typed listeners for the events
// the shell sends (src-tauri/lib.rs). Tauri turns the Rust argument names into camelCase on
// this side (`server_url` → `serverUrl`); the structs inside (`query`, `intent`) keep their
// snake_case fields. Every failure reaches the caller as an `AppError {code, message}`.

import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type { AlertId } from './bindings/AlertId';
import type { AlertView } from './bindings/AlertView';
import type { AppError } from './bindings/AppError';
import type { AppStatus } from './bindings/AppStatus';
import type { Catalog } from './bindings/Catalog';
import type { CatalogChange } from './bindings/CatalogChange';
import type { CatalogNotice } from './bindings/CatalogNotice';
import type { CountPreview } from './bindings/CountPreview';
import type { CsvKind } from './bindings/CsvKind';
import type { HistoryRow } from './bindings/HistoryRow';
import type { ImportProgressEvent } from './bindings/ImportProgressEvent';
import type { ImportReport } from './bindings/ImportReport';
import type { InTransit } from './bindings/InTransit';
import type { LedgerQuery } from './bindings/LedgerQuery';
import type { Location } from './bindings/Location';
import type { LocationId } from './bindings/LocationId';
import type { MovementId } from './bindings/MovementId';
import type { UpdateInfo } from './bindings/UpdateInfo';
import type { UpdateProgress } from './bindings/UpdateProgress';
import type { MovementIntent } from './bindings/MovementIntent';
import type { NewLocation } from './bindings/NewLocation';
import type { NewProduct } from './bindings/NewProduct';
import type { Preferences } from './bindings/Preferences';
import type { Product } from './bindings/Product';
import type { ProductDetail } from './bindings/ProductDetail';
import type { ProductId } from './bindings/ProductId';
import type { RecordedView } from './bindings/RecordedView';
import type { RejectedMovement } from './bindings/RejectedMovement';
import type { ReorderRow } from './bindings/ReorderRow';
import type { SessionInfo } from './bindings/SessionInfo';
import type { StockPage } from './bindings/StockPage';
import type { StockQuery } from './bindings/StockQuery';
import type { SyncView } from './bindings/SyncView';

/** Whatever a command rejected with, as an `AppError`. */
export function toAppError(e: unknown): AppError {
  if (typeof e === 'object' && e !== null && 'message' in e) {
    const o = e as { code?: unknown; message: unknown; field?: unknown };
    const error: AppError = { code: typeof o.code === 'string' ? o.code : 'app', message: String(o.message) };
    if (typeof o.field === 'string') error.field = o.field;
    return error;
  }
  if (typeof e === 'string') return { code: 'app', message: e };
  return { code: 'app', message: 'Something went wrong' };
}

/** Calls a command; a rejection becomes an `AppError`. */
async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toAppError(e);
  }
}

export const api = {
  appStatus: () => call<AppStatus>('app_status'),
  signIn: (serverUrl: string, username: string, password: string) =>
    call<SessionInfo>('sign_in', { serverUrl, username, password }),
  changePassword: (current: string, next: string) => call<SessionInfo>('change_password', { current, new: next }),
  workOffline: () => call<SessionInfo>('work_offline'),
  signOut: () => call<null>('sign_out'),
  syncNow: () => call<SyncView>('sync_now'),
  stockPage: (query: StockQuery) => call<StockPage>('stock_page', { query }),
  catalog: () => call<Catalog>('catalog'),
  findProduct: (code: string) => call<Product>('find_product', { code }),
  productDetail: (productId: ProductId) => call<ProductDetail>('product_detail', { productId }),
  ledger: (query: LedgerQuery) => call<HistoryRow[]>('ledger', { query }),
  inTransit: () => call<InTransit[]>('in_transit'),
  reorderSuggestions: () => call<ReorderRow[]>('reorder_suggestions'),
  recordMovement: (intent: MovementIntent) => call<RecordedView>('record_movement', { intent }),
  countPreview: (productId: ProductId, locationId: LocationId, counted: number) =>
    call<CountPreview>('count_preview', { productId, locationId, counted }),
  alerts: () => call<AlertView[]>('alerts'),
  resolveAlert: (alertId: AlertId) => call<null>('resolve_alert', { alertId }),
  rejectedMovements: () => call<RejectedMovement[]>('rejected_movements'),
  checkForUpdate: () => call<UpdateInfo | null>('check_for_update'),
  installUpdate: () => call<null>('install_update'),
  voidRejected: (movementId: MovementId) => call<null>('void_rejected', { movementId }),
  catalogAudit: (entityId: string | null, limit: number, offset: number) =>
    call<CatalogChange[]>('catalog_audit', { entityId, limit, offset }),
  exportCsv: (kind: CsvKind, path: string) => call<number>('export_csv', { kind, path }),
  importCsv: (kind: CsvKind, path: string, dryRun: boolean, skipBadRows: boolean) =>
    call<ImportReport>('import_csv', { kind, path, dryRun, skipBadRows }),
  preferences: () => call<Preferences>('preferences'),
  setPreferences: (preferences: Preferences) => call<Preferences>('set_preferences', { preferences }),
  createProduct: (product: NewProduct) => call<Product>('create_product', { product }),
  updateProduct: (product: Product) => call<Product>('update_product', { product }),
  createLocation: (location: NewLocation) => call<Location>('create_location', { location }),
  updateLocation: (location: Location) => call<Location>('update_location', { location }),
  catalogNotices: () => call<CatalogNotice[]>('catalog_notices'),
  dismissCatalogNotice: (noticeId: string) => call<null>('dismiss_catalog_notice', { noticeId }),
};

/** Listens to the sync indicator's updates. */
export function onSyncStatus(handler: (view: SyncView) => void): Promise<UnlistenFn> {
  return listen<SyncView>('sync-status', (e) => handler(e.payload));
}

/** Listens to an import's progress. */
export function onImportProgress(handler: (progress: ImportProgressEvent) => void): Promise<UnlistenFn> {
  return listen<ImportProgressEvent>('import-progress', (e) => handler(e.payload));
}

/** Listens to clicks on an alert's OS notification. */
export function onOpenAlert(handler: (alertId: AlertId) => void): Promise<UnlistenFn> {
  return listen<AlertId>('open-alert', (e) => handler(e.payload));
}

/** `update-progress`: bytes of the update downloaded so far. */
export function onUpdateProgress(handler: (progress: UpdateProgress) => void): Promise<UnlistenFn> {
  return listen<UpdateProgress>('update-progress', (e) => handler(e.payload));
}

/** Runs `subscribe` now and returns a cleanup that also works before the listener is ready. */
export function subscription(subscribe: () => Promise<UnlistenFn>): () => void {
  let stopped = false;
  let unlisten: UnlistenFn | null = null;
  subscribe()
    .then((fn) => {
      if (stopped) fn();
      else unlisten = fn;
    })
    .catch(() => {
      // No event bridge (e.g. a plain browser): the screens still work by polling their commands.
    });
  return () => {
    stopped = true;
    unlisten?.();
  };
}
