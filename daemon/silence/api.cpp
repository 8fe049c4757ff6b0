// Alertmanager's v2 API bodies for silences and alerts (api/v2 in Alertmanager 0.25), so that
// amtool works against promwatch.

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "silence_internal.hpp"

namespace promwatch {

using silence_detail::dump;
using silence_detail::matcher_json;
using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

std::string format_api_time(TimePoint t) {
  using namespace std::chrono;
  if (t == TimePoint{}) return "0001-01-01T00:00:00.000Z";  // Go's zero time
  const auto days = floor<std::chrono::days>(t);
  const year_month_day ymd{days};
  const auto ms = (t - days).count();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(ms / 3600000), static_cast<int>(ms / 60000 % 60), static_cast<int>(ms / 1000 % 60),
                static_cast<int>(ms % 1000));
  return buf;
}

namespace silence_detail {

std::optional<TimePoint> parse_api_time(std::string_view text) {
  // RFC 3339 (parse_time also takes Unix seconds, which strfmt.DateTime does not), and, as
  // strfmt does, a date-time without an offset, read as UTC.
  if (text.size() < 19 || text[4] != '-' || text[7] != '-' || text[13] != ':') return std::nullopt;
  static const TimePoint go_zero = *parse_time("0001-01-01T00:00:00Z");
  if (auto t = parse_time(text)) return *t == go_zero ? TimePoint{} : *t;
  const char last = text.back();
  if (last == 'Z' || last == 'z' || text.find_first_of("+", 19) != std::string_view::npos ||
      text.find('-', 19) != std::string_view::npos)
    return std::nullopt;
  return parse_time(std::string(text) + "Z");
}

std::string go_json(const nlohmann::ordered_json& j) {
  const std::string raw = dump(j);
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else if (c == '\xE2' && i + 2 < raw.size() && raw[i + 1] == '\x80' && (raw[i + 2] == '\xA8' || raw[i + 2] == '\xA9')) {
      out += raw[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace silence_detail

using silence_detail::go_json;
using silence_detail::parse_api_time;

namespace {

// What go-openapi's JSON producer writes: Go's json.Encoder, which escapes <, > and & and ends
// with a newline.
std::string produce(const ojson& j) { return go_json(j) + "\n"; }

// A JSON string body: how Alertmanager's handlers answer errors.
ApiResponse string_error(int status, const std::string& message) {
  return ApiResponse{status, produce(ojson(message)), {}};
}

// go-openapi's error body: {"code":N,"message":"..."}; codes >= 600 are served as 422.
ApiResponse openapi_error(int code, const std::string& message) {
  ojson j;
  j["code"] = code;
  j["message"] = message;
  return ApiResponse{code >= 600 ? 422 : code, go_json(j), {}};
}

// go-openapi's codes as Alertmanager 0.25 serves them.
constexpr int kInvalidTypeCode = 601;
constexpr int kRequiredCode = 602;
constexpr int kMinItemsCode = 612;

ApiResponse parse_error(const std::string& because) {
  return openapi_error(400, "parsing silence body from \"\" failed, because " + because);
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// Go's encoding/json: an exact key wins, else a case-insensitive match. Null counts as absent.
const json* field(const json& obj, std::string_view key) {
  auto exact = obj.find(std::string(key));
  if (exact != obj.end()) return exact->is_null() ? nullptr : &*exact;
  const json* found = nullptr;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (iequals(it.key(), key)) found = &it.value();  // the last one wins, as in Go
  }
  return found && !found->is_null() ? found : nullptr;
}

std::string go_json_type(const json& v) {
  if (v.is_string()) return "string";
  if (v.is_number()) return "number";
  if (v.is_boolean()) return "bool";
  if (v.is_array()) return "array";
  if (v.is_object()) return "object";
  return "null";
}

std::string type_error(const json& v, const std::string& go_field, const char* go_type) {
  return "json: cannot unmarshal " + go_json_type(v) + " into Go struct field " + go_field + " of type " + go_type;
}

}  // namespace

std::optional<Silence> parse_postable_silence(std::string_view body, ApiResponse* error) {
  auto fail = [&](ApiResponse r) -> std::optional<Silence> {
    if (error) *error = std::move(r);
    return std::nullopt;
  };
  if (std::all_of(body.begin(), body.end(), [](unsigned char c) { return std::isspace(c); }))
    return fail(openapi_error(kRequiredCode, "silence in body is required"));
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {
    return fail(parse_error(e.what()));
  }
  if (j.is_null()) j = json::object();  // Go decodes `null` into the zero value
  if (!j.is_object())
    return fail(parse_error("json: cannot unmarshal " + go_json_type(j) +
                            " into Go value of type struct { ID string \"json:\\\"id,omitempty\\\"\" }"));

  Silence s;
  const json* id = field(j, "id");
  const json* comment = field(j, "comment");
  const json* created_by = field(j, "createdBy");
  const json* ends_at = field(j, "endsAt");
  const json* matchers = field(j, "matchers");
  const json* starts_at = field(j, "startsAt");

  // Decoding: a value of the wrong JSON type is a parse error (400).
  if (id && !id->is_string()) return fail(parse_error(type_error(*id, ".id", "string")));
  if (comment && !comment->is_string()) return fail(parse_error(type_error(*comment, "Silence.comment", "string")));
  if (created_by && !created_by->is_string())
    return fail(parse_error(type_error(*created_by, "Silence.createdBy", "string")));
  for (auto [v, name] : {std::pair{starts_at, "startsAt"}, std::pair{ends_at, "endsAt"}}) {
    if (!v) continue;
    if (!v->is_string()) return fail(parse_error(type_error(*v, std::string("Silence.") + name, "string")));
    const std::string& text = v->get_ref<const std::string&>();
    auto t = parse_api_time(text);
    if (!t) {
      return fail(parse_error("parsing time " + go_quote(text) + " as \"2006-01-02 15:04:05\": cannot parse " +
                              go_quote(text) + " as \"2006\""));
    }
    (std::string_view(name) == "startsAt" ? s.starts_at : s.ends_at) = *t;
  }
  if (matchers && !matchers->is_array())
    return fail(parse_error(type_error(*matchers, "Silence.matchers", "models.Matchers")));
  struct RawMatcher {
    const json* name;
    const json* value;
    const json* is_regex;
    const json* is_equal;
  };
  std::vector<RawMatcher> raw;
  if (matchers) {
    for (const auto& m : *matchers) {
      if (!m.is_object()) return fail(parse_error(type_error(m, "Silence.matchers", "models.Matcher")));
      RawMatcher r{field(m, "name"), field(m, "value"), field(m, "isRegex"), field(m, "isEqual")};
      if (r.name && !r.name->is_string())
        return fail(parse_error(type_error(*r.name, "Matcher.matchers.name", "string")));
      if (r.value && !r.value->is_string())
        return fail(parse_error(type_error(*r.value, "Matcher.matchers.value", "string")));
      if (r.is_regex && !r.is_regex->is_boolean())
        return fail(parse_error(type_error(*r.is_regex, "Matcher.matchers.isRegex", "bool")));
      if (r.is_equal && !r.is_equal->is_boolean())
        return fail(parse_error(type_error(*r.is_equal, "Matcher.matchers.isEqual", "bool")));
      raw.push_back(r);
    }
  }

  // Schema validation (422), in go-swagger's order; the first failure is served.
  if (!comment) return fail(openapi_error(kRequiredCode, "comment in body is required"));
  if (!created_by) return fail(openapi_error(kRequiredCode, "createdBy in body is required"));
  if (!ends_at) return fail(openapi_error(kRequiredCode, "endsAt in body is required"));
  if (!matchers) return fail(openapi_error(kRequiredCode, "matchers in body is required"));
  if (raw.empty()) return fail(openapi_error(kMinItemsCode, "matchers in body should have at least 1 items"));
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const std::string prefix = "matchers." + std::to_string(i) + ".";
    if (!raw[i].is_regex) return fail(openapi_error(kRequiredCode, prefix + "isRegex in body is required"));
    if (!raw[i].name) return fail(openapi_error(kRequiredCode, prefix + "name in body is required"));
    if (!raw[i].value) return fail(openapi_error(kRequiredCode, prefix + "value in body is required"));
  }
  if (!starts_at) return fail(openapi_error(kRequiredCode, "startsAt in body is required"));

  if (id) s.id = id->get<std::string>();
  s.comment = comment->get<std::string>();
  s.created_by = created_by->get<std::string>();
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const bool is_equal = raw[i].is_equal ? raw[i].is_equal->get<bool>() : true;
    std::string e;
    auto m = Matcher::make(silence_detail::match_type(is_equal, raw[i].is_regex->get<bool>()),
                           raw[i].name->get<std::string>(), raw[i].value->get<std::string>(), &e);
    if (!m) return fail(string_error(400, "silence invalid: invalid label matcher " + std::to_string(i) + ": " + e));
    s.matchers.push_back(std::move(*m));
  }
  return s;
}

namespace {

ojson gettable_silence(const Silence& s, TimePoint now) {
  ojson j;
  j["id"] = s.id;
  j["status"] = ojson{{"state", std::string(to_string(s.state(now)))}};
  j["updatedAt"] = format_api_time(s.updated_at);
  j["comment"] = s.comment;
  j["createdBy"] = s.created_by;
  j["endsAt"] = format_api_time(s.ends_at);
  auto& ms = j["matchers"] = ojson::array();
  for (const auto& m : s.matchers) ms.push_back(matcher_json(m, true));
  j["startsAt"] = format_api_time(s.starts_at);
  return j;
}

int state_order(SilenceState s) {
  switch (s) {
    case SilenceState::Active:
      return 1;
    case SilenceState::Pending:
      return 2;
    case SilenceState::Expired:
      return 3;
  }
  return 3;
}

ApiResponse bad_uuid(std::string_view id) {
  return openapi_error(kInvalidTypeCode, "silenceID in path must be of type uuid: " + go_quote(id));
}

}  // namespace

std::string render_gettable_silence(const Silence& s, TimePoint now) { return go_json(gettable_silence(s, now)); }

std::string render_gettable_silences(std::vector<const Silence*> silences, TimePoint now) {
  std::stable_sort(silences.begin(), silences.end(), [now](const Silence* a, const Silence* b) {
    const SilenceState sa = a->state(now), sb = b->state(now);
    if (sa != sb) return state_order(sa) < state_order(sb);
    switch (sa) {
      case SilenceState::Active:
        return a->ends_at < b->ends_at;
      case SilenceState::Pending:
        return a->starts_at < b->starts_at;
      case SilenceState::Expired:
        return a->ends_at > b->ends_at;
    }
    return false;
  });
  ojson arr = ojson::array();
  for (const Silence* s : silences) arr.push_back(gettable_silence(*s, now));
  return go_json(arr);
}

ApiResponse api_get_silences(const SilenceSet& set, const std::vector<std::string>& filters, TimePoint now) {
  std::vector<Matcher> matchers;
  for (const auto& f : filters) {
    std::string e;
    auto m = Matcher::parse(f, &e);
    if (!m) return string_error(400, "bad matcher format: " + f);
    matchers.push_back(std::move(*m));
  }
  std::vector<const Silence*> out;
  for (const Silence* s : set.list()) {
    const bool keep = std::all_of(matchers.begin(), matchers.end(), [&](const Matcher& f) {
      return std::any_of(s->matchers.begin(), s->matchers.end(), [&](const Matcher& m) {
        return m.name() == f.name() && m.type() == f.type() && m.value() == f.value();
      });
    });
    if (keep) out.push_back(s);
  }
  return ApiResponse{200, render_gettable_silences(std::move(out), now) + "\n", {}};
}

ApiResponse api_get_silence(const SilenceSet& set, std::string_view id, TimePoint now) {
  if (!is_uuid(id)) return bad_uuid(id);
  const Silence* s = set.get(id);
  if (!s) return ApiResponse{404, "", {}};
  return ApiResponse{200, render_gettable_silence(*s, now) + "\n", {}};
}

ApiResponse api_post_silences(SilenceSet& set, std::string_view body, TimePoint now) {
  ApiResponse err;
  auto s = parse_postable_silence(body, &err);
  if (!s) return err;
  if (!(s->starts_at < s->ends_at))
    return string_error(400, "Failed to create silence: start time must be before end time");
  if (s->ends_at < now) return string_error(400, "Failed to create silence: end time can't be in the past");
  SilenceChange c = set.set(std::move(*s), now);
  if (!c.ok()) {
    ApiResponse r = string_error(c.error->kind == SilenceError::Kind::NotFound ? 404 : 400, c.error->message);
    r.changed = std::move(c.changed);
    return r;
  }
  ojson j;
  j["silenceID"] = c.id;
  return ApiResponse{200, produce(j), std::move(c.changed)};
}

ApiResponse api_delete_silence(SilenceSet& set, std::string_view id, TimePoint now) {
  if (!is_uuid(id)) return bad_uuid(id);
  SilenceChange c = set.expire(id, now);
  if (!c.ok()) {
    // Alertmanager 0.25 answers every failure, "silence not found" included, with a 500; its
    // amtool understands no other status here.
    return string_error(500, c.error->message);
  }
  return ApiResponse{200, "", std::move(c.changed)};
}

// --- alerts ------------------------------------------------------------------------------------

namespace {

std::string derived_state(const ApiAlert& a) {
  if (!a.state.empty()) return a.state;
  return a.silenced_by.empty() && a.inhibited_by.empty() ? "active" : "suppressed";
}

ojson label_object(const Labels& labels) {
  ojson j = ojson::object();
  for (const auto& l : labels) j[l.name] = l.value;
  return j;
}

// swag.ConvertBool.
std::optional<bool> parse_bool(std::string_view v) {
  std::string l(v);
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* t : {"true", "1", "yes", "ok", "y", "on", "selected", "checked", "t", "enabled"}) {
    if (l == t) return true;
  }
  for (const char* f : {"false", "0", "no", "n", "off", "f", "disabled"}) {
    if (l == f) return false;
  }
  return std::nullopt;
}

}  // namespace

std::string render_gettable_alerts(std::vector<ApiAlert> alerts) {
  std::vector<std::pair<std::string, const ApiAlert*>> sorted;
  sorted.reserve(alerts.size());
  for (const auto& a : alerts) sorted.emplace_back(fingerprint_hex(a.labels.fingerprint()), &a);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  ojson arr = ojson::array();
  for (const auto& [fp, a] : sorted) {
    ojson j;
    j["annotations"] = label_object(a->annotations);
    j["endsAt"] = format_api_time(a->ends_at);
    j["fingerprint"] = fp;
    auto& rs = j["receivers"] = ojson::array();
    for (const auto& r : a->receivers) rs.push_back(ojson{{"name", r}});
    j["startsAt"] = format_api_time(a->starts_at);
    ojson status;
    status["inhibitedBy"] = a->inhibited_by;
    status["silencedBy"] = a->silenced_by;
    status["state"] = derived_state(*a);
    j["status"] = std::move(status);
    j["updatedAt"] = format_api_time(a->updated_at);
    if (!a->generator_url.empty()) j["generatorURL"] = a->generator_url;
    j["labels"] = label_object(a->labels);
    arr.push_back(std::move(j));
  }
  return go_json(arr);
}

std::optional<AlertsQuery> parse_alerts_query(const std::multimap<std::string, std::string>& params,
                                              ApiResponse* error) {
  AlertsQuery q;
  auto fail = [&](ApiResponse r) -> std::optional<AlertsQuery> {
    if (error) *error = std::move(r);
    return std::nullopt;
  };
  for (auto [key, flag] : {std::pair{"active", &q.active}, std::pair{"silenced", &q.silenced},
                           std::pair{"inhibited", &q.inhibited}, std::pair{"unprocessed", &q.unprocessed}}) {
    auto it = params.find(key);
    if (it == params.end() || it->second.empty()) continue;
    // Alertmanager 0.25 answers an unparsable boolean with the default, not an error.
    if (auto b = parse_bool(it->second)) *flag = *b;
  }
  auto [lo, hi] = params.equal_range("filter");
  for (auto it = lo; it != hi; ++it) {
    std::string e;
    auto m = Matcher::parse(it->second, &e);
    if (!m) return fail(string_error(400, "bad matcher format: " + it->second));
    q.filter.push_back(std::move(*m));
  }
  if (auto it = params.find("receiver"); it != params.end()) {
    std::string e;
    auto m = Matcher::make(MatchType::Regex, "receiver", it->second, &e);
    if (!m) return fail(string_error(400, "failed to parse receiver param: " + e));
    q.receiver = std::move(*m);
  }
  return q;
}

bool alerts_query_matches(const AlertsQuery& q, const ApiAlert& a, TimePoint now) {
  if (a.ends_at != TimePoint{} && a.ends_at < now) return false;
  if (q.receiver) {
    const bool any = std::any_of(a.receivers.begin(), a.receivers.end(),
                                 [&](const std::string& r) { return q.receiver->matches(Labels{{"receiver", r}}); });
    if (!any) return false;
  }
  const std::string state = derived_state(a);
  if (!q.active && state == "active") return false;
  if (!q.unprocessed && state == "unprocessed") return false;
  if (!q.silenced && !a.silenced_by.empty()) return false;
  if (!q.inhibited && !a.inhibited_by.empty()) return false;
  // Alertmanager's matchFilterLabels: an empty-valued matcher is satisfied by absence (=, =~) or
  // presence (!=, !~) of the label.
  for (const auto& m : q.filter) {
    const bool present = a.labels.has(m.name());
    const bool negative = m.type() == MatchType::NotEqual || m.type() == MatchType::NotRegex;
    if (m.value().empty() && present == negative) continue;
    if (!m.matches(a.labels)) return false;
  }
  return true;
}

ApiResponse api_get_alerts(const std::vector<ApiAlert>& alerts, const std::multimap<std::string, std::string>& params,
                           TimePoint now) {
  ApiResponse err;
  auto q = parse_alerts_query(params, &err);
  if (!q) return err;
  std::vector<ApiAlert> out;
  for (const auto& a : alerts) {
    if (alerts_query_matches(*q, a, now)) out.push_back(a);
  }
  return ApiResponse{200, render_gettable_alerts(std::move(out)) + "\n", {}};
}

}  // namespace promwatch
