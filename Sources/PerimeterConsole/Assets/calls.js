// The call log with filters, page by page, and a live tail of calls as they finish.
import { get, query } from './api.js';
import { el, usd, count, when, tag, table, errorBox } from './ui.js';

const OUTCOMES = ['', 'ok', 'denied', 'upstream_error', 'stream_cut', 'client_cancelled', 'interrupted'];

export function callColumns({ withKey = true } = {}) {
  return [
    { label: 'Time', value: (c) => c.time, cell: (c) => when(c.time) },
    withKey ? { label: 'Key', value: (c) => c.key_name || '', cell: (c) => c.key_id ? el('a', { href: '#/keys/' + encodeURIComponent(c.key_id) }, c.key_name || c.key_id) : el('span', { class: 'muted' }, 'unknown') } : null,
    { label: 'Env', value: (c) => c.env || '', narrow: true },
    { label: 'Model', value: (c) => c.model || '' },
    { label: 'Outcome', value: (c) => c.outcome, cell: (c) => tag(c.error_code ? `${c.outcome}: ${c.error_code}` : c.outcome, c.outcome === 'ok' ? 'good' : c.outcome === 'denied' ? 'bad' : 'warn') },
    { label: 'Tokens', value: (c) => (c.input_tokens || 0) + (c.output_tokens || 0), cell: (c) => `${count(c.input_tokens)} → ${count(c.output_tokens)}`, num: true, narrow: true },
    { label: 'Cost', value: (c) => Number(c.cost_usd || 0), cell: (c) => c.cost_usd === null || c.cost_usd === undefined ? '—' : usd(c.cost_usd), num: true },
    { label: 'Latency', value: (c) => c.latency_ms, cell: (c) => `${count(c.latency_ms)} ms`, num: true, narrow: true },
    { label: 'Address', value: (c) => c.client_ip || '', narrow: true },
  ].filter(Boolean);
}

export async function render(main, { params }) {
  const field = (id, label, attributes = {}) => {
    const input = el('input', { id, name: id, ...attributes });
    return [input, el('label', { for: id }, label, input)];
  };
  const [keyID, keyLabel] = field('filter-key', 'Key id', { value: params[0] || '', placeholder: 'key_…' });
  const [env, envLabel] = field('filter-env', 'Env');
  const [model, modelLabel] = field('filter-model', 'Model');
  const outcome = el('select', { id: 'filter-outcome' }, OUTCOMES.map((value) => el('option', { value }, value || 'any')));
  const [since, sinceLabel] = field('filter-since', 'From (UTC)', { type: 'datetime-local' });
  const [until, untilLabel] = field('filter-until', 'To (UTC)', { type: 'datetime-local' });
  const live = el('input', { id: 'live-tail', type: 'checkbox' });
  const liveState = el('span', { id: 'live-state', class: 'muted', 'aria-live': 'polite' });
  const box = el('div', { id: 'calls-table' });
  const more = el('button', { type: 'button', class: 'secondary', id: 'load-more', hidden: true }, 'Older calls');
  let rows = [];
  let cursor = null;
  let stream = null;

  const filters = () => ({
    key_id: keyID.value.trim(), env: env.value.trim(), model: model.value.trim(), outcome: outcome.value,
    since: since.value ? new Date(since.value + 'Z').toISOString() : '', until: until.value ? new Date(until.value + 'Z').toISOString() : '',
  });
  const draw = () => box.replaceChildren(table(callColumns(), rows, { empty: 'No call matches.' }));

  async function load(next) {
    try {
      const page = await get('/calls' + query({ ...filters(), limit: 50, cursor: next || '' }));
      rows = next ? rows.concat(page.data) : page.data;
      cursor = page.next_cursor || null;
      more.hidden = !cursor;
      draw();
    } catch (error) {
      box.replaceChildren(errorBox(error));
    }
  }

  function stopLive() {
    if (stream) { stream.close(); stream = null; }
    liveState.textContent = '';
  }
  function startLive() {
    stopLive();
    const chosen = filters();
    stream = new EventSource('/admin/v1/calls/stream' + query({ key_id: chosen.key_id, env: chosen.env }));
    stream.addEventListener('open', () => { liveState.textContent = 'live'; liveState.className = 'live'; });
    stream.addEventListener('error', () => { liveState.textContent = 'reconnecting…'; liveState.className = 'muted'; });
    stream.addEventListener('call', (event) => {
      const call = JSON.parse(event.data);
      if (chosen.model && call.model !== chosen.model) return;
      if (chosen.outcome && call.outcome !== chosen.outcome) return;
      rows = [call, ...rows].slice(0, 500);
      draw();
    });
    stream.addEventListener('dropped', (event) => { liveState.textContent = `live (${event.data} calls skipped: too fast to show)`; });
  }

  live.addEventListener('change', () => (live.checked ? startLive() : stopLive()));
  more.addEventListener('click', () => load(cursor));
  const form = el('form', {
    class: 'inline', id: 'calls-filter',
    onsubmit: (event) => { event.preventDefault(); load(); if (live.checked) startLive(); },
  }, keyLabel, envLabel, modelLabel, el('label', { for: 'filter-outcome' }, 'Outcome', outcome), sinceLabel, untilLabel,
  el('button', { type: 'submit' }, 'Filter'),
  el('label', { for: 'live-tail', class: 'row' }, el('span', {}, live, ' Live tail'), liveState));
  main.replaceChildren(el('h1', {}, 'Calls'), form, box, more);
  await load();
  return stopLive;
}
