// libFuzzer target: the Alertmanager v2 silence body (POST /api/v2/silences, outside input), the
// durable silence record, POSIX TZ strings and TZif files. A body that parses must render, store and read
// back the same; nothing may crash, whatever the input.

#include <cstddef>
#include <climits>
#include <cstdint>
#include <string>
#include <string_view>

#include "promwatch/silence.hpp"

namespace {

const promwatch::TimePoint kNow = promwatch::TimePoint{std::chrono::milliseconds{1'795'000'000'000}};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  promwatch::ApiResponse error;
  if (auto s = promwatch::parse_postable_silence(text, &error)) {
    if (s->matchers.empty()) __builtin_trap();
    (void)promwatch::render_gettable_silence(*s, kNow);
    (void)promwatch::validate_silence(*s);
    s->id = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
    const std::string record = promwatch::to_json(*s);
    std::string e;
    auto back = promwatch::silence_from_json(record, &e);
    if (!back || promwatch::to_json(*back) != record) __builtin_trap();
    (void)s->matches(promwatch::Labels{{"alertname", "X"}, {"instance", std::string(text.substr(0, 8))}});
  } else if (error.status != 400 && error.status != 422) {
    __builtin_trap();
  }

  // The full POST path: a set with one silence, the body applied at a fixed time.
  promwatch::SilenceSet set;
  auto r = promwatch::api_post_silences(set, text, kNow);
  if (r.status == 200) {
    if (set.size() != 1 || r.changed.empty()) __builtin_trap();
    (void)promwatch::api_get_silences(set, {}, kNow);
  }

  std::string tz_error;
  if (auto zone = promwatch::TimeZone::from_posix(text, &tz_error)) {
    (void)promwatch::to_civil(kNow, *zone);
  }
  if (auto zone = promwatch::TimeZone::from_tzif(text, "fuzz", &tz_error)) {
    for (std::int64_t t : {INT64_MIN / 2, std::int64_t{-1}, std::int64_t{0}, std::int64_t{1'795'000'000},
                           std::int64_t{4'200'000'000}, INT64_MAX / 2000}) {
      (void)zone->utc_offset(t);
    }
    (void)promwatch::to_civil(kNow, *zone);
  }
  (void)promwatch::silence_from_json(text, &tz_error);
  return 0;
}
