// LD_PRELOAD shim for tests: a slow disk. Every fsync and fdatasync of the process (SQLite syncs
// its WAL at each commit) first sleeps the number of milliseconds written in the file named by
// PROMWATCH_TEST_SLOW_SYNC_FILE (read at each sync; no variable, no file: no delay), so the
// state store's worker falls behind the event loop as it does on a busy disk, for as long as the
// test wants.

#include <dlfcn.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>

namespace {

void sleep_configured() {
  const char* path = std::getenv("PROMWATCH_TEST_SLOW_SYNC_FILE");
  if (path == nullptr) return;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[32] = {};
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  const long ms = n > 0 ? std::strtol(buf, nullptr, 10) : 0;
  if (ms <= 0) return;
  timespec t{ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&t, &t) != 0) {
  }
}

using SyncFn = int (*)(int);

}  // namespace

extern "C" int fsync(int fd) {
  static SyncFn real = reinterpret_cast<SyncFn>(dlsym(RTLD_NEXT, "fsync"));
  sleep_configured();
  return real(fd);
}

extern "C" int fdatasync(int fd) {
  static SyncFn real = reinterpret_cast<SyncFn>(dlsym(RTLD_NEXT, "fdatasync"));
  sleep_configured();
  return real(fd);
}
