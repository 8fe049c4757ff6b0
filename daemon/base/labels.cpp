#include "promwatch/labels.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>

namespace promwatch {

namespace {

bool name_less(const Label& a, const Label& b) { return a.name < b.name; }

}  // namespace

Labels::Labels(std::initializer_list<Label> pairs) : Labels(std::vector<Label>(pairs)) {}

Labels::Labels(std::vector<Label> pairs) {
  // Stable sort keeps input order among equal names, so "a later duplicate wins" is the last
  // element of each run.
  std::stable_sort(pairs.begin(), pairs.end(), name_less);
  auto kept = [&](std::size_t i) {
    return !(i + 1 < pairs.size() && pairs[i + 1].name == pairs[i].name) && !pairs[i].value.empty();
  };
  std::size_t count = 0;
  for (std::size_t i = 0; i < pairs.size(); ++i) count += kept(i);
  if (count == 0) return;
  auto rep = std::make_unique<Rep>();
  if (count == pairs.size() && pairs.capacity() == count) {
    rep->items = std::move(pairs);
  } else {
    // Exact capacity: sets are often built with room to spare and then held long.
    rep->items.reserve(count);
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      if (kept(i)) rep->items.push_back(std::move(pairs[i]));
    }
  }
  rep_ = rep.release();
}

std::vector<Label>& Labels::mutable_items() {
  if (!rep_) {
    rep_ = new Rep;
  } else if (rep_->refs.load(std::memory_order_acquire) != 1) {
    // Shared: take a private copy (exact capacity). The acquire load orders our later writes
    // after the reads of owners on other threads that have let go of it since.
    auto own = std::make_unique<Rep>();
    own->items = rep_->items;
    release(rep_);
    rep_ = own.release();
  }
  return rep_->items;
}

namespace {

std::vector<Label>::const_iterator find_name(const std::vector<Label>& items, std::string_view name) {
  return std::lower_bound(items.begin(), items.end(), name,
                          [](const Label& l, std::string_view n) { return l.name < n; });
}

}  // namespace

std::string_view Labels::get(std::string_view name) const {
  const auto& items = this->items();
  auto it = find_name(items, name);
  if (it != items.end() && it->name == name) return it->value;
  return {};
}

bool Labels::has(std::string_view name) const { return !get(name).empty(); }

void Labels::set(std::string_view name, std::string_view value) {
  // Nothing changes when the label already has this value (or is absent and `value` is empty):
  // a shared vector stays shared.
  const auto& current = items();
  const auto cit = find_name(current, name);
  const bool found = cit != current.end() && cit->name == name;
  if (found ? cit->value == value : value.empty()) return;
  const auto index = cit - current.begin();
  std::vector<Label>& items = mutable_items();  // may copy: `current` and `cit` are stale
  auto it = items.begin() + index;
  if (value.empty()) {
    items.erase(it);
  } else if (found) {
    it->value.assign(value);
  } else {
    items.insert(it, Label{std::string(name), std::string(value)});
  }
}

void Labels::erase(std::string_view name) { set(name, {}); }

void Labels::add_missing(const Labels& other) {
  std::size_t missing = 0;
  for (const auto& l : other) {
    if (!has(l.name)) ++missing;
  }
  // Nothing missing is the usual case for external labels: then nothing is copied. When
  // something is, `other` has its own vector (a set sharing ours lacks nothing), which our
  // copy-on-write leaves alone.
  if (missing == 0) return;
  std::vector<Label>& items = mutable_items();
  items.reserve(items.size() + missing);  // exact: the set is often held long after
  for (const auto& l : other) {
    if (!has(l.name)) set(l.name, l.value);
  }
}

// When `other` is this object or shares its vector, no `set` changes anything.
void Labels::merge(const Labels& other) {
  for (const auto& l : other) set(l.name, l.value);
}

std::uint64_t Labels::fingerprint() const {
  // FNV-1a, 64 bit, as Prometheus's model.hashNew/hashAdd/hashAddByte.
  constexpr std::uint64_t kOffset = 14695981039346656037ull;
  constexpr std::uint64_t kPrime = 1099511628211ull;
  constexpr unsigned char kSeparator = 0xff;
  std::uint64_t h = kOffset;
  auto add = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= kPrime;
    }
  };
  auto add_byte = [&h](unsigned char c) {
    h ^= c;
    h *= kPrime;
  };
  for (const auto& l : items()) {
    add(l.name);
    add_byte(kSeparator);
    add(l.value);
    add_byte(kSeparator);
  }
  return h;
}

std::string Labels::to_string() const {
  std::string out = "{";
  bool first = true;
  for (const auto& l : items()) {
    if (!first) out += ", ";
    first = false;
    out += l.name;
    out += '=';
    out += go_quote(l.value);
  }
  out += '}';
  return out;
}

std::string fingerprint_hex(std::uint64_t fingerprint) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(fingerprint));
  return buf;
}

namespace {

// Length of a valid UTF-8 sequence starting at s[i], or 0 when it is not valid.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  std::uint32_t min = 0;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
    min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  std::uint32_t cp = c & (0xff >> (len + 1));
  for (std::size_t k = 1; k < len; ++k) {
    auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

}  // namespace

std::string go_quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      // Valid UTF-8 is kept as is; an invalid byte becomes \xHH, as strconv.Quote does.
      std::size_t len = utf8_sequence_length(text, i);
      if (len > 0) {
        out.append(text.substr(i, len));
        i += len;
      } else {
        char buf[5];
        std::snprintf(buf, sizeof buf, "\\x%02x", c);
        out += buf;
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\v': out += "\\v"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[5];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
  return out;
}

bool is_valid_label_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

bool is_valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

}  // namespace promwatch
