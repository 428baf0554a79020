// The console's shell: sign-in, the page router (the part of the URL after #), the navigation.
import { api, setSession, whenSignedOut } from './api.js';
import { el, errorBox, toast } from './ui.js';
import * as overview from './overview.js';
import * as keys from './keys.js';
import * as key from './key.js';
import * as calls from './calls.js';
import * as alerts from './alerts.js';
import * as inventory from './inventory.js';
import * as audit from './audit.js';
import * as secrets from './secrets.js';

const pages = { overview, keys, key, calls, alerts, inventory, audit, secrets };
const main = document.getElementById('main');
let session = null;
let leaving = null;

function showSignedIn() {
  document.getElementById('nav').hidden = false;
  document.getElementById('who').hidden = false;
  document.getElementById('who-name').textContent = session.name;
  document.getElementById('who-role').textContent = session.role;
}

function signIn(message) {
  session = null;
  setSession(null);
  if (leaving) { leaving(); leaving = null; }
  document.getElementById('nav').hidden = true;
  document.getElementById('who').hidden = true;
  const token = el('input', { id: 'token', type: 'password', name: 'token', autocomplete: 'current-password', required: true, spellcheck: 'false' });
  const problem = el('p', { class: 'error', role: 'alert' });
  const note = el('p', { class: 'muted', role: 'status' }, message || '');
  const form = el('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      problem.textContent = '';
      note.textContent = '';
      try {
        session = await api('POST', '/session', { token: token.value });
        token.value = '';
        setSession(session);
        showSignedIn();
        route();
      } catch (error) {
        problem.textContent = error.status === 401 ? 'That token is not a valid admin or viewer token.' : error.message;
      }
    },
  },
  el('label', { for: 'token' }, 'Admin or viewer token', token),
  el('button', { type: 'submit', id: 'sign-in' }, 'Sign in'),
  note,
  problem,
  el('p', { class: 'muted' }, 'The token is exchanged for a session cookie and is not kept by this page. `perimeter admins create --role viewer` makes a read-only one.'));
  main.replaceChildren(el('section', { class: 'panel signin' }, el('h1', {}, 'Sign in to Perimeter'), form));
  main.dataset.ready = 'true';
  main.dataset.page = 'signin';
  token.focus();
}

let generation = 0;

async function route() {
  if (!session) return;
  if (leaving) { leaving(); leaving = null; }
  const current = ++generation;
  // Anything after ? in the # is ignored: #/keys?again opens the keys page anew.
  const [first, ...rest] = (location.hash.replace(/^#\/?/, '').split('?')[0] || 'overview').split('/');
  // #/keys/ID is one key's page.
  const name = first === 'keys' && rest.length ? 'key' : first;
  const page = pages[name] && name !== 'key' || (name === 'key' && rest.length) ? name : 'overview';
  for (const link of document.querySelectorAll('#nav a')) {
    const isCurrent = link.getAttribute('href') === '#/' + (page === 'key' ? 'keys' : page);
    if (isCurrent) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
  }
  main.dataset.ready = 'false';
  main.dataset.page = page;
  main.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
  // Each page renders into its own element, shown only if no later navigation replaced it.
  const view = el('div');
  const context = { session, isAdmin: session.role === 'admin', params: rest.map(decodeURIComponent) };
  let cleanup = null;
  try {
    cleanup = (await pages[page].render(view, context)) || null;
  } catch (error) {
    view.replaceChildren(el('h1', {}, 'Something went wrong'), errorBox(error));
  }
  if (current !== generation || !session) {
    if (cleanup) cleanup();
    return;
  }
  leaving = cleanup;
  main.replaceChildren(view);
  main.dataset.ready = 'true';
  main.focus({ preventScroll: true });
}

document.getElementById('sign-out').addEventListener('click', async () => {
  try { await api('DELETE', '/session'); } catch (error) { toast(error.message); }
  signIn('Signed out.');
});
whenSignedOut(() => signIn('Your session ended; sign in again.'));
// The skip link moves focus to the content without touching the URL's #, which names the page.
document.querySelector('.skip').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});
window.addEventListener('hashchange', route);

(async () => {
  try {
    session = await api('GET', '/session');
    if (!session.csrf_token) throw new Error('no session');
    setSession(session);
    showSignedIn();
    route();
  } catch {
    signIn();
  }
})();
