// LD_PRELOAD shim for tests: steps the wall clock of one process, as settimeofday or an NTP
// step would, without CAP_SYS_TIME and without touching the machine's clock.
//
// It adds an offset to CLOCK_REALTIME (and the calls built on it: gettimeofday, time) and
// leaves every other clock alone — CLOCK_MONOTONIC and CLOCK_BOOTTIME, and so every timer and
// timeout, run on as they really do when the wall clock is stepped. The offset, in whole
// milliseconds (e.g. `3600000`, `-3600000`, `0`), is read from the file named by
// PROMWATCH_TEST_WALL_CLOCK_OFFSET_FILE, again at most every 10 ms of real time, so a test
// steps the clock by rewriting the file. No file or no variable: offset 0.
//
// (libfaketime was tried first: it also shifts absolute CLOCK_MONOTONIC timerfd deadlines by
// the offset, which a real clock step never does, and Asio's event loop then stops.)

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>

namespace {

using ClockGettime = int (*)(clockid_t, timespec*);

ClockGettime real_clock_gettime() {
  static ClockGettime real = reinterpret_cast<ClockGettime>(dlsym(RTLD_NEXT, "clock_gettime"));
  return real;
}

std::atomic<std::int64_t> cached_offset_ms{0};
std::atomic<std::int64_t> next_read_ns{0};  // CLOCK_MONOTONIC time of the next file read

std::int64_t read_offset_ms() {
  const char* path = std::getenv("PROMWATCH_TEST_WALL_CLOCK_OFFSET_FILE");
  if (path == nullptr) return 0;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return cached_offset_ms.load();
  char buf[32] = {};
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return cached_offset_ms.load();
  return std::strtoll(buf, nullptr, 10);
}

std::int64_t offset_ms() {
  timespec mono{};
  real_clock_gettime()(CLOCK_MONOTONIC, &mono);
  const std::int64_t now_ns = static_cast<std::int64_t>(mono.tv_sec) * 1'000'000'000 + mono.tv_nsec;
  if (now_ns >= next_read_ns.load(std::memory_order_relaxed)) {
    next_read_ns.store(now_ns + 10'000'000, std::memory_order_relaxed);
    cached_offset_ms.store(read_offset_ms(), std::memory_order_relaxed);
  }
  return cached_offset_ms.load(std::memory_order_relaxed);
}

void add_ms(timespec* ts, std::int64_t ms) {
  std::int64_t ns = static_cast<std::int64_t>(ts->tv_nsec) + (ms % 1000) * 1'000'000;
  ts->tv_sec += static_cast<time_t>(ms / 1000);
  if (ns < 0) {
    ns += 1'000'000'000;
    ts->tv_sec -= 1;
  } else if (ns >= 1'000'000'000) {
    ns -= 1'000'000'000;
    ts->tv_sec += 1;
  }
  ts->tv_nsec = static_cast<long>(ns);
}

}  // namespace

extern "C" {

int clock_gettime(clockid_t clock, timespec* ts) noexcept {
  int rc = real_clock_gettime()(clock, ts);
  if (rc == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE)) {
    add_ms(ts, offset_ms());
  }
  return rc;
}

int gettimeofday(timeval* tv, void*) noexcept {
  timespec ts{};
  int rc = clock_gettime(CLOCK_REALTIME, &ts);
  if (rc == 0) {
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = static_cast<suseconds_t>(ts.tv_nsec / 1000);
  }
  return rc;
}

time_t time(time_t* out) noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  if (out != nullptr) *out = ts.tv_sec;
  return ts.tv_sec;
}

}  // extern "C"
