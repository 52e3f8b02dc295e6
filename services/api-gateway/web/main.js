// The blog's page: the post list at "/", one post at "/posts/ID". It loads
// data from the gateway's API once, then stays current from the gateway's
// event stream (GET /api/events): counts, new comments, notifications and
// the services' health arrive there, so the page never polls.
'use strict';

// ---- Limits, in bytes, as the services check them (UTF-8). ----
const LIMITS = {author: 100, title: 300, post: 60000, comment: 10000};
const PAGE_SIZE = 20;
const bytes = s => new TextEncoder().encode(s).length;

// ---- Escaping: every string a user wrote goes through esc() into HTML. ----
const esc = s => String(s).replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// ---- What this browser remembers: the visitor's name and delete tokens. ----
const store = {
  get name() { return localStorage.getItem('herald.name') || ''; },
  set name(v) { localStorage.setItem('herald.name', v); },
  tokens() { try { return JSON.parse(localStorage.getItem('herald.tokens') || '{}'); } catch { return {}; } },
  token(id) { return this.tokens()[id]; },
  keep(id, token) { const t = this.tokens(); t[id] = token; localStorage.setItem('herald.tokens', JSON.stringify(t)); },
  forget(id) { const t = this.tokens(); delete t[id]; localStorage.setItem('herald.tokens', JSON.stringify(t)); },
};

// ---- Times: "3 minutes ago", the full time on hover. ----
function ago(iso) {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  const unit = (n, w) => `${n} ${w}${n === 1 ? '' : 's'} ago`;
  if (s < 45) return 'just now';
  if (s < 3600) return unit(Math.max(1, Math.round(s / 60)), 'minute');
  if (s < 86400) return unit(Math.round(s / 3600), 'hour');
  if (s < 86400 * 30) return unit(Math.round(s / 86400), 'day');
  return new Date(iso).toLocaleDateString();
}
const timeTag = iso => `<time datetime="${esc(iso)}" title="${esc(new Date(iso).toLocaleString())}">${esc(ago(iso))}</time>`;
setInterval(() => $$('time[datetime]').forEach(t => { t.textContent = ago(t.getAttribute('datetime')); }), 30000);

// ---- The API. Resolves to {ok, status, data}; a network failure is status 0. ----
async function api(method, path, body, headers = {}) {
  let r;
  try {
    r = await fetch(path, {method, headers: {'Content-Type': 'application/json', ...headers},
                           body: body === undefined ? undefined : JSON.stringify(body)});
  } catch {
    showTrouble('The blog cannot be reached. The page will catch up by itself when it is back.');
    return {ok: false, status: 0, data: {error: 'the blog cannot be reached'}};
  }
  let data = null;
  if (r.status !== 204) data = await r.json().catch(() => ({error: `HTTP ${r.status}`}));
  if (r.status === 502 || r.status === 503) showTrouble(`${data && data.error || 'A service is unavailable'}. The page will recover by itself when it is back.`);
  return {ok: r.ok, status: r.status, data};
}
const errorOf = res => (res.data && res.data.error) || `HTTP ${res.status}`;

// Runs `work` with `button` disabled, so a double click sends one request.
async function busy(button, work) {
  if (button.disabled) return;
  button.disabled = true;
  try { return await work(); } finally { button.disabled = false; }
}

// A form's error line (<p class="error">): the server's message, or ours.
const say = (form, message) => { $('.error', form).textContent = message || ''; };

// Checks each field's byte length against its limit; the message of the first too long.
function tooLong(fields) {
  for (const [label, value, limit] of fields) {
    const n = bytes(value);
    if (n > limit) return `${label} is ${n.toLocaleString()} bytes; at most ${limit.toLocaleString()} are allowed (an accented letter takes 2).`;
  }
  return '';
}

// ---- The banner: a service down, or the gateway out of reach. ----
let down = [];           // services the last status event said are down
let trouble = '';        // a request that just failed
function renderBanner() {
  const b = $('#banner');
  const text = down.length ? `Unavailable: ${down.join(', ')}. The page will recover by itself when it is back.` : trouble;
  b.textContent = text;
  b.hidden = !text;
}
function showTrouble(text) { trouble = text; renderBanner(); }
function applyStatus(status) {
  const was = down.length > 0 || trouble !== '';
  down = Object.entries(status.services || {}).filter(([, up]) => !up).map(([name]) => name);
  if (!down.length) trouble = '';
  renderBanner();
  if (was && !down.length) reloadView();  // recovered: fetch again what failed
}

