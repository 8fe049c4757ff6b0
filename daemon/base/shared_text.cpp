#include "promwatch/shared_text.hpp"

#include <cstring>
#include <new>
#include <ostream>

namespace promwatch {

SharedText::SharedText(std::string_view text) {
  if (text.empty()) return;
  void* block = ::operator new(sizeof(Rep) + text.size());
  rep_ = new (block) Rep;
  rep_->size = text.size();
  std::memcpy(rep_->chars(), text.data(), text.size());
}

void SharedText::release(Rep* rep) noexcept {
  if (rep && rep->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    rep->~Rep();
    ::operator delete(rep);
  }
}

std::ostream& operator<<(std::ostream& out, const SharedText& text) { return out << text.view(); }

}  // namespace promwatch
