// Prometheus query API responses, parsed with simdjson On Demand straight into Samples.
//
// One pass over the document, whatever the order of its fields: `result` may come before
// `resultType`, so the shape of `result` is recognised from its elements (objects with
// `value`/`values`/`histogram(s)` for vectors and matrices, a bare `[ts, "v"]` pair for scalars
// and strings) and checked against `resultType` at the end.

#include "promwatch/query.hpp"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <utility>

namespace promwatch {
namespace {

namespace od = simdjson::ondemand;

constexpr std::size_t kSnippetBytes = 120;

std::string_view reason_phrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 414: return "Request URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Requested Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Entity";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 511: return "Network Authentication Required";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    default: return {};
  }
}

/// A short, printable excerpt of a body for error messages: HTML tags dropped, whitespace and
/// control characters collapsed, cut at a UTF-8 boundary.
std::string snippet(std::string_view body) {
  std::string out;
  bool in_tag = false;
  bool space = true;  // suppress leading whitespace
  for (std::size_t i = 0; i < body.size() && out.size() < kSnippetBytes + 8; ++i) {
    unsigned char c = static_cast<unsigned char>(body[i]);
    if (c == '<' && i + 1 < body.size() &&
        (std::isalpha(static_cast<unsigned char>(body[i + 1])) || body[i + 1] == '/' || body[i + 1] == '!')) {
      in_tag = true;
      continue;
    }
    if (in_tag) {
      if (c == '>') {
        in_tag = false;
        if (!space) {
          out += ' ';
          space = true;
        }
      }
      continue;
    }
    if (c < 0x20 || c == 0x7f || c == ' ') {
      if (!space) {
        out += ' ';
        space = true;
      }
      continue;
    }
    out += static_cast<char>(c);
    space = false;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > kSnippetBytes) {
    std::size_t cut = kSnippetBytes;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;  // UTF-8 boundary
    out.resize(cut);
    out += "...";
  }
  return out;
}

/// Go's strconv.ParseFloat for what Prometheus writes: decimal, exponent, NaN, ±Inf.
bool parse_float(std::string_view s, double& out) {
  if (s.empty()) return false;
  std::string_view digits = s;
  bool negate = false;
  if (digits.front() == '+' || digits.front() == '-') {
    negate = digits.front() == '-';
    digits.remove_prefix(1);
    if (digits.empty() || digits.front() == '+' || digits.front() == '-') return false;
  }
  double v = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ptr != digits.data() + digits.size()) return false;
  if (ec == std::errc::result_out_of_range) {
    // Go returns ±Inf (overflow) or 0 (underflow) with an error; Prometheus never sends these.
    return false;
  }
  if (ec != std::errc()) return false;
  out = negate ? -v : v;
  return true;
}

enum class Mode { Instant, Range };

class ResponseParser {
 public:
  explicit ResponseParser(Mode mode) : mode_(mode) {}

