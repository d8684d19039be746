/**
 * The HTML report's data, without a browser: the flame tree (views, pruning, diff sides), the
 * app's layout and search geometry, the timeline series, the page's escaping and CSP, and the
 * file-writing rules (0600, no overwrite without force).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeProfile } from '../src/analysis/analyze.ts';
import { buildFlameTree } from '../src/analysis/flame-tree.ts';
import { identifyFrom, reportViews } from '../src/analysis/report-views.ts';
import { labelSamples, type SampleLabels } from '../src/analysis/sample-labels.ts';
import { timelineOf } from '../src/analysis/timeline.ts';
import { mergeHosts } from '../src/model/hosts.ts';
import { mergeProfiles } from '../src/model/merge.ts';
import type { Profile } from '../src/model/profile.ts';
import {
  FlameModel,
  layoutFlame,
  matchedWeight,
  searchFlame,
  ViewWeights,
} from '../src/report/html/app/flame-model.ts';
import { buildReportData } from '../src/report/html/html-report.ts';
import { DATA_ELEMENT_ID, embeddedJson, reportPage } from '../src/report/html/page.ts';
import { type FlameData, FlameKind } from '../src/report/html/report-data.ts';
import { ReportExistsError, writeReportFile } from '../src/report/html/write-file.ts';
import { profileFromText } from './support/profile-text.ts';

const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';
const A = '/crosstalk-test/a';
const B = '/crosstalk-test/b';
const fadvise = `main@/srv/q;Write@/srv/q;posix_fadvise@${LIBC};entry_SYSCALL_64_[k];do_syscall_64_[k];__x64_sys_fadvise64_[k];lru_add_drain_all_[k]`;

const text = `
${A} query:10 ${fadvise} 60
${A} query:10 main@/srv/q;Parse@/srv/q 10
${B} victim:20 main@/srv/v;Compute@/srv/v 25
${B} victim:20 main@/srv/v;Tiny@/srv/v 5
`;

/** Labels with containers as the profile's analysis names them. */
function labelsOf(p: Profile): SampleLabels {
  return labelSamples(p, { identify: identifyFrom([analyzeProfile(p)]) });
}

/** Node index by the path of names from the root ("all;query;main;Write"). */
function nodeByPath(f: FlameData, path: string): number {
  const names = path.split(';');
  return f.parent.findIndex((_, i) => {
    const chain: string[] = [];
    for (let n = i; n !== -1; n = f.parent[n]) chain.unshift(f.strings[f.name[n]]);
    return chain.join(';') === names.join(';');
  });
}

function valueIn(f: FlameData, viewId: string, node: number): number {
  const v = f.views.find((x) => x.id === viewId)!;
  const k = v.nodes.indexOf(node);
  return k === -1 ? 0 : v.value[k];
}

