export { KkmTransferTransport, type KkmTransferOptions, type KkmTransferDeps, type KkmCursor } from './transport.js';
