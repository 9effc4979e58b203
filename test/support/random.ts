/**
 * Mulberry32: a small seeded generator, so a generated test makes the same inputs on every run and a
 * failing seed can be replayed. Neighbouring seeds give unrelated sequences from the first draw on.
 */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
