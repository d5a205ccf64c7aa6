/** The lab's response check: the longest it allows from a reverse shell's matched exec to its kill. */
export const RESPONSE_BOUND_MS = 1000;
