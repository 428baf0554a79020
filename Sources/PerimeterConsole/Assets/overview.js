// Overview: spend per environment against its budget, spend over time, calls per minute with
// denials, the latest alerts, and the keys that need attention.
import { get, query } from './api.js';
import { el, usd, count, ago, tag, meter, startOf, errorBox } from './ui.js';
import { stackedBars, buckets } from './chart.js';

const RANGES = {
  '48h': { bucket: 'hour', seconds: 3600, span: 48 * 3600 },
  '7d': { bucket: 'hour', seconds: 3600, span: 7 * 86400 },
  '30d': { bucket: 'day', seconds: 86400, span: 30 * 86400 },
};
const ATTENTION = ['over_max_age', 'stale', 'never_used', 'expiring', 'previous_secret_in_grace', 'no_owner'];

export async function render(main) {
  const [today, week, month, inventory, alerts, keys] = await Promise.all([
    get('/spend' + query({ group_by: 'env', since: startOf('day').toISOString() })),
    get('/spend' + query({ group_by: 'env', since: startOf('week').toISOString() })),
    get('/spend' + query({ group_by: 'env', since: startOf('month').toISOString() })),
    get('/inventory'),
    get('/alerts' + query({ limit: 10, since: new Date(Date.now() - 7 * 86400000).toISOString() })),
    get('/keys'),
  ]);
  const names = new Map(keys.data.map((key) => [key.id, key.name]));
  const envBudgets = new Map();
  for (const key of keys.data) if (key.environment_budget && !envBudgets.has(key.env)) envBudgets.set(key.env, key.environment_budget);
  const envs = [...new Set([...inventory.summary.map((row) => row.env), ...month.data.map((row) => row.group)])].filter(Boolean).sort();
  const spendOf = (report, env) => (report.data.find((row) => row.group === env) || {}).cost_usd || 0;

  const envPanels = envs.length ? envs.map((env) => {
    const budget = envBudgets.get(env);
    return el('section', { class: 'panel', 'aria-label': `Environment ${env}` },
      el('h2', {}, env),
      el('dl', { class: 'kv' },
        el('dt', {}, 'Today'), el('dd', { dataset: { spend: 'today' } }, usd(spendOf(today, env))),
        el('dt', {}, 'This week'), el('dd', {}, usd(spendOf(week, env))),
        el('dt', {}, 'This month'), el('dd', { dataset: { spend: 'month' } }, usd(spendOf(month, env)))),
      budget ? el('div', {}, el('p', { class: 'muted' }, `Environment budget per ${budget.period}`), meter(budget.spent_usd, budget.limit_usd))
        : el('p', { class: 'muted' }, 'No environment budget.'));
  }) : [el('section', { class: 'panel' }, el('p', { class: 'muted' }, 'No calls and no keys yet. Create a key on the Keys page.'))];

  const total = el('section', { class: 'panel' }, el('h2', {}, 'All environments'),
    el('dl', { class: 'kv' },
      el('dt', {}, 'Today'), el('dd', { id: 'spend-today' }, usd(today.total ? today.total.cost_usd : 0)),
      el('dt', {}, 'This week'), el('dd', {}, usd(week.total ? week.total.cost_usd : 0)),
      el('dt', {}, 'This month'), el('dd', { id: 'spend-month' }, usd(month.total ? month.total.cost_usd : 0)),
      el('dt', {}, 'Calls this month'), el('dd', {}, count(month.total ? month.total.calls : 0))));

  // Spend over time.
  const range = el('select', { id: 'chart-range', 'aria-label': 'Time range' }, Object.keys(RANGES).map((name) => el('option', { value: name }, name)));
  const stack = el('select', { id: 'chart-group', 'aria-label': 'Stack by' }, ['env', 'key', 'model', 'provider'].map((name) => el('option', { value: name }, 'by ' + name)));
  const spendChart = el('div', { id: 'spend-chart' });
  async function drawSpend() {
    const chosen = RANGES[range.value];
    const until = new Date();
    const since = new Date(until.getTime() - chosen.span * 1000);
    try {
      const series = await get('/spend/series' + query({ bucket: chosen.bucket, group_by: stack.value, since: since.toISOString(), until: until.toISOString() }));
      const points = series.data.map((point) => ({ start: point.start, group: stack.value === 'key' ? (names.get(point.group) || point.group) : point.group, value: Number(point.cost_usd) }));
      const starts = buckets(since, until, chosen.seconds);
      const label = chosen.bucket === 'day' ? (t) => new Date(t).toISOString().slice(5, 10) : (t) => new Date(t).toISOString().slice(5, 13).replace('T', ' ') + 'h';
      spendChart.replaceChildren(stackedBars(points, { starts, label, format: usd, title: 'Spend over time' }));
    } catch (error) {
      spendChart.replaceChildren(errorBox(error));
    }
  }
  range.addEventListener('change', drawSpend);
  stack.addEventListener('change', drawSpend);

  // Calls per minute, the last hour, with denials.
  const callsChart = el('div', { id: 'calls-chart' });
  async function drawCalls() {
    const until = new Date();
    const since = new Date(until.getTime() - 3600 * 1000);
    const series = await get('/spend/series' + query({ bucket: 'minute', group_by: 'none', since: since.toISOString(), until: until.toISOString() }));
    const points = [];
    let calls = 0, denied = 0;
    for (const point of series.data) {
      calls += point.calls;
      denied += point.denied;
      points.push({ start: point.start, group: 'served', value: point.calls - point.denied });
      if (point.denied) points.push({ start: point.start, group: 'denied', value: point.denied });
    }
    callsChart.replaceChildren(
      el('p', {}, el('span', { id: 'calls-hour' }, count(calls)), ' calls in the last hour, ', el('span', { id: 'denied-hour' }, count(denied)), ' denied'),
      stackedBars(points, { starts: buckets(since, until, 60), label: (t) => new Date(t).toISOString().slice(11, 16), format: (v) => count(Math.round(v)), title: 'Calls per minute', height: 120 }));
  }

  const attention = inventory.keys.filter((row) => row.flags.some((flag) => ATTENTION.includes(flag)) && row.status === 'active');
  const leaked = inventory.findings || [];
  const canaries = alerts.data.filter((alert) => alert.type === 'canary_used');
  const attentionPanel = el('section', { class: 'panel' }, el('h2', {}, 'Needs attention'),
    canaries.length ? el('p', { class: 'error' }, `${canaries.length} canary key use(s) this week: see Alerts.`) : null,
    leaked.length ? el('p', { class: 'error' }, `${leaked.length} leaked key finding(s): see Inventory.`) : null,
    attention.length ? el('ul', {}, attention.slice(0, 12).map((row) => el('li', {},
      el('a', { href: '#/keys/' + encodeURIComponent(row.id) }, row.name), ' ', tag(row.env), ' ',
      row.flags.filter((flag) => ATTENTION.includes(flag)).map((flag) => tag(flag.replaceAll('_', ' '), 'warn'))))) : null,
    attention.length > 12 ? el('p', {}, el('a', { href: '#/inventory' }, `and ${attention.length - 12} more`)) : null,
    !attention.length && !leaked.length && !canaries.length ? el('p', { class: 'muted' }, 'Nothing needs attention.') : null);

  const alertsPanel = el('section', { class: 'panel' }, el('h2', {}, 'Latest alerts'),
    alerts.data.length ? el('ul', {}, alerts.data.map((alert) => el('li', {},
      tag(alert.severity, alert.severity === 'critical' ? 'bad' : 'warn'), ' ', alert.message, ' ', el('span', { class: 'muted' }, ago(alert.time)))))
      : el('p', { class: 'muted' }, 'No alerts in the last 7 days.'),
    el('p', {}, el('a', { href: '#/alerts' }, 'All alerts')));

  main.replaceChildren(
    el('h1', {}, 'Overview'),
    el('div', { class: 'grid' }, total, ...envPanels),
    el('section', { class: 'panel' }, el('div', { class: 'row' }, el('h2', {}, 'Spend over time'), range, stack), spendChart),
    el('section', { class: 'panel' }, el('h2', {}, 'Calls per minute, last hour'), callsChart),
    el('div', { class: 'grid' }, alertsPanel, attentionPanel));
  await Promise.all([drawSpend(), drawCalls()]);
  const timer = setInterval(() => { drawCalls().catch(() => {}); }, 15000);
  return () => clearInterval(timer);
}
