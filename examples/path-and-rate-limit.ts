// Tutorial, lessons 4 and 5 (Specify Path and Rate Limit, Additional Tuning): choose where the
// file goes, limit the speed (bytes per second), and tune the timeout and chunk size.
//
//   node --import tsx examples/path-and-rate-limit.ts [url] [path]
//
// `path` may also be a Writable stream (for example process.stdout): the bytes are then written
// to it in order, over one connection, and the stream is left open.

import { Downloader } from '../src/index.js';

function onSizeChanged(downloader: Downloader): void {
  console.log('The file size is', downloader.size);
}

function onSpeedChanged(downloader: Downloader): void {
  console.log('The speed is', ...downloader.humanSpeed);
}

function onStateChanged(downloader: Downloader): void {
  console.log('The state changed to:', downloader.state);
  if (downloader.state === 'error' && !downloader.isRestarting) process.exitCode = 1;
}

// will download this
const url = process.argv[2] ?? 'https://www.python.org/static/img/python-logo.png';

// this is our downloader
const dl = new Downloader(url, {
  path: process.argv[3] ?? 'logo.png', // the tutorial uses ~/Desktop/logo.png
  restartWait: 30,
  rateLimit: 2048, // 2 KiB/s
  timeout: 60, // seconds without a byte before the connection is dropped
  chunkSize: 1024, // bytes per write
});

// listen to signals
dl.listen('size-changed', onSizeChanged);
dl.listen('speed-changed', onSpeedChanged);
dl.listen('state-changed', onStateChanged);

// start downloading and tell the user the download has started
dl.start();
console.log('Download has started.');
