// Compare runs: one overlay; runs of one group (same config but the seed, or one ensemble) drawn as their
// median with a band (min–max or quartiles) and each member faintly, every member listed on hover;
// log or linear step axis; curves aligned at each run's t_mem.
import {cachedCurve, loadCurves, runs} from './api.js';
import {band, groupRuns, points, tMem, varyingFields} from './bands.js';
import {base, chart, stepAxis, valueAxis} from './charts.js';
import {PALETTE, clear, el, esc, fmt, runLabel} from './util.js';

const METRICS = [['test_acc', 'test accuracy'], ['train_acc', 'train accuracy'], ['test_loss', 'test loss'],
  ['train_loss', 'train loss'], ['mia_auc', 'leakage AUC'], ['mia_tpr1', 'leakage TPR@1%FPR'],
  ['weight_norm', 'weight norm']];
const LOG_Y = new Set(['test_loss', 'train_loss', 'weight_norm']);
const MAX_LISTED = 8;

let ids = [];
const meta = new Map();   // series id -> {kind, label, group, b}
export const drawn = {groups: 0, bands: 0, members: 0, singles: 0, skipped: 0};

const opt = (id) => document.getElementById(id);

function controls() {
  return {metric: opt('cmp-metric').value, log: opt('cmp-xaxis').value === 'log', align: opt('cmp-align').checked,
    mode: opt('cmp-group').value, kind: opt('cmp-band').value};
}

function groupLabel(g, vary, mode) {
  const first = g.members[0];
  if (g.members.length === 1) return runLabel(first);
  if (mode === 'ensemble') return `group ${first.group_id} (${g.members.length} members)`;
  const cfg = first.config || {};
  const desc = vary.length ? vary.slice(0, 4).map((k) => `${k}=${fmt(cfg[k])}`).join(' ')
    : `${cfg.task} ${cfg.model}`;
  return `${desc} (${g.members.length} seeds)`;
}

function tooltip(xName) {
  return (params) => {
    const list = (Array.isArray(params) ? params : [params]).filter((p) => meta.has(p.seriesId) && p.value);
    if (!list.length) return '';
    const lines = [`<div>${esc(xName)} ${esc(fmt(list[0].value[0]))}</div>`];
    const listed = new Map();
    for (const p of list) {
      const m = meta.get(p.seriesId);
      const v = esc(fmt(p.value[1]));
      if (m.kind === 'median') {
        const i = p.dataIndex;
        lines.push(`${p.marker}<b>${esc(m.label)}</b>: median ${v} [${esc(fmt(m.b.lo[i]))} – ${esc(fmt(m.b.hi[i]))}]`
          + `, n=${m.b.n[i]}`);
      } else if (m.kind === 'member') {
        const k = (listed.get(m.group) || 0) + 1;
        listed.set(m.group, k);
        if (k <= MAX_LISTED) lines.push(`<span class="tip-member">&nbsp;&nbsp;${esc(m.label)}: ${v}</span>`);
        else if (k === MAX_LISTED + 1) lines.push('<span class="tip-member">&nbsp;&nbsp;…</span>');
      } else {
        lines.push(`${p.marker}${esc(m.label)}: <b>${v}</b>`);
      }
    }
    return `<div class="tip">${lines[0]}${lines.slice(1).join('<br>')}</div>`;
  };
}

function groupSeries(gi, label, members, c, series) {
  const colour = PALETTE[gi % PALETTE.length];
  if (members.length === 1) {
    const id = `run:${members[0].row.run_id}`;
    meta.set(id, {kind: 'single', label, group: gi});
    series.push({id, name: label, type: 'line', showSymbol: false, sampling: 'lttb', color: colour,
      lineStyle: {width: 1.8}, data: members[0].pts});
    drawn.singles += 1;
    return;
  }
  const b = band(members.map((m) => m.pts), c.kind);
  const stack = `stack:${gi}`;
  series.push({id: `lo:${gi}`, name: `${label} band`, type: 'line', stack, stackStrategy: 'all', silent: true,
    showSymbol: false, lineStyle: {opacity: 0}, color: colour, data: b.x.map((x, i) => [x, b.lo[i]])});
  series.push({id: `band:${gi}`, name: `${label} band`, type: 'line', stack, stackStrategy: 'all', silent: true,
    showSymbol: false, lineStyle: {opacity: 0}, color: colour, areaStyle: {color: colour, opacity: 0.18},
    data: b.x.map((x, i) => [x, b.hi[i] - b.lo[i]])});
  meta.set(`median:${gi}`, {kind: 'median', label, group: gi, b});   // before its members: first in the tooltip
  series.push({id: `median:${gi}`, name: label, type: 'line', showSymbol: false, color: colour, z: 5,
    lineStyle: {width: 2.4}, data: b.x.map((x, i) => [x, b.med[i]])});
  for (const m of members) {
    const id = `member:${m.row.run_id}`;
    meta.set(id, {kind: 'member', label: runLabel(m.row), group: gi});
    series.push({id, name: runLabel(m.row), type: 'line', showSymbol: false, sampling: 'lttb', color: colour,
      lineStyle: {width: 0.8, opacity: 0.35}, emphasis: {focus: 'series', lineStyle: {width: 2, opacity: 1}},
      data: m.pts});
  }
  drawn.bands += 1;
  drawn.members += members.length;
}

