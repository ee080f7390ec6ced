// Stats screen: totals and a small CSS bar chart of the last 30 days (with a text equivalent).

import * as api from '../api.js';
import { h, render, loading, statusLine } from '../ui.js';

export async function showStats() {
  const body = h('div', { 'data-testid': 'stats' }, loading('Loading stats…'));
  render(h('section', { class: 'panel', 'aria-labelledby': 'stats-heading' }, h('h1', { id: 'stats-heading' }, 'Stats'), body));
  let stats;
  try {
    stats = await api.getStats();
  } catch (err) {
    const live = statusLine('stats-live');
    body.replaceChildren(h('p', { class: 'empty' }, 'Could not load the stats.'), live.el);
    live.fail(err);
    return;
  }

  const days = lastDays(stats?.per_day ?? [], 30);
  const max = Math.max(1, ...days.map((d) => d.count));
  const total = days.reduce((s, d) => s + d.count, 0);

  const chart = h('ol', { class: 'bar-chart', 'data-testid': 'stats-chart' }, days.map((d) => {
    const bar = h('span', { class: 'bar' });
    // CSSOM, not a style attribute: allowed by the CSP's style-src 'self'.
    bar.style.setProperty('--value', String(d.count / max));
    return h('li', { title: `${d.day}: ${d.count}`, dataset: { count: d.count } },
      bar,
      h('span', { class: 'sr-only' }, `${d.day}: ${d.count}`));
  }));

  body.replaceChildren(
    h('dl', { class: 'stat-cards' },
      h('div', { class: 'stat-card' }, h('dt', {}, 'Notes'), h('dd', { 'data-testid': 'stat-notes-total' }, String(stats?.notes_total ?? 0))),
      h('div', { class: 'stat-card' }, h('dt', {}, 'Attachments'), h('dd', { 'data-testid': 'stat-attachments-total' }, String(stats?.attachments_total ?? 0)))),
    h('figure', { class: 'chart' },
      h('figcaption', {}, `Per day, last 30 days (${total} in all)`),
      chart,
      h('div', { class: 'chart-axis', 'aria-hidden': 'true' }, h('span', {}, days[0]?.day ?? ''), h('span', {}, days.at(-1)?.day ?? ''))));
}

/** The last n days up to today (UTC) or the latest day in the data, missing days counted as 0. */
function lastDays(perDay, n) {
  const counts = new Map(perDay.map((d) => [String(d.day).slice(0, 10), Number(d.count) || 0]));
  const latest = [...counts.keys(), new Date().toISOString().slice(0, 10)].sort().at(-1);
  const end = new Date(`${latest}T00:00:00Z`);
  const out = [];
  for (let i = n - 1; i >= 0; i--) {
    const day = new Date(end.getTime() - i * 86_400_000).toISOString().slice(0, 10);
    out.push({ day, count: counts.get(day) ?? 0 });
  }
  return out;
}
