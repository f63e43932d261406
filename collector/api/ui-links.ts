/**
 * Deep links into the console. Alerts, the API and the CLI link to path routes (`/ui/deviations/7`,
 * collector/links.ts); the UI routes by hash (`/ui/#/deviations/7`) so that it stays static files.
 * A path route that is not a file is redirected to its hash route. The redirect is relative
 * (`../#/deviations/7`), so it works behind a proxy that serves the console under a path prefix.
 */

/** A route segment: letters, digits, `-`, `_` and escapes; never a dot, so files are not routes. */
const SEGMENT = /^[A-Za-z0-9_%-]+$/;
/** The query is copied into the Location header: printable ASCII only. */
const QUERY = /^[\x21-\x7e]*$/;

/** The relative redirect for a UI path route, or null when the request is not one (files stay 404). */
export function uiHashRedirect(method: string, rawUrl: string): string | null {
  if (method !== 'GET' && method !== 'HEAD') return null;
  const q = rawUrl.indexOf('?');
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const query = q === -1 ? '' : rawUrl.slice(q);
  if (!path.startsWith('/ui/') || !QUERY.test(query)) return null;
  const rest = path.slice('/ui/'.length);
  const route = rest.replace(/\/$/, '');
  if (route === '' || !route.split('/').every((s) => SEGMENT.test(s))) return null;
  const depth = rest.split('/').length - 1;
  return `${depth === 0 ? './' : '../'.repeat(depth)}#/${route}${query}`;
}
