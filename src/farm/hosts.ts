// Politeness across the whole farm, kept in Redis: at most n downloads from one origin at once
// (a sorted set of leases per origin, each expiring unless its worker renews it, so a dead
// worker's slots come back by themselves), and an origin paused for every worker after a 429/503
// with Retry-After (a key that expires when the pause is over). Times are Redis's own (TIME), so
// the machines' clocks need not agree.

import type { RedisClient } from 'bullmq';

const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 1
end
return 0`;

/** Renews one lease (ARGV[2]) in its origin's set. */
const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[2])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1`;

const RELEASE = `return redis.call('ZREM', KEYS[1], ARGV[1])`;

/** Milliseconds the origin is paused for (0: not paused). */
const PAUSED = `
local ms = redis.call('PTTL', KEYS[1])
if ms < 0 then ms = 0 end
return ms`;

export interface HostLimitOptions {
  /** Key prefix, e.g. `bull:qget:qget`. */
  prefix: string;
  /** Most downloads from one origin at once over the farm; 0 = no limit. */
  perHost: number;
  /** Lease lifetime (ms): a worker that stops renewing loses its slot after this long. */
  leaseMs: number;
  /** This worker, to name its leases. */
  owner: string;
}

export class HostLimit {
  readonly #client: RedisClient;
  readonly #o: HostLimitOptions;
  /** Leases held here: member → origin's key. */
  readonly #held = new Map<string, string>();
  readonly #renew: ReturnType<typeof setInterval>;

  constructor(client: RedisClient, options: HostLimitOptions) {
    this.#client = client;
    this.#o = options;
    client.defineCommand('qgetAcquire', { numberOfKeys: 1, lua: ACQUIRE });
    client.defineCommand('qgetRelease', { numberOfKeys: 1, lua: RELEASE });
    client.defineCommand('qgetPaused', { numberOfKeys: 1, lua: PAUSED });
    client.defineCommand('qgetRenew1', { numberOfKeys: 1, lua: RENEW });
    this.#renew = setInterval(() => void this.#renewAll(), Math.max(200, options.leaseMs / 3));
    this.#renew.unref();
  }

  get perHost(): number {
    return this.#o.perHost;
  }

  /** Milliseconds before a download from `origin` may start (0: now). */
  async pausedFor(origin: string): Promise<number> {
    return Number(await this.#client.runCommand('qgetPaused', [this.#pauseKey(origin)]));
  }

  /** Pause `origin` for every worker for `ms` (a longer pause already set is kept). */
  async pause(origin: string, ms: number): Promise<void> {
    if (!(ms > 0)) return;
    const key = this.#pauseKey(origin);
    const left = Number(await this.#client.runCommand('qgetPaused', [key]));
    if (left < ms) await this.#client.set(key, String(Date.now()), { PX: Math.ceil(ms) });
  }

  /** Take a slot for `job` on `origin`; false when the farm has perHost downloads from it. */
  async acquire(origin: string, job: string): Promise<boolean> {
    if (this.#o.perHost <= 0) return true;
    const key = this.#leaseKey(origin);
    const member = `${this.#o.owner}:${job}`;
    const ok = await this.#client.runCommand('qgetAcquire', [
      key,
      member,
      this.#o.perHost,
      this.#o.leaseMs,
    ]);
    if (Number(ok) === 1) this.#held.set(member, key);
    return Number(ok) === 1;
  }

  async release(origin: string, job: string): Promise<void> {
    if (this.#o.perHost <= 0) return;
    const member = `${this.#o.owner}:${job}`;
    if (!this.#held.delete(member)) return;
    await this.#client.runCommand('qgetRelease', [this.#leaseKey(origin), member]).catch(() => {});
  }

  /** Stop renewing (the leases still held expire by themselves). */
  close(): void {
    clearInterval(this.#renew);
  }

  async #renewAll(): Promise<void> {
    for (const [member, key] of this.#held) {
      await this.#client.runCommand('qgetRenew1', [key, this.#o.leaseMs, member]).catch(() => {});
    }
  }

  #leaseKey(origin: string): string {
    return `${this.#o.prefix}:qget:host:${origin}`;
  }

  #pauseKey(origin: string): string {
    return `${this.#o.prefix}:qget:pause:${origin}`;
  }
}
