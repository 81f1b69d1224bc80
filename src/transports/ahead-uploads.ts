/**
 * Early uploads for the sequenced-files push: while one package is renamed to
 * its final name, the next ones are uploaded to their temporary names on
 * sessions of their own (RemoteDir.fork). Only the renames must happen in
 * order; a temporary name is invisible to the back office, and an upload to it
 * needs no note (the package's own push uploads it again if this one failed).
 *
 * Why: draining a backlog is bound by round trips; with the uploads beside
 * the renames, a package costs about the longer of the two, not their sum.
 */
import { failpoint } from '../util/failpoints.js';
import type { Logger } from '../util/logger.js';
import type { RemoteDir } from './remote-dir.js';

interface Session {
  dir: RemoteDir;
  /** The session's last upload: one operation at a time on a session. */
  idle: Promise<unknown>;
}

export class AheadUploads {
  private sessions: Session[] = [];
  private readonly started = new Map<number, Promise<boolean>>();

  /** `count` sessions at most, forked from `remote` when first needed. */
  constructor(
    private readonly remote: RemoteDir,
    private readonly count: number,
  ) {}

  /** Starts the upload of each package not started yet, to `tempOf(number)`. Does nothing when the remote cannot fork. */
  start(packages: readonly { number: number; path: string }[], tempOf: (number: number) => string, log: Logger): void {
    for (const pkg of packages) {
      if (this.started.has(pkg.number)) continue;
      const session = this.session(pkg.number);
      if (!session) return;
      const uploaded = session.idle.then(async () => {
        try {
          await session.dir.upload(pkg.path, tempOf(pkg.number));
          failpoint('push.after-upload');
          return true;
        } catch (e) {
          log.debug('push.ahead.failed', { package: pkg.number, error: (e as Error).message, note: 'uploaded again by its own attempt' });
          return false;
        }
      });
      session.idle = uploaded;
      this.started.set(pkg.number, uploaded);
    }
  }

  /**
   * Waits for the early upload of `number` and tells whether it succeeded
   * (false when none was started). Forgets it and any earlier ones: an early
   * upload counts only for the push that comes right after it.
   */
  async take(number: number): Promise<boolean> {
    const uploaded = this.started.get(number);
    for (const n of this.started.keys()) if (n <= number) this.started.delete(n);
    return uploaded ? await uploaded : false;
  }

  /** Forgets every early upload and closes the sessions, once their uploads in flight are over. */
  async close(): Promise<void> {
    this.started.clear();
    const sessions = this.sessions;
    this.sessions = [];
    for (const s of sessions) if (s.dir !== this.remote) await s.dir.close();
    // An upload still running must not race a new session's upload to the same temporary name.
    await Promise.all(sessions.map((s) => s.idle));
  }

  private session(number: number): Session | undefined {
    if (this.sessions.length === 0) {
      for (let i = 0; i < this.count; i++) {
        const dir = this.remote.fork?.();
        if (!dir) return undefined;
        this.sessions.push({ dir, idle: Promise.resolve() });
      }
    }
    return this.sessions[number % this.sessions.length];
  }
}
