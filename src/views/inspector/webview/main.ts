// The inspector page: draws the model the extension sends (../messages.ts) with DOM APIs only (no innerHTML: paths
// and labels come from files) and reports clicks. It holds no state of its own beyond the last model, kept with
// setState so a reloaded page shows it at once. Bundled by esbuild.js into dist/inspector.js (a browser IIFE) and
// type-checked there against ../messages.ts with the DOM library (tsconfig.json here).
import type { ErrorModel, FromWebview, InspectorModel, LoadingModel, ReadyModel, ToWebview } from '../messages';

interface VsCodeApi {
  postMessage(msg: FromWebview): void;
  getState(): { model?: InspectorModel } | undefined;
  setState(state: { model: InspectorModel }): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

type Attrs = Record<string, string | boolean | undefined>;
type Child = Node | string | null | undefined | false;

const vscode = acquireVsCodeApi();
const root = document.getElementById('root') as HTMLElement;
const live = document.getElementById('live') as HTMLElement;
let drawn = -1;
let lastStatus = '';

function h(tag: string, attrs?: Attrs | null, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === false) continue;
    if (k === 'class') el.className = String(v);
    else if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

function button(key: string, label: string, onClick: () => void, attrs?: Attrs): HTMLButtonElement {
  const b = h('button', { type: 'button', 'data-key': key, ...attrs }, label) as HTMLButtonElement;
  b.addEventListener('click', onClick);
  return b;
}

function post(msg: FromWebview): void { vscode.postMessage(msg); }

function drawLoading(m: LoadingModel): HTMLElement[] {
  return [h('h1', null, m.name), h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), `Reading ${m.name}…`)];
}

function drawError(m: ErrorModel): HTMLElement[] {
  return [
    h('h1', null, m.name),
    h('p', { class: 'path' }, m.path),
    h('div', { class: 'error-box', role: 'alert' },
      h('h2', null, 'This file could not be inspected'),
      h('p', { class: 'error-message' }, m.message),
      h('p', null, m.hint),
      button('retry', 'Retry', () => post({ type: 'retry' }), { class: 'primary' }),
      m.attempts > 1 ? h('p', { class: 'muted attempts' }, `Tried ${m.attempts} times.`) : null),
  ];
}

function drawReady(m: ReadyModel): HTMLElement[] {
  const attached = m.attachments.length
    ? m.attachments.map((a) => h('span', { class: 'badge attached' },
      `Attached as ${a.device} · ${a.access} · ${a.lifetime}${a.ours ? '' : ' · other tool'}${a.mountPoints.length ? ` · mounted at ${a.mountPoints.join(', ')}` : ''}`))
    : [h('span', { class: 'badge' }, 'Not attached')];
  const problemBadge = m.problems.length
    ? h('span', { class: 'badge problem' }, `${m.problems.length} problem${m.problems.length === 1 ? '' : 's'}`)
    : h('span', { class: 'badge ok' }, 'No problems');
  return [
    h('header', null,
      h('h1', null, m.name),
      h('p', { class: 'subtitle' }, m.title),
      h('p', { class: 'path' }, m.path),
      h('p', { class: 'badges' }, ...attached, problemBadge)),
    h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Image actions' },
      ...m.actions.map((a) => button(`action:${a.id}`,
        m.busy === a.id ? `${a.label.replace(/…$/, '')}…` : a.label,
        () => post({ type: 'action', action: a.id }),
        { class: a.primary ? 'primary' : 'secondary', disabled: !a.enabled, title: a.title, 'aria-busy': m.busy === a.id ? 'true' : undefined }))),
    h('p', { class: 'status', id: 'status' }, m.status || ''),
    h('section', { 'aria-labelledby': 'facts-h' },
      h('h2', { id: 'facts-h' }, 'Facts'),
      h('dl', { class: 'facts' }, ...m.facts.flatMap((f) => [h('dt', null, f.label), h('dd', { class: f.mono ? 'mono' : undefined }, f.value)]))),
    drawChain(m),
    drawProblems(m),
    h('footer', null, `Read by the Virtual Disks worker in ${m.inspectMs} ms. Opening this view never attaches or changes the file.`),
  ];
}

