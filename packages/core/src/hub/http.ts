// HTTP for the hub: requests that follow redirects by hand in Node (to read Hugging Face's
// X-Linked-ETag / X-Linked-Size on the 302 that points LFS files at the CDN, and to drop the token
// when a redirect leaves the origin), typed errors for 404 / 401 / 403, and bounded retries.
import { HubError } from '../errors.js';
import { sha256FromEtag } from './hash.js';
import { isNode } from './env.js';

export interface HttpOptions {
  fetch?: typeof fetch;
  /** Bearer token for the hub (sent only to the origin of the first URL). */
  token?: string;
  /** Abort a request that gets no bytes for this long (ms). */
  timeoutMs: number;
  /** Human name of what is fetched, for errors ('org/name: config.json'). */
  what: string;
  /** Extra hint for 404s (e.g. which repo and revision were asked for). */
  notFoundHint?: string;
}

export interface RemoteInfo {
  /** Final response (body unread), after redirects. */
  response: Response;
  finalUrl: string;
  /** Size from X-Linked-Size or the final Content-Length (identity encoding only). */
  size: number | null;
  /** sha256 from X-Linked-ETag / ETag of any hop, when one holds a sha256. */
  sha256: string | null;
  etag: string | null;
}

const MAX_REDIRECTS = 10;

/** Whether an error is worth retrying (network trouble, 5xx, 408, 429, incomplete or corrupt transfers). */
export function isRetriable(e: unknown): boolean {
  if (!(e instanceof HubError)) return false;
  if (e.status === undefined) return (e as HubError & { retriable?: boolean }).retriable !== false;
  return e.status === 408 || e.status === 429 || e.status >= 500;
}

/** A HubError that retries will not fix (4xx, offline misses, bad options). */
export function fatalHubError(resource: string, problem: string, status?: number, cause?: unknown): HubError {
  const e = new HubError(resource, problem, status, cause);
  (e as HubError & { retriable?: boolean }).retriable = false;
  return e;
}

function statusError(res: Response, url: string, o: HttpOptions): HubError {
  const code = res.headers.get('x-error-code');
  const msg = res.headers.get('x-error-message');
  const detail = [code, msg].filter(Boolean).join(': ');
  const suffix = detail ? ` (${detail})` : '';
  if (res.status === 404) {
    return fatalHubError(o.what, `not found (HTTP 404) at ${url}${suffix}${o.notFoundHint ? `; ${o.notFoundHint}` : ''}`, 404);
  }
  if (res.status === 401 || res.status === 403) {
    const tokenNote = o.token ? 'the token that was sent was refused' : 'no token was sent';
    return fatalHubError(
      o.what,
      `access denied (HTTP ${res.status}) at ${url}${suffix}: the repository may be gated or private (accept its terms on the hub), or may not exist; ${tokenNote}. Pass a token with { token } or the HF_TOKEN environment variable`,
      res.status,
    );
  }
  const e = new HubError(o.what, `HTTP ${res.status} ${res.statusText} at ${url}${suffix}`, res.status);
  if (!isRetriable(e)) (e as HubError & { retriable?: boolean }).retriable = false;
  return e;
}

/**
 * GET or HEAD `url`. Node: redirects are followed by hand (at most 10), collecting X-Linked-* headers;
 * browsers follow them natively. Non-2xx answers become HubErrors (404 and 401/403 with guidance).
 */
export async function request(url: string, method: 'GET' | 'HEAD', o: HttpOptions, signal?: AbortSignal): Promise<RemoteInfo> {
  const f = o.fetch ?? globalThis.fetch;
  if (!f) throw fatalHubError(o.what, 'no fetch() in this environment: pass opts.fetch');
  const origin = new URL(url).origin;
  let current = url;
  let linkedSize: number | null = null;
  let linkedSha: string | null = null;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (o.token && new URL(current).origin === origin) headers.authorization = `Bearer ${o.token}`;
    let res: Response;
    try {
      res = await f(current, { method, headers, redirect: isNode ? 'manual' : 'follow', signal });
    } catch (e) {
      throw new HubError(o.what, `request to ${current} failed: ${(e as Error).message}${(e as { cause?: Error }).cause ? ` (${(e as { cause: Error }).cause.message})` : ''}`, undefined, e);
    }
    const xs = res.headers.get('x-linked-size');
    if (xs && /^\d+$/.test(xs)) linkedSize ??= Number(xs);
    linkedSha ??= sha256FromEtag(res.headers.get('x-linked-etag'));
    if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
      await res.body?.cancel();
      current = new URL(res.headers.get('location')!, current).href;
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw statusError(res, current, o);
    }
    const etag = res.headers.get('etag');
    const identity = !res.headers.get('content-encoding') || res.headers.get('content-encoding') === 'identity';
    const cl = res.headers.get('content-length');
    const length = identity && cl && /^\d+$/.test(cl) ? Number(cl) : null;
    return { response: res, finalUrl: current, size: linkedSize ?? length, sha256: linkedSha ?? sha256FromEtag(etag), etag: res.headers.get('x-linked-etag') ?? etag };
  }
  throw fatalHubError(o.what, `more than ${MAX_REDIRECTS} redirects from ${url}`);
}

/** Runs `attempt` up to 1 + retries times while it fails with a retriable error (short backoff). */
export async function withRetries<T>(retries: number, attempt: (n: number) => Promise<T>): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (e) {
      if (n >= retries || !isRetriable(e)) throw e;
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** n)));
    }
  }
}
