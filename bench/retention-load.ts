import { Worker } from 'node:worker_threads';

/**
 * A person clicking around while the pass runs: GETs on a fixed cadence from
 * a worker thread, so a request is sent on time even when the service's
 * event loop is held up (a client on the same loop would wait with it and
 * hide the delay). Open loop: a slow answer does not delay the next request.
 */

export interface Answer {
  /** The phase the main thread had announced when the request was sent. */
  readonly phase: string;
  readonly path: string;
  /** Send to last byte, ms. */
  readonly ms: number;
  /** HTTP status, or 0 when the request failed. */
  readonly status: number;
}

export interface Load {
  /** Tags the requests sent from now on. */
  phase(name: string): void;
  /** Stops sending, waits for the answers still out (at most `drainMs`), and returns every answer. */
  stop(drainMs?: number): Promise<Answer[]>;
}

// Plain CommonJS, evaluated in the worker: no loader needed there.
const CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { url, paths, intervalMs } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const answers = [];
let phase = 'warm-up';
let outstanding = 0;
let sent = 0;
const tick = setInterval(() => {
  const path = paths[sent++ % paths.length];
  const tag = phase;
  const start = performance.now();
  outstanding++;
  const done = (status) => {
    outstanding--;
    answers.push({ phase: tag, path, ms: performance.now() - start, status });
  };
  http
    .get(url + path, { agent }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode));
      res.on('error', () => done(0));
    })
    .on('error', () => done(0));
}, intervalMs);
parentPort.on('message', (message) => {
  if (message.phase) phase = message.phase;
  if (message.stop) {
    clearInterval(tick);
    const deadline = performance.now() + message.drainMs;
    const finish = () => {
      if (outstanding > 0 && performance.now() < deadline) return setTimeout(finish, 5);
      agent.destroy();
      parentPort.postMessage(answers);
    };
    finish();
  }
});
`;

export function startLoad(url: string, paths: readonly string[], intervalMs: number): Load {
  const worker = new Worker(CLIENT, { eval: true, workerData: { url, paths, intervalMs } });
  const failed = new Promise<never>((_, reject) => worker.once('error', (err) => reject(new Error('the request worker failed', { cause: err }))));
  // Raced in stop(); until then an error must not count as unhandled.
  failed.catch(() => undefined);
  return {
    phase: (name) => worker.postMessage({ phase: name }),
    async stop(drainMs = 10_000) {
      const answers = new Promise<Answer[]>((resolve) => worker.once('message', resolve));
      worker.postMessage({ stop: true, drainMs });
      try {
        return await Promise.race([answers, failed]);
      } finally {
        await worker.terminate();
      }
    },
  };
}
