// The server's JSON endpoints, the poll of /api/state, and the cache of curves (appended to as runs train).

export class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

export async function getJSON(url) {
  const r = await fetch(url, {cache: 'no-store', headers: {accept: 'application/json'}});
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(body.error || `HTTP ${r.status}`, r.status);
  return body;
}

const listeners = new Set();
let fingerprint = {runs: null, sweeps: null};
export const stats = {polls: 0, changes: 0, online: null};

export function onChange(fn) { listeners.add(fn); }

function setOnline(ok, state) {
  stats.online = ok;
  const live = document.getElementById('live');
  if (!live) return;
  live.dataset.online = ok ? 'yes' : 'no';
  live.textContent = ok ? `live · ${state.n_runs} runs${state.n_running ? `, ${state.n_running} training` : ''}`
    : 'server unreachable';
}

export function startPolling(ms = 1500) {
  async function tick() {
    try {
      const s = await getJSON('/api/state');
      stats.polls += 1;
      setOnline(true, s);
      const changed = {runs: s.runs !== fingerprint.runs, sweeps: s.sweeps !== fingerprint.sweeps};
      fingerprint = s;
      if (changed.runs || changed.sweeps) {
        stats.changes += 1;
        for (const fn of listeners) {
          try { await fn(changed, s); } catch (e) { console.warn('groklab: refresh failed', e); }
        }
      }
    } catch (e) {
      setOnline(false);
    }
    setTimeout(tick, ms);
  }
  return tick();
}

// ---------------------------------------------------------------- runs
export const runs = {rows: [], byId: new Map(), fields: [], loaded: false};

export async function refreshRuns() {
  const r = await getJSON('/api/runs');
  runs.rows = r.runs;
  runs.fields = r.fields;
  runs.byId = new Map(r.runs.map((x) => [x.run_id, x]));
  runs.loaded = true;
  return runs;
}

// ---------------------------------------------------------------- curves
const curves = new Map();   // run id -> {cols: {step: [...], metric: [...]}, last, status, step, steps, wall_s}

export function cachedCurve(id) { return curves.get(id); }

export async function loadCurve(id) {
  let c = curves.get(id);
  if (!c) c = {cols: {step: []}, last: -1};
  const r = await getJSON(`/api/runs/${encodeURIComponent(id)}/curve?since=${c.last}`);
  if (r.step < c.last) {          // resumed from an earlier checkpoint: its later evaluations were replaced
    curves.delete(id);
    return loadCurve(id);
  }
  const add = r.curve;
  const n0 = c.cols.step.length;
  const k = add.step.length;
  for (const key of Object.keys(add)) {
    const old = c.cols[key] || new Array(n0).fill(null);
    c.cols[key] = old.concat(add[key]);
  }
  for (const key of Object.keys(c.cols)) if (!(key in add)) c.cols[key] = c.cols[key].concat(new Array(k).fill(null));
  if (k) c.last = add.step[k - 1];
  Object.assign(c, {status: r.status, step: r.step, steps: r.steps, wall_s: r.wall_s});
  curves.set(id, c);
  if (!r.complete) return loadCurve(id);
  return c;
}

export function stale(id) {      // a curve to fetch again: never fetched, or its run has logged past it
  const c = curves.get(id);
  const row = runs.byId.get(id);
  return !c || (row && row.step > c.last) || (row && c.status !== row.status);
}

export async function loadCurves(ids) {
  return Promise.all(ids.map((id) => (stale(id) ? loadCurve(id) : curves.get(id))));
}
