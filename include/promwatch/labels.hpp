#pragma once
/// \file
/// Label sets: the identity of series and alerts.
///
/// A `Labels` is a plain value: a vector of name/value pairs kept sorted by name, with unique
/// names and no empty values (an empty value means "absent", as in Prometheus and
/// Alertmanager).
///
/// Copies share one immutable vector (copy-on-write, with an atomic reference count): copying is
/// a pointer copy and an increment, and a rule's alert, its transition, the dispatcher's event and
/// the inhibitor hold one vector between them instead of a copy each (~340 heap bytes for five
/// labels). A mutation that changes something first takes a private copy when the vector is
/// shared. Thread: copies may be read and destroyed on different threads; one `Labels` object
/// must not be used from another thread while it is mutated (as any standard container).

#include <atomic>
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

  Labels(const Labels& other) noexcept : rep_(other.rep_) { acquire(rep_); }
  Labels(Labels&& other) noexcept : rep_(other.rep_) { other.rep_ = nullptr; }
  Labels& operator=(const Labels& other) noexcept {
    acquire(other.rep_);
    release(rep_);
    rep_ = other.rep_;
    return *this;
  }
  Labels& operator=(Labels&& other) noexcept {
    if (this != &other) {
      release(rep_);
      rep_ = other.rep_;
      other.rep_ = nullptr;
    }
    return *this;
  }
  ~Labels() { release(rep_); }

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

  /// Valid while this object is not mutated or assigned (and exists).
  const std::vector<Label>& items() const { return rep_ ? rep_->items : kNoItems; }
  std::vector<Label>::const_iterator begin() const { return items().begin(); }
  std::vector<Label>::const_iterator end() const { return items().end(); }
  std::size_t size() const { return items().size(); }
  bool empty() const { return items().empty(); }

  /// Prometheus/Alertmanager `model.LabelSet.Fingerprint`: 64-bit FNV-1a over the sorted
  /// names and values, each followed by the 0xff separator byte. Alertmanager prints it as %016x.
  std::uint64_t fingerprint() const;
  /// Prometheus's text form: `{a="b", c="d"}` with Go-quoted values.
  std::string to_string() const;

  friend bool operator==(const Labels& a, const Labels& b) { return a.rep_ == b.rep_ || a.items() == b.items(); }

 private:
  // The shared vector: sorted by name, unique names, non-empty values. Never modified while
  // `refs` > 1. Null for a set built empty.
  struct Rep {
    std::atomic<std::size_t> refs{1};
    std::vector<Label> items;
  };
  static void acquire(Rep* rep) noexcept {
    if (rep) rep->refs.fetch_add(1, std::memory_order_relaxed);
  }
  static void release(Rep* rep) noexcept {
    if (rep && rep->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete rep;
  }
  /// The vector, made private to this object first (copied when shared, created when null).
  std::vector<Label>& mutable_items();

  static inline const std::vector<Label> kNoItems{};
  Rep* rep_ = nullptr;
};

/// The fingerprint as Alertmanager prints it: 16 lowercase hex digits.
std::string fingerprint_hex(std::uint64_t fingerprint);

/// Go's strconv.Quote for the ASCII/UTF-8 text found in label values.
std::string go_quote(std::string_view text);

/// True when `name` is a valid Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]*.
bool is_valid_label_name(std::string_view name);
/// True when `name` is a valid Prometheus metric name: [a-zA-Z_:][a-zA-Z0-9_:]*.
bool is_valid_metric_name(std::string_view name);

}  // namespace promwatch