// ---- Rendering. ----
const countText = n => `${n} comment${n === 1 ? '' : 's'}`;
const nameField = (id, label) =>
  `<label for="${id}">${label}</label><input id="${id}" name="author" required autocomplete="nickname" value="${esc(store.name)}">`;

function commentForm(postId) {
  return `<form class="comment" data-post="${esc(postId)}" novalidate>
    ${nameField(`c-author-${esc(postId)}`, 'Your name')}
    <label for="c-content-${esc(postId)}">Comment <span class="bytes" data-bytes-of="c-content-${esc(postId)}" data-limit="${LIMITS.comment}"></span></label>
    <textarea id="c-content-${esc(postId)}" name="content" rows="2" required></textarea>
    <button class="primary">Add comment</button><p class="error" role="alert"></p></form>`;
}

function commentItem(c) {
  return `<li data-comment="${esc(c.id)}"><b>${esc(c.author)}</b> · <span class="meta">${timeTag(c.created_at)}</span><br>` +
    `${esc(c.content)}<button data-del="${esc(c.id)}" aria-label="Delete the comment of ${esc(c.author)}">Delete</button>` +
    `<span class="error" role="alert"></span></li>`;
}

function card(p) {
  return `<article class="card" id="post-${esc(p.id)}" data-post-card="${esc(p.id)}">
    <h2><a href="/posts/${esc(p.id)}">${esc(p.title)}</a></h2>
    <p class="meta">by ${esc(p.author)} · ${timeTag(p.created_at)}</p>
    <p class="post-body">${esc(p.excerpt)}</p>
    <button class="link count" data-toggle="${esc(p.id)}" aria-expanded="false" data-count="${esc(p.id)}">${countText(p.comment_count)}</button>
    <div class="comments-area" data-area="${esc(p.id)}" hidden></div>
  </article>`;
}

// The posts the page knows of, for "is this post mine?" (notifications).
const authors = new Map();

// ---- The list view ("/"). ----
let oldest = null;  // id of the last card shown, for "Older posts"

// Shown again (recovery, reset), the form keeps what is typed in it.
async function showList() {
  const view = $('#view');
  if ($('#new-post')) return loadPosts(false);
  view.innerHTML = `<form class="new" id="new-post" novalidate>
      ${nameField('p-author', 'Your name')}
      <label for="p-title">Title</label><input id="p-title" name="title" required>
      <label for="p-content">Text <span class="bytes" data-bytes-of="p-content" data-limit="${LIMITS.post}"></span></label>
      <textarea id="p-content" name="content" rows="4" required></textarea>
      <button class="primary">Publish post</button><p class="error" role="alert"></p>
    </form><section id="posts" aria-live="polite"><p class="loading">Loading…</p></section>
    <button class="older" id="older" hidden>Older posts</button>`;
  await loadPosts(false);
}

async function loadPosts(more) {
  const list = $('#posts');
  const res = await api('GET', `/api/posts?limit=${PAGE_SIZE}` + (more && oldest ? `&before=${encodeURIComponent(oldest)}` : ''));
  if (!res.ok) {
    if (!more) list.innerHTML = `<p class="error" role="alert">Posts cannot be loaded: ${esc(errorOf(res))}</p>`;
    return;
  }
  const posts = res.data;
  posts.forEach(p => authors.set(p.id, p.author));
  if (!more) list.innerHTML = posts.length ? '' : '<p class="empty">No posts yet. Write the first one.</p>';
  list.insertAdjacentHTML('beforeend', posts.map(card).join(''));
  if (posts.length) oldest = posts[posts.length - 1].id;
  $('#older').hidden = posts.length < PAGE_SIZE;
}

