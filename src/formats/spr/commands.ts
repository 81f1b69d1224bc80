/**
 * SPR commands: `$$$` lines anywhere in a part, or text after `##@@&&` on
 * line 1. In this format family they are flags for the whole file, not
 * sections (docs/FORMATS.md "Commands and flags"): `$$$CLR[{T}...]` clears tables before loading,
 * `$$$ADD` adds quantities, `$$$RPL` replaces them. One line may carry several
 * (`##@@&&$$$CLR {COM_GR_TOV} $$$ADD` occurs in the wild).
 *
 * Anything else (an unknown command, ADD and RPL together, text that is not a
 * command) is kept verbatim in `unknown`: such a part is never merged with
 * another one, it is delivered on its own exactly as written.
 */

export type SprMode = 'ADD' | 'RPL';

export interface SprCommandSummary {
  /** Normalised commands in order of appearance (`$$$CLR{NO_TOV}{USR}`, `$$$ADD`). */
  commands: string[];
  /** Tables cleared (upper-case; 'TOV' = goods), or undefined when there is no `$$$CLR`. */
  clear: Set<string> | undefined;
  mode: SprMode | undefined;
  /** Commands this module does not understand (verbatim). Non-empty => the part travels alone. */
  unknown: string[];
}

export function emptyCommandSummary(): SprCommandSummary {
  return { commands: [], clear: undefined, mode: undefined, unknown: [] };
}

const TOKEN = /^\s*([A-Za-z_]+)\s*((?:\{[^{}]*\}\s*)*)$/;
const ARG = /\{([^{}]*)\}/g;

/**
 * Adds the commands found in `text` (a whole `$$$` line, or the rest of line 1
 * after `##@@&&`) to `into`. Trailing CR and spaces are ignored.
 */
export function addCommands(text: string, into: SprCommandSummary): void {
  const t = text.trim();
  if (t === '') return;
  if (!t.startsWith('$$$')) {
    into.unknown.push(t);
    into.commands.push(t);
    return;
  }
  for (const raw of t.split('$$$').slice(1)) {
    const m = TOKEN.exec(raw);
    const name = m?.[1]!.toUpperCase();
    if (!m || (name !== 'CLR' && name !== 'ADD' && name !== 'RPL') || (name !== 'CLR' && m[2]!.trim() !== '')) {
      const verbatim = `$$$${raw.trim()}`;
      into.unknown.push(verbatim);
      into.commands.push(verbatim);
      continue;
    }
    if (name === 'CLR') {
      const args = [...m[2]!.matchAll(ARG)].map((a) => a[1]!.trim().toUpperCase()).filter((a) => a !== '');
      const set = into.clear ?? new Set<string>();
      // Several clears in one part: their union (they all run before loading).
      if (!args.includes('NO_TOV')) set.add('TOV');
      for (const a of args) if (a !== 'NO_TOV' && a !== 'TOV') set.add(a);
      into.clear = set;
      into.commands.push(`$$$CLR${args.map((a) => `{${a}}`).join('')}`);
    } else {
      if (into.mode !== undefined && into.mode !== name) {
        // Both ADD and RPL: the file's meaning depends on the loader; never merge it.
        into.unknown.push(`$$$${name}`);
      }
      into.mode = into.mode ?? name;
      into.commands.push(`$$$${name}`);
    }
  }
}

/** Renders a clear set as one command (`$$$CLR`, `$$$CLR{USR}`, `$$$CLR{NO_TOV}{USR}`). */
export function renderClear(tables: ReadonlySet<string>): string {
  const others = [...tables].filter((t) => t !== 'TOV');
  return `$$$CLR${tables.has('TOV') ? '' : '{NO_TOV}'}${others.map((t) => `{${t}}`).join('')}`;
}
