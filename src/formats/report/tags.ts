/**
 * Tag-block rules for report lines (report.ts): does a line open a tag block
 * (`<json_data type="3">`, `<Document store=...>`), does it also close it, and
 * does a line inside a block close it (`</name>`).
 *
 * Promises: a line opens a block only when it starts with `<` and a name (not
 * `</`, `< `, `<>`, `<!`, `<?`); a closing tag counts only when `</name` is
 * followed by `>`, a space, a tab or the line end. Byte compares only; nothing
 * is allocated but the name's view. Why a module of its own: what makes a tag
 * block is one rule, apart from how fields are read and how units are formed.
 */
import { SPACE, TAB } from './fields.js';

export const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;

/** Set by tagOpened: the line that opened the tag also closes it. (An out-parameter: no object per call.) */
export let tagClosed = false;

/**
 * The name of the tag a line opens (`<json_data type="1">` -> `json_data`),
 * or undefined when the line does not start with `<name`. Sets tagClosed:
 * true when the line also closes it (`<a .../>` or `<a>...</a>`).
 */
export function tagOpened(data: Buffer, ls: number, e: number): Buffer | undefined {
  if (e - ls < 2 || data[ls] !== LT) return undefined;
  const c = data[ls + 1]!;
  if (c === SLASH || c === SPACE || c === GT || c === TAB || c === 0x21 || c === 0x3f) return undefined; // </ <  <> <! <?
  let i = ls + 1;
  while (i < e && data[i] !== SPACE && data[i] !== GT && data[i] !== SLASH && data[i] !== TAB) i++;
  const name = data.subarray(ls + 1, i);
  let t = e;
  while (t > ls && (data[t - 1] === SPACE || data[t - 1] === TAB)) t--;
  tagClosed = (t - ls >= 2 && data[t - 1] === GT && data[t - 2] === SLASH) || closesTag(data, ls + 1, e, name, true);
  return name;
}

/** True when data[s, e) holds `</name` followed by `>`, a space or the end: at its start (after spaces), or anywhere when `anywhere`. */
export function closesTag(data: Buffer, s: number, e: number, name: Buffer, anywhere: boolean): boolean {
  let p = s;
  if (!anywhere) while (p < e && (data[p] === SPACE || data[p] === TAB)) p++;
  const last = e - 2 - name.length; // the last place `</name` can start
  for (let at = p; at <= last; at++) {
    if (data[at] === LT && data[at + 1] === SLASH && data.compare(name, 0, name.length, at + 2, at + 2 + name.length) === 0) {
      const after = at + 2 + name.length;
      if (after === e || data[after] === GT || data[after] === SPACE || data[after] === TAB) return true;
    }
    if (!anywhere) return false;
  }
  return false;
}
