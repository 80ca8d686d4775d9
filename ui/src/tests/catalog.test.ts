import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, test } from 'vitest';
import type { Location } from '../lib/bindings/Location';
import type { NewLocation } from '../lib/bindings/NewLocation';
import type { NewProduct } from '../lib/bindings/NewProduct';
import type { Product as ProductT } from '../lib/bindings/Product';
import type { Role } from '../lib/bindings/Role';
import { app } from '../lib/state.svelte';
import Product from '../screens/Product.svelte';
import Settings from '../screens/Settings.svelte';
import Stock from '../screens/Stock.svelte';
import { backend, fail, product, session, SHOP, syncView, WH1, type Handler } from './backend';

beforeEach(() => {
  app.locations = [WH1, SHOP];
});

/** The product screen of `prod-1` for `role`; `more` adds or replaces commands. */
function productScreen(role: Role, more: Record<string, Handler> = {}) {
  app.session = session(role);
  app.productId = 'prod-1';
  let stored = product();
  const api = backend({
    product_detail: () => ({ product: stored, levels: [] }),
    ledger: () => [],
    update_product: (a) => {
      stored = a.product as ProductT;
      return stored;
    },
    ...more,
  });
  render(Product);
  return api;
}

async function openEditor(user: ReturnType<typeof userEvent.setup>) {
  await user.click(await screen.findByTestId('edit-product'));
  return screen.findByTestId('product-form');
}