// ---- The post view ("/posts/ID"). ----
async function showPost(id) {
  const view = $('#view');
  const res = await api('GET', `/api/posts/${encodeURIComponent(id)}`);
  if (!res.ok) {
    view.innerHTML = `<p class="error" role="alert">This post cannot be shown: ${esc(errorOf(res))}</p><p><a href="/">All posts</a></p>`;
    return;
  }
  const p = res.data;
  authors.set(p.id, p.author);
  if ($(`article.post[data-post-card="${CSS.escape(p.id)}"]`)) {  // shown again: keep the comment form as it is
    $(`[data-count="${CSS.escape(p.id)}"]`).textContent = countText(p.comment_count);
    return refreshComments(p.id);
  }
  document.title = `${p.title} · Herald blog`;
  view.innerHTML = `<article class="card post" data-post-card="${esc(p.id)}">
      <h2>${esc(p.title)}</h2><p class="meta">by ${esc(p.author)} · ${timeTag(p.created_at)}</p>
      <div class="post-body">${esc(p.content)}</div>
      <h3 class="count" data-count="${esc(p.id)}">${countText(p.comment_count)}</h3>
      <div class="comments-area" data-area="${esc(p.id)}"></div>
    </article><p><a href="/">← All posts</a></p>`;
  await openComments(p.id);
}

// Shows a post's comments (oldest first) and its comment form in its area.
async function openComments(postId) {
  const area = $(`[data-area="${CSS.escape(postId)}"]`);
  if (!area) return;
  area.hidden = false;
  if (!$('form.comment', area)) area.innerHTML = `<ul class="comments" data-list="${esc(postId)}"></ul>` + commentForm(postId);
  await refreshComments(postId);
}

// Brings a shown comment list up to date in place: items stay as they are
// (a button under the pointer, a selection), gone ones are removed, new
// ones appended (newer, so oldest first still holds). One refresh per post
// at a time; a request for another while one runs makes one more run after it.
const refreshing = new Map();
function refreshComments(postId) {
  if (refreshing.has(postId)) { refreshing.get(postId).again = true; return refreshing.get(postId).done; }
  const state = {again: false};
  state.done = (async () => {
    do {
      state.again = false;
      await refreshOnce(postId);
    } while (state.again);
    refreshing.delete(postId);
  })();
  refreshing.set(postId, state);
  return state.done;
}

async function refreshOnce(postId) {
  const list = $(`[data-list="${CSS.escape(postId)}"]`);
  if (!list) return;
  const res = await api('GET', `/api/posts/${encodeURIComponent(postId)}/comments`);
  $$('li:not([data-comment])', list).forEach(li => li.remove());
  if (!res.ok) { list.insertAdjacentHTML('afterbegin', `<li class="error">Comments cannot be loaded: ${esc(errorOf(res))}</li>`); return; }
  const shown = new Map($$('li[data-comment]', list).map(li => [li.dataset.comment, li]));
  const now = new Set(res.data.map(c => c.id));
  for (const [id, li] of shown) if (!now.has(id)) li.remove();
  list.insertAdjacentHTML('beforeend', res.data.filter(c => !shown.has(c.id)).map(commentItem).join(''));
  if (!res.data.length) list.innerHTML = '<li class="empty">No comments yet.</li>';
}

function reloadView() {
  const m = location.pathname.match(/^\/posts\/([A-Za-z0-9_-]{1,64})$/);
  return m ? showPost(m[1]) : showList();
}

// ---- Notifications for the visitor's name. ----
async function loadNotes() {
  const name = store.name;
  $('#notes').hidden = !name;
  if (!name) return [];
  const res = await api('GET', `/api/notifications?user=${encodeURIComponent(name)}`);
  if (!res.ok) return [];
  $('#note-list').innerHTML = res.data.length
    ? res.data.slice(0, 20).map(n => `<li><a href="/posts/${esc(n.post_id)}">${esc(n.text)}</a> · <span class="meta">${timeTag(n.created_at)}</span></li>`).join('')
    : '<li class="empty">Nothing yet.</li>';
  return res.data;
}

// A comment on a post of the visitor's (or one the page does not know):
// the notification-service records it a moment after the comment, so look
// a few times until it is there.
async function noteFor(event) {
  const author = authors.get(event.post_id);
  if (!store.name || (author !== undefined && author !== store.name)) return;
  for (const wait of [200, 600, 1500, 3000]) {
    await new Promise(r => setTimeout(r, wait));
    const notes = await loadNotes();
    if (notes.some(n => n.comment_id === event.comment_id)) return;
  }
}

