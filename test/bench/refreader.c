/*
 * A yardstick for the capture benchmark: the proc connector read the plainest way, with the
 * /proc reads execwarden's reader makes for each exec and nothing else (no batches, no Node, no
 * documents). What it costs per exec on a machine is the floor under any agent that keeps those
 * fields; forkstat, which reads only cmdline, is the floor under one that keeps argv alone.
 *
 * Per exec: cmdline, exe, stat, fd/0-2 and environ at once; then status, cwd, cgroup and the
 * parent's fd/0-2 (as execwarden, once per parent per 2 ms). Per fork whose child has not exec'd
 * within 1 ms: stat. Exits are received and dropped. Like execwarden's reader, it takes execs on a
 * socket of their own and everything else on a second one (split by a socket filter), drained
 * whenever an exec wakes it and at most once a millisecond otherwise. It prints, on SIGINT or
 * SIGTERM, one JSON line: execs seen and execs whose cmdline was read.
 *
 * Usage: refreader [--argv-only] (as root; SCHED_FIFO when allowed, like the agent's reader).
 * --argv-only reads cmdline alone, what forkstat reads: the difference is the cost of the rest.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stopping = 0;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static char buffer[256 * 1024];
static char link_buffer[4096];

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Reads a /proc file: a short read is its end, as in the agent. */
static ssize_t read_proc(int pid, const char *name, size_t limit) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", pid, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t got = read(fd, buffer, limit);
  close(fd);
  return got;
}

static void read_link(int pid, const char *name) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", pid, name);
  (void)readlink(path, link_buffer, sizeof link_buffer);
}

static void read_stdio(int pid) {
  read_link(pid, "fd/0");
  read_link(pid, "fd/1");
  read_link(pid, "fd/2");
}

/* The parent pid from stat: after the last ')', the state, then the ppid. */
static int ppid_of_stat(ssize_t got) {
  if (got <= 0) return -1;
  buffer[got] = '\0';
  char *close_paren = strrchr(buffer, ')');
  int ppid = -1;
  char state;
  if (close_paren == NULL || sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2) return -1;
  return ppid;
}

#define PARENTS 64
static struct { int pid; uint64_t at; } parents[PARENTS];

static void parent_stdio(int ppid) {
  uint64_t now = now_ns();
  int slot = ppid % PARENTS;
  if (parents[slot].pid == ppid && now - parents[slot].at < 2000000) return;
  read_stdio(ppid);
  parents[slot].pid = ppid;
  parents[slot].at = now;
}

#define PENDING 512
static struct { int pid; uint64_t at; } pending[PENDING];
static int pending_count = 0;

static void fork_seen(int pid) {
  if (pending_count == PENDING) {
    (void)read_proc(pending[0].pid, "stat", 1024);
    memmove(pending, pending + 1, sizeof pending[0] * (PENDING - 1));
    pending_count--;
  }
  pending[pending_count].pid = pid;
  pending[pending_count].at = now_ns();
  pending_count++;
}

static void exec_seen(int pid) {
  for (int i = pending_count - 1; i >= 0; i--) {
    if (pending[i].pid != pid) continue;
    memmove(pending + i, pending + i + 1, sizeof pending[0] * (size_t)(pending_count - i - 1));
    pending_count--;
    break;
  }
}

static void forks_due(uint64_t now) {
  int done = 0;
  while (done < pending_count && pending[done].at + 1000000 <= now) (void)read_proc(pending[done++].pid, "stat", 1024);
  memmove(pending, pending + done, sizeof pending[0] * (size_t)(pending_count - done));
  pending_count -= done;
}

/* A socket bound to the proc connector's group, with a filter keeping exec events only (exec 1)
 * or every other kind (exec 0). Subscribes when asked. */
