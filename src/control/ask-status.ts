/**
 * `status` asks the running agent for its live status over the control
 * socket and says what came of it. Monitoring must tell "no agent is running"
 * (nothing leaves the till: an alarm) from "this user may not ask" (the
 * socket is private to the service user: a set-up problem of the monitoring,
 * and the agent may well be running), so a permission error is its own
 * answer, never folded into "not running".
 */
import type { StatusReport } from '../status.js';
import { controlRequest } from './client.js';

export interface LiveStatus {
  exchanges: StatusReport[];
  notRunning: Record<string, string>;
}

/**
 * - `running`: the agent answered;
 * - `not-running`: nobody listens on the socket (no socket file, or a stale one);
 * - `permission-denied`: the socket (or the config) is not open to this user, so it is unknown whether
 *   an agent runs: run `status` as the service user (README "Monitoring many tills");
 * - `not-answering`: something listens but gave no usable answer in time (a hung or broken agent).
 */
export type AgentState = 'running' | 'not-running' | 'permission-denied' | 'not-answering';

export type AskedStatus = { state: 'running'; live: LiveStatus } | { state: Exclude<AgentState, 'running'>; error?: string };

/** Errors of the operating system that mean "not allowed", not "not there". */
export function isPermissionError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EACCES' || code === 'EPERM';
}

export async function askStatus(socketPath: string, timeoutMs: number): Promise<AskedStatus> {
  try {
    const answer = await controlRequest<LiveStatus & { error?: string }>(socketPath, 'GET', '/status', timeoutMs);
    if (!answer) return { state: 'not-running' };
    if (answer.status === 200) return { state: 'running', live: answer.body };
    return { state: 'not-answering', error: `the agent answered ${answer.status}: ${answer.body.error ?? ''}`.trim() };
  } catch (e) {
    if (isPermissionError(e)) {
      return { state: 'permission-denied', error: `${socketPath}: permission denied; only the service user (and root) may ask the agent: run status as that user (sudo -u kassir-agent)` };
    }
    return { state: 'not-answering', error: `${socketPath}: ${(e as Error).message}` };
  }
}
