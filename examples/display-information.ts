// Tutorial, lesson 2 (Display Download Information): listen to signals to show the size, the
// speed (every updatePeriod seconds while downloading) and the state.
//
//   node --import tsx examples/display-information.ts [url]

import { Downloader } from '../src/index.js';

function onSizeChanged(downloader: Downloader): void {
  console.log('The file size is', downloader.size);
}

function onSpeedChanged(downloader: Downloader): void {
  console.log('The speed is', ...downloader.humanSpeed);
}

function onStateChanged(downloader: Downloader, oldState: string): void {
  console.log('The state changed to:', downloader.state, `(was ${oldState})`);
  if (downloader.state === 'error') {
    console.log('Error:', downloader.lastError?.message);
    process.exitCode = 1;
  }
}

// will download this
const url = process.argv[2] ?? 'https://www.python.org/static/img/python-logo.png';

// this is our downloader
const dl = new Downloader(url);

// listen to signals
// print the size as soon as it is known
dl.listen('size-changed', onSizeChanged);

// print the speed periodically
dl.listen('speed-changed', onSpeedChanged);

// print the state
dl.listen('state-changed', onStateChanged);

// start downloading and tell the user the download has started
dl.start();
console.log('Download has started.');
