// LD_PRELOAD shim for tests: a slow disk. Every fsync and fdatasync of the process (SQLite syncs
// its WAL at each commit) first sleeps PROMWATCH_TEST_SLOW_SYNC_MS milliseconds (default 0), so
// the state store's worker falls behind the event loop as it does on a busy disk.

#include <dlfcn.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>

namespace {

void sleep_configured() {
  static const long ms = [] {
    const char* v = std::getenv("PROMWATCH_TEST_SLOW_SYNC_MS");
    return v == nullptr ? 0L : std::strtol(v, nullptr, 10);
  }();
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
