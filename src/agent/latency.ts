/** The most recent N latency samples, summarised on demand (p50, p99, max) for metrics. */
export class LatencyWindow {
  private readonly samples: Float64Array;
  private next = 0;
  private filled = 0;
  private total = 0;

  constructor(size: number) {
    this.samples = new Float64Array(size);
  }

  add(ms: number): void {
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.samples.length;
    if (this.filled < this.samples.length) this.filled++;
    this.total++;
  }

  summary(): { count: number; p50: number; p99: number; max: number } {
    if (this.filled === 0) return { count: 0, p50: 0, p99: 0, max: 0 };
    const sorted = Array.from(this.samples.subarray(0, this.filled)).sort((a, b) => a - b);
    const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    return { count: this.total, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]! };
  }
}
