// Real proxies for the tests: squid (HTTP proxy, CONNECT, Basic proxy auth through
// basic_ncsa_auth) and dante (SOCKS5), each on a free loopback port with its config and logs in a
// temp folder. A proxy that cannot start fails the test (the error says which package to install).

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export interface RunningProxy {
  port: number;
  /** `http://127.0.0.1:port` or `socks5://127.0.0.1:port`, without credentials. */
  url: string;
  /** The proxy's own log (squid's access.log, dante's logoutput). */
  log(): Promise<string>;
  close(): Promise<void>;
}

/** A free loopback port (bound, then closed). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves once `port` accepts connections; rejects when the process ends or after `ms`. */
async function waitForPort(
  port: number,
  child: ChildProcess,
  name: string,
  ms = 30_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `${name} exited (${code ?? signal})`;
  });
  child.once('error', (err) => {
    exited = `${name} could not start: ${err.message}`;
  });
  for (;;) {
    if (exited) throw new Error(exited);
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`${name} did not listen on ${port} in ${ms} ms`);
    // A readiness poll (the daemon writes no event we can wait on).
    await delay(50);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // TERM: dante's main process then ends the children it forked.
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** An htpasswd line (apr1 / MD5-crypt is what basic_ncsa_auth reads; openssl makes it). */
async function htpasswdLine(user: string, password: string): Promise<string> {
  const child = spawn('openssl', ['passwd', '-apr1', '-stdin'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  child.stdin.end(`${password}\n`);
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error('openssl passwd -apr1 failed');
  return `${user}:${out.trim()}\n`;
}

export interface SquidOptions {
  /** Require Basic proxy auth with these credentials. */
  auth?: { user: string; password: string };
  /** Refuse every CONNECT (403). */
  denyConnect?: boolean;
  /** Clients talk TLS to squid itself (an https:// proxy), with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
}

/** squid on a free loopback port: no cache, an access log with bytes, optional Basic auth. */
export async function startSquid(options: SquidOptions = {}): Promise<RunningProxy> {
  // The free port may be taken again before squid binds it (by a server of another test, or by
  // another squid started at once): then what answers on it is not this squid, whose bind
  // failed. Each squid names itself, and a port that answers with another name is tried anew.
  for (let attempt = 1; ; attempt++) {
    const proxy = await launchSquid(options);
    if (proxy) return proxy;
    if (attempt === 3)
      throw new Error('squid: three free ports in a row were taken before it bound them');
  }
}

/** One squid on a free port; undefined when something else answers there. */
async function launchSquid(options: SquidOptions): Promise<RunningProxy | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'qget-squid-'));
  // squid drops root to cache_effective_user: the folder must be writable for it.
  await chmod(dir, 0o777);
  const port = await freePort();
  const name = `qget-squid-${randomBytes(6).toString('hex')}`;
  const access = join(dir, 'access.log');
  let listen = `http_port 127.0.0.1:${port}`;
  if (options.tls) {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    await writeFile(cert, options.tls.cert, { mode: 0o644 });
    await writeFile(key, options.tls.key, { mode: 0o644 });
    listen = `https_port 127.0.0.1:${port} tls-cert=${cert} tls-key=${key}`;
  }
  const lines = [
    listen,
    `visible_hostname ${name}`,
    `pid_filename ${join(dir, 'squid.pid')}`,
    `cache_log ${join(dir, 'cache.log')}`,
    `coredump_dir ${dir}`,
    'logformat qget %>a %rm %ru %>Hs %<st',
    `access_log stdio:${access} qget`,
    'cache deny all',
    'cache_mem 0 MB',
    'shutdown_lifetime 0 seconds',
    'pinger_enable off',
    'netdb_filename none',
    'acl localnet src 127.0.0.1/32',
  ];
  if (process.getuid?.() === 0) lines.push('cache_effective_user proxy');
  if (options.denyConnect) lines.push('acl CONNECT method CONNECT', 'http_access deny CONNECT');
  if (options.auth) {
    const passwd = join(dir, 'passwd');
    await writeFile(passwd, await htpasswdLine(options.auth.user, options.auth.password));
    await chmod(passwd, 0o644);
    lines.push(
      `auth_param basic program /usr/lib/squid/basic_ncsa_auth ${passwd}`,
      'auth_param basic realm qget-test',
      'acl users proxy_auth REQUIRED',
      'http_access allow localnet users',
    );
  } else {
    lines.push('http_access allow localnet');
  }
  lines.push('http_access deny all');
  const conf = join(dir, 'squid.conf');
  await writeFile(conf, `${lines.join('\n')}\n`);
  await writeFile(access, '');
  await chmod(access, 0o666);
  const child = spawn('squid', ['-N', '-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  try {
    await waitForPort(port, child, 'squid (Debian package squid)');
  } catch (err) {
    await stop(child);
    const cache = await readFile(join(dir, 'cache.log'), 'utf8').catch(() => '');
    throw new Error(`${(err as Error).message}\n${stderr}\n${cache.slice(-2000)}`);
  }
  if (!(await answersAs(port, options.tls !== undefined, name))) {
    await stop(child);
    await rm(dir, { recursive: true, force: true });
    return undefined;
  }
  return {
    port,
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    log: () => readFile(access, 'utf8'),
    close: async () => {
      await stop(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Whether the proxy on `port` is the squid named `name`: its answer to a request it cannot serve
 * (an error page, with `X-Squid-Error` and its visible_hostname) names it.
 */
async function answersAs(port: number, tls: boolean, name: string): Promise<boolean> {
  const socket = tls
    ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false })
    : connect({ host: '127.0.0.1', port });
  socket.setTimeout(10_000, () => socket.destroy());
  socket.once(tls ? 'secureConnect' : 'connect', () => {
    socket.write('GET / HTTP/1.0\r\n\r\n');
  });
  let text = '';
  socket.on('data', (d: Buffer) => {
    text += d.toString('latin1');
  });
  await new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.once('error', () => resolve());
  });
  return text.includes(name);
}

/** Whether process `pid` holds the socket listening on 127.0.0.1:`port` (Linux's /proc). */
async function listensOn(pid: number, port: number): Promise<boolean> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const line of (await readFile('/proc/net/tcp', 'utf8')).split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // local address, state 0A (LISTEN), inode
    if (f[1]?.endsWith(hex) && f[3] === '0A' && f[9]) inodes.add(f[9]);
  }
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
    if (inode !== undefined && inodes.has(inode)) return true;
  }
  return false;
}