  /// Walks the whole document. False with `error_` set when it is not a well-formed response.
  bool parse(std::string_view body) {
    // One parser and one padded input buffer per thread, reused: no large allocation (and page
    // faults) per response. Both are released after an unusually large body (the parser's
    // buffers are several times the document's size).
    static thread_local od::parser parser;
    static thread_local std::vector<char> buffer;
    constexpr std::size_t kKeepBytes = 16u << 20;
    if (buffer.size() < body.size() + simdjson::SIMDJSON_PADDING) buffer.resize(body.size() + simdjson::SIMDJSON_PADDING);
    std::memcpy(buffer.data(), body.data(), body.size());
    std::memset(buffer.data() + body.size(), 0, simdjson::SIMDJSON_PADDING);
    struct Shrink {
      ~Shrink() {
        if (buffer.size() > kKeepBytes) std::vector<char>().swap(buffer);
        if (parser.capacity() > kKeepBytes) parser = od::parser();
      }
    } shrink;
    od::document doc;
    if (auto err = parser.iterate(buffer.data(), body.size(), buffer.size()).get(doc)) return json_error(err);
    od::object root;
    if (auto err = doc.get_object().get(root)) {
      std::size_t first = body.find_first_not_of(" \t\r\n");
      bool json_value = first != std::string_view::npos &&
                        std::string_view("[\"-0123456789tfn").find(body[first]) != std::string_view::npos;
      if (err == simdjson::INCORRECT_TYPE && json_value) return fail("response is not a JSON object");
      return json_error(err == simdjson::INCORRECT_TYPE ? simdjson::TAPE_ERROR : err);
    }
    for (auto field_result : root) {
      od::field field;
      std::string_view key;
      if (auto err = std::move(field_result).get(field)) return json_error(err);
      if (auto err = field.unescaped_key().get(key)) return json_error(err);
      od::value value = field.value();
      if (key == "status") {
        if (!get_string(value, status_, "status")) return false;
      } else if (key == "errorType") {
        if (!get_string_lenient(value, error_type_)) return false;
      } else if (key == "error") {
        if (!get_string_lenient(value, server_error_)) return false;
      } else if (key == "warnings" || key == "infos") {
        if (!parse_strings(value, warnings)) return false;
      } else if (key == "data") {
        has_data_ = true;
        if (!parse_data(value)) return false;
      }
    }
    // At the end of the input current_location() reports OUT_OF_BOUNDS; anything else is left over.
    if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
      return fail("invalid JSON in response: trailing content after the top-level object");
    }
    return true;
  }

  /// After a successful parse: checks the envelope and the result shape.
  bool finish() {
    if (status_ == "error") {
      if (!error_type_.empty() && !server_error_.empty()) return fail(error_type_ + ": " + server_error_);
      if (!server_error_.empty()) return fail(server_error_);
      if (!error_type_.empty()) return fail(error_type_);
      return fail("query failed without an error message");
    }
    if (status_.empty()) return fail("response has no status field");
    if (status_ != "success") return fail("response has unknown status \"" + status_ + "\"");
    if (!has_data_) return fail("response has no data field");
    if (result_type_.empty()) return fail("response has no resultType");
    if (!has_result_) return fail("response has no result");
    if (mode_ == Mode::Instant) {
      if (result_type_ == "vector") {
        if (shape_ == Shape::Pair) return fail("result of type vector is not an array of samples");
      } else if (result_type_ == "scalar") {
        if (shape_ != Shape::Pair) return fail("result of type scalar is not a [time, value] pair");
        if (!pair_has_value_) {
          if (!pair_text_.empty()) return fail("sample value \"" + pair_text_ + "\" is not a number");
          return fail("result of type scalar is not a [time, value] pair");
        }
        samples.clear();
        samples.push_back(Sample{Labels{}, pair_value_});
      } else {
        return fail("unsupported result type " + result_type_);
      }
    } else {
      if (result_type_ != "matrix") return fail("unsupported result type " + result_type_ + " (expected matrix)");
      if (shape_ == Shape::Pair) return fail("result of type matrix is not an array of series");
    }
    return true;
  }

  const std::string& error() const { return error_; }
  bool is_error_envelope() const { return status_ == "error"; }
  bool syntax_error() const { return syntax_error_; }

  std::vector<Sample> samples;
  std::vector<RangeSeries> series;
  std::vector<std::string> warnings;
  int skipped_histograms = 0;

 private:
  enum class Shape { Unknown, Series, Pair };

  bool fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

  bool json_error(simdjson::error_code err) {
    syntax_error_ = true;
    return fail(std::string("invalid JSON in response: ") + simdjson::error_message(err));
  }

  bool get_string(od::value& value, std::string& out, std::string_view what) {
    std::string_view s;
    if (auto err = value.get_string().get(s)) {
      if (err == simdjson::INCORRECT_TYPE) return fail("response field " + std::string(what) + " is not a string");
      return json_error(err);
    }
    out.assign(s);
    return true;
  }

  // errorType/error: take strings, ignore other types (still consuming them).
  bool get_string_lenient(od::value& value, std::string& out) {
    od::json_type type;
    if (auto err = value.type().get(type)) return json_error(err);
    if (type != od::json_type::string) return true;
    std::string_view s;
    if (auto err = value.get_string().get(s)) return json_error(err);
    out.assign(s);
    return true;
  }

  bool parse_strings(od::value& value, std::vector<std::string>& out) {
    od::json_type type;
    if (auto err = value.type().get(type)) return json_error(err);
    if (type == od::json_type::null) return true;
    od::array arr;
    if (auto err = value.get_array().get(arr)) return json_error(err);
    for (auto item : arr) {
      od::value v;
      if (auto err = std::move(item).get(v)) return json_error(err);
      std::string s;
      if (!get_string(v, s, "warnings")) return false;
      out.push_back(std::move(s));
    }
    return true;
  }

  bool parse_data(od::value& value) {
    od::json_type type;
    if (auto err = value.type().get(type)) return json_error(err);
    if (type == od::json_type::null) {
      has_data_ = false;
      return true;
    }
    od::object data;
    if (auto err = value.get_object().get(data)) {
      if (err == simdjson::INCORRECT_TYPE) return fail("response field data is not an object");
      return json_error(err);
    }
    for (auto field_result : data) {
      od::field field;
      std::string_view key;
      if (auto err = std::move(field_result).get(field)) return json_error(err);
      if (auto err = field.unescaped_key().get(key)) return json_error(err);
      od::value v = field.value();
      if (key == "resultType") {
        if (!get_string(v, result_type_, "resultType")) return false;
      } else if (key == "result") {
        has_result_ = true;
        // Known to be unusable already: skip it unparsed.
        if (!result_type_.empty() && !wanted_type(result_type_)) continue;
        if (!parse_result(v)) return false;
      }
    }
    return true;
  }

  bool wanted_type(const std::string& type) const {
    if (mode_ == Mode::Instant) return type == "vector" || type == "scalar";
    return type == "matrix";
  }

  bool parse_result(od::value& value) {
    od::json_type type;
    if (auto err = value.type().get(type)) return json_error(err);
    if (type == od::json_type::null) return true;  // an empty result, as some servers write it
    od::array arr;
    if (auto err = value.get_array().get(arr)) {
      if (err == simdjson::INCORRECT_TYPE) return fail("response field result is not an array");
      return json_error(err);
    }
    std::size_t index = 0;
    for (auto item : arr) {
      od::value v;
      if (auto err = std::move(item).get(v)) return json_error(err);
      od::json_type item_type;
      if (auto err = v.type().get(item_type)) return json_error(err);
      if (item_type == od::json_type::object) {
        if (shape_ == Shape::Pair) return fail("result mixes samples and a bare [time, value] pair");
        shape_ = Shape::Series;
        od::object obj;
        if (auto err = v.get_object().get(obj)) return json_error(err);
        if (!parse_series(obj)) return false;
      } else {
        // Scalar or string result: the array itself is [time, value].
        if (shape_ == Shape::Series) return fail("result element is not an object");
        shape_ = Shape::Pair;
        if (index == 0) {
          TimePoint ignored;
          if (!parse_timestamp(v, ignored)) return false;
        } else if (index == 1) {
          if (item_type == od::json_type::string) {
            // A scalar's value, or a string result's text: decided in finish().
            std::string_view s;
            if (auto err = v.get_string().get(s)) return json_error(err);
            pair_has_value_ = parse_float(s, pair_value_);
            if (!pair_has_value_) pair_text_ = snippet(s);
          } else {
            if (!parse_value(v, pair_value_)) return false;
            pair_has_value_ = true;
          }
        } else {
          return fail("result [time, value] pair has more than two elements");
        }
      }
      ++index;
    }
    return true;
  }

  bool parse_series(od::object& obj) {
    Labels labels;
    bool has_value = false;
    bool has_histogram = false;
    bool has_values = false;
    double value = 0;
    std::vector<std::pair<TimePoint, double>> points;
    for (auto field_result : obj) {
      od::field field;
      std::string_view key;
      if (auto err = std::move(field_result).get(field)) return json_error(err);
      if (auto err = field.unescaped_key().get(key)) return json_error(err);
      od::value v = field.value();
      if (key == "metric") {
        if (!parse_labels(v, labels)) return false;
      } else if (key == "value") {
        if (mode_ == Mode::Range) return fail("unsupported result type vector (expected matrix)");
        TimePoint ignored;
        if (!parse_pair(v, ignored, value)) return false;
        has_value = true;
      } else if (key == "values") {
        if (mode_ == Mode::Instant) return fail("unsupported result type matrix");
        has_values = true;
        if (!parse_points(v, points)) return false;
      } else if (key == "histogram") {
        if (mode_ == Mode::Range) return fail("unsupported result type vector (expected matrix)");
        has_histogram = true;
      } else if (key == "histograms") {
        if (mode_ == Mode::Instant) return fail("unsupported result type matrix");
        has_histogram = true;
        std::size_t n = 0;
        if (!count_elements(v, n)) return false;
        skipped_histograms += static_cast<int>(std::min<std::size_t>(n, 1u << 30));
      }
    }
    if (mode_ == Mode::Instant) {
      if (has_value) {
        samples.push_back(Sample{std::move(labels), value});
      } else if (has_histogram) {
        ++skipped_histograms;
      } else {
        return fail("result sample has no value");
      }
    } else {
      if (!has_values && !has_histogram) return fail("result series has no values");
      if (!points.empty() || !has_histogram) series.push_back(RangeSeries{std::move(labels), std::move(points)});
    }
    return true;
  }

  // Labels::set keeps the set sorted; Prometheus writes label names sorted, so each set()
  // appends at the end: the set is built in order once, without a separate sort pass.
  bool parse_labels(od::value& value, Labels& labels) {
    od::object obj;
    if (auto err = value.get_object().get(obj)) {
      if (err == simdjson::INCORRECT_TYPE) return fail("result metric is not an object");
      return json_error(err);
    }
    for (auto field_result : obj) {
      od::field field;
      std::string_view name;
      std::string_view label_value;
      if (auto err = std::move(field_result).get(field)) return json_error(err);
      if (auto err = field.unescaped_key().get(name)) return json_error(err);
      if (auto err = field.value().get_string().get(label_value)) {
        if (err == simdjson::INCORRECT_TYPE) return fail("label " + std::string(name) + " has a value that is not a string");
        return json_error(err);
      }
      labels.set(name, label_value);
    }
    return true;
  }

  bool count_elements(od::value& value, std::size_t& n) {
    od::array arr;
    if (auto err = value.get_array().get(arr)) {
      if (err == simdjson::INCORRECT_TYPE) return fail("histograms is not an array");
      return json_error(err);
    }
    for (auto item : arr) {
      od::value v;
      if (auto err = std::move(item).get(v)) return json_error(err);
      ++n;
    }
    return true;
  }

  bool parse_points(od::value& value, std::vector<std::pair<TimePoint, double>>& points) {
    od::array arr;
    if (auto err = value.get_array().get(arr)) {
      if (err == simdjson::INCORRECT_TYPE) return fail("result values is not an array");
      return json_error(err);
    }
    for (auto item : arr) {
      od::value v;
      if (auto err = std::move(item).get(v)) return json_error(err);
      TimePoint t;
      double x = 0;
      if (!parse_pair(v, t, x)) return false;
      points.emplace_back(t, x);
    }
    return true;
  }

  /// `[1700000000.123, "1.5"]`
  bool parse_pair(od::value& value, TimePoint& t, double& x) {
    od::array arr;
    if (auto err = value.get_array().get(arr)) {
      if (err == simdjson::INCORRECT_TYPE) return fail("sample is not a [time, value] pair");
      return json_error(err);
    }
    int index = 0;
    for (auto item : arr) {
      od::value v;
      if (auto err = std::move(item).get(v)) return json_error(err);
      if (index == 0) {
        if (!parse_timestamp(v, t)) return false;
      } else if (index == 1) {
        if (!parse_value(v, x)) return false;
      } else {
        return fail("sample [time, value] pair has more than two elements");
      }
      ++index;
    }
    if (index != 2) return fail("sample is not a [time, value] pair");
    return true;
  }

  bool parse_timestamp(od::value& v, TimePoint& t) {
    double seconds = 0;
    od::json_type type;
    if (auto err = v.type().get(type)) return json_error(err);
    if (type == od::json_type::number) {
      if (auto err = v.get_double().get(seconds)) return json_error(err);
    } else if (type == od::json_type::string) {
      std::string_view s;
      if (auto err = v.get_string().get(s)) return json_error(err);
      if (!parse_float(s, seconds)) return fail("sample timestamp \"" + snippet(s) + "\" is not a number");
    } else {
      return fail("sample timestamp is not a number");
    }
    // Millisecond resolution; bounded so the conversion cannot overflow.
    if (!std::isfinite(seconds) || std::fabs(seconds) > 1e12) return fail("sample timestamp out of range");
    t = TimePoint(Duration(std::llround(seconds * 1000.0)));
    return true;
  }

  bool parse_value(od::value& v, double& x) {
    od::json_type type;
    if (auto err = v.type().get(type)) return json_error(err);
    if (type == od::json_type::string) {
      std::string_view s;
      if (auto err = v.get_string().get(s)) return json_error(err);
      if (!parse_float(s, x)) return fail("sample value \"" + snippet(s) + "\" is not a number");
      return true;
    }
    if (type == od::json_type::number) {  // not Prometheus, but harmless to accept
      if (auto err = v.get_double().get(x)) return json_error(err);
      return true;
    }
    return fail("sample value is not a number");
  }

  Mode mode_;
  std::string status_;
  std::string error_type_;
  std::string server_error_;
  std::string result_type_;
  bool has_data_ = false;
  bool has_result_ = false;
  Shape shape_ = Shape::Unknown;
  double pair_value_ = 0;
  bool pair_has_value_ = false;
  std::string pair_text_;  // a pair's value that is not a number
  std::string error_;
  bool syntax_error_ = false;
};

