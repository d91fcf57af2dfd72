/*
 * What a browser, worker or runner fault looks like in Playwright's error
 * texts. Shared by the reporter (inside the Playwright runner, which sees an
 * attempt's structure) and the service (which folds attempts into results).
 */

/**
 * What starts a Playwright error line before its text: an optional error
 * class (`Error: `, `TargetClosedError: `) and an optional API call
 * (`page.reload: `, `browserType.launch: `). Anchoring every pattern behind
 * it, at the start of a line, keeps an assertion that merely quotes a page
 * ("Received: "Store closed"") from reading as a browser fault.
 */
const LINE_START = String.raw`^(?:[A-Za-z]*Error: )?(?:[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+: )?`;
const line = (pattern: string): RegExp => new RegExp(LINE_START + pattern, 'm');

/** Fixtures that own the browser: their setup failing says nothing about the page. */
export const BROWSER_FIXTURES: readonly string[] = Object.freeze([
  'playwright',
  'browser',
  '_browserOptions',
  'context',
  '_contextFactory',
  '_setupContextOptions',
  'page',
]);
const BROWSER_FIXTURE_TITLES = BROWSER_FIXTURES.map((f) => `"${f}"`).join('|');

/**
 * Error texts that say the browser or the runner broke rather than the page
 * under test: the attempt could not be run, which is the service's problem to
 * fix and never evidence against a deploy. Texts as Playwright 1.65 writes
 * them (older wordings kept, since teams pin their own @playwright/test).
 */
export const INFRASTRUCTURE_ERRORS: readonly { readonly fault: string; readonly pattern: RegExp }[] = Object.freeze([
  // The browser process went away under the flow (killed, OOM, crashed):
  // every pending call fails with TargetClosedError; older releases said
  // "Target closed", "Browser has been closed" or "browser has disconnected".
  { fault: 'the browser closed under the flow', pattern: line('Target page, context or browser has been closed') },
  { fault: 'the browser closed under the flow', pattern: line(String.raw`Target closed\b`) },
  { fault: 'the browser closed under the flow', pattern: line('Browser has been closed') },
  { fault: 'the browser closed under the flow', pattern: line('(?:Browser|browser has) disconnected') },
  { fault: 'the browser closed under the flow', pattern: line('Browser closed unexpectedly') },
  // Playwright appends the browser's launch log only once the browser process has exited.
  { fault: 'the browser process exited', pattern: /^Browser logs:\s*\n\s*<launching> /m },
  // The renderer or the whole browser crashed.
  { fault: 'the browser crashed', pattern: line(String.raw`(?:Target|Page) crashed\b`) },
  // The Playwright worker running the flow died (OOM killer, SIGKILL, native crash).
  { fault: 'the worker process exited unexpectedly', pattern: line(String.raw`worker process exited unexpectedly\b`) },
  // The attempt ran out of time before the test body began: launching the browser or opening the page hung.
  {
    fault: 'setting up the browser timed out',
    pattern: line(String.raw`Test timeout of \d+ms exceeded while setting up (?:${BROWSER_FIXTURE_TITLES})`),
  },
  {
    fault: 'setting up the browser timed out',
    pattern: line(String.raw`Fixture (?:${BROWSER_FIXTURE_TITLES}) timeout of \d+ms exceeded during setup`),
  },
  // The browser could not be started or connected to at all.
  { fault: 'the browser could not be launched', pattern: line(String.raw`browserType\.(?:launch|launchPersistentContext|connect|connectOverCDP)\b`) },
  { fault: 'the browser could not be launched', pattern: line("Executable doesn't exist at ") },
  { fault: 'the browser could not be launched', pattern: line(String.raw`Failed to launch\b`) },
  // Playwright's own bugs and its wire to the browser: nothing the page controls. Only
  // Playwright's own wordings of "Internal error": a server's 500 body quoted in a custom
  // assertion message ("Error: Internal error") is the page's.
  { fault: 'Playwright failed internally', pattern: line(String.raw`Internal error(?:, unexpected response type|: (?:unexpected|duplicate runnable|step |fixture integrity))`) },
  { fault: 'the connection to the browser failed', pattern: line(String.raw`Protocol error \(`) },
  { fault: 'the connection to the browser failed', pattern: line(String.raw`Connection closed\b`) },
  { fault: 'the connection to the browser failed', pattern: line(String.raw`WebSocket error: .*\bECONNRESET\b`) },
]);

const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** Why an error text shows a browser or runner fault, or undefined when it reads as the page's own failure. */
export function infrastructureFault(error: string): string | undefined {
  const text = stripAnsi(error);
  return INFRASTRUCTURE_ERRORS.find(({ pattern }) => pattern.test(text))?.fault;
}
