/**
 * File-name patterns for `till.reportFiles`: `*` and `?` only, matched against a
 * bare name, case-insensitively (Kassir runs on Windows, where POS1.REP and
 * pos1.rep are the same file).
 */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (const ch of pattern) {
    if (ch === '*') re += '[^/\\\\]*';
    else if (ch === '?') re += '[^/\\\\]';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'i');
}
