// Sweeps: the list, and one sweep's phase diagram, delay grid and parallel coordinates, redrawn as its
// points finish (points not done yet show grey).
import {getJSON} from './api.js';
import {chart} from './charts.js';
import {PHASES, PHASE_COLOURS, clear, el, esc, fmt, progressBar} from './util.js';

let current = null;
let data = null;
export const drawn = {phaseCells: 0, pendingCells: 0, delayCells: 0, lines: 0};

const key = (v) => JSON.stringify(v ?? null);
const label = (v) => (v === null || v === undefined ? '—' : fmt(v));

async function list() {
  const {sweeps} = await getJSON('/api/sweeps');
  const body = clear(document.querySelector('#sweeps-table tbody'));
  if (!sweeps.length) body.append(el('tr', {}, el('td', {class: 'muted'}, 'no sweeps in this store yet')));
  for (const s of sweeps) {
    body.append(el('tr', {dataset: {sweep: s.sweep_id}, class: s.sweep_id === current ? 'current' : ''},
      el('td', {}, el('a', {href: `#sweeps/${encodeURIComponent(s.sweep_id)}`}, s.name || s.sweep_id),
        el('div', {class: 'muted'}, `${s.kind} · ${s.status} · ${s.n_done}/${s.n_points}`),
        progressBar(s.n_done, s.n_points))));
  }
  return sweeps;
}

function cellTip(p) {
  const d = p.data && p.data.info;
  if (!d) return '';
  const head = `${esc(data.diagram.x_name)}=${esc(label(d.x))}${data.diagram.y_name ? `, ${esc(data.diagram.y_name)}=`
    + esc(label(d.y)) : ''}`;
  if (d.pending) return `<div class="tip">${head}<br>not done yet</div>`;
  return `<div class="tip">${head}<br>phase <b>${esc(d.phase ?? '—')}</b><br>delay ${esc(fmt(d.delay))} · t_mem `
    + `${esc(fmt(d.t_mem))} · t_gen ${esc(fmt(d.t_gen))}<br>test acc ${esc(fmt(d.test_acc))} · ${d.n} run(s)</div>`;
}

function cells() {   // [{x, y, xi, yi, point or null}] for every (x, y) of the sweep's points
  const dg = data.diagram;
  const xs = dg.x_values.map(key), ys = dg.y_values.map(key);
  const done = new Map(dg.points.map((p) => [`${key(p.x)}|${key(p.y)}`, p]));
  const seen = new Map();
  for (const r of data.rows) {
    const k = `${key(r.x)}|${key(r.y)}`;
    if (!seen.has(k) && xs.includes(key(r.x)) && ys.includes(key(r.y))) {
      seen.set(k, {x: r.x, y: r.y, xi: xs.indexOf(key(r.x)), yi: ys.indexOf(key(r.y)), point: done.get(k) || null});
    }
  }
  return [...seen.values()];
}

function heat(id, title, valueOf, visualMap) {
  const dg = data.diagram;
  const all = cells();
  const pending = all.filter((c) => !c.point || valueOf(c.point) === null);
  const filled = all.filter((c) => c.point && valueOf(c.point) !== null);
  const info = (c) => ({...(c.point || {}), x: c.x, y: c.y, pending: !c.point, n: c.point ? c.point.n : 0});
  chart(id).setOption({animation: false, title: {text: title, left: 8, top: 4, textStyle: {fontSize: 13}},
    grid: {left: 70, right: 16, top: 40, bottom: 80},
    tooltip: {trigger: 'item', confine: true, formatter: cellTip},
    xAxis: {type: 'category', name: dg.x_name || '', nameLocation: 'middle', nameGap: 28,
      data: dg.x_values.map(label)},
    yAxis: {type: 'category', name: dg.y_name || '', nameLocation: 'middle', nameGap: 50,
      data: dg.y_values.map(label)},
    visualMap: {...visualMap, seriesIndex: 1, orient: 'horizontal', left: 'center', bottom: 4},
    series: [
      {id: 'pending', type: 'heatmap', itemStyle: {color: '#e9ecef', borderColor: '#fff', borderWidth: 1},
        data: pending.map((c) => ({value: [c.xi, c.yi, 0], info: info(c)}))},
      {id: 'cells', type: 'heatmap', itemStyle: {borderColor: '#fff', borderWidth: 1},
        data: filled.map((c) => ({value: [c.xi, c.yi, valueOf(c.point)], info: info(c), run: c.point.run_id}))},
    ]}, {notMerge: true});
  return {filled: filled.length, pending: pending.length};
}

