// Types for the parts of aria2.js (the `aria2` npm package, plain JavaScript) the tests use,
// from its README.

declare module 'aria2' {
  import { EventEmitter } from 'node:events';

  interface Aria2Options {
    host?: string;
    port?: number;
    secure?: boolean;
    secret?: string;
    path?: string;
  }

  class Aria2 extends EventEmitter {
    constructor(options?: Aria2Options);
    open(): Promise<void>;
    close(): Promise<void>;
    call(method: string, ...params: unknown[]): Promise<unknown>;
    multicall(calls: unknown[][]): Promise<unknown[]>;
    batch(calls: unknown[][]): Promise<Promise<unknown>[]>;
    listNotifications(): Promise<string[]>;
    listMethods(): Promise<string[]>;
  }

  export default Aria2;
}
