/**
 * What a process is running: executable, name, arguments, working directory. One image per
 * exec; a process that execs again keeps its old images as `process.previous`.
 *
 * Arguments are /proc/<pid>/cmdline split on NUL, the trailing NUL dropped and empty arguments
 * kept. Arguments are bytes, not text: an argument that is not valid UTF-8 is decoded with
 * U+FFFD replacement characters (so rules still see the readable part) and the image keeps the
 * exact original bytes as base64 (`cmdlineBase64`, written as `execwarden.process.cmdline_base64`
 * with `execwarden.process.args_lossy: true`). A cmdline longer than the capture cap is cut
 * there and flagged (`argsTruncated`, written as `execwarden.process.args_truncated: true`);
 * an incomplete UTF-8 sequence at the cut is dropped rather than counted as invalid.
 *
 * `name` follows Elastic Defend: the basename of the executable (comm is cut at 15 bytes and
 * can be set by the process), falling back to comm when exe is unreadable (kernel threads, a
 * process already gone).
 */
import { isUtf8 } from 'node:buffer';
import type { ProcSnapshot } from '../capture/raw-event.js';

export interface ProcessImage {
  executable: string | null;
  name: string | null;
  /** Null when cmdline could not be read. */
  args: string[] | null;
  /** args joined by single spaces (null with args). */
  commandLine: string | null;
  argsTruncated: boolean;
  /** Original cmdline bytes, only when some argument was not valid UTF-8. */
  cmdlineBase64: string | null;
  workingDirectory: string | null;
}

const DELETED_SUFFIX = ' (deleted)';

/** Basename of an executable path, without the kernel's " (deleted)" marker. */
export function executableName(executable: string): string {
  const path = executable.endsWith(DELETED_SUFFIX) ? executable.slice(0, -DELETED_SUFFIX.length) : executable;
  const slash = path.lastIndexOf('/');
  return slash >= 0 ? path.slice(slash + 1) : path;
}

export interface DecodedArgs {
  args: string[];
  lossy: boolean;
}

/** Splits cmdline bytes on NUL and decodes each argument (see the module header). */
export function decodeCmdline(bytes: Buffer, truncated: boolean): DecodedArgs {
  const end = !truncated && bytes.length > 0 && bytes[bytes.length - 1] === 0 ? bytes.length - 1 : bytes.length;
  if (end === 0) return { args: [], lossy: false };
  const args: string[] = [];
  let lossy = false;
  let start = 0;
  while (start <= end) {
    let stop = bytes.indexOf(0, start);
    if (stop < 0 || stop > end) stop = end;
    let piece = bytes.subarray(start, stop);
    if (truncated && stop === end) piece = dropIncompleteUtf8Tail(piece);
    if (!isUtf8(piece)) lossy = true;
    args.push(piece.toString('utf8'));
    start = stop + 1;
  }
  return { args, lossy };
}

/** Drops a multi-byte UTF-8 sequence that the cap cut in the middle. */
function dropIncompleteUtf8Tail(bytes: Buffer): Buffer {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back];
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needed > back ? bytes.subarray(0, bytes.length - back) : bytes;
  }
  return bytes;
}

export function imageFromSnapshot(snapshot: ProcSnapshot): ProcessImage {
  let args: string[] | null = null;
  let cmdlineBase64: string | null = null;
  if (snapshot.cmdline !== null) {
    const decoded = decodeCmdline(snapshot.cmdline, snapshot.cmdlineTruncated);
    args = decoded.args;
    if (decoded.lossy) cmdlineBase64 = snapshot.cmdline.toString('base64');
  }
  const executable = snapshot.exe;
  return {
    executable,
    name: executable ? executableName(executable) : snapshot.comm,
    args,
    commandLine: args === null ? null : args.join(' '),
    argsTruncated: snapshot.cmdlineTruncated,
    cmdlineBase64,
    workingDirectory: snapshot.cwd,
  };
}

/** An image known only by name (comm), e.g. after a comm event on a process we never saw. */
export function imageFromComm(comm: string | null): ProcessImage {
  return {
    executable: null,
    name: comm,
    args: null,
    commandLine: null,
    argsTruncated: false,
    cmdlineBase64: null,
    workingDirectory: null,
  };
}

/** True when two images describe the same program run (used by resync to spot missed execs). */
export function sameImage(a: ProcessImage, b: ProcessImage): boolean {
  return (
    a.executable === b.executable &&
    a.commandLine === b.commandLine &&
    a.cmdlineBase64 === b.cmdlineBase64
  );
}
