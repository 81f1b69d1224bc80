/**
 * Throw-away certificates for FTPS tests, made with the openssl CLI at test
 * time (nothing secret is committed): a CA, and a server certificate it signs
 * for 127.0.0.1/localhost. A second CA that signed nothing stands in for "the
 * wrong CA". EC P-256 keys: generated in milliseconds.
 */
import { execFile } from 'node:child_process';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCa {
  certFile: string;
  keyFile: string;
}

export interface TestServerCert {
  certFile: string;
  keyFile: string;
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 30_000 });
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`openssl ${args.slice(0, 2).join(' ')} failed: ${err.stderr?.trim() || err.message}`);
  }
}

/**
 * Where the Windows job keeps CAs made before it started (scripts/run-tests.mjs): Windows Node under
 * Wine cannot start the openssl CLI, so there a test's CA is a copy of one of those.
 */
const PREMADE = process.platform === 'win32' ? process.env.KASSIR_TEST_CA_DIR : undefined;

export async function makeTestCa(dir: string, name = 'ca'): Promise<TestCa> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  if (PREMADE !== undefined) {
    await copyFile(join(PREMADE, `${name}.crt`), certFile);
    await copyFile(join(PREMADE, `${name}.key`), keyFile);
    return { certFile, keyFile };
  }
  await openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=kassir-agent test ${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { certFile, keyFile };
}

/** A server certificate for 127.0.0.1 and localhost, signed by `ca`. */
export async function makeServerCert(dir: string, ca: TestCa, name = 'server'): Promise<TestServerCert> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', '/CN=localhost']);
  await openssl(['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', ext]);
  return { certFile, keyFile };
}
