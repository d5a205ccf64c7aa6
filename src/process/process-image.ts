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
 * an incomplete UTF-8 sequence at the cut is dropped rather than counted as invalid. The reader
 * keeps the head and the end of a cut cmdline (the middle is what goes), so a payload placed after
 * padding is still in `args` (`argsCutAt` says where the middle went, written as
 * `execwarden.process.args_cut_at`). The rest is still counted, so `argsCount` (args_count) is
 * the real number of arguments, not the number kept.
 *
 * `name` follows Elastic Defend:
 * - a program: the basename of the executable as /proc/<pid>/exe resolves it, at full length
 *   (comm is cut at 15 bytes). Defend names a program after the resolved file: it reported
 *   `python3.10` for a `python3` symlink and `dash` for `sh linpeas.sh` (elastic/detection-rules
 *   issue #6637 and the test query of its fix, PR #6762); its rules name long binaries in full
 *   (`x86_64-linux-gnu-strings`, `linux-exploit-suggester-2.pl`).
 * - a script started through its `#!` line: the script's file name (`tool.sh`), which is what
 *   the kernel names the task at exec (comm, the basename of the path given to execve) and what
 *   Defend's behavior rules expect (`process.name like ("*.sh", "*.py")`, a script named
 *   `kworker…` matched on `process.parent.name`; table in detection-rules issue #6637). The kernel
 *   rewrites argv for a script to [interpreter, optional #! argument, script path, arguments…],
 *   so a comm that is neither a prefix of the executable's name nor argv[0]'s, but is the
 *   basename of argv[1] or argv[2] (or its 15-byte prefix), is a script's: the name is that
 *   basename in full. `executable` stays the interpreter /proc reports, and `args` keep the
 *   kernel's rewritten argv (Elastic's eBPF exec probe, elastic/ebpf Probe.bpf.c, reads the same
 *   rewritten argv from the new image). A comm read after the process renamed itself
 *   (`commRenamed`) is never used: a process cannot choose its name after exec.
 * - comm when exe is unreadable (kernel threads, a process already gone).
 *
 * A memfd executable (/proc/<pid>/exe is "/memfd:NAME (deleted)", fileless execution) gives
 * `memfdName` "memfd:NAME", the form Defend's behavior rules compare `process.Ext.memfd.name`
 * with ("memfd:doublemapper", "memfd:qemu-open"); an executable whose file was deleted after
 * the exec started (" (deleted)") is flagged `executableDeleted`. `executable` keeps the kernel's
 * text, suffix included, as Defend's rules expect (`process.executable : "*(deleted)*"`).
 *
 * `env` holds the allow-listed environment variables read at exec (see environment.ts).
 */
import { isUtf8 } from 'node:buffer';
import type { ProcSnapshot, StdioStream } from '../capture/raw-event.js';

export interface ProcessImage {
  executable: string | null;
  name: string | null;
  /** Null when cmdline could not be read. */
  args: string[] | null;
  /** args joined by single spaces (null with args). */
  commandLine: string | null;
  argsTruncated: boolean;
  /** The real number of arguments, also when argv was cut (null with args). */
  argsCount: number | null;
  /**
   * argv was cut in its middle: args[0..argsCutAt) are its head (the last one cut short) and
   * args[argsCutAt..] its end (the first one cut short); null when nothing was cut out.
   */
  argsCutAt: number | null;
  /** argsCount is a lower bound: counting the arguments past the cut stopped at its own cap. */
  argsCountLowerBound: boolean;
  /** Original cmdline bytes, only when some argument was not valid UTF-8. */
  cmdlineBase64: string | null;
  workingDirectory: string | null;
  /** Allow-listed "NAME=value" entries of environ at exec; null when not read. */
  env: string[] | null;
  envTruncated: boolean;
  /** "memfd:NAME" when the executable is a memfd (fileless execution). */
  memfdName: string | null;
  /** The executable's file was deleted (the kernel's " (deleted)" suffix). */
  executableDeleted: boolean;
  /** comm was read after the process renamed itself; the name comes from the executable. */
  commRenamed: boolean;
  /** fds 0-2 at exec, and the parent's at that moment (see stdio.ts); null when not read. */
  stdio: StdioStream[] | null;
  parentStdio: StdioStream[] | null;
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

/** Command lines up to this many bytes are decoded whole and split (decodeCmdline). */
const SPLIT_DECODE_MAX_BYTES = 2048;

/** Splits cmdline bytes on NUL and decodes each argument (see the module header). */
export function decodeCmdline(bytes: Buffer, truncated: boolean): DecodedArgs {
  const end = !truncated && bytes.length > 0 && bytes[bytes.length - 1] === 0 ? bytes.length - 1 : bytes.length;
  if (end === 0) return { args: [], lossy: false };
  // Whole, short and valid UTF-8 (nearly every command line): one decode, then a split. No
  // multi-byte sequence holds a 0 byte, so the pieces are what decoding each argument alone would
  // give. Only short ones: a piece of a split may keep the whole decoded string alive, and the
  // table keeps as little as 2 KiB of an image's arguments (compactImage).
  if (!truncated && end <= SPLIT_DECODE_MAX_BYTES) {
    const whole = end === bytes.length ? bytes : bytes.subarray(0, end);
    if (isUtf8(whole)) return { args: whole.toString('utf8').split('\0'), lossy: false };
  }
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

/** The kernel's task name is at most TASK_COMM_LEN - 1 bytes. */
const COMM_MAX_BYTES = 15;

function pathBase(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash >= 0 ? path.slice(slash + 1) : path;
}

/** comm is `name`, or the kernel's 15-byte cut of it. */
function commNames(comm: string, name: string): boolean {
  if (comm === name) return true;
  return Buffer.byteLength(comm) === COMM_MAX_BYTES && name.startsWith(comm);
}

/**
 * The script's file name when this exec ran a script through its #! line (see the module
 * header), else null.
 */
export function scriptName(comm: string | null, executableBase: string, args: readonly string[] | null): string | null {
  if (comm === null || comm === '' || args === null || commNames(comm, executableBase)) return null;
  if (args.length > 0 && commNames(comm, pathBase(args[0]))) return null;
  for (const index of [1, 2]) {
    const arg = args[index];
    if (arg === undefined) break;
    const base = pathBase(arg);
    if (base !== '' && commNames(comm, base)) return base;
  }
  return null;
}

/** "memfd:NAME" for a memfd executable ("/memfd:NAME (deleted)"), else null. */
export function memfdNameOf(executable: string | null): string | null {
  if (executable === null || !executable.startsWith('/memfd:')) return null;
  const path = executable.endsWith(DELETED_SUFFIX) ? executable.slice(0, -DELETED_SUFFIX.length) : executable;
  return path.slice(1);
}

/** Drops UTF-8 continuation bytes at the start: the cut took their lead byte. */
function dropIncompleteUtf8Head(bytes: Buffer): Buffer {
  let start = 0;
  while (start < Math.min(3, bytes.length) && (bytes[start]! & 0xc0) === 0x80) start++;
  return bytes.subarray(start);
}

/**
 * Arguments of a cmdline kept as head and tail (see ProcSnapshot.cmdlineTailOffset): the head's
 * last argument and the tail's first are pieces of arguments the cut went through.
 */
export function decodeHeadAndTail(bytes: Buffer, tailOffset: number): DecodedArgs & { cutAt: number } {
  const head = decodeCmdline(bytes.subarray(0, tailOffset), true);
  const tail = decodeCmdline(dropIncompleteUtf8Head(bytes.subarray(tailOffset)), false);
  return { args: [...head.args, ...tail.args], lossy: head.lossy || tail.lossy, cutAt: head.args.length };
}

export function imageFromSnapshot(snapshot: ProcSnapshot): ProcessImage {
  let args: string[] | null = null;
  let cmdlineBase64: string | null = null;
  let argsCutAt: number | null = null;
  if (snapshot.cmdline !== null) {
    const tailOffset = snapshot.cmdlineTailOffset ?? -1;
    let decoded: DecodedArgs;
    if (snapshot.cmdlineTruncated && tailOffset > 0 && tailOffset < snapshot.cmdline.length) {
      const cut = decodeHeadAndTail(snapshot.cmdline, tailOffset);
      decoded = cut;
      argsCutAt = cut.cutAt;
    } else {
      // Not spread into a new object with cutAt: that copy cost more than the decoding.
      decoded = decodeCmdline(snapshot.cmdline, snapshot.cmdlineTruncated);
    }
    args = decoded.args;
    if (decoded.lossy) cmdlineBase64 = snapshot.cmdline.toString('base64');
  }
  const executable = snapshot.exe;
  let name = snapshot.comm;
  if (executable) {
    const base = executableName(executable);
    name = (snapshot.commRenamed ? null : scriptName(snapshot.comm, base, args)) ?? base;
  }
  const counted = snapshot.cmdlineTruncated && snapshot.argsTotal !== undefined && snapshot.argsTotal >= 0;
  return {
    executable,
    name,
    args,
    commandLine: args === null ? null : args.join(' '),
    argsTruncated: snapshot.cmdlineTruncated,
    // Counted past the cut: the reader's count (the two pieces around a cut may be one argument);
    // a count that stopped at its own cap is at least what is in hand.
    argsCount: args === null ? null : !counted ? args.length
      : snapshot.argsTotalExact === false ? Math.max(snapshot.argsTotal!, args.length - (argsCutAt !== null ? 1 : 0)) : snapshot.argsTotal!,
    argsCountLowerBound: counted && snapshot.argsTotalExact === false,
    argsCutAt,
    cmdlineBase64,
    workingDirectory: snapshot.cwd,
    env: snapshot.env ?? null,
    envTruncated: snapshot.envTruncated === true,
    memfdName: memfdNameOf(executable),
    executableDeleted: executable !== null && executable.endsWith(DELETED_SUFFIX),
    commRenamed: snapshot.commRenamed === true,
    stdio: snapshot.stdio ?? null,
    parentStdio: snapshot.parentStdio ?? null,
  };
}

/**
 * The image as the table keeps it once its exec has been judged: an argv longer than `maxChars`
 * (UTF-16 code units, what V8 holds) keeps its head and its end, half each, around the cut
 * (argsCutAt), like the reader's own cut; the exact bytes of a lossy argv are not kept. The full
 * image went into the exec's document and its rules; what stays serves later events that
 * describe this process as a parent, leader or previous image. A short image is returned as is.
 * New arrays and strings are made, never changed in place: documents already built share them.
 */
export function compactImage(image: ProcessImage, maxChars: number): ProcessImage {
  const args = image.args;
  if (args === null) return image;
  let total = 0;
  for (const arg of args) total += arg.length + 1;
  if (total <= maxChars && image.cmdlineBase64 === null) return image;
  if (total <= maxChars) return { ...image, cmdlineBase64: null };
  const half = Math.floor(maxChars / 2);
  const head: string[] = [];
  let used = 0;
  for (const arg of image.argsCutAt === null ? args : args.slice(0, image.argsCutAt)) {
    if (used >= half) break;
    head.push(arg.length + used > half ? own(arg.slice(0, half - used)) : arg);
    used += arg.length + 1;
  }
  const tail: string[] = [];
  used = 0;
  for (let i = args.length - 1; i >= head.length && used < half; i--) {
    const arg = args[i]!;
    tail.unshift(arg.length + used > half ? own(arg.slice(arg.length - (half - used))) : arg);
    used += arg.length + 1;
  }
  const kept = [...head, ...tail];
  return {
    ...image,
    args: kept,
    commandLine: kept.join(' '),
    argsTruncated: true,
    argsCount: image.argsCount ?? args.length,
    argsCutAt: head.length,
    cmdlineBase64: null,
  };
}

/** A slice of a V8 string keeps the whole string alive: a piece cut from a long one is copied. */
function own(piece: string): string {
  return Buffer.from(piece, 'utf8').toString('utf8');
}

/** `text` within `maxChars`: its head and end around "...", or itself when short enough. */
function cutMiddle(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const half = Math.max(1, Math.floor((maxChars - 3) / 2));
  return own(`${text.slice(0, half)}...${text.slice(text.length - half)}`);
}

function cutStream(stream: StdioStream, maxChars: number): StdioStream {
  const path = stream.path === undefined ? undefined : cutMiddle(stream.path, maxChars);
  const local = stream.socket?.local?.path;
  const remote = stream.socket?.remote?.path;
  if (path === stream.path && (local === undefined || local.length <= maxChars) && (remote === undefined || remote.length <= maxChars)) return stream;
  const cut: StdioStream = { ...stream };
  if (path !== undefined) cut.path = path;
  if (stream.socket !== undefined) {
    cut.socket = { ...stream.socket };
    if (local !== undefined) cut.socket.local = { ...stream.socket.local, path: cutMiddle(local, maxChars) };
    if (remote !== undefined) cut.socket.remote = { ...stream.socket.remote, path: cutMiddle(remote, maxChars) };
  }
  return cut;
}

/**
 * The image cut down further, when the table is over its byte budget (ProcessTable): argv as
 * compactImage keeps it within `maxChars`, and every other text an attacker sizes (executable and
 * working directory paths, standard-stream paths, allow-listed environment entries) cut in its
 * middle to `maxChars`, so wildcards on a path's start or end still hold. Name, ids and counts
 * are kept whole.
 */
export function leanImage(image: ProcessImage, maxChars: number): ProcessImage {
  const compact = compactImage(image, maxChars);
  const streams = (list: StdioStream[] | null) => (list === null ? null : list.map((stream) => cutStream(stream, maxChars)));
  return {
    ...compact,
    executable: compact.executable === null ? null : cutMiddle(compact.executable, maxChars),
    workingDirectory: compact.workingDirectory === null ? null : cutMiddle(compact.workingDirectory, maxChars),
    env: compact.env === null ? null : compact.env.map((entry) => cutMiddle(entry, maxChars)),
    cmdlineBase64: null,
    stdio: streams(compact.stdio),
    parentStdio: streams(compact.parentStdio),
  };
}

/** V8 holds a string in at most 2 bytes per UTF-16 unit, behind a header. */
function textBytes(text: string | null | undefined): number {
  return text === null || text === undefined ? 0 : 16 + 2 * text.length;
}

function streamBytes(list: StdioStream[] | null): number {
  if (list === null) return 0;
  let bytes = 16 + 8 * list.length;
  for (const stream of list) {
    bytes += 64 + textBytes(stream.path);
    if (stream.socket !== undefined) {
      bytes += 128 + textBytes(stream.socket.local?.ip) + textBytes(stream.socket.local?.path) + textBytes(stream.socket.remote?.ip) + textBytes(stream.socket.remote?.path);
    }
  }
  return bytes;
}

/**
 * An upper estimate of the memory an image holds (its texts at 2 bytes per unit, arrays and
 * objects at a fixed cost): what the process table's byte budget counts. A few dozen reads; not
 * memoised, since a WeakMap entry per image cost the garbage collector more than this.
 */
export function imageBytes(image: ProcessImage): number {
  let bytes = 256 + textBytes(image.executable) + textBytes(image.name) + textBytes(image.commandLine) + textBytes(image.cmdlineBase64) +
    textBytes(image.workingDirectory) + textBytes(image.memfdName);
  if (image.args !== null) {
    bytes += 16 + 8 * image.args.length;
    for (const arg of image.args) bytes += textBytes(arg);
  }
  if (image.env !== null) {
    bytes += 16 + 8 * image.env.length;
    for (const entry of image.env) bytes += textBytes(entry);
  }
  bytes += streamBytes(image.stdio) + streamBytes(image.parentStdio);
  return bytes;
}

/** An image known only by name (comm), e.g. after a comm event on a process we never saw. */
export function imageFromComm(comm: string | null): ProcessImage {
  return {
    executable: null,
    name: comm,
    args: null,
    commandLine: null,
    argsTruncated: false,
    argsCount: null,
    argsCountLowerBound: false,
    argsCutAt: null,
    cmdlineBase64: null,
    workingDirectory: null,
    env: null,
    envTruncated: false,
    memfdName: null,
    executableDeleted: false,
    commRenamed: false,
    stdio: null,
    parentStdio: null,
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