describe('buildFlameTree', () => {
  const p = profileFromText(text);
  const labels = labelsOf(p);
  const f = buildFlameTree(labels, { minShare: 0 });

  it('puts the process under the root and frames root-first under it, with inclusive weights', () => {
    expect(f.strings[f.name[0]]).toBe('all');
    expect(f.kind[0]).toBe(FlameKind.root);
    const query = nodeByPath(f, 'all;query');
    expect(f.kind[query]).toBe(FlameKind.process);
    expect(valueIn(f, 'all', 0)).toBe(100);
    expect(valueIn(f, 'all', query)).toBe(70);
    expect(valueIn(f, 'all', nodeByPath(f, 'all;query;main'))).toBe(70);
    const drain = nodeByPath(
      f,
      `all;query;main;Write;posix_fadvise;entry_SYSCALL_64;do_syscall_64;__x64_sys_fadvise64;lru_add_drain_all`,
    );
    expect(f.kind[drain]).toBe(FlameKind.kernel);
    expect(f.strings[f.module[drain]]).toBe('[kernel.kallsyms]');
    expect(valueIn(f, 'all', drain)).toBe(60);
    expect(f.signed).toBe(false);
    for (let i = 1; i < f.parent.length; i++) expect(f.parent[i]).toBeLessThan(i);
  });

  it('has one view per container with the same nodes weighted by that container only', () => {
    expect(f.views.map((v) => [v.id, v.label])).toEqual([
      ['all', 'all samples'],
      [A, 'a'],
      [B, 'b'],
    ]);
    const a = f.views[1];
    expect(a.total).toBe(70);
    expect(valueIn(f, a.id, 0)).toBe(70);
    expect(valueIn(f, a.id, nodeByPath(f, 'all;victim'))).toBe(0);
    expect(valueIn(f, f.views[2].id, nodeByPath(f, 'all;victim;main;Tiny'))).toBe(5);
  });

  it('leaves out container views past the entry budget, heaviest first', () => {
    const capped = buildFlameTree(labels, {
      minShare: 0,
      maxViewEntries: f.views[0].nodes.length + 12,
    });
    expect(capped.views.map((v) => v.id)).toEqual(['all', A]);
    expect(capped.pruning.viewsLeftOut).toBe(1);
  });

  it('keeps the same cgroup on two hosts apart: one view each, labelled with its host', () => {
    const two = mergeHosts(
      [
        { host: 'db-1', profile: profileFromText(text) },
        { host: 'db-2', profile: profileFromText(`${A} query:10 ${fadvise} 7`) },
      ],
      'two hosts',
    );
    const f2 = buildFlameTree(labelsOf(two), { minShare: 0 });
    const byId = new Map(f2.views.map((v) => [v.id, v]));
    expect([...byId.keys()].sort()).toEqual(['all', `${A}@db-1`, `${A}@db-2`, `${B}@db-1`].sort());
    expect(byId.get(`${A}@db-1`)?.total).toBe(70);
    expect(byId.get(`${A}@db-2`)?.total).toBe(7);
    expect(byId.get(`${A}@db-2`)?.label).toMatch(/ \(db-2\)$/);
  });

  it('gives no container view when there is only one container (it would equal all)', () => {
    const one = buildFlameTree(labelsOf(profileFromText(`${A} q:1 main@/x;f@/x 3\n${A} q:1 main@/x 1`)), {
      minShare: 0,
    });
    expect(one.views.map((v) => v.id)).toEqual(['all']);
  });

  it('prunes frames under minShare of every view, keeping a connected tree', () => {
    // Tiny is 5% of all samples but 16.7% of container B: kept at 10%, dropped at 20%.
    const at10 = buildFlameTree(labels, { minShare: 0.1 });
    expect(nodeByPath(at10, 'all;victim;main;Tiny')).not.toBe(-1);
    const at20 = buildFlameTree(labels, { minShare: 0.2 });
    expect(nodeByPath(at20, 'all;victim;main;Tiny')).toBe(-1);
    expect(nodeByPath(at20, 'all;victim;main;Compute')).not.toBe(-1);
    expect(at20.pruning.nodesKept).toBe(at20.parent.length);
    expect(at20.pruning.nodesBefore).toBe(f.parent.length);
    // A parent's weight keeps what its pruned children had.
    expect(valueIn(at20, 'all', nodeByPath(at20, 'all;victim;main'))).toBe(30);
  });

  it('raises the threshold to keep about maxNodes nodes', () => {
    const small = buildFlameTree(labels, { minShare: 0, maxNodes: 6 });
    expect(small.parent.length).toBe(6);
    expect(small.pruning.minShare).toBeGreaterThan(0);
    for (let i = 1; i < small.parent.length; i++) expect(small.parent[i]).toBeGreaterThanOrEqual(0);
  });

  it('sums a diff profile’s target (positive) and baseline (negative) weights separately', () => {
    const base = profileFromText(`${A} query:10 main@/srv/q;Parse@/srv/q 30\n${A} query:10 ${fadvise} 10`);
    const target = profileFromText(`${A} query:10 main@/srv/q;Parse@/srv/q 10\n${A} query:10 ${fadvise} 30`);
    const diff = mergeProfiles([target, base], 'diff', {
      weightScale: (part) => (part === 0 ? 1 / 40 : -1 / 40),
    });
    const d = buildFlameTree(labelSamples(diff), { minShare: 0 });
    expect(d.signed).toBe(true);
    const all = d.views[0];
    expect(all.total).toBeCloseTo(1);
    expect(all.baseTotal).toBeCloseTo(1);
    const parse = nodeByPath(d, 'all;query;main;Parse');
    const k = all.nodes.indexOf(parse);
    expect(all.value[k]).toBeCloseTo(0.25);
    expect(all.base![k]).toBeCloseTo(0.75);
    expect(all.samples[k]).toBe(1);
    expect(all.baseSamples![k]).toBe(1);
  });
});

