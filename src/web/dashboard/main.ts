/**
 * The takedown dashboard (docs/dashboard.md): sign in with a takedown key
 * (kept in this tab's session storage only), work the match list down with
 * filters and status buttons, see matches per status and per group over time,
 * download each scan run's report as CSV, import a Telegram export or a hash
 * list into a bank. Every text from the service is set as text, never as
 * markup; message links are shown only if they are http(s).
 */
import { byId, el } from '../dom.js';
import { allMatches, api, ApiFailure, type Match, type MatchFilter, type Run, type Scan, session } from './api.js';
import { aggregate, type Status } from './aggregate.js';
import { groupChart, STATUS_COLOURS, statusChart } from './chart.js';
import { initImport, loadBanks } from './import.js';

const PAGE = 50;
/** The chart reads at most this many matches (20 requests); past it, it says so. */
const CHART_CAP = 20_000;

let cursor: string | null = null;

function say(text: string): void {
  byId('status-line').textContent = text;
}

function failure(err: unknown): string {
  if (err instanceof ApiFailure) return err.status === 401 ? 'The key is not valid (or was revoked). Sign in again.' : err.message;
  return 'The service could not be reached.';
}

function filter(): MatchFilter {
  const value = (id: string) => byId<HTMLInputElement | HTMLSelectElement>(id).value.trim();
  return { status: value('f-status'), group: value('f-group'), case: value('f-case'), run: value('f-run') };
}

function messageCell(m: Match): HTMLElement {
  if (m.messageUrl && /^https?:\/\//i.test(m.messageUrl)) {
    return el('td', {}, el('a', { href: m.messageUrl, rel: 'noopener noreferrer', target: '_blank' }, 'message'));
  }
  return el('td', {}, m.messageUrl ?? '');
}

function statusCell(m: Match): HTMLElement {
  const details = m.status === 'reported' ? `${m.reportedWhere ?? ''} ${m.reference ?? ''}` : m.status === 'dismissed' ? (m.dismissReason ?? '') : '';
  const badge = el('span', { class: `badge status-${m.status}` }, m.status);
  return el('td', { 'data-field': 'status' }, badge, details.trim() ? el('small', {}, ` ${details.trim()}`) : '');
}

function actionButton(label: string, action: string, m: Match): HTMLButtonElement {
  const button = el('button', { type: 'button', 'data-action': action }, label);
  button.addEventListener('click', () => void changeStatus(m, action as Status | 'report' | 'dismiss'));
  return button;
}

function actions(m: Match): HTMLElement {
  const buttons: HTMLButtonElement[] = [];
  if (m.status === 'new') buttons.push(actionButton('Reported…', 'report', m));
  if (m.status === 'new' || m.status === 'reported') buttons.push(actionButton('Removed', 'removed', m), actionButton('Dismiss…', 'dismiss', m));
  if (m.status === 'dismissed') buttons.push(actionButton('Reopen', 'new', m));
  return el('td', { class: 'actions' }, ...buttons);
}

function row(m: Match): HTMLTableRowElement {
  return el(
    'tr',
    { 'data-match': String(m.id) },
    el('td', {}, m.foundAt.slice(0, 16).replace('T', ' ')),
    el('td', {}, m.caseNumber),
    el('td', {}, m.platform),
    el('td', {}, m.group ?? ''),
    messageCell(m),
    el('td', {}, `${m.via === 'region' ? 'part of image' : 'whole image'} · ${m.signalType} ${m.distance}`),
    el('td', {}, String(m.runId)),
    statusCell(m),
    actions(m),
  );
}

/** Opens a dialog's form; resolves with its fields when saved, null when cancelled. */
function ask(dialogId: string): Promise<FormData | null> {
  const dialog = byId<HTMLDialogElement>(dialogId);
  const form = dialog.querySelector('form')!;
  form.reset();
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'save' ? new FormData(form) : null), { once: true });
  });
}

async function changeStatus(m: Match, action: Status | 'report' | 'dismiss'): Promise<void> {
  let change: Parameters<typeof api.setStatus>[1];
  if (action === 'report') {
    const fields = await ask('report-dialog');
    if (!fields) return;
    change = { status: 'reported', where: String(fields.get('where')), reference: String(fields.get('reference')) || undefined };
  } else if (action === 'dismiss') {
    const fields = await ask('dismiss-dialog');
    if (!fields) return;
    change = { status: 'dismissed', reason: String(fields.get('reason')) };
  } else change = { status: action };
  try {
    const updated = await api.setStatus(m.id, change);
    document.querySelector(`tr[data-match="${m.id}"]`)?.replaceWith(row(updated));
    say(`Match ${m.id} is now ${updated.status}.`);
    void drawChart();
  } catch (err) {
    say(failure(err));
  }
}

