/**
 * The one error type of `src/formats/`: bad input bytes (SPR, report, ZIP,
 * base64...). It always names the file (or archive, or package) and, when it
 * applies, the line, so an operator can find the offending item.
 */
export class FormatError extends Error {
  override readonly name = 'FormatError';
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(line === undefined ? `${file}: ${reason}` : `${file} line ${line}: ${reason}`);
  }
}
