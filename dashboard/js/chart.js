// Tokens per day as stacked bars, one colour per model, in plain SVG (no library).
import { formatInt } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';
const WIDTH = 760;
const HEIGHT = 240;
const PAD = { left: 56, right: 12, top: 12, bottom: 36 };

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  if (text !== undefined) el.textContent = text;
  return el;
}

function niceMax(value) {
  if (value <= 0) return 10;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

// days: ['YYYY-MM-DD', ...]; byDay: Map(day -> Map(model -> tokens)); models: sorted names.
export function tokensChart(days, byDay, models) {
  const totals = days.map((day) => [...(byDay.get(day)?.values() || [])].reduce((a, b) => a + b, 0));
  const top = niceMax(Math.max(0, ...totals));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / days.length;
  const barW = Math.max(2, slot * 0.7);
  const root = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', class: 'bars',
    'aria-label': `Tokens per day for the last ${days.length} days, by model`,
  });
  for (let i = 0; i <= 4; i += 1) {
    const value = (top * i) / 4;
    const y = PAD.top + plotH - (plotH * i) / 4;
    root.append(svg('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y, class: 'grid' }));
    root.append(svg('text', { x: PAD.left - 6, y: y + 4, class: 'axis', 'text-anchor': 'end' }, formatInt(value)));
  }
  days.forEach((day, i) => {
    const x = PAD.left + i * slot + (slot - barW) / 2;
    let y = PAD.top + plotH;
    const perModel = byDay.get(day);
    models.forEach((model, m) => {
      const tokens = perModel?.get(model) || 0;
      if (!tokens) return;
      const height = (tokens / top) * plotH;
      y -= height;
      const bar = svg('rect', {
        x, y, width: barW, height: Math.max(height, 1), class: `series-${m % 6}`,
        'data-day': day, 'data-model': model, 'data-tokens': tokens,
      });
      bar.append(svg('title', {}, `${day} · ${model}: ${formatInt(tokens)} tokens`));
      root.append(bar);
    });
    if (i % 5 === 0 || i === days.length - 1) {
      root.append(svg('text', { x: x + barW / 2, y: HEIGHT - PAD.bottom + 16, class: 'axis', 'text-anchor': 'middle' }, day.slice(5)));
    }
  });
  const legend = document.createElement('figcaption');
  legend.className = 'legend';
  if (!models.length) legend.textContent = 'No tokens used in this period yet.';
  models.forEach((model, m) => {
    const item = document.createElement('span');
    const swatch = svg('svg', { width: 12, height: 12, 'aria-hidden': 'true' });
    swatch.append(svg('rect', { width: 12, height: 12, class: `series-${m % 6}` }));
    item.append(swatch, ` ${model}`);
    legend.append(item);
  });
  return [root, legend];
}
