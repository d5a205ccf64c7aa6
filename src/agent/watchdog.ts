/**
 * The systemd watchdog, fed from the event loop: under `Type=notify` with `WatchdogSec=`, systemd
 * sets WATCHDOG_USEC (and WATCHDOG_PID) and restarts the service when no `WATCHDOG=1` arrives in
 * time (systemd.service(5)). The pings come from a timer on the JS thread, so a stalled event loop
 * (a pathological rule, a blocking call) stops them and the service is restarted, instead of an
 * agent that runs blind. A stall that ends before that is measured (the timer came late) and
 * reported through `onStall`, which the agent turns into an alert.
 */
import type { Clock } from '../clock.js';

export interface WatchdogOptions {
  clock: Clock;
  /** Sends an sd_notify state; false when not under systemd. */
  notify: (state: string) => boolean;
  /** A timer that came this much later than due is a stall. Default 2 s. */
  stallMs?: number;
  onStall: (lateByMs: number) => void;
  env?: NodeJS.ProcessEnv;
  pid?: number;
  /** How often the loop is checked at most. Default 1 s (tests shorten it). */
  checkIntervalMs?: number;
}

export const DEFAULT_STALL_MS = 2_000;
/** Without a watchdog, the loop is still checked this often for stalls. */
const CHECK_INTERVAL_MS = 1_000;

export class Watchdog {
  private timer: NodeJS.Timeout | null = null;
  private expectedAtMs = 0;

  constructor(private readonly options: WatchdogOptions) {}

  /** The ping interval systemd asks for (half its timeout), or null when it asks for none. */
  pingIntervalMs(): number | null {
    const env = this.options.env ?? process.env;
    const usec = Number(env.WATCHDOG_USEC);
    const forPid = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === (this.options.pid ?? process.pid);
    return Number.isFinite(usec) && usec > 0 && forPid ? Math.max(100, Math.floor(usec / 1000 / 2)) : null;
  }

  /** Says READY=1 with `status`, then pings (or only checks for stalls) until stop(). */
  start(status: string): void {
    this.send(`READY=1\nSTATUS=${status.replace(/\n/g, ' ')}`);
    const check = this.options.checkIntervalMs ?? CHECK_INTERVAL_MS;
    const interval = Math.min(this.pingIntervalMs() ?? check, check);
    const pinging = this.pingIntervalMs() !== null;
    this.expectedAtMs = this.options.clock.nowMs() + interval;
    this.timer = setInterval(() => {
      const now = this.options.clock.nowMs();
      const late = now - this.expectedAtMs;
      this.expectedAtMs = now + interval;
      if (late >= (this.options.stallMs ?? DEFAULT_STALL_MS)) this.options.onStall(late);
      if (pinging) this.send('WATCHDOG=1');
    }, interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.send('STOPPING=1');
  }

  private send(state: string): void {
    try {
      this.options.notify(state);
    } catch {
      // A broken notify socket must not stop the agent; systemd then restarts it for its watchdog.
    }
  }
}
