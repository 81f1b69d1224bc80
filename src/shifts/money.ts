/**
 * Money as exact decimals: an amount is a whole number of kopecks (a BigInt),
 * read from a report field ("270", "270.5", "-15.00") and written with two
 * digits after the point ("270.50"). Never a floating-point number: sums of
 * thousands of receipts must equal the Z report to the kopeck.
 */

/** Kopecks, or undefined when the text is not an amount (empty, letters, a comma, more than two non-zero decimals). */
export function parseAmount(text: string): bigint | undefined {
  // The usual shape ("-270.50", at most 13 digits before the point): read without a regular expression or a BigInt parse.
  const n = text.length;
  if (n > 0 && n <= 17 && text.charCodeAt(n - 3) === 0x2e) {
    let i = text.charCodeAt(0) === 0x2d ? 1 : 0;
    let v = 0;
    let ok = i < n - 3;
    for (let j = i; ok && j < n; j++) {
      if (j === n - 3) continue;
      const c = text.charCodeAt(j) - 0x30;
      if (c < 0 || c > 9) ok = false;
      else v = v * 10 + c;
    }
    if (ok) return BigInt(i === 1 ? -v : v);
  }
  const m = /^\s*([+-]?)(\d+)(?:\.(\d*))?\s*$/.exec(text);
  if (!m) return undefined;
  const decimals = m[3] ?? '';
  // "10.500" is still an exact amount; "10.505" is not one of kopecks.
  if (/[1-9]/.test(decimals.slice(2))) return undefined;
  const kopecks = BigInt(m[2]!) * 100n + BigInt((decimals + '00').slice(0, 2));
  return m[1] === '-' ? -kopecks : kopecks;
}

/** "270.00", "-3.50": two digits after the point, a minus sign for negative amounts. */
export function formatAmount(kopecks: bigint): string {
  const neg = kopecks < 0n;
  const abs = neg ? -kopecks : kopecks;
  return `${neg ? '-' : ''}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

/** Adds two amounts written by formatAmount (the ledger keeps its sums as such strings). */
export function addAmounts(a: string, b: bigint): string {
  return formatAmount(parseAmount(a)! + b);
}
