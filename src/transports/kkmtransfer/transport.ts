/**
 * The KKMTransfer HTTP service (docs/FORMATS.md "The KKMTransfer service"):
 * ReceiveData `GET {url}/{pos}/{n}` pulls numbered packages, SendData
 * `POST {url}/SendData/{pos}/{n}[/{uid}]` pushes reports.
 *
 * Decisions (each marked [assumed] in docs/FORMATS.md "The KKMTransfer service"):
 * - ReceiveData `data` is normally a ZIP (the vendor's sample); if the decoded
 *   bytes are not a ZIP they are taken as the file itself. A ZIP with several
 *   entries is staged as several parts, in entry order, in one `stage` call.
 * - A package the server handed out (errcode 0) that cannot be read (bad
 *   base64, broken or hostile ZIP, unknown packagetype, unusable `data`) is
 *   kept in quarantine through `ctx.quarantine` and the counter moves past it:
 *   asking again would get the same bytes and block everything after it.
 *   Transport errors, answers that are not JSON (a proxy's error page) and
 *   errcodes other than 0/3 never move the counter: they are retried.
 * - `errcode` 0 with empty `data`: an empty package. It holds nothing to
 *   deliver, so the counter moves past it (with a warning) and pulling goes on.
 * - SendData body: `text/plain; charset=utf-8`, the base64 text without line
 *   breaks (1C reads the body as a string). With `zipReports` it is a ZIP with
 *   one entry `POS{pos}_{number}.rep`, built deterministically (fixed
 *   timestamp), and the first attempt's choices and hashes are saved in the
 *   push notes before anything is sent, so every attempt sends the same bytes
 *   even if the configuration changes in between. Those of the next queued
 *   packages are saved with them: one sync for several packages of a backlog.
 * - An abort through `ctx.signal` rejects with the signal's reason, not a TransportError.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Agent, Dispatcher } from 'undici';
import type { Logger } from '../../util/logger.js';
import { TransportError } from '../errors.js';
import type {
  AheadNotes,
  IncomingKind,
  OutgoingPackage,
  PullContext,
  PullResult,
  PushContext,
  PushResult,
  Transport,
  TransportCursor,
} from '../transport.js';
import { encodeBase64 } from '../../formats/base64.js';
import { makeZip } from '../../formats/zip.js';
import { ERRCODE_DUPLICATE, ERRCODE_NOTHING, ERRCODE_OK, parseReceiveEnvelope, parseSendAnswer, readReceivePackage, snippet } from './answers.js';
import { httpAgent, httpCall, type HttpCall } from './http.js';
import { unpackPackage, UnreadablePackage } from './unpack.js';
import { joinUrl, parseServiceRoot, type ServiceRoot } from './urls.js';

export interface KkmTransferOptions {
  /** Service root, e.g. https://bo.example/trade/hs/KKMTransfer (no trailing slash needed). */
  url: string;
  /** Workplace number (НомерПОС). */
  pos: number;
  /** HTTP basic auth when `user` is set. */
  user?: string;
  password?: string;
  tls: { caFile?: string; rejectUnauthorized: boolean };
  /** Connect, headers and body (idle) timeouts, each. */
  timeoutMs: number;
  /** SendData body: a ZIP with one entry (true) or the plain report file. */
  zipReports: boolean;
  /** Cap for one incoming package after unzip (zip-bomb guard). */
  maxPackageBytes: number;
}

export interface KkmTransferDeps {
  log: Logger;
  /** Tests inject their own; otherwise `open()` builds an undici Agent and `close()` closes it. */
  dispatcher?: Dispatcher;
}

/** The transport's cursor: the next ReceiveData package number. */
export interface KkmCursor extends TransportCursor {
  nextReceive: number;
}

/** What push saves before the first attempt of a package, so later attempts send the same bytes. */
interface KkmPushNotes {
  zipped?: boolean;
  entryName?: string;
  reportSha256?: string;
  bodySha256?: string;
  bodyBytes?: number;
}

const ALLOWED_KINDS: readonly IncomingKind[] = ['spr', 'flr'];

/** A SendData body and the notes that pin it. */
interface Prepared {
  body: string;
  pinned: Required<KkmPushNotes>;
}

