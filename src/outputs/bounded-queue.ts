/**
 * A fixed-capacity FIFO on a ring buffer. `push` refuses (returns false) instead of growing, so a
 * sink that cannot keep up costs bounded memory; the caller counts the refusal as a drop.
 */
export class BoundedQueue<T> {
  readonly capacity: number;
  private readonly slots: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`queue capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
    this.slots = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.count;
  }

  /** Appends; returns false (and keeps nothing) when the queue is full. */
  push(item: T): boolean {
    if (this.count === this.capacity) return false;
    this.slots[(this.head + this.count) % this.capacity] = item;
    this.count += 1;
    return true;
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.slots[this.head];
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.slots[this.head];
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count -= 1;
    return item;
  }

  /** Empties the queue and returns how many items it held. */
  clear(): number {
    const dropped = this.count;
    while (this.count > 0) this.shift();
    return dropped;
  }
}
