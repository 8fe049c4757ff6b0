#pragma once
/// \file
/// Results of Prometheus `/api/v1/query` and their parsing (simdjson, the hot path).
/// Pure values and a pure function; thread-safe.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "promwatch/labels.hpp"
#include "promwatch/time.hpp"

namespace promwatch {

/// One instant sample. A scalar result is one sample with no labels.
struct Sample {
  Labels labels;  ///< including __name__ when the series has one
  double value = 0;
};

struct QueryResult {
  std::vector<Sample> samples;
  std::vector<std::string> warnings;  ///< the response's `warnings` and `infos`
  int skipped_histograms = 0;         ///< native-histogram samples, skipped with a warning
};

/// What a query produced: a result, or an error saying why not. Expected failures are data.
struct QueryOutcome {
  bool ok = false;
  QueryResult result;
  /// Why it failed, for rule health: "server returned HTTP status 401 Unauthorized",
  /// "bad_data: parse error at char 5: ...", "unsupported result type matrix", ...
  std::string error;
  int http_status = 0;  ///< last attempt's status; 0 when no response arrived
  int attempts = 0;
  Duration elapsed{0};
};

/// Parses a query response body (any HTTP status: Prometheus sends the error envelope with
/// 4xx/5xx). Accepts `vector` and `scalar` results; `matrix` and `string` are errors for an
/// alerting rule. Sample values "NaN", "+Inf", "-Inf" are ordinary; native histograms are
/// skipped and counted. Non-JSON, truncated JSON, a wrong shape or a value that is not a
/// number give `ok = false` with the reason. Never throws.
QueryOutcome parse_query_response(std::string_view body, int http_status);

/// One series of a range query (`/api/v1/query_range`), points in time order as received.
struct RangeSeries {
  Labels labels;  ///< including __name__ when the series has one
  std::vector<std::pair<TimePoint, double>> points;
};

/// What a range query produced (for `promwatch eval`). Same error conventions as QueryOutcome.
struct RangeOutcome {
  bool ok = false;
  std::vector<RangeSeries> series;
  std::vector<std::string> warnings;  ///< the response's `warnings` and `infos`
  int skipped_histograms = 0;         ///< native-histogram points, skipped
  std::string error;
  int http_status = 0;
  int attempts = 0;
  Duration elapsed{0};
};

/// Parses a `/api/v1/query_range` response body. Expects a `matrix` result (anything else is
/// an error, e.g. "unsupported result type vector"); otherwise as parse_query_response.
RangeOutcome parse_range_response(std::string_view body, int http_status);

/// The instant results a successful range query stands for: one `ok` outcome per time `start`,
/// `start + step`, ... up to `end`, holding every series' sample at exactly that time (an empty
/// result where none has one). Range queries evaluate at exactly those times, so each outcome
/// is what an instant query at its time returns. `step` must be positive.
std::vector<std::pair<TimePoint, QueryOutcome>> range_to_instants(const RangeOutcome& range, TimePoint start,
                                                                  TimePoint end, Duration step);

/// "server returned HTTP status 502 Bad Gateway": the text used for a non-2xx answer.
std::string http_status_error(int http_status);

/// A short, printable excerpt of an HTTP body for error messages: HTML tags dropped, whitespace
/// and control characters collapsed, cut (with "...") at a UTF-8 boundary after 120 bytes.
std::string body_snippet(std::string_view body);

}  // namespace promwatch
