// Pure computations for the comparison: t_mem of a curve, grouping runs, x alignment, median and bands.

export function tMem(curve, threshold = 0.99) {   // first evaluation with train accuracy >= threshold
  const acc = curve.cols.train_acc || [];
  for (let i = 0; i < acc.length; i++) if (acc[i] !== null && acc[i] >= threshold) return curve.cols.step[i];
  return null;
}

const NOT_GROUPING = new Set(['seed', 'data_seed', 'name']);

export function groupKey(row, mode) {
  if (mode === 'none') return row.run_id;
  if (mode === 'ensemble') return row.group_id;
  const cfg = row.config || {};
  return JSON.stringify(Object.keys(cfg).sort().filter((k) => !NOT_GROUPING.has(k)).map((k) => [k, cfg[k]]));
}

export function groupRuns(rows, mode) {   // [{key, members: [row...]}] in the order first seen
  const groups = new Map();
  for (const r of rows) {
    const k = groupKey(r, mode);
    if (!groups.has(k)) groups.set(k, {key: k, members: []});
    groups.get(k).members.push(r);
  }
  return [...groups.values()];
}

export function varyingFields(groups) {   // config fields whose value differs between groups
  const cfgs = groups.map((g) => g.members[0].config || {});
  const keys = new Set(cfgs.flatMap((c) => Object.keys(c)));
  return [...keys].filter((k) => !NOT_GROUPING.has(k)
    && new Set(cfgs.map((c) => JSON.stringify(c[k]))).size > 1).sort();
}

// [x, y] pairs of a curve's metric; x is the step, or aligned at t_mem (step - t_mem, or step / t_mem on a
// log axis); points a log axis cannot show (x <= 0) and missing values are left out.
export function points(curve, metric, {log = true, align = null} = {}) {
  const xs = curve.cols.step, ys = curve.cols[metric] || [];
  const out = [];
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i];
    if (y === null || y === undefined || !Number.isFinite(y)) continue;
    let x = xs[i];
    if (align !== null) x = log ? x / align : x - align;
    if (log && !(x > 0)) continue;
    out.push([x, y]);
  }
  return out;
}

function quantile(sorted, q) {
  const pos = (sorted.length - 1) * q, lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function interpolate(pts, x) {   // pts sorted by x; null outside their range
  if (!pts.length || x < pts[0][0] || x > pts[pts.length - 1][0]) return null;
  let lo = 0, hi = pts.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (pts[mid][0] <= x) lo = mid; else hi = mid;
  }
  const [x0, y0] = pts[lo], [x1, y1] = pts[hi];
  return x1 === x0 ? y0 : y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
}

// Median and band of members (arrays of [x, y]) on the union of their x values (at most maxPoints of
// them): kind 'minmax' (min to max) or 'quartiles' (25th to 75th percentile). Each x counts the members
// that reach it.
export function band(members, kind = 'minmax', maxPoints = 1500) {
  let grid = [...new Set(members.flatMap((m) => m.map((p) => p[0])))].sort((a, b) => a - b);
  if (grid.length > maxPoints) {
    const step = grid.length / maxPoints;
    grid = Array.from({length: maxPoints}, (_, i) => grid[Math.floor(i * step)]).concat([grid[grid.length - 1]]);
  }
  const out = {x: [], med: [], lo: [], hi: [], n: []};
  for (const x of grid) {
    const vals = members.map((m) => interpolate(m, x)).filter((v) => v !== null).sort((a, b) => a - b);
    if (!vals.length) continue;
    out.x.push(x);
    out.med.push(quantile(vals, 0.5));
    out.lo.push(kind === 'quartiles' ? quantile(vals, 0.25) : vals[0]);
    out.hi.push(kind === 'quartiles' ? quantile(vals, 0.75) : vals[vals.length - 1]);
    out.n.push(vals.length);
  }
  return out;
}