describe('product edit form', () => {
  test("the store's validation error is shown beside its field; the corrected save goes through", async () => {
    const user = userEvent.setup();
    const api = productScreen('manager', {
      update_product: (a) => {
        const p = a.product as ProductT;
        if (p.name === '') throw { code: 'invalid', message: 'invalid name: must be 1 to 200 characters (it is empty)', field: 'name' };
        return p;
      },
    });
    const form = await openEditor(user);
    expect(document.activeElement?.id).toBe('pf-sku');
    expect((within(form).getByLabelText('Unit price') as HTMLInputElement).value).toBe('0.30');
    await user.clear(within(form).getByLabelText('Name'));
    await user.click(within(form).getByTestId('save-product'));
    const error = await within(form).findByTestId('field-error');
    expect([error.dataset.field, error.textContent]).toEqual(['name', expect.stringContaining('must be 1 to 200 characters')]);
    expect(within(form).getByLabelText('Name').getAttribute('aria-invalid')).toBe('true');
    expect(api.of('update_product')).toHaveLength(1);

    await user.type(within(form).getByLabelText('Name'), 'Hex bolt M10 zinc');
    const price = within(form).getByLabelText('Unit price');
    await user.clear(price);
    await user.type(price, '0,45{Enter}');
    await waitFor(() => expect(screen.queryByTestId('product-form')).toBeNull());
    const sent = api.of('update_product')[1]!.args.product as ProductT;
    expect(sent).toEqual({ ...product(), name: 'Hex bolt M10 zinc', price_minor: 45 });
    expect(screen.getByTestId('product-price').textContent).toBe('0.45');
    expect(screen.getByTestId('product-title').textContent).toBe('Hex bolt M10 zinc');
    expect(screen.getByTestId('product-saved').textContent).toContain('next sync');
  });

  test('an error naming a field marks that field and says why', async () => {
    const user = userEvent.setup();
    productScreen('manager', {
      update_product: () => {
        throw { code: 'duplicate', message: 'sku "NUT-8" is already used by another product; choose another sku', field: 'sku' };
      },
    });
    const form = await openEditor(user);
    const sku = within(form).getByLabelText('SKU');
    await user.clear(sku);
    await user.type(sku, 'NUT-8{Enter}');
    const error = await within(form).findByTestId('field-error');
    expect(error.dataset.field).toBe('sku');
    expect(error.textContent).toContain('choose another sku');
    expect(sku.getAttribute('aria-invalid')).toBe('true');
    expect(within(form).queryByTestId('form-error')).toBeNull();
    // Typing in the field clears its mark.
    await user.type(sku, 'X');
    expect(within(form).queryByTestId('field-error')).toBeNull();
  });

  test('an amount that is not a number is refused before anything is sent', async () => {
    const user = userEvent.setup();
    const api = productScreen('admin');
    const form = await openEditor(user);
    const cost = within(form).getByLabelText('Unit cost');
    await user.clear(cost);
    await user.type(cost, '12.5.0');
    const point = within(form).getByLabelText('Reorder point');
    await user.clear(point);
    await user.type(point, '2.5');
    await user.click(within(form).getByTestId('save-product'));
    const errors = within(form).getAllByTestId('field-error');
    expect(errors.map((e) => e.dataset.field).sort()).toEqual(['cost', 'reorder_point']);
    expect(errors.find((e) => e.dataset.field === 'reorder_point')?.textContent).toContain('whole units');
    expect(api.of('update_product')).toHaveLength(0);
  });

  test('archiving and the negative-stock override are saved; Escape cancels without saving', async () => {
    const user = userEvent.setup();
    const api = productScreen('manager');
    await openEditor(user);
    await user.keyboard('{Escape}');
    await waitFor(() => expect(screen.queryByTestId('product-form')).toBeNull());
    expect(api.of('update_product')).toHaveLength(0);

    const form = await openEditor(user);
    await user.selectOptions(within(form).getByLabelText('Negative stock'), 'allow');
    await user.click(within(form).getByLabelText(/Archived/));
    await user.click(within(form).getByTestId('save-product'));
    await waitFor(() => expect(api.of('update_product')).toHaveLength(1));
    expect(api.of('update_product')[0]!.args.product).toEqual({ ...product(), negative_stock: 'allow', archived: true });
  });

  test('a refusal by role is shown as not allowed', async () => {
    const user = userEvent.setup();
    productScreen('manager', {
      update_product: () => fail('forbidden', 'editing the catalog is not allowed for the clerk role; ask a manager'),
    });
    const form = await openEditor(user);
    await user.click(within(form).getByTestId('save-product'));
    expect((await within(form).findByTestId('form-error')).textContent).toContain('Not allowed.');
  });

  test('a sync that changed the product shows its new details without reloading the history', async () => {
    let price = 30;
    const api = productScreen('clerk', { product_detail: () => ({ product: product({ price_minor: price }), levels: [] }) });
    expect((await screen.findByTestId('product-price')).textContent).toBe('0.30');
    price = 700;
    app.sync = syncView({ cursor: 9 });
    await waitFor(() => expect(screen.getByTestId('product-price').textContent).toBe('7.00'));
    expect(api.of('product_detail')).toHaveLength(2);
    expect(api.of('ledger')).toHaveLength(1);
  });

  test.each(['clerk', 'viewer'] as const)('a %s sees the product but no Edit', async (role) => {
    productScreen(role);
    expect(await screen.findByTestId('product-title')).toBeTruthy();
    expect(screen.queryByTestId('edit-product')).toBeNull();
  });

  test('a clerk sees no New product and no location actions', async () => {
    app.session = session('clerk');
    backend({ stock_page: () => ({ rows: [], total: 0, total_exact: true }), preferences: () => ({ notify_low_stock: false, device_name: 'till' }) });
    render(Stock);
    await screen.findByTestId('stock-total');
    expect(screen.queryByTestId('new-product')).toBeNull();
    render(Settings);
    expect((await screen.findAllByTestId('location-row')).map((r) => r.dataset.code)).toEqual(['WH1', 'SHOP']);
    expect(screen.queryByTestId('new-location')).toBeNull();
    expect(screen.queryByTestId('edit-location')).toBeNull();
  });
});

