// flock(2) for the opt-out log's writer lock; why flock and not fcntl: file-lock.h.
#include "file-lock.h"

#ifndef _WIN32
#include <sys/file.h>

#include <cerrno>
#endif

namespace uid2 {

int LockFileExclusive(int fd) {
#ifdef _WIN32
  (void)fd;
  return -1;
#else
  int rc;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  return rc == 0 ? 0 : errno;
#endif
}

}  // namespace uid2