function drawChain(m: ReadyModel): HTMLElement {
  const items = m.chain.map((l, i) => {
    const marks = l.problems.length
      ? button(`marks:${i}`, l.status === 'missing' ? `✕ ${l.kind}` : `⚠ ${l.problems.length} problem${l.problems.length === 1 ? '' : 's'}`,
        () => focusProblem(l.problems[0]), { class: 'mark', title: 'Show the problem' })
      : h('span', { class: 'mark ok' }, '✓ readable');
    return h('li', { class: `layer ${l.status}`, 'aria-label': `${l.role}: ${l.name}, ${l.kind}${l.status === 'ok' ? '' : ', has problems'}` },
      i > 0 ? h('div', { class: 'link', 'aria-hidden': 'true' }, '↓ depends on') : null,
      h('div', { class: 'card' },
        h('div', { class: 'card-head' },
          h('span', { class: 'role' }, l.role),
          h('strong', { class: 'layer-name' }, l.name),
          l.status === 'missing' ? null : h('span', { class: 'kind' }, l.kind),
          marks),
        l.path ? h('div', { class: 'layer-path mono' }, l.path) : null,
        l.id ? h('div', { class: 'layer-id mono' }, `${l.status === 'missing' ? 'expected id' : 'id'} ${l.id}`) : null,
        l.note ? h('div', { class: 'note' }, l.note) : null,
        i > 0 && l.path ? button(`open:${i}`, 'Inspect this layer', () => post({ type: 'openLayer', level: i }), { class: 'link-button' }) : null));
  });
  return h('section', { 'aria-labelledby': 'chain-h' },
    h('h2', { id: 'chain-h' }, 'Dependency chain'),
    m.chain.length === 1 && m.chain[0].status !== 'missing'
      ? h('p', { class: 'muted' }, 'This image stands alone: it has no parent.') : null,
    h('ol', { class: 'chain', 'aria-label': 'Dependency chain, the image first' }, ...items));
}

function drawProblems(m: ReadyModel): HTMLElement {
  if (!m.problems.length) {
    return h('section', { 'aria-labelledby': 'problems-h' }, h('h2', { id: 'problems-h' }, 'Problems'), h('p', { class: 'muted' }, 'None found.'));
  }
  return h('section', { 'aria-labelledby': 'problems-h' },
    h('h2', { id: 'problems-h' }, `Problems (${m.problems.length})`),
    h('ul', { class: 'problems' }, ...m.problems.map((p, i) =>
      h('li', { class: 'problem', id: `problem-${i}`, tabindex: '-1' },
        h('div', { class: 'problem-head' }, h('code', { class: 'code' }, p.code),
          h('span', { class: 'on-layer' }, `on ${m.chain[p.layer]?.role ?? 'image'} ${m.chain[p.layer]?.name ?? ''}`)),
        h('p', { class: 'message' }, p.message),
        h('p', null, h('span', { class: 'what' }, 'What it means: '), p.meaning),
        h('p', null, h('span', { class: 'what' }, 'What to do: '), p.action)))));
}

function focusProblem(i: number): void {
  const el = document.getElementById(`problem-${i}`);
  if (el) { el.scrollIntoView({ block: 'nearest' }); el.focus(); }
}

function draw(m: InspectorModel): void {
  const focused = document.activeElement instanceof HTMLElement ? document.activeElement.dataset.key : undefined;
  const parts = m.state === 'loading' ? drawLoading(m) : m.state === 'error' ? drawError(m) : drawReady(m);
  root.replaceChildren(...parts);
  root.setAttribute('aria-busy', m.state === 'loading' ? 'true' : 'false');
  document.title = m.name;
  if (focused) {
    const again = root.querySelector<HTMLElement>(`[data-key="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
  const say = m.state === 'error' ? `Could not inspect ${m.name}` : m.state === 'ready' ? m.status : '';
  if (say && say !== lastStatus) live.textContent = say;
  lastStatus = say;
  drawn = m.revision;
  vscode.setState({ model: m });
  acknowledge(m);
}

/** Tells the extension the model is on screen (after the next frame, or soon if frames are throttled). */
function acknowledge(m: InspectorModel): void {
  let sent = false;
  const send = () => { if (!sent) { sent = true; post({ type: 'rendered', revision: m.revision, state: m.state }); } };
  requestAnimationFrame(send);
  setTimeout(send, 100);
}

window.addEventListener('message', (e: MessageEvent<ToWebview | undefined>) => {
  const msg = e.data;
  if (!msg || msg.type !== 'render' || !msg.model) return;
  if (msg.model.revision <= drawn) return;   // the same model again (the answer to 'ready'), or an older one
  draw(msg.model);
});

// What to show before any message: the model embedded in the page, else the one saved before the page was
// last hidden (its revision may come from an earlier extension host, so it must not block newer ones).
const embedded = document.getElementById('initial-model');
const saved = vscode.getState();
if (embedded && embedded.textContent) draw(JSON.parse(embedded.textContent) as InspectorModel);
else if (saved && saved.model) { draw(saved.model); drawn = -1; }
post({ type: 'ready', loadMs: performance.now() });
