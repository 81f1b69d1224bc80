/**
 * The command line's side of the control channel: one JSON request to the
 * running agent. `undefined` means no agent is listening (not running), so the
 * caller can fall back to reading the data folder.
 */
import { request } from 'node:http';

export interface ControlAnswer<T> {
  status: number;
  body: T;
}

export function controlRequest<T>(socketPath: string, method: 'GET' | 'POST', path: string, timeoutMs = 600_000): Promise<ControlAnswer<T> | undefined> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: { accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as T });
        } catch {
          reject(new Error(`the agent answered ${res.statusCode} with something that is not JSON: ${text.slice(0, 200)}`));
        }
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`the agent did not answer within ${timeoutMs} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') resolve(undefined);
      else reject(e);
    });
    req.end();
  });
}
