/**
 * Which certificate authorities the webhook trusts. With no extra CA configured we pass nothing
 * and Node uses its default store (its bundled roots plus NODE_EXTRA_CA_CERTS). Passing `ca` to a
 * TLS request *replaces* that store, so when an extra CA is configured we rebuild the default set
 * first: `tls.getCACertificates('default')` where it exists (newer Node), otherwise Node 20's
 * `tls.rootCertificates` plus the NODE_EXTRA_CA_CERTS file, read by hand.
 */
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';

type GetCaCertificates = (type?: 'default' | 'bundled' | 'system' | 'extra') => string[];

async function defaultStore(env: NodeJS.ProcessEnv): Promise<string[]> {
  const getCaCertificates = (tls as unknown as { getCACertificates?: GetCaCertificates }).getCACertificates;
  if (typeof getCaCertificates === 'function') return getCaCertificates('default');
  const store = [...tls.rootCertificates];
  const extraFile = env.NODE_EXTRA_CA_CERTS;
  if (extraFile) {
    try {
      store.push(await readFile(extraFile, 'utf8'));
    } catch {
      // Node itself only warns about an unreadable NODE_EXTRA_CA_CERTS; do the same (ignore).
    }
  }
  return store;
}

/**
 * The `ca` option for TLS requests: undefined (Node's default store) when nothing extra is
 * configured, else the default store plus the given PEM texts and files. Throws if a file
 * cannot be read.
 */
export async function trustedCas(
  extraPem: readonly string[],
  extraFiles: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<string[] | undefined> {
  if (extraPem.length === 0 && extraFiles.length === 0) return undefined;
  const files = await Promise.all(extraFiles.map((file) => readFile(file, 'utf8')));
  return [...(await defaultStore(env)), ...extraPem, ...files];
}
