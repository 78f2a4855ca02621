// addMetalink's document: base64 text of a .meta4 or .metalink file (as aria2 takes it), read
// into the downloads it names.

import { isQgetError, type MetalinkDownload, readMetalink } from '../index.js';
import { METHOD_ERROR, RpcError, stringParam } from './protocol.js';

/** The downloads of the base64 Metalink document at `params[index]`. */
export async function metalinkParam(params: unknown[], index: number): Promise<MetalinkDownload[]> {
  const text = stringParam(params, index, true)!.replace(/\s+/g, '');
  const bytes = Buffer.from(text, 'base64');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || bytes.length === 0) {
    throw new RpcError(METHOD_ERROR, 'The Metalink document is not given as base64 text.');
  }
  try {
    return await readMetalink(bytes.toString('utf8'));
  } catch (err) {
    if (!isQgetError(err)) throw err;
    throw new RpcError(METHOD_ERROR, `Cannot read the Metalink document: ${err.message}`);
  }
}
