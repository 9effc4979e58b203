import { catalogue, findingIds } from './catalogue.js';
import { areaControls, controls, extraControls, selfAssessmentControls } from './controls.js';
import type { PostureArea } from './finding.js';

/**
 * The finding catalogue and the control mapping as Markdown tables, for docs/posture.md (a test
 * keeps the page's copy equal to this output).
 */
const cell = (s: string) => s.replace(/\|/g, '\\|');

export function renderCatalogueMarkdown(): string {
  const rows = findingIds().map((id) => {
    const e = catalogue[id]!;
    return `| \`${id}\` | ${e.severity} | ${cell(e.rfc)} | ${cell(e.title)} | ${cell(e.why)} |`;
  });
  return ['| Id | Severity | Rests on | Title | Why it matters |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}

export function renderControlsMarkdown(): string {
  const name = (id: string) => {
    const c = controls.find((x) => x.id === id)!;
    return `${c.framework} ${c.reference}`;
  };
  const areas = Object.keys(areaControls) as PostureArea[];
  return [
    '| Control | Framework reference | Title |',
    '| --- | --- | --- |',
    ...controls.map((c) => `| \`${c.id}\` | ${c.framework} ${c.reference} | ${cell(c.title)} |`),
    '',
    '| Findings in area | Evidence for |',
    '| --- | --- |',
    ...areas.map((a) => `| \`${a}.*\` | ${areaControls[a].map(name).join('; ')} |`),
    ...Object.entries(extraControls).map(([id, cs]) => `| \`${id}\` (in addition) | ${cs.map(name).join('; ')} |`),
    ...Object.entries(selfAssessmentControls).map(([check, cs]) => `| self-assessment \`${check}\` | ${cs.map(name).join('; ')} |`),
    '',
    '| Control | Evidence kept beyond the findings |',
    '| --- | --- |',
    ...controls.filter((c) => c.evidence?.length).map((c) => `| ${c.framework} ${c.reference} | ${c.evidence!.map(cell).join('<br>')} |`),
  ].join('\n');
}
