/**
 * `npm run bench`: every benchmark section in one run, each printing its own figures beside its
 * targets. Sections that need the kernel (capture, live path) need root; the engine section runs
 * anywhere. SECTIONS=engine,capture,latency,hostile picks some.
 */
import { runCaptureBench } from './capture.js';
import { runEngineBench } from './engine.js';
import { runHostileBench } from './hostile.js';
import { runLatencyBench } from './latency.js';

const sections: Record<string, () => Promise<unknown>> = {
  engine: () => runEngineBench(),
  capture: () => runCaptureBench(),
  latency: () => runLatencyBench(),
  hostile: () => runHostileBench(),
};

const wanted = (process.env.SECTIONS ?? Object.keys(sections).join(',')).split(',').map((s) => s.trim()).filter(Boolean);
const isRoot = process.getuid?.() === 0;
for (const name of wanted) {
  const run = sections[name];
  if (!run) {
    console.error(`unknown bench section '${name}' (have: ${Object.keys(sections).join(', ')})`);
    process.exitCode = 2;
    continue;
  }
  if (name !== 'engine' && !isRoot) {
    console.log(`\n${name}: skipped (needs root for the proc connector)`);
    continue;
  }
  console.log(`\n=== ${name} ===`);
  try {
    await run();
  } catch (error) {
    console.error(`${name}: failed:`, error);
    process.exitCode = 1;
  }
}
