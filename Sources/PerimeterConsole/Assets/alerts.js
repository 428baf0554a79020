// Alerts: what fired, when, and whether each channel got it; and the rules in force.
import { get, query } from './api.js';
import { el, when, tag, table } from './ui.js';

export async function render(main) {
  const [alerts, rules] = await Promise.all([get('/alerts' + query({ limit: 200 })), get('/alerts/rules')]);
  main.replaceChildren(
    el('h1', {}, 'Alerts'),
    table([
      { label: 'Time', value: (a) => a.time, cell: (a) => when(a.time) },
      { label: 'Severity', value: (a) => a.severity, cell: (a) => tag(a.severity, a.severity === 'critical' ? 'bad' : 'warn') },
      { label: 'Type', value: (a) => a.type },
      { label: 'Key', value: (a) => a.key_id || '', cell: (a) => a.key_id ? el('a', { href: '#/keys/' + encodeURIComponent(a.key_id) }, a.key_id) : '—', narrow: true },
      { label: 'Message', value: (a) => a.message, wrap: true },
      { label: 'Delivered', value: (a) => a.deliveries.filter((d) => d.status === 'delivered').length, cell: (a) => a.deliveries.length ? a.deliveries.map((d) => tag(`${d.channel}: ${d.status}`, d.status === 'delivered' ? 'good' : 'warn')) : el('span', { class: 'muted' }, 'no channel'), narrow: true },
    ], alerts.data, { empty: 'No alerts.' }),
    el('h2', {}, 'Rules'),
    table([
      { label: 'Type', value: (r) => r.type },
      { label: 'Severity', value: (r) => r.severity },
      { label: 'Rule', value: (r) => r.rule, wrap: true },
    ], rules.rules),
    el('h2', {}, 'Channels'),
    rules.channels.length ? el('ul', {}, rules.channels.map((channel) => el('li', {}, JSON.stringify(channel)))) : el('p', { class: 'muted' }, 'No channel: alerts are kept here and in `perimeter alerts` only.'));
}
