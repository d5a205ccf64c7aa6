/*
 * Exec storm for the capture benchmark: fork-execs a target N times, one at a time, each with a
 * unique marker argument ("<prefix>-<i>"), optionally through a wrapper (setsid, nohup) that
 * execs the target in place. Prints one JSON line: {"execs":N,"seconds":S,"rate":R,"pid":P}.
 *
 *   storm <count> <target> <prefix> [wrapper...]
 *
 * The prefix may be long (the hostile bench passes thousands of characters): the marker is sized
 * for it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: storm <count> <target> <prefix> [wrapper...]\n");
    return 2;
  }
  const long count = strtol(argv[1], NULL, 10);
  const char *target = argv[2];
  const char *prefix = argv[3];
  char **wrappers = argv + 4;
  const int wrapper_count = argc - 4;

  const size_t marker_size = strlen(prefix) + 32;
  char *marker = malloc(marker_size);
  if (marker == NULL) {
    perror("malloc");
    return 1;
  }
  const double start = now_seconds();
  for (long i = 0; i < count; i++) {
    snprintf(marker, marker_size, "%s-%ld", prefix, i);
    const pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 1;
    }
    if (pid == 0) {
      if (wrapper_count > 0) {
        const char *wrapper = wrappers[i % wrapper_count];
        execlp(wrapper, wrapper, target, marker, (char *)NULL);
      } else {
        execl(target, target, marker, (char *)NULL);
      }
      _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
    }
  }
  const double seconds = now_seconds() - start;
  free(marker);
  printf("{\"execs\":%ld,\"seconds\":%.6f,\"rate\":%.1f,\"pid\":%d}\n", count, seconds, count / seconds, (int)getpid());
  return 0;
}
