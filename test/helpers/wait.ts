/**
 * Waiting in tests is keyed to what happened (a file, a log line, a server's
 * request): `waitFor` polls a condition and fails naming it after a deadline
 * that only guards against a hang, it never asserts a duration.
 */

/** Polls `check` until it returns true or the deadline passes (then throws with `what`). */
export async function waitFor(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000, everyMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
