/**
 * Talking to a running service over HTTP for the takedown commands: where
 * (--url, else $NCII_MATCH_URL), as whom (--key, else $NCII_MATCH_KEY), and
 * its refusals as one line a person reads.
 */
import { UsageError } from './io.js';

/** How long one request may take; a stalled server must not hold a command for good. */
const REQUEST_TIMEOUT_MS = 60_000;

/** The service said no, or could not be reached: printed as one line, exit status 1. */
export class ServiceCallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServiceCallError';
  }
}

export interface Service {
  base: URL;
  key: string | undefined;
}

export function serviceOf(values: { url?: string; key?: string }): Service {
  const base = values.url ?? process.env.NCII_MATCH_URL ?? 'http://127.0.0.1:3000';
  try {
    return { base: new URL(base), key: values.key ?? process.env.NCII_MATCH_KEY };
  } catch {
    throw new UsageError(`--url is not a URL: "${base}"`);
  }
}

/** One request; resolves with the response of a 2xx answer, throws ServiceCallError with the service's own message otherwise. */
export async function call(service: Service, method: string, path: string, body?: unknown): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(new URL(path, service.base), {
      method,
      headers: { ...(service.key ? { authorization: `Bearer ${service.key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    const { name, message, cause } = err as Error & { cause?: { code?: string; message?: string } };
    const why = name === 'TimeoutError' ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : (cause?.code ?? cause?.message ?? message);
    throw new ServiceCallError(`could not reach ${service.base.origin}: ${why}`);
  }
  if (res.ok) return res;
  const reply = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
  throw new ServiceCallError(reply?.error ? `${reply.error.code}: ${reply.error.message}` : `the service answered ${res.status}`);
}

export async function callJson<T>(service: Service, method: string, path: string, body?: unknown): Promise<T> {
  return (await (await call(service, method, path, body)).json()) as T;
}
