/** The reliability harness at CI size against the 'folder' transport (see transport-suite.ts). */
import { reliabilitySuite } from './transport-suite.js';

reliabilitySuite('folder');
