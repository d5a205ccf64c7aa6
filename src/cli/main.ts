import { boundedExitMs, runCli } from './program.js';

process.exitCode = await runCli(process.argv, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
// After `run` has drained within its bound, nothing may keep the agent alive: a write that a
// stalled reader of stdout never takes would otherwise hold the process until SIGKILL. The timer
// does not itself keep the process alive, so a clean exit is not delayed.
const bound = boundedExitMs();
if (bound !== null) setTimeout(() => process.exit(), bound).unref();
