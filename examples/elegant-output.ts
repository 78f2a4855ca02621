// Tutorial, lesson 6 (Elegant Output): one callback for every signal, printing one line that is
// rewritten in place:
//
//   <state> | <size> | <downloaded> | <speed> [<progress bar>] <percentage>% <eta>
//
//   node --import tsx examples/elegant-output.ts [url] [path]

import { Downloader } from '../src/index.js';

/** Seconds as H:MM:SS (the tutorial leaves removing the fractions to the reader). */
function formatEta(seconds: number | null): string {
  if (seconds === null) return '--:--:--';
  const s = Math.round(seconds);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return `${Math.floor(s / 3600)}:${mm}:${ss}`;
}

function human([value, suffix]: [number, string]): string {
  return `${value.toFixed(2)} ${suffix}`;
}

function onAnythingChanged(downloader: Downloader): void {
  const state = downloader.state;
  const size = human(downloader.humanSize);
  const downloaded = human(downloader.humanDownloaded);
  const speed = human(downloader.humanSpeed);
  const bar = downloader.bar(10, '-');
  const percentage = Math.trunc(downloader.percentage);
  const eta = formatEta(downloader.eta);

  const text = `\r${state} | ${size} | ${downloaded} | ${speed} [${bar}] ${percentage}% ${eta}`;
  process.stdout.write(text.padEnd(79));
}

function onStateChanged(downloader: Downloader): void {
  onAnythingChanged(downloader);
  if (downloader.state === 'complete') process.stdout.write('\n');
  if (downloader.state === 'error' && !downloader.isRestarting) {
    process.stdout.write(`\n${downloader.lastError?.message}\n`);
    process.exitCode = 1;
  }
}

// will download this
const url = process.argv[2] ?? 'https://www.python.org/static/img/python-logo.png';

// this is our downloader
const dl = new Downloader(url, {
  path: process.argv[3] ?? 'logo.png',
  restartWait: 30,
  rateLimit: 2048,
  timeout: 60,
  chunkSize: 1024,
});

// listen to everything
dl.listen('size-changed', onAnythingChanged);
dl.listen('speed-changed', onAnythingChanged);
dl.listen('state-changed', onStateChanged);

// start downloading and tell the user the download has started
dl.start();
console.log('Download has started.');
