/**
 * The sequenced-files protocol shared by the folder and FTP transports, over the
 * small RemoteDir interface (only listing/reading/writing/renaming differ).
 *
 * Pull (back office -> till): the reference file `NAME` and its parts
 * `NAME.$1 .. NAME.$n`, as one listing shows them when a cycle starts (a part
 * that appears while the cycle runs waits for the next one). They are
 * downloaded, staged durably, and only then deleted on the remote side, highest
 * number first, each only if it is still the file we fetched (same size and
 * mtime). Names pending deletion are kept in the cursor, so a crash between
 * staging and deleting neither loses nor re-applies a part.
 *
 * The race with a back office that writes to the first free number: while we
 * delete, it may write a new part into a number we just freed, below an older
 * part that appeared during our cycle and still waits. Its number is lower but
 * it is newer. Deleting from the top keeps that window small, and orderParts()
 * recognises the case in the next listing by its evidence (a later mtime, or
 * without mtimes a gap in the numbers), so an older part is never applied
 * after a newer one.
 *
 * Push (till -> back office): each sealed package is uploaded under a temporary
 * name in the target folder (`NAME.kassir-agent-<package>.tmp`, which never
 * matches `NAME.$n`), its size verified, then renamed to the first free number
 * above every existing one (`NAME.$k`), never replacing a file. While a backlog
 * drains, the next package is uploaded to its temporary name on a second
 * session while this one is renamed (only the renames must happen in order,
 * and a temporary name is invisible to the back office). The temporary
 * and final names are noted durably before the rename (the one step a crash
 * must not repeat blindly), so a crash, a dropped connection or a lost rename
 * reply is reconciled by looking: the temporary file still there means the
 * rename did not happen; gone means it did (only this agent removes it). An
 * upload cut short needs no note: it is redone under the same temporary name.
 * With `sequenced: false` the package is uploaded and renamed to `NAME` itself
 * only once the back office has taken the previous one (the name is free).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { compareSprPartNames, sprPartNumber } from '../formats/spr-names.js';
import { failpoint, holdpoint } from '../util/failpoints.js';
import type { Logger } from '../util/logger.js';
import { TransportError } from './errors.js';
import { AheadUploads } from './ahead-uploads.js';
import type { RemoteDir, RemoteEntry } from './remote-dir.js';
import type { OutgoingPackage, PullContext, PullResult, PushContext, PushResult, RemoteNotes, Transport } from './transport.js';

export interface SequencedOptions {
  /** Remote reference name, e.g. `Files/POS1.spr`. */
  referenceName: string;
  /** Remote report name, e.g. `Files/POS1.rep`. */
  reportName: string;
  sequenced: boolean;
}

interface PendingDelete {
  name: string;
  size: number;
  mtimeMs?: number;
  /** SHA-256 of what was staged: a small part is compared by content before it is deleted (see finishDeletes). */
  sha256?: string;
}

/** Parts up to this size are compared by content before deletion (size and a 1-second FTP mtime can coincide). */
export const VERIFY_BEFORE_DELETE_BYTES = 1024 * 1024;

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

interface PushNotes extends RemoteNotes {
  /** Set once the temporary file is complete on the remote side, before the rename (see push). */
  stage?: 'uploaded';
  temp?: string;
  final?: string;
}

/** Splits `Files/POS1.rep` into the folder (`Files`) and the bare name (`POS1.rep`). */
export function splitRemote(path: string): { dir: string; name: string } {
  const i = path.lastIndexOf('/');
  return i < 0 ? { dir: '', name: path } : { dir: path.slice(0, i), name: path.slice(i + 1) };
}

const joinRemote = (dir: string, name: string) => (dir === '' ? name : `${dir}/${name}`);

/** A package's temporary upload name: follows from its number alone, so an interrupted upload is redone under the same name. */
const tempName = (dir: string, base: string, pkgNumber: number) => joinRemote(dir, `${base}.kassir-agent-${pkgNumber}.tmp`);

/** The package number of a temporary upload name made by tempName (a bare name), or undefined. */
function tempPackageNumber(name: string, base: string): number | undefined {
  const prefix = `${base}.kassir-agent-`;
  if (!name.startsWith(prefix) || !name.endsWith('.tmp')) return undefined;
  const n = name.slice(prefix.length, -'.tmp'.length);
  return /^\d+$/.test(n) ? Number(n) : undefined;
}

/** Sessions uploading the next packages early (beside the main one, which renames). */
const AHEAD_SESSIONS = 2;

/** Report suffix numbers present in a listing (`POS1.rep.$7` -> 7). */
export function reportNumbers(entries: RemoteEntry[], base: string): number[] {
  const out: number[] = [];
  for (const e of entries) {
    if (!e.name.startsWith(`${base}.$`)) continue;
    const n = e.name.slice(base.length + 2);
    if (/^[1-9]\d*$/.test(n)) out.push(Number(n));
  }
  return out;
}

