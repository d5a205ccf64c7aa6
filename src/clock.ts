/** Time as the engine sees it. Tests pass a fixed or stepped clock; the agent passes systemClock. */
export interface Clock {
  /** Wall-clock milliseconds since the Unix epoch. */
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };
