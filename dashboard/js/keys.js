// API keys: list, create (secret shown once), rotate (old key kept for a grace period), revoke.
import { api } from './api.js';
import { $, copyText, formatWhen, h, show } from './dom.js';

let pendingRevoke = null;

function showSecret(secret, note) {
  // The secret lives in this input only while the dialog is open (see closeSecret).
  $('secret-value').value = secret;
  $('secret-note').textContent = note || '';
  show($('secret-note'), Boolean(note));
  $('copy-status').textContent = '';
  $('secret-dialog').showModal();
  $('secret-value').select();
}

function closeSecret() {
  $('secret-value').value = '';
  $('copy-status').textContent = '';
  if ($('secret-dialog').open) $('secret-dialog').close();
}

function keyRow(key, onChange) {
  const active = key.status === 'active';
  return h(
    'tr',
    { 'data-testid': 'key-row', 'data-key-id': key.id, 'data-status': key.status },
    h('td', { text: key.name || '(unnamed)' }),
    h('td', {}, h('code', { text: `${key.prefix}…` })),
    h('td', { text: formatWhen(key.created_at) }),
    h('td', { text: formatWhen(key.last_used_at) }),
    h('td', { text: key.expires_at ? formatWhen(key.expires_at) : 'never' }),
    h('td', {}, h('span', { class: `status status-${key.status}`, 'data-testid': 'key-status', text: key.status })),
    h(
      'td',
      { class: 'row-actions' },
      active
        ? [
            h('button', {
              type: 'button', 'data-testid': 'rotate-key', text: 'Rotate',
              title: 'New key now; this one keeps working for 24 hours',
              onclick: () => rotate(key, onChange),
            }),
            h('button', {
              type: 'button', class: 'danger', 'data-testid': 'revoke-key', text: 'Revoke',
              onclick: () => askRevoke(key, onChange),
            }),
          ]
        : null,
    ),
  );
}

async function rotate(key, onChange) {
  const answer = await api('POST', `/keys/${encodeURIComponent(key.id)}/rotate`, { grace_hours: 24 });
  showSecret(answer.secret, `“${key.name || key.prefix}” keeps working until ${formatWhen(answer.previous.expires_at)}.`);
  await onChange();
}

function askRevoke(key, onChange) {
  pendingRevoke = { key, onChange };
  $('revoke-name').textContent = key.name || `${key.prefix}…`;
  $('revoke-dialog').showModal();
}

export async function renderKeys() {
  const { data } = await api('GET', '/keys');
  const body = $('keys-body');
  body.replaceChildren(...data.slice().reverse().map((key) => keyRow(key, renderKeys)));
  show($('keys-empty'), data.length === 0);
  return data;
}

export function setUpKeys(report) {
  $('create-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const days = form.elements.expires.value;
    report(async () => {
      const answer = await api('POST', '/keys', {
        name: form.elements.name.value.trim(),
        expires_in_days: days ? Number(days) : null,
      });
      form.reset();
      showSecret(answer.secret);
      await renderKeys();
    });
  });
  $('copy-secret').addEventListener('click', async () => {
    const copied = await copyText($('secret-value').value).catch(() => false);
    if (!copied) $('secret-value').select();
    $('copy-status').textContent = copied ? 'Copied to the clipboard.' : 'Selected: press Ctrl+C (⌘C) to copy.';
  });
  $('close-secret').addEventListener('click', closeSecret);
  // Escape or any other way of closing the dialog empties it too.
  $('secret-dialog').addEventListener('close', closeSecret);
  $('revoke-cancel').addEventListener('click', () => $('revoke-dialog').close());
  $('revoke-dialog').addEventListener('close', () => { pendingRevoke = null; });
  $('revoke-confirm').addEventListener('click', () => {
    const pending = pendingRevoke;
    $('revoke-dialog').close();
    if (!pending) return;
    report(async () => {
      await api('POST', `/keys/${encodeURIComponent(pending.key.id)}/revoke`);
      await pending.onChange();
    });
  });
}
