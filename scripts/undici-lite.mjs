// What qget's command line uses of undici, without undici's index.js: that file also loads
// fetch, WebSocket, EventSource, the caches and the mock agents (and through them Node's own
// copy of undici), about 35 ms of start-up the command line never uses. The bundles
// (scripts/bundle-cli.mjs, scripts/build-exe.mjs) resolve `undici` to this file; the library in
// dist/ imports undici itself. Named exports, so an import this file lacks fails the bundling,
// and so does a change of undici's layout.
import Agent from 'undici/lib/dispatcher/agent.js';
import Client from 'undici/lib/dispatcher/client.js';
import Dispatcher from 'undici/lib/dispatcher/dispatcher.js';
import api from 'undici/lib/api/index.js';
import errors from 'undici/lib/core/errors.js';
import global from 'undici/lib/global.js';

// As undici's index.js does: request(), stream() … on every dispatcher.
Object.assign(Dispatcher.prototype, api);

export const { getGlobalDispatcher, setGlobalDispatcher } = global;
export { Agent, Client, Dispatcher, errors };
