// The blog as a reader and a writer use it, in the system's Chromium
// (puppeteer-core, no browser download) against real processes
// (harness.mjs). The scenarios run in order on one blog, each a
// step of its own: two visitors, alice (page A) and bob (page B), in
// separate browser contexts, so each has their own localStorage.
// Screenshots go to $HERALD_BROWSER_ARTIFACTS (CTest: build/browser-artifacts).

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {mkdirSync} from 'node:fs';
import {join} from 'node:path';
import puppeteer from 'puppeteer-core';

import {startBlog, eventually} from './harness.mjs';

const artifacts = process.env.HERALD_BROWSER_ARTIFACTS || 'browser-artifacts';
mkdirSync(artifacts, {recursive: true});
const TITLE = 'Hello <b>Herald</b>';
const WAIT = {timeout: 10000};
// A second, as the issue asks; more where the processes run under a
// sanitizer, several times slower (HERALD_LIVE_BOUND_MS, set by CMake).
const LIVE_BOUND_MS = Number(process.env.HERALD_LIVE_BOUND_MS || 1000);

let blog, browser, alice, bob, post;

async function visitor(name) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({width: 900, height: 900});
  page.on('pageerror', e => console.error(`[${name}] page error: ${e.message}`));
  page.on('console', m => { if (m.type() === 'error') console.error(`[${name}] console: ${m.text()}`); });
  return page;
}

const text = (page, selector) => page.$eval(selector, el => el.textContent);
const bannerText = page => page.$eval('#banner', b => (b.hidden ? '' : b.textContent));
async function api(path) {
  const r = await fetch(blog.url(path));
  return r.json();
}

