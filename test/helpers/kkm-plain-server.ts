/**
 * A bare `http.createServer` on 127.0.0.1 for answers the emulator does not
 * give on purpose (the wiki sample's exact text, an HTML page with 200, odd JSON).
 * It records every request with its body.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { TestContext } from 'node:test';
import { closeServer, listenOnLoopback } from './ports.js';

export interface PlainRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export type PlainHandler = (req: PlainRequest, res: ServerResponse, index: number) => void;

export async function startPlainServer(t: TestContext, handler: PlainHandler): Promise<{ url: string; requests: PlainRequest[] }> {
  const requests: PlainRequest[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const r: PlainRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
    requests.push(r);
    handler(r, res, requests.length - 1);
  });
  const port = await listenOnLoopback(server);
  t.after(() => closeServer(server));
  return { url: `http://127.0.0.1:${port}`, requests };
}

export function sendJson(res: ServerResponse, body: string | object, status = 200, type = 'application/json; charset=utf-8'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
