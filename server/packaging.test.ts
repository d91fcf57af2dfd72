import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseConfig } from './config/config.ts';
import { configSchema } from './config/schema.ts';

/**
 * The Dockerfile read as text and held to the repo it packages. There is no
 * Docker engine where these run, so this is the part of "does the image work"
 * that can be checked without one: the base image matches the pinned
 * Playwright, the runtime is locked down, and every path it names is real.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PLAYWRIGHT_IMAGE = 'mcr.microsoft.com/playwright';
const INITS = ['dumb-init', 'tini'];
/** Loaded by path, not imported: runner.ts hands it to Playwright as a reporter. */
const STREAM_REPORTER = 'dist/server/runner/stream-reporter.js';

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}
interface Stage {
  readonly image: string;
  readonly name?: string;
  readonly instructions: Instruction[];
}
interface Copy {
  readonly from?: string;
  readonly sources: string[];
  readonly line: number;
}

const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');
const readJson = (file: string): any => JSON.parse(read(file));

/** Instructions with comment lines dropped and `\`-continued lines joined. */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const continued = line.endsWith('\\');
    const body = continued ? line.slice(0, -1) : line;
    pending = pending ? { text: `${pending.text} ${body}`, line: pending.line } : { text: body, line: index + 1 };
    if (continued) return;
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/s.exec(pending.text.trim()) ?? [];
    instructions.push({ keyword: keyword.toUpperCase(), args: args.trim(), line: pending.line });
    pending = undefined;
  });
  return instructions;
}

function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword !== 'FROM') {
      stages.at(-1)?.instructions.push(instruction);
      continue;
    }
    const [image = '', as, name] = operands(instruction.args);
    stages.push({ image, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
  }
  return stages;
}

/** Exec form (`["a", "b"]`) or whitespace-separated words. */
const words = (args: string): string[] => (args.startsWith('[') ? JSON.parse(args) : args.split(/\s+/).filter(Boolean));
const operands = (args: string): string[] => words(args).filter((w) => !w.startsWith('--'));
const flag = (args: string, name: string): string | undefined =>
  words(args).find((w) => w.startsWith(`--${name}=`))?.slice(name.length + 3);

/** The stage and the stages it is built FROM, nearest first. */
function lineage(stage: Stage, stages: Stage[]): Stage[] {
  const earlier = stages.slice(0, stages.indexOf(stage)).reverse();
  const parent = earlier.find((s) => s.name !== undefined && s.name === stage.image);
  return parent ? [stage, ...lineage(parent, stages)] : [stage];
}
const baseImage = (stage: Stage, stages: Stage[]): string => lineage(stage, stages).at(-1)!.image;
/** The arguments of the stage's last `keyword`, inherited from the stage it is built FROM if it has none. */
function lastArgs(stage: Stage, stages: Stage[], keyword: string): string | undefined {
  for (const s of lineage(stage, stages)) {
    const found = s.instructions.filter((i) => i.keyword === keyword).at(-1);
    if (found) return found.args;
  }
  return undefined;
}

function copiesIn(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY')
    .map((i) => ({ from: flag(i.args, 'from'), sources: operands(i.args).slice(0, -1), line: i.line }));
}

/** `ENV A=1 B=2` and the legacy `ENV A 1`. */
function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { args } of stage.instructions.filter((i) => i.keyword === 'ENV')) {
    const [first = '', ...rest] = args.split(/\s+/);
    const pairs = first.includes('=') ? [first, ...rest].map((w) => w.split(/=(.*)/s)) : [[first, rest.join(' ')]];
    for (const [key = '', value = ''] of pairs) env[key] = value.replace(/^"(.*)"$/, '$1');
  }
  return env;
}

/** `p` relative to `from` (by default the build context's root): `./tests/` → `tests`, `.` → ``. */
const relative = (p: string, from = '/'): string => path.posix.relative(from, path.posix.resolve(from, p));
const covers = (source: string, file: string): boolean => source === '' || file === source || file.startsWith(`${source}/`);

/** Plain patterns only (no globs, no `!`): enough to catch copying something the context leaves out. */
function dockerignored(): string[] {
  return read('.dockerignore')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => (line.startsWith('!') ? line : relative(line)));
}

