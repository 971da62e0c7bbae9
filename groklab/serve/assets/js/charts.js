// ECharts helpers: one instance per container, resized with the window; shared axis and tooltip options.
/* global echarts */
import {esc, fmt} from './util.js';

export function chart(id) {
  const dom = document.getElementById(id);
  return echarts.getInstanceByDom(dom) || echarts.init(dom, null, {renderer: 'canvas'});
}

export function resizeAll() {
  for (const dom of document.querySelectorAll('.chart')) {
    const c = echarts.getInstanceByDom(dom);
    if (c && dom.offsetParent !== null) c.resize();
  }
}
window.addEventListener('resize', resizeAll);

export function stepAxis(log, name = 'step') {
  return {type: log ? 'log' : 'value', name, nameLocation: 'middle', nameGap: 26, scale: !log,
    min: log ? 'dataMin' : null, max: 'dataMax',
    axisLabel: {formatter: (v) => fmt(v, 3)}, splitLine: {show: true, lineStyle: {color: '#eee'}}};
}

export function valueAxis(name, {log = false, min = null, max = null} = {}) {
  return {type: log ? 'log' : 'value', name, nameLocation: 'middle', nameGap: 40, min, max, scale: log,
    axisLabel: {formatter: (v) => fmt(v, 3)}, splitLine: {lineStyle: {color: '#eee'}}};
}

export function base(title) {
  return {animation: false, title: {text: title, left: 8, top: 4, textStyle: {fontSize: 13, fontWeight: 600}},
    grid: {left: 64, right: 24, top: 40, bottom: 44}, legend: {top: 4, right: 8, textStyle: {fontSize: 11}},
    tooltip: {trigger: 'axis', axisPointer: {type: 'line'}, confine: true}};
}

// A tooltip listing every series at the hovered step, names escaped.
export function listTooltip(params) {
  const list = Array.isArray(params) ? params : [params];
  if (!list.length) return '';
  const x = list[0].value ? list[0].value[0] : list[0].axisValue;
  const lines = list.filter((p) => p.value && p.value[1] !== null && p.value[1] !== undefined).map((p) =>
    `${p.marker}${esc(p.seriesName)}: <b>${esc(fmt(p.value[1]))}</b>`);
  return `<div class="tip"><div>step ${esc(fmt(x))}</div>${lines.join('<br>')}</div>`;
}
