// Tutorial, lesson 1 (Download a File): start a download; start() returns at once and the
// download goes on until the file is complete or an error stops it.
//
//   node --import tsx examples/download-a-file.ts [url]

import { Downloader } from '../src/index.js';

// will download this
const url = process.argv[2] ?? 'https://www.python.org/static/img/python-logo.png';

// this is our downloader
const dl = new Downloader(url);

// not in the tutorial: a failed download makes the exit code non-zero
dl.on('state-changed', (d) => {
  if (d.state === 'error') process.exitCode = 1;
});

// start downloading and tell the user the download has started
dl.start();
console.log('Download has started.');

// end of the main program: Node keeps running until the download stops
