/** A controllable SinkTransport for queue tests: records what it sends, can hang or fail. */
import type { SinkTransport } from '../../src/outputs/queued-sink.js';

export class FakeTransport implements SinkTransport<string> {
  sent: string[] = [];
  opened = 0;
  reopened = 0;
  closed = 0;
  /** Errors to throw from the next sends, in order. */
  failures: Error[] = [];
  failOpen: Error | null = null;
  /** While set, send() waits for release(). */
  private gate: Promise<void> | null = null;
  private releaseGate: (() => void) | null = null;

  hold(): void {
    this.gate = new Promise((resolve) => (this.releaseGate = resolve));
  }

  release(): void {
    this.releaseGate?.();
    this.gate = null;
  }

  async open(): Promise<void> {
    if (this.failOpen) throw this.failOpen;
    this.opened += 1;
  }

  async send(item: string): Promise<void> {
    if (this.gate) await this.gate;
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.sent.push(item);
  }

  async reopen(): Promise<void> {
    this.reopened += 1;
  }

  async close(): Promise<void> {
    this.closed += 1;
    this.release();
  }
}
