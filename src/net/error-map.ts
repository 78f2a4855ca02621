// How a failure below qget (undici, a socket, TLS, DNS, our own lean connection) becomes a
// QgetError: timeouts, TLS and unresolvable hosts are named; other socket-level failures are
// transient, Node's own ERR_* usage errors are not.

import { AbortError, errorCode, NetworkError, QgetError, TimeoutError } from '../errors.js';
import { isCertificateCode, UNTRUSTED_HINT } from './tls.js';
import { MAX_HEAD_BYTES } from './headers.js';

/**
 * ERR_* codes worth another try: range-connection.ts's own. Node's ERR_* codes are usage errors
 * and are not; every other code (ECONNRESET, EPIPE, UND_ERR_SOCKET, HPE_* …) is (toQgetError).
 */
const TRANSIENT_ERR_CODES = new Set(['ERR_QGET_SOCKET_CLOSED', 'ERR_QGET_PROTOCOL']);

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  // From range-connection.ts.
  'ERR_QGET_HEADERS_TIMEOUT',
]);

/** One sentence per kind of timeout (undici's own message adds nothing to it). */
function timeoutMessage(code: string, url: string, detail: string): string {
  const host = new URL(url).host;
  if (code === 'ERR_QGET_HEADERS_TIMEOUT') return detail; // "no answer from <host> in N s"
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return `connecting to ${host} timed out`;
  if (code === 'UND_ERR_BODY_TIMEOUT') return `${host} stopped sending data (timed out)`;
  return `no answer from ${host} in time`;
}

function isTlsCode(code: string): boolean {
  return (
    code.startsWith('ERR_TLS') ||
    code.startsWith('ERR_SSL') ||
    code.startsWith('CERT_') ||
    code.includes('CERT') ||
    code.startsWith('UNABLE_TO_') ||
    code === 'HOSTNAME_MISMATCH'
  );
}

/** Map anything thrown while sending a request or reading a body to a QgetError. */
export function toQgetError(
  err: unknown,
  url: string,
  signal?: AbortSignal | undefined,
): QgetError {
  if (err instanceof QgetError) return err;
  if (signal?.aborted) {
    const reason = signal.reason;
    return reason instanceof QgetError ? reason : new AbortError(undefined, { cause: reason });
  }
  const code = errorCode(err);
  if (code === 'UND_ERR_ABORTED') return new AbortError(undefined, { cause: err });
  const detail = err instanceof Error ? err.message : String(err);
  if (code === 'UND_ERR_HEADERS_OVERFLOW' || code === 'ERR_QGET_HEADERS_OVERFLOW') {
    return new NetworkError(
      `the server sent more than ${MAX_HEAD_BYTES / 1024} KiB of response headers (${new URL(url).host})`,
      { cause: err, transient: false },
    );
  }
  if (code && TIMEOUT_CODES.has(code))
    return new TimeoutError(timeoutMessage(code, url, detail), { cause: err });
  if (code && isCertificateCode(code)) {
    return new NetworkError(
      `TLS: the certificate of ${new URL(url).host} is not trusted (${detail}); ${UNTRUSTED_HINT}`,
      { cause: err, transient: false },
    );
  }
  if (code && isTlsCode(code)) {
    return new NetworkError(`TLS error talking to ${new URL(url).host}: ${detail}`, {
      cause: err,
      transient: false,
    });
  }
  if (code === 'ENOTFOUND') {
    return new NetworkError(`cannot resolve host ${new URL(url).hostname}`, {
      cause: err,
      transient: false,
    });
  }
  if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
    return new NetworkError(
      `${new URL(url).host} closed the connection before the end of its answer (fewer bytes than its Content-Length)`,
      { cause: err },
    );
  }
  // Unknown socket-level failures are worth another try; Node's own ERR_* usage errors are not.
  const transient = code === undefined || !code.startsWith('ERR_') || TRANSIENT_ERR_CODES.has(code);
  return new NetworkError(`connection to ${new URL(url).host} failed: ${code ?? detail}`, {
    cause: err,
    transient,
  });
}
