export { RealProcFs, FixtureProcFs, DEFAULT_CMDLINE_MAX_BYTES, SCAN_CMDLINE_MAX_BYTES, SCAN_CMDLINE_TAIL_BYTES, readCapabilityLastBit } from './procfs.js';
export { DEFAULT_ENV_VARS, namesToRead } from './environment.js';
export type { ProcFs } from './procfs.js';
export { ProcessTable, entityIdFor, decodeExitStatus } from './process-table.js';
export type { ProcessEntry, ProcessTableOptions, ProcessTableStats } from './process-table.js';
export type { ProcessImage } from './process-image.js';
