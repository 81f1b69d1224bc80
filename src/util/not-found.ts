/**
 * The operator named something that does not exist (a POS that is not in the
 * config, a package that is not in the archive): a usage error (exit 2), not an
 * unexpected failure. The control channel answers it with 404.
 */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}
