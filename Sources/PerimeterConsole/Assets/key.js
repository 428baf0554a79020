// One key: its limits, spend over 30 days, recent calls, denials by code, source addresses and
// generations; edit limits, rotate with a grace period, revoke with a reason.
import { api, get, query } from './api.js';
import { el, usd, count, when, ago, tag, statusTag, meter, table, copy, errorBox, toast } from './ui.js';
import { stackedBars, buckets } from './chart.js';
import { limitsFields } from './keys.js';
import { callColumns } from './calls.js';

function describeLimits(limits) {
  const rows = [];
  if (limits.budget) rows.push(['Budget', `${usd(limits.budget.usd)} per ${limits.budget.period}`]);
  if (limits.rpm) rows.push(['Requests per minute', count(limits.rpm)]);
  if (limits.tpm) rows.push(['Tokens per minute', count(limits.tpm)]);
  if (limits.models) rows.push(['Models', limits.models.join(', ')]);
  if (limits.allowed_ips) rows.push(['Networks', limits.allowed_ips.join(', ')]);
  if (limits.providers) rows.push(['Providers', limits.providers.join(', ')]);
  if (limits.operations) rows.push(['Operations', limits.operations.join(', ')]);
  if (limits.tools !== undefined) rows.push(['Tools', Array.isArray(limits.tools) ? 'only ' + limits.tools.join(', ') : limits.tools]);
  if (limits.expires_at) rows.push(['Expires', when(limits.expires_at)]);
  return rows.length ? el('dl', { class: 'kv', id: 'key-limits' }, rows.flatMap(([name, value]) => [el('dt', {}, name), el('dd', {}, value)]))
    : el('p', { class: 'muted', id: 'key-limits' }, 'No limits: this key may spend without bound.');
}

function breakdown(title, rows, empty) {
  return el('section', { class: 'panel' }, el('h2', {}, title), table([
    { label: 'Value', value: (r) => r.value || '(none)' },
    { label: 'Calls', value: (r) => r.calls, cell: (r) => count(r.calls), num: true },
    { label: 'Cost', value: (r) => Number(r.cost_usd), cell: (r) => usd(r.cost_usd), num: true },
  ], rows, { empty }));
}

