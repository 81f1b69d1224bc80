/**
 * Whether a flow (pull or push) is failing, and its log lines: a full line when
 * it starts failing or the error changes, a debug line while it keeps failing
 * alike, one `recovered` line when it works again. Failures on this machine
 * (not a TransportError) are also kept as the exchange's last local error.
 */
import type { FailureKind } from '../transports/errors.js';
import type { Logger } from '../util/logger.js';
import type { RetryDecision } from './retry-policy.js';

/** The last failure on this machine's side (data folder full, till folder unreadable), with its time. */
export class LocalErrors {
  last?: string;

  note(e: unknown): void {
    this.last = `${new Date().toISOString()} ${(e as Error).message}`;
  }
}

export class FlowHealth {
  failing = false;
  lastError?: string;
  /** The TransportError kind of lastError ('local' for a failure on this machine): monitoring maps it. */
  lastErrorKind?: FailureKind;

  constructor(
    private readonly flow: 'pull' | 'push',
    private readonly log: Logger,
    private readonly local: LocalErrors,
  ) {}

  failed(e: unknown, decision: RetryDecision, fields: Record<string, unknown>): void {
    const flow = this.flow;
    const message = (e as Error).message;
    const kind = decision.kind;
    const line = { ...fields, errorKind: kind, error: message, outcome: decision.outcome };
    if (!this.failing || this.lastError !== message) {
      if (decision.retryClass === 'waiting') this.log.info(`${flow}.waiting`, line);
      else if (decision.retryClass === 'operator') this.log.error(`${flow}.failed`, { ...line, note: 'needs a person: retried slowly' });
      else this.log.warn(`${flow}.failed`, line);
    } else {
      this.log.debug(`${flow}.failed`, line);
    }
    if (kind === 'local') {
      this.local.note(e);
      this.log.error(`${flow}.error`, { error: message, stack: (e as Error).stack?.split('\n').slice(0, 4).join(' | ') });
    }
    this.failing = true;
    this.lastError = message;
    this.lastErrorKind = kind;
  }

  recovered(): void {
    if (this.failing) this.log.info(`${this.flow}.recovered`, { after: this.lastError, outcome: 'ok' });
    this.failing = false;
    this.lastError = undefined;
    this.lastErrorKind = undefined;
  }
}
