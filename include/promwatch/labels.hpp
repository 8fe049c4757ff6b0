#pragma once
/// \file
/// Label sets: the identity of series and alerts.
///
/// A `Labels` is a plain value: a vector of name/value pairs kept sorted by name, with unique
/// names and no empty values (an empty value means "absent", as in Prometheus and
/// Alertmanager). Cheap to copy for small sets; not thread-safe to mutate concurrently.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace promwatch {

struct Label {
  std::string name;
  std::string value;
  friend bool operator==(const Label&, const Label&) = default;
  friend auto operator<=>(const Label&, const Label&) = default;
};

class Labels {
 public:
  Labels() = default;
  /// Builds a set from pairs in any order. A later duplicate name wins; empty values are dropped.
  Labels(std::initializer_list<Label> pairs);
  explicit Labels(std::vector<Label> pairs);

  /// The value of `name`, or "" when the label is absent.
  std::string_view get(std::string_view name) const;
  bool has(std::string_view name) const;
  /// Sets `name` to `value`, keeping the set sorted. An empty value removes the label.
  void set(std::string_view name, std::string_view value);
  void erase(std::string_view name);
  /// Sets every label of `other` that this set lacks (external labels: "only where it lacks").
  void add_missing(const Labels& other);
  /// Sets every label of `other`, overriding ours.
  void merge(const Labels& other);

  const std::vector<Label>& items() const { return items_; }
  std::vector<Label>::const_iterator begin() const { return items_.begin(); }
  std::vector<Label>::const_iterator end() const { return items_.end(); }
  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }

  /// Prometheus/Alertmanager `model.LabelSet.Fingerprint`: 64-bit FNV-1a over the sorted
  /// names and values, each followed by the 0xff separator byte. Alertmanager prints it as %016x.
  std::uint64_t fingerprint() const;
  /// Prometheus's text form: `{a="b", c="d"}` with Go-quoted values.
  std::string to_string() const;

  friend bool operator==(const Labels&, const Labels&) = default;

 private:
  std::vector<Label> items_;  // sorted by name, unique names, non-empty values
};

/// The fingerprint as Alertmanager prints it: 16 lowercase hex digits.
std::string fingerprint_hex(std::uint64_t fingerprint);

/// Go's strconv.Quote for the ASCII/UTF-8 text found in label values.
std::string go_quote(std::string_view text);

/// True when `name` is a valid Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]*.
bool is_valid_label_name(std::string_view name);

}  // namespace promwatch
