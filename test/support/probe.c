/*
 * Launches the process shapes the live tests need and a shell cannot make:
 *   probe memfd NAME FILE ARG...   copies FILE into a memfd called NAME and runs it (fileless exec)
 *   probe empty-argv FILE          runs FILE with an empty argv
 *   probe ptrace                   forks a child and attaches to it with ptrace, then detaches
 *   probe leader-exit MS           the main thread exits first; another thread lives MS ms longer
 *   probe thread-exec FILE ARG...  a second thread execs FILE (as Go's syscall.Exec may)
 *   probe notify-listen PATH       binds a unix datagram socket at PATH and prints what arrives
 * Build with -pthread.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int run_memfd(const char *name, const char *file, char **argv) {
  int in = open(file, O_RDONLY | O_CLOEXEC);
  if (in < 0) { perror("open"); return 1; }
  struct stat st;
  if (fstat(in, &st) != 0) { perror("fstat"); return 1; }
  int fd = memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) { perror("memfd_create"); return 1; }
  off_t offset = 0;
  while (offset < st.st_size) {
    ssize_t sent = sendfile(fd, in, &offset, (size_t)(st.st_size - offset));
    if (sent <= 0) { perror("sendfile"); return 1; }
  }
  fexecve(fd, argv, environ);
  perror("fexecve");
  return 1;
}

static int run_empty_argv(const char *file) {
  char *argv[] = {NULL};
  execve(file, argv, environ);
  perror("execve");
  return 1;
}

static int run_ptrace(void) {
  /* Stay a moment, so that a loaded host still reads this process at its exec. */
  usleep(100000);
  pid_t child = fork();
  if (child < 0) { perror("fork"); return 1; }
  if (child == 0) {
    for (;;) pause();
  }
  int status = 0;
  if (ptrace(PTRACE_ATTACH, child, NULL, NULL) != 0) { perror("ptrace"); kill(child, SIGKILL); return 1; }
  waitpid(child, &status, 0);
  ptrace(PTRACE_DETACH, child, NULL, NULL);
  kill(child, SIGKILL);
  waitpid(child, &status, 0);
  return 0;
}

static long linger_ms;
static char **exec_argv;

static void *linger(void *unused) {
  (void)unused;
  usleep((useconds_t)(linger_ms * 1000));
  return NULL;
}

static void *exec_from_thread(void *unused) {
  (void)unused;
  execve(exec_argv[0], exec_argv, environ);
  perror("execve");
  exit(1);
}

static int run_leader_exit(long ms) {
  linger_ms = ms;
  pthread_t thread;
  if (pthread_create(&thread, NULL, linger, NULL) != 0) return 1;
  pthread_exit(NULL);
}

static int run_thread_exec(char **argv) {
  exec_argv = argv;
  usleep(100000); /* read at its own exec first */
  pthread_t thread;
  if (pthread_create(&thread, NULL, exec_from_thread, NULL) != 0) return 1;
  pthread_join(thread, NULL);
  return 1;
}

static int run_notify_listen(const char *path) {
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  if (fd < 0) { perror("socket"); return 1; }
  struct sockaddr_un address;
  memset(&address, 0, sizeof address);
  address.sun_family = AF_UNIX;
  strncpy(address.sun_path, path, sizeof address.sun_path - 1);
  unlink(path);
  if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) { perror("bind"); return 1; }
  printf("listening\n");
  fflush(stdout);
  char buffer[4097];
  for (;;) {
    ssize_t got = recv(fd, buffer, sizeof buffer - 1, 0);
    if (got < 0) return 1;
    buffer[got] = '\0';
    printf("%s\n", buffer);
    fflush(stdout);
  }
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "memfd") == 0) return run_memfd(argv[2], argv[3], argv + 4);
  if (argc == 3 && strcmp(argv[1], "empty-argv") == 0) return run_empty_argv(argv[2]);
  if (argc == 2 && strcmp(argv[1], "ptrace") == 0) return run_ptrace();
  if (argc == 3 && strcmp(argv[1], "leader-exit") == 0) return run_leader_exit(atol(argv[2]));
  if (argc >= 3 && strcmp(argv[1], "thread-exec") == 0) return run_thread_exec(argv + 2);
  if (argc == 3 && strcmp(argv[1], "notify-listen") == 0) return run_notify_listen(argv[2]);
  fprintf(stderr, "usage: probe memfd NAME FILE ARG... | empty-argv FILE | ptrace | leader-exit MS | thread-exec FILE ARG...\n");
  return 2;
}
