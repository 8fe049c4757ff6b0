// libFuzzer target: query API response parsing (outside input from any datasource).
// The first byte picks the HTTP status the body is parsed under, so error-envelope and
// non-2xx paths are explored too; both the instant and the range parser see every input.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "promwatch/query.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static constexpr int kStatuses[] = {200, 200, 200, 200, 400, 422, 429, 502, 503, 0};
  int status = 200;
  std::string_view body(reinterpret_cast<const char*>(data), size);
  if (!body.empty() && static_cast<unsigned char>(body.front()) >= 0xF0) {
    status = kStatuses[static_cast<unsigned char>(body.front()) % (sizeof kStatuses / sizeof kStatuses[0])];
    body.remove_prefix(1);
  }
  promwatch::QueryOutcome q = promwatch::parse_query_response(body, status);
  if (q.ok && !q.error.empty()) __builtin_trap();
  if (!q.ok && q.error.empty()) __builtin_trap();
  promwatch::RangeOutcome r = promwatch::parse_range_response(body, status);
  if (!r.ok && r.error.empty()) __builtin_trap();
  return 0;
}