describe('the app’s flame geometry', () => {
  const f = buildFlameTree(labelsOf(profileFromText(text)), { minShare: 0 });
  const model = new FlameModel(f);
  const weights = new ViewWeights(model, f.views[0]);

  it('lays the root over the full width and children side by side in name order', () => {
    const l = layoutFlame(model, weights, 'normal', 0, 1000);
    const at = (path: string) => {
      const node = nodeByPath(f, path);
      const k = Array.from(l.node.subarray(0, l.count)).indexOf(node);
      return { x: l.x[k], w: l.w[k], row: l.row[k] };
    };
    expect(at('all')).toEqual({ x: 0, w: 1000, row: 0 });
    expect(at('all;query')).toMatchObject({ x: 0, w: 700, row: 1 });
    expect(at('all;victim')).toMatchObject({ x: 700, w: 300, row: 1 });
    expect(at('all;query;main;Parse').x).toBe(0);
    expect(at('all;query;main;Write').x).toBe(100);
  });

  it('zooms: the zoomed frame spans the width, its ancestors stay above, other frames go', () => {
    const victim = nodeByPath(f, 'all;victim;main');
    const l = layoutFlame(model, weights, 'normal', victim, 600);
    const drawn = Array.from(l.node.subarray(0, l.count));
    expect(drawn).toContain(0);
    expect(drawn).not.toContain(nodeByPath(f, 'all;query'));
    const k = drawn.indexOf(victim);
    expect([l.x[k], l.w[k]]).toEqual([0, 600]);
    const tiny = drawn.indexOf(nodeByPath(f, 'all;victim;main;Tiny'));
    expect(l.w[tiny]).toBeCloseTo(100);
  });

  it('skips frames narrower than a third of a pixel', () => {
    const l = layoutFlame(model, weights, 'normal', 0, 5);
    const drawn = Array.from(l.node.subarray(0, l.count));
    expect(drawn).not.toContain(nodeByPath(f, 'all;victim;main;Tiny'));
  });

  it('search marks matching names case-insensitively and counts nested matches once', () => {
    const hit = searchFlame(model, 'MAIN');
    expect(hit.reduce((a, b) => a + b, 0)).toBe(2);
    expect(matchedWeight(model, weights, hit, 'normal')).toBe(100);
    expect(searchFlame(model, '  ').every((x) => x === 0)).toBe(true);
  });
});

describe('timelineOf', () => {
  it('gives kernel time per container and per syscall in windows, with roles', () => {
    const lines: string[] = [];
    // 20 s at 1 ms per sample: profileFromText spaces samples 1 ms apart.
    for (let i = 0; i < 20_000; i++) {
      lines.push(
        i % 2 === 0
          ? `${A} query:10 ${fadvise} 1000000`
          : `${B} victim:20 main@/srv/v;Compute@/srv/v 1000000`,
      );
    }
    const p = profileFromText(lines.join('\n'));
    const t = timelineOf(labelsOf(p), {
      syscalls: ['fadvise64'],
      findingSyscalls: ['fadvise64'],
      antagonists: [A],
    })!;
    expect(t.unit).toBe('cpus');
    expect(t.times.length).toBe(20);
    expect(t.containers.map((c) => [c.id, c.label, c.role])).toEqual([[A, 'a', 'antagonist']]);
    // Half the samples, 1 ms each, every 1 ms: 0.5 CPU in the kernel.
    for (const v of t.containers[0].values) expect(v).toBeCloseTo(0.5, 2);
    expect(t.syscalls[0]).toMatchObject({ id: 'fadvise64', role: 'finding' });
  });

  it('draws the same cgroup on two hosts as two series; the role goes to the finding host only', () => {
    const kernelLines = (n: number) =>
      Array.from({ length: n }, () => `${A} query:10 ${fadvise} 1000000`).join('\n');
    const two = mergeHosts(
      [
        { host: 'db-1', profile: profileFromText(kernelLines(20_000)) },
        { host: 'db-2', profile: profileFromText(kernelLines(10_000)) },
      ],
      'two hosts',
    );
    const t = timelineOf(labelsOf(two), { antagonists: [`${A}@db-2`] })!;
    expect(t.containers.map((c) => [c.id, c.label, c.role])).toEqual([
      [`${A}@db-1`, 'a (db-1)', null],
      [`${A}@db-2`, 'a (db-2)', 'antagonist'],
    ]);
  });

  it('has no timeline for samples without time', () => {
    const b = profileFromText(`${A} q:1 main@/x 1`);
    const noTime = { ...b, samples: { ...b.samples, time: new Float64Array([Number.NaN]) } } as Profile;
    expect(timelineOf(labelSamples(noTime))).toBeNull();
  });
});

