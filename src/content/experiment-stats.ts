/**
 * The statistics of experiment results, pure functions (docs/experiments.md gives the formulas).
 *
 * Rates are proportions x/n. A variant is compared with the control by the two-proportion z-test:
 *
 *     p = (x1 + x2) / (n1 + n2)                      pooled proportion
 *     z = (p1 - p2) / sqrt(p (1 - p) (1/n1 + 1/n2))
 *
 * one-sided p-value 1 - Φ(z) for "the variant's rate is higher". The interval of the difference is
 * Wald's, p1 - p2 ± z(1-α/2) sqrt(p1(1-p1)/n1 + p2(1-p2)/n2); the interval of one rate is Wilson's
 * score interval, which stays inside [0, 1] and behaves at x = 0 (complaints usually are 0).
 */
export interface Proportion {
  x: number;
  n: number;
}

/** Φ, the standard normal CDF (Abramowitz & Stegun 7.1.26 via erf; absolute error < 1.5e-7). */
export function normalCdf(z: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(z)) / Math.SQRT2);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(z * z) / 2);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** z such that Φ(z) = p, by bisection on normalCdf (60 steps: far below display precision). */
export function normalQuantile(p: number): number {
  let lo = -10;
  let hi = 10;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export const rate = (p: Proportion) => (p.n ? p.x / p.n : 0);

/** Wilson score interval at confidence 1 - alpha. */
export function wilson(p: Proportion, alpha = 0.05): [number, number] {
  if (!p.n) return [0, 1];
  const z = normalQuantile(1 - alpha / 2);
  const ph = p.x / p.n;
  const d = 1 + (z * z) / p.n;
  const centre = (ph + (z * z) / (2 * p.n)) / d;
  const half = (z * Math.sqrt((ph * (1 - ph)) / p.n + (z * z) / (4 * p.n * p.n))) / d;
  // At x = 0 (or n) the bound is exactly 0 (or 1); the float formula leaves a 1e-17 residue.
  return [p.x === 0 ? 0 : Math.max(0, centre - half), p.x === p.n ? 1 : Math.min(1, centre + half)];
}

export interface Comparison {
  /** Variant rate minus control rate. */
  difference: number;
  interval: [number, number];
  z: number;
  /** One-sided: the probability of a difference at least this large if the rates were equal. */
  pHigher: number;
}

export function twoProportionTest(variant: Proportion, control: Proportion, alpha = 0.05): Comparison | undefined {
  if (!variant.n || !control.n) return undefined;
  const p1 = variant.x / variant.n;
  const p2 = control.x / control.n;
  const pooled = (variant.x + control.x) / (variant.n + control.n);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / variant.n + 1 / control.n));
  const z = se === 0 ? 0 : (p1 - p2) / se;
  const zc = normalQuantile(1 - alpha / 2);
  const seDiff = Math.sqrt((p1 * (1 - p1)) / variant.n + (p2 * (1 - p2)) / control.n);
  return { difference: p1 - p2, interval: [p1 - p2 - zc * seDiff, p1 - p2 + zc * seDiff], z, pHigher: 1 - normalCdf(z) };
}
