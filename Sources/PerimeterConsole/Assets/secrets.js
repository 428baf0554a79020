// Secrets: the built-in store's names and versions, and every provider credential's store and
// version. Put and rotate through a form; a value is sent once and never shown back.
import { api, get } from './api.js';
import { el, when, table, toast } from './ui.js';

export async function render(main, { isAdmin }) {
  const [store, inventory] = await Promise.all([get('/secrets'), get('/inventory')]);
  let form = null;
  if (isAdmin) {
    const name = el('input', { id: 'secret-name', required: true, pattern: '[A-Za-z0-9._\\/\\-]{1,128}', autocomplete: 'off' });
    const value = el('input', { id: 'secret-value', type: 'password', required: true, autocomplete: 'new-password' });
    const problem = el('p', { class: 'error', role: 'alert' });
    const submit = (action) => async (event) => {
      event.preventDefault();
      problem.textContent = '';
      if (!name.reportValidity() || !value.reportValidity()) return;
      try {
        const path = '/secrets/' + encodeURIComponent(name.value) + (action === 'rotate' ? '/rotate' : '');
        const result = await api(action === 'rotate' ? 'POST' : 'PUT', path, { value: value.value });
        value.value = '';
        toast(`Secret ${result.name} is at version ${result.version}.`);
        render(main, { isAdmin });
      } catch (error) {
        value.value = '';
        problem.textContent = error.message;
      }
    };
    form = el('form', { class: 'panel', id: 'secret-form', onsubmit: submit('put') },
      el('h2', {}, 'Put or rotate a secret in the built-in store'),
      el('div', { class: 'row' }, el('label', { for: 'secret-name' }, 'Name', name), el('label', { for: 'secret-value' }, 'Value (never shown again)', value)),
      el('div', { class: 'row' }, el('button', { type: 'submit' }, 'Put'), el('button', { type: 'button', class: 'secondary', onclick: submit('rotate') }, 'Rotate (new version)')),
      problem);
  }
  main.replaceChildren(
    el('h1', {}, 'Secrets'),
    el('h2', {}, 'Built-in store'),
    table([
      { label: 'Name', value: (s) => s.name },
      { label: 'Reference', value: (s) => s.reference, narrow: true },
      { label: 'Version', value: (s) => s.version, num: true },
      { label: 'Versions', value: (s) => s.versions, num: true, narrow: true },
      { label: 'Updated', value: (s) => s.updated_at, cell: (s) => when(s.updated_at) },
      { label: 'Used by', value: (s) => (s.used_by || []).join(', '), wrap: true },
    ], store.data, { empty: 'The built-in store holds no secret.' }),
    form,
    el('h2', {}, 'Every provider credential'),
    table([
      { label: 'Reference', value: (c) => c.reference },
      { label: 'Store', value: (c) => c.store },
      { label: 'Status', value: (c) => c.status },
      { label: 'Version', value: (c) => c.version || '' },
      { label: 'Version date', value: (c) => c.version_date || '', cell: (c) => when(c.version_date), narrow: true },
      { label: 'Used by', value: (c) => (c.used_by || []).join(', '), wrap: true },
    ], inventory.credentials, { empty: 'No provider credential configured.' }));
  if (!store.data.length && !inventory.credentials.length) toast('No secret yet.');
}
