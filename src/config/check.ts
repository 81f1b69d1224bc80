/**
 * What `check-config` checks beyond the schema: the things on this machine that
 * would make the agent fail (or, worse, run and do nothing) once started.
 * Local and fast: it reads the filesystem only, never the network.
 *
 * - `till.dir` must exist (`tillDirProblem`, which the running agent asks too);
 * - a folder transport's `transport.dir` must exist (a share not mounted);
 * - `dataDir` and `log.dir`, when they exist, must be folders (the agent creates them);
 * - `transport.tls.caFile` must be readable and hold PEM certificates (not a
 *   private key, not DER).
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, type Stats } from 'node:fs';
import type { ConfigProblem } from './problem.js';
import type { Config } from './schema.js';

export function checkOnDisk(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const multi = config.exchanges.length > 1;
  config.exchanges.forEach((ex, i) => {
    const at = multi ? `exchanges.${i}.` : '';
    const till = tillDirProblem(ex.till.dir);
    if (till) problems.push({ path: `${at}till.dir`, message: till });
    mayBeFolder(problems, `${at}dataDir`, ex.dataDir);
    const t = ex.transport;
    if (t.type === 'folder') mustBeFolder(problems, `${at}transport.dir`, t.dir, 'the exchange share: mount it or create it, or fix the path');
    else if (t.tls.caFile !== undefined) {
      const p = pemCertificateProblem(t.tls.caFile);
      if (p) problems.push({ path: `${at}transport.tls.caFile`, message: p });
    }
  });
  if (config.log.dir !== undefined) mayBeFolder(problems, 'log.dir', config.log.dir);
  return problems;
}

function statOf(path: string): Stats | NodeJS.ErrnoException {
  try {
    return statSync(path) as Stats;
  } catch (e) {
    return e as NodeJS.ErrnoException;
  }
}

/**
 * Why Kassir's exchange folder cannot be used, or undefined. The running agent
 * asks the same before it starts an exchange (agent.ts): it never creates the
 * folder itself, which would have it watch an empty folder forever while Kassir
 * writes somewhere else.
 */
export function tillDirProblem(dir: string): string | undefined {
  return folderProblem(dir, "Kassir's exchange folder: create it, or fix the path to where Kassir writes its reports");
}

function folderProblem(dir: string, what: string): string | undefined {
  const st = statOf(dir);
  if (st instanceof Error) return st.code === 'ENOENT' ? `${dir} does not exist (${what})` : `${dir} cannot be read (${st.code ?? st.message}): give the service user access`;
  return st.isDirectory() ? undefined : `${dir} is a file, not a folder (${what})`;
}

function mustBeFolder(problems: ConfigProblem[], key: string, dir: string, what: string): void {
  const p = folderProblem(dir, what);
  if (p) problems.push({ path: key, message: p });
}

function mayBeFolder(problems: ConfigProblem[], key: string, dir: string): void {
  const st = statOf(dir);
  if (!(st instanceof Error) && !st.isDirectory()) problems.push({ path: key, message: `${dir} is a file, not a folder: fix the path` });
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Why `file` is not a usable CA file, or undefined when it holds at least one readable PEM certificate. */
export function pemCertificateProblem(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return `${file} cannot be read (${code ?? (e as Error).message})${code === 'ENOENT' ? ': fix the path, or copy the back office\'s CA certificate there' : ''}`;
  }
  const blocks = text.match(PEM_CERT) ?? [];
  if (blocks.length === 0) {
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) return `${file} holds a private key, not a certificate: give the CA certificate (-----BEGIN CERTIFICATE-----) instead, and keep the key secret`;
    return `${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----); convert a DER file with: openssl x509 -inform der -in FILE -out ca.pem`;
  }
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (e) {
      return `${file}: certificate ${i + 1} of ${blocks.length} cannot be read (${(e as Error).message})`;
    }
  }
  return undefined;
}
