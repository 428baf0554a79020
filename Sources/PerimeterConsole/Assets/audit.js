// The audit log: every admin action, who took it, from where.
import { get, query } from './api.js';
import { el, when, table } from './ui.js';

export async function render(main) {
  const audit = await get('/audit' + query({ limit: 200 }));
  main.replaceChildren(
    el('h1', {}, 'Audit log'),
    el('p', { class: 'muted' }, 'The latest 200 actions, newest first. `perimeter audit --since` reads further back.'),
    table([
      { label: 'Time', value: (e) => e.time, cell: (e) => when(e.time) },
      { label: 'Who', value: (e) => e.actor },
      { label: 'Action', value: (e) => e.action },
      { label: 'Target', value: (e) => e.target || '' },
      { label: 'Address', value: (e) => e.address || '', narrow: true },
      { label: 'Details', value: (e) => e.details, wrap: true, narrow: true },
    ], audit.data, { empty: 'No admin action yet.' }));
}
