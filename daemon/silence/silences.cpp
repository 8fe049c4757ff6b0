// Silences with Alertmanager's semantics (silence/silence.go), and their durable JSON record.

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include <nlohmann/json.hpp>

#include "silence_internal.hpp"

namespace promwatch {

std::string_view to_string(SilenceState state) {
  switch (state) {
    case SilenceState::Pending:
      return "pending";
    case SilenceState::Active:
      return "active";
    case SilenceState::Expired:
      return "expired";
  }
  return "expired";
}

SilenceState Silence::state(TimePoint now) const {
  if (now < starts_at) return SilenceState::Pending;
  if (now < ends_at) return SilenceState::Active;
  return SilenceState::Expired;
}

bool Silence::matches(const Labels& labels) const { return matches_all(matchers, labels); }

namespace silence_detail {

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int n = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<std::size_t>(n) >= s.size()) return false;
    for (int k = 1; k <= n; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += static_cast<std::size_t>(n) + 1;
  }
  return true;
}

// AM's matchesEmpty: only = and =~ are considered.
bool matches_empty(const Matcher& m) {
  switch (m.type()) {
    case MatchType::Equal:
      return m.value().empty();
    case MatchType::Regex:
      return m.matches(Labels{});
    default:
      return false;
  }
}

std::string uuid_from_bytes(const unsigned char* b) {
  unsigned char u[16];
  std::copy(b, b + 16, u);
  u[6] = static_cast<unsigned char>((u[6] & 0x0F) | 0x40);  // version 4
  u[8] = static_cast<unsigned char>((u[8] & 0x3F) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
                u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
  return out;
}

nlohmann::ordered_json matcher_json(const Matcher& m, bool am_order) {
  const bool is_regex = m.type() == MatchType::Regex || m.type() == MatchType::NotRegex;
  const bool is_equal = m.type() == MatchType::Equal || m.type() == MatchType::Regex;
  nlohmann::ordered_json j;
  if (am_order) {
    j["isEqual"] = is_equal;
    j["isRegex"] = is_regex;
    j["name"] = m.name();
    j["value"] = m.value();
  } else {
    j["name"] = m.name();
    j["value"] = m.value();
    j["isRegex"] = is_regex;
    j["isEqual"] = is_equal;
  }
  return j;
}

std::string dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

MatchType match_type(bool is_equal, bool is_regex) {
  if (is_regex) return is_equal ? MatchType::Regex : MatchType::NotRegex;
  return is_equal ? MatchType::Equal : MatchType::NotEqual;
}

}  // namespace silence_detail

using namespace silence_detail;

std::string validate_silence(const Silence& s) {
  if (s.matchers.empty()) return "at least one matcher required";
  bool all_empty = true;
  for (std::size_t i = 0; i < s.matchers.size(); ++i) {
    const Matcher& m = s.matchers[i];
    const std::string prefix = "invalid label matcher " + std::to_string(i) + ": ";
    if (!is_valid_label_name(m.name())) return prefix + "invalid label name " + go_quote(m.name());
    if ((m.type() == MatchType::Equal || m.type() == MatchType::NotEqual) && !valid_utf8(m.value()))
      return prefix + "invalid label value " + go_quote(m.value());
    all_empty = all_empty && matches_empty(m);
  }
  if (all_empty) return "at least one matcher must not match the empty string";
  if (s.starts_at == TimePoint{}) return "invalid zero start timestamp";
  if (s.ends_at == TimePoint{}) return "invalid zero end timestamp";
  if (s.ends_at < s.starts_at) return "end time must not be before start time";
  if (s.updated_at == TimePoint{}) return "invalid zero update timestamp";
  return "";
}

std::string new_uuid_v4() {
  static thread_local std::mt19937_64 rng{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }()};
  unsigned char b[16];
  for (int i = 0; i < 16; i += 8) {
    const std::uint64_t v = rng();
    for (int k = 0; k < 8; ++k) b[i + k] = static_cast<unsigned char>(v >> (8 * k));
  }
  return uuid_from_bytes(b);
}

bool is_uuid(std::string_view t) {
  if (t.size() != 36) return false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

namespace {

// A stable id for a static silence: a UUID v4-shaped digest of its content.
std::string static_id(const StaticSilenceConfig& c) {
  std::string text = "promwatch static silence\n";
  for (const auto& m : c.matchers) text += m.to_string() + "\n";
  text += std::to_string(c.starts_at.time_since_epoch().count()) + "\n";
  text += std::to_string(c.ends_at.time_since_epoch().count()) + "\n";
  text += c.comment;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
  return uuid_from_bytes(digest);
}

bool same_matchers(const std::vector<Matcher>& a, const std::vector<Matcher>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].type() != b[i].type() || a[i].name() != b[i].name() || a[i].value() != b[i].value()) return false;
  }
  return true;
}

std::int64_t unix_seconds(TimePoint t) {
  const auto ms = t.time_since_epoch().count();
  return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
}

