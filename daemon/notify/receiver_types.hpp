#pragma once
// Private to daemon/notify: the row of each receiver type, one function per type, each defined
// in that type's own file (webhook in delivery.cpp, the chat platforms in chat_<name>.cpp, email, pagerduty, opsgenie, pushover and webex in <name>.cpp;
// msteamsv2 beside teams in chat_teams.cpp).
// Adding a type: write its file with a `<name>_receiver_type()`, declare it here and list it
// in receiver_types.cpp.

#include <memory>

#include "promwatch/config.hpp"
#include "promwatch/delivery.hpp"

namespace promwatch {

/// The `make` of a type whose receiver `R` is built from `ReceiverBuild` and the settings `S`
/// its `read` left in the config: null when the config did not come through the loader.
template <typename R, typename S>
std::shared_ptr<const Receiver> make_with_settings(const ReceiverBuild& build) {
  auto settings = std::dynamic_pointer_cast<const S>(build.config.settings);
  if (!settings) return nullptr;  // not loaded through the table
  return std::make_shared<R>(build, std::move(settings));
}

ReceiverTypeSpec webhook_receiver_type();

namespace chat {
ReceiverTypeSpec slack_receiver_type();
ReceiverTypeSpec dingtalk_receiver_type();
ReceiverTypeSpec feishu_receiver_type();
ReceiverTypeSpec wecom_receiver_type();
ReceiverTypeSpec discord_receiver_type();
ReceiverTypeSpec teams_receiver_type();
ReceiverTypeSpec telegram_receiver_type();
ReceiverTypeSpec email_receiver_type();
ReceiverTypeSpec pagerduty_receiver_type();
ReceiverTypeSpec opsgenie_receiver_type();
ReceiverTypeSpec pushover_receiver_type();
ReceiverTypeSpec mattermost_receiver_type();
ReceiverTypeSpec rocketchat_receiver_type();
ReceiverTypeSpec webex_receiver_type();
ReceiverTypeSpec msteamsv2_receiver_type();
}  // namespace chat

}  // namespace promwatch
