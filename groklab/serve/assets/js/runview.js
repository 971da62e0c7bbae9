// One run: its record and summary, a progress bar with the time left, and its live curves.
import {getJSON, loadCurve, cachedCurve, runs} from './api.js';
import {base, chart, listTooltip, stepAxis, valueAxis} from './charts.js';
import {clear, duration, el, fmt, progressBar, timeLeft} from './util.js';
import {points, tMem} from './bands.js';

let current = null;

function series(curve, metric, name, log, colour, yLog = false) {
  const data = points(curve, metric, {log});
  return {id: metric, name, type: 'line', showSymbol: false, sampling: 'lttb', lineStyle: {width: 1.6},
    color: colour, data: yLog ? data.filter((p) => p[1] > 0) : data};
}

function marks(log, row, curve) {
  const tm = row && row.t_mem !== null && row.t_mem !== undefined ? row.t_mem : tMem(curve);
  const tg = row ? row.t_gen : null;
  const data = [];
  if (tm !== null && (!log || tm > 0)) data.push({xAxis: tm, name: 't_mem', label: {formatter: 't_mem'}});
  if (tg !== null && tg !== undefined && (!log || tg > 0)) data.push({xAxis: tg, name: 't_gen',
    label: {formatter: 't_gen'}});
  return {symbol: 'none', silent: true, lineStyle: {type: 'dashed', color: '#888'}, data};
}

function draw() {
  const id = current;
  const curve = cachedCurve(id);
  if (!curve) return;
  const row = runs.byId.get(id);
  const log = document.getElementById('run-xaxis').value === 'log';
  const acc = [series(curve, 'train_acc', 'train acc', log, '#4263eb'),
    series(curve, 'test_acc', 'test acc', log, '#e8590c')];
  acc[0].markLine = marks(log, row, curve);
  chart('run-acc').setOption({...base('Accuracy'), xAxis: stepAxis(log), yAxis: valueAxis('accuracy', {min: 0, max: 1}),
    tooltip: {trigger: 'axis', formatter: listTooltip, confine: true}, series: acc}, {notMerge: true});
  chart('run-loss').setOption({...base('Loss'), xAxis: stepAxis(log), yAxis: valueAxis('loss', {log: true}),
    tooltip: {trigger: 'axis', formatter: listTooltip, confine: true},
    series: [series(curve, 'train_loss', 'train loss', log, '#4263eb', true),
      series(curve, 'test_loss', 'test loss', log, '#e8590c', true)]}, {notMerge: true});
  chart('run-leak').setOption({...base('Membership inference (leakage)'), xAxis: stepAxis(log),
    yAxis: valueAxis('AUC / TPR@1%FPR', {min: 0, max: 1}), tooltip: {trigger: 'axis', formatter: listTooltip,
      confine: true},
    series: [series(curve, 'mia_auc', 'AUC', log, '#c2255c'), series(curve, 'mia_tpr1', 'TPR@1%FPR', log, '#7048e8')]},
  {notMerge: true});
}

function header(detail) {
  const row = runs.byId.get(current) || detail.run;
  document.getElementById('run-title').textContent = row.name ? `${row.name} · ${row.run_id}` : row.run_id;
  const cfg = detail.config || {};
  document.getElementById('run-meta').textContent = [`task ${cfg.task}`, `model ${cfg.model}`, `seed ${cfg.seed}`,
    `preset ${fmt(cfg.preset)}`, `group ${row.group_id}`, `created ${row.created}`].join(' · ');
  const prog = clear(document.getElementById('run-progress'));
  const left = timeLeft(row);
  prog.append(el('span', {class: `status st-${row.status}`, dataset: {status: row.status}}, row.status),
    progressBar(row.step, row.steps), el('span', {}, `step ${fmt(row.step)} / ${fmt(row.steps)}`),
    el('span', {class: 'muted'}, row.status === 'running' && left !== null ? `${duration(left)} left` : ''));
  const sum = clear(document.getElementById('run-summary'));
  for (const [k, label] of [['t_mem', 't_mem'], ['t_gen', 't_gen'], ['delay', 'delay'], ['phase', 'phase'],
    ['train_acc', 'train acc'], ['test_acc', 'test acc'], ['leak_auc', 'leakage AUC']]) {
    sum.append(el('div', {class: 'kv'}, el('span', {class: 'k'}, label), el('span', {class: 'v'}, fmt(row[k]))));
  }
  const rep = document.getElementById('run-report');
  rep.href = `/runs/${encodeURIComponent(row.run_id)}/report.html`;
  rep.textContent = detail.report_written ? 'full report' : 'full report (rendered now)';
  const members = runs.rows.filter((r) => r.group_id === row.group_id).map((r) => r.run_id);
  const cmp = document.getElementById('run-compare');
  cmp.href = `#compare/${members.map(encodeURIComponent).join(',')}`;
  cmp.hidden = members.length < 2;
}

let detail = null;

export async function show(id) {
  current = id;
  detail = await getJSON(`/api/runs/${encodeURIComponent(id)}`);
  header(detail);
  await loadCurve(id);
  draw();
}

export async function update() {
  if (!current) return;
  const row = runs.byId.get(current);
  const c = cachedCurve(current);
  if (!c || (row && (row.step > c.last || row.status !== c.status))) await loadCurve(current);
  if (detail) header(detail);
  draw();
}

export function setup() {
  document.getElementById('run-xaxis').addEventListener('change', draw);
}
