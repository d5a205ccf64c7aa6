import { describe, expect, it } from 'vitest';
import { compileFieldReader, fieldSlot } from '../../src/eql/field-access.js';

describe('field reader fallback to dotted keys', () => {
  const read = (path: string, event: Record<string, unknown>) => compileFieldReader(path.split('.'))(event);

  it('finds dotted keys at any level, and only there, event after event', () => {
    const nested = { process: { parent: { name: 'bash' } } };
    const mixed = { process: { 'parent.name': 'sh', thread: { id: 1 } }, host: { 'os.type': 'linux' } };
    const flat = { 'process.thread.capabilities.effective': ['CAP_SYS_ADMIN'] };
    for (let round = 0; round < 2; round++) {
      expect(read('process.parent.name', nested)).toBe('bash');
      expect(read('process.parent.name', mixed)).toBe('sh');
      expect(read('host.os.type', mixed)).toBe('linux');
      expect(read('process.thread.capabilities.effective', mixed)).toBeNull();
      expect(read('process.thread.capabilities.effective', flat)).toBe('CAP_SYS_ADMIN');
      expect(read('process.thread.capabilities.effective', nested)).toBeNull();
    }
  });

  it('reads the same nested object afresh in another event that shares it', () => {
    const shared = { name: 'x' };
    const first = { process: shared, 'process.pid': 1 };
    const second = { process: shared };
    expect(fieldSlot(['process', 'pid']).read(first)).toBe(1);
    expect(fieldSlot(['process', 'pid']).read(second)).toBeNull();
    expect(fieldSlot(['process', 'name']).read(second)).toBe('x');
  });
});