async function loadMatches(append: boolean): Promise<void> {
  const body = byId('match-rows');
  try {
    const page = await api.matches(filter(), PAGE, append ? (cursor ?? undefined) : undefined);
    if (!append) body.replaceChildren();
    body.append(...page.matches.map(row));
    cursor = page.nextCursor;
    byId('more').hidden = cursor === null;
    const shown = body.children.length;
    say(shown === 0 ? 'No matches for these filters.' : `${shown} match${shown === 1 ? '' : 'es'} shown${cursor ? ' (more below)' : ''}.`);
  } catch (err) {
    say(failure(err));
    if (err instanceof ApiFailure && err.status === 401) signOut();
  }
}

async function drawChart(): Promise<void> {
  const { status: _, ...withoutStatus } = filter();
  const { matches, complete } = await allMatches(withoutStatus, CHART_CAP);
  const data = aggregate(matches);
  byId('chart-note').textContent = data.days.length === 0 ? 'No matches to chart yet.' : complete ? '' : `Only the newest ${matches.length} matches are charted.`;
  byId('chart-status').replaceChildren(...(data.days.length ? [statusChart(data)] : []));
  byId('chart-group').replaceChildren(...(data.days.length ? [groupChart(data)] : []));
}

async function download(run: Run): Promise<void> {
  try {
    const blob = await api.reportCsv(run.id);
    const url = URL.createObjectURL(blob);
    const link = el('a', { href: url, download: `scan-run-${run.id}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (err) {
    say(failure(err));
  }
}

function runRow(scan: Scan, run: Run): HTMLTableRowElement {
  const csv = el('button', { type: 'button', 'data-action': 'csv' }, 'Report (CSV)');
  csv.addEventListener('click', () => void download(run));
  const show = el('button', { type: 'button', 'data-action': 'show-run' }, 'Show matches');
  show.addEventListener('click', () => {
    byId<HTMLSelectElement>('f-run').value = String(run.id);
    void refresh();
  });
  const when = `${run.startedAt.slice(0, 16).replace('T', ' ')}${run.finishedAt ? '' : ' (running)'}`;
  return el('tr', { 'data-run': String(run.id) }, el('td', {}, scan.name), el('td', {}, String(run.id)), el('td', {}, when), el('td', {}, run.status), el('td', {}, String(run.newMatches)), el('td', {}, csv, ' ', show));
}

async function loadRuns(): Promise<void> {
  const { scans } = await api.scans();
  const withRuns = await Promise.all(scans.map((s) => api.scan(s.id)));
  const runs = withRuns.flatMap((scan) => scan.runs.map((run) => ({ scan, run }))).sort((a, b) => b.run.id - a.run.id);
  byId('run-rows').replaceChildren(...runs.map(({ scan, run }) => runRow(scan, run)));
  const select = byId<HTMLSelectElement>('f-run');
  const chosen = select.value;
  select.replaceChildren(el('option', { value: '' }, 'any run'), ...runs.map(({ scan, run }) => el('option', { value: String(run.id) }, `#${run.id} ${scan.name}`)));
  select.value = chosen;
}

async function refresh(): Promise<void> {
  await loadMatches(false);
  await drawChart().catch((err: unknown) => say(failure(err)));
}

function showBoard(signedIn: boolean): void {
  byId('sign-in').hidden = signedIn;
  byId('board').hidden = !signedIn;
  byId('sign-out').hidden = !signedIn;
}

function signOut(): void {
  session.signOut();
  showBoard(false);
  byId('match-rows').replaceChildren();
  byId('import-report').replaceChildren();
  byId('import-status').textContent = '';
}

async function signIn(key: string): Promise<void> {
  session.signIn(key);
  try {
    await api.matches({}, 1);
  } catch (err) {
    session.signOut();
    byId('sign-in-error').textContent = err instanceof ApiFailure && err.status === 403 ? 'This key may not use the dashboard: it needs a takedown or admin key.' : failure(err);
    return;
  }
  byId('sign-in-error').textContent = '';
  showBoard(true);
  await loadRuns().catch((err: unknown) => say(failure(err)));
  await loadBanks();
  await refresh();
}

function legendColours(): void {
  for (const [status, colour] of Object.entries(STATUS_COLOURS)) document.documentElement.style.setProperty(`--status-${status}`, colour);
}

function init(): void {
  legendColours();
  byId('sign-in-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = byId<HTMLInputElement>('key');
    void signIn(input.value.trim());
    input.value = '';
  });
  byId('sign-out').addEventListener('click', signOut);
  byId('filters').addEventListener('submit', (event) => {
    event.preventDefault();
    void refresh();
  });
  byId('more').addEventListener('click', () => void loadMatches(true));
  initImport();
  const key = session.key();
  if (key) void signIn(key);
  else showBoard(false);
}

init();
