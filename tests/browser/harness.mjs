// The blog as real processes for the browser tests: brokerd, post-service,
// comment-service, notification-service and api-gateway, each on a loopback
// port the kernel picks (reported through --port-file), with data in a temp
// dir of its own. The binaries come from CTest's environment (HERALD_*).
// Every child is SIGKILLed when the test process exits, however it exits.

import {spawn} from 'node:child_process';
import {mkdtempSync, readFileSync, existsSync, openSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

const children = new Set();
process.on('exit', () => { for (const c of children) try { c.kill('SIGKILL'); } catch {} });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(1));

export const sleep = ms => new Promise(r => setTimeout(r, ms));

function binary(env) {
  const path = process.env[env];
  if (!path || !existsSync(path)) throw new Error(`${env} must name a built binary (CTest sets it)`);
  return path;
}

// One server process: started with --listen HOST:PORT --port-file FILE plus
// its own arguments; restartable on the same port and data.
class Server {
  constructor(name, path, args, root) {
    this.name = name;
    this.path = path;
    this.args = args;
    this.dir = join(root, name);
    this.port = 0;
    this.child = null;
  }

  get address() { return `127.0.0.1:${this.port}`; }

  async start() {
    const portFile = join(this.dir + '.port');
    rmSync(portFile, {force: true});
    const log = openSync(this.dir + '.log', 'a');
    const args = ['--listen', `127.0.0.1:${this.port}`, '--port-file', portFile,
                  ...this.args.map(a => a.replace('{dir}', this.dir))];
    this.child = spawn(this.path, args, {stdio: ['ignore', log, log]});
    children.add(this.child);
    const child = this.child;
    child.on('exit', () => children.delete(child));
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`${this.name} exited with ${child.exitCode}:\n${this.logTail()}`);
      if (existsSync(portFile)) {
        this.port = Number(readFileSync(portFile, 'utf8').trim());
        return this;
      }
      await sleep(20);
    }
    throw new Error(`${this.name} did not listen within 20 s:\n${this.logTail()}`);
  }

  // SIGKILL: a crash, no shutdown code runs.
  async kill() {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise(r => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  logTail(bytes = 3000) {
    try { const text = readFileSync(this.dir + '.log', 'utf8'); return text.slice(-bytes); } catch { return ''; }
  }
}

// Starts the whole blog. `gatewayArgs`: extra flags for the api-gateway.
export async function startBlog(gatewayArgs = []) {
  const root = mkdtempSync(join(tmpdir(), 'herald-browser-'));
  const broker = await new Server('brokerd', binary('HERALD_BROKERD'),
                                  ['--data-dir', '{dir}/data', '--log-level', 'info'], root).start();
  const service = (name, env, extra = []) =>
    new Server(name, binary(env), ['--data-dir', '{dir}/data', '--broker', broker.address, ...extra], root).start();
  const posts = await service('post-service', 'HERALD_POST_SERVICE');
  const comments = await service('comment-service', 'HERALD_COMMENT_SERVICE', ['--post-service', posts.address]);
  const notifications = await service('notification-service', 'HERALD_NOTIFICATION_SERVICE');
  const gateway = await new Server('api-gateway', binary('HERALD_API_GATEWAY'), [
    '--broker', broker.address, '--post-service', posts.address, '--comment-service', comments.address,
    '--notification-service', notifications.address, ...gatewayArgs], root).start();
  const all = [broker, posts, comments, notifications, gateway];
  return {
    broker, posts, comments, notifications, gateway, root,
    url: path => `http://${gateway.address}${path}`,
    async stop() {
      for (const s of all.reverse()) await s.kill();
      rmSync(root, {recursive: true, force: true});
    },
    logs() { return all.map(s => `--- ${s.name}\n${s.logTail()}`).join('\n'); },
  };
}

// Waits until `pred` (async) holds, polling; throws with `what` after `timeoutMs`.
export async function eventually(what, pred, timeoutMs = 15000, stepMs = 50) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(stepMs);
  }
}