describe('Dockerfile', () => {
  const stages = stagesOf(parseDockerfile(read('Dockerfile')));
  const runtime = stages.at(-1);
  assert.ok(runtime, 'the Dockerfile has no FROM');
  const workdir = lastArgs(runtime, stages, 'WORKDIR') ?? '/';
  const imageEnv = envOf(runtime);
  const shippedConfig = parseConfig(read('smoke.config.yaml'), path.join(ROOT, 'smoke.config.yaml'), imageEnv);

  it('builds every stage on the Playwright image of exactly the pinned @playwright/test', () => {
    const pinned = readJson('package.json').dependencies?.['@playwright/test'];
    assert.match(String(pinned), /^\d+\.\d+\.\d+$/, `package.json pins @playwright/test as "${pinned}": use an exact version, no ^ or ~`);
    const locked = readJson('package-lock.json').packages;
    const versions: [string, unknown][] = [
      ['@playwright/test in package.json', pinned],
      ['@playwright/test in package-lock.json', locked['node_modules/@playwright/test']?.version],
      // The browsers in the image are the builds playwright-core expects.
      ['playwright-core in package-lock.json', locked['node_modules/playwright-core']?.version],
    ];
    const playwrightStages = stages.filter((s) => s.image.startsWith(`${PLAYWRIGHT_IMAGE}:`));
    assert.ok(playwrightStages.length > 0, `no stage is FROM ${PLAYWRIGHT_IMAGE}:v<version>-noble`);
    for (const stage of playwrightStages) {
      const tagVersion = /:v(\d+\.\d+\.\d+)(-[a-z]+)?$/.exec(stage.image)?.[1];
      for (const [source, version] of versions) {
        assert.equal(tagVersion, version, `FROM ${stage.image} does not match ${source} (${version})`);
      }
    }
    for (const stage of stages) {
      const base = baseImage(stage, stages);
      assert.ok(base.startsWith(`${PLAYWRIGHT_IMAGE}:`), `stage ${stage.name ?? stage.image} is built on ${base}, not on ${PLAYWRIGHT_IMAGE}`);
    }
  });

  it('installs the runtime node_modules on the runtime base image, without dev dependencies', () => {
    const ranProdInstall = (stage: Stage) =>
      lineage(stage, stages).some((s) => s.instructions.some((i) => i.keyword === 'RUN' && /\bnpm ci\b.*--omit=dev/.test(i.args)));
    if (ranProdInstall(runtime)) return;
    const copy = copiesIn(runtime).find((c) => c.sources.some((s) => path.posix.basename(s) === 'node_modules'));
    assert.ok(copy?.from, 'the runtime stage neither runs `npm ci --omit=dev` nor copies node_modules --from a stage that did');
    const source = stages.find((s) => s.name === copy.from);
    assert.ok(source, `line ${copy.line} copies node_modules --from=${copy.from}, which is not a stage of this Dockerfile`);
    assert.ok(ranProdInstall(source), `stage ${copy.from} (node_modules) does not run \`npm ci --omit=dev\``);
    assert.equal(baseImage(source, stages), baseImage(runtime, stages), `stage ${copy.from} is on another base image: better-sqlite3's addon may not load`);
  });

  it('runs the service as a non-root USER', () => {
    const user = lastArgs(runtime, stages, 'USER');
    assert.ok(user, 'the runtime stage sets no USER, so the service and Chromium run as root');
    assert.ok(!['root', '0'].includes(user.split(':')[0]!), `the runtime stage runs as USER ${user}: use pwuser`);
  });

  it('starts node under an init that forwards signals and reaps Chromium', () => {
    const entrypoint = lastArgs(runtime, stages, 'ENTRYPOINT') ?? '';
    assert.ok(entrypoint.startsWith('['), `ENTRYPOINT ${entrypoint || '(none)'} must be exec form ["dumb-init", "--"]: the shell form ignores CMD`);
    const init = path.posix.basename(words(entrypoint)[0] ?? '');
    assert.ok(INITS.includes(init), `ENTRYPOINT starts ${init}, not one of ${INITS.join(', ')}: node would be PID 1`);
  });

  it('checks its health on /healthz', () => {
    const healthcheck = lastArgs(runtime, stages, 'HEALTHCHECK') ?? 'NONE';
    assert.doesNotMatch(healthcheck, /^NONE\b/i, 'the runtime stage has no HEALTHCHECK');
    assert.match(healthcheck, /\/healthz\b/, `the HEALTHCHECK does not request /healthz: ${healthcheck}`);
  });

  it('exposes the port the service listens on, on every interface', () => {
    const exposed = (lastArgs(runtime, stages, 'EXPOSE') ?? '').split(/\s+/).map((p) => Number(p.replace(/\/(tcp|udp)$/, '')));
    const healthPort = /127\.0\.0\.1:(\d+)\/healthz/.exec(lastArgs(runtime, stages, 'HEALTHCHECK') ?? '')?.[1];
    assert.ok(healthPort, 'the HEALTHCHECK requests no http://127.0.0.1:<port>/healthz');
    const defaultPort = configSchema.parse({ environments: { production: { baseURL: 'http://127.0.0.1:1' } } }).server.port;
    const ports: [string, number][] = [
      ['the default server.port in server/config/schema.ts', defaultPort],
      ['smoke.config.yaml with the image ENV', shippedConfig.server.port],
      ['the HEALTHCHECK URL', Number(healthPort)],
    ];
    for (const [source, port] of ports) {
      assert.ok(exposed.includes(port), `${source} is port ${port}, but EXPOSE says ${exposed.join(' ') || '(nothing)'}`);
    }
    assert.ok(['0.0.0.0', '::'].includes(shippedConfig.server.host), `smoke.config.yaml with the image ENV listens on ${shippedConfig.server.host}: unreachable from outside the container`);
  });

  it('runs a CMD whose entry file is compiled from a source file that exists', () => {
    const cmd = words(lastArgs(runtime, stages, 'CMD') ?? '');
    assert.equal(cmd[0], 'node', `CMD ${JSON.stringify(cmd)} does not start node`);
    const outDir = relative(readJson('tsconfig.json').compilerOptions.outDir);
    const entry = cmd.find((w) => w.endsWith('.js')) ?? '(none)';
    assert.ok(entry.startsWith(`${outDir}/`), `CMD runs ${entry}, which is not under the build's outDir ${outDir}/`);
    const source = entry.slice(outDir.length + 1).replace(/\.js$/, '.ts');
    assert.ok(existsSync(path.join(ROOT, source)), `CMD runs ${entry}, but its source ${source} does not exist`);
  });

  it('copies from the build context only paths that exist and are not .dockerignored', () => {
    const ignored = dockerignored().filter((p) => !/[*?[!]/.test(p));
    for (const copy of stages.flatMap(copiesIn).filter((c) => c.from === undefined)) {
      for (const source of copy.sources.map((s) => relative(s))) {
        assert.ok(existsSync(path.join(ROOT, source)), `Dockerfile line ${copy.line} copies ${source}, which does not exist in the repo`);
        const pattern = ignored.find((p) => covers(p, source));
        assert.equal(pattern, undefined, `Dockerfile line ${copy.line} copies ${source}, but .dockerignore excludes it (${pattern})`);
      }
    }
  });

  it('ships the files the service and its default suite load at run time', () => {
    const suiteConfig = relative(path.relative(ROOT, shippedConfig.suite.path));
    const suiteSource = read(suiteConfig);
    const testDir = /testDir:\s*['"]([^'"]+)['"]/.exec(suiteSource)?.[1] ?? '.';
    const suiteImports = [...suiteSource.matchAll(/from\s+['"](\.\.?\/[^'"]+)['"]/g)].map((m) => m[1]!);
    const cmdEntry = words(lastArgs(runtime, stages, 'CMD') ?? '').find((w) => w.endsWith('.js')) ?? '(none)';
    const needed = [
      relative(imageEnv.SMOKE_CONFIG ?? '(SMOKE_CONFIG unset)', workdir),
      'package.json',
      suiteConfig,
      relative(path.posix.join(path.posix.dirname(suiteConfig), testDir)),
      ...suiteImports.map((i) => relative(path.posix.join(path.posix.dirname(suiteConfig), i))),
      relative(cmdEntry),
      STREAM_REPORTER,
    ];
    const shipped = copiesIn(runtime).flatMap((c) => c.sources.map((s) => (c.from ? relative(s, workdir) : relative(s))));
    for (const file of needed) {
      assert.ok(shipped.some((s) => covers(s, file)), `the runtime stage does not COPY ${file} into ${workdir}`);
    }
  });

  it('ships the pages\' stylesheet and script where the compiled assets module reads them', () => {
    // tsc compiles server/pages/assets.ts to dist/server/pages/assets.js, which
    // reads ./assets/ beside itself; tsc copies no .css or .js sources there.
    const outDir = relative(readJson('tsconfig.json').compilerOptions.outDir);
    const copy = copiesIn(runtime).find((c) => c.from === undefined && c.sources.some((s) => relative(s) === 'server/pages/assets'));
    assert.ok(copy, 'the runtime stage does not COPY server/pages/assets');
    const instruction = runtime.instructions.find((i) => i.line === copy.line)!;
    const destination = relative(operands(instruction.args).at(-1)!, workdir);
    assert.equal(destination, `${outDir}/server/pages/assets`, `Dockerfile line ${copy.line} copies the assets to ${destination}`);
    for (const file of ['smoke.css', 'live.js']) assert.ok(existsSync(path.join(ROOT, 'server/pages/assets', file)), `server/pages/assets/${file} is missing`);
  });

  it('leaves node_modules and data out of the build context', () => {
    const patterns = dockerignored();
    for (const folder of ['node_modules', 'data']) {
      assert.ok(patterns.includes(folder), `.dockerignore does not exclude ${folder}`);
      assert.ok(!patterns.some((p) => p.startsWith(`!${folder}`)), `.dockerignore re-includes ${folder} with a ! pattern`);
    }
  });
});