/** Modification times closer than this are not evidence of order (FTP listings have 1 s resolution, clocks jitter). */
export const MTIME_SLACK_MS = 2_000;

/**
 * Orders reference parts for loading: numeric suffix order (`$10` after `$9`,
 * the plain name first), unless the listing shows that a low number was
 * reused for a newer part (see the module comment):
 * - with modification times: if a part was written clearly later (more than
 *   MTIME_SLACK_MS) than a part with a higher number, the parts are loaded in
 *   the order they were written (mtime, then number);
 * - without them: when the numbers have a gap, the parts above the first gap
 *   were written before the parts below it and are loaded first.
 */
export function orderParts(entries: { name: string; mtimeMs?: number }[], base: string): string[] {
  const sorted = [...entries].sort((a, b) => compareSprPartNames(a.name, b.name));
  const timed = sorted.every((e) => e.mtimeMs !== undefined);
  if (timed) {
    const reused = sorted.some((a, i) => sorted.slice(i + 1).some((b) => a.mtimeMs! > b.mtimeMs! + MTIME_SLACK_MS));
    if (!reused) return sorted.map((e) => e.name);
    return [...sorted].sort((a, b) => a.mtimeMs! - b.mtimeMs! || compareSprPartNames(a.name, b.name)).map((e) => e.name);
  }
  return orderByGap(sorted.map((e) => e.name), base);
}

function orderByGap(sorted: string[], base: string): string[] {
  const numbered = sorted.filter((n) => (sprPartNumber(n, base) ?? 0) > 0);
  const plain = sorted.filter((n) => sprPartNumber(n, base) === 0);
  let gapAt = -1;
  for (let i = 0; i < numbered.length; i++) {
    const expected = i === 0 ? 1 : sprPartNumber(numbered[i - 1]!, base)! + 1;
    if (sprPartNumber(numbered[i]!, base)! !== expected) {
      gapAt = i;
      break;
    }
  }
  // A gap at index 0 means the lowest number is above 1: nothing was refilled.
  if (gapAt <= 0) return [...plain, ...numbered];
  return [...plain, ...numbered.slice(gapAt), ...numbered.slice(0, gapAt)];
}

export class SequencedFilesTransport implements Transport {
  /** The report number renamed to last while a backlog drains (see nextNumber); forgotten on open/close and when the queue runs dry. */
  private lastNumber: number | undefined;
  /** Stale temporary files are looked for once per session (they come from crashes and re-sends, not from a running drain). */
  private staleTempsChecked = false;
  /** The next packages' uploads to their temporary names, beside this one's rename. */
  private readonly ahead: AheadUploads;

  constructor(
    readonly type: string,
    private readonly remote: RemoteDir,
    private readonly opts: SequencedOptions,
  ) {
    this.ahead = new AheadUploads(remote, AHEAD_SESSIONS);
  }

  async open(): Promise<void> {
    this.lastNumber = undefined;
    this.staleTempsChecked = false;
    await this.remote.open();
  }

  async close(): Promise<void> {
    this.lastNumber = undefined;
    this.staleTempsChecked = false;
    await this.ahead.close();
    await this.remote.close();
  }

  // ------------------------------------------------------------------- pull

