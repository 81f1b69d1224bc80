/** The reliability harness at CI size against a real ProFTPD behind a TCP proxy (see transport-suite.ts). */
import { reliabilitySuite } from './transport-suite.js';

reliabilitySuite('ftp');
