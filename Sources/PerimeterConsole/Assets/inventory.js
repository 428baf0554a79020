// Inventory: every virtual key with its flags, every provider credential the gateway holds, the
// providers' own key lists, and the scanner's leak findings. The answer to "is this all of them?".
import { get } from './api.js';
import { el, usd, count, when, ago, tag, statusTag, table } from './ui.js';

const flags = (list) => list.length ? list.map((flag) => tag(flag.replaceAll('_', ' '), 'warn')) : el('span', { class: 'muted' }, '—');

export async function render(main) {
  const inventory = await get('/inventory');
  main.replaceChildren(
    el('h1', {}, 'Inventory'),
    el('p', { class: 'muted' }, 'Generated ', when(inventory.generated_at), '. `perimeter inventory --csv` exports the same.'),
    el('h2', {}, 'By environment'),
    table([
      { label: 'Env', value: (r) => r.env },
      { label: 'Keys', value: (r) => r.keys, num: true },
      { label: 'Active', value: (r) => r.active, num: true },
      { label: 'Revoked', value: (r) => r.revoked, num: true, narrow: true },
      { label: 'Stale', value: (r) => r.stale, num: true },
      { label: 'Expiring', value: (r) => r.expiring, num: true, narrow: true },
      { label: 'Over max age', value: (r) => r.over_max_age, num: true },
      { label: 'No owner', value: (r) => r.unowned, num: true, narrow: true },
      { label: 'Spend', value: (r) => Number(r.spend_usd), cell: (r) => usd(r.spend_usd), num: true },
    ], inventory.summary, { empty: 'No keys.' }),
    el('h2', {}, 'Virtual keys'),
    table([
      { label: 'Name', value: (k) => k.name.toLowerCase(), cell: (k) => el('a', { href: '#/keys/' + encodeURIComponent(k.id) }, k.name) },
      { label: 'Env', value: (k) => k.env },
      { label: 'Owner', value: (k) => k.owner || '', narrow: true },
      { label: 'Status', value: (k) => k.status, cell: (k) => statusTag(k.status) },
      { label: 'Age (days)', value: (k) => k.age_days, num: true, narrow: true },
      { label: 'Last used', value: (k) => k.last_used_at || '', cell: (k) => ago(k.last_used_at) },
      { label: 'Flags', value: (k) => k.flags.length, cell: (k) => flags(k.flags) },
    ], inventory.keys, { empty: 'No keys.', sort: { index: 6, descending: true } }),
    el('h2', {}, 'Provider credentials held by the gateway'),
    table([
      { label: 'Reference', value: (c) => c.reference },
      { label: 'Store', value: (c) => c.store },
      { label: 'Status', value: (c) => c.status },
      { label: 'Version', value: (c) => c.version || '', narrow: true },
      { label: 'Age (days)', value: (c) => c.age_days ?? null, cell: (c) => c.age_days ?? '—', num: true },
      { label: 'Used by', value: (c) => (c.used_by || []).join(', '), wrap: true },
      { label: 'Flags', value: (c) => c.flags.length, cell: (c) => flags(c.flags) },
    ], inventory.credentials, { empty: 'No provider credential configured.' }),
    el('h2', {}, 'Keys on the providers’ side'),
    table([
      { label: 'Provider', value: (p) => p.provider },
      { label: 'Name', value: (p) => p.name || p.id },
      { label: 'Hint', value: (p) => p.hint || '', narrow: true },
      { label: 'Held as', value: (p) => p.held_as || '', cell: (p) => p.held_as || tag('not held', 'bad') },
      { label: 'Last used', value: (p) => p.last_used_at || '', cell: (p) => ago(p.last_used_at), narrow: true },
      { label: 'Flags', value: (p) => p.flags.length, cell: (p) => flags(p.flags) },
    ], inventory.provider_keys || [], { empty: 'No provider with an admin_key: the providers’ own key lists are not read.' }),
    el('h2', {}, 'Leak findings'),
    table([
      { label: 'Reported', value: (f) => f.reported_at || '', cell: (f) => when(f.reported_at) },
      { label: 'Rule', value: (f) => f.rule },
      { label: 'Where', value: (f) => `${f.hostname ? f.hostname + ':' : ''}${f.path}${f.line ? ':' + f.line : ''}`, wrap: true },
      { label: 'Managed key', value: (f) => f.managed_key_id || '', cell: (f) => f.managed_key_id ? el('a', { href: '#/keys/' + encodeURIComponent(f.managed_key_id) }, f.managed_key_id) : '—' },
      { label: 'Class', value: (f) => f.classification || '', narrow: true },
      { label: 'Owner', value: (f) => f.owner || '', narrow: true },
    ], inventory.findings, { empty: 'No leak reported by `perimeter scan --report`.' }),
    el('p', { class: 'muted' }, `${count(inventory.keys.length)} virtual keys, ${count(inventory.credentials.length)} provider credentials, ${count((inventory.provider_keys || []).length)} provider-side keys, ${count(inventory.findings.length)} findings.`));
}