export async function render(main, { isAdmin, params }) {
  const id = params[0];
  const since = new Date(Date.now() - 30 * 86400000);
  const until = new Date();
  const [key, calls, denials, sources, series] = await Promise.all([
    get('/keys/' + encodeURIComponent(id)),
    get('/calls' + query({ key_id: id, limit: 20 })),
    get('/calls/breakdown' + query({ key_id: id, by: 'error_code', since: since.toISOString() })),
    get('/calls/breakdown' + query({ key_id: id, by: 'client_ip', since: since.toISOString() })),
    get('/spend/series' + query({ bucket: 'day', group_by: 'model', key_id: id, since: since.toISOString(), until: until.toISOString() })),
  ]);
  const actions = el('div', { id: 'key-actions' });
  if (isAdmin && key.status !== 'revoked') {
    const reason = el('input', { id: 'revoke-reason', maxlength: 500, placeholder: 'why (kept in the audit log)' });
    const grace = el('select', { id: 'rotate-grace', 'aria-label': 'Grace period' }, ['24h', '1h', '7d', '0s'].map((value) => el('option', { value }, value)));
    const rotated = el('div', { id: 'rotate-result' });
    const limits = limitsFields(key.limits, { editing: true });
    const problem = el('p', { class: 'error', role: 'alert' });
    actions.append(
      el('details', { class: 'panel' }, el('summary', {}, 'Edit limits'), el('form', {
        id: 'edit-limits',
        onsubmit: async (event) => {
          event.preventDefault();
          try {
            await api('PATCH', '/keys/' + encodeURIComponent(id), { limits: limits.read() });
            toast('Limits saved: they apply from the next request.');
            render(main, { isAdmin, params });
          } catch (error) { problem.textContent = error.message; }
        },
      }, limits.fieldset, el('button', { type: 'submit' }, 'Save limits'), problem)),
      el('section', { class: 'panel' }, el('h2', {}, 'Rotate or revoke'),
        el('form', {
          class: 'inline', id: 'rotate-form',
          onsubmit: async (event) => {
            event.preventDefault();
            if (!confirm(`Rotate “${key.name}”? The current secret keeps working for ${grace.value}.`)) return;
            try {
              const result = await api('POST', '/keys/' + encodeURIComponent(id) + '/rotate', { grace: grace.value });
              const secret = el('code', { class: 'secret', id: 'rotated-secret' }, result.key);
              rotated.replaceChildren(el('p', {}, 'The new secret, shown once:'), el('div', { class: 'row' }, secret, el('button', { type: 'button', onclick: () => copy(result.key, secret) }, 'Copy')));
            } catch (error) { toast(error.message); }
          },
        }, el('label', { for: 'rotate-grace' }, 'Old secret works for', grace), el('button', { type: 'submit', class: 'secondary' }, 'Rotate')),
        rotated,
        el('form', {
          class: 'inline', id: 'revoke-form',
          onsubmit: async (event) => {
            event.preventDefault();
            if (!confirm(`Revoke “${key.name}”? Every call with it is refused from now on.`)) return;
            try {
              await api('DELETE', '/keys/' + encodeURIComponent(id) + query({ reason: reason.value }));
              toast('Key revoked.');
              render(main, { isAdmin, params });
            } catch (error) { toast(error.message); }
          },
        }, el('label', { for: 'revoke-reason' }, 'Reason', reason), el('button', { type: 'submit', class: 'danger', id: 'revoke' }, 'Revoke'))));
  }
  const starts = buckets(since, until, 86400);
  main.replaceChildren(
    el('p', {}, el('a', { href: '#/keys' }, '← Keys')),
    el('h1', {}, key.name, ' ', statusTag(key.status), ' ', tag(key.env)),
    el('div', { class: 'grid' },
      el('section', { class: 'panel' }, el('h2', {}, 'Key'), el('dl', { class: 'kv' },
        el('dt', {}, 'Id'), el('dd', {}, key.id),
        el('dt', {}, 'Prefix'), el('dd', {}, key.prefix),
        el('dt', {}, 'Owner'), el('dd', {}, key.owner || '—'),
        el('dt', {}, 'Created'), el('dd', {}, when(key.created_at)),
        el('dt', {}, 'Last used'), el('dd', {}, ago(key.last_used_at)),
        el('dt', {}, 'Generation'), el('dd', {}, String(key.generation), key.rotated_at ? ` (rotated ${ago(key.rotated_at)})` : ''),
        key.revoked_at ? [el('dt', {}, 'Revoked'), el('dd', {}, when(key.revoked_at))] : null)),
      el('section', { class: 'panel' }, el('h2', {}, 'Limits'), describeLimits(key.limits),
        key.budget ? el('div', {}, el('h2', {}, 'Budget this ' + key.budget.period), meter(key.budget.spent_usd, key.budget.limit_usd)) : null)),
    el('section', { class: 'panel' }, el('h2', {}, 'Spend, last 30 days, by model'),
      stackedBars(series.data.map((p) => ({ start: p.start, group: p.group, value: Number(p.cost_usd) })),
        { starts, label: (t) => new Date(t).toISOString().slice(5, 10), format: usd, title: 'Spend of this key' })),
    el('div', { class: 'grid' },
      breakdown('Denials by code (30 days)', denials.data.filter((row) => row.value), 'No denials.'),
      breakdown('Source addresses (30 days)', sources.data, 'No calls yet.')),
    actions,
    el('section', { class: 'panel' }, el('h2', {}, 'Recent calls'), table(callColumns({ withKey: false }), calls.data, { empty: 'No calls yet.' }),
      el('p', {}, el('a', { href: '#/calls/' + encodeURIComponent(id) }, 'All calls of this key'))));
}