static int open_socket(int exec, int subscribe_now) {
  int sock = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
  if (sock < 0) { perror("socket"); return -1; }
  struct sock_filter code[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NLMSG_HDRLEN + sizeof(struct cn_msg)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(PROC_EVENT_EXEC), 0, 1),
    BPF_STMT(BPF_RET | BPF_K, exec ? 0xffffffffu : 0),
    BPF_STMT(BPF_RET | BPF_K, exec ? 0 : 0xffffffffu),
  };
  struct sock_fprog program = {.len = sizeof code / sizeof code[0], .filter = code};
  if (setsockopt(sock, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) < 0) { perror("filter"); close(sock); return -1; }
  int rcvbuf = 16 * 1024 * 1024;
  setsockopt(sock, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_nl addr = {.nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC};
  if (bind(sock, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); close(sock); return -1; }
  if (!subscribe_now) return sock;
  struct {
    struct nlmsghdr header;
    struct cn_msg message;
    enum proc_cn_mcast_op op;
  } __attribute__((packed)) subscribe;
  memset(&subscribe, 0, sizeof subscribe);
  subscribe.header.nlmsg_len = sizeof subscribe;
  subscribe.header.nlmsg_type = NLMSG_DONE;
  subscribe.message.id.idx = CN_IDX_PROC;
  subscribe.message.id.val = CN_VAL_PROC;
  subscribe.message.len = sizeof(enum proc_cn_mcast_op);
  subscribe.op = PROC_CN_MCAST_LISTEN;
  if (send(sock, &subscribe, sizeof subscribe, 0) < 0) { perror("send"); close(sock); return -1; }
  return sock;
}

static char datagram[64 * 1024];
static unsigned long execs = 0, argv_read = 0;
static int argv_only = 0;

/* Handles what waits on a socket; returns how many datagrams it held. */
static int drain(int sock) {
  int datagrams = 0;
  for (;; datagrams++) {
    ssize_t got = recv(sock, datagram, sizeof datagram, MSG_DONTWAIT);
    if (got <= 0) break;
    for (struct nlmsghdr *h = (struct nlmsghdr *)datagram; NLMSG_OK(h, (unsigned)got); h = NLMSG_NEXT(h, got)) {
      struct cn_msg *message = NLMSG_DATA(h);
      struct proc_event *event = (struct proc_event *)message->data;
      if (event->what == PROC_EVENT_FORK && event->event_data.fork.child_pid == event->event_data.fork.child_tgid && !argv_only) {
        fork_seen(event->event_data.fork.child_tgid);
      } else if (event->what == PROC_EVENT_EXEC) {
        int pid = event->event_data.exec.process_tgid;
        execs++;
        exec_seen(pid);
        if (read_proc(pid, "cmdline", 64 * 1024) > 0) argv_read++;
        if (argv_only) continue;
        read_link(pid, "exe");
        int ppid = ppid_of_stat(read_proc(pid, "stat", 1024));
        read_stdio(pid);
        (void)read_proc(pid, "environ", sizeof buffer - 1);
        (void)read_proc(pid, "status", 4096);
        read_link(pid, "cwd");
        (void)read_proc(pid, "cgroup", 4096);
        if (ppid > 0) parent_stdio(ppid);
      }
    }
  }
  return datagrams;
}

int main(int argc, char **argv) {
  argv_only = argc > 1 && strcmp(argv[1], "--argv-only") == 0;
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  struct sched_param param = {.sched_priority = 10};
  int realtime = sched_setscheduler(0, SCHED_FIFO, &param) == 0;

  int rest = open_socket(0, 0);
  int sock = rest < 0 ? -1 : open_socket(1, 1);
  if (sock < 0) return 1;
  fprintf(stderr, "refreader ready%s\n", realtime ? " (SCHED_FIFO)" : "");

  uint64_t rest_quiet_until = 0;
  while (!stopping) {
    uint64_t now = now_ns();
    int rest_polled = now >= rest_quiet_until;
    int timeout = pending_count > 0 ? 1 : 100;
    if (!rest_polled) timeout = 1;
    struct pollfd fds[2] = {{.fd = sock, .events = POLLIN}, {.fd = rest, .events = POLLIN}};
    int ready = poll(fds, rest_polled ? 2 : 1, timeout);
    if (ready < 0 && errno != EINTR) break;
    now = now_ns();
    /* An exec takes the rest with it, first, so that its fork is there before it. */
    if ((fds[0].revents & POLLIN) || (rest_polled && (fds[1].revents & POLLIN)) || (!rest_polled && now >= rest_quiet_until)) {
      rest_quiet_until = drain(rest) > 0 ? now_ns() + 1000000 : 0;
    }
    drain(sock);
    forks_due(now_ns());
  }
  printf("{\"execs\":%lu,\"argvRead\":%lu}\n", execs, argv_read);
  return 0;
}
