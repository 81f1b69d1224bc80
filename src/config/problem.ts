/** One problem found in a config: where, and what to do about it (every check reports these, `check-config` prints them). */
export interface ConfigProblem {
  /** Dotted key path (`transport.port`), or `(file)` for problems with the file itself. */
  path: string;
  message: string;
}
