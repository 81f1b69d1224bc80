/** The reliability harness at CI size against the KKMTransfer emulator behind a TCP proxy (see transport-suite.ts). */
import { reliabilitySuite } from './transport-suite.js';

reliabilitySuite('kkmtransfer');