// ---- Live events from the gateway. ----
let lastEventId = '';
let source = null;
function connect() {
  const url = '/api/events' + (lastEventId ? `?last_event_id=${encodeURIComponent(lastEventId)}` : '');
  source = new EventSource(url);
  const track = handler => e => { if (e.lastEventId) lastEventId = e.lastEventId; handler(JSON.parse(e.data)); };
  // Connected (again): applyStatus clears the trouble and, if there was
  // some, reloads what may have failed meanwhile.
  source.addEventListener('hello', track(d => applyStatus(d.status)));
  source.addEventListener('status', track(applyStatus));
  source.addEventListener('reset', track(() => { reloadView(); loadNotes(); }));
  source.addEventListener('post-updated', track(d => {
    $$(`[data-count="${CSS.escape(d.post_id)}"]`).forEach(el => { el.textContent = countText(d.comment_count); });
    refreshComments(d.post_id);  // if shown: a comment came or went
  }));
  source.addEventListener('comment-created', track(noteFor));
  source.onerror = () => {
    showTrouble('The connection to the blog was lost; reconnecting…');
    // EventSource retries by itself, unless the gateway refused the stream.
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
  };
}

// ---- Forms and buttons. ----
document.addEventListener('input', e => {
  const counter = $(`[data-bytes-of="${CSS.escape(e.target.id)}"]`);
  if (counter) {
    const n = bytes(e.target.value), limit = Number(counter.dataset.limit);
    counter.textContent = `${n.toLocaleString()} / ${limit.toLocaleString()} bytes`;
    counter.classList.toggle('error', n > limit);
  }
});

$('#me-name').value = store.name;
$('#me-name').addEventListener('change', e => { store.name = e.target.value.trim(); loadNotes(); });
function remember(name) {
  if (name && name !== store.name) { store.name = name; $('#me-name').value = name; loadNotes(); }
}

document.addEventListener('submit', async e => {
  const form = e.target;
  e.preventDefault();
  const button = $('button', form);
  const f = Object.fromEntries(new FormData(form));
  for (const k of Object.keys(f)) f[k] = f[k].trim();
  if (form.id === 'new-post') {
    const problem = Object.values(f).some(v => !v) ? 'Please fill in your name, a title and the text.' :
      tooLong([['Your name', f.author, LIMITS.author], ['The title', f.title, LIMITS.title], ['The text', f.content, LIMITS.post]]);
    say(form, problem);
    if (problem) return;
    await busy(button, async () => {
      const res = await api('POST', '/api/posts', f);
      if (!res.ok) return say(form, errorOf(res));
      remember(f.author);
      authors.set(res.data.id, res.data.author);
      form.reset();
      $('#p-author').value = store.name;
      $('.empty', $('#posts'))?.remove();
      $('#posts').insertAdjacentHTML('afterbegin', card({...res.data, excerpt: res.data.content.slice(0, 160)}));
    });
  } else if (form.dataset.post) {
    const problem = !f.author || !f.content ? 'Please fill in your name and a comment.' :
      tooLong([['Your name', f.author, LIMITS.author], ['The comment', f.content, LIMITS.comment]]);
    say(form, problem);
    if (problem) return;
    await busy(button, async () => {
      const res = await api('POST', `/api/posts/${encodeURIComponent(form.dataset.post)}/comments`, f);
      if (!res.ok) return say(form, errorOf(res));
      store.keep(res.data.id, res.data.delete_token);
      remember(f.author);
      $('textarea', form).value = '';
      $('.bytes', form).textContent = '';
      await refreshComments(form.dataset.post);
    });
  }
});

document.addEventListener('click', async e => {
  const t = e.target.closest('button');
  if (!t) return;
  if (t.dataset.toggle) {
    const area = $(`[data-area="${CSS.escape(t.dataset.toggle)}"]`);
    const opening = area.hidden;
    t.setAttribute('aria-expanded', String(opening));
    if (opening) await busy(t, () => openComments(t.dataset.toggle));
    else area.hidden = true;
  } else if (t.dataset.del) {
    const id = t.dataset.del, line = $('.error', t.closest('li'));
    if (!confirm('Delete this comment? This cannot be undone.')) return;
    await busy(t, async () => {
      const token = store.token(id);
      const res = await api('DELETE', `/api/comments/${encodeURIComponent(id)}`, undefined, token ? {'X-Delete-Token': token} : {});
      if (!res.ok && res.status !== 404) { line.textContent = errorOf(res); return; }
      store.forget(id);
      t.closest('li').remove();
    });
  } else if (t.id === 'older') {
    await busy(t, () => loadPosts(true));
  }
});

reloadView().then(loadNotes);
connect();
