// DOM and number helpers. User text reaches the page only through text nodes (el, setText) or esc().

export function el(tag, props = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') e.textContent = String(v);
    else if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of kids.flat()) {
    if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

const ESC = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'};

export function esc(s) {   // for the charts' HTML tooltips
  return String(s ?? '').replace(/[&<>"']/g, (c) => ESC[c]);
}

export function fmt(v, digits = 4) {
  if (v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v))) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(digits)));
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return String(v);
}

export function duration(s) {
  if (!Number.isFinite(s)) return '—';
  s = Math.max(0, s);
  return s < 90 ? `${s.toFixed(0)}s` : s < 5400 ? `${(s / 60).toFixed(1)}m` : `${(s / 3600).toFixed(1)}h`;
}

export function timeLeft(row) {   // from the steps trained, the wall time so far and the steps configured
  if (!row || !row.steps || !row.step || !row.wall_s) return null;
  return (row.wall_s / row.step) * Math.max(0, row.steps - row.step);
}

export function progressBar(step, steps, label) {
  const frac = steps ? Math.min(1, Math.max(0, (step || 0) / steps)) : 0;
  const fill = el('span', {class: 'fill'});
  fill.style.width = `${(100 * frac).toFixed(1)}%`;
  return el('span', {class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': steps || 0,
    'aria-valuenow': step || 0, title: label || `${step} / ${steps}`}, fill);
}

export function runLabel(row) {
  return row ? (row.name ? `${row.name} (${row.run_id.slice(0, 15)})` : row.run_id) : '';
}

export const PHASES = ['comprehension', 'grokking', 'memorization', 'confusion'];
export const PHASE_COLOURS = {comprehension: '#2a9d8f', grokking: '#e76f51', memorization: '#f4a261',
  confusion: '#8d99ae'};
export const PALETTE = ['#4263eb', '#e8590c', '#2b8a3e', '#c2255c', '#7048e8', '#0b7285', '#a61e4d', '#5f3dc4',
  '#d9480f', '#087f5b', '#364fc7', '#862e9c'];