/** Upcoming packages up to this size get their notes (and bodies, kept until their push) ahead. */
const MAX_PREPARED_BYTES = 256 * 1024;

export class KkmTransferTransport implements Transport {
  readonly type = 'kkmtransfer';
  private root?: ServiceRoot;
  private dispatcher?: Dispatcher;
  private ownAgent?: Agent;
  /** Bodies made ahead for the upcoming packages whose notes were saved with the current one's. */
  private readonly prepared = new Map<number, Prepared>();

  constructor(
    private readonly opts: KkmTransferOptions,
    private readonly deps: KkmTransferDeps,
  ) {}

  async open(): Promise<void> {
    if (this.dispatcher) return;
    this.root = parseServiceRoot(this.opts.url);
    if (this.deps.dispatcher) {
      this.dispatcher = this.deps.dispatcher;
    } else {
      this.ownAgent = await httpAgent(this.opts.tls, this.opts.timeoutMs);
      this.dispatcher = this.ownAgent;
    }
    this.deps.log.debug('transport.open', { transport: this.type, url: this.root.url.href, pos: this.opts.pos, auth: this.credentials() ? 'basic' : 'none' });
  }

  async close(): Promise<void> {
    this.prepared.clear();
    const agent = this.ownAgent;
    this.ownAgent = undefined;
    this.dispatcher = undefined;
    if (agent) await agent.close();
  }

  async pull(ctx: PullContext): Promise<PullResult> {
    this.mustBeOpen();
    let cursor = this.readCursor(ctx.cursor);
    let parts = 0;
    let bytes = 0;
    let received = 0;
    for (;;) {
      ctx.signal.throwIfAborted();
      const n = cursor.nextReceive;
      const what = `ReceiveData ${this.opts.pos}/${n}`;
      const started = Date.now();
      // Transport errors, unreadable envelopes and errcodes other than 0/3 throw here: the counter stays, the package is asked for again later.
      // Progress: the bytes of this pull's packages; the total is what is known so far (the packages before and this one's length).
      let got = 0;
      const { text } = await this.call(ctx.signal, 'GET', [String(this.opts.pos), String(n)], what, this.maxAnswerBytes(), undefined, (b, of) => {
        got = b;
        ctx.progress?.('bytes', received + b, of !== undefined ? received + of : undefined);
      });
      received += got;
      const envelope = parseReceiveEnvelope(text, what, this.secrets());
      if (envelope.errcode === ERRCODE_NOTHING) {
        ctx.log.debug('pull.nothing', { package: n, durationMs: Date.now() - started });
        break;
      }
      if (envelope.errcode !== ERRCODE_OK) {
        const msg = snippet(envelope.errmessage, this.secrets());
        throw new TransportError('server', `${what}: back office answered errcode ${envelope.errcode}${msg ? `: ${msg}` : ''}`, {
          code: envelope.errcode,
          serverAnswer: msg,
        });
      }
      // From here on the server did hand out package n: what cannot be read is quarantined and the counter moves past it.
      const next: KkmCursor = { ...cursor, nextReceive: n + 1 };
      const answer = readReceivePackage(envelope);
      const body = () => Buffer.from(text, 'utf8');
      if ('problem' in answer) {
        await this.quarantine(ctx, body(), `package ${n}.json`, `${what}: ${answer.problem}`, next);
        cursor = next;
        continue;
      }
      const kind = answer.packagetype.trim().toLowerCase() as IncomingKind;
      if (!ALLOWED_KINDS.includes(kind)) {
        await this.quarantine(ctx, body(), `package ${n}.json`, `${what}: packagetype "${snippet(answer.packagetype, this.secrets(), 40)}" is neither spr nor flr`, next);
        cursor = next;
        continue;
      }
      if (answer.data.trim() === '') {
        // errcode 0 but nothing in it: there is nothing to deliver and asking again would get the same; move on.
        ctx.log.warn('pull.empty_package', { package: n, kind });
        await ctx.stage([], next);
        cursor = next;
        continue;
      }
      const uid = kind === 'flr' ? answer.uid : undefined;
      let staged;
      try {
        staged = await unpackPackage({ data: answer.data, number: n, pos: this.opts.pos, kind, uid, tmpDir: ctx.tmpDir, maxPackageBytes: this.opts.maxPackageBytes });
      } catch (e) {
        if (!(e instanceof UnreadablePackage)) throw e;
        await this.quarantine(ctx, e.raw, `package ${n}${e.rawExtension}`, `${what}: ${e.message}`, next);
        cursor = next;
        continue;
      }
      // The counter moves only together with the staged data (one atomic step in the store).
      await ctx.stage(staged.parts, next);
      cursor = next;
      parts += staged.parts.length;
      bytes += staged.bytes;
      ctx.log.info('pull.staged', { package: n, kind, parts: staged.parts.length, bytes: staged.bytes, uid: answer.uid, durationMs: Date.now() - started });
      if (kind === 'flr' && answer.uid === undefined) ctx.log.warn('pull.flr_without_uid', { package: n });
    }
    return { parts, bytes };
  }

