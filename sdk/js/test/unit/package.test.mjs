// The package as users get it: the exports map (ESM and CommonJS) and the shipped types.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

test('import and require both resolve through the exports map', async () => {
  const esm = await import('sparkaistream');
  const cjs = require('sparkaistream');
  for (const mod of [esm, cjs]) {
    assert.equal(typeof mod.SparkAI, 'function');
    assert.equal(mod.default, mod.SparkAI);
    assert.equal(new mod.RateLimitError('x', { status: 429 }).name, 'RateLimitError');
  }
  assert.match(require.resolve('sparkaistream'), /dist[\\/]cjs[\\/]index\.js$/);
});

test('zero runtime dependencies', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  assert.equal(pkg.dependencies, undefined);
  assert.equal(pkg.peerDependencies, undefined);
});

test('the shipped .d.ts files type-check a user program (and reject wrong ones)', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'test', 'types', 'tsconfig.json')], { stdio: 'pipe' });
});
