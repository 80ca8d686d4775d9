// The app-wide state in runes: the session, the sync indicator, the current screen, the
// locations for pickers and the inbox count. Screens read and change it through `app`.

import { api } from './api';
import type { AlertId } from './bindings/AlertId';
import type { AppStatus } from './bindings/AppStatus';
import type { Location } from './bindings/Location';
import type { LocationId } from './bindings/LocationId';
import type { StockFilter } from './bindings/StockFilter';
import type { StockSort } from './bindings/StockSort';
import type { Permission } from './bindings/Permission';
import type { ProductId } from './bindings/ProductId';
import type { SessionInfo } from './bindings/SessionInfo';
import type { SyncView } from './bindings/SyncView';

/** The Stock screen's view, kept while another screen is shown. */
export interface StockView {
  search: string;
  locationId: LocationId | '';
  filter: StockFilter;
  sort: StockSort;
  descending: boolean;
  scrollTop: number;
  active: number;
}

/** What the Record screen keeps between visits (a clerk records at the same place all day). */
export interface RecordDefaults {
  kind: RecordKind;
  locationId: LocationId | '';
  toLocationId: LocationId | '';
}

export type RecordKind = 'receive' | 'issue' | 'adjust' | 'transfer' | 'dispatch' | 'receive_transfer' | 'count' | 'void';

const stockView = (): StockView => ({
  search: '',
  locationId: '',
  filter: 'all',
  sort: 'sku',
  descending: false,
  scrollTop: 0,
  active: -1,
});

const recordDefaults = (): RecordDefaults => ({ kind: 'receive', locationId: '', toLocationId: '' });

export type Screen = 'stock' | 'product' | 'record' | 'alerts' | 'audit' | 'import' | 'settings';

/** What the Record screen starts with when opened from another screen. */
export interface RecordPreset {
  code: string;
  locationId: string | null;
}

/** The screens in the left navigation, in Alt+1..6 order. */
export const NAV: { screen: Screen; label: string }[] = [
  { screen: 'stock', label: 'Stock' },
  { screen: 'record', label: 'Record' },
  { screen: 'alerts', label: 'Alerts & conflicts' },
  { screen: 'audit', label: 'Audit' },
  { screen: 'import', label: 'Import' },
  { screen: 'settings', label: 'Settings' },
];

class AppState {
  status = $state<AppStatus | null>(null);
  session = $state<SessionInfo | null>(null);
  sync = $state<SyncView | null>(null);
  screen = $state<Screen>('stock');
  productId = $state<ProductId | null>(null);
  productFrom = $state<Screen>('stock');
  highlightAlert = $state<AlertId | null>(null);
  openAlerts = $state(0);
  /** Catalog notices not dismissed (edits that lost, rows created twice). */
  catalogNotices = $state(0);
  locations = $state<Location[]>([]);
  recordPreset = $state<RecordPreset | null>(null);
  /** The sign-in form is shown again over a session the server ended. */
  reauth = $state(false);
  /** Plain (not reactive): read when a screen mounts, written when it unmounts. */
  stockView: StockView = stockView();
  recordDefaults: RecordDefaults = recordDefaults();

  /** Whether the session's role allows `permission`. */
  can(permission: Permission): boolean {
    return this.session?.permissions.includes(permission) ?? false;
  }

  /** Whether the role may record anything at all. */
  get mayRecord(): boolean {
    return this.can('record_movements') || this.can('record_counts');
  }

  /** Whether the role may import anything. */
  get mayImport(): boolean {
    return this.can('record_movements') || this.can('edit_catalog');
  }

  /** Whether `screen` is shown to this role. */
  allowed(screen: Screen): boolean {
    if (screen === 'record') return this.mayRecord;
    if (screen === 'import') return this.mayImport;
    return true;
  }

  go(screen: Screen): void {
    if (this.allowed(screen)) this.screen = screen;
  }

  openProduct(id: ProductId): void {
    if (this.screen !== 'product') this.productFrom = this.screen;
    this.productId = id;
    this.screen = 'product';
  }

  /** Opens the inbox on one alert (a click on its OS notification). */
  openAlert(id: AlertId): void {
    this.highlightAlert = id;
    this.screen = 'alerts';
  }

  /** Takes a start-up status (or a fresh one after sign-in). */
  applyStatus(status: AppStatus): void {
    this.status = status;
    this.session = status.session;
    this.sync = status.sync;
  }

  async refreshStatus(): Promise<void> {
    this.applyStatus(await api.appStatus());
  }

  /** Reloads the locations for pickers and filters. */
  async loadCatalog(): Promise<void> {
    try {
      const c = await api.catalog();
      this.locations = c.locations;
    } catch {
      // Kept as they were; the screens that need them show their own errors.
    }
  }

  /** Whether the role may create and edit products and locations. */
  get mayEditCatalog(): boolean {
    return this.can('edit_catalog');
  }

  /** Recounts the inbox (open alerts and catalog notices; rejected movements come with the sync
   *  indicator). A count that cannot be read keeps its last value. */
  async refreshAlertCount(): Promise<void> {
    const [alerts, notices] = await Promise.allSettled([api.alerts(), api.catalogNotices()]);
    if (alerts.status === 'fulfilled') this.openAlerts = alerts.value.length;
    if (notices.status === 'fulfilled') this.catalogNotices = notices.value.length;
  }

  /** Locations that still take movements. */
  get activeLocations(): Location[] {
    return this.locations.filter((l) => !l.archived);
  }

  reset(): void {
    this.status = null;
    this.session = null;
    this.sync = null;
    this.screen = 'stock';
    this.productId = null;
    this.productFrom = 'stock';
    this.highlightAlert = null;
    this.openAlerts = 0;
    this.catalogNotices = 0;
    this.locations = [];
    this.recordPreset = null;
    this.reauth = false;
    this.stockView = stockView();
    this.recordDefaults = recordDefaults();
  }
}

export const app = new AppState();
