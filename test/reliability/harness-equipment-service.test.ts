/** The reliability harness at CI size against the 1C EquipmentService emulator behind a TCP proxy (see transport-suite.ts). */
import { reliabilitySuite } from './transport-suite.js';

reliabilitySuite('equipment-service');
