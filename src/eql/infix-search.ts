/**
 * "Does the text contain any of these strings?" for many strings at once. Rules list dozens of
 * substrings to look for in a command line (`like~ ("*cnpool.cc*", "*supportxmr.com*", …)`, 126 of
 * them in one miner rule); one `includes` per substring scans the value once per substring. Here
 * the value is scanned once: at each position its first two characters are looked up in a bitmap
 * of the substrings' first two characters, and only where one could start are the substrings
 * with exactly that beginning compared. Short lists keep the plain loop, which is faster for a
 * few needles.
 */

/** Lists shorter than this are searched with one `includes` per string. */
const MIN_STRINGS = 6;

export type ContainsAny = (text: string) => boolean;

export function compileContainsAny(needles: readonly string[]): ContainsAny {
  const distinct = [...new Set(needles)];
  if (distinct.includes('')) return () => true;
  if (distinct.length < MIN_STRINGS) {
    return (text) => {
      for (let i = 0; i < distinct.length; i++) if (text.includes(distinct[i]!)) return true;
      return false;
    };
  }
  const single: string[] = [];
  const byPair = new Map<number, string[]>();
  // bit per pair of low bytes: a quick no for most positions, the map decides for the rest
  const maybe = new Uint8Array(65536 / 8);
  for (const needle of distinct) {
    if (needle.length === 1) {
      single.push(needle);
      continue;
    }
    const pair = needle.charCodeAt(0) * 65536 + needle.charCodeAt(1);
    const list = byPair.get(pair);
    if (list === undefined) byPair.set(pair, [needle]);
    else list.push(needle);
    const hash = ((needle.charCodeAt(0) & 0xff) << 8) | (needle.charCodeAt(1) & 0xff);
    maybe[hash >> 3]! |= 1 << (hash & 7);
  }
  return (text) => {
    for (let i = 0; i < single.length; i++) if (text.includes(single[i]!)) return true;
    const last = text.length - 1;
    for (let i = 0; i < last; i++) {
      const first = text.charCodeAt(i);
      const second = text.charCodeAt(i + 1);
      const hash = ((first & 0xff) << 8) | (second & 0xff);
      if ((maybe[hash >> 3]! & (1 << (hash & 7))) === 0) continue;
      const list = byPair.get(first * 65536 + second);
      if (list === undefined) continue;
      for (let j = 0; j < list.length; j++) if (text.startsWith(list[j]!, i)) return true;
    }
    return false;
  };
}
