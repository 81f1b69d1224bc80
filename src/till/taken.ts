/**
 * Taken report files (collect.ts): where they wait in the till folder and how
 * they are named there. The name is the one place that says in which order
 * they were taken: a zero-padded clock, a zero-padded sequence for the same
 * millisecond, then the file's own name.
 */
import { join } from 'node:path';

/** Folder inside the till folder where taken files wait until they are ingested. */
export const TAKEN_DIR = join('.kassir-agent', 'taken');

const TAKEN_PREFIX = /^\d{15}-\d+-/;

/** The name a report file `name` gets when taken at `now` as the `seq`-th file (names sort in the order taken). */
export function takenName(now: number, seq: number, name: string): string {
  return `${String(now).padStart(15, '0')}-${String(seq).padStart(6, '0')}-${name}`;
}

/** True for a name `takenName` made (anything else in the folder is not a taken file). */
export function isTakenName(name: string): boolean {
  return TAKEN_PREFIX.test(name);
}

/** The name the file had in the till folder. */
export function originalName(taken: string): string {
  return taken.replace(TAKEN_PREFIX, '');
}
