#include "main_page.h"

namespace herald::services {

const std::string& MainPageHtml() {
  static const std::string page = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Herald blog</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/main.css"></head><body>
<h1>Herald blog</h1><p class="sub">Comment counts arrive through Herald events.</p>
<form class="new" id="new-post">
 <input name="author" placeholder="Your name" required maxlength="100">
 <input name="title" placeholder="Title" required maxlength="300">
 <textarea name="content" placeholder="Write something" required rows="3"></textarea>
 <button>Publish post</button>
</form>
<main id="posts"><p>Loading…</p></main>
<script src="/main.js"></script></body></html>
)HTML";
  return page;
}

const std::string& MainPageStyle() {
  static const std::string style = R"CSS( body{font-family:system-ui,sans-serif;max-width:46em;margin:2em auto;padding:0 1em;color:#222}
 h1{margin-bottom:.2em} .sub{color:#666;margin-top:0}
 form.new{display:grid;gap:.4em;margin:1em 0 2em;padding:1em;background:#f6f6f6;border-radius:8px}
 input,textarea,button{font:inherit;padding:.35em .5em}
 .card{border:1px solid #ddd;border-radius:10px;padding:1em 1.2em;margin:1em 0}
 .card h2{margin:.1em 0} .meta{color:#666;font-size:.9em} .count{font-weight:600}
 .comments{list-style:none;padding:0} .comments li{padding:.2em 0;border-top:1px solid #eee}
 .comments button{margin-left:.5em;font-size:.8em}
 form.comment{display:flex;gap:.4em;margin-top:.5em} form.comment input{flex:1}
)CSS";
  return style;
}

const std::string& MainPageScript() {
  static const std::string script = R"JS(const esc = s => String(s).replace(/[&<>"']/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
const open = new Set();
async function api(method, path, body) {
  const r = await fetch(path, {method, headers: {'Content-Type': 'application/json'}, body: body && JSON.stringify(body)});
  if (!r.ok && r.status !== 404) throw new Error(await r.text());
  return r.status === 204 ? null : r.json();
}
async function render() {
  const posts = await api('GET', '/api/posts');
  const main = document.getElementById('posts');
  if (!posts.length) { main.innerHTML = '<p>No posts yet.</p>'; return; }
  const html = [];
  for (const p of posts) {
    let comments = '';
    if (open.has(p.id)) {
      const list = await api('GET', `/api/posts/${p.id}/comments`);
      comments = '<ul class="comments">' + list.map(c =>
        `<li><b>${esc(c.author)}</b>: ${esc(c.content)}<button data-del="${c.id}">remove</button></li>`).join('') + '</ul>' +
        `<form class="comment" data-post="${p.id}"><input name="author" placeholder="Name" required maxlength="100">` +
        `<input name="content" placeholder="Comment" required><button>Add</button></form>`;
    }
    html.push(`<article class="card" id="post-${p.id}"><h2>${esc(p.title)}</h2>` +
      `<p class="meta">by ${esc(p.author)} · ${esc(p.created_at)}</p><p>${esc(p.excerpt)}</p>` +
      `<a href="#" data-toggle="${p.id}" class="count" data-count="${p.id}">${p.comment_count} comment${p.comment_count === 1 ? '' : 's'}</a>` +
      comments + '</article>');
  }
  if (!main.contains(document.activeElement) || document.activeElement === document.body) main.innerHTML = html.join('');
  else for (const p of posts) {  // someone is typing: only refresh the counts
    const a = document.querySelector(`[data-count="${p.id}"]`);
    if (a) a.textContent = `${p.comment_count} comment${p.comment_count === 1 ? '' : 's'}`;
  }
}
document.getElementById('new-post').addEventListener('submit', async e => {
  e.preventDefault();
  const f = new FormData(e.target);
  await api('POST', '/api/posts', Object.fromEntries(f));
  e.target.reset(); render();
});
document.addEventListener('click', async e => {
  const t = e.target;
  if (t.dataset.toggle) { e.preventDefault(); open.has(t.dataset.toggle) ? open.delete(t.dataset.toggle) : open.add(t.dataset.toggle); render(); }
  if (t.dataset.del) { await api('DELETE', `/api/comments/${t.dataset.del}`); render(); }
});
document.addEventListener('submit', async e => {
  if (!e.target.dataset.post) return;
  e.preventDefault();
  await api('POST', `/api/posts/${e.target.dataset.post}/comments`, Object.fromEntries(new FormData(e.target)));
  document.activeElement.blur(); render();
});
render(); setInterval(() => render().catch(() => {}), 1000);
)JS";
  return script;
}

}  // namespace herald::services
