// Option checks on every surface (decision D1), in the spirit of p-queue's test/validation.ts:
// qget(), Downloader, Manager and the daemon reject a bad option with an InvalidOptionError
// (code ERR_INVALID_OPTION) whose message names the option, what it must be and what it got.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Agent } from 'undici';
import { Downloader, InvalidOptionError, InvalidUrlError, Manager, qget } from '../src/index.js';
import { startDaemon } from '../src/rpc/daemon.js';

const URL = 'http://127.0.0.1:9/x';

/** For assert.throws / assert.rejects: an InvalidOptionError with exactly this message. */
function invalid(message: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof InvalidOptionError, `${String(err)} is an InvalidOptionError`);
    assert.equal(err.code, 'ERR_INVALID_OPTION');
    assert.equal(err.name, 'InvalidOptionError');
    assert.equal(err.message, message);
    return true;
  };
}

describe('qget() options', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ timeout: -1 }, 'Expected `timeout` to be a number from 0 and up, got -1 (number)'],
    [{ timeout: '5' }, 'Expected `timeout` to be a number from 0 and up, got "5" (string)'],
    [
      { rateLimit: Number.NaN },
      'Expected `rateLimit` to be a number from 0 and up, got NaN (number)',
    ],
    [
      { maxConnections: 0 },
      'Expected `maxConnections` to be an integer from 1 and up, got 0 (number)',
    ],
    [
      { maxConnections: 2.5 },
      'Expected `maxConnections` to be an integer from 1 and up, got 2.5 (number)',
    ],
    [{ retries: -1 }, 'Expected `retries` to be an integer from 0 and up, got -1 (number)'],
    [{ chunkBytes: 1 }, 'Expected `chunkBytes` to be an integer from 1024 and up, got 1 (number)'],
    [
      { connectionTestSec: -0.5 },
      'Expected `connectionTestSec` to be a number from 0 and up, got -0.5 (number)',
    ],
    [{ maxPartMb: null }, 'Expected `maxPartMb` to be a number from 0 and up, got null'],
  ];
  for (const [options, message] of cases) {
    it(`rejects ${JSON.stringify(options) ?? String(options)}`, async () => {
      await assert.rejects(qget(URL, options), invalid(message));
    });
  }
});

describe("a dispatcher of the caller's own", () => {
  it('with caCertificate or insecure: an InvalidOptionError, not TLS silently ignored', async () => {
    const dispatcher = new Agent();
    try {
      await assert.rejects(
        qget(URL, { dispatcher, insecure: true }),
        invalid(
          "the insecure option applies to qget's own connections, not to a dispatcher given: set TLS on that dispatcher (undici's connect options) instead",
        ),
      );
      await assert.rejects(
        qget(URL, { dispatcher, caCertificate: '-----BEGIN CERTIFICATE-----' }),
        /the caCertificate option applies to qget's own connections/,
      );
    } finally {
      await dispatcher.close();
    }
  });
});

describe('Downloader options', () => {
  it('rejects bad constructor options with InvalidOptionError', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ timeout: -1 }, 'Expected `timeout` to be a number from 0 and up, got -1 (number)'],
      [{ rateLimit: -1 }, 'Expected `rateLimit` to be a number from 0 and up, got -1 (number)'],
      [{ updatePeriod: 0 }, 'Expected `updatePeriod` to be a number above 0, got 0 (number)'],
      [
        { restartWait: Number.POSITIVE_INFINITY },
        'Expected `restartWait` to be a finite number, got Infinity (number)',
      ],
      [{ chunkSize: 0 }, 'Expected `chunkSize` to be an integer from 1024 and up, got 0 (number)'],
      [
        { maxConnections: 0 },
        'Expected `maxConnections` to be an integer from 1 and up, got 0 (number)',
      ],
      [{ retries: -1 }, 'Expected `retries` to be an integer from 0 and up, got -1 (number)'],
      [
        { path: 42 },
        'Expected `path` to be a non-empty string or a Writable stream, got 42 (number)',
      ],
      [
        { path: '' },
        'Expected `path` to be a non-empty string or a Writable stream, got "" (string)',
      ],
    ];
    for (const [options, message] of cases) {
      assert.throws(() => new Downloader(URL, options as never), invalid(message));
    }
  });

  it('rejects a too small chunkSize with the minimum instead of raising it (D1)', () => {
    assert.throws(
      () => new Downloader(URL, { chunkSize: 1 }),
      invalid('Expected `chunkSize` to be an integer from 1024 and up, got 1 (number)'),
    );
    assert.equal(new Downloader(URL, { chunkSize: 1024 }).chunkSize, 1024);
    const d = new Downloader(URL);
    assert.throws(() => {
      d.chunkSize = 1023;
    }, invalid('Expected `chunkSize` to be an integer from 1024 and up, got 1023 (number)'));
  });

  it('checks the url, the setters and restart() the same way', () => {
    assert.throws(
      () => new Downloader(5 as never),
      invalid('Expected `url` to be a string, got 5 (number)'),
    );
    assert.throws(() => new Downloader('ftp://example.com/x'), InvalidUrlError);
    const d = new Downloader(URL);
    assert.throws(() => {
      d.rateLimit = -5;
    }, invalid('Expected `rateLimit` to be a number from 0 and up, got -5 (number)'));
    assert.throws(() => {
      d.timeout = Number.NaN;
    }, invalid('Expected `timeout` to be a number from 0 and up, got NaN (number)'));
    assert.throws(
      () => d.restart(Number.POSITIVE_INFINITY),
      invalid('Expected `wait` to be a finite number, got Infinity (number)'),
    );
  });
});

