// Tutorial, lesson 3 (Automatic Restart): with restartWait, a download interrupted by a
// transient error (a dropped connection, a 503) starts again after that many seconds, resuming
// from what is on disk. Permanent errors (404, a file that already exists) are not retried:
// lastError says what happened.
//
//   node --import tsx examples/automatic-restart.ts [url]

import { Downloader } from '../src/index.js';

function onSizeChanged(downloader: Downloader): void {
  console.log('The file size is', downloader.size);
}

function onSpeedChanged(downloader: Downloader): void {
  console.log('The speed is', ...downloader.humanSpeed);
}

function onStateChanged(downloader: Downloader): void {
  console.log('The state changed to:', downloader.state);
  if (downloader.state === 'error') {
    const error = downloader.lastError;
    if (downloader.isRestarting) {
      console.log(
        `${error?.message}; restarting at ${downloader.restartTime?.toLocaleTimeString()}`,
      );
    } else {
      console.log(`${error?.message}; not worth retrying`);
      process.exitCode = 1;
    }
  }
}

// will download this
const url = process.argv[2] ?? 'https://www.python.org/static/img/python-logo.png';

// this is our downloader: on a transient error, wait 30 seconds and try again
const dl = new Downloader(url, { restartWait: 30 });

// listen to signals
dl.listen('size-changed', onSizeChanged);
dl.listen('speed-changed', onSpeedChanged);
dl.listen('state-changed', onStateChanged);

// start downloading and tell the user the download has started
dl.start();
console.log('Download has started.');