  /** Keep an unreadable package and move the counter past it (one atomic step in the store), so it never blocks the ones after it. */
  private async quarantine(ctx: PullContext, raw: Buffer, label: string, reason: string, next: KkmCursor): Promise<void> {
    ctx.log.error('pull.quarantined', { package: next.nextReceive - 1, item: label, bytes: raw.length, reason, note: 'kept in quarantine; pulling goes on with the next package' });
    await ctx.quarantine(raw, label, reason, next);
  }

  async push(pkg: OutgoingPackage, ctx: PushContext): Promise<PushResult> {
    this.mustBeOpen();
    const segments = ['SendData', String(this.opts.pos), String(pkg.number), ...(pkg.uid ? [pkg.uid] : [])];
    const remoteName = segments.join('/');
    const what = `SendData ${this.opts.pos}/${pkg.number}`;
    const notes = ctx.notes as KkmPushNotes;
    const ready = this.prepared.get(pkg.number);
    for (const n of this.prepared.keys()) if (n <= pkg.number) this.prepared.delete(n);
    const { body, pinned } = await this.prepare(pkg, notes, ready);
    const { bodySha256 } = pinned;
    if (notes.bodySha256 === undefined) {
      // The next packages' first-attempt notes go with this one's: one sync for several packages of a backlog.
      await ctx.saveNotes({ ...ctx.notes, ...pinned } satisfies KkmPushNotes, await this.prepareAhead(ctx));
    } else if (notes.bodySha256 !== bodySha256) {
      // Same report (checked above), other ZIP bytes: only a zlib change can do this. The content the server unpacks is identical.
      ctx.log.warn('push.body_changed', { package: pkg.number, was: notes.bodySha256, now: bodySha256 });
    }
    const started = Date.now();
    const { text } = await this.call(ctx.signal, 'POST', segments, what, 64 * 1024, body);
    const answer = parseSendAnswer(text, what, this.secrets());
    const serverAnswer = snippet(text, this.secrets());
    const fields = { package: pkg.number, uid: pkg.uid, bytes: body.length, transactions: pkg.transactions, durationMs: Date.now() - started };
    if (answer.errcode === ERRCODE_OK) {
      // The exchange logs push.delivered (one line per package); this adds the wire size of the body.
      ctx.log.debug('push.answer', { ...fields, errcode: answer.errcode });
      return { outcome: 'delivered', remoteName, serverAnswer };
    }
    if (answer.errcode === ERRCODE_DUPLICATE) {
      ctx.log.info('push.duplicate', { ...fields, errmessage: snippet(answer.errmessage, this.secrets()) });
      return { outcome: 'duplicate', remoteName, serverAnswer };
    }
    const msg = snippet(answer.errmessage, this.secrets());
    throw new TransportError('server', `${what}: back office answered errcode ${answer.errcode}${msg ? `: ${msg}` : ''}`, {
      code: answer.errcode,
      serverAnswer,
    });
  }

  // ---- internals -----------------------------------------------------------

