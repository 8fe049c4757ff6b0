#pragma once
// Private to the store: how values are encoded in the database (see store.hpp's file comment),
// and the row digests used to write only what changed. Decoders throw std::exception on
// malformed input; the caller skips the row and reports why.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "promwatch/labels.hpp"
#include "promwatch/notify.hpp"
#include "promwatch/rules.hpp"
#include "promwatch/time.hpp"

namespace promwatch::store_detail {

using json = nlohmann::json;

inline std::int64_t to_ms(TimePoint t) { return t.time_since_epoch().count(); }
inline TimePoint from_ms(std::int64_t ms) { return TimePoint{Duration{ms}}; }
inline std::int64_t fp_to_sql(std::uint64_t fp) { return static_cast<std::int64_t>(fp); }
inline std::uint64_t fp_from_sql(std::int64_t v) { return static_cast<std::uint64_t>(v); }

/// "inactive" | "pending" | "firing".
std::string_view state_name(AlertState state);
/// Throws on an unknown name.
AlertState parse_state(std::string_view name);

Labels labels_from_json(const json& j);
std::string encode_labels(const Labels& labels);
Labels decode_labels(std::string_view text);

/// Flap detection state as JSON text (`{"since":ms,"count":n,"changes":[ms,...]}`); "" when
/// empty (no flap detection, or nothing counted). Decoding "" gives an empty state; other bad
/// text throws.
std::string encode_flap(const FlapState& flap);
FlapState decode_flap(std::string_view text);

std::string encode_fingerprints(const std::vector<std::uint64_t>& fps);
std::vector<std::uint64_t> decode_fingerprints(std::string_view text);

std::string encode_alert_events(const std::vector<std::shared_ptr<const AlertEvent>>& alerts);
std::vector<std::shared_ptr<const AlertEvent>> decode_alert_events(std::string_view text);

std::string encode_notification(const Notification& n);
Notification decode_notification(std::string_view text);

/// A 64-bit FNV-1a-style hash (eight bytes per step) over whatever is added, with separators,
/// for "did this row change" checks.
class Digest {
 public:
  Digest& add(std::string_view s);
  Digest& add(std::uint64_t v);
  Digest& add(const Labels& labels);
  std::uint64_t value() const { return h_; }

 private:
  void bytes(const void* p, std::size_t n);
  std::uint64_t h_ = 14695981039346656037ULL;
};

/// An alert as its row: encoded where the batch is built, so a queued write holds the row's
/// text (about a third of an `Alert`'s memory) instead of a copy of the alert.
struct AlertRow {
  std::uint64_t fingerprint = 0;
  AlertState state = AlertState::Inactive;
  std::string labels;       ///< JSON text
  std::string annotations;  ///< JSON text
  double value = 0;
  TimePoint active_at{}, fired_at{}, resolved_at{}, last_sent_at{}, valid_until{}, keep_firing_since{};
  std::string flap;         ///< `encode_flap`
  std::uint64_t digest = 0;  ///< of every field above
};
AlertRow encode_alert(const Alert& a);

std::uint64_t digest(const HeartbeatMember& m);
std::uint64_t digest(const NotificationLogEntry& e);
std::uint64_t digest(const AggregationGroupState& g);

}  // namespace promwatch::store_detail
