#pragma once
/// \file
/// `SharedText`: an immutable string whose copies share one allocation, for text that many
/// long-lived values hold the same of (the generator URL of every alert of one rule).

#include <atomic>
#include <cstddef>
#include <iosfwd>
#include <string>
#include <string_view>

namespace promwatch {

/// An immutable string shared by its copies: the characters and an atomic reference count in one
/// allocation, the object itself one pointer. Converts to and from `std::string_view` (and from
/// `std::string` and literals); compares as its text.
///
/// Thread: copies may be read and destroyed on different threads; one object must not be
/// assigned while another thread uses it (as any standard type).
class SharedText {
 public:
  SharedText() = default;
  SharedText(std::string_view text);  // NOLINT(google-explicit-constructor): assigned from strings
  SharedText(const std::string& text) : SharedText(std::string_view(text)) {}  // NOLINT
  SharedText(const char* text) : SharedText(std::string_view(text)) {}         // NOLINT

  SharedText(const SharedText& other) noexcept : rep_(other.rep_) { acquire(rep_); }
  SharedText(SharedText&& other) noexcept : rep_(other.rep_) { other.rep_ = nullptr; }
  SharedText& operator=(const SharedText& other) noexcept {
    acquire(other.rep_);
    release(rep_);
    rep_ = other.rep_;
    return *this;
  }
  SharedText& operator=(SharedText&& other) noexcept {
    if (this != &other) {
      release(rep_);
      rep_ = other.rep_;
      other.rep_ = nullptr;
    }
    return *this;
  }
  ~SharedText() { release(rep_); }

  std::string_view view() const { return rep_ ? std::string_view(rep_->chars(), rep_->size) : std::string_view(); }
  operator std::string_view() const { return view(); }  // NOLINT(google-explicit-constructor)
  std::string str() const { return std::string(view()); }
  const char* data() const { return view().data(); }
  std::size_t size() const { return rep_ ? rep_->size : 0; }
  bool empty() const { return size() == 0; }
  void clear() {
    release(rep_);
    rep_ = nullptr;
  }
  /// Whether both share one allocation (or are both empty).
  bool shares_with(const SharedText& other) const { return rep_ == other.rep_; }

  friend bool operator==(const SharedText& a, std::string_view b) { return a.view() == b; }

 private:
  struct Rep {
    std::atomic<std::size_t> refs{1};
    std::size_t size = 0;
    char* chars() { return reinterpret_cast<char*>(this + 1); }
    const char* chars() const { return reinterpret_cast<const char*>(this + 1); }
  };
  static void acquire(Rep* rep) noexcept {
    if (rep) rep->refs.fetch_add(1, std::memory_order_relaxed);
  }
  static void release(Rep* rep) noexcept;
  Rep* rep_ = nullptr;  // null: empty
};

std::ostream& operator<<(std::ostream& out, const SharedText& text);

}  // namespace promwatch
