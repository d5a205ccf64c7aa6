/**
 * `container.id` from a process's /proc/<pid>/cgroup text, the way container runtimes name their
 * cgroups. Facts from the runtimes' layouts as Elastic's Beats (add_process_metadata, default
 * `[-/]([0-9a-f]{64})(\.scope)?$`) and Falco (libsinsp runc layouts) match them:
 *
 *   docker, cgroupfs driver          /docker/<64 hex>
 *   docker, systemd driver           /system.slice/docker-<64 hex>.scope
 *   kubernetes, cgroupfs             /kubepods/<qos>/pod<uid>/<64 hex>
 *   containerd CRI, systemd          /…/cri-containerd-<64 hex>.scope
 *   CRI-O                            /…/crio-<64 hex>.scope
 *   podman (root and rootless)       /…/libpod-<64 hex>.scope (rootless adds /container below)
 *   LXC                              /lxc/<name>, /lxc.payload.<name>, /lxc.payload/<name>
 *
 * The runtimes' monitors run on the host side and are not in the container: `crio-conmon-…`,
 * `libpod-conmon-…` and `lxc.monitor.…` never count. Nested runtimes (docker in docker) put the
 * inner container deeper in the path, so the last matching component wins. On a hybrid host
 * every hierarchy has its own line and the first is often `name=systemd`; the unified (v2) line
 * "0::" is preferred, then any v1 line. A process on the host matches nothing and has no id.
 *
 * The parse is memoised by the cgroup text (processes of one service or container share it), in a
 * bounded map.
 */
const HEX64 = /^[0-9a-f]{64}$/;
const SCOPE = /^(?:docker|cri-containerd|crio|libpod)-([0-9a-f]{64})\.scope$/;
const LXC_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
const LXC_PAYLOAD_PREFIX = 'lxc.payload.';

/** The container a cgroup path belongs to, or null. */
export function containerIdFromPath(path: string): string | null {
  const parts = path.split('/');
  for (let i = parts.length - 1; i >= 0; i--) {
    const part = parts[i];
    if (part === '' || part.includes('conmon')) continue;
    const scope = SCOPE.exec(part);
    if (scope) return scope[1];
    if (HEX64.test(part)) return part;
    if (part.startsWith(LXC_PAYLOAD_PREFIX)) {
      const name = part.slice(LXC_PAYLOAD_PREFIX.length);
      if (LXC_NAME.test(name)) return name;
    }
    if (i > 0 && (parts[i - 1] === 'lxc' || parts[i - 1] === 'lxc.payload') && LXC_NAME.test(part)) return part;
  }
  return null;
}

/** The container of a whole /proc/<pid>/cgroup text (or of a bare path, as older recordings hold). */
export function containerIdFromCgroup(text: string): string | null {
  let fromV1: string | null = null;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const first = line.indexOf(':');
    const second = first < 0 ? -1 : line.indexOf(':', first + 1);
    if (second < 0) {
      // A bare path (no "id:controllers:" prefix).
      if (line.startsWith('/')) fromV1 ??= containerIdFromPath(line);
      continue;
    }
    const id = containerIdFromPath(line.slice(second + 1));
    if (id === null) continue;
    if (line.startsWith('0::')) return id;
    fromV1 ??= id;
  }
  return fromV1;
}

const MEMO_MAX = 4096;

/** containerIdFromCgroup behind a bounded memo keyed by the text. */
export class ContainerIds {
  private readonly memo = new Map<string, string | null>();

  idFor(cgroup: string | null): string | null {
    if (cgroup === null) return null;
    const known = this.memo.get(cgroup);
    if (known !== undefined) return known;
    const id = containerIdFromCgroup(cgroup);
    if (this.memo.size >= MEMO_MAX) this.memo.clear();
    this.memo.set(cgroup, id);
    return id;
  }
}
