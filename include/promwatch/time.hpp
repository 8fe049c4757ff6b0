#pragma once
/// \file
/// Time, durations, sizes and number formats as Prometheus and Go print and parse them, and
/// the watch on the wall clock that notices when it is stepped. The functions are pure and
/// thread-safe; `WallClockWatch` is a plain value used from one thread.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace promwatch {

/// Millisecond resolution everywhere: Prometheus timestamps and durations are milliseconds.
using Duration = std::chrono::milliseconds;
using TimePoint = std::chrono::sys_time<std::chrono::milliseconds>;

/// The wall clock, truncated to milliseconds.
TimePoint now();

/// Time since boot (CLOCK_BOOTTIME): never steps, runs at the wall clock's rate (NTP frequency
/// corrections apply to both) and, unlike CLOCK_MONOTONIC, keeps counting while the machine is
/// suspended — so a suspend is not mistaken for a step of the wall clock.
Duration boot_clock();

/// Notices steps of the wall clock (settimeofday, an NTP step, a VM restored from a snapshot) by
/// comparing how far the wall clock moved with how far `boot_clock` moved between two readings.
/// The daemon keeps every alert time on the wall clock's timeline, so it shifts them by the step
/// it is told of here: a pending `for` neither jumps to firing nor waits an extra hour.
class WallClockWatch {
 public:
  /// Differences below `tolerance` are ignored (reading jitter; slewing never gets near it).
  explicit WallClockWatch(Duration tolerance = std::chrono::seconds(1)) : tolerance_(tolerance) {}
  /// Takes a reading pair; returns the step since the previous reading (wall advance minus boot
  /// clock advance: positive when the wall clock jumped forward) when its size reaches the
  /// tolerance, else zero. The first call only anchors. Every call re-anchors.
  Duration observe(TimePoint wall, Duration boot);

 private:
  Duration tolerance_;
  bool anchored_ = false;
  TimePoint last_wall_{};
  Duration last_boot_{0};
};

/// Prometheus duration syntax (`model.ParseDuration`): `1h30m`, `90s`, `500ms`, `2d`, `1w`, `1y`, `0`.
/// Units must appear in decreasing order, each at most once. nullopt on anything else.
std::optional<Duration> parse_duration(std::string_view text);
/// Prometheus's `model.Duration.String()`: `1h30m`, `5m`, `500ms`, `0s`.
std::string format_duration(Duration d);

/// Sizes: a plain integer (bytes) or `<n><unit>` with B, KB, MB, GB (powers of 1000) or
/// KiB, MiB, GiB (powers of 1024). nullopt on anything else or on overflow.
std::optional<std::uint64_t> parse_size(std::string_view text);

/// Go's time.RFC3339Nano in UTC: `2026-01-02T03:04:05.123Z` (trailing fractional zeros trimmed).
std::string format_rfc3339(TimePoint t);
/// RFC 3339 (`Z` or `±hh:mm` offset, optional fraction) or Unix seconds with an optional
/// fraction (`1700000000`, `1700000000.5`). nullopt on anything else.
std::optional<TimePoint> parse_time(std::string_view text);
/// Unix seconds with millisecond fraction, as the Prometheus API's `time` parameter: `1700000000.123`.
std::string format_unix_seconds(TimePoint t);
/// Seconds as a double, for metrics and JSON.
double to_unix_seconds(TimePoint t);
double to_seconds(Duration d);

/// Go's strconv.FormatFloat(v, fmt, -1, 64): the shortest text that reads back as `v`.
/// `fmt` is 'e', 'f' or 'g'. NaN prints `NaN`, infinities `+Inf`/`-Inf`.
std::string format_go_float(double v, char fmt);
/// Go's fmt `%v` of a float64 (what `{{ $value }}` prints): shortest 'g', switching to the
/// exponent form when the decimal exponent is < -4 or >= 6: `1234.5678`, `123456`, `1e+06`,
/// `1.234567e+06`, `1e-05`.
std::string format_go_value(double v);

}  // namespace promwatch
