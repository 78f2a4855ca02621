// The TLS side of a download: certificates trusted besides Node's own roots (--ca-certificate,
// the `caCertificate` option) and the switch that checks none (--insecure). They go into the
// connect options of every undici Agent and Client, and of the TLS connection to an https://
// proxy; the lean connection is plain http only.

import { readFileSync } from 'node:fs';
import type { SecureContext } from 'node:tls';
import { InvalidOptionError } from '../errors.js';

export interface TlsOptions {
  /** PEM text of certificates trusted besides the usual roots. */
  ca?: string | undefined;
  /** Accept any certificate. */
  insecure?: boolean | undefined;
}

/** The secure context trusting Node's roots plus `ca`, built once per `ca`. */
const contexts = new Map<string, SecureContext>();

function contextFor(ca: string): SecureContext {
  let context = contexts.get(ca);
  if (!context) {
    // Parsing some 150 root certificates costs tens of ms of CPU (over a second on a loaded
    // machine): once, not at every connection as a `ca` connect option would. node:tls is taken
    // here, not imported: a plain-http command then neither loads it nor lists the roots at
    // start-up (an import reads its `rootCertificates`): 4 million instructions.
    const { createSecureContext, rootCertificates } = process.getBuiltinModule('node:tls');
    context = createSecureContext({ ca: [...rootCertificates, ca] });
    contexts.set(ca, context);
  }
  return context;
}

/** undici's `connect` options (passed on to tls.connect) for `tls`. */
export function tlsConnectOptions(tls: TlsOptions | undefined): {
  secureContext?: SecureContext;
  rejectUnauthorized?: boolean;
} {
  if (!tls) return {};
  return {
    ...(tls.ca ? { secureContext: contextFor(tls.ca) } : {}),
    ...(tls.insecure ? { rejectUnauthorized: false } : {}),
  };
}

const PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * The PEM certificates of the `caCertificate` option: PEM text (a string holding
 * "-----BEGIN CERTIFICATE-----", or a Buffer), else a path to a PEM file. An unreadable file or
 * one without a certificate is an InvalidOptionError.
 */
export function readCaCertificate(value: string | Buffer): string {
  let text: string;
  if (Buffer.isBuffer(value)) text = value.toString('utf8');
  else if (value.includes('-----BEGIN')) text = value;
  else {
    try {
      text = readFileSync(value, 'utf8');
    } catch (cause) {
      throw new InvalidOptionError(
        `cannot read the CA certificate file ${value}: ${String(cause)}`,
        {
          cause,
        },
      );
    }
  }
  const certs = text.match(PEM);
  if (!certs) {
    throw new InvalidOptionError(
      `${Buffer.isBuffer(value) || value.includes('-----BEGIN') ? 'the caCertificate option' : value} holds no PEM certificate`,
    );
  }
  return certs.join('\n');
}

/** A certificate that does not verify (as opposed to a failed handshake). */
export function isCertificateCode(code: string): boolean {
  return code.includes('CERT') || code.startsWith('UNABLE_TO_') || code === 'HOSTNAME_MISMATCH';
}

/** What the message for an untrusted certificate adds: the two ways out. */
export const UNTRUSTED_HINT =
  'to trust it, give its CA certificate with --ca-certificate <file> (caCertificate), or skip the check with --insecure (insecure)';