  async pull(ctx: PullContext): Promise<PullResult> {
    const { dir, name: base } = splitRemote(this.opts.referenceName);
    await this.finishDeletes(ctx, dir);
    const fetched = new Map<string, PendingDelete & { localPath: string }>();
    let seq = 0;
    const parts = (await this.remote.list(dir)).filter((e) => this.isPart(e.name, base));
    const byName = new Map(parts.map((e) => [e.name, e]));
    // Progress: bytes of every part listed (a first load of a catalogue can be tens of MB).
    const total = parts.reduce((s, e) => s + e.size, 0);
    let before = 0;
    for (const e of orderParts(parts, base).map((n) => byName.get(n)!)) {
      if (ctx.signal.aborted) throw new TransportError('unreachable', 'pull aborted: the agent is stopping');
      if (seq > 0) await holdpoint('pull.part.next');
      const remoteName = joinRemote(dir, e.name);
      const localPath = join(ctx.tmpDir, `pull-${Date.now()}-${++seq}`);
      const started = Date.now();
      ctx.progress?.('bytes', before, total);
      const bytes = await this.remote.download(remoteName, localPath, (b) => ctx.progress?.('bytes', before + b, total));
      before += bytes;
      if (bytes !== e.size && e.size > 0) {
        // The back office is still writing it (no temp-then-rename on its side). It and every
        // part after it wait for the next cycle: a later part must never be applied before it.
        ctx.log.warn('pull.part.changing', { part: remoteName, listed: e.size, downloaded: bytes });
        break;
      }
      ctx.log.debug('pull.downloaded', { part: remoteName, bytes, durationMs: Date.now() - started });
      fetched.set(e.name, { name: e.name, size: bytes, mtimeMs: e.mtimeMs, localPath, ...(bytes <= VERIFY_BEFORE_DELETE_BYTES ? { sha256: await sha256Of(localPath) } : {}) });
    }
    if (fetched.size === 0) return { parts: 0, bytes: 0 };
    // Map iteration keeps insertion order: the load order decided above.
    const order = [...fetched.keys()];
    const pending: PendingDelete[] = order.map((n) => {
      const f = fetched.get(n)!;
      return { name: f.name, size: f.size, ...(f.mtimeMs !== undefined ? { mtimeMs: f.mtimeMs } : {}), ...(f.sha256 !== undefined ? { sha256: f.sha256 } : {}) };
    });
    const cursor = { ...ctx.cursor, pendingDelete: pending };
    await ctx.stage(
      order.map((n) => ({ localPath: fetched.get(n)!.localPath, remoteName: joinRemote(dir, n), kind: 'spr' as const })),
      cursor,
    );
    ctx.cursor = cursor;
    await this.finishDeletes(ctx, dir);
    return { parts: order.length, bytes: pending.reduce((s, p) => s + p.size, 0) };
  }

  private isPart(name: string, base: string): boolean {
    const n = sprPartNumber(name, base);
    return this.opts.sequenced ? n !== undefined : n === 0;
  }

  /** Deletes staged parts on the remote side, highest number first, each only if unchanged. */
  private async finishDeletes(ctx: PullContext, dir: string): Promise<void> {
    const pending = (ctx.cursor.pendingDelete as PendingDelete[] | undefined) ?? [];
    if (pending.length === 0) return;
    const { name: base } = splitRemote(this.opts.referenceName);
    failpoint('pull.before-ack');
    const listing = new Map((await this.remote.list(dir)).map((e) => [e.name, e]));
    const byNumberDesc = [...pending].sort((a, b) => (sprPartNumber(b.name, base) ?? 0) - (sprPartNumber(a.name, base) ?? 0));
    for (const p of byNumberDesc) {
      const now = listing.get(p.name);
      if (!now) continue;
      let same = now.size === p.size && (p.mtimeMs === undefined || now.mtimeMs === undefined || now.mtimeMs === p.mtimeMs);
      if (same && p.sha256 !== undefined) {
        // A crash after a delete but before this list was cleared, and the back office writing its next
        // part under the freed name, with the same size in the same second: only the content tells.
        const check = join(ctx.tmpDir, `verify-${Date.now()}`);
        try {
          await this.remote.download(joinRemote(dir, p.name), check);
          same = (await sha256Of(check)) === p.sha256;
        } finally {
          await rm(check, { force: true });
        }
      }
      if (!same) {
        ctx.log.warn('pull.part.replaced', { part: joinRemote(dir, p.name), note: 'a new part under a name already fetched; it is kept for the next cycle' });
        continue;
      }
      await this.remote.remove(joinRemote(dir, p.name));
    }
    const cursor = { ...ctx.cursor, pendingDelete: [] };
    await ctx.stage([], cursor);
    ctx.cursor = cursor;
  }

  // ------------------------------------------------------------------- push