bool is_success(int http_status) { return http_status == 0 || (http_status >= 200 && http_status < 300); }

/// Runs the parser and decides the outcome, taking the HTTP status into account: a non-2xx
/// answer that is not Prometheus's error envelope is reported by its status and a snippet.
template <typename Outcome>
void run(ResponseParser& p, std::string_view body, int http_status, Outcome& out) {
  out.http_status = http_status;
  bool parsed = p.parse(body);
  bool finished = parsed && p.finish();
  if (finished && is_success(http_status)) {
    out.ok = true;
    return;
  }
  out.ok = false;
  if (is_success(http_status) || (parsed && p.is_error_envelope())) {
    out.error = p.error();
    if (p.syntax_error()) {
      std::string s = snippet(body);
      out.error += s.empty() ? std::string(" (empty body)") : "; body: " + s;
    }
    return;
  }
  out.error = http_status_error(http_status);
  std::string s = snippet(body);
  if (!s.empty()) out.error += ": " + s;
}

}  // namespace

std::string body_snippet(std::string_view body) { return snippet(body); }

std::string http_status_error(int http_status) {
  std::string text = "server returned HTTP status " + std::to_string(http_status);
  std::string_view reason = reason_phrase(http_status);
  if (!reason.empty()) {
    text += ' ';
    text += reason;
  }
  return text;
}

