import { describe, expect, it } from 'vitest';
import { FifoQueue, OrderedMap } from '../src/insertion-order.js';

/** A small deterministic generator, so a failure names its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 0x1_0000_0000;
  };
}

describe('FifoQueue', () => {
  it('gives items back in the order they came, across compactions', () => {
    const queue = new FifoQueue<number>();
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 997; i++) queue.push(next++);
      for (let i = 0; i < 900; i++) expect(queue.shift()).toBe(expected++);
      expect(queue.length).toBe(next - expected);
      expect(queue.peek()).toBe(expected);
    }
    expect([...queue]).toEqual(Array.from({ length: next - expected }, (_, i) => expected + i));
    while (queue.length > 0) expect(queue.shift()).toBe(expected++);
    expect(queue.shift()).toBeUndefined();
    expect(queue.peek()).toBeUndefined();
  });

  it('retain keeps the accepted items in order', () => {
    const queue = new FifoQueue<number>();
    for (let i = 0; i < 10; i++) queue.push(i);
    queue.shift();
    queue.retain((n) => n % 3 === 0);
    expect([...queue]).toEqual([3, 6, 9]);
    expect(queue.length).toBe(3);
  });
});

describe('OrderedMap', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`behaves as a Map under random set, delete, oldest-eviction and iteration (seed ${seed})`, () => {
      const next = random(seed);
      const ours = new OrderedMap<number, number>();
      const reference = new Map<number, number>();
      for (let step = 0; step < 40_000; step++) {
        const roll = next();
        const key = Math.floor(next() * 3_000);
        if (roll < 0.45) {
          ours.set(key, step);
          reference.set(key, step);
        } else if (roll < 0.7) {
          expect(ours.delete(key)).toBe(reference.delete(key));
        } else if (roll < 0.9) {
          // the eviction the engine does at its bounds: the oldest goes
          const oldest = ours.oldest();
          const first = reference.entries().next();
          expect(oldest).toEqual(first.done === true ? undefined : first.value);
          if (oldest !== undefined) {
            ours.delete(oldest[0]);
            reference.delete(oldest[0]);
          }
        } else {
          expect(ours.get(key)).toBe(reference.get(key));
          expect(ours.has(key)).toBe(reference.has(key));
        }
        expect(ours.size).toBe(reference.size);
        if (step % 5_000 === 0) expect([...ours]).toEqual([...reference]);
      }
      expect([...ours.entries()]).toEqual([...reference.entries()]);
      expect([...ours.values()]).toEqual([...reference.values()]);
    });
  }

  it('setting an existing key keeps its place; deleting and setting again moves it to the end', () => {
    const map = new OrderedMap<string, number>().set('a', 1).set('b', 2).set('c', 3);
    map.set('a', 10);
    expect([...map]).toEqual([['a', 10], ['b', 2], ['c', 3]]);
    map.delete('a');
    map.set('a', 11);
    expect([...map]).toEqual([['b', 2], ['c', 3], ['a', 11]]);
    expect(map.oldest()).toEqual(['b', 2]);
  });

  it('is safe to delete from while iterating, as the sequence sweep does', () => {
    const map = new OrderedMap<number, number>();
    for (let i = 0; i < 100; i++) map.set(i, i);
    const seen: number[] = [];
    for (const [key] of map) {
      seen.push(key);
      if (key % 2 === 0) map.delete(key);
      if (key === 10) map.delete(11);
    }
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i).filter((k) => k !== 11));
    expect([...map.values()]).toEqual(Array.from({ length: 100 }, (_, i) => i).filter((k) => k % 2 === 1 && k !== 11));
  });

  it('keeps its order queue bounded when entries die in the middle', () => {
    const map = new OrderedMap<number, number>();
    map.set(-1, -1); // a survivor at the front keeps dead slots from leaving by the front
    for (let i = 0; i < 200_000; i++) {
      map.set(i, i);
      expect(map.queued).toBeLessThanOrEqual(2 * map.size + 1_024);
      map.delete(i);
    }
    expect(map.size).toBe(1);
    expect(map.oldest()).toEqual([-1, -1]);
  });
});
