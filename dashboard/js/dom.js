// Building DOM from data without innerHTML: every value lands as text, never as markup.

export const $ = (id) => document.getElementById(id);

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'text') el.textContent = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function show(el, visible) {
  el.hidden = !visible;
}

export function formatWhen(epochSeconds) {
  if (!epochSeconds) return '—';
  return new Date(epochSeconds * 1000).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

export function formatInt(n) {
  return Number(n).toLocaleString('en-US');
}

// USD amounts arrive as exact decimal strings; they are shown as sent, never through floats.
export function formatUsd(decimal) {
  if (decimal === null || decimal === undefined) return 'no limit';
  return '$' + decimal;
}

export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return true;
  }
  return false;
}
