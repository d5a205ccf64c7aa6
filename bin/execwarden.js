#!/usr/bin/env node
// Entry point installed as `execwarden`: loads the compiled CLI from dist/.
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
try {
  await import(main.href);
} catch (error) {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes(fileURLToPath(main))) {
    process.stderr.write('execwarden: not built yet: run `npm ci` (or `npm run build`) in the package directory\n');
    process.exit(70);
  }
  throw error;
}