describe('the page', () => {
  const hostile = '</script><img src=x onerror=alert(1)><!--';
  const p = profileFromText(`${A} q:1 main@/x;${hostile.replaceAll(';', ',')}@/x 3`);
  const labels = labelSamples(p);
  const result = analyzeProfile(p, { labels });
  const data = buildReportData({
    kind: 'analysis',
    result,
    findings: [],
    views: reportViews({ kind: 'analysis', labels, main: result, findings: [] }),
    generatedAt: new Date(0),
  });
  const app = { js: 'document.body.dataset.x="1";', css: 'body{color:red}' };
  const html = reportPage(data, app);

  it('embeds profile text only inside the JSON block, with every < escaped', () => {
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<!--');
    expect(html.split('</script>').length).toBe(3);
    const m = new RegExp(`<script type="application/json" id="${DATA_ELEMENT_ID}">(.*?)</script>`, 's').exec(
      html,
    );
    const round = JSON.parse(m![1]);
    expect(round.flame.strings).toContain(hostile.replaceAll(';', ','));
    expect(embeddedJson({ s: '<\u2028>' })).toBe('{"s":"\\u003c\u2028>"}');
  });

  it('allows only its own script and style, by hash, and nothing from the network', () => {
    const csp = /content="(default-src[^"]*)"/.exec(html)![1];
    const hash = (s: string) => createHash('sha256').update(s).digest('base64');
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain(`script-src 'sha256-${hash(app.js)}'`);
    expect(csp).toContain(`style-src 'sha256-${hash(app.css)}'`);
    expect(html).toContain(`<script>${app.js}</script>`);
    const outsideData = html.replace(/<script type="application\/json"[^>]*>.*?<\/script>/s, '');
    expect(outsideData).not.toMatch(/\b(?:src|href)=/);
  });

  it('refuses an app bundle that would close its own element', () => {
    expect(() => reportPage(data, { js: 'x="</script>"', css: '' })).toThrow(/closing/);
  });
});

describe('writeReportFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'crosstalk-html-'));

  it('creates the file with mode 0600', async () => {
    const file = join(dir, 'a.html');
    const r = await writeReportFile(file, 'one');
    expect(r.bytes).toBe(3);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('never overwrites an existing file without force', async () => {
    const file = join(dir, 'b.html');
    writeFileSync(file, 'keep', { mode: 0o644 });
    await expect(writeReportFile(file, 'new')).rejects.toBeInstanceOf(ReportExistsError);
    expect(readFileSync(file, 'utf8')).toBe('keep');
  });

  it('with force replaces it atomically, as 0600, leaving no temporary file', async () => {
    const file = join(dir, 'c.html');
    writeFileSync(file, 'old', { mode: 0o644 });
    await writeReportFile(file, 'new', { force: true });
    expect(readFileSync(file, 'utf8')).toBe('new');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).filter((n) => n.includes('.tmp'))).toEqual([]);
  });
});
