/**
 * Failures of the native reader that must end capture cleanly (an error the agent reports as
 * "capture stopped") or fail start() with a coded Error, never abort the process or spin a core.
 * Each is provoked for real: a throwing batch sink and a broken connector socket in the C++
 * harness (reader_harness.cc), exhausted descriptors and address space in a child Node process.
 * All subscribe to the proc connector, hence root.
 */
import { beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../support/require-root.js';
import { runWithAddon } from './native-child.js';
import { buildReaderHarness, runReaderHarness } from './reader-harness.js';

describeAsRoot('native reader failures end capture with an error', () => {
  let harness = '';
  beforeAll(async () => {
    harness = await buildReaderHarness();
  });

  /** The harness ran to its end (no std::terminate) and printed its result. */
  function survived(mode: string): Record<string, unknown> {
    const run = runReaderHarness(harness, mode);
    expect({ signal: run.signal, status: run.status, stderr: run.stderr }).toEqual({ signal: null, status: 0, stderr: '' });
    expect(run.result).not.toBeNull();
    return run.result!;
  }

  it('records an exception thrown by the batch sink, also by the last flush, instead of terminating', () => {
    const result = survived('sink-throws');
    expect(result.error).toBe('the sink refused the batch');
    // The last flush meets the same sink; the first failure stays the reported one.
    expect(result.after_stop).toBe('the sink refused the batch');
  });

  it('records an exception that is not a std::exception', () => {
    expect(survived('sink-throws-non-std').error).toMatch(/unknown|not a std::exception/);
  });

  it('records an exception from the last flush, on stop()', () => {
    const result = survived('sink-throws-on-stop');
    expect(result.before_stop).toBe('');
    expect(result.error).toBe('the sink failed on the last batch');
    expect(result.sink_calls).toBe(1);
  });

  it('ends the reader on POLLNVAL (connector socket closed) instead of spinning', () => {
    const result = survived('pollnval');
    expect(result.error).toMatch(/POLLNVAL/);
    expect(result.cpu_ms).toBeLessThan(150);
  });

  it('ends the reader on POLLHUP instead of spinning', () => {
    const result = survived('pollhup');
    expect(result.error).toMatch(/POLLHUP/);
    expect(result.cpu_ms).toBeLessThan(150);
  });
});

describeAsRoot('ProcMonitor.start() turns native failures into coded Errors', () => {
  it('when the reader cannot create its eventfd (EMFILE), and can start again afterwards', () => {
    // Two descriptors left: the connector's two sockets (execs, the rest) take them, the
    // reader's eventfd finds none.
    const run = runWithAddon(
      `
      const monitor = new addon.ProcMonitor({ realtime: false });
      const held = [];
      try { for (;;) held.push(fs.openSync('/dev/null', 'r')); } catch (e) { if (e.code !== 'EMFILE') throw e; }
      fs.closeSync(held.pop());
      fs.closeSync(held.pop());
      const result = {};
      try { monitor.start(() => {}); result.started = true; } catch (e) { Object.assign(result, { name: e.name, code: e.code, errno: e.errno, message: e.message }); }
      for (const fd of held) fs.closeSync(fd);
      try { monitor.start(() => {}); result.restarted = true; monitor.stop(); } catch (e) { result.restartError = e.code + ' ' + e.message; }
      console.log(JSON.stringify(result));
      `,
      { openFiles: 64 },
    );
    // The child also exits by itself: a failed start leaves no thread-safe function holding the loop.
    expect({ signal: run.signal, status: run.status }).toEqual({ signal: null, status: 0 });
    expect(run.result).toEqual({ name: 'Error', code: 'ESYSTEM', errno: 24, message: expect.stringMatching(/eventfd/), restarted: true });
  });

  it('when the reader thread cannot be created (no address space for its stack)', () => {
    const run = runWithAddon(`
      const monitor = new addon.ProcMonitor({ realtime: false, cmdlineMaxBytes: 4096 });
      const result = {};
      limitAddressSpace(4 * 1024 * 1024);
      try { monitor.start(() => {}); result.started = true; } catch (e) { Object.assign(result, { code: e.code, errno: e.errno }); }
      restoreAddressSpace();
      try { monitor.start(() => {}); result.restarted = true; monitor.stop(); } catch (e) { result.restartError = e.code + ' ' + e.message; }
      console.log(JSON.stringify(result));
    `);
    expect({ signal: run.signal, status: run.status }).toEqual({ signal: null, status: 0 });
    expect(run.result).toEqual({ code: 'ESYSTEM', errno: 11, restarted: true });
  });
});
