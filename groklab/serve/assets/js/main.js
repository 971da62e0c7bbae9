// The page: hash routes (#runs, #run/ID, #compare/ID,ID…, #sweeps/ID), one poll of the store's state
// that refreshes whichever view is shown.
import * as api from './api.js';
import * as compare from './compare.js';
import {resizeAll} from './charts.js';
import * as runview from './runview.js';
import * as sweeps from './sweeps.js';
import * as table from './table.js';

const VIEWS = {runs: table, run: runview, compare, sweeps};
let active = {name: null, arg: null};

function parse() {
  const h = location.hash.replace(/^#/, '');
  const [name, ...rest] = h.split('/');
  return VIEWS[name] ? {name, arg: rest.join('/')} : {name: 'runs', arg: ''};
}

async function route() {
  active = parse();
  for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== `view-${active.name}`;
  for (const a of document.querySelectorAll('nav a')) {
    a.classList.toggle('active', a.dataset.tab === active.name || (a.dataset.tab === 'runs' && active.name === 'run'));
  }
  try {
    if (!api.runs.loaded) await api.refreshRuns();
    if (active.name === 'runs') table.render();
    else await VIEWS[active.name].show(active.arg);
    resizeAll();
  } catch (e) {
    console.warn('groklab:', e.message);
    const err = document.getElementById('runs-error');
    if (err) err.textContent = e.message;
  }
}

api.onChange(async (changed) => {
  if (changed.runs) await api.refreshRuns();
  if (active.name === 'runs') table.render();
  else if (active.name === 'sweeps') await sweeps.update(changed);
  else if (changed.runs) await VIEWS[active.name].update(changed);
});

table.setup();
runview.setup();
compare.setup();
sweeps.setup();
window.addEventListener('hashchange', route);
window.groklabServe = {api, compare: compare.drawn, sweeps: sweeps.drawn, table};
route().then(() => api.startPolling(1500)).then(() => { window.groklabServe.ready = true; });
