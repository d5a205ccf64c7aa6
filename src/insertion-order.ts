/**
 * Queues and maps that hand out their oldest entry in O(1), however many were removed before it.
 *
 * Why not a Map's (or Set's) own insertion order: V8's ordered hash tables leave a hole for each
 * deleted entry until the table is next rehashed, and an iterator starts at the first slot and
 * walks over every hole. A table used as a queue (delete the oldest, add at the end) keeps up to
 * its capacity in holes, so `keys().next()` scans tens of thousands of slots once it is full:
 * measured at 8 µs a call with 30,000 entries, against 0.1 µs for the add. Every place that
 * evicts its oldest entry at a bound is hit exactly when a local user fills that bound, so the
 * engine's and the process table's evictions go through these instead.
 */

const COMPACT_MIN = 1024;

/** A first-in first-out queue on a growing array with a read head. */
export class FifoQueue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The oldest item, left in place. */
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /** Removes and returns the oldest item. The spent front is dropped once it is half the array. */
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= COMPACT_MIN && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Keeps the items `keep` accepts, in their order. O(length). */
  retain(keep: (item: T) => boolean): void {
    const kept: T[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i] as T;
      if (keep(item)) kept.push(item);
    }
    this.items = kept;
    this.head = 0;
  }

  /**
   * Oldest first, over the array as it was when iteration began: an item pushed meanwhile may be
   * missed, and one shifted meanwhile comes as undefined or as itself.
   */
  *[Symbol.iterator](): IterableIterator<T | undefined> {
    const items = this.items;
    for (let i = this.head; i < items.length; i++) yield items[i];
  }
}

/** Key and value are let go (undefined) once the slot is dead: it must not keep them alive. */
interface Slot<K, V> {
  key: K | undefined;
  value: V | undefined;
  live: boolean;
}

/**
 * A Map in insertion order (setting an existing key keeps its place, as with Map) whose oldest
 * entry costs O(1) amortised. A deleted entry is marked dead in the order queue and skipped when
 * it reaches the front; dead entries in the middle are swept out once they outnumber the live
 * ones, so the queue stays within about twice the map.
 */
export class OrderedMap<K, V> {
  private readonly slots = new Map<K, Slot<K, V>>();
  private readonly order = new FifoQueue<Slot<K, V>>();

  get size(): number {
    return this.slots.size;
  }

  /** Slots in the order queue, live or dead: at most 2 × size + 1,024 after any set(). */
  get queued(): number {
    return this.order.length;
  }

  get(key: K): V | undefined {
    return this.slots.get(key)?.value;
  }


  has(key: K): boolean {
    return this.slots.has(key);
  }

  set(key: K, value: V): this {
    const slot = this.slots.get(key);
    if (slot !== undefined) {
      slot.value = value;
      return this;
    }
    const added: Slot<K, V> = { key, value, live: true };
    this.slots.set(key, added);
    this.order.push(added);
    if (this.order.length > 2 * this.slots.size + COMPACT_MIN) this.order.retain((s) => s.live);
    return this;
  }

  delete(key: K): boolean {
    const slot = this.slots.get(key);
    if (slot === undefined) return false;
    slot.live = false;
    slot.key = undefined;
    slot.value = undefined;
    this.slots.delete(key);
    return true;
  }

  /** The oldest entry, or undefined when empty. */
  oldest(): [K, V] | undefined {
    const slot = this.liveFront();
    return slot === undefined ? undefined : [slot.key as K, slot.value as V];
  }

  /**
   * Oldest first. Deleting entries while iterating is safe; an entry set meanwhile may be missed.
   * Dead slots at the front are dropped first, so a walk that stops at its first live entry (the
   * sequence sweep) costs no more each time for what was deleted before it.
   */
  *entries(): IterableIterator<[K, V]> {
    this.liveFront();
    for (const slot of this.order) if (slot !== undefined && slot.live) yield [slot.key as K, slot.value as V];
  }

  *values(): IterableIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  /** Drops the dead slots at the front; returns the first live one. */
  private liveFront(): Slot<K, V> | undefined {
    for (let slot = this.order.peek(); slot !== undefined; slot = this.order.peek()) {
      if (slot.live) return slot;
      this.order.shift();
    }
    return undefined;
  }
}
