// Small DOM helpers: every text goes in through textContent, never as HTML.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(node.dataset, value);
    // Through the CSSOM: the Content-Security-Policy refuses style attributes.
    else if (name === 'style') node.style.cssText = value;
    else node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function usd(value) {
  const number = Number(value || 0);
  // Below a dollar, three significant digits: $0.0125, $0.000589; never $0.01 for both 0.0125 and 0.005.
  if (number !== 0 && Math.abs(number) < 1) return '$' + number.toLocaleString('en-US', { maximumSignificantDigits: 3 });
  return '$' + number.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

export function count(value) {
  return Number(value || 0).toLocaleString('en-US');
}

export function when(text) {
  if (!text) return '—';
  const date = new Date(text);
  return date.toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}

export function ago(text) {
  if (!text) return 'never';
  const seconds = (Date.now() - new Date(text).getTime()) / 1000;
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return Math.floor(seconds / 60) + ' min ago';
  if (seconds < 86400) return Math.floor(seconds / 3600) + ' h ago';
  return Math.floor(seconds / 86400) + ' d ago';
}

export function tag(text, kind = '') {
  return el('span', { class: 'tag ' + kind }, text);
}

export function statusTag(status) {
  const kinds = { active: 'good', revoked: 'bad', expired: 'bad', rotating: 'warn' };
  return tag(status, kinds[status] || '');
}

export function toast(message) {
  const box = document.getElementById('toast');
  const line = el('p', {}, message);
  box.append(line);
  setTimeout(() => line.remove(), 5000);
}

export function errorBox(error) {
  return el('p', { class: 'error', role: 'alert' }, error.message || String(error));
}

/// A budget meter: spent against limit.
export function meter(spent, limit) {
  if (!limit) return el('span', { class: 'muted' }, 'no budget');
  const share = Math.min(1, Number(spent) / Number(limit));
  const kind = share >= 1 ? 'bad' : share >= 0.8 ? 'warn' : '';
  return el('div', {},
    el('span', {}, `${usd(spent)} of ${usd(limit)} (${Math.round(share * 100)} %)`),
    el('div', { class: 'meter ' + kind, role: 'img', 'aria-label': `${Math.round(share * 100)} percent of budget` },
      el('span', { style: `width:${(share * 100).toFixed(1)}%` })));
}

/// A sortable table: columns are { label, value(row) -> sortable, cell(row) -> node|text, num }.
/// Rows are drawn `pageSize` at a time (sorted first), with a button for more: a list of thousands
/// of keys shows its first screen without building thousands of rows.
export function table(columns, rows, { empty = 'Nothing here yet.', sort = null, caption = null, pageSize = 100 } = {}) {
  let order = sort;
  let limit = pageSize;
  const more = el('button', { type: 'button', class: 'secondary', onclick: () => { limit += pageSize; render(); } });
  const body = el('tbody');
  const header = el('tr');
  const wrapper = el('div', { class: 'scroll' });
  function render() {
    const sorted = [...rows];
    if (order) {
      const column = columns[order.index];
      sorted.sort((a, b) => {
        const x = column.value(a), y = column.value(b);
        const result = x === y ? 0 : (x === null || x === undefined) ? 1 : (y === null || y === undefined) ? -1 : x < y ? -1 : 1;
        return order.descending ? -result : result;
      });
    }
    more.hidden = sorted.length <= limit;
    more.textContent = `Show ${Math.min(pageSize, sorted.length - limit)} more (${limit} of ${sorted.length} shown)`;
    body.replaceChildren(...(sorted.length ? sorted.slice(0, limit).map((row) => el('tr', {},
      columns.map((column) => el('td', { class: [column.num ? 'num' : '', column.wrap ? 'wrap' : '', column.narrow ? 'hide-narrow' : ''].join(' ') },
        column.cell ? column.cell(row) : column.value(row))))) :
      [el('tr', {}, el('td', { colspan: columns.length, class: 'muted' }, empty))]));
    header.replaceChildren(...columns.map((column, index) => {
      const active = order && order.index === index;
      const sortState = active ? (order.descending ? 'descending' : 'ascending') : 'none';
      const content = column.value && !column.unsortable ? el('button', {
        type: 'button',
        onclick: () => { order = { index, descending: active ? !order.descending : !!column.num }; render(); },
      }, column.label, active ? (order.descending ? ' ▼' : ' ▲') : '') : column.label;
      return el('th', { scope: 'col', 'aria-sort': sortState, class: [column.num ? 'num' : '', column.narrow ? 'hide-narrow' : ''].join(' ') }, content);
    }));
  }
  render();
  wrapper.append(el('table', {}, caption ? el('caption', { class: 'muted' }, caption) : null, el('thead', {}, header), body));
  return el('div', {}, wrapper, more);
}

/// Copies text to the clipboard; falls back to selecting it for the user to copy.
export async function copy(text, node) {
  try {
    await navigator.clipboard.writeText(text);
    toast('Copied to the clipboard.');
  } catch {
    const range = document.createRange();
    range.selectNodeContents(node);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    toast('Selected: press Ctrl+C to copy.');
  }
}

export function startOf(unit) {
  const now = new Date();
  const day = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  if (unit === 'day') return day;
  if (unit === 'week') {
    const weekday = (day.getUTCDay() + 6) % 7; // Monday first
    return new Date(day.getTime() - weekday * 86400000);
  }
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}
