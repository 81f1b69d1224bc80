/**
 * Clean-ups a test file registers as it goes (workspaces, servers, mounts), run after all its tests in reverse
 * order of registration; one that fails does not keep the others from running.
 */
import { after } from 'node:test';

/** The list to push clean-ups onto; registers the `after` hook where it is called. */
export function cleanupsAfterAll(): (() => Promise<unknown>)[] {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });
  return cleanups;
}
