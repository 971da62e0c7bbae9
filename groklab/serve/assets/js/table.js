// The runs table: filter (task, preset, status, phase, any field by expression), sort by any column,
// extra columns for any config field, select runs to compare. Rebuilt from runs.rows on every change.
import {runs} from './api.js';
import {clear, duration, el, fmt, progressBar, timeLeft} from './util.js';

const BASE_COLS = [
  {key: 'run_id', label: 'run'}, {key: 'status', label: 'status'}, {key: 'task', label: 'task'},
  {key: 'preset', label: 'preset'}, {key: 'model', label: 'model'}, {key: 'seed', label: 'seed'},
  {key: 'step', label: 'step'}, {key: 't_mem', label: 't_mem'}, {key: 't_gen', label: 't_gen'},
  {key: 'delay', label: 'delay'}, {key: 'phase', label: 'phase'}, {key: 'train_acc', label: 'train acc'},
  {key: 'test_acc', label: 'test acc'}, {key: 'leak_auc', label: 'leak AUC'}, {key: 'created', label: 'created'},
];
const FILTERS = ['task', 'preset', 'status', 'phase'];
const OPS = ['>=', '<=', '!=', '=', '>', '<', '~'];

const state = {sort: {key: 'created', dir: -1}, extra: [], selected: new Set(), shown: []};

export function value(row, key) {
  if (key in row && key !== 'config') return row[key];
  return row.config ? row.config[key] : undefined;
}

export function parseQuery(text) {   // "wd>=1 model=mlp name~seed" -> [{key, op, val}], or throws
  const terms = [];
  for (const tok of text.trim().split(/\s+/).filter(Boolean)) {
    const op = OPS.find((o) => tok.includes(o) && tok.indexOf(o) > 0);
    if (!op) throw new Error(`"${tok}": write field=value, field>value, field~text …`);
    const i = tok.indexOf(op);
    terms.push({key: tok.slice(0, i), op, val: tok.slice(i + op.length)});
  }
  return terms;
}

function matches(row, term) {
  const v = value(row, term.key);
  const num = Number(term.val);
  const both = typeof v === 'number' && term.val !== '' && Number.isFinite(num);
  const text = v === null || v === undefined ? '' : String(v);
  switch (term.op) {
    case '~': return text.toLowerCase().includes(term.val.toLowerCase());
    case '=': return both ? v === num : text === term.val || (term.val === 'none' && !text);
    case '!=': return both ? v !== num : text !== term.val;
    default:
      if (!both) return false;
      return term.op === '>' ? v > num : term.op === '<' ? v < num : term.op === '>=' ? v >= num : v <= num;
  }
}

function compare(a, b) {
  const na = a === null || a === undefined, nb = b === null || b === undefined;
  if (na || nb) return na && nb ? 0 : na ? 1 : -1;   // missing values last
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, {numeric: true});
}

export function visibleRows() {
  const err = document.getElementById('runs-error');
  let terms = [];
  try {
    terms = parseQuery(document.getElementById('runs-query').value);
    const known = new Set([...runs.fields, ...BASE_COLS.map((c) => c.key), 'name', 'group_id', 'sweep_id']);
    const bad = terms.find((t) => !known.has(t.key));
    err.textContent = bad ? `unknown field "${bad.key}"` : '';
  } catch (e) {
    err.textContent = e.message;
    terms = [];
  }
  const picks = FILTERS.map((f) => [f, document.querySelector(`[data-filter=${f}]`).value]).filter(([, v]) => v !== '*');
  const rows = runs.rows.filter((r) => picks.every(([f, v]) => String(value(r, f) ?? '') === v)
    && terms.every((t) => matches(r, t)));
  const {key, dir} = state.sort;
  return rows.sort((a, b) => {
    const c = compare(value(a, key), value(b, key));
    return c === 0 ? 0 : (value(a, key) == null || value(b, key) == null) ? c : dir * c;
  });
}

function fillFilters() {
  for (const f of FILTERS) {
    const sel = document.querySelector(`[data-filter=${f}]`);
    const keep = sel.value || '*';
    const vals = [...new Set(runs.rows.map((r) => String(value(r, f) ?? '')))].sort();
    if (sel.dataset.values === JSON.stringify(vals)) continue;   // unchanged: leave an open list alone
    sel.dataset.values = JSON.stringify(vals);
    clear(sel).append(el('option', {value: '*', text: 'all'}),
      ...vals.map((v) => el('option', {value: v, text: v === '' ? '(none)' : v})));
    sel.value = vals.includes(keep) ? keep : '*';
  }
  const add = document.getElementById('runs-addcol');
  if (add.options.length !== runs.fields.length + 1) {
    clear(add).append(el('option', {value: '', text: '+ config field'}),
      ...runs.fields.map((f) => el('option', {value: f, text: f})));
  }
}

