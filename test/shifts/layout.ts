/** The shift layout with the config schema's defaults (the schema is the one place they live). */
import { singleConfigSchema } from '../../src/config/schema.js';

export const ShiftLayoutDefaults = singleConfigSchema.shape.shifts.parse({});
