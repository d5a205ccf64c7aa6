import { ExecwardenError } from '../errors.js';

/** Failures of the simulations and the self-test (unknown variant, listener trouble…). */
export class LabError extends ExecwardenError {}