describe('new product', () => {
  test('a manager creates a product from the Stock toolbar and lands on it', async () => {
    const user = userEvent.setup();
    app.session = session('manager');
    const api = backend({
      stock_page: () => ({ rows: [], total: 0, total_exact: true }),
      create_product: (a) => {
        const p = a.product as NewProduct;
        return { ...p, id: 'prod-new', archived: false } satisfies ProductT;
      },
    });
    render(Stock);
    await user.click(await screen.findByTestId('new-product'));
    const form = await screen.findByTestId('product-form');
    expect(within(form).queryByLabelText(/Archived/)).toBeNull();
    await user.type(within(form).getByLabelText('SKU'), 'ROPE-6');
    await user.type(within(form).getByLabelText('Name'), ' Rope 6 mm ');
    await user.selectOptions(within(form).getByLabelText('Quantities'), '2');
    await user.type(within(form).getByLabelText(/Barcode/), '4006381333900');
    const point = within(form).getByLabelText('Reorder point');
    await user.clear(point);
    await user.type(point, '12.5');
    const price = within(form).getByLabelText('Unit price');
    await user.clear(price);
    await user.type(price, '1.99{Enter}');
    await waitFor(() => expect(app.screen).toBe('product'));
    expect(app.productId).toBe('prod-new');
    expect(api.of('create_product')[0]!.args.product).toEqual({
      sku: 'ROPE-6',
      name: 'Rope 6 mm',
      barcode: '4006381333900',
      unit: 'pcs',
      unit_scale: 2,
      reorder_point: 1250,
      reorder_qty: 0,
      cost_minor: 0,
      price_minor: 199,
      negative_stock: null,
    } satisfies NewProduct);
  });
});

describe('locations in Settings', () => {
  test('a manager creates a location and edits another; the pickers reload', async () => {
    const user = userEvent.setup();
    app.session = session('manager');
    let locations: Location[] = [WH1, SHOP];
    const api = backend({
      preferences: () => ({ notify_low_stock: false, device_name: 'office' }),
      catalog: () => ({ locations }),
      create_location: (a) => {
        const l = { ...(a.location as NewLocation), id: 'loc-van', archived: false };
        if (l.code === 'WH1') {
          throw { code: 'duplicate', message: 'code "WH1" is already used by another location; choose another code', field: 'code' };
        }
        locations = [...locations, l];
        return l;
      },
      update_location: (a) => {
        const l = a.location as Location;
        locations = locations.map((x) => (x.id === l.id ? l : x));
        return l;
      },
    });
    render(Settings);
    await user.click(await screen.findByTestId('new-location'));
    let form = await screen.findByTestId('location-form');
    await user.type(within(form).getByLabelText('Code'), 'WH1');
    await user.type(within(form).getByLabelText('Name'), 'Van 1');
    await user.selectOptions(within(form).getByLabelText('Kind'), 'vehicle');
    await user.click(within(form).getByTestId('save-location'));
    const error = await within(form).findByTestId('field-error');
    expect([error.dataset.field, error.textContent]).toEqual(['code', expect.stringContaining('choose another code')]);
    const code = within(form).getByLabelText('Code');
    await user.clear(code);
    await user.type(code, 'VAN1{Enter}');
    await waitFor(() => expect(screen.getAllByTestId('location-row').map((r) => r.dataset.code)).toContain('VAN1'));
    expect(api.of('create_location')[1]!.args.location).toEqual({ code: 'VAN1', name: 'Van 1', kind: 'vehicle', parent_id: null });

    const shopRow = screen.getAllByTestId('location-row').find((r) => r.dataset.code === 'SHOP')!;
    await user.click(within(shopRow).getByTestId('edit-location'));
    form = await screen.findByTestId('location-form');
    expect(within(form).queryByRole('option', { name: /^SHOP/ })).toBeNull();
    await user.selectOptions(within(form).getByLabelText('Inside'), WH1.id);
    await user.click(within(form).getByLabelText(/Archived/));
    await user.click(within(form).getByTestId('save-location'));
    await waitFor(() => expect(api.of('update_location')).toHaveLength(1));
    expect(api.of('update_location')[0]!.args.location).toEqual({ ...SHOP, parent_id: WH1.id, archived: true });
    await waitFor(() => expect(app.locations.find((l) => l.id === SHOP.id)?.archived).toBe(true));
  });
});
