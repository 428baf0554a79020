// Keys: every virtual key with its spend, searchable and sortable; creating one with all its limits.
import { api, get, query } from './api.js';
import { el, usd, ago, tag, statusTag, meter, table, copy, startOf, errorBox, toast } from './ui.js';

const OPERATIONS = ['chat', 'responses', 'embeddings', 'messages', 'models', 'count_tokens', 'generate', 'converse', 'invoke'];
const list = (text) => text.split(',').map((item) => item.trim()).filter(Boolean);

/// The limits as form fields, filled from `current`. `read()` gives the limits object; when editing,
/// an emptied field is sent as null, which removes that limit.
export function limitsFields(current = {}, { editing = false } = {}) {
  const input = (id, label, value, attributes = {}) => {
    const field = el('input', { id, name: id, value: value ?? '', ...attributes });
    return [field, el('label', { for: id }, label, field)];
  };
  const [budget, budgetLabel] = input('limit-budget', 'Budget (USD)', current.budget ? current.budget.usd : '', { type: 'number', min: '0', step: '0.01', inputmode: 'decimal' });
  const period = el('select', { id: 'limit-period', name: 'limit-period' }, ['month', 'week', 'day', 'total'].map((name) => el('option', { value: name, selected: current.budget && current.budget.period === name }, name)));
  const [rpm, rpmLabel] = input('limit-rpm', 'Requests per minute', current.rpm, { type: 'number', min: '1', step: '1' });
  const [tpm, tpmLabel] = input('limit-tpm', 'Tokens per minute', current.tpm, { type: 'number', min: '1', step: '1' });
  const [models, modelsLabel] = input('limit-models', 'Models (comma-separated patterns)', (current.models || []).join(', '), { placeholder: 'gpt-4o*, claude-*' });
  const [ips, ipsLabel] = input('limit-ips', 'Allowed networks (CIDR)', (current.allowed_ips || []).join(', '), { placeholder: '10.0.0.0/8' });
  const [providers, providersLabel] = input('limit-providers', 'Providers', (current.providers || []).join(', '));
  const [operations, operationsLabel] = input('limit-operations', 'Operations', (current.operations || []).join(', '), { placeholder: OPERATIONS.slice(0, 3).join(', ') });
  const toolsValue = current.tools === undefined ? 'allow' : Array.isArray(current.tools) ? 'only' : current.tools;
  const tools = el('select', { id: 'limit-tools', name: 'limit-tools' }, [['allow', 'tools allowed'], ['deny', 'no tools'], ['only', 'only these tools']].map(([value, text]) => el('option', { value, selected: toolsValue === value }, text)));
  const [toolNames, toolNamesLabel] = input('limit-tool-names', 'Tool names', Array.isArray(current.tools) ? current.tools.join(', ') : '');
  const [expires, expiresLabel] = input('limit-expires', 'Expires (UTC)', current.expires_at ? current.expires_at.slice(0, 16) : '', { type: 'datetime-local' });
  const fieldset = el('fieldset', {}, el('legend', {}, 'Limits (empty means none)'),
    budgetLabel, el('label', { for: 'limit-period' }, 'Budget period', period), rpmLabel, tpmLabel, modelsLabel, ipsLabel,
    providersLabel, operationsLabel, el('label', { for: 'limit-tools' }, 'Tools', tools), toolNamesLabel, expiresLabel);
  function read() {
    const limits = {};
    const clear = (name) => { if (editing) limits[name] = null; };
    if (budget.value !== '') limits.budget = { usd: Number(budget.value), period: period.value }; else clear('budget');
    if (rpm.value !== '') limits.rpm = Number(rpm.value); else clear('rpm');
    if (tpm.value !== '') limits.tpm = Number(tpm.value); else clear('tpm');
    if (list(models.value).length) limits.models = list(models.value); else clear('models');
    if (list(ips.value).length) limits.allowed_ips = list(ips.value); else clear('allowed_ips');
    if (list(providers.value).length) limits.providers = list(providers.value); else clear('providers');
    if (list(operations.value).length) limits.operations = list(operations.value); else clear('operations');
    if (tools.value === 'only') limits.tools = list(toolNames.value);
    else if (tools.value === 'deny') limits.tools = 'deny';
    else clear('tools');
    if (expires.value) limits.expires_at = new Date(expires.value + 'Z').toISOString(); else clear('expires_at');
    return limits;
  }
  return { fieldset, read };
}