// AM's canUpdate: whether `b` may replace `a` in place without rewriting history.
bool can_update(const Silence& a, const Silence& b, TimePoint now) {
  if (!same_matchers(a.matchers, b.matchers)) return false;
  switch (a.state(now)) {
    case SilenceState::Active:
      if (unix_seconds(b.starts_at) != unix_seconds(a.starts_at)) return false;
      if (b.ends_at < now) return false;
      return true;
    case SilenceState::Pending:
      return !(b.starts_at < now);
    case SilenceState::Expired:
      return false;
  }
  return false;
}

SilenceError error(SilenceError::Kind kind, std::string message) { return SilenceError{kind, std::move(message)}; }

}  // namespace

SilenceSet::SilenceSet(SilenceLimits limits, IdGenerator ids) : limits_(limits), ids_(std::move(ids)) {
  if (!ids_) ids_ = new_uuid_v4;
}

void SilenceSet::set_static(const std::vector<StaticSilenceConfig>& silences) {
  for (auto it = silences_.begin(); it != silences_.end();) {
    it = it->second.is_static ? silences_.erase(it) : std::next(it);
  }
  static_count_ = 0;
  for (const auto& c : silences) {
    Silence s;
    s.id = static_id(c);
    s.matchers = c.matchers;
    s.starts_at = c.starts_at;
    s.ends_at = c.ends_at;
    s.updated_at = c.starts_at;
    s.created_by = "promwatch config";
    s.comment = c.comment;
    if (silences_.count(s.id)) continue;  // an identical one (or, absurdly, a runtime id)
    std::string key = s.id;
    silences_.emplace(std::move(key), Entry{std::move(s), true});
    ++static_count_;
  }
}

SilenceChange SilenceSet::create(Silence s, TimePoint now, std::vector<Silence> changed) {
  SilenceChange out;
  out.changed = std::move(changed);
  if (runtime_count() >= limits_.max_silences) {
    out.error = error(SilenceError::Kind::Full, "exceeded maximum number of silences: " +
                                                    std::to_string(runtime_count()) +
                                                    " (limit: " + std::to_string(limits_.max_silences) + ")");
    return out;
  }
  if (s.starts_at < now) s.starts_at = now;
  s.updated_at = now;
  if (std::string why = validate_silence(s); !why.empty()) {
    out.error = error(SilenceError::Kind::Invalid, "silence invalid: " + why);
    return out;
  }
  std::string id;
  for (int attempt = 0; attempt < 8; ++attempt) {
    id = ids_();
    if (!id.empty() && !silences_.count(id)) break;
    id.clear();
  }
  if (id.empty()) {
    out.error = error(SilenceError::Kind::Invalid, "generate uuid: no unique id");
    return out;
  }
  s.id = id;
  out.id = s.id;
  out.changed.push_back(s);
  silences_.emplace(id, Entry{std::move(s), false});
  return out;
}

SilenceChange SilenceSet::set(Silence s, TimePoint now) {
  if (s.id.empty()) return create(std::move(s), now, {});
  auto it = silences_.find(s.id);
  SilenceChange out;
  out.id = s.id;
  if (it == silences_.end()) {
    out.error = error(SilenceError::Kind::NotFound, "silence not found");
    return out;
  }
  if (it->second.is_static) {
    out.error = error(SilenceError::Kind::ReadOnly,
                      "silence " + s.id + " is defined in the configuration file and cannot be changed");
    return out;
  }
  Silence& prev = it->second.silence;
  if (can_update(prev, s, now)) {
    s.updated_at = now;
    if (std::string why = validate_silence(s); !why.empty()) {
      out.error = error(SilenceError::Kind::Invalid, "silence invalid: " + why);
      return out;
    }
    prev = s;
    out.changed.push_back(prev);
    return out;
  }
  // Validate the replacement before touching the old one, so a bad update changes nothing.
  {
    Silence probe = s;
    if (probe.starts_at < now) probe.starts_at = now;
    probe.updated_at = now;
    if (std::string why = validate_silence(probe); !why.empty()) {
      out.error = error(SilenceError::Kind::Invalid, "silence invalid: " + why);
      return out;
    }
  }
  if (runtime_count() >= limits_.max_silences) {
    out.error = error(SilenceError::Kind::Full, "exceeded maximum number of silences: " +
                                                    std::to_string(runtime_count()) +
                                                    " (limit: " + std::to_string(limits_.max_silences) + ")");
    return out;
  }
  std::vector<Silence> changed;
  if (prev.state(now) != SilenceState::Expired) {
    auto expired = expire(prev.id, now);
    changed = std::move(expired.changed);
  }
  s.id.clear();
  return create(std::move(s), now, std::move(changed));
}