function header(cols) {
  const tr = el('tr', {}, el('th', {class: 'sel'}, ''));
  for (const c of cols) {
    const mark = state.sort.key === c.key ? (state.sort.dir > 0 ? ' ▲' : ' ▼') : '';
    const th = el('th', {dataset: {sort: c.key}, title: `sort by ${c.label}`, onclick: () => {
      state.sort = {key: c.key, dir: state.sort.key === c.key ? -state.sort.dir : 1};
      render();
    }}, c.label + mark);
    if (c.extra) {
      th.append(el('button', {class: 'x', type: 'button', title: 'remove column', onclick: (ev) => {
        ev.stopPropagation();
        state.extra = state.extra.filter((k) => k !== c.key);
        render();
      }}, '×'));
    }
    tr.append(th);
  }
  return tr;
}

function cell(row, key) {
  const v = value(row, key);
  if (key === 'run_id') {
    return el('td', {class: 'run'}, el('a', {href: `#run/${encodeURIComponent(row.run_id)}`, class: 'run-link'},
      row.name ? String(row.name) : row.run_id), row.name ? el('span', {class: 'muted id'}, row.run_id) : null,
    ' ', el('a', {href: `/runs/${encodeURIComponent(row.run_id)}/report.html`, target: '_blank', rel: 'noopener',
      class: 'report-link', title: 'the full report'}, 'report'));
  }
  if (key === 'status') {
    const td = el('td', {class: `status st-${row.status}`}, row.status);
    if (row.status === 'running') {
      const left = timeLeft(row);
      td.append(progressBar(row.step, row.steps), el('span', {class: 'muted left'},
        left === null ? '' : `${duration(left)} left`));
    }
    return td;
  }
  const td = el('td', {class: typeof v === 'number' ? 'num' : ''}, key === 'created' ? String(v || '').replace('T', ' ')
    .slice(0, 19) : fmt(v));
  if (row.live && ['t_mem', 't_gen', 'delay', 'train_acc', 'test_acc', 'leak_auc'].includes(key)) {
    td.classList.add('live-value');
    td.title = 'latest evaluation (no summary yet)';
  }
  if (key === 'phase' && v) td.dataset.phase = v;
  return td;
}

export function render() {
  if (!runs.loaded) return;
  fillFilters();
  const cols = [...BASE_COLS, ...state.extra.map((k) => ({key: k, label: k, extra: true}))];
  const table = document.getElementById('runs-table');
  clear(table.tHead).append(header(cols));
  const rows = visibleRows();
  state.shown = rows.map((r) => r.run_id);
  for (const id of [...state.selected]) if (!runs.byId.has(id)) state.selected.delete(id);
  const body = clear(table.tBodies[0]);
  for (const row of rows) {
    const box = el('input', {type: 'checkbox', 'aria-label': `select ${row.run_id}`});
    box.checked = state.selected.has(row.run_id);
    box.addEventListener('change', () => {
      if (box.checked) state.selected.add(row.run_id); else state.selected.delete(row.run_id);
      updateButtons();
    });
    body.append(el('tr', {dataset: {run: row.run_id, status: row.status}}, el('td', {class: 'sel'}, box),
      cols.map((c) => cell(row, c.key))));
  }
  document.getElementById('runs-count').textContent = `${rows.length} of ${runs.rows.length} runs`;
  updateButtons();
}

function updateButtons() {
  const b = document.getElementById('runs-compare');
  b.disabled = state.selected.size === 0;
  b.textContent = `Compare selected (${state.selected.size})`;
}

export function setup() {
  for (const f of FILTERS) document.querySelector(`[data-filter=${f}]`).addEventListener('change', render);
  document.getElementById('runs-query').addEventListener('input', render);
  document.getElementById('runs-addcol').addEventListener('change', (ev) => {
    const k = ev.target.value;
    if (k && !state.extra.includes(k)) state.extra.push(k);
    ev.target.value = '';
    render();
  });
  document.getElementById('runs-compare').addEventListener('click', () => {
    location.hash = `#compare/${[...state.selected].map(encodeURIComponent).join(',')}`;
  });
  document.getElementById('runs-select-shown').addEventListener('click', () => {
    state.shown.forEach((id) => state.selected.add(id));
    render();
  });
  document.getElementById('runs-clear').addEventListener('click', () => {
    state.selected.clear();
    render();
  });
}
