// Usage: the same ledger GET /v1/usage reads (the dashboard API answers exactly its report).
import { api } from './api.js';
import { tokensChart } from './chart.js';
import { $, formatInt, formatUsd, h, show } from './dom.js';

const DAYS = 30;

function utcDay(date) {
  return date.toISOString().slice(0, 10);
}

function lastDays(count) {
  const today = new Date();
  const days = [];
  for (let i = count - 1; i >= 0; i -= 1) {
    days.push(utcDay(new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - i))));
  }
  return days;
}

// Sums of exact decimal strings without floats: scaled BigInts.
function addDecimals(a, b) {
  const scale = Math.max((a.split('.')[1] || '').length, (b.split('.')[1] || '').length);
  const toInt = (s) => {
    const [whole, frac = ''] = s.split('.');
    return BigInt(whole + frac.padEnd(scale, '0'));
  };
  const sum = (toInt(a) + toInt(b)).toString().padStart(scale + 1, '0');
  const whole = sum.slice(0, sum.length - scale);
  const frac = sum.slice(sum.length - scale).replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : whole;
}

export async function renderUsage() {
  const days = lastDays(DAYS);
  const [account, report, keys] = await Promise.all([
    api('GET', '/account'),
    api('GET', `/usage?start=${days[0]}&end=${days[days.length - 1]}`),
    api('GET', '/keys'),
  ]);

  $('month-spend').textContent = formatUsd(account.month_to_date_usd);
  $('spend-limit').textContent = account.spend_limit_usd === null ? 'no limit' : formatUsd(account.spend_limit_usd);
  const meter = $('spend-meter');
  meter.max = account.spend_limit_usd === null ? 1 : Math.max(Number(account.spend_limit_usd), 1e-9);
  meter.value = account.spend_limit_usd === null ? 0 : Number(account.month_to_date_usd);
  // A trial account: its one-off credit and what is left of it (null once the account is paid).
  const trial = account.trial;
  show($('trial-card'), trial !== null);
  if (trial !== null) {
    $('trial-remaining').textContent = formatUsd(trial.remaining_usd);
    $('trial-credit').textContent = formatUsd(trial.credit_usd);
    const trialMeter = $('trial-meter');
    trialMeter.max = Math.max(Number(trial.credit_usd), 1e-9);
    trialMeter.value = Number(trial.used_usd);
  }
  $('plan-name').textContent = account.plan_name;
  $('plan-rpm').textContent = formatInt(account.limits.requests_per_minute);
  $('plan-tpm').textContent = formatInt(account.limits.tokens_per_minute);

  $('usage-total-tokens').textContent = formatInt(report.totals.total_tokens);
  $('usage-total-requests').textContent = formatInt(report.totals.requests);
  $('usage-total-requests-noun').textContent = report.totals.requests === 1 ? 'request' : 'requests';
  $('usage-total-cost').textContent = formatUsd(report.totals.cost_usd);

  const byDay = new Map();
  const byKeyModel = new Map();
  const models = new Set();
  for (const row of report.data) {
    models.add(row.model);
    const day = byDay.get(row.date) || new Map();
    day.set(row.model, (day.get(row.model) || 0) + row.total_tokens);
    byDay.set(row.date, day);
    const id = `${row.key_id} ${row.model}`;
    const sum = byKeyModel.get(id) || { key_id: row.key_id, model: row.model, requests: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, cost_usd: '0' };
    sum.requests += row.requests;
    sum.prompt_tokens += row.prompt_tokens;
    sum.completion_tokens += row.completion_tokens;
    sum.total_tokens += row.total_tokens;
    sum.cost_usd = addDecimals(sum.cost_usd, row.cost_usd);
    byKeyModel.set(id, sum);
  }
  $('usage-chart').replaceChildren(...tokensChart(days, byDay, [...models].sort()));

  const names = new Map(keys.data.map((k) => [k.id, `${k.name || '(unnamed)'} · ${k.prefix}…`]));
  const rows = [...byKeyModel.values()].sort((a, b) => b.total_tokens - a.total_tokens);
  $('usage-body').replaceChildren(
    ...rows.map((r) =>
      h(
        'tr',
        { 'data-testid': 'usage-row', 'data-key-id': r.key_id, 'data-model': r.model },
        h('td', { text: names.get(r.key_id) || r.key_id }),
        h('td', { text: r.model }),
        h('td', { class: 'num', text: formatInt(r.requests) }),
        h('td', { class: 'num', text: formatInt(r.prompt_tokens) }),
        h('td', { class: 'num', text: formatInt(r.completion_tokens) }),
        h('td', { class: 'num', text: formatInt(r.total_tokens) }),
        h('td', { class: 'num', text: formatUsd(r.cost_usd) }),
      ),
    ),
  );
  show($('usage-empty'), rows.length === 0);
}