SilenceChange SilenceSet::expire(std::string_view id, TimePoint now) {
  SilenceChange out;
  out.id = std::string(id);
  auto it = silences_.find(id);
  if (it == silences_.end()) {
    out.error = error(SilenceError::Kind::NotFound, "silence not found");
    return out;
  }
  if (it->second.is_static) {
    out.error = error(SilenceError::Kind::ReadOnly,
                      "silence " + std::string(id) + " is defined in the configuration file and cannot be expired");
    return out;
  }
  Silence& s = it->second.silence;
  switch (s.state(now)) {
    case SilenceState::Expired:
      return out;
    case SilenceState::Active:
      s.ends_at = now;
      break;
    case SilenceState::Pending:
      s.starts_at = now;
      s.ends_at = now;
      break;
  }
  s.updated_at = now;
  out.changed.push_back(s);
  return out;
}

bool SilenceSet::restore(Silence s) {
  if (s.id.empty() || silences_.count(s.id) || runtime_count() >= limits_.max_silences) return false;
  const std::string id = s.id;
  silences_.emplace(id, Entry{std::move(s), false});
  return true;
}

bool SilenceSet::merge(Silence s, TimePoint now) {
  if (s.id.empty() || s.ends_at + limits_.retention <= now) return false;
  auto it = silences_.find(s.id);
  if (it == silences_.end()) return restore(std::move(s));
  if (it->second.is_static || it->second.silence.updated_at >= s.updated_at) return false;
  it->second.silence = std::move(s);
  return true;
}

std::vector<std::string> SilenceSet::gc(TimePoint now) {
  std::vector<std::string> removed;
  for (auto it = silences_.begin(); it != silences_.end();) {
    if (!it->second.is_static && it->second.silence.ends_at + limits_.retention <= now) {
      removed.push_back(it->first);
      it = silences_.erase(it);
    } else {
      ++it;
    }
  }
  return removed;
}

const Silence* SilenceSet::get(std::string_view id) const {
  auto it = silences_.find(id);
  return it == silences_.end() ? nullptr : &it->second.silence;
}

bool SilenceSet::is_static(std::string_view id) const {
  auto it = silences_.find(id);
  return it != silences_.end() && it->second.is_static;
}

std::vector<const Silence*> SilenceSet::list() const {
  std::vector<const Silence*> out;
  out.reserve(silences_.size());
  for (const auto& [id, e] : silences_) out.push_back(&e.silence);
  return out;
}

std::vector<std::string> SilenceSet::silenced_by(const Labels& labels, TimePoint now) const {
  std::vector<std::string> ids;
  for (const auto& [id, e] : silences_) {
    if (e.silence.state(now) == SilenceState::Active && e.silence.matches(labels)) ids.push_back(id);
  }
  return ids;  // the map is ordered by id
}

bool SilenceSet::silenced(const Labels& labels, TimePoint now) const {
  for (const auto& [id, e] : silences_) {
    if (e.silence.state(now) == SilenceState::Active && e.silence.matches(labels)) return true;
  }
  return false;
}

// --- durable record ---------------------------------------------------------------------------

std::string to_json(const Silence& s) {
  nlohmann::ordered_json j;
  j["id"] = s.id;
  auto& ms = j["matchers"] = nlohmann::ordered_json::array();
  for (const auto& m : s.matchers) ms.push_back(matcher_json(m, false));
  j["startsAt"] = format_api_time(s.starts_at);
  j["endsAt"] = format_api_time(s.ends_at);
  j["updatedAt"] = format_api_time(s.updated_at);
  j["createdBy"] = s.created_by;
  j["comment"] = s.comment;
  return dump(j);
}

std::optional<Silence> silence_from_json(std::string_view text, std::string* err) {
  auto fail = [&](const std::string& why) -> std::optional<Silence> {
    if (err) *err = "silence record: " + why;
    return std::nullopt;
  };
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("not a JSON object");
  auto str = [&](const char* key, std::string& out) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  auto time = [&](const char* key, TimePoint& out) {
    std::string v;
    if (!str(key, v)) return false;
    auto t = parse_api_time(v);
    if (!t) return false;
    out = *t;
    return true;
  };
  Silence s;
  if (!str("id", s.id) || s.id.empty()) return fail("missing id");
  if (!time("startsAt", s.starts_at) || !time("endsAt", s.ends_at) || !time("updatedAt", s.updated_at))
    return fail("bad or missing time");
  if (!str("createdBy", s.created_by) || !str("comment", s.comment)) return fail("missing createdBy or comment");
  auto ms = j.find("matchers");
  if (ms == j.end() || !ms->is_array()) return fail("missing matchers");
  for (const auto& m : *ms) {
    if (!m.is_object()) return fail("bad matcher");
    auto name = m.find("name"), value = m.find("value"), re = m.find("isRegex"), eq = m.find("isEqual");
    if (name == m.end() || !name->is_string() || value == m.end() || !value->is_string() || re == m.end() ||
        !re->is_boolean() || (eq != m.end() && !eq->is_boolean()))
      return fail("bad matcher");
    std::string e;
    auto matcher = Matcher::make(match_type(eq == m.end() || eq->get<bool>(), re->get<bool>()),
                                 name->get<std::string>(), value->get<std::string>(), &e);
    if (!matcher) return fail(e);
    s.matchers.push_back(std::move(*matcher));
  }
  return s;
}

}  // namespace promwatch
