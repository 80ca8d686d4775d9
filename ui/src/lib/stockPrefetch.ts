// The stock table's first page, asked for at start-up together with the app status: after a
// resumed session the Stock screen comes first, so its rows are read while the status is on
// its way instead of after it. App.svelte starts it and hands it down through the component
// context; the Stock screen takes it once if its first query is the one prefetched. A Stock
// screen without it (component tests, later visits) asks as usual.

import { getContext, setContext } from 'svelte';
import { api } from './api';
import type { StockPage } from './bindings/StockPage';
import type { StockQuery } from './bindings/StockQuery';

const KEY = Symbol('stock-prefetch');

export interface StockPrefetch {
  /** The prefetched answer if `query` is the query prefetched (once), else null. */
  take(query: StockQuery): Promise<StockPage> | null;
  /** Forgets it (no session: the sign-in screen comes first, the data may change before). */
  drop(): void;
}

function sameQuery(a: StockQuery, b: StockQuery): boolean {
  const keys = Object.keys(a) as (keyof StockQuery)[];
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** Asks for `query` now and offers the answer to the Stock screen (call during component init). */
export function startStockPrefetch(query: StockQuery): StockPrefetch {
  let answer: Promise<StockPage> | null = api.stockPage(query);
  // A failure is shown by the Stock screen if it takes this answer; nothing to report before.
  answer.catch(() => {});
  const prefetch: StockPrefetch = {
    take(asked) {
      const found = answer !== null && sameQuery(asked, query) ? answer : null;
      answer = null;
      return found;
    },
    drop() {
      answer = null;
    },
  };
  setContext(KEY, prefetch);
  return prefetch;
}

/** The start-up prefetch offered by an enclosing App, if any (call during component init). */
export function stockPrefetch(): StockPrefetch | undefined {
  return getContext<StockPrefetch | undefined>(KEY);
}