before(async () => {
  blog = await startBlog(['--post-burst', '2', '--posts-per-minute', '1', '--health-interval-ms', '250']);
  browser = await puppeteer.launch({
    executablePath: process.env.HERALD_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  alice = await visitor('alice');
  bob = await visitor('bob');
});

after(async () => {
  await browser?.close();
  if (process.exitCode) console.error(blog?.logs());
  await blog?.stop();
});

test('1. a post is published from the form, and the page has no inline script', async () => {
  const response = await alice.goto(blog.url('/'));
  const csp = response.headers()['content-security-policy'];
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.equal(await alice.$$eval('script:not([src])', s => s.length), 0);
  await alice.waitForSelector('#new-post', WAIT);
  // Every input has a label.
  assert.deepEqual(await alice.$$eval('input, textarea', els => els.filter(e => !e.labels.length).map(e => e.id)), []);
  await alice.type('#p-author', 'alice');
  await alice.type('#p-title', TITLE);
  await alice.type('#p-content', 'Durable events,\ncarried to the reader.');
  // A double click publishes once: the button is disabled while its request runs.
  await alice.$eval('#new-post button', b => { b.click(); b.click(); });
  await alice.waitForSelector('.card h2 a', WAIT);
  assert.equal(await text(alice, '.card h2 a'), TITLE);  // shown as text, not markup
  assert.equal(await alice.$$eval('.card', cs => cs.length), 1);
  const posts = await api('/api/posts');
  assert.equal(posts.length, 1);
  post = posts[0];
  assert.match(await text(alice, '.card time'), /just now/);
  assert.ok((await alice.$eval('.card time', t => t.title)).length > 0);  // the full time on hover
});

test('red team: "N comments" opens the comment list and closes it again', async () => {
  const toggle = `[data-toggle="${post.id}"]`;
  await alice.click(toggle);
  await alice.waitForSelector(`[data-area="${post.id}"]:not([hidden]) form.comment`, WAIT);
  assert.equal(await alice.$eval(toggle, t => t.getAttribute('aria-expanded')), 'true');
  await alice.waitForFunction(id => document.querySelector(`[data-list="${id}"]`).textContent.includes('No comments yet'),
                              WAIT, post.id);
  await alice.click(toggle);
  assert.equal(await alice.$eval(`[data-area="${post.id}"]`, a => a.hidden), true);
  await alice.click(toggle);  // open again for the next steps
  await alice.waitForSelector(`[data-area="${post.id}"]:not([hidden])`, WAIT);
});

test('2. the post opens in a second page, whole', async () => {
  await bob.goto(blog.url(`/posts/${post.id}`));
  await bob.waitForSelector('article.post .post-body', WAIT);
  assert.equal(await text(bob, 'article.post .post-body'), 'Durable events,\ncarried to the reader.');
  assert.equal(await text(bob, 'article.post h2'), TITLE);
  assert.equal(await text(bob, `[data-count="${post.id}"]`), '0 comments');
  await bob.evaluate(() => { window.notReloaded = true; });
  await bob.screenshot({path: join(artifacts, 'post-view-empty.png'), fullPage: true});
});

test('3. a comment in the first page moves the count in the second within a second, with no reload', async () => {
  const form = `form.comment[data-post="${post.id}"]`;
  await alice.type(`${form} textarea`, 'First, from the author.');
  await alice.click(`${form} button`);
  await alice.waitForFunction(id => document.querySelector(`[data-list="${id}"]`).textContent.includes('First, from'),
                              WAIT, post.id);
  const added = Date.now();
  await bob.waitForFunction(id => document.querySelector(`[data-count="${id}"]`).textContent === '1 comment',
                            {timeout: LIVE_BOUND_MS}, post.id);
  console.log(`count moved in the second page ${Date.now() - added} ms after the comment was stored`);
  assert.equal(await bob.evaluate(() => window.notReloaded), true);
  await bob.waitForFunction(() => document.querySelector('.comments').textContent.includes('First, from the author.'), WAIT);
  // The first page's card counts too.
  await alice.waitForFunction(id => document.querySelector(`[data-count="${id}"]`).textContent === '1 comment', WAIT, post.id);
});

test('4. an over-long comment is refused in bytes, with the message shown', async () => {
  const form = `form.comment[data-post="${post.id}"]`;
  await bob.type(`${form} input[name=author]`, 'bob');
  // 5,001 letters, 10,002 bytes: a maxlength of 10,000 characters would let it through.
  await bob.$eval(`${form} textarea`, t => { t.value = 'é'.repeat(5001); t.dispatchEvent(new Event('input', {bubbles: true})); });
  await bob.click(`${form} button`);
  await bob.waitForFunction(f => document.querySelector(`${f} .error`).textContent.includes('10,002 bytes'), WAIT, form);
  assert.match(await text(bob, `${form} .error`), /at most 10,000/);
  const comments = await api(`/api/posts/${post.id}/comments`);
  assert.equal(comments.length, 1);
  // The server's own refusal reaches the form as well: the post rate limit (burst 2).
  await alice.type('#p-title', 'Second');
  await alice.type('#p-content', 'Another one.');
  await alice.click('#new-post button');
  await alice.waitForFunction(() => document.querySelectorAll('.card').length === 2, WAIT);
  await alice.type('#p-title', 'Third');
  await alice.type('#p-content', 'One too many.');
  await alice.click('#new-post button');
  await alice.waitForFunction(() => document.querySelector('#new-post .error').textContent.includes('too many new posts'), WAIT);
  assert.equal((await api('/api/posts')).length, 2);
});

test('5 and 7. bob comments, alice is notified; alice deletes her own comment and is refused for bob\'s', async () => {
  const form = `form.comment[data-post="${post.id}"]`;
  await bob.$eval(`${form} textarea`, t => { t.value = ''; });
  await bob.type(`${form} textarea`, 'Nice post!');
  await bob.click(`${form} button`);
  await bob.waitForFunction(id => document.querySelector(`[data-count="${id}"]`).textContent === '2 comments', WAIT, post.id);
  // 7: the author's notification appears, live.
  await alice.waitForFunction(() => document.querySelector('#note-list').textContent.includes('bob commented on your post'),
                              WAIT);
  assert.match(await text(alice, '#note-list'), /Hello <b>Herald<\/b>/);  // escaped
  await alice.waitForFunction(id => document.querySelector(`[data-list="${id}"]`).textContent.includes('Nice post!'),
                              WAIT, post.id);
  await alice.screenshot({path: join(artifacts, 'main-page.png'), fullPage: true});
  // The README's picture: the same page, the refused post's draft cleared, narrower.
  await alice.$eval('#new-post', f => { f.reset(); f.querySelector('.error').textContent = ''; });
  await alice.$eval('#new-post .bytes', b => { b.textContent = ''; });
  await alice.setViewport({width: 640, height: 900});
  await alice.screenshot({path: join(artifacts, 'readme.png'), fullPage: true});
  await alice.setViewport({width: 900, height: 900});

  const mine = (await api(`/api/posts/${post.id}/comments`)).find(c => c.author === 'alice');
  const bobs = (await api(`/api/posts/${post.id}/comments`)).find(c => c.author === 'bob');
  // Cancelled at the confirmation: nothing is deleted.
  alice.once('dialog', d => d.dismiss());
  await alice.click(`[data-del="${mine.id}"]`);
  assert.equal((await api(`/api/posts/${post.id}/comments`)).length, 2);
  // Confirmed: her own goes.
  alice.once('dialog', d => d.accept());
  await alice.click(`[data-del="${mine.id}"]`);
  await alice.waitForFunction(id => !document.querySelector(`[data-comment="${id}"]`), WAIT, mine.id);
  await bob.waitForFunction(id => document.querySelector(`[data-count="${id}"]`).textContent === '1 comment', WAIT, post.id);
  // Bob's: refused, with the server's message, and still there.
  alice.once('dialog', d => d.accept());
  await alice.click(`[data-del="${bobs.id}"]`);
  await alice.waitForFunction(id => document.querySelector(`[data-comment="${id}"] .error`).textContent.includes(
      "only the comment's writer may delete it"), WAIT, bobs.id);
  assert.equal((await api(`/api/posts/${post.id}/comments`)).length, 1);
  await bob.screenshot({path: join(artifacts, 'post-view.png'), fullPage: true});
});

test('6. with the post-service killed the page shows a banner, and recovers by itself', async () => {
  await blog.posts.kill();
  await alice.waitForFunction(() => !document.querySelector('#banner').hidden, WAIT);
  assert.match(await bannerText(alice), /post-service/);
  await bob.waitForFunction(() => document.querySelector('#banner').textContent.includes('post-service'), WAIT);
  // A page opened during the outage says so instead of "Loading…" for ever.
  const carol = await visitor('carol');
  await carol.goto(blog.url('/'));
  await carol.waitForFunction(() => document.querySelector('#posts .error'), WAIT);
  assert.match(await bannerText(carol), /post-service/);
  await carol.screenshot({path: join(artifacts, 'outage.png'), fullPage: true});

  await blog.posts.start();  // same port, same data
  for (const page of [alice, bob, carol])
    await page.waitForFunction(() => document.querySelector('#banner').hidden, WAIT);
  await carol.waitForFunction(() => document.querySelectorAll('.card').length === 2, WAIT);
  // Live again: a comment moves the count in every page.
  const form = `form.comment[data-post="${post.id}"]`;
  await bob.type(`${form} textarea`, 'Back again.');
  await bob.click(`${form} button`);
  await alice.waitForFunction(id => document.querySelector(`[data-count="${id}"]`).textContent === '2 comments', WAIT, post.id);
  await carol.waitForFunction(id => document.querySelector(`[data-count="${id}"]`).textContent === '2 comments', WAIT, post.id);
});

test('the page fits a phone', async () => {
  await alice.setViewport({width: 375, height: 800, isMobile: true});
  await alice.reload();
  await alice.waitForSelector('.card', WAIT);
  assert.ok(await alice.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
  await alice.screenshot({path: join(artifacts, 'phone.png'), fullPage: true});
});

test('eventually, every count equals the comments stored', async () => {
  await eventually('counts converge', async () => {
    const posts = await api('/api/posts');
    for (const p of posts) if ((await api(`/api/posts/${p.id}/comments`)).length !== p.comment_count) return false;
    return true;
  });
});