function parallel() {
  const axes = data.axes;
  const done = data.rows.filter((r) => r.status === 'done');
  const byPhase = document.getElementById('sweep-colour').value === 'phase';
  const dims = axes.map((a) => {
    const vals = data.rows.map((r) => r.coords[a]);
    const numeric = vals.every((v) => typeof v === 'number');
    return numeric ? {name: a, type: 'value', scale: true}
      : {name: a, type: 'category', data: [...new Set(vals.map(label))]};
  });
  dims.push({name: 't_mem', type: 'value', scale: true}, {name: 't_gen', type: 'value', scale: true},
    {name: 'delay', type: 'value', scale: true}, {name: 'test acc', type: 'value', min: 0, max: 1},
    {name: 'phase', type: 'category', data: PHASES});
  const n = dims.length;
  // after the axes' values, two that colour the line: the phase's index and the delay (-1: none)
  const rows = done.map((r) => ({value: [...axes.map((a, i) => (dims[i].type === 'category' ? label(r.coords[a])
    : r.coords[a])), r.t_mem, r.t_gen, r.delay, r.test_acc, r.phase ?? 'confusion',
  Math.max(0, PHASES.indexOf(r.phase ?? 'confusion')), r.delay ?? -1], run: r.run_id}));
  const delays = done.map((r) => r.delay).filter((v) => v !== null);
  const vm = byPhase
    ? {type: 'piecewise', dimension: n, pieces: PHASES.map((p, i) => ({value: i, label: p, color: PHASE_COLOURS[p]}))}
    : {type: 'continuous', dimension: n + 1, min: delays.length ? Math.min(...delays) : 0,
      max: delays.length ? Math.max(...delays) : 1, inRange: {color: ['#4dabf7', '#f03e3e']}, outOfRange:
        {color: '#adb5bd'}, text: ['long delay', 'short']};
  chart('sweep-parallel').setOption({animation: false, title: {text: 'Parallel coordinates over the swept fields',
    left: 8, top: 4, textStyle: {fontSize: 13}}, parallel: {left: 60, right: 110, top: 70, bottom: 30},
  parallelAxis: dims.map((d, i) => ({dim: i, ...d, nameTextStyle: {fontSize: 11}})),
  visualMap: {...vm, right: 8, top: 2, orient: 'horizontal'},
  series: [{id: 'lines', type: 'parallel', lineStyle: {width: 2, opacity: 0.6}, data: rows}]}, {notMerge: true});
  return rows.length;
}

function draw() {
  if (!data) return;
  const s = data.sweep;
  document.getElementById('sweep-title').textContent = `${s.name || s.sweep_id} · ${s.kind} · ${s.status}`;
  const prog = clear(document.getElementById('sweep-progress'));
  prog.append(progressBar(data.n_done, s.n_points), el('span', {dataset: {done: data.n_done}},
    `${data.n_done} / ${s.n_points} points done${data.n_running ? ` · ${data.n_running} run(s) training` : ''}`));
  const rep = document.getElementById('sweep-report');
  rep.href = `/sweeps/${encodeURIComponent(s.sweep_id)}/report.html`;
  rep.hidden = false;
  if (!data.diagram) return;
  const ph = heat('sweep-phase', 'Phase diagram', (p) => (p.phase ? PHASES.indexOf(p.phase) : null),
    {type: 'piecewise', dimension: 2, pieces: PHASES.map((p, i) => ({value: i, label: p, color: PHASE_COLOURS[p]}))});
  const delays = data.diagram.points.map((p) => p.delay).filter((v) => v !== null && v > 0);
  const lo = delays.length ? Math.log10(Math.min(...delays)) : 0, hi = delays.length ? Math.log10(Math.max(...delays)) : 1;
  const dl = heat('sweep-delay', 'Grokking delay (t_gen − t_mem, log colour)',
    (p) => (p.delay !== null && p.delay > 0 ? Math.log10(p.delay) : null),
    {type: 'continuous', dimension: 2, min: lo, max: hi > lo ? hi : lo + 1, inRange: {color: ['#fff3bf', '#e8590c',
      '#5f0f40']}, text: ['long', 'short'], formatter: (v) => fmt(10 ** v, 2)});
  Object.assign(drawn, {phaseCells: ph.filled, pendingCells: ph.pending, delayCells: dl.filled, lines: parallel()});
}

export async function show(arg) {
  current = arg ? decodeURIComponent(arg) : null;
  const sweeps = await list();
  if (!current && sweeps.length) current = sweeps[0].sweep_id;
  if (!current) return;
  data = await getJSON(`/api/sweeps/${encodeURIComponent(current)}`);
  draw();
}

export async function update(changed) {
  if (changed.sweeps || changed.runs) await show(current);
}

export function setup() {
  document.getElementById('sweep-colour').addEventListener('change', draw);
  for (const id of ['sweep-phase', 'sweep-delay']) {
    chart(id).on('click', (p) => { if (p.data && p.data.run) location.hash = `#run/${encodeURIComponent(p.data.run)}`; });
  }
  chart('sweep-parallel').on('click', (p) => {
    if (p.data && p.data.run) location.hash = `#run/${encodeURIComponent(p.data.run)}`;
  });
}
