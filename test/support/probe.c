/*
 * Launches the process shapes the live tests need and a shell cannot make:
 *   probe memfd NAME FILE ARG...   copies FILE into a memfd called NAME and runs it (fileless exec)
 *   probe empty-argv FILE          runs FILE with an empty argv
 *   probe ptrace                   forks a child and attaches to it with ptrace, then detaches
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/sendfile.h>
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

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "memfd") == 0) return run_memfd(argv[2], argv[3], argv + 4);
  if (argc == 3 && strcmp(argv[1], "empty-argv") == 0) return run_empty_argv(argv[2]);
  if (argc == 2 && strcmp(argv[1], "ptrace") == 0) return run_ptrace();
  fprintf(stderr, "usage: probe memfd NAME FILE ARG... | empty-argv FILE | ptrace\n");
  return 2;
}