describe('Manager options', () => {
  it('rejects bad options, setters and add() arguments with InvalidOptionError', () => {
    const cases: [unknown, string][] = [
      [
        { maxRunning: -1 },
        'Expected `maxRunning` to be an integer from 0 and up (0 = no limit), got -1 (number)',
      ],
      [{ rateLimit: -1 }, 'Expected `rateLimit` to be a number from 0 and up, got -1 (number)'],
      [
        { restartWait: Number.NaN },
        'Expected `restartWait` to be a finite number, got NaN (number)',
      ],
      [{ updatePeriod: -1 }, 'Expected `updatePeriod` to be a number above 0, got -1 (number)'],
      [{ downloadOptions: 5 }, 'Expected `downloadOptions` to be an object, got 5 (number)'],
      [null, 'Expected `options` to be an object, got null'],
    ];
    for (const [options, message] of cases) {
      assert.throws(() => new Manager(options as never), invalid(message));
    }
    const m = new Manager();
    assert.throws(() => {
      m.maxRunning = 1.5;
    }, invalid(
      'Expected `maxRunning` to be an integer from 0 and up (0 = no limit), got 1.5 (number)',
    ));
    assert.throws(
      () => m.add(42 as never),
      invalid('Expected `download` to be a URL or a Downloader, got 42 (number)'),
    );
  });
});

describe("a Manager's downloadOptions", () => {
  const maxConnections = (got: string) =>
    invalid(`Expected \`maxConnections\` to be an integer from 1 and up, got ${got}`);

  it('are checked by add() until they pass, then once per value set', () => {
    const m = new Manager({ downloadOptions: { maxConnections: 0 } });
    // A check that failed is made again: every add() of bad options throws.
    assert.throws(() => m.add(`${URL}/1`), maxConnections('0 (number)'));
    assert.throws(() => m.add(`${URL}/2`), maxConnections('0 (number)'));
    m.downloadOptions = { maxConnections: 2 };
    m.add(`${URL}/3`);
    m.add(`${URL}/4`);
    // New options are checked anew.
    m.downloadOptions = { maxConnections: 1.5 };
    assert.throws(() => m.add(`${URL}/5`), maxConnections('1.5 (number)'));
    // A download's own options are checked whatever the manager's.
    const own = { ...m.downloadOptions, maxConnections: -1 };
    assert.throws(() => m.add(new Downloader(`${URL}/6`, own)), maxConnections('-1 (number)'));
    assert.deepEqual(
      m.downloads.map((d) => d.url),
      [`${URL}/3`, `${URL}/4`],
    );
  });

  it('changed in an object they hold after the check fail the download at its start', async () => {
    const mirrors = ['http://127.0.0.1:9/m'];
    const m = new Manager({ downloadOptions: { mirrors } });
    m.add(`${URL}/1`);
    mirrors.push('ftp://127.0.0.1/m');
    const d = m.add(`${URL}/2`);
    d.start();
    await d.join();
    assert.equal(d.state, 'error');
    assert.equal(d.lastError?.code, 'ERR_INVALID_URL');
    assert.equal(d.lastError?.transient, false);
  });
});

describe('daemon options', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ port: -1 }, 'Expected `port` to be an integer from 0 and up, got -1 (number)'],
    [{ port: 70000 }, 'Expected `port` to be an integer from 0 to 65535, got 70000 (number)'],
    [
      { maxConcurrentDownloads: 0 },
      'Expected `maxConcurrentDownloads` to be an integer from 1 and up, got 0 (number)',
    ],
    [
      { maxOverallDownloadLimit: -1 },
      'Expected `maxOverallDownloadLimit` to be a number from 0 and up, got -1 (number)',
    ],
    [
      { maxRequestSize: 0 },
      'Expected `maxRequestSize` to be an integer from 1 and up, got 0 (number)',
    ],
    [
      { downloadOptions: { timeout: -1 } },
      'Expected `timeout` to be a number from 0 and up, got -1 (number)',
    ],
    [
      { downloadOptions: { chunkSize: 1 } },
      'Expected `chunkSize` to be an integer from 1024 and up, got 1 (number)',
    ],
  ];
  for (const [options, message] of cases) {
    it(`startDaemon rejects ${JSON.stringify(options)} before listening`, async () => {
      const outcome: Awaited<ReturnType<typeof startDaemon>> | Error = await startDaemon({
        ...options,
        port: options.port ?? 0,
      } as never).catch((err: Error) => err);
      if (!(outcome instanceof Error)) {
        await outcome.shutdown();
        assert.fail('the daemon started');
      }
      invalid(message)(outcome);
    });
  }
});
