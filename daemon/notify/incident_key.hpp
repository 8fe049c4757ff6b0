#pragma once
// Private to daemon/notify: the key incident platforms (PagerDuty's dedup_key, Opsgenie's alias)
// know a group by.

#include <string>
#include <string_view>

namespace promwatch::chat {

/// The SHA-256 of `group_key` in lowercase hex (64 characters): the same group gets the same key
/// across restarts, reloads and daemons (the group key is derived from the route and labels
/// only), and no label value reaches the platform through it.
std::string group_key_hash(std::string_view group_key);

}  // namespace promwatch::chat