QueryOutcome parse_query_response(std::string_view body, int http_status) {
  QueryOutcome out;
  ResponseParser p(Mode::Instant);
  run(p, body, http_status, out);
  out.result.warnings = std::move(p.warnings);
  out.result.skipped_histograms = p.skipped_histograms;
  if (out.ok) out.result.samples = std::move(p.samples);
  return out;
}

RangeOutcome parse_range_response(std::string_view body, int http_status) {
  RangeOutcome out;
  ResponseParser p(Mode::Range);
  run(p, body, http_status, out);
  out.warnings = std::move(p.warnings);
  out.skipped_histograms = p.skipped_histograms;
  if (out.ok) out.series = std::move(p.series);
  return out;
}

std::vector<std::pair<TimePoint, QueryOutcome>> range_to_instants(const RangeOutcome& range, TimePoint start,
                                                                  TimePoint end, Duration step) {
  std::map<TimePoint, std::vector<Sample>> by_time;
  for (const auto& series : range.series) {
    for (const auto& [t, v] : series.points) by_time[t].push_back(Sample{series.labels, v});
  }
  std::vector<std::pair<TimePoint, QueryOutcome>> steps;
  if (step <= Duration::zero()) return steps;
  for (TimePoint t = start; t <= end; t += step) {
    QueryOutcome outcome;
    outcome.ok = true;
    if (auto it = by_time.find(t); it != by_time.end()) outcome.result.samples = std::move(it->second);
    steps.emplace_back(t, std::move(outcome));
  }
  return steps;
}

}  // namespace promwatch
