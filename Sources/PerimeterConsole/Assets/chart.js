// Stacked bar charts drawn as SVG, with no library: one bar per time bucket, one colour per group.

const SVG = 'http://www.w3.org/2000/svg';
const COLOURS = ['#1f4e8c', '#e07b39', '#3a9d5d', '#b23a48', '#7b5ea7', '#2b9eb3', '#c9a227', '#6b7280', '#d95f9e', '#4d7c0f'];

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function niceMax(value) {
  if (value <= 0) return 1;
  const power = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/// Buckets from `since` to `until` of `seconds` each, UTC-aligned, as epoch milliseconds.
export function buckets(since, until, seconds) {
  const size = seconds * 1000;
  const out = [];
  for (let t = Math.floor(since.getTime() / size) * size; t < until.getTime(); t += size) out.push(t);
  return out;
}

/// `points`: [{ start, group, value }]. Groups beyond `maxGroups` (by total) are summed as "other".
export function stackedBars(points, { starts, label = (t) => new Date(t).toISOString().slice(5, 13) + 'h', format = String, maxGroups = 8, title = 'chart', height = 220 }) {
  const totals = new Map();
  for (const point of points) totals.set(point.group, (totals.get(point.group) || 0) + point.value);
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([group]) => group);
  const shown = ranked.slice(0, maxGroups);
  const groups = ranked.length > maxGroups ? [...shown, 'other'] : shown;
  const index = new Map(starts.map((start, i) => [start, i]));
  const stacks = starts.map(() => new Map());
  for (const point of points) {
    const i = index.get(new Date(point.start).getTime());
    if (i === undefined) continue;
    const group = shown.includes(point.group) ? point.group : 'other';
    stacks[i].set(group, (stacks[i].get(group) || 0) + point.value);
  }
  const highest = Math.max(0, ...stacks.map((stack) => [...stack.values()].reduce((a, b) => a + b, 0)));
  const top = niceMax(highest);
  const width = 800, left = 64, bottom = 24, plot = width - left - 8, tall = height - bottom - 8;
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `${title}: highest bucket ${format(highest)}` });
  for (let step = 0; step <= 4; step++) {
    const y = 8 + tall - (tall * step) / 4;
    chart.append(svg('line', { x1: left, x2: width - 8, y1: y, y2: y, stroke: '#e3e6ea' }));
    chart.append(svg('text', { x: left - 6, y: y + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#5b6573' }, format((top * step) / 4)));
  }
  const slot = plot / Math.max(1, starts.length);
  const barWidth = Math.max(1, slot * 0.8);
  const every = Math.max(1, Math.ceil(starts.length / 8));
  starts.forEach((start, i) => {
    const x = left + i * slot + (slot - barWidth) / 2;
    let y = 8 + tall;
    groups.forEach((group, g) => {
      const value = stacks[i].get(group) || 0;
      if (!value) return;
      const h = (tall * value) / top;
      y -= h;
      chart.append(svg('rect', { x, y, width: barWidth, height: Math.max(0.5, h), fill: COLOURS[g % COLOURS.length] },
        svg('title', {}, `${label(start)} · ${group || '(none)'}: ${format(value)}`)));
    });
    if (i % every === 0) {
      chart.append(svg('text', { x: x + barWidth / 2, y: height - 6, 'text-anchor': 'middle', 'font-size': 11, fill: '#5b6573' }, label(start)));
    }
  });
  const legend = document.createElement('div');
  legend.className = 'legend';
  groups.forEach((group, g) => {
    const item = document.createElement('span');
    const swatch = document.createElement('i');
    swatch.style.background = COLOURS[g % COLOURS.length];
    item.append(swatch, document.createTextNode(`${group || '(none)'} ${format(totals.get(group) ?? [...totals.entries()].filter(([name]) => !shown.includes(name)).reduce((a, [, v]) => a + v, 0))}`));
    legend.append(item);
  });
  const box = document.createElement('div');
  box.className = 'chart';
  box.append(chart, legend);
  return box;
}