function createForm(onCreated) {
  const name = el('input', { id: 'new-name', name: 'name', required: true, maxlength: 128 });
  const env = el('input', { id: 'new-env', name: 'env', required: true, pattern: '[a-z0-9\\-]{1,24}', placeholder: 'prod' });
  const owner = el('input', { id: 'new-owner', name: 'owner', maxlength: 128 });
  const limits = limitsFields();
  const problem = el('p', { class: 'error', role: 'alert' });
  const result = el('div', { id: 'new-key-result' });
  const form = el('form', {
    id: 'create-key',
    onsubmit: async (event) => {
      event.preventDefault();
      problem.textContent = '';
      try {
        const body = { name: name.value, env: env.value, limits: limits.read() };
        if (owner.value) body.owner = owner.value;
        const key = await api('POST', '/keys', body);
        const secret = el('code', { id: 'new-key-secret', class: 'secret' }, key.key);
        const copyButton = el('button', { type: 'button', id: 'copy-secret', onclick: () => copy(key.key, secret) }, 'Copy');
        result.replaceChildren(el('section', { class: 'panel', role: 'status' },
          el('h2', {}, `Key “${key.name}” created`),
          el('p', {}, 'This is the only time the key is shown. Copy it now and keep it in your secrets manager.'),
          el('div', { class: 'row' }, secret, copyButton),
          el('p', {}, el('a', { href: '#/keys/' + encodeURIComponent(key.id) }, 'Open the key'))));
        form.reset();
        copyButton.focus();
        onCreated();
      } catch (error) {
        problem.textContent = error.message;
      }
    },
  },
  el('div', { class: 'row' },
    el('label', { for: 'new-name' }, 'Name', name), el('label', { for: 'new-env' }, 'Environment', env), el('label', { for: 'new-owner' }, 'Owner', owner)),
  limits.fieldset,
  el('div', { class: 'row' }, el('button', { type: 'submit', id: 'create-key-submit' }, 'Create key')), problem);
  return el('details', { class: 'panel', id: 'create-panel' }, el('summary', {}, 'Create a key'), form, result);
}

export async function render(main, { isAdmin }) {
  const listBox = el('div', { id: 'keys-table' });
  const search = el('input', { id: 'key-search', type: 'search', placeholder: 'name, env, owner or id', 'aria-label': 'Search keys' });
  const statusFilter = el('select', { id: 'key-status', 'aria-label': 'Status' }, ['all', 'active', 'revoked', 'expired'].map((name) => el('option', { value: name }, name)));
  let rows = [];
  async function load() {
    const [keys, spend, inventory] = await Promise.all([
      get('/keys'),
      get('/spend' + query({ group_by: 'key', since: startOf('month').toISOString() })),
      get('/inventory'),
    ]);
    const spent = new Map(spend.data.map((row) => [row.group, row.cost_usd]));
    const lastIP = new Map(inventory.keys.map((row) => [row.id, row.last_client_ip]));
    rows = keys.data.map((key) => ({ ...key, month_usd: spent.get(key.id) || 0, last_ip: lastIP.get(key.id) || null }));
    draw();
  }
  function draw() {
    const needle = search.value.trim().toLowerCase();
    const shown = rows.filter((key) => (statusFilter.value === 'all' || key.status === statusFilter.value) &&
      (!needle || [key.name, key.env, key.owner || '', key.id, key.prefix].some((text) => text.toLowerCase().includes(needle))));
    const budgetShare = (key) => key.budget && key.budget.limit_usd ? key.budget.spent_usd / key.budget.limit_usd : null;
    listBox.replaceChildren(el('p', { class: 'muted' }, `${shown.length} of ${rows.length} keys`), table([
      { label: 'Name', value: (k) => k.name.toLowerCase(), cell: (k) => el('a', { href: '#/keys/' + encodeURIComponent(k.id) }, k.name) },
      { label: 'Env', value: (k) => k.env, cell: (k) => tag(k.env) },
      { label: 'Owner', value: (k) => k.owner || '', narrow: true },
      { label: 'Status', value: (k) => k.status, cell: (k) => statusTag(k.status) },
      { label: 'Spend (month)', value: (k) => Number(k.month_usd), cell: (k) => usd(k.month_usd), num: true },
      { label: 'Budget used', value: budgetShare, cell: (k) => k.budget ? meter(k.budget.spent_usd, k.budget.limit_usd) : el('span', { class: 'muted' }, '—'), narrow: true },
      { label: 'Last used', value: (k) => k.last_used_at || '', cell: (k) => ago(k.last_used_at) },
      { label: 'Last address', value: (k) => k.last_ip || '', narrow: true },
    ], shown, { empty: rows.length ? 'No key matches.' : 'No keys yet.', sort: { index: 4, descending: true } }));
  }
  search.addEventListener('input', draw);
  statusFilter.addEventListener('change', draw);
  main.replaceChildren(
    el('h1', {}, 'Keys'),
    isAdmin ? createForm(() => load().catch((error) => toast(error.message))) : null,
    el('div', { class: 'row' }, search, statusFilter),
    listBox);
  try { await load(); } catch (error) { listBox.replaceChildren(errorBox(error)); }
}
