// Svelte attachments for what the strict CSP allows: style properties set through the CSSOM
// (never a `style="…"` attribute or an injected <style>), and element size measurement.

import type { Attachment } from 'svelte/attachments';

/** Sets CSS properties on the element (re-run by Svelte when the values change). */
export function styles(props: Record<string, string>): Attachment<HTMLElement | SVGElement> {
  return (node) => {
    for (const [name, value] of Object.entries(props)) node.style.setProperty(name, value);
  };
}

/** Calls `onHeight` with the element's client height now and whenever it changes. */
export function measureHeight(onHeight: (height: number) => void): Attachment<HTMLElement> {
  return (node) => {
    const report = () => onHeight(node.clientHeight);
    report();
    if (typeof ResizeObserver !== 'undefined') {
      const observer = new ResizeObserver(report);
      observer.observe(node);
      return () => observer.disconnect();
    }
    window.addEventListener('resize', report);
    return () => window.removeEventListener('resize', report);
  };
}