  async push(pkg: OutgoingPackage, ctx: PushContext): Promise<PushResult> {
    const { dir, name: base } = splitRemote(this.opts.reportName);
    let notes = ctx.notes as PushNotes;
    // The temporary name follows from the package number alone, so an upload
    // interrupted before anything was noted is simply redone under the same name.
    const temp = notes.temp ?? tempName(dir, base, pkg.number);
    const save = async (n: PushNotes) => {
      notes = n;
      await ctx.saveNotes(n);
    };

    // This package's early upload (started while an earlier one was renamed) must be over before its temporary file is touched.
    const early = await this.ahead.take(pkg.number);
    // Uploads ahead: as many packages as there are sessions for them.
    const upcoming = (ctx.upcoming ?? []).slice(0, AHEAD_SESSIONS);
    if (this.opts.sequenced) this.ahead.start(upcoming, (n) => tempName(dir, base, n), ctx.log);
    if (upcoming.length === 0) await this.ahead.close(); // the queue ran dry: no idle sessions left open
    let uploaded = notes.stage === undefined && early;
    if (notes.stage === 'uploaded') {
      const size = await this.remote.size(temp);
      if (size === undefined) {
        // Only this agent removes its temporary file, and only by renaming it: the rename happened.
        this.rememberFinal(upcoming.length > 0 ? notes.final : undefined, base);
        ctx.log.info('push.reconciled', { package: pkg.number, remoteName: notes.final, note: 'the rename had happened before the connection or the agent was lost' });
        return { outcome: 'delivered', remoteName: notes.final ?? joinRemote(dir, base) };
      }
      uploaded = size === pkg.bytes;
    }
    if (!this.opts.sequenced && notes.final === undefined) await this.assertNoSuffixFree(dir, base, pkg.number);
    if (!uploaded) {
      // A temporary file noted as whole but found otherwise is uploaded again. Should that upload be cut off on
      // a server that deletes aborted uploads (ProFTPD's DeleteAbortedStores), its absence must not read as the
      // rename having happened (see above): the notes go back to "not uploaded" first.
      if (notes.stage === 'uploaded') {
        const { stage: _stage, final: _final, ...rest } = notes;
        await save({ ...rest, temp });
      }
      if (!this.staleTempsChecked) {
        await this.cleanStaleTemps(dir, base, pkg.number, ctx.log);
        this.staleTempsChecked = true;
      }
      await this.remote.upload(pkg.path, temp);
      failpoint('push.after-upload');
    }

    // Rename to the final name, never replacing a file. The final name is noted
    // durably before the rename (one notes write per package: nothing earlier
    // needs one, see above), while the remote side is asked whether the name is
    // free. A final name chosen by an interrupted attempt is tried first: on a
    // share the rename is link-then-unlink, and a crash between the two leaves
    // both names on one file, which renameNoReplace completes instead of
    // linking the file under a second number.
    let final = notes.stage === 'uploaded' ? notes.final : undefined;
    for (let tries = 0; tries < 5; tries++) {
      let noteFinal: (() => Promise<void>) | undefined;
      if (final === undefined || notes.stage !== 'uploaded' || notes.final !== final) {
        final ??= this.opts.sequenced ? joinRemote(dir, `${base}.$${await this.nextNumber(dir, base)}`) : joinRemote(dir, base);
        const planned = { stage: 'uploaded' as const, temp, final };
        noteFinal = () => save(planned);
      }
      const r = await this.remote.renameNoReplace(temp, final, noteFinal);
      if (r === 'renamed') {
        failpoint('push.after-rename');
        this.rememberFinal(upcoming.length > 0 ? final : undefined, base);
        return { outcome: 'delivered', remoteName: final };
      }
      if (!this.opts.sequenced) throw new TransportError('busy', `${final} has not been taken by the back office yet; package ${pkg.number} waits (uploaded, to be renamed)`);
      // Someone took the number between the listing and the rename: list again.
      this.lastNumber = undefined;
      final = undefined;
    }
    throw new TransportError('server', `${joinRemote(dir, base)}.$n: no free number after 5 tries (another writer keeps taking them)`);
  }

  /** No-suffix variant: the back office has not taken the previous file yet; checked before uploading, so waiting costs no upload. */
  private async assertNoSuffixFree(dir: string, base: string, pkgNumber: number): Promise<void> {
    const final = joinRemote(dir, base);
    if ((await this.remote.size(final)) !== undefined) {
      throw new TransportError('busy', `${final} has not been taken by the back office yet; package ${pkgNumber} waits`);
    }
  }

  /**
   * The first free number above every existing report. Only this agent creates
   * `NAME.$n` and the back office only takes them away, so while a backlog
   * drains nothing appears above the number we renamed to last and the next
   * number is the one after it, with no round trip (a listing of a long backlog
   * grows with every package). The folder is listed when a session starts and
   * when the queue ran dry, so numbering starts low again once the back office
   * has taken everything. Should another writer take a number all the same,
   * renameNoReplace refuses it and the folder is listed again.
   */
  private async nextNumber(dir: string, base: string): Promise<number> {
    if (this.lastNumber !== undefined) return this.lastNumber + 1;
    return Math.max(0, ...reportNumbers(await this.remote.list(dir), base)) + 1;
  }

  private rememberFinal(final: string | undefined, base: string): void {
    const n = final === undefined ? undefined : reportNumbers([{ name: splitRemote(final).name, size: 0 }], base)[0];
    this.lastNumber = n;
  }

  /** Removes this POS's temporary files of earlier packages (left by a crash mid-upload of a package that was then re-uploaded). */
  private async cleanStaleTemps(dir: string, base: string, current: number, log: Logger): Promise<void> {
    for (const e of await this.remote.list(dir)) {
      const n = tempPackageNumber(e.name, base);
      if (n !== undefined && n < current) {
        await this.remote.remove(joinRemote(dir, e.name));
        log.info('push.stale-temp.removed', { file: joinRemote(dir, e.name) });
      }
    }
  }
}
