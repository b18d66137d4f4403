// An exclusive advisory lock on an open file, for the opt-out log's single writer
// (src/optout/file/lock.ts). flock(2) rather than fcntl(F_SETLK): an fcntl lock belongs to the
// process and is dropped when ANY descriptor of the file closes (a read-only open of the same log
// in the same process would free the writer's lock); a flock lock belongs to the open file
// description, so it is held until the writer's own descriptor closes, by close() or by the
// process dying (a SIGKILLed writer frees it at once, whatever its pid becomes later).
#pragma once

namespace uid2 {

// Takes LOCK_EX | LOCK_NB on `fd`. Returns 0 when taken, else the errno (EWOULDBLOCK: another open
// file description holds it), or -1 where the platform has no flock (Windows).
int LockFileExclusive(int fd);

}  // namespace uid2