function legendEntry(gi, label, members) {
  const sw = el('span', {class: 'swatch'});
  sw.style.background = PALETTE[gi % PALETTE.length];
  const entry = el('div', {class: 'legend-group', dataset: {group: gi}}, sw, el('b', {}, label));
  if (members.length > 1) {
    entry.append(el('ul', {}, members.map((m) => el('li', {}, el('a', {href: `#run/${encodeURIComponent(
      m.row.run_id)}`}, runLabel(m.row))))));
  }
  entry.addEventListener('mouseenter', () => chart('cmp-chart').dispatchAction({type: 'highlight',
    seriesId: members.length > 1 ? members.map((m) => `member:${m.row.run_id}`) : `run:${members[0].row.run_id}`}));
  entry.addEventListener('mouseleave', () => chart('cmp-chart').dispatchAction({type: 'downplay'}));
  return entry;
}

export function draw() {
  const c = controls();
  const yLog = LOG_Y.has(c.metric);
  const rows = ids.map((id) => runs.byId.get(id)).filter(Boolean);
  const groups = groupRuns(rows, c.mode);
  const vary = varyingFields(groups);
  const series = [];
  const legend = clear(opt('cmp-legend'));
  meta.clear();
  Object.assign(drawn, {groups: 0, bands: 0, members: 0, singles: 0, skipped: 0});
  groups.forEach((g, gi) => {
    const members = [];
    for (const r of g.members) {
      const curve = cachedCurve(r.run_id);
      if (!curve) continue;
      const at = c.align ? (r.t_mem ?? tMem(curve, (r.config || {}).acc_threshold ?? 0.99)) : null;
      if (c.align && (at === null || at <= 0)) { drawn.skipped += 1; continue; }
      let pts = points(curve, c.metric, {log: c.log, align: at});
      if (yLog) pts = pts.filter((p) => p[1] > 0);
      members.push({row: r, pts});
    }
    if (!members.length) return;
    const label = groupLabel({members: members.map((m) => m.row)}, vary, c.mode);
    groupSeries(gi, label, members, c, series);
    legend.append(legendEntry(gi, label, members));
    drawn.groups += 1;
  });
  const xName = c.align ? (c.log ? 'step / t_mem' : 'step − t_mem') : 'step';
  const name = (METRICS.find(([k]) => k === c.metric) || [c.metric, c.metric])[1];
  const missing = ids.length - rows.length;
  opt('cmp-note').textContent = [!ids.length ? 'select runs in the Runs tab, then Compare' : '',
    missing ? `${missing} run(s) not in the store` : '',
    drawn.skipped ? `${drawn.skipped} run(s) without t_mem left out of the alignment` : ''].filter(Boolean).join(' · ');
  chart('cmp-chart').setOption({...base(name), legend: {show: false}, xAxis: stepAxis(c.log, xName),
    yAxis: valueAxis(name, yLog ? {log: true} : c.metric.endsWith('acc') || c.metric.startsWith('mia')
      ? {min: 0, max: 1} : {}),
    tooltip: {trigger: 'axis', confine: true, formatter: tooltip(xName)}, series}, {notMerge: true});
}

export async function show(arg) {
  ids = (arg || '').split(',').map((s) => decodeURIComponent(s)).filter((s) => /^[a-z0-9][a-z0-9-]{0,63}$/.test(s));
  await loadCurves(ids.filter((id) => runs.byId.has(id)));
  draw();
}

export async function update() {
  await loadCurves(ids.filter((id) => runs.byId.has(id)));
  draw();
}

export function setup() {
  const sel = opt('cmp-metric');
  sel.append(...METRICS.map(([k, label]) => el('option', {value: k, text: label})));
  for (const id of ['cmp-metric', 'cmp-xaxis', 'cmp-align', 'cmp-group', 'cmp-band']) {
    opt(id).addEventListener('change', draw);
  }
}
