import { stdoutFailureStatus } from './exit.js';
import { boundedExitMs, runCli } from './program.js';

// A write to stdout that fails (its reader went away: `| head -1`) makes the stream emit 'error',
// which would end the process with a stack trace. A one-shot command ends there, quietly when the
// reader is gone (exit.ts says how). `run` goes on: its stdout sink counts the failure and stops
// writing, and the agent keeps its other outputs (see outputs/stdout-sink.ts); this listener only
// makes sure no stdout error can end the agent.
const command = process.argv.slice(2).find((arg) => !arg.startsWith('-'));
process.stdout.on('error', (error) => {
  if (command !== 'run') process.exit(stdoutFailureStatus(error, process.stderr));
});

process.exitCode = await runCli(process.argv, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
// After `run` has drained within its bound, nothing may keep the agent alive: a write that a
// stalled reader of stdout never takes would otherwise hold the process until SIGKILL. The timer
// does not itself keep the process alive, so a clean exit is not delayed.
const bound = boundedExitMs();
if (bound !== null) setTimeout(() => process.exit(), bound).unref();