  /**
   * A package's SendData body and the notes that pin it: the choices of its first attempt
   * (`notes`), else the options now. `ready`: the body made ahead for it, used when its
   * report and choices are still the same.
   */
  private async prepare(pkg: OutgoingPackage, notes: KkmPushNotes, ready?: Prepared): Promise<Prepared> {
    // A package of a backlog is a few KB in the page cache: read in one call, not four trips through
    // libuv's thread pool, where they wait behind the store's fsyncs.
    const report = pkg.bytes <= MAX_PREPARED_BYTES ? readFileSync(pkg.path) : await readFile(pkg.path);
    const reportSha256 = sha256(report);
    if (notes.reportSha256 !== undefined && notes.reportSha256 !== reportSha256) {
      // A sealed package never changes; sending other content under the same number would lose it (errcode 1).
      throw new Error(`SendData ${this.opts.pos}/${pkg.number}: ${pkg.path} changed after its first attempt (sha256 ${notes.reportSha256} then, ${reportSha256} now); refusing to send`);
    }
    const zipped = notes.zipped ?? this.opts.zipReports;
    const entryName = notes.entryName ?? `POS${this.opts.pos}_${pkg.number}.rep`;
    if (ready && ready.pinned.reportSha256 === reportSha256 && ready.pinned.zipped === zipped && ready.pinned.entryName === entryName) return ready;
    const body = encodeBase64(zipped ? await makeZip([{ name: entryName, data: report }]) : report);
    return { body, pinned: { zipped, entryName, reportSha256, bodySha256: sha256(Buffer.from(body, 'latin1')), bodyBytes: body.length } };
  }

  /**
   * First-attempt notes for the upcoming packages (the store keeps them only for those that
   * have none), their bodies kept for their own push. One that cannot be read now is left to
   * its own attempt.
   */
  private async prepareAhead(ctx: PushContext): Promise<AheadNotes[]> {
    const ahead: AheadNotes[] = [];
    for (const next of ctx.upcoming ?? []) {
      if (next.bytes > MAX_PREPARED_BYTES) continue;
      try {
        const p = await this.prepare(next, {});
        this.prepared.set(next.number, p);
        ahead.push({ number: next.number, notes: { ...p.pinned } });
      } catch (e) {
        ctx.log.debug('push.ahead.skipped', { package: next.number, error: (e as Error).message });
      }
    }
    return ahead;
  }

  /** The caller opens the transport once per cycle (exchange/transport-session.ts); after close() nothing is sent. */
  private mustBeOpen(): void {
    if (!this.dispatcher) throw new TransportError('unreachable', 'KKMTransfer: the transport is closed (open() comes first)');
  }

  private readCursor(c: TransportCursor): KkmCursor {
    const n = c.nextReceive ?? 1;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
      throw new Error(`kkmtransfer cursor: nextReceive must be a whole number >= 1, got ${JSON.stringify(n)}`);
    }
    return { ...c, nextReceive: n };
  }

  private async call(signal: AbortSignal, method: 'GET' | 'POST', segments: string[], what: string, maxAnswerBytes: number, body?: string, onBody?: HttpCall['onBody']) {
    const root = this.root!;
    const url = joinUrl(root.url, ...segments);
    const headers: Record<string, string> = { accept: 'application/json' };
    const cred = this.credentials();
    if (cred) headers.authorization = `Basic ${Buffer.from(`${cred.user}:${cred.password}`, 'utf8').toString('base64')}`;
    if (body !== undefined) headers['content-type'] = 'text/plain; charset=utf-8';
    return httpCall({
      method,
      url,
      headers,
      body,
      dispatcher: this.dispatcher!,
      signal,
      timeoutMs: this.opts.timeoutMs,
      maxAnswerBytes,
      what,
      secrets: this.secrets(),
      user: this.credentials()?.user,
      ...(onBody ? { onBody } : {}),
    });
  }

  private credentials(): { user: string; password: string } | undefined {
    const user = this.opts.user ?? this.root?.user;
    if (user === undefined || user === '') return undefined;
    return { user, password: (this.opts.user !== undefined ? this.opts.password : this.root?.password) ?? '' };
  }

  private secrets(): string[] {
    const cred = this.credentials();
    return cred && cred.password ? [cred.password, Buffer.from(`${cred.user}:${cred.password}`).toString('base64')] : [];
  }

  /** base64 (4/3), line breaks and JSON escapes (~+10%), a ZIP a little larger than its content for incompressible data. */
  private maxAnswerBytes(): number {
    return Math.ceil(this.opts.maxPackageBytes * 1.6) + 64 * 1024;
  }
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
