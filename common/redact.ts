/**
 * Credentials that ride in URLs (`https://user:password@host`, `?token=…`, Slack's secret path)
 * must never be shown: not in logs, errors, /readyz, the CLI or the API. A URL is shown as its
 * origin and path with the userinfo and every query value replaced; text that may hold URLs
 * (an error message from a library, a log line) has each URL in it treated the same way.
 */
export const REDACTED = '<redacted>';

/** The URL with userinfo and query values replaced; `<invalid url>` when it does not parse. */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '<invalid url>';
  }
  const userinfo = u.username || u.password ? `${REDACTED}@` : '';
  const query = [...u.searchParams.keys()].map((k) => `${encodeURIComponent(k)}=${REDACTED}`).join('&');
  return `${u.protocol}//${userinfo}${u.host}${u.pathname}${query ? `?${query}` : ''}`;
}

/** Userinfo (up to the last `@` of the authority) and query values of every URL in the text. */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*@/gi;
const URL_QUERY = /\b([a-z][a-z0-9+.-]*:\/\/[^\s?#]*\?)([^\s#]*)/gi;

export function redactUrlsIn(text: string): string {
  return text
    .replace(URL_USERINFO, `$1${REDACTED}@`)
    .replace(URL_QUERY, (_m, head: string, query: string) => head + query.split('&').map((pair) => (pair.includes('=') ? `${pair.slice(0, pair.indexOf('='))}=${REDACTED}` : pair)).join('&'));
}

/**
 * Every form in which a URL's credentials can come back in a receiver's answer: raw and decoded
 * userinfo and query values, and the `Basic` credentials Node sends for a URL with userinfo.
 * For `redact` in collector/sinks/http.ts, which removes them from failure reasons.
 */
export function urlCredentials(u: URL): string[] {
  const out: string[] = [];
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  if (u.username || u.password) {
    const user = decode(u.username);
    const password = decode(u.password);
    out.push(u.username, u.password, user, password, `${user}:${password}`, Buffer.from(`${user}:${password}`).toString('base64'));
  }
  if (u.search) out.push(u.search, u.search.slice(1));
  for (const pair of u.search.slice(1).split('&')) {
    const value = pair.slice(pair.indexOf('=') + 1);
    if (pair.includes('=')) out.push(value, decode(value.replace(/\+/g, ' ')));
  }
  if (u.pathname !== '/') out.push(u.pathname, ...u.pathname.split('/').filter((p) => p.length >= 8));
  return out.filter((s) => s.length > 0);
}