/** dante (danted) as a SOCKS5 server on a free loopback port, logging each session's bytes. */
export async function startDante(): Promise<RunningProxy> {
  // As with squid: the free port may be taken before danted binds it; then what answers there
  // is not danted's socket (checked in /proc), and another port is tried.
  for (let attempt = 1; ; attempt++) {
    const proxy = await launchDante();
    if (proxy) return proxy;
    if (attempt === 3) {
      throw new Error('danted: three free ports in a row were taken before it bound them');
    }
  }
}

async function launchDante(): Promise<RunningProxy | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'qget-dante-'));
  await chmod(dir, 0o777);
  const port = await freePort();
  const logFile = join(dir, `danted-${randomBytes(4).toString('hex')}.log`);
  const lines = [
    `logoutput: ${logFile}`,
    `internal: 127.0.0.1 port = ${port}`,
    'external: 127.0.0.1',
    'socksmethod: none',
    'clientmethod: none',
  ];
  if (process.getuid?.() === 0) lines.push('user.privileged: root', 'user.unprivileged: nobody');
  lines.push(
    'client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 log: connect disconnect error }',
    'socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 log: connect disconnect error }',
  );
  const conf = join(dir, 'danted.conf');
  await writeFile(conf, `${lines.join('\n')}\n`);
  await writeFile(logFile, '');
  await chmod(logFile, 0o666);
  const child = spawn('danted', ['-f', conf, '-p', join(dir, 'danted.pid')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  try {
    await waitForPort(port, child, 'danted (Debian package dante-server)');
  } catch (err) {
    await stop(child);
    throw new Error(`${(err as Error).message}\n${stderr}`);
  }
  if (child.pid === undefined || !(await listensOn(child.pid, port))) {
    await stop(child);
    await rm(dir, { recursive: true, force: true });
    return undefined;
  }
  return {
    port,
    url: `socks5://127.0.0.1:${port}`,
    log: () => readFile(logFile, 'utf8'),
    close: async () => {
      await stop(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
