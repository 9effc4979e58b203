import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

/**
 * The preflight's data, read from `rules/content.yaml`: thresholds, tracking parameters, URL
 * shorteners and cold-lane spam phrases. Loaded once at start-up and passed down; a bad file fails
 * loudly, naming each bad key.
 */
export interface ContentRules {
  version: string;
  thresholds: {
    htmlClipBytes: number;
    minWordsPerImage: number;
    imageOnlyMaxWords: number;
    previewMinOverlap: number;
    maxTrackingParams: number;
    dkimRotationWarnDays: number;
    coldRepeatMin: number;
    coldRepeatWindowDays: number;
    coldRecentLimit: number;
  };
  /** Lower-case parameter names; an entry ending in `*` is a prefix. */
  trackingParams: string[];
  /** Lower-case host names; subdomains match too. */
  shorteners: string[];
  /** Lower-case phrases. */
  spamPhrases: string[];
}

const thresholdKeys = {
  html_clip_bytes: 'htmlClipBytes',
  min_words_per_image: 'minWordsPerImage',
  image_only_max_words: 'imageOnlyMaxWords',
  preview_min_overlap: 'previewMinOverlap',
  max_tracking_params: 'maxTrackingParams',
  dkim_rotation_warn_days: 'dkimRotationWarnDays',
  cold_repeat_min: 'coldRepeatMin',
  cold_repeat_window_days: 'coldRepeatWindowDays',
  cold_recent_limit: 'coldRecentLimit',
} as const;

/** Reads the rules from YAML text or a `.yaml` path. */
export function loadContentRules(yamlTextOrPath: string): ContentRules {
  const text = /^[^\n]+\.ya?ml$/i.test(yamlTextOrPath.trim()) ? readFileSync(yamlTextOrPath.trim(), 'utf8') : yamlTextOrPath;
  const doc = (parseYaml(text) ?? {}) as Record<string, unknown>;
  const problems: string[] = [];
  const t = (doc.thresholds ?? {}) as Record<string, unknown>;
  const thresholds = {} as Record<string, number>;
  for (const [key, field] of Object.entries(thresholdKeys)) {
    const v = t[key];
    if (typeof v !== 'number' || !(v >= 0)) problems.push(`thresholds.${key} must be a number ≥ 0`);
    else thresholds[field] = v;
  }
  const list = (key: string): string[] => {
    const v = doc[key];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x.trim())) {
      problems.push(`${key} must be a list of strings`);
      return [];
    }
    return v.map((x: string) => x.trim().toLowerCase());
  };
  const rules = {
    version: String(doc.version ?? ''),
    thresholds: thresholds as unknown as ContentRules['thresholds'],
    trackingParams: list('tracking_params'),
    shorteners: list('shorteners'),
    spamPhrases: list('spam_phrases'),
  };
  if (problems.length) throw new Error(`invalid content rules: ${problems.join('; ')}`);
  return rules;
}

export function defaultContentRulesPath(): string {
  return fileURLToPath(new URL('../../rules/content.yaml', import.meta.url));
}

export function loadDefaultContentRules(): ContentRules {
  return loadContentRules(defaultContentRulesPath());
}
